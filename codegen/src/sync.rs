//! Compares generated files with a crate folder on disk: what to write, what to remove.
//!
//! [`plan`] only reads; [`apply`] carries a plan out (for xtask, and for a user's own build
//! tooling); the freshness tests assert a plan is empty.

use crate::Files;
use std::path::{Path, PathBuf};

/// The difference between generated files and a crate folder.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Files that are missing or differ.
    pub write: Vec<PathBuf>,
    /// Files marked `@generated` that the lexicons no longer produce.
    pub remove: Vec<PathBuf>,
    /// Files at a generated path that are not marked `@generated`: someone else's, never
    /// overwritten ([`apply`] refuses the plan).
    pub foreign: Vec<PathBuf>,
    pub unchanged: usize,
}

impl Plan {
    pub fn is_fresh(&self) -> bool {
        self.write.is_empty() && self.remove.is_empty() && self.foreign.is_empty()
    }
}

/// Compares `files` with the folder `out` (paths in the plan are relative to it).
pub fn plan(files: &Files, out: &Path) -> std::io::Result<Plan> {
    let mut plan = Plan::default();
    for (path, contents) in files {
        match std::fs::read(out.join(path)) {
            Ok(existing) if existing == contents.as_bytes() => plan.unchanged += 1,
            Ok(existing) if !has_marker(&String::from_utf8_lossy(&existing)) => {
                plan.foreign.push(path.clone());
            }
            Ok(_) => plan.write.push(path.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => plan.write.push(path.clone()),
            Err(e) => return Err(e),
        }
    }
    let mut existing = Vec::new();
    let src = out.join("src");
    if src.is_dir() {
        collect_rs(out, Path::new("src"), &mut existing)?;
    }
    existing.sort();
    for path in existing {
        if !files.contains_key(&path) && is_generated(&out.join(&path))? {
            plan.remove.push(path);
        }
    }
    Ok(plan)
}

/// Writes the files the plan names and removes the ones it no longer generates (then the
/// folders that left empty). The error names the file.
pub fn apply(plan: &Plan, files: &Files, out: &Path) -> Result<(), String> {
    if !plan.foreign.is_empty() {
        let names: Vec<String> = plan
            .foreign
            .iter()
            .map(|p| out.join(p).display().to_string())
            .collect();
        return Err(format!(
            "refusing to overwrite files that were not generated (no `@generated` mark): {}; \
             move them away or pick another --out",
            names.join(", ")
        ));
    }
    for path in &plan.write {
        let target = out.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&target, &files[path])
            .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    }
    for path in &plan.remove {
        let target = out.join(path);
        std::fs::remove_file(&target)
            .map_err(|e| format!("cannot remove {}: {e}", target.display()))?;
        let mut dir = target.parent();
        while let Some(d) = dir {
            if d == out || std::fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
    }
    Ok(())
}

/// A file we may delete: it starts with our `@generated` line (so hand-written files stay).
fn is_generated(path: &Path) -> std::io::Result<bool> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    Ok(text.starts_with(crate::emit::HEADER))
}

/// Whether a file carries the `@generated` mark in its first two lines (a comment in Rust and
/// TOML, the first member of the JSON manifest).
fn has_marker(text: &str) -> bool {
    text.lines()
        .take(2)
        .any(|line| line.contains("@generated") && line.contains("by cargo xtask gen"))
}

fn collect_rs(root: &Path, relative: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(root.join(relative))? {
        let entry = entry?;
        let path = relative.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            collect_rs(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

//! Lexicon documents in, Rust source files out.
//!
//! The pipeline, one module per pass:
//! 1. [`lexicon`]: load each JSON document into a typed model (serde), locating JSON errors;
//! 2. [`lint`]: check the spec's rules across all documents, collecting every problem;
//! 3. [`ir`]: resolve refs, name everything, hoist inline types, box cycles;
//! 4. [`emit`]: turn the IR into formatted files of a self-contained crate.
//!
//! [`generate_with`] runs them all (on top of base crates, when [`Options::bases`] names some);
//! [`generate`] is the same for one folder and no base. Neither does I/O: [`read_lexicon_dir`]
//! reads input for callers, [`sync::plan`] says what to write, and [`Manifest::parse`] reads a
//! base crate's manifest. xtask and a user's own build tooling are thin wrappers over these.

pub mod diagnostics;
pub mod diff;
pub mod emit;
mod inputs;
pub mod ir;
pub mod lexicon;
pub mod lint;
pub mod locate;
pub mod manifest;
pub mod naming;
pub mod secrets;
pub mod sync;

pub use diagnostics::{Diagnostic, Diagnostics, Severity};
pub use emit::CrateOptions;
pub use lexicon::SourceFile;
pub use manifest::Manifest;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The generated crate: file contents keyed by path relative to the crate folder.
pub type Files = std::collections::BTreeMap<PathBuf, String>;

/// What to generate, and on top of which crates.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub krate: CrateOptions,
    /// Generated crates to layer on, lowest first (the first holds the runtime). Documents
    /// they provide are not generated again: refs into them become paths into those crates.
    pub bases: Vec<Base>,
    /// Turn warnings (spec deviations generated as their clear meaning) into errors.
    pub deny_warnings: bool,
}

/// A generated crate to build on: what it provides, and how the new crate depends on it.
#[derive(Debug, Clone)]
pub struct Base {
    /// Its `lexicon-manifest.json`.
    pub manifest: Manifest,
    /// The right-hand side of its line in `[dependencies]`, without features:
    /// `path = "../atproto-api"`, `version = "0.1"`, `git = "..."`.
    pub dependency: String,
}

impl Base {
    /// A base crate from its folder: its manifest, and a path dependency on it from the
    /// folder `out` the new crate is generated into.
    pub fn from_crate_dir(dir: &Path, out: &Path) -> Result<Base, String> {
        let file = dir.join(manifest::FILE_NAME);
        let text = std::fs::read_to_string(&file).map_err(|e| {
            format!(
                "cannot read the base crate's manifest {}: {e} (is {} a crate this generator made?)",
                file.display(),
                dir.display()
            )
        })?;
        let manifest = Manifest::parse(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        let path = relative_to(dir, out).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(Base {
            manifest,
            dependency: format!("path = {:?}", path.display().to_string().replace('\\', "/")),
        })
    }
}

/// `target` as a path relative to the folder `from` (neither needs to exist yet).
fn relative_to(target: &Path, from: &Path) -> std::io::Result<PathBuf> {
    let absolute = |p: &Path| -> std::io::Result<PathBuf> {
        // Canonicalize the longest existing prefix, then add the rest as written.
        let p = std::env::current_dir()?.join(p);
        let mut existing = p.as_path();
        let mut rest = Vec::new();
        while !existing.exists() {
            match (existing.file_name(), existing.parent()) {
                (Some(name), Some(parent)) => {
                    rest.push(name.to_owned());
                    existing = parent;
                }
                _ => break,
            }
        }
        let base = std::fs::canonicalize(existing)?;
        Ok(rest
            .into_iter()
            .rev()
            .fold(base, |acc, name| acc.join(name)))
    };
    let (target, from) = (absolute(target)?, absolute(from)?);
    let common = target
        .components()
        .zip(from.components())
        .take_while(|(a, b)| a == b)
        .count();
    let mut relative = PathBuf::new();
    for _ in from.components().skip(common) {
        relative.push("..");
    }
    for component in target.components().skip(common) {
        relative.push(component);
    }
    Ok(relative)
}

/// A generated crate and what was said about its input.
#[derive(Debug, Clone)]
pub struct Generated {
    pub files: Files,
    /// Warnings and notes (errors make [`generate_with`] fail instead).
    pub diagnostics: Diagnostics,
    /// How many documents this crate generates (not counting the bases' or skipped copies).
    pub documents: usize,
}

/// Loads and checks documents; returns them only when no document has an error.
pub fn load_and_check(sources: &[SourceFile]) -> Result<Vec<lexicon::Document>, Diagnostics> {
    let mut diagnostics = Diagnostics::default();
    let mut documents = Vec::with_capacity(sources.len());
    let mut failed = BTreeSet::new();
    for source in sources {
        match lexicon::load(source, &mut diagnostics) {
            Some(document) => documents.push(document),
            None => {
                if let Some(id) = id_guess(source) {
                    failed.insert(id);
                }
            }
        }
    }
    diagnostics.0.extend(lint::check(&documents, &failed).0);
    if diagnostics.has_errors() {
        Err(diagnostics.sorted())
    } else {
        Ok(documents)
    }
}

/// Runs the whole pipeline on one folder's documents, for a crate of its own.
pub fn generate(sources: &[SourceFile], options: &CrateOptions) -> Result<Files, Diagnostics> {
    let options = Options {
        krate: options.clone(),
        ..Options::default()
    };
    generate_with(&[sources], &options).map(|generated| generated.files)
}

/// Runs the whole pipeline: `inputs` are lexicon folders in order of precedence (a document
/// in an earlier folder, or in a base, wins over a copy in a later one). Fails with every
/// error found; otherwise returns the files with the warnings and notes.
pub fn generate_with(
    inputs: &[&[SourceFile]],
    options: &Options,
) -> Result<Generated, Diagnostics> {
    let selected = inputs::select(inputs, &options.bases);
    let mut diagnostics = selected.diagnostics;
    let first_own = selected.first_own;
    diagnostics
        .0
        .extend(lint::check_from(&selected.documents, first_own, &selected.failed).0);
    if options.deny_warnings {
        diagnostics.deny_warnings();
    }
    let files_read: usize = inputs.iter().map(|folder| folder.len()).sum();
    if first_own == selected.documents.len() && !diagnostics.has_errors() {
        let message = if files_read == 0 {
            "no lexicon documents: no file was given".to_owned()
        } else {
            format!(
                "nothing to generate: none of the {files_read} file(s) is a lexicon document \
                 that the bases do not already provide"
            )
        };
        diagnostics.push(Diagnostic::in_file("<input>", message));
    }
    if diagnostics.has_errors() {
        return Err(diagnostics.sorted());
    }
    let ir = ir::resolve_layered(&selected.documents, &selected.layers);
    let files = emit::emit_layered(&ir, &options.krate, &options.bases, &selected.documents)
        .map_err(|message| Diagnostics(vec![Diagnostic::in_file("<generated>", message)]))?;
    Ok(Generated {
        files,
        diagnostics: diagnostics.sorted(),
        documents: selected.documents.len() - first_own,
    })
}

/// The id a document that failed to load probably has, so refs into it are not reported twice.
fn id_guess(source: &SourceFile) -> Option<String> {
    locate::top_level_string(&source.text, "id")
}

/// Reads every `*.json` file below `dir`, sorted by path, each named `dir/relative/path`.
/// Symlinks are followed (each folder once); dangling ones, hidden folders (`.git`) and
/// `node_modules` are passed over. Which files are lexicons is decided when they are loaded.
pub fn read_lexicon_dir(dir: &Path) -> std::io::Result<Vec<SourceFile>> {
    let mut relative_paths = Vec::new();
    let mut visited = BTreeSet::new();
    collect_json(dir, Path::new(""), &mut visited, &mut relative_paths)?;
    relative_paths.sort();
    relative_paths
        .into_iter()
        .map(|relative| {
            let file = dir.join(&relative);
            let text = std::fs::read_to_string(&file)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", file.display())))?;
            Ok(SourceFile {
                file,
                relative_path: Some(relative),
                text,
            })
        })
        .collect()
}

fn collect_json(
    root: &Path,
    relative: &Path,
    visited: &mut BTreeSet<PathBuf>,
    out: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    let dir = root.join(relative);
    let io_error =
        |e: std::io::Error| std::io::Error::new(e.kind(), format!("{}: {e}", dir.display()));
    if !visited.insert(std::fs::canonicalize(&dir).map_err(io_error)?) {
        return Ok(()); // a symlink back into a folder already read
    }
    for entry in std::fs::read_dir(&dir).map_err(io_error)? {
        let entry = entry?;
        let name = entry.file_name();
        let path = relative.join(&name);
        // Follows symlinks; a dangling one has no metadata and is not a file to read.
        let Ok(metadata) = std::fs::metadata(entry.path()) else {
            continue;
        };
        if metadata.is_dir() {
            let name = name.to_string_lossy();
            if !name.starts_with('.') && name != "node_modules" {
                collect_json(root, &path, visited, out)?;
            }
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}

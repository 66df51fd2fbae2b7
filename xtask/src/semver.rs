//! `cargo xtask semver-compare`: the lexicon diff's Rust API verdict on the real upstream update
//! (the corpus's older lexicon set against the current one) next to what `cargo-semver-checks`
//! finds on the two crates generated from them, module by module.
//!
//! cargo-semver-checks is not a dependency: install it with
//! `cargo install cargo-semver-checks --locked` (or `--root target/tools`, where this looks too).

use crate::{shown, workspace_root};
use codegen::diff::{self, Level, Side};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Both crates get this name: cargo-semver-checks compares two versions of one crate.
const CRATE_NAME: &str = "atproto-update";

pub fn run(args: &[String]) -> Result<(), String> {
    let root = workspace_root();
    let corpus = match args {
        [] => root.join("../shared/corpus"),
        [flag, dir] if flag == "--corpus" => PathBuf::from(dir),
        _ => return Err("usage: cargo xtask semver-compare [--corpus DIR]".into()),
    };
    let tool = semver_checks(&root)?;
    let work = root.join("target/semver-compare");
    let read =
        |dir: &str| codegen::read_lexicon_dir(&corpus.join(dir)).map_err(|e| format!("{dir}: {e}"));
    let old = read("atproto-lexicons-2026-02/lexicons")?;
    let new = read("atproto-lexicons/lexicons")?;

    let ours = diff_verdicts(&old, &new)?;
    let modules_old = generate(&old, &work.join("old"))?;
    let modules_new = generate(&new, &work.join("new"))?;
    let modules: BTreeMap<String, String> = modules_old.into_iter().chain(modules_new).collect();

    println!(
        "$ cargo-semver-checks semver-checks check-release (in {})",
        shown(&work).display()
    );
    let output = Command::new(&tool)
        .args(["semver-checks", "check-release", "--all-features"])
        .arg("--manifest-path")
        .arg(work.join("new/Cargo.toml"))
        .arg("--baseline-root")
        .arg(work.join("old"))
        .args(["--release-type", "minor", "--color", "never"])
        .env("CARGO_TARGET_DIR", work.join("target"))
        .output()
        .map_err(|e| format!("cannot run {}: {e}", tool.display()))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::write(work.join("semver-checks.txt"), &text).map_err(|e| e.to_string())?;
    let theirs = semver_findings(&text, &modules);
    if theirs.is_empty() && !output.status.success() {
        return Err(format!(
            "cargo-semver-checks failed without findings:\n{text}"
        ));
    }
    report(&ours, &theirs);
    println!(
        "full cargo-semver-checks output: {}",
        shown(&work.join("semver-checks.txt")).display()
    );
    Ok(())
}

/// The cargo-semver-checks binary: on PATH, or installed under `target/tools`.
fn semver_checks(root: &Path) -> Result<PathBuf, String> {
    let local = root.join("target/tools/bin/cargo-semver-checks");
    if local.exists() {
        return Ok(local);
    }
    let on_path = Command::new("cargo-semver-checks")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if on_path {
        Ok(PathBuf::from("cargo-semver-checks"))
    } else {
        Err(
            "cargo-semver-checks is not installed: `cargo install cargo-semver-checks --locked \
             --root target/tools`"
                .into(),
        )
    }
}

/// NSID -> the rules of the Rust API changes the diff calls breaking.
fn diff_verdicts(
    old: &[codegen::SourceFile],
    new: &[codegen::SourceFile],
) -> Result<BTreeMap<String, BTreeSet<&'static str>>, String> {
    let report = diff::diff(
        Side {
            label: "2026-02",
            sources: old,
        },
        Side {
            label: "current",
            sources: new,
        },
        &diff::Options::default(),
    )
    .map_err(|bad| bad.to_string())?;
    let mut out: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    for document in &report.documents {
        for change in document.rust.iter().filter(|c| c.level == Level::Breaking) {
            out.entry(document.nsid.clone())
                .or_default()
                .insert(change.rule);
        }
    }
    Ok(out)
}

/// Writes the crate for `sources` into `out`; returns its `src/` file paths -> NSIDs.
fn generate(
    sources: &[codegen::SourceFile],
    out: &Path,
) -> Result<BTreeMap<String, String>, String> {
    let options = codegen::CrateOptions {
        name: CRATE_NAME.into(),
        version: "0.1.0".into(),
    };
    let files = codegen::generate(sources, &options).map_err(|d| d.to_string())?;
    crate::conformance::write_files(&files, out)?;
    let manifest = files
        .get(Path::new(codegen::manifest::FILE_NAME))
        .ok_or("the crate has no manifest")?;
    let manifest = codegen::Manifest::parse(manifest)?;
    Ok(manifest
        .documents
        .iter()
        .map(|d| {
            (
                format!("src/{}.rs", d.module.replace("::", "/")),
                d.id.clone(),
            )
        })
        .collect())
}

/// NSID -> the lints cargo-semver-checks reports in that NSID's module. Each finding is a
/// `--- failure <lint>: ...` header followed by lines that name a file of the crate.
fn semver_findings(
    text: &str,
    modules: &BTreeMap<String, String>,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut lint = None;
    for line in text.lines() {
        if let Some(rest) = line.trim_start().strip_prefix("--- failure ") {
            lint = rest.split(':').next().map(str::to_owned);
            continue;
        }
        let Some(lint) = &lint else { continue };
        let nsid = modules
            .iter()
            .find(|(file, _)| line.contains(file.as_str()))
            .map(|(_, nsid)| nsid.clone())
            .unwrap_or_else(|| "(no module: crate root or runtime)".to_owned());
        if line.contains(".rs:") {
            out.entry(nsid).or_default().insert(lint.clone());
        }
    }
    out
}

fn report(
    ours: &BTreeMap<String, BTreeSet<&'static str>>,
    theirs: &BTreeMap<String, BTreeSet<String>>,
) {
    let nsids: BTreeSet<&String> = ours.keys().chain(theirs.keys()).collect();
    let (mut both, mut only_ours, mut only_theirs) = (0, 0, 0);
    println!("\nbreaking in the Rust API, per document: the diff | cargo-semver-checks");
    for nsid in nsids {
        let list = |set: Option<String>| set.unwrap_or_else(|| "-".into());
        let a = ours
            .get(nsid)
            .map(|r| r.iter().copied().collect::<Vec<_>>().join(", "));
        let b = theirs
            .get(nsid)
            .map(|l| l.iter().map(String::as_str).collect::<Vec<_>>().join(", "));
        let mark = match (a.is_some(), b.is_some()) {
            (true, true) => {
                both += 1;
                "both"
            }
            (true, false) => {
                only_ours += 1;
                "ONLY DIFF"
            }
            _ => {
                only_theirs += 1;
                "ONLY SEMVER-CHECKS"
            }
        };
        println!("{mark:<18} {nsid}: {} | {}", list(a), list(b));
    }
    println!(
        "\n{both} documents breaking for both, {only_ours} only for the diff, {only_theirs} only for \
         cargo-semver-checks"
    );
}

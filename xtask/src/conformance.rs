//! `cargo xtask conformance`: the reference data in `../shared/corpus` against the generator
//! and the generated crate. Every check counts as passed or failed; the last line is
//! `conformance: N passed, M failed`.

use crate::{USAGE, shown, workspace_root};
use codegen::{CrateOptions, SourceFile};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
}

impl Tally {
    fn record(&mut self, ok: bool, what: &str) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
            println!("FAILED: {what}");
        }
    }
}

pub fn run(args: &[String]) -> Result<(), String> {
    let root = workspace_root();
    let mut corpus = root.join("../shared/corpus");
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--corpus" => {
                corpus = PathBuf::from(
                    args.next()
                        .ok_or_else(|| format!("--corpus needs a value\n{USAGE}"))?,
                )
            }
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    if !corpus.join("interop-tests").is_dir() {
        return Err(format!(
            "{} does not look like the corpus (no interop-tests/ inside)",
            corpus.display()
        ));
    }
    let corpus = corpus
        .canonicalize()
        .map_err(|e| format!("{}: {e}", corpus.display()))?;
    let mut tally = Tally::default();

    lexicon_vectors(&corpus, &mut tally)?;
    generated_crate(&root, &corpus, &mut tally)?;
    third_party(&root, &corpus, &mut tally)?;
    runtime_vectors(&root, &corpus, &mut tally)?;
    crate::diff::conformance(&corpus, &mut tally.passed, &mut tally.failed);

    println!(
        "conformance: {} passed, {} failed",
        tally.passed, tally.failed
    );
    if tally.failed == 0 {
        Ok(())
    } else {
        Err(format!("{} conformance checks failed", tally.failed))
    }
}

/// What each `lexicon-invalid.json` vector is about: the JSON pointer of the error it must
/// give, and words of that error's message. Any other error is a failure too: a document
/// must be rejected for its own defect, not because something unrelated failed.
const LEXICON_REASONS: &[(&str, &str, &str)] = &[
    ("invalid lexicon field", "/lexicon", "expected u32"),
    ("invalid id field", "/id", "expected a string"),
    ("invalid NSID", "/id", "is not a valid NSID"),
    (
        "defined unknown",
        "/defs/demo",
        "`unknown` cannot be a named def",
    ),
    ("defined ref", "/defs/demo", "`ref` cannot be a named def"),
    ("non-main primary", "/defs/demo", "must be named `main`"),
    (
        "record missing type object",
        "/defs/main/record",
        "missing field `type`",
    ),
];

/// Judges one lexicon vector: `Ok` says how it passed, `Err` why it failed.
fn judge_lexicon(
    valid: bool,
    name: &str,
    result: &Result<Vec<codegen::lexicon::Document>, codegen::Diagnostics>,
) -> Result<String, String> {
    let errors = || {
        result
            .as_ref()
            .err()
            .map(|d| d.iter().filter(|d| d.is_error()).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    if valid {
        return match result {
            Ok(_) => Ok(String::new()),
            Err(diagnostics) => Err(format!("wrongly rejected {name:?}:\n{diagnostics}")),
        };
    }
    let Some((_, pointer, says)) = LEXICON_REASONS.iter().find(|(n, _, _)| *n == name) else {
        return Err(format!(
            "{name:?} has no entry in LEXICON_REASONS: say which JSON path and error it is about"
        ));
    };
    if result.is_ok() {
        return Err(format!("wrongly accepted {name:?} (it is about {pointer})"));
    }
    let errors = errors();
    let (right, other): (Vec<&codegen::Diagnostic>, Vec<&codegen::Diagnostic>) = errors
        .into_iter()
        .partition(|d| d.pointer == *pointer && d.message.contains(says));
    let list = |found: &[&codegen::Diagnostic]| {
        found
            .iter()
            .map(|d| format!("\n    {d}"))
            .collect::<String>()
    };
    match (right.first(), other.is_empty()) {
        (Some(diagnostic), true) => Ok(format!("rejected at {pointer}: {}", diagnostic.message)),
        (Some(_), false) => Err(format!(
            "{name:?} is rejected at {pointer}, but also for what it is not about:{}",
            list(&other)
        )),
        (None, _) => Err(format!(
            "{name:?} is about {pointer} ({says}), but was rejected for:{}",
            list(&other)
        )),
    }
}

/// `lexicon-valid.json` must load and check cleanly; every `lexicon-invalid.json` case must be
/// rejected for the defect it is about ([`LEXICON_REASONS`]), and for nothing else.
fn lexicon_vectors(corpus: &Path, tally: &mut Tally) -> Result<(), String> {
    let (mut passed, mut failed) = (0, 0);
    for (file, expect_valid) in [
        ("lexicon-valid.json", true),
        ("lexicon-invalid.json", false),
    ] {
        let path = corpus.join("interop-tests/lexicon").join(file);
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let cases: Vec<serde_json::Value> =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        for case in cases {
            let name = case
                .get("name")
                .and_then(|n| n.as_str())
                .unwrap_or("?")
                .to_owned();
            let lexicon = case
                .get("lexicon")
                .map(|l| serde_json::to_string_pretty(l).unwrap_or_default())
                .unwrap_or_default();
            let source = SourceFile {
                file: PathBuf::from(format!("{file}#{name}")),
                relative_path: None,
                text: lexicon,
            };
            let result = codegen::load_and_check(std::slice::from_ref(&source));
            match judge_lexicon(expect_valid, &name, &result) {
                Ok(how) => {
                    passed += 1;
                    if !how.is_empty() {
                        println!("  {file} {name:?} {how}");
                    }
                    tally.record(true, "");
                }
                Err(why) => {
                    failed += 1;
                    tally.record(false, &format!("lexicon vector {file}: {why}"));
                }
            }
        }
    }
    println!("lexicon documents: {passed} passed, {failed} failed");
    Ok(())
}

/// Generates the upstream set, the test lexicons and the interop catalog into one crate
/// under `target/`, then builds it and lints it with warnings denied.
fn generated_crate(root: &Path, corpus: &Path, tally: &mut Tally) -> Result<(), String> {
    let mut sources = Vec::new();
    for dir in [
        "atproto-lexicons/lexicons",
        "atproto-test-lexicons/lexicons",
    ] {
        let mut found = codegen::read_lexicon_dir(&corpus.join(dir)).map_err(|e| e.to_string())?;
        found.iter_mut().for_each(|s| s.file = shown(&s.file));
        sources.extend(found);
    }
    // Catalog files are named by what they show, not by their ids.
    for mut source in codegen::read_lexicon_dir(&corpus.join("interop-tests/lexicon/catalog"))
        .map_err(|e| e.to_string())?
    {
        source.relative_path = None;
        sources.push(source);
    }
    let options = CrateOptions {
        name: "lexicon-conformance".into(),
        version: "0.0.0".into(),
    };
    let started = std::time::Instant::now();
    let files = match codegen::generate(&sources, &options) {
        Ok(files) => files,
        Err(diagnostics) => {
            println!("{diagnostics}");
            tally.record(
                false,
                "generate the upstream set, test lexicons and catalog",
            );
            return Ok(());
        }
    };
    println!(
        "generated {} documents into {} files in {:.2?}",
        sources.len(),
        files.len(),
        started.elapsed()
    );
    tally.record(true, "generate");

    let out = root.join("target/conformance/crate");
    write_files(&files, &out)?;
    let manifest = out.join("Cargo.toml");
    let target_dir = root.join("target/conformance/target");
    let cargo = |args: &[&str]| {
        println!("$ cargo {} (in {})", args.join(" "), shown(&out).display());
        let (subcommand, rest) = args.split_first().expect("a cargo subcommand");
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .arg(subcommand)
            .arg("--manifest-path")
            .arg(&manifest)
            .args(rest)
            .env("CARGO_TARGET_DIR", &target_dir)
            .env("RUSTFLAGS", "-D warnings")
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    tally.record(
        cargo(&["build", "--all-features"]),
        "the generated crate builds with warnings denied",
    );
    tally.record(
        cargo(&["clippy", "--all-features", "--", "-D", "warnings"]),
        "the generated crate is clippy clean",
    );
    record_data(root, corpus, &target_dir, tally)
}

/// Generates each third-party lexicon set layered on the upstream crate (built by
/// [`generated_crate`]), prints what each gave (warnings, skipped copies), and builds and
/// lints them all with warnings denied.
fn third_party(root: &Path, corpus: &Path, tally: &mut Tally) -> Result<(), String> {
    let base_dir = root.join("target/conformance/crate");
    let manifest_file = base_dir.join(codegen::manifest::FILE_NAME);
    let manifest = std::fs::read_to_string(&manifest_file)
        .map_err(|e| e.to_string())
        .and_then(|text| codegen::Manifest::parse(&text))
        .map_err(|e| format!("{}: {e}", manifest_file.display()))?;
    let mut sets: Vec<PathBuf> = std::fs::read_dir(corpus.join("third-party"))
        .map_err(|e| e.to_string())?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_dir())
        .collect();
    sets.sort();
    let out = root.join("target/conformance/third-party");
    let mut members = Vec::new();
    for set in &sets {
        let name = set
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let mut sources = codegen::read_lexicon_dir(set).map_err(|e| e.to_string())?;
        // Named as in the corpus: `third-party/grain/lexicons/...`.
        for source in &mut sources {
            if let Ok(relative) = source.file.strip_prefix(corpus) {
                source.file = relative.to_path_buf();
            }
        }
        let options = codegen::Options {
            krate: CrateOptions {
                name: format!("{name}-lexicons"),
                version: "0.0.0".into(),
            },
            bases: vec![codegen::Base {
                manifest: manifest.clone(),
                dependency: "path = \"../../crate\"".into(),
            }],
            deny_warnings: false,
        };
        let what = format!("third-party {name}: generates layered on the upstream crate");
        match codegen::generate_with(&[&sources], &options) {
            Ok(generated) => {
                let count = |severity| generated.diagnostics.count(severity);
                println!(
                    "third-party {name}: {} files read, {} documents generated, {} warnings, {} notes",
                    sources.len(),
                    generated.documents,
                    count(codegen::Severity::Warning),
                    count(codegen::Severity::Note),
                );
                for diagnostic in generated.diagnostics.iter() {
                    println!("  {}: {diagnostic}", diagnostic.severity.name());
                }
                write_files(&generated.files, &out.join(&name))?;
                members.push(name);
                tally.record(true, &what);
            }
            Err(diagnostics) => {
                println!("{diagnostics}");
                tally.record(false, &what);
            }
        }
    }
    let quoted: Vec<String> = members.iter().map(|m| format!("{m:?}")).collect();
    let workspace = format!(
        "[workspace]\nresolver = \"3\"\nmembers = [{}]\n",
        quoted.join(", ")
    );
    std::fs::write(out.join("Cargo.toml"), workspace).map_err(|e| e.to_string())?;
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["clippy", "--workspace", "--all-features", "--manifest-path"])
        .arg(out.join("Cargo.toml"))
        .args(["--", "-D", "warnings"])
        .env("CARGO_TARGET_DIR", root.join("target/conformance/target"))
        .env("RUSTFLAGS", "-D warnings")
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    tally.record(
        status,
        "the third-party crates build and are clippy clean with warnings denied",
    );
    Ok(())
}

/// Writes a generated crate into `out`, removing files it no longer has.
pub(crate) fn write_files(files: &codegen::Files, out: &Path) -> Result<(), String> {
    let plan = codegen::sync::plan(files, out).map_err(|e| e.to_string())?;
    codegen::sync::apply(&plan, files, out)
}

/// Builds the record-data runner against the generated `example.lexicon.record`, runs it on
/// every record of the vectors, and judges each outcome ([`crate::record_runner::judge`]).
fn record_data(
    root: &Path,
    corpus: &Path,
    target_dir: &Path,
    tally: &mut Tally,
) -> Result<(), String> {
    use crate::record_runner::{Outcome, completed, judge};
    let runner = root.join("target/conformance/runner");
    std::fs::create_dir_all(runner.join("src")).map_err(|e| e.to_string())?;
    for (path, text) in [
        ("Cargo.toml", crate::record_runner::MANIFEST),
        ("src/main.rs", crate::record_runner::MAIN),
    ] {
        let target = runner.join(path);
        if std::fs::read_to_string(&target).ok().as_deref() != Some(text) {
            std::fs::write(&target, text).map_err(|e| format!("{}: {e}", target.display()))?;
        }
    }
    // Every record the runner must try: each vector's, and the completed form of a few.
    let mut vectors = Vec::new();
    let mut records = Vec::new();
    for (file, valid) in [
        ("record-data-valid.json", true),
        ("record-data-invalid.json", false),
    ] {
        let path = corpus.join("interop-tests/lexicon").join(file);
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let cases: Vec<serde_json::Value> =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        for case in cases {
            let name = case["name"].as_str().unwrap_or("?").to_owned();
            let data = case["data"].clone();
            let first = records.len();
            records.push(data.clone());
            let second = completed(&name, &data).map(|more| {
                records.push(more);
                records.len() - 1
            });
            vectors.push((file, valid, name, data, first, second));
        }
    }
    let input = runner.join("records.json");
    std::fs::write(&input, serde_json::Value::Array(records).to_string())
        .map_err(|e| format!("{}: {e}", input.display()))?;
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["run", "--quiet", "--manifest-path"])
        .arg(runner.join("Cargo.toml"))
        .arg("--")
        .arg(&input)
        .env("CARGO_TARGET_DIR", target_dir)
        .output()
        .map_err(|e| format!("cannot run the record-data runner: {e}"))?;
    let outcomes: Result<Vec<Outcome>, String> = if output.status.success() {
        serde_json::from_slice::<Vec<serde_json::Value>>(&output.stdout)
            .map_err(|e| format!("the runner's output is not a JSON array: {e}"))
            .and_then(|values| values.iter().map(Outcome::from_json).collect())
    } else {
        Err(format!(
            "the record-data runner failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ))
    };
    let outcomes = match outcomes {
        Ok(outcomes) => outcomes,
        Err(why) => {
            println!("{why}");
            tally.record(false, "the record-data runner ran");
            return Ok(());
        }
    };
    let (mut passed, mut failed) = (0, 0);
    for (file, valid, name, data, first, second) in &vectors {
        let (Some(outcome), completed) =
            (outcomes.get(*first), second.and_then(|i| outcomes.get(i)))
        else {
            tally.record(
                false,
                &format!("record-data {file} {name:?}: the runner said nothing"),
            );
            failed += 1;
            continue;
        };
        match judge(*valid, name, data, outcome, completed) {
            Ok(how) => {
                passed += 1;
                if !how.is_empty() {
                    println!("  {file} {name:?} {how}");
                }
                tally.record(true, "");
            }
            Err(why) => {
                failed += 1;
                tally.record(false, &format!("record-data {file}: {why}"));
            }
        }
    }
    println!("record-data: {passed} passed, {failed} failed");
    Ok(())
}

/// Adds up the `label: N passed, M failed` lines a child printed; a child that failed or
/// printed no such line counts as one failure.
fn count_lines(output: &std::process::Output, labels: &[&str], tally: &mut Tally) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut seen = false;
    for line in stdout.lines() {
        println!("  {line}");
        let Some((label, counts)) = line.split_once(": ") else {
            continue;
        };
        if !labels.contains(&label) {
            continue;
        }
        let numbers: Vec<usize> = counts
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse().ok())
            .collect();
        if let [passed, failed] = numbers[..] {
            seen = true;
            tally.passed += passed;
            tally.failed += failed;
            if failed > 0 {
                println!("FAILED: {failed} {label} vectors");
            }
        }
    }
    if !output.status.success() || !seen {
        print!("{}", String::from_utf8_lossy(&output.stderr));
        tally.record(false, &format!("{} ran and passed", labels.join(", ")));
    }
}

/// The runtime's vectors (string formats, data model, signatures and keys), run as ignored tests
/// of the tests package.
fn runtime_vectors(root: &Path, corpus: &Path, tally: &mut Tally) -> Result<(), String> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "test",
            "-p",
            "integration-tests",
            "--test",
            "conformance_vectors",
            "--",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .current_dir(root)
        .env("ATPROTO_CORPUS", corpus)
        .output()
        .map_err(|e| format!("cannot run cargo test: {e}"))?;
    count_lines(&output, &["syntax", "data-model", "crypto"], tally);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<Vec<codegen::lexicon::Document>, codegen::Diagnostics> {
        codegen::load_and_check(&[SourceFile {
            file: PathBuf::from("vector.json"),
            relative_path: None,
            text: text.to_owned(),
        }])
    }

    #[test]
    fn an_invalid_lexicon_rejected_for_another_reason_fails() {
        // About its id, but it fails first as malformed JSON.
        let broken = check(r#"{"lexicon": 1, "id": "one-two-three", "defs": {"#);
        let verdict = judge_lexicon(false, "invalid NSID", &broken);
        assert!(
            verdict.as_ref().is_err_and(|e| e.contains("is about /id")),
            "{verdict:?}"
        );
        // About its id, and rejected for it alone.
        let right = check(
            r#"{"lexicon": 1, "id": "one-two-three", "defs": {"demo": {"type": "integer"}}}"#,
        );
        assert!(judge_lexicon(false, "invalid NSID", &right).is_ok());
        // Rejected for its id, and also for an unrelated defect.
        let both = check(
            r##"{"lexicon": 1, "id": "one-two-three", "defs": {"demo": {"type": "ref", "ref": "#x"}}}"##,
        );
        let verdict = judge_lexicon(false, "invalid NSID", &both);
        assert!(
            verdict.as_ref().is_err_and(|e| e.contains("also for")),
            "{verdict:?}"
        );
    }

    #[test]
    fn an_unknown_vector_or_an_accepted_one_fails() {
        let fine = check(r#"{"lexicon": 1, "id": "a.b.c", "defs": {"demo": {"type": "integer"}}}"#);
        assert!(judge_lexicon(true, "minimal", &fine).is_ok());
        assert!(judge_lexicon(false, "invalid NSID", &fine).is_err());
        let bad = check(r#"{"lexicon": 2, "id": "a.b.c", "defs": {}}"#);
        let verdict = judge_lexicon(false, "some new vector", &bad);
        assert!(verdict.is_err_and(|e| e.contains("no entry in LEXICON_REASONS")));
    }
}

//! `cargo xtask diff`: one fixture pair per evolution rule (tests/fixtures/diff/<rule>/{old,new}),
//! each asserting how the change is classified, at which JSON path, and what it does to the
//! generated Rust API; then the exit codes, the report formats, and the real binary.

use codegen::diff::{
    self, BadInput, EXIT_BAD_INPUT, EXIT_BREAKING, EXIT_OK, Level, Options, Report, Side, Status,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/diff")
}

/// The diff of fixture `name`, generated crates included.
fn run(name: &str) -> Result<Report, BadInput> {
    let dir = fixtures().join(name);
    let read = |side: &str| {
        codegen::read_lexicon_dir(&dir.join(side))
            .unwrap_or_else(|e| panic!("cannot read fixture {name}/{side}: {e}"))
    };
    let (old, new) = (read("old"), read("new"));
    diff::diff(
        Side {
            label: "old",
            sources: &old,
        },
        Side {
            label: "new",
            sources: &new,
        },
        &Options::default(),
    )
}

fn report(name: &str) -> Report {
    run(name).unwrap_or_else(|bad| panic!("fixture {name} should load:\n{bad}"))
}

const POST: &str = "com.example.post";

/// The report has this wire change; returns the report for more checks.
#[track_caller]
fn wire(name: &str, nsid: &str, level: Level, rule: &str, path: &str) -> Report {
    let report = report(name);
    let document = report
        .documents
        .iter()
        .find(|d| d.nsid == nsid)
        .unwrap_or_else(|| panic!("{name}: no entry for {nsid}:\n{}", report.to_text()));
    assert!(
        document
            .wire
            .iter()
            .any(|c| c.level == level && c.rule == rule && c.path == path),
        "{name}: expected a {} `{rule}` change at {path:?}:\n{}",
        level.name(),
        report.to_text()
    );
    report
}

/// The report has this Rust API change.
#[track_caller]
fn rust(report: &Report, nsid: &str, level: Level, rule: &str, item: &str) {
    let found = report
        .documents
        .iter()
        .filter(|d| d.nsid == nsid)
        .flat_map(|d| &d.rust)
        .any(|c| c.level == level && c.rule == rule && c.item == item);
    assert!(
        found,
        "expected a {} `{rule}` Rust API change of {item}:\n{}",
        level.name(),
        report.to_text()
    );
}

/// No Rust API change is breaking.
#[track_caller]
fn rust_compatible(report: &Report) {
    assert_eq!(report.summary.rust.breaking, 0, "{}", report.to_text());
}

// Breaking on the wire.

#[test]
fn type_changed() {
    let r = wire(
        "type-changed",
        POST,
        Level::Breaking,
        "type-changed",
        "/defs/main/properties/text",
    );
    rust(
        &r,
        POST,
        Level::Breaking,
        "field-type-changed",
        "com::example::post::Main",
    );
}

#[test]
fn required_field_added() {
    let r = wire(
        "required-added",
        POST,
        Level::Breaking,
        "required-added",
        "/defs/main/properties/b",
    );
    rust(
        &r,
        POST,
        Level::Breaking,
        "required-field-added",
        "com::example::post::Main",
    );
}

#[test]
fn required_field_removed() {
    let r = wire(
        "required-removed",
        POST,
        Level::Breaking,
        "required-removed",
        "/defs/main/properties/b",
    );
    rust(
        &r,
        POST,
        Level::Breaking,
        "field-removed",
        "com::example::post::Main",
    );
}

#[test]
fn optional_became_required() {
    let r = wire(
        "now-required",
        POST,
        Level::Breaking,
        "now-required",
        "/defs/main/properties/b",
    );
    rust(
        &r,
        POST,
        Level::Breaking,
        "field-type-changed",
        "com::example::post::Main",
    );
}

#[test]
fn required_became_optional() {
    wire(
        "now-optional",
        POST,
        Level::Breaking,
        "now-optional",
        "/defs/main/properties/b",
    );
}

#[test]
fn nullable_changed() {
    let r = wire(
        "nullable-changed",
        POST,
        Level::Breaking,
        "nullable-changed",
        "/defs/main/properties/b",
    );
    rust(
        &r,
        POST,
        Level::Breaking,
        "field-type-changed",
        "com::example::post::Main",
    );
}

#[test]
fn const_changed() {
    wire(
        "const-changed",
        POST,
        Level::Breaking,
        "const-changed",
        "/defs/main/properties/kind/const",
    );
}

#[test]
fn enum_values_changed() {
    let r = wire(
        "enum-changed",
        POST,
        Level::Breaking,
        "enum-changed",
        "/defs/main/properties/size/enum",
    );
    rust(
        &r,
        POST,
        Level::Compatible,
        "variant-added",
        "com::example::post::MainSize",
    );
}

#[test]
fn string_format_changed() {
    let r = wire(
        "format-changed",
        POST,
        Level::Breaking,
        "format-changed",
        "/defs/main/properties/who/format",
    );
    rust(
        &r,
        POST,
        Level::Breaking,
        "field-type-changed",
        "com::example::post::Main",
    );
}

#[test]
fn closed_union_refs_changed() {
    wire(
        "closed-union-refs-changed",
        POST,
        Level::Breaking,
        "closed-union-refs-changed",
        "/defs/main/properties/u/refs",
    );
}

#[test]
fn ref_removed_from_an_open_union() {
    let r = wire(
        "open-union-ref-removed",
        POST,
        Level::Breaking,
        "open-union-ref-removed",
        "/defs/main/properties/u/refs",
    );
    rust(
        &r,
        POST,
        Level::Breaking,
        "variant-removed",
        "com::example::post::MainU",
    );
}

#[test]
fn open_union_became_closed() {
    let r = wire(
        "union-closed-changed",
        POST,
        Level::Breaking,
        "union-closed-changed",
        "/defs/main/properties/u/closed",
    );
    rust(
        &r,
        POST,
        Level::Breaking,
        "unknown-variant",
        "com::example::post::MainU",
    );
}

#[test]
fn record_key_changed() {
    let r = wire(
        "record-key-changed",
        POST,
        Level::Breaking,
        "record-key-changed",
        "/defs/main/key",
    );
    rust(
        &r,
        POST,
        Level::Breaking,
        "record-key-changed",
        "com::example::post::Record",
    );
}

#[test]
fn body_encoding_changed() {
    let r = wire(
        "encoding-changed",
        POST,
        Level::Breaking,
        "encoding-changed",
        "/defs/main/input/encoding",
    );
    // Raw bytes either way: the client method's signature is the same.
    rust_compatible(&r);
}

#[test]
fn def_removed() {
    let r = wire(
        "def-removed",
        POST,
        Level::Breaking,
        "def-removed",
        "/defs/extra",
    );
    rust(
        &r,
        POST,
        Level::Breaking,
        "item-removed",
        "com::example::post::Extra",
    );
}

#[test]
fn document_removed() {
    let r = wire(
        "document-removed",
        "com.example.gone",
        Level::Breaking,
        "document-removed",
        "",
    );
    let gone = r.documents.iter().find(|d| d.nsid == "com.example.gone");
    assert_eq!(gone.map(|d| d.status), Some(Status::Removed));
    rust(
        &r,
        "com.example.gone",
        Level::Breaking,
        "module-removed",
        "com::example::gone",
    );
    assert_eq!(r.summary.documents.removed, 1);
    assert_eq!(r.summary.documents.unchanged, 1);
}

#[test]
fn input_added() {
    let r = wire(
        "input-added",
        POST,
        Level::Breaking,
        "input-added",
        "/defs/main/input",
    );
    rust(
        &r,
        POST,
        Level::Breaking,
        "signature-changed",
        "com::example::post",
    );
}

#[test]
fn output_removed() {
    wire(
        "output-removed",
        POST,
        Level::Breaking,
        "output-removed",
        "/defs/main/output",
    );
}

#[test]
fn parameters_block_with_a_required_parameter_added() {
    let r = wire(
        "parameters-added",
        POST,
        Level::Breaking,
        "required-added",
        "/defs/main/parameters/properties/q",
    );
    rust(
        &r,
        POST,
        Level::Breaking,
        "signature-changed",
        "com::example::post",
    );
}

// Compatible.

#[test]
fn optional_field_added() {
    let r = wire(
        "optional-added",
        POST,
        Level::Compatible,
        "optional-added",
        "/defs/main/properties/b",
    );
    rust(
        &r,
        POST,
        Level::Compatible,
        "optional-field-added",
        "com::example::post::Main",
    );
    rust_compatible(&r);
    assert!(!r.is_breaking());
}

#[test]
fn optional_parameter_added() {
    let r = wire(
        "optional-parameter-added",
        POST,
        Level::Compatible,
        "optional-added",
        "/defs/main/parameters/properties/cursor",
    );
    rust_compatible(&r);
    assert!(!r.is_breaking());
}

#[test]
fn ref_added_to_an_open_union() {
    let r = wire(
        "open-union-ref-added",
        POST,
        Level::Compatible,
        "open-union-ref-added",
        "/defs/main/properties/u/refs",
    );
    rust(
        &r,
        POST,
        Level::Compatible,
        "variant-added",
        "com::example::post::MainU",
    );
    assert!(!r.is_breaking());
}

#[test]
fn known_values_changed() {
    let r = wire(
        "known-values-changed",
        POST,
        Level::Compatible,
        "known-values-changed",
        "/defs/main/properties/lang/knownValues",
    );
    assert!(!r.is_breaking());
}

#[test]
fn def_added() {
    let r = wire(
        "def-added",
        POST,
        Level::Compatible,
        "def-added",
        "/defs/extra",
    );
    rust(
        &r,
        POST,
        Level::Compatible,
        "item-added",
        "com::example::post::Extra",
    );
    assert!(!r.is_breaking());
}

#[test]
fn document_added() {
    let r = wire(
        "document-added",
        "com.example.fresh",
        Level::Compatible,
        "document-added",
        "",
    );
    assert_eq!(r.summary.documents.added, 1);
    assert!(!r.is_breaking());
    let files = r.generated.as_ref().expect("crates compared");
    assert!(
        files
            .added
            .iter()
            .any(|f| f.path == "src/com/example/fresh.rs"),
        "{}",
        r.to_text()
    );
}

#[test]
fn description_changed_and_deprecated() {
    let r = wire(
        "description-changed",
        POST,
        Level::Compatible,
        "description-changed",
        "/defs/main/properties/text/description",
    );
    rust(
        &r,
        POST,
        Level::Compatible,
        "deprecated",
        "com::example::post::Main",
    );
    assert!(!r.is_breaking());
}

#[test]
fn default_changed() {
    let r = wire(
        "default-changed",
        POST,
        Level::Compatible,
        "default-changed",
        "/defs/main/parameters/properties/limit/default",
    );
    assert!(!r.is_breaking());
}

#[test]
fn error_added() {
    let r = wire(
        "error-added",
        POST,
        Level::Compatible,
        "error-added",
        "/defs/main/errors/1",
    );
    assert!(!r.is_breaking());
}

// Warnings: allowed by the rules, worth reading.

#[test]
fn constraint_tightened() {
    let r = wire(
        "constraint-tightened",
        POST,
        Level::Warning,
        "constraint-tightened",
        "/defs/main/properties/text/maxLength",
    );
    assert!(
        !r.is_breaking(),
        "validation only: the Rust API is the same"
    );
}

#[test]
fn constraint_loosened() {
    wire(
        "constraint-loosened",
        POST,
        Level::Warning,
        "constraint-loosened",
        "/defs/main/properties/count/minimum",
    );
}

#[test]
fn blob_accept_tightened() {
    wire(
        "accept-tightened",
        POST,
        Level::Warning,
        "constraint-tightened",
        "/defs/main/properties/image/accept",
    );
}

#[test]
fn ref_target_changed() {
    let r = wire(
        "ref-target-changed",
        POST,
        Level::Warning,
        "ref-target-changed",
        "/defs/main/properties/r/ref",
    );
    rust(
        &r,
        POST,
        Level::Breaking,
        "field-type-changed",
        "com::example::post::Main",
    );
}

#[test]
fn ref_target_changed_to_an_identical_def() {
    wire(
        "ref-target-identical",
        POST,
        Level::Compatible,
        "ref-target-changed",
        "/defs/main/properties/r/ref",
    );
}

#[test]
fn optional_field_removed() {
    let r = wire(
        "optional-removed",
        POST,
        Level::Warning,
        "optional-removed",
        "/defs/main/properties/b",
    );
    rust(
        &r,
        POST,
        Level::Breaking,
        "field-removed",
        "com::example::post::Main",
    );
}

#[test]
fn error_removed() {
    let r = wire(
        "error-removed",
        POST,
        Level::Warning,
        "error-removed",
        "/defs/main/errors/0",
    );
    rust(
        &r,
        POST,
        Level::Breaking,
        "variant-removed",
        "com::example::post",
    );
}

#[test]
fn output_added() {
    wire(
        "output-added",
        POST,
        Level::Warning,
        "output-added",
        "/defs/main/output",
    );
}

#[test]
fn inline_type_moved_into_a_def() {
    let r = wire(
        "moved-to-def",
        POST,
        Level::Compatible,
        "moved-to-def",
        "/defs/main/properties/lang",
    );
    assert_eq!(r.summary.wire.breaking, 0, "{}", r.to_text());
    assert_eq!(r.summary.wire.warning, 0, "{}", r.to_text());
    rust(
        &r,
        POST,
        Level::Breaking,
        "item-removed",
        "com::example::post::MainLang",
    );
}

// The Rust API only.

#[test]
fn rename_after_a_name_collision() {
    let r = wire(
        "renamed-by-collision",
        POST,
        Level::Compatible,
        "def-added",
        "/defs/FooBar",
    );
    assert_eq!(r.summary.wire.breaking, 0);
    rust(
        &r,
        POST,
        Level::Breaking,
        "renamed",
        "com::example::post::FooBar2",
    );
    rust(
        &r,
        POST,
        Level::Compatible,
        "item-added",
        "com::example::post::FooBar",
    );
}

#[test]
fn reordered_required_fields_change_the_constructor() {
    let r = report("property-order");
    let post = r.documents.iter().find(|d| d.nsid == POST).expect("listed");
    assert_eq!(post.status, Status::Unchanged, "the JSON is the same data");
    assert!(post.wire.is_empty());
    rust(
        &r,
        POST,
        Level::Breaking,
        "constructor-changed",
        "com::example::post::Main",
    );
}

#[test]
fn a_change_nothing_classifies_is_still_reported() {
    let r = wire("required-order", POST, Level::Warning, "unclassified", "");
    let post = r.documents.iter().find(|d| d.nsid == POST).expect("listed");
    assert_eq!(post.status, Status::Changed);
    rust_compatible(&r);
}

// Exit codes, formats, determinism.

#[test]
fn exit_codes() {
    let compatible = run("optional-added");
    assert_eq!(diff::exit_code(&compatible, false), EXIT_OK);
    assert_eq!(diff::exit_code(&compatible, true), EXIT_OK);
    let warning = run("constraint-tightened");
    assert_eq!(diff::exit_code(&warning, true), EXIT_OK);
    let breaking = run("required-added");
    assert_eq!(diff::exit_code(&breaking, false), EXIT_OK);
    assert_eq!(diff::exit_code(&breaking, true), EXIT_BREAKING);
    let rust_only = run("renamed-by-collision");
    assert_eq!(diff::exit_code(&rust_only, true), EXIT_BREAKING);
    let bad = run("bad-input");
    assert_eq!(diff::exit_code(&bad, false), EXIT_BAD_INPUT);
    assert_eq!(diff::exit_code(&bad, true), EXIT_BAD_INPUT);
}

#[test]
fn bad_input_reports_the_diagnostics() {
    let bad = run("bad-input").expect_err("the new side has an unresolved ref");
    assert_eq!(bad.problems.len(), 1);
    assert_eq!(bad.problems[0].0, "new");
    let text = bad.to_string();
    assert!(text.contains("post.json:"), "{text}");
    assert!(text.contains("#missing"), "{text}");
}

#[test]
fn a_side_compared_with_itself_has_nothing_to_report() {
    let dir = fixtures().join("required-added/new");
    let sources = codegen::read_lexicon_dir(&dir).expect("fixture");
    let side = Side {
        label: "same",
        sources: &sources,
    };
    let r = diff::diff(side, side, &Options::default()).expect("loads");
    assert!(r.documents.is_empty(), "{}", r.to_text());
    assert_eq!(r.summary.documents.unchanged, 1);
    assert!(r.generated.as_ref().is_some_and(|g| g.is_empty()));
    assert_eq!(r.exit_code(true), EXIT_OK);
}

/// The regeneration summary of one added optional field, checked against the two crates
/// generated here: which files changed, and by how many lines, counted independently.
#[test]
fn regeneration_summary_counts_files_and_lines() {
    let r = report("optional-added");
    let files = r.generated.as_ref().expect("crates compared");
    let generate = |side: &str| {
        let sources = codegen::read_lexicon_dir(&fixtures().join("optional-added").join(side))
            .expect("fixture");
        codegen::generate(&sources, &codegen::CrateOptions::default()).expect("generates")
    };
    let (old, new) = (generate("old"), generate("new"));
    let changed: Vec<&str> = files.changed.iter().map(|f| f.path.as_str()).collect();
    let expected: Vec<String> = new
        .iter()
        .filter(|(path, text)| old.get(*path) != Some(*text))
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert_eq!(changed, expected, "{}", r.to_text());
    assert!(changed.contains(&"src/com/example/post.rs"), "{changed:?}");
    assert!(files.added.is_empty() && files.removed.is_empty());

    // Lines of the new post.rs that the old one lacks, and the other way round.
    let path = Path::new("src/com/example/post.rs");
    fn lines(text: &str) -> BTreeMap<&str, i64> {
        let mut counts = BTreeMap::new();
        text.lines()
            .for_each(|l| *counts.entry(l).or_default() += 1);
        counts
    }
    let (before, after) = (lines(&old[path]), lines(&new[path]));
    let gained: Vec<&str> = after
        .iter()
        .filter(|(line, n)| **n > before.get(*line).copied().unwrap_or(0))
        .map(|(line, _)| *line)
        .collect();
    let more = |a: &BTreeMap<&str, i64>, b: &BTreeMap<&str, i64>| {
        a.iter()
            .map(|(line, n)| (n - b.get(line).copied().unwrap_or(0)).max(0) as usize)
            .sum::<usize>()
    };
    let post = files
        .changed
        .iter()
        .find(|f| f.path == "src/com/example/post.rs")
        .expect("listed");
    assert_eq!(
        (post.lines_added, post.lines_removed),
        (more(&after, &before), more(&before, &after))
    );
    assert!(
        gained
            .iter()
            .any(|l| l.trim() == "pub b: ::std::option::Option<::std::string::String>,"),
        "the new field is among the added lines: {gained:#?}"
    );
    let total: usize = files.changed.iter().map(|f| f.lines_added).sum();
    assert_eq!(files.lines_added, total);
    let text = r.to_text();
    assert!(
        text.contains(&match post.lines_removed {
            0 => format!("changed  src/com/example/post.rs (+{})\n", post.lines_added),
            removed => format!(
                "changed  src/com/example/post.rs (+{} -{removed})\n",
                post.lines_added
            ),
        }),
        "{text}"
    );
}

#[test]
fn line_counts_are_a_multiset_difference() {
    assert_eq!(
        diff::files::line_counts("a\nb\nc\n", "a\nc\nd\ne\n"),
        (2, 1)
    );
    assert_eq!(diff::files::line_counts("x\nx\n", "x\n"), (0, 1));
    assert_eq!(diff::files::line_counts("", ""), (0, 0));
}

#[test]
fn reports_are_deterministic_and_breaking_first() {
    let first = report("renamed-by-collision");
    let second = report("renamed-by-collision");
    assert_eq!(first.to_text(), second.to_text());
    assert_eq!(first.to_json(), second.to_json());
    for document in &first.documents {
        let levels: Vec<Level> = document.rust.iter().map(|c| c.level).collect();
        let mut sorted = levels.clone();
        sorted.sort();
        assert_eq!(levels, sorted, "breaking changes first");
    }
    let text = first.to_text();
    let breaking = text.find("breaking    com::example::post::FooBar2");
    let compatible = text.find("compatible  com::example::post::FooBar:");
    assert!(breaking < compatible, "{text}");
}

#[test]
fn json_report_carries_rules_levels_and_paths() {
    let r = report("constraint-tightened");
    let json: serde_json::Value = serde_json::from_str(&r.to_json()).expect("valid JSON");
    assert_eq!(json["summary"]["wire"]["warning"], 1);
    assert_eq!(json["summary"]["breaking"], false);
    let change = &json["documents"][0]["wire"][0];
    assert_eq!(change["level"], "warning");
    assert_eq!(change["rule"], "constraint-tightened");
    assert_eq!(change["path"], "/defs/main/properties/text/maxLength");
    assert_eq!(json["documents"][0]["status"], "changed");
    assert!(json["generated"]["changed"].is_array());
}

/// The real command line: `cargo run -p xtask -- diff ...` (one build, then several runs).
#[test]
fn the_xtask_binary() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let xtask = |args: &[&str]| {
        let output = Command::new(&cargo)
            .args(["run", "--quiet", "--package", "xtask", "--", "diff"])
            .args(args)
            .current_dir(&root)
            .output()
            .expect("cargo runs");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let fixture = |name: &str, side: &str| format!("tests/fixtures/diff/{name}/{side}");
    let (old, new) = (
        fixture("required-added", "old"),
        fixture("required-added", "new"),
    );

    let (code, stdout, stderr) = xtask(&[&old, &new, "--deny-breaking", "--no-crate"]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("breaking    /defs/main/properties/b: required field `b` added"),
        "{stdout}"
    );

    let (code, stdout, stderr) = xtask(&[&old, &new, "--format", "json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    assert_eq!(json["summary"]["breaking"], true);

    let (code, _, stderr) = xtask(&[&fixture("bad-input", "old"), &fixture("bad-input", "new")]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("unresolved reference"), "{stderr}");

    let (code, _, stderr) = xtask(&["no-such-revision-or-folder", "lexicons"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("neither a folder nor a git revision"),
        "{stderr}"
    );

    // Git revisions of lexicons/: HEAD against itself changes nothing.
    let (code, stdout, stderr) = xtask(&["HEAD", "HEAD", "--deny-breaking", "--no-crate"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("lexicon diff: HEAD ("), "{stdout}");
    assert!(stdout.contains(" 0 changed,"), "{stdout}");
}

/// Every fixture side against its partner both ways, and against the next fixture's side: any
/// pair of valid lexicon sets gives a report (never a panic), the same one twice.
#[test]
fn any_pair_of_sides_gives_a_report() {
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .expect("fixtures")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let read = |name: &str, side: &str| {
        codegen::read_lexicon_dir(&fixtures().join(name).join(side)).expect("fixture")
    };
    let options = Options {
        generated: false,
        ..Options::default()
    };
    let compare = |old: &[codegen::SourceFile], new: &[codegen::SourceFile]| {
        let side = |sources| Side {
            label: "side",
            sources,
        };
        let first = diff::diff(side(old), side(new), &options);
        let second = diff::diff(side(old), side(new), &options);
        assert_eq!(first, second);
        first.map(|r| r.to_text())
    };
    for (i, name) in names.iter().enumerate() {
        let (old, new) = (read(name, "old"), read(name, "new"));
        let forward = compare(&old, &new);
        let backward = compare(&new, &old);
        assert_eq!(forward.is_ok(), backward.is_ok(), "{name}");
        let next = &names[(i + 1) % names.len()];
        let _ = compare(&new, &read(next, "old"));
    }
}

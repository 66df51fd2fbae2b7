//! `cargo xtask diff OLD NEW`: what a lexicon update changes, on the wire and in the Rust API.
//!
//! Each side is a lexicon folder or a git revision of this repository's `lexicons/`. The work is
//! [`codegen::diff`]; this file reads the sides, prints the report and picks the exit code.

use crate::{shown, workspace_root};
use codegen::SourceFile;
use codegen::diff::{
    self, EXIT_BAD_INPUT, EXIT_BREAKING, EXIT_OK, Level, Options, Report, Side, Status,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

const DIFF_USAGE: &str =
    "usage: cargo xtask diff OLD NEW [--format text|json] [--deny-breaking] [--no-crate]
  OLD, NEW   a lexicon folder, or a git revision of this repository (its lexicons/ folder)
  --format   text (default) or json
  --deny-breaking  exit 1 when a change breaks the wire or the Rust API
  --no-crate       skip comparing the generated crates (faster)
exit codes: 0 nothing breaks (or not denied), 1 breaking with --deny-breaking, 2 bad input";

struct Args {
    old: String,
    new: String,
    json: bool,
    deny_breaking: bool,
    generated: bool,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut sides = Vec::new();
    let (mut json, mut deny_breaking, mut generated) = (false, false, true);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--format" => match args.next().map(String::as_str) {
                Some("json") => json = true,
                Some("text") => json = false,
                other => {
                    return Err(format!(
                        "--format takes `text` or `json`, not {}",
                        other.map_or("nothing".to_owned(), |o| format!("`{o}`"))
                    ));
                }
            },
            "--deny-breaking" => deny_breaking = true,
            "--no-crate" => generated = false,
            "-h" | "--help" => return Err(String::new()),
            other if other.starts_with("--") => return Err(format!("unknown option {other}")),
            side => sides.push(side.to_owned()),
        }
    }
    match <[String; 2]>::try_from(sides) {
        Ok([old, new]) => Ok(Args {
            old,
            new,
            json,
            deny_breaking,
            generated,
        }),
        Err(sides) => Err(format!(
            "expected OLD and NEW, got {} argument(s)",
            sides.len()
        )),
    }
}

/// Runs `cargo xtask diff`; the exit code is the command's (see [`DIFF_USAGE`]).
pub fn main(args: &[String]) -> ExitCode {
    let args = match parse(args) {
        Ok(args) => args,
        Err(message) if message.is_empty() => {
            println!("{DIFF_USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("error: {message}\n{DIFF_USAGE}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let root = workspace_root();
    let sides = read_side(&args.old, &root).and_then(|old| Ok((old, read_side(&args.new, &root)?)));
    let ((old_label, old_sources), (new_label, new_sources)) = match sides {
        Ok(sides) => sides,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let options = Options {
        generated: args.generated,
        ..Options::default()
    };
    let result = diff::diff(
        Side {
            label: &old_label,
            sources: &old_sources,
        },
        Side {
            label: &new_label,
            sources: &new_sources,
        },
        &options,
    );
    match &result {
        Ok(report) => {
            let text = if args.json {
                report.to_json()
            } else {
                report.to_text()
            };
            // A closed pipe (`| head`) is not an error worth a panic.
            let _ = writeln!(std::io::stdout().lock(), "{}", text.trim_end());
        }
        Err(bad) => eprintln!("error: cannot compare the lexicons\n{bad}"),
    }
    ExitCode::from(diff::exit_code(&result, args.deny_breaking))
}

/// One side: `(label for the report, its documents)`. A folder when `spec` is one, otherwise
/// a git revision of this repository.
fn read_side(spec: &str, root: &Path) -> Result<(String, Vec<SourceFile>), String> {
    let path = Path::new(spec);
    if path.is_dir() {
        let label = shown(path).display().to_string();
        let mut sources = codegen::read_lexicon_dir(path)
            .map_err(|e| format!("cannot read the lexicon folder {label}: {e}"))?;
        if sources.is_empty() {
            return Err(format!("no lexicon documents (*.json) in {label}"));
        }
        for source in &mut sources {
            source.file = shown(&source.file);
        }
        return Ok((label, sources));
    }
    if path.exists() {
        return Err(format!(
            "{spec} is a file; give a lexicon folder or a git revision"
        ));
    }
    read_revision(spec, root)
}

/// The documents under `lexicons/` at git revision `rev` of the repository at `root`.
fn read_revision(rev: &str, root: &Path) -> Result<(String, Vec<SourceFile>), String> {
    let neither = || {
        format!(
            "`{rev}` is neither a folder nor a git revision of the repository at {}",
            root.display()
        )
    };
    if rev.is_empty() || rev.starts_with('-') {
        return Err(neither());
    }
    let commit = git(
        root,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )
    .map_err(|_| neither())?;
    let commit = String::from_utf8_lossy(&commit).trim().to_owned();
    let listing = git(
        root,
        &[
            "ls-tree",
            "-r",
            "-z",
            "--name-only",
            &commit,
            "--",
            "lexicons",
        ],
    )?;
    let paths: Vec<String> = listing
        .split(|b| *b == 0)
        .filter_map(|p| std::str::from_utf8(p).ok())
        .filter(|p| p.starts_with("lexicons/") && p.ends_with(".json") && !p.contains('\n'))
        .map(str::to_owned)
        .collect();
    if paths.is_empty() {
        return Err(format!(
            "revision {rev} has no lexicon documents under lexicons/"
        ));
    }
    let request: String = paths.iter().map(|p| format!("{commit}:{p}\n")).collect();
    let output = git_with_input(root, &["cat-file", "--batch"], request.into_bytes())?;
    let short = commit.get(..10).unwrap_or(&commit);
    let mut sources = Vec::with_capacity(paths.len());
    let mut rest = output.as_slice();
    for path in &paths {
        let broken = || format!("git cat-file gave unexpected output for {rev}:{path}");
        let newline = rest.iter().position(|b| *b == b'\n').ok_or_else(broken)?;
        let header = String::from_utf8_lossy(&rest[..newline]).into_owned();
        let fields: Vec<&str> = header.split_whitespace().collect();
        let size: usize = match fields[..] {
            [_, "blob", size] => size.parse().map_err(|_| broken())?,
            _ => return Err(broken()),
        };
        let body = rest
            .get(newline + 1..newline + 1 + size)
            .ok_or_else(broken)?;
        let text = String::from_utf8(body.to_vec())
            .map_err(|_| format!("{rev}:{path} is not UTF-8 text"))?;
        rest = rest.get(newline + 2 + size..).unwrap_or_default();
        sources.push(SourceFile {
            file: PathBuf::from(format!("{rev}:{path}")),
            relative_path: path.strip_prefix("lexicons/").map(PathBuf::from),
            text,
        });
    }
    Ok((format!("{rev} ({short})"), sources))
}

fn git(root: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(format!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

fn git_with_input(root: &Path, args: &[&str], input: Vec<u8>) -> Result<Vec<u8>, String> {
    let mut child = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run git: {e}"))?;
    // Write from another thread: git answers while it reads, and both pipes can fill up.
    let mut stdin = child.stdin.take().ok_or("git has no stdin")?;
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let mut stdout = Vec::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_end(&mut stdout)
            .map_err(|e| format!("cannot read from git: {e}"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("git {}: {e}", args.join(" ")))?;
    let written = writer.join();
    if !output.status.success() || !matches!(written, Ok(Ok(()))) {
        return Err(format!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(stdout)
}

/// Part of `cargo xtask conformance`: the real upstream update (2026-02 -> current) through
/// the diff, checked document by document against a count made here from the two folders'
/// JSON (files compared as data), not by the diff code. Adds its checks to the counters.
pub fn conformance(corpus: &Path, passed: &mut usize, failed: &mut usize) {
    let old_dir = corpus.join("atproto-lexicons-2026-02/lexicons");
    let new_dir = corpus.join("atproto-lexicons/lexicons");
    let mut counts = Counts::default();

    let expected = match (documents_as_data(&old_dir), documents_as_data(&new_dir)) {
        (Ok(old), Ok(new)) => Expected::new(&old, &new),
        (Err(e), _) | (_, Err(e)) => {
            counts.check(false, &format!("read the two lexicon folders: {e}"));
            return counts.finish(passed, failed);
        }
    };
    let read = |dir: &Path| {
        codegen::read_lexicon_dir(dir).map(|mut sources| {
            sources.iter_mut().for_each(|s| s.file = shown(&s.file));
            sources
        })
    };
    let (old_sources, new_sources) = match (read(&old_dir), read(&new_dir)) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(e), _) | (_, Err(e)) => {
            counts.check(false, &format!("read the lexicons: {e}"));
            return counts.finish(passed, failed);
        }
    };
    let (old_label, new_label) = (
        shown(&old_dir).display().to_string(),
        shown(&new_dir).display().to_string(),
    );
    let side = |label, sources| Side { label, sources };
    let started = std::time::Instant::now();
    let report = match diff::diff(
        side(&old_label, &old_sources),
        side(&new_label, &new_sources),
        &Options::default(),
    ) {
        Ok(report) => report,
        Err(bad_input) => {
            println!("{bad_input}");
            counts.check(false, "compare the 2026-02 lexicons with the current ones");
            return counts.finish(passed, failed);
        }
    };
    println!(
        "lexicon diff of the real update in {:.2?}: {} added, {} removed, {} changed",
        started.elapsed(),
        report.summary.documents.added,
        report.summary.documents.removed,
        report.summary.documents.changed
    );

    let reported: BTreeMap<&str, Status> = report
        .documents
        .iter()
        .map(|d| (d.nsid.as_str(), d.status))
        .collect();
    for (ids, status) in [
        (&expected.added, Status::Added),
        (&expected.removed, Status::Removed),
        (&expected.changed, Status::Changed),
    ] {
        for id in ids {
            let found = reported.get(id.as_str()).copied();
            counts.check(
                found == Some(status),
                &format!(
                    "{id} is {} but the report says {}",
                    status.name(),
                    found.map_or("nothing", Status::name)
                ),
            );
        }
    }
    for (id, status) in &reported {
        let expected_somewhere = expected.added.contains(*id)
            || expected.removed.contains(*id)
            || expected.changed.contains(*id);
        if *status != Status::Unchanged {
            counts.check(
                expected_somewhere,
                &format!(
                    "{id} is reported {} but its JSON did not change",
                    status.name()
                ),
            );
        }
    }
    let documents = &report.summary.documents;
    counts.check(
        (documents.added, documents.removed, documents.changed)
            == (
                expected.added.len(),
                expected.removed.len(),
                expected.changed.len(),
            ),
        "the summary counts match the documents",
    );
    counts.check(
        documents.unchanged == expected.unchanged,
        "the summary counts the unchanged documents",
    );
    counts.check(
        report
            .documents
            .iter()
            .all(|d| d.status == Status::Unchanged || !d.wire.is_empty()),
        "every added, removed or changed document has a wire change",
    );
    let json: Result<Value, _> = serde_json::from_str(&report.to_json());
    counts.check(
        json.as_ref()
            .ok()
            .and_then(|j| j["documents"].as_array())
            .map(Vec::len)
            == Some(report.documents.len()),
        "the JSON report parses and lists every document",
    );
    let text = report.to_text();
    counts.check(
        reported
            .keys()
            .all(|id| text.contains(&format!("\n{id} ("))),
        "the text report names every document",
    );
    for (ok, what) in known_outcomes(&report) {
        counts.check(ok, &what);
    }
    let same = diff::diff(
        side(&new_label, &new_sources),
        side(&new_label, &new_sources),
        &Options {
            generated: false,
            ..Options::default()
        },
    );
    counts.check(
        same.as_ref()
            .is_ok_and(|r| r.documents.is_empty() && !r.is_breaking()),
        "the current lexicons compared with themselves: no changes",
    );

    let out = workspace_root().join("target/conformance");
    if std::fs::create_dir_all(&out).is_ok() {
        let _ = std::fs::write(out.join("lexicon-diff.txt"), &text);
        let _ = std::fs::write(out.join("lexicon-diff.json"), report.to_json());
        println!(
            "  the report: {}",
            shown(&out.join("lexicon-diff.txt")).display()
        );
    }
    counts.finish(passed, failed)
}

/// Changes of the real update (2026-02 -> current) read from the two folders' JSON by hand,
/// each with the verdict it must get: `(nsid, level, rule, JSON path)`.
const KNOWN_WIRE: &[(&str, Level, &str, &str)] = &[
    // An output string that gains `format: tid`: values written before may not be tids.
    (
        "app.bsky.draft.createDraft",
        Level::Breaking,
        "format-changed",
        "/defs/main/output/schema/properties/id/format",
    ),
    // A parameter that loses `format: did`: old servers reject what new clients send.
    (
        "com.atproto.server.getServiceAuth",
        Level::Breaking,
        "format-changed",
        "/defs/main/parameters/properties/aud/format",
    ),
    (
        "com.atproto.server.getServiceAuth",
        Level::Warning,
        "constraint-tightened",
        "/defs/main/parameters/properties/aud/maxLength",
    ),
    // `#deletedMessageView` leaves an open union of the output.
    (
        "chat.bsky.moderation.getMessageContext",
        Level::Breaking,
        "open-union-ref-removed",
        "/defs/main/output/schema/properties/messages/items/refs",
    ),
    (
        "app.bsky.embed.video",
        Level::Warning,
        "constraint-loosened",
        "/defs/main/properties/alt/maxLength",
    ),
    (
        "com.germnetwork.declaration",
        Level::Warning,
        "constraint-tightened",
        "/defs/main/record/properties/version/minLength",
    ),
    // `app.bsky.embed.gallery` joins an open union.
    (
        "app.bsky.embed.recordWithMedia",
        Level::Compatible,
        "open-union-ref-added",
        "/defs/main/properties/media/refs",
    ),
    (
        "app.bsky.graph.getFollowers",
        Level::Compatible,
        "optional-added",
        "/defs/main/parameters/properties/sort",
    ),
    (
        "com.atproto.label.defs",
        Level::Compatible,
        "known-values-changed",
        "/defs/labelValue/knownValues",
    ),
    (
        "chat.bsky.embed.joinLink",
        Level::Compatible,
        "document-added",
        "",
    ),
];

/// The same changes in the generated Rust API: `(nsid, level, rule, item)`.
const KNOWN_RUST: &[(&str, Level, &str, &str)] = &[
    (
        "app.bsky.draft.createDraft",
        Level::Breaking,
        "field-type-changed",
        "app::bsky::draft::create_draft::Output",
    ),
    (
        "com.atproto.server.getServiceAuth",
        Level::Breaking,
        "field-type-changed",
        "com::atproto::server::get_service_auth::Params",
    ),
    // Known values dropped from `labelValue` take their enum variants with them.
    (
        "com.atproto.label.defs",
        Level::Breaking,
        "variant-removed",
        "com::atproto::label::defs::LabelValue",
    ),
    (
        "chat.bsky.embed.joinLink",
        Level::Compatible,
        "module-added",
        "chat::bsky::embed::join_link",
    ),
];

/// Every document whose wire format the update breaks (the three changes above).
const WIRE_BREAKING: &[&str] = &[
    "app.bsky.draft.createDraft",
    "chat.bsky.moderation.getMessageContext",
    "com.atproto.server.getServiceAuth",
];

/// Generated files the update must add, change, or leave alone (`strongRef` did not change).
const KNOWN_FILES: &[(&str, &str)] = &[
    ("src/chat/bsky/embed/join_link.rs", "added"),
    ("src/app/bsky/draft/create_draft.rs", "changed"),
    ("src/com/atproto/server/get_service_auth.rs", "changed"),
    ("src/com/atproto/repo/strong_ref.rs", "unchanged"),
];

/// Checks the report of the real update against the known changes: `(passed, what)`.
fn known_outcomes(report: &Report) -> Vec<(bool, String)> {
    let mut checks = Vec::new();
    let document = |nsid: &str| report.documents.iter().find(|d| d.nsid == nsid);
    for (nsid, level, rule, path) in KNOWN_WIRE {
        let found = document(nsid).is_some_and(|d| {
            d.wire
                .iter()
                .any(|c| c.level == *level && c.rule == *rule && c.path == *path)
        });
        checks.push((
            found,
            format!(
                "{nsid}: a {} `{rule}` wire change at {path:?}",
                level.name()
            ),
        ));
    }
    for (nsid, level, rule, item) in KNOWN_RUST {
        let found = document(nsid).is_some_and(|d| {
            d.rust
                .iter()
                .any(|c| c.level == *level && c.rule == *rule && c.item == *item)
        });
        checks.push((
            found,
            format!(
                "{nsid}: a {} `{rule}` Rust API change of {item}",
                level.name()
            ),
        ));
    }
    let breaking: BTreeSet<&str> = report
        .documents
        .iter()
        .filter(|d| d.wire.iter().any(|c| c.level == Level::Breaking))
        .map(|d| d.nsid.as_str())
        .collect();
    checks.push((
        breaking == WIRE_BREAKING.iter().copied().collect(),
        format!("the wire breaks in exactly {WIRE_BREAKING:?}; the report says {breaking:?}"),
    ));
    let result = Ok(report.clone());
    checks.push((
        diff::exit_code(&result, true) == EXIT_BREAKING,
        "--deny-breaking fails on this update, which breaks the wire".to_owned(),
    ));
    checks.push((
        diff::exit_code(&result, false) == EXIT_OK,
        "without --deny-breaking the same report exits 0".to_owned(),
    ));
    let fate = |path: &str| {
        let generated = report.generated.as_ref()?;
        let listed =
            |files: &[codegen::diff::files::FileChange]| files.iter().any(|f| f.path == path);
        Some(if listed(&generated.added) {
            "added"
        } else if listed(&generated.changed) {
            "changed"
        } else if listed(&generated.removed) {
            "removed"
        } else {
            "unchanged"
        })
    };
    for (path, expected) in KNOWN_FILES {
        let found = fate(path);
        checks.push((
            found == Some(*expected),
            format!(
                "the regenerated crate: {path} is {expected}, the report says {}",
                found.unwrap_or("nothing (no crates compared)")
            ),
        ));
    }
    checks
}

#[derive(Default)]
struct Counts {
    passed: usize,
    failed: usize,
}

impl Counts {
    fn check(&mut self, ok: bool, what: &str) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
            println!("FAILED: diff: {what}");
        }
    }

    fn finish(self, passed: &mut usize, failed: &mut usize) {
        println!("diff: {} passed, {} failed", self.passed, self.failed);
        *passed += self.passed;
        *failed += self.failed;
    }
}

/// The documents of a folder as JSON data, keyed by id (or path when a file has none).
fn documents_as_data(dir: &Path) -> Result<BTreeMap<String, Value>, String> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let entries =
            std::fs::read_dir(&folder).map_err(|e| format!("{}: {e}", folder.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    let mut documents = BTreeMap::new();
    for file in files {
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let value: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        let id = value["id"]
            .as_str()
            .map_or_else(|| file.display().to_string(), str::to_owned);
        documents.insert(id, value);
    }
    Ok(documents)
}

/// What the update must report, from the data alone.
struct Expected {
    added: BTreeSet<String>,
    removed: BTreeSet<String>,
    changed: BTreeSet<String>,
    unchanged: usize,
}

impl Expected {
    fn new(old: &BTreeMap<String, Value>, new: &BTreeMap<String, Value>) -> Self {
        let mut expected = Expected {
            added: new
                .keys()
                .filter(|id| !old.contains_key(*id))
                .cloned()
                .collect(),
            removed: old
                .keys()
                .filter(|id| !new.contains_key(*id))
                .cloned()
                .collect(),
            changed: BTreeSet::new(),
            unchanged: 0,
        };
        for (id, value) in old {
            match new.get(id) {
                Some(v) if v != value => {
                    expected.changed.insert(id.clone());
                }
                Some(_) => expected.unchanged += 1,
                None => {}
            }
        }
        expected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real update's report passes [`known_outcomes`]; the same report with a change
    /// misjudged or a generated file lost does not (the checks they replace, "the crate
    /// differs" and "--deny-breaking follows is_breaking", passed either way).
    #[test]
    fn known_outcomes_catch_a_misjudged_update() {
        let corpus = workspace_root().join("../shared/corpus");
        let read = |dir: &str| {
            codegen::read_lexicon_dir(&corpus.join(dir))
                .unwrap_or_else(|e| panic!("the corpus at {}: {e}", corpus.display()))
        };
        let (old, new) = (
            read("atproto-lexicons-2026-02/lexicons"),
            read("atproto-lexicons/lexicons"),
        );
        let side = |label, sources| Side { label, sources };
        let report = diff::diff(side("old", &old), side("new", &new), &Options::default())
            .unwrap_or_else(|bad| panic!("the update loads:\n{bad}"));
        let failed = |report: &Report| -> Vec<String> {
            known_outcomes(report)
                .into_iter()
                .filter(|(ok, _)| !ok)
                .map(|(_, what)| what)
                .collect()
        };
        assert_eq!(failed(&report), Vec::<String>::new());

        let mut misjudged = report.clone();
        for document in &mut misjudged.documents {
            for change in &mut document.wire {
                if change.rule == "format-changed" {
                    change.level = Level::Compatible;
                }
            }
        }
        let found = failed(&misjudged);
        assert!(
            found
                .iter()
                .any(|f| f.contains("getServiceAuth: a breaking `format-changed`")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|f| f.contains("the wire breaks in exactly")),
            "{found:?}"
        );

        let mut lost = report.clone();
        if let Some(generated) = lost.generated.as_mut() {
            generated
                .added
                .retain(|f| !f.path.ends_with("join_link.rs"));
        }
        let found = failed(&lost);
        assert!(
            found.iter().any(|f| f.contains("join_link.rs is added")),
            "{found:?}"
        );
    }
}

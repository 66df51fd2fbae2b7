//! Lexicon updates: what changed between two sets of lexicon documents, and what it means.
//!
//! One update, three views, each judged on its own:
//! - [`wire`]: the documents compared def by def and classified by the Lexicon evolution rules
//!   (old data must stay valid under the new lexicon and new data under the old one);
//! - [`api`]: the two resolved IRs compared item by item, so a change of the generated Rust API
//!   (a renamed type after a name collision, a new required constructor argument) is seen even
//!   where the wire does not change;
//! - [`files`]: the generated crate of each side, compared file by file.
//!
//! [`diff`] runs them all and returns a [`Report`]; it does no I/O. Reading the two sides
//! (folders, git revisions) is the caller's job, as for [`crate::generate`].

pub mod api;
pub mod files;
mod render;
pub mod wire;

use crate::diagnostics::Diagnostics;
use crate::lexicon::{Document, SourceFile};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Exit code: nothing breaks (or breaking changes were not denied).
pub const EXIT_OK: u8 = 0;
/// Exit code: something breaks and `--deny-breaking` was given.
pub const EXIT_BREAKING: u8 = 1;
/// Exit code: an input could not be read, or its lexicons do not load and check.
pub const EXIT_BAD_INPUT: u8 = 2;

/// How a change affects users, worst first (so sorting puts breaking changes on top).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Breaks existing data, peers or code.
    Breaking,
    /// Compatible by the letter of the rules, but something may go wrong: read the message.
    Warning,
    /// Safe to ship.
    Compatible,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Breaking => "breaking",
            Level::Warning => "warning",
            Level::Compatible => "compatible",
        }
    }
}

/// One change of a lexicon, as the wire sees it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct WireChange {
    pub level: Level,
    /// JSON pointer into the document (`/defs/main/properties/text/maxLength`).
    pub path: String,
    /// A stable name for the rule that classified it (`required-added`, `constraint-tightened`).
    pub rule: &'static str,
    pub message: String,
}

/// One change of the generated Rust API.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ApiChange {
    /// [`Level::Breaking`] or [`Level::Compatible`].
    pub level: Level,
    /// The Rust path of the item (`app::bsky::feed::post::Record`), or of the module.
    pub item: String,
    pub rule: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Added,
    Removed,
    /// The document's JSON differs (compared as data: key order and spacing do not count).
    Changed,
    /// The same JSON, but its generated Rust API changed (a collision elsewhere renamed it).
    Unchanged,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Added => "added",
            Status::Removed => "removed",
            Status::Changed => "changed",
            Status::Unchanged => "unchanged",
        }
    }
}

/// Everything that changed for one NSID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentReport {
    pub nsid: String,
    pub status: Status,
    /// Worst first, then by path.
    pub wire: Vec<WireChange>,
    /// Worst first, then by item.
    pub rust: Vec<ApiChange>,
}

impl DocumentReport {
    /// The worst level among its wire and Rust changes.
    pub fn worst(&self) -> Level {
        self.wire
            .iter()
            .map(|c| c.level)
            .chain(self.rust.iter().map(|c| c.level))
            .min()
            .unwrap_or(Level::Compatible)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DocumentCounts {
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
    pub unchanged: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LevelCounts {
    pub breaking: usize,
    pub warning: usize,
    pub compatible: usize,
}

impl LevelCounts {
    fn add(&mut self, level: Level) {
        match level {
            Level::Breaking => self.breaking += 1,
            Level::Warning => self.warning += 1,
            Level::Compatible => self.compatible += 1,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub documents: DocumentCounts,
    pub wire: LevelCounts,
    pub rust: LevelCounts,
    /// Something breaks, on the wire or in the Rust API.
    pub breaking: bool,
}

/// The whole comparison. Deterministic: documents and changes are sorted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// How the caller named the two sides (a folder, a git revision).
    pub old: String,
    pub new: String,
    pub summary: Summary,
    /// Documents with something to report: worst first, then by NSID.
    pub documents: Vec<DocumentReport>,
    /// What `cargo xtask gen` would change in the generated crate, when asked for.
    pub generated: Option<files::CrateDiff>,
}

impl Report {
    /// Something breaks, on the wire or in the generated Rust API.
    pub fn is_breaking(&self) -> bool {
        self.summary.breaking
    }

    /// The process exit code for this report.
    pub fn exit_code(&self, deny_breaking: bool) -> u8 {
        if deny_breaking && self.is_breaking() {
            EXIT_BREAKING
        } else {
            EXIT_OK
        }
    }

    /// The readable report: a summary, then one block per NSID, breaking changes first.
    pub fn to_text(&self) -> String {
        render::text(self)
    }

    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

/// The exit code of a whole run: [`EXIT_BAD_INPUT`] when the inputs were unusable.
pub fn exit_code(result: &Result<Report, BadInput>, deny_breaking: bool) -> u8 {
    match result {
        Ok(report) => report.exit_code(deny_breaking),
        Err(_) => EXIT_BAD_INPUT,
    }
}

/// One side of the comparison: a name for the report and its lexicon documents.
#[derive(Debug, Clone, Copy)]
pub struct Side<'a> {
    pub label: &'a str,
    pub sources: &'a [SourceFile],
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Also generate both crates and compare them ([`Report::generated`]).
    pub generated: bool,
    pub crate_options: crate::CrateOptions,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            generated: true,
            crate_options: crate::CrateOptions::default(),
        }
    }
}

/// The lexicons of one side or both do not load and check (or do not generate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadInput {
    /// `(side label, its problems)`, old side first.
    pub problems: Vec<(String, Diagnostics)>,
}

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (label, diagnostics)) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            writeln!(f, "the lexicons of {label} have problems:")?;
            write!(f, "{diagnostics}")?;
        }
        Ok(())
    }
}

impl std::error::Error for BadInput {}

/// Compares two sets of lexicon documents. Both must load and check cleanly.
pub fn diff(old: Side<'_>, new: Side<'_>, options: &Options) -> Result<Report, BadInput> {
    let old_documents = crate::load_and_check(old.sources);
    let new_documents = crate::load_and_check(new.sources);
    let (old_documents, new_documents) = match (old_documents, new_documents) {
        (Ok(o), Ok(n)) => (o, n),
        (o, n) => {
            let mut problems = Vec::new();
            if let Err(d) = o {
                problems.push((old.label.to_owned(), d));
            }
            if let Err(d) = n {
                problems.push((new.label.to_owned(), d));
            }
            return Err(BadInput { problems });
        }
    };

    let generated = if options.generated {
        let old_files = crate::generate(old.sources, &options.crate_options);
        let new_files = crate::generate(new.sources, &options.crate_options);
        match (old_files, new_files) {
            (Ok(o), Ok(n)) => Some(files::compare(&o, &n)),
            (o, n) => {
                let mut problems = Vec::new();
                if let Err(d) = o {
                    problems.push((old.label.to_owned(), d));
                }
                if let Err(d) = n {
                    problems.push((new.label.to_owned(), d));
                }
                return Err(BadInput { problems });
            }
        }
    } else {
        None
    };

    let old_ir = crate::ir::resolve(&old_documents);
    let new_ir = crate::ir::resolve(&new_documents);
    let mut rust = api::compare(&old_ir, &new_ir, &old_documents, &new_documents);

    let old_index = by_id(&old_documents);
    let new_index = by_id(&new_documents);
    let ids: BTreeSet<&str> = old_index.keys().chain(new_index.keys()).copied().collect();
    let mut summary = Summary::default();
    let mut documents = Vec::new();
    for id in ids {
        let (old_document, new_document) = (old_index.get(id), new_index.get(id));
        let (status, mut wire) = match (old_document, new_document) {
            (None, Some(_)) => (Status::Added, wire::added_document(id)),
            (Some(_), None) => (Status::Removed, wire::removed_document(id)),
            (Some(o), Some(n)) => {
                let changes = wire::compare(o, n, &old_index, &new_index);
                if same_json(o, n) && changes.is_empty() {
                    (Status::Unchanged, changes)
                } else {
                    (Status::Changed, changes)
                }
            }
            (None, None) => continue,
        };
        if status == Status::Changed && wire.is_empty() {
            wire.push(WireChange {
                level: Level::Warning,
                path: String::new(),
                rule: "unclassified",
                message: "the JSON changed, but nothing this diff classifies (the order of a \
                          list such as `required`, or fields the lexicon model does not read): \
                          review it by hand"
                    .into(),
            });
        }
        let mut rust = rust.remove(id).unwrap_or_default();
        wire.sort();
        wire.dedup();
        rust.sort();
        rust.dedup();
        match status {
            Status::Added => summary.documents.added += 1,
            Status::Removed => summary.documents.removed += 1,
            Status::Changed => summary.documents.changed += 1,
            Status::Unchanged => summary.documents.unchanged += 1,
        }
        wire.iter().for_each(|c| summary.wire.add(c.level));
        rust.iter().for_each(|c| summary.rust.add(c.level));
        if status != Status::Unchanged || !rust.is_empty() {
            documents.push(DocumentReport {
                nsid: id.to_owned(),
                status,
                wire,
                rust,
            });
        }
    }
    // API changes of modules no document names (none today; kept so nothing is dropped).
    for (id, mut changes) in rust {
        changes.sort();
        changes.iter().for_each(|c| summary.rust.add(c.level));
        documents.push(DocumentReport {
            nsid: id,
            status: Status::Unchanged,
            wire: Vec::new(),
            rust: changes,
        });
    }
    documents.sort_by(|a, b| a.worst().cmp(&b.worst()).then_with(|| a.nsid.cmp(&b.nsid)));
    summary.breaking = summary.wire.breaking > 0 || summary.rust.breaking > 0;
    Ok(Report {
        old: old.label.to_owned(),
        new: new.label.to_owned(),
        summary,
        documents,
        generated,
    })
}

fn by_id(documents: &[Document]) -> BTreeMap<&str, &Document> {
    documents.iter().map(|d| (d.id.as_str(), d)).collect()
}

/// The two documents hold the same JSON data (object key order and spacing do not count).
fn same_json(old: &Document, new: &Document) -> bool {
    if old.text == new.text {
        return true;
    }
    match (
        serde_json::from_str::<serde_json::Value>(&old.text),
        serde_json::from_str::<serde_json::Value>(&new.text),
    ) {
        (Ok(o), Ok(n)) => o == n,
        _ => false,
    }
}

//! Which documents make the crate: the bases' documents, then the folders' in order of
//! precedence, each id once.
//!
//! Real projects keep lexicons anywhere, beside other JSON, and ship copies of documents they
//! use. A file that is not a lexicon is skipped with a note. A copy of a document a base (or an
//! earlier folder) provides is left out with a note that says whether it differs, and how on
//! the wire. Two different documents with one id in the same folder are an error: nothing
//! says which one is meant.

use crate::diagnostics::{Diagnostic, Diagnostics, Severity};
use crate::diff::{Level, wire};
use crate::ir::Layer;
use crate::lexicon::{self, Document, SourceFile};
use crate::{Base, id_guess};
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// The documents of one generation: the bases' first, then this crate's own.
pub struct Selected {
    pub documents: Vec<Document>,
    /// Index in `documents` of the first document this crate generates.
    pub first_own: usize,
    /// The base each base document comes from, by id.
    pub layers: BTreeMap<String, Layer>,
    /// Ids of documents that failed to load (refs into them are not reported again).
    pub failed: BTreeSet<String>,
    pub diagnostics: Diagnostics,
}

/// Who provides a document id.
#[derive(Clone, Copy)]
enum Provider {
    Base(usize),
    /// A folder (its index in the inputs) and the document's index in `documents`.
    Folder(usize, usize),
}

/// A copy left out, to be compared with the document that was kept.
struct Skipped {
    copy: Document,
    kept: usize,
    by: String,
}

pub fn select(inputs: &[&[SourceFile]], bases: &[Base]) -> Selected {
    let mut diagnostics = Diagnostics::default();
    let mut documents = Vec::new();
    let mut layers = BTreeMap::new();
    let mut providers: BTreeMap<String, Provider> = BTreeMap::new();
    check_chain(bases, &mut diagnostics);
    for (index, base) in bases.iter().enumerate() {
        let manifest = &base.manifest;
        for entry in &manifest.documents {
            let source = SourceFile {
                file: PathBuf::from(format!("{}:{}", manifest.package, entry.id)),
                relative_path: None,
                text: entry.lexicon.clone(),
            };
            let Some(document) = lexicon::load(&source, &mut diagnostics) else {
                continue;
            };
            if providers.contains_key(&document.id) {
                diagnostics.push(Diagnostic::in_file(
                    source.file,
                    format!("two base crates provide `{}`", document.id),
                ));
                continue;
            }
            providers.insert(document.id.clone(), Provider::Base(index));
            layers.insert(
                document.id.clone(),
                Layer {
                    index,
                    lib: manifest.lib.clone(),
                },
            );
            documents.push(document);
        }
    }
    let first_own = documents.len();
    let mut failed = BTreeSet::new();
    let mut skipped = Vec::new();
    for (folder, sources) in inputs.iter().enumerate() {
        for source in *sources {
            if let Some(reason) = not_a_lexicon(&source.text) {
                diagnostics.push(Diagnostic {
                    severity: Severity::Note,
                    ..Diagnostic::in_file(
                        source.file.clone(),
                        format!("skipped: {reason}, so not a lexicon document"),
                    )
                });
                continue;
            }
            let Some(document) = lexicon::load(source, &mut diagnostics) else {
                if let Some(id) = id_guess(source) {
                    failed.insert(id);
                }
                continue;
            };
            match providers.get(&document.id).copied() {
                None => {
                    providers.insert(
                        document.id.clone(),
                        Provider::Folder(folder, documents.len()),
                    );
                    documents.push(document);
                }
                Some(Provider::Base(base)) => {
                    let kept = index_of(&documents, &document.id);
                    let by = format!("the base crate {}", bases[base].manifest.package);
                    skipped.push(Skipped {
                        copy: document,
                        kept,
                        by,
                    });
                }
                Some(Provider::Folder(earlier, kept)) if earlier < folder => {
                    let by = format!(
                        "{} (an earlier lexicon folder)",
                        documents[kept].file.display()
                    );
                    skipped.push(Skipped {
                        copy: document,
                        kept,
                        by,
                    });
                }
                Some(Provider::Folder(_, kept)) => {
                    if same_content(&documents[kept], &document) {
                        let by = format!("{}, an identical copy", documents[kept].file.display());
                        skipped.push(Skipped {
                            copy: document,
                            kept,
                            by,
                        });
                    } else {
                        diagnostics.push(two_documents(&documents[kept], &document));
                    }
                }
            }
        }
    }
    let index: wire::Index = documents.iter().map(|d| (d.id.as_str(), d)).collect();
    for skip in &skipped {
        diagnostics.push(skipped_note(skip, &documents[skip.kept], &index));
    }
    Selected {
        documents,
        first_own,
        layers,
        failed,
        diagnostics,
    }
}

fn index_of(documents: &[Document], id: &str) -> usize {
    documents
        .iter()
        .position(|d| d.id == id)
        .expect("a provided id has a document")
}

/// Each base must come after the bases it was generated on, with the same digests.
fn check_chain(bases: &[Base], diagnostics: &mut Diagnostics) {
    for (index, base) in bases.iter().enumerate() {
        let manifest = &base.manifest;
        for wanted in &manifest.bases {
            let given = bases[..index]
                .iter()
                .find(|b| b.manifest.package == wanted.package);
            let file = format!("{}:{}", manifest.package, crate::manifest::FILE_NAME);
            let problem = match given {
                None => format!(
                    "{} is layered on {}: give that crate as a base too, before it",
                    manifest.package, wanted.package
                ),
                Some(b) if b.manifest.digest != wanted.digest => format!(
                    "{} was generated on another version of {} (its lexicons changed since): \
                     regenerate {} first",
                    manifest.package, wanted.package, manifest.package
                ),
                Some(_) => continue,
            };
            diagnostics.push(Diagnostic::in_file(file, problem));
        }
    }
}

/// Why a file is not a lexicon document, if it is not: lexicons are JSON objects with a
/// `lexicon` key (or at least an `id` and `defs`).
fn not_a_lexicon(text: &str) -> Option<&'static str> {
    #[derive(Deserialize)]
    struct Probe {
        lexicon: Option<IgnoredAny>,
        id: Option<IgnoredAny>,
        defs: Option<IgnoredAny>,
    }
    match serde_json::from_str::<Probe>(text) {
        Ok(p) if p.lexicon.is_some() || (p.id.is_some() && p.defs.is_some()) => None,
        Ok(_) => Some("it has no `lexicon` key"),
        // Broken JSON that looks like a lexicon is reported where it breaks.
        Err(_) if text.contains("\"lexicon\"") => None,
        Err(e) if e.is_data() => Some("it is not a JSON object"),
        Err(_) => Some("it is not JSON"),
    }
}

/// The same JSON, not counting the `$type` of an exported lexicon record.
fn same_content(a: &Document, b: &Document) -> bool {
    let value = |d: &Document| {
        let mut value: serde_json::Value = serde_json::from_str(&d.text).unwrap_or_default();
        if let Some(object) = value.as_object_mut() {
            object.remove("$type");
        }
        value
    };
    value(a) == value(b)
}

fn two_documents(first: &Document, second: &Document) -> Diagnostic {
    let at = |d: &Document| {
        let position = crate::locate::locate(&d.text, "/id")
            .map(|(line, column)| format!(":{line}:{column}"))
            .unwrap_or_default();
        format!("{}{position}", d.file.display())
    };
    Diagnostic {
        position: crate::locate::locate(&second.text, "/id"),
        pointer: "/id".into(),
        def: Some(second.id.clone()),
        ..Diagnostic::in_file(
            second.file.clone(),
            format!(
                "`{}` is also defined, differently, by {}: keep one (identical copies are fine)",
                second.id,
                at(first)
            ),
        )
    }
}

/// One line: which copy was left out, who provides the document, and how they differ.
fn skipped_note(skip: &Skipped, kept: &Document, index: &wire::Index) -> Diagnostic {
    let copy = &skip.copy;
    let verdict = if same_content(kept, copy) {
        "is identical".to_owned()
    } else {
        let changes = wire::compare(kept, copy, index, index);
        let count = |level| changes.iter().filter(|c| c.level == level).count();
        let (breaking, warnings, compatible) = (
            count(Level::Breaking),
            count(Level::Warning),
            count(Level::Compatible),
        );
        let worst = if breaking > 0 {
            "breaking on the wire"
        } else if warnings > 0 {
            "compatible on the wire, with warnings"
        } else {
            "compatible on the wire"
        };
        format!(
            "differs, {worst} (from the kept one to this copy: {breaking} breaking, {warnings} \
             warning, {compatible} compatible; `cargo xtask diff` lists them)"
        )
    };
    Diagnostic {
        severity: Severity::Note,
        def: Some(copy.id.clone()),
        ..Diagnostic::in_file(
            copy.file.clone(),
            format!(
                "skipped: `{}` is provided by {}; this copy {verdict}",
                copy.id, skip.by
            ),
        )
    }
}

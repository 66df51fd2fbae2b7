//! Lexicon documents in, Rust source files out.
//!
//! The pipeline, one module per pass:
//! 1. [`lexicon`]: load each JSON document into a typed model (serde), locating JSON errors;
//! 2. [`lint`]: check the spec's rules across all documents, collecting every problem;
//! 3. [`ir`]: resolve refs, name everything, hoist inline types, box cycles;
//! 4. [`emit`]: turn the IR into formatted files of a self-contained crate.
//!
//! [`generate`] runs them all; it does no I/O. [`read_lexicon_dir`] reads input for callers.

pub mod diagnostics;
pub mod diff;
pub mod emit;
pub mod ir;
pub mod lexicon;
pub mod lint;
pub mod locate;
pub mod naming;
pub mod sync;

pub use diagnostics::{Diagnostic, Diagnostics};
pub use emit::CrateOptions;
pub use lexicon::SourceFile;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The generated crate: file contents keyed by path relative to the crate folder.
pub type Files = BTreeMap<PathBuf, String>;

/// Loads and checks documents; returns them only when no document has a problem.
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
    if diagnostics.is_empty() {
        Ok(documents)
    } else {
        Err(diagnostics.sorted())
    }
}

/// Runs the whole pipeline.
pub fn generate(sources: &[SourceFile], options: &CrateOptions) -> Result<Files, Diagnostics> {
    let documents = load_and_check(sources)?;
    let ir = ir::resolve(&documents);
    emit::emit(&ir, options).map_err(|message| {
        Diagnostics(vec![Diagnostic {
            file: PathBuf::from("<generated>"),
            position: None,
            pointer: String::new(),
            def: None,
            message,
        }])
    })
}

/// The id a document that failed to load probably has, so refs into it are not reported twice.
fn id_guess(source: &SourceFile) -> Option<String> {
    locate::top_level_string(&source.text, "id")
}

/// Reads every `*.json` file below `dir`, sorted by path, each named `dir/relative/path`.
pub fn read_lexicon_dir(dir: &Path) -> std::io::Result<Vec<SourceFile>> {
    let mut relative_paths = Vec::new();
    collect_json(dir, Path::new(""), &mut relative_paths)?;
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

fn collect_json(root: &Path, relative: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let dir = root.join(relative);
    for entry in std::fs::read_dir(&dir)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?
    {
        let entry = entry?;
        let path = relative.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            collect_json(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}

//! What the fuzz targets share: how fuzz input becomes lexicon documents, and a mutator that
//! edits documents as JSON trees instead of as bytes.
//!
//! Input format: one or several documents separated by NUL bytes (JSON text never contains a raw
//! NUL, so the separator cannot clash with a document). Each document is named after its `id`
//! the way `codegen::read_lexicon_dir` would find it (`a/b/c.json`), so the check pass sees the
//! same shape of input as from a lexicon folder.

pub mod json;
pub mod mutate;

use codegen::SourceFile;
use std::path::PathBuf;

/// Inputs with more documents than this are cut: more only slows the fuzzer down.
pub const MAX_DOCUMENTS: usize = 16;

/// The documents in one fuzz input.
pub fn sources(data: &[u8]) -> Vec<SourceFile> {
    data.split(|&b| b == 0)
        .take(MAX_DOCUMENTS)
        .enumerate()
        .map(|(i, bytes)| {
            let text = String::from_utf8_lossy(bytes).into_owned();
            let relative_path = codegen::locate::top_level_string(&text, "id")
                .map(|id| PathBuf::from(format!("{}.json", id.replace('.', "/"))));
            SourceFile {
                file: PathBuf::from(format!("input{i}.json")),
                relative_path,
                text,
            }
        })
        .collect()
}

/// Runs the whole pipeline on one input. With `strict`, an emit failure on documents that
/// passed the check pass, or two runs that differ, also count as crashes: both are generator
/// bugs, if not panics.
pub fn run(data: &[u8], strict: bool) {
    let sources = sources(data);
    let options = codegen::CrateOptions::default();
    let result = codegen::generate(&sources, &options);
    if !strict {
        return;
    }
    if let Err(diagnostics) = &result
        && let Some(emit_error) = diagnostics
            .iter()
            .find(|d| d.file.as_os_str() == "<generated>")
    {
        panic!("checked documents did not emit: {emit_error}");
    }
    assert!(
        codegen::generate(&sources, &options) == result,
        "two runs on the same input gave different results"
    );
}

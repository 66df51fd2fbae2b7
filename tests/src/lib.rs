//! Support code shared by the integration tests.

pub mod compat;
pub mod http;
pub mod pds;

use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_path_buf()
}

/// Generates the crate from the repository's own `lexicons/`, as `cargo xtask gen` does.
pub fn generate_repo_lexicons() -> codegen::Files {
    let sources =
        codegen::read_lexicon_dir(&repo_root().join("lexicons")).expect("lexicons/ is readable");
    codegen::generate(&sources, &codegen::CrateOptions::default())
        .unwrap_or_else(|d| panic!("the bundled lexicons have problems:\n{d}"))
}

/// Generates the fixture crate from `tests/fixtures/lexicons` (one small lexicon per construct).
pub fn generate_fixtures() -> codegen::Files {
    let sources = codegen::read_lexicon_dir(&repo_root().join("tests/fixtures/lexicons"))
        .expect("fixtures are readable");
    let options = codegen::CrateOptions {
        name: "lexicon-fixtures".into(),
        version: "0.1.0".into(),
    };
    codegen::generate(&sources, &options)
        .unwrap_or_else(|d| panic!("the fixture lexicons have problems:\n{d}"))
}

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

/// A 1x1 PNG.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x60, 0x00, 0x02, 0x00,
    0x00, 0x05, 0x00, 0x01, 0x7a, 0x5e, 0xab, 0x3f, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44,
    0xae, 0x42, 0x60, 0x82,
];

//! Builds a generated crate for real: written under the workspace's `target/test-crates/`,
//! compiled by cargo with the workspace's lock file (same dependency versions, no network),
//! into one target folder shared by every such test so the dependencies build once.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace's target folder.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// Writes `files` (a generated crate) plus `extra` files (an example program, ...) into
/// `target/test-crates/<name>`, replacing what an earlier run left there.
pub fn write_crate(name: &str, files: &codegen::Files, extra: &[(&str, &str)]) -> PathBuf {
    let dir = target_dir().join("test-crates").join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    }
    let extra = extra
        .iter()
        .map(|(path, text)| (PathBuf::from(path), *text));
    for (path, text) in files
        .iter()
        .map(|(p, t)| (p.clone(), t.as_str()))
        .chain(extra)
    {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("files sit in a folder"))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    std::fs::copy(&lock, dir.join("Cargo.lock"))
        .unwrap_or_else(|e| panic!("{}: {e}", lock.display()));
    dir
}

/// Runs `cargo <args>` on the crate in `dir`, with warnings denied; returns its stdout, or
/// panics with everything cargo said.
pub fn cargo(dir: &Path, args: &[&str]) -> String {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .arg("--offline")
        .arg("--quiet")
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", target_dir().join("test-crates/target"))
        .env("RUSTFLAGS", "-D warnings")
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "cargo {} failed on {}:\n{stdout}\n{}",
        args.join(" "),
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

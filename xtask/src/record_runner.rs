//! The program that checks the interop record-data vectors against the generated
//! `example.lexicon.record` type. `cargo xtask conformance` writes it next to the generated
//! conformance crate (it can only be compiled once that crate exists) and runs it.

/// `Cargo.toml` of the runner.
pub const MANIFEST: &str = r#"[package]
name = "record-data-runner"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
lexicon-conformance = { path = "../crate" }
serde_json = "1"
"#;

/// `src/main.rs` of the runner: every valid record reads, validates and reads back equal
/// after being written; every invalid record fails to read or to validate.
pub const MAIN: &str = r#"use lexicon_conformance::example::lexicon::record::Record;
use lexicon_conformance::runtime::Validate;
use serde_json::Value;

fn check(data: &Value) -> Result<(), String> {
    let record: Record = serde_json::from_value(data.clone()).map_err(|e| format!("does not read: {e}"))?;
    record.validate().map_err(|e| format!("does not validate: {e}"))?;
    let written = serde_json::to_value(&record).map_err(|e| format!("does not write: {e}"))?;
    let again: Record = serde_json::from_value(written.clone()).map_err(|e| format!("does not read back: {e}"))?;
    if again != record {
        return Err(format!("reads back different: {written}"));
    }
    Ok(())
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: record-data-runner <interop-tests/lexicon dir>");
    let (mut passed, mut failed) = (0usize, 0usize);
    for (file, valid) in [("record-data-valid.json", true), ("record-data-invalid.json", false)] {
        let path = std::path::Path::new(&dir).join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let cases: Vec<Value> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (mut file_passed, mut file_failed) = (0usize, 0usize);
        for case in &cases {
            let name = case["name"].as_str().unwrap_or("?");
            let outcome = check(&case["data"]);
            match (valid, &outcome) {
                (true, Ok(())) | (false, Err(_)) => file_passed += 1,
                (true, Err(why)) => {
                    file_failed += 1;
                    println!("  valid record {name:?} {why}");
                }
                (false, Ok(())) => {
                    file_failed += 1;
                    println!("  invalid record {name:?} was accepted");
                }
            }
        }
        println!("{file}: {file_passed} passed, {file_failed} failed");
        passed += file_passed;
        failed += file_failed;
    }
    println!("record-data: {passed} passed, {failed} failed");
}
"#;

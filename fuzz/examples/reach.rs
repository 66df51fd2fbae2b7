//! How far the inputs of a fuzz corpus get through the pipeline:
//! `cargo run --release --example reach -- DIR...` (from `fuzz/`).
//!
//! A corpus whose inputs all stop at the loader only tests JSON parsing; this tells how many
//! pass the check pass and reach resolve and emit, and lists any that fail to emit.

use std::collections::BTreeMap;

fn main() {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for dir in std::env::args().skip(1) {
        for entry in std::fs::read_dir(&dir).expect("a corpus folder") {
            let path = entry.expect("a folder entry").path();
            let data = std::fs::read(&path).expect("a corpus file");
            let sources = codegen_fuzz::sources(&data);
            let stage = match codegen::load_and_check(&sources) {
                Err(diagnostics)
                    if diagnostics
                        .iter()
                        .all(|d| d.message.starts_with("malformed")) =>
                {
                    "stopped: malformed JSON"
                }
                Err(_) => "stopped: diagnostics",
                Ok(documents) => {
                    let ir = codegen::ir::resolve(&documents);
                    match codegen::emit::emit(&ir, &codegen::CrateOptions::default()) {
                        Ok(_) => "generated",
                        Err(message) => {
                            println!("{}: emit failed: {message}", path.display());
                            "emit failed"
                        }
                    }
                }
            };
            *counts.entry(stage).or_default() += 1;
        }
    }
    for (stage, count) in counts {
        println!("{count:>7}  {stage}");
    }
}

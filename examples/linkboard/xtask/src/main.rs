//! `cargo run -p linkboard-xtask [-- --check]`: regenerate the linkboard crates.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let check = std::env::args().any(|a| a == "--check");
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut stale = false;
    for layer in linkboard_xtask::layers(&app) {
        match linkboard_xtask::generate(&layer, check) {
            Ok(report) => {
                report.lines.iter().for_each(|line| eprintln!("{line}"));
                stale |= check && !report.stale.is_empty();
            }
            Err(message) => {
                eprintln!("{message}");
                return ExitCode::FAILURE;
            }
        }
    }
    if stale {
        eprintln!("stale: run `cargo run -p linkboard-xtask`");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

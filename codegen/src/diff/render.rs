//! The readable report.

use super::{DocumentReport, Level, LevelCounts, Report, Status};
use std::fmt::Write;

pub fn text(report: &Report) -> String {
    let mut out = String::new();
    let s = &report.summary;
    let _ = writeln!(out, "lexicon diff: {} -> {}", report.old, report.new);
    let d = &s.documents;
    let _ = writeln!(
        out,
        "documents: {} added, {} removed, {} changed, {} unchanged",
        d.added, d.removed, d.changed, d.unchanged
    );
    let _ = writeln!(out, "wire:      {}", counts(&s.wire));
    let _ = writeln!(
        out,
        "Rust API:  {} breaking, {} compatible",
        s.rust.breaking, s.rust.compatible
    );
    let verdict = match (s.wire.breaking > 0, s.rust.breaking > 0) {
        (true, true) => "BREAKING on the wire and in the Rust API",
        (true, false) => "BREAKING on the wire (the Rust API stays compatible)",
        (false, true) => "BREAKING in the Rust API (the wire stays compatible)",
        (false, false) if s.wire.warning > 0 => "compatible, with warnings to read",
        (false, false) => "compatible",
    };
    let _ = writeln!(out, "verdict:   {verdict}");

    for document in &report.documents {
        out.push('\n');
        document_block(&mut out, document);
    }

    if let Some(crate_diff) = &report.generated {
        out.push('\n');
        let _ = writeln!(
            out,
            "generated crate (what `cargo xtask gen` would change): {} files added, {} removed, \
             {} changed, {} unchanged; +{} -{} lines",
            crate_diff.added.len(),
            crate_diff.removed.len(),
            crate_diff.changed.len(),
            crate_diff.unchanged,
            crate_diff.lines_added,
            crate_diff.lines_removed
        );
        for (what, files) in [
            ("removed", &crate_diff.removed),
            ("changed", &crate_diff.changed),
            ("added", &crate_diff.added),
        ] {
            for file in files {
                let _ = match (file.lines_added, file.lines_removed) {
                    (a, 0) => writeln!(out, "  {what:<8} {} (+{a})", file.path),
                    (0, r) => writeln!(out, "  {what:<8} {} (-{r})", file.path),
                    (a, r) => writeln!(out, "  {what:<8} {} (+{a} -{r})", file.path),
                };
            }
        }
    }
    out
}

fn counts(c: &LevelCounts) -> String {
    format!(
        "{} breaking, {} warning{}, {} compatible",
        c.breaking,
        c.warning,
        if c.warning == 1 { "" } else { "s" },
        c.compatible
    )
}

fn document_block(out: &mut String, document: &DocumentReport) {
    // A new document with nothing else to say fits on one line.
    if document.status == Status::Added
        && document.wire.iter().all(|c| c.rule == "document-added")
        && document.rust.iter().all(|c| c.rule == "module-added")
    {
        let module = document
            .rust
            .first()
            .map(|c| format!(": module `{}`", c.item))
            .unwrap_or_default();
        let _ = writeln!(out, "{} (added){module}", document.nsid);
        return;
    }
    let worst = |levels: &mut dyn Iterator<Item = Level>| levels.min().map(Level::name);
    let mut verdict = vec![document.status.name().to_owned()];
    if let Some(level) = worst(&mut document.wire.iter().map(|c| c.level)) {
        verdict.push(format!("wire {level}"));
    }
    if let Some(level) = worst(&mut document.rust.iter().map(|c| c.level)) {
        verdict.push(format!("Rust API {level}"));
    }
    let _ = writeln!(out, "{} ({})", document.nsid, verdict.join("; "));
    if !document.wire.is_empty() {
        let _ = writeln!(out, "  wire:");
        for change in &document.wire {
            let path = if change.path.is_empty() {
                "/"
            } else {
                &change.path
            };
            let _ = writeln!(
                out,
                "    {:<10}  {path}: {}",
                change.level.name(),
                change.message
            );
        }
    }
    if !document.rust.is_empty() {
        let _ = writeln!(out, "  Rust API:");
        for change in &document.rust {
            let _ = writeln!(
                out,
                "    {:<10}  {}: {}",
                change.level.name(),
                change.item,
                change.message
            );
        }
    }
}

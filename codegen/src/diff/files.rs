//! The generated crate of both sides compared file by file: what `cargo xtask gen` would write.
//!
//! Lines are compared as multisets (how often each line occurs), not aligned: fast on the
//! whole upstream set, exact for added and removed lines, and a moved line counts as unchanged.

use crate::Files;
use serde::Serialize;
use std::collections::HashMap;

/// One file and its line counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileChange {
    /// Relative to the crate folder (`src/app/bsky/feed/post.rs`).
    pub path: String,
    pub lines_added: usize,
    pub lines_removed: usize,
}

/// What regenerating changes in the crate. Every list is sorted by path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CrateDiff {
    pub added: Vec<FileChange>,
    pub removed: Vec<FileChange>,
    pub changed: Vec<FileChange>,
    pub unchanged: usize,
    pub lines_added: usize,
    pub lines_removed: usize,
}

impl CrateDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// Compares the files generated from the old and the new side.
pub fn compare(old: &Files, new: &Files) -> CrateDiff {
    let mut diff = CrateDiff::default();
    for (path, text) in new {
        let shown = path.display().to_string();
        match old.get(path) {
            None => diff.added.push(FileChange {
                path: shown,
                lines_added: text.lines().count(),
                lines_removed: 0,
            }),
            Some(before) if before == text => diff.unchanged += 1,
            Some(before) => {
                let (lines_added, lines_removed) = line_counts(before, text);
                diff.changed.push(FileChange {
                    path: shown,
                    lines_added,
                    lines_removed,
                });
            }
        }
    }
    for (path, text) in old {
        if !new.contains_key(path) {
            diff.removed.push(FileChange {
                path: path.display().to_string(),
                lines_added: 0,
                lines_removed: text.lines().count(),
            });
        }
    }
    for file in diff.added.iter().chain(&diff.removed).chain(&diff.changed) {
        diff.lines_added += file.lines_added;
        diff.lines_removed += file.lines_removed;
    }
    diff
}

/// `(lines only in new, lines only in old)`, counting repeated lines.
pub fn line_counts(old: &str, new: &str) -> (usize, usize) {
    let mut balance: HashMap<&str, isize> = HashMap::new();
    for line in new.lines() {
        *balance.entry(line).or_default() += 1;
    }
    for line in old.lines() {
        *balance.entry(line).or_default() -= 1;
    }
    let added = balance
        .values()
        .filter(|n| **n > 0)
        .map(|n| n.unsigned_abs());
    let removed = balance
        .values()
        .filter(|n| **n < 0)
        .map(|n| n.unsigned_abs());
    (added.sum(), removed.sum())
}

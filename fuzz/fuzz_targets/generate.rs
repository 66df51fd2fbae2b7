//! Lexicon documents (arbitrary bytes, or real documents mutated as JSON trees) through the
//! whole pipeline: load, check, resolve, emit. Any panic is a bug: `codegen` must answer every
//! input with files or diagnostics.
//!
//! `CODEGEN_FUZZ_STRICT=1` also fails on documents that pass the check pass but do not emit,
//! and on two runs that differ (see `codegen_fuzz::run`).

#![no_main]

use libfuzzer_sys::{fuzz_crossover, fuzz_mutator, fuzz_target, fuzzer_mutate};
use std::sync::OnceLock;

fn strict() -> bool {
    static STRICT: OnceLock<bool> = OnceLock::new();
    *STRICT.get_or_init(|| std::env::var_os("CODEGEN_FUZZ_STRICT").is_some_and(|v| v == "1"))
}

fuzz_target!(|data: &[u8]| {
    codegen_fuzz::run(data, strict());
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    // A quarter of the time, libFuzzer's own byte-level mutations (they find syntax-level
    // problems and keep the corpus diverse); otherwise edit the documents as JSON.
    if seed.is_multiple_of(4) {
        return fuzzer_mutate(data, size, max_size);
    }
    match codegen_fuzz::mutate::mutate(&data[..size], u64::from(seed)) {
        Some(out) if out.len() <= max_size => {
            data[..out.len()].copy_from_slice(&out);
            out.len()
        }
        _ => fuzzer_mutate(data, size, max_size),
    }
});

fuzz_crossover!(|a: &[u8], b: &[u8], out: &mut [u8], seed: u32| {
    let joined = codegen_fuzz::mutate::crossover(a, b, u64::from(seed));
    let n = joined.len().min(out.len());
    out[..n].copy_from_slice(&joined[..n]);
    n
});

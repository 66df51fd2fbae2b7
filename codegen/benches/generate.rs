//! How long generating the whole upstream lexicon set takes, from disk to formatted file
//! contents, and how that time splits over the passes.
//!
//! `cargo bench -p codegen` (add `-- --warm-up-time 2 --measurement-time 10` for a steadier
//! figure). The input is `../shared/corpus/atproto-lexicons/lexicons` beside the repository
//! (402 documents), or the folder named by `CODEGEN_BENCH_LEXICONS`. Without it the bench says
//! so and exits without measuring.
//!
//! - `generate/whole`: `read_lexicon_dir` + `generate`, the figure the target (< 1 s) is about;
//! - `pass/read`, `pass/load`, `pass/check`, `pass/resolve`, `pass/emit`: each pass alone, on
//!   the previous pass's output (computed once, outside the measurement).

use codegen::{CrateOptions, read_lexicon_dir};
use criterion::{Criterion, criterion_group};
use std::collections::BTreeSet;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

fn lexicon_dir() -> PathBuf {
    match std::env::var_os("CODEGEN_BENCH_LEXICONS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/corpus/atproto-lexicons/lexicons"),
    }
}

fn benches(c: &mut Criterion, dir: &std::path::Path) {
    let options = CrateOptions::default();
    let sources = read_lexicon_dir(dir).expect("the lexicon folder reads");
    let documents = match codegen::load_and_check(&sources) {
        Ok(documents) => documents,
        Err(diagnostics) => {
            for diagnostic in diagnostics.iter().take(20) {
                eprintln!("{diagnostic}");
            }
            eprintln!(
                "the benchmark's lexicons do not pass the check pass ({} problems)",
                diagnostics.len()
            );
            std::process::exit(1);
        }
    };
    let ir = codegen::ir::resolve(&documents);
    let files = codegen::emit::emit(&ir, &options).expect("the upstream set emits");
    eprintln!(
        "{} documents in {} -> {} files, {} bytes",
        sources.len(),
        dir.display(),
        files.len(),
        files.values().map(String::len).sum::<usize>()
    );

    let mut group = c.benchmark_group("generate");
    // One iteration takes a good part of a second: ten samples are plenty.
    group.sample_size(10);
    group.bench_function("whole", |b| {
        b.iter(|| {
            let sources = read_lexicon_dir(black_box(dir)).expect("reads");
            codegen::generate(&sources, &options).expect("generates")
        })
    });
    group.finish();

    let mut group = c.benchmark_group("pass");
    group.sample_size(10);
    group.bench_function("read", |b| {
        b.iter(|| read_lexicon_dir(black_box(dir)).expect("reads"))
    });
    group.bench_function("load", |b| {
        b.iter(|| {
            let mut diagnostics = codegen::Diagnostics::default();
            black_box(&sources)
                .iter()
                .filter_map(|source| codegen::lexicon::load(source, &mut diagnostics))
                .collect::<Vec<_>>()
        })
    });
    group.bench_function("check", |b| {
        b.iter(|| codegen::lint::check(black_box(&documents), &BTreeSet::new()))
    });
    group.bench_function("resolve", |b| {
        b.iter(|| codegen::ir::resolve(black_box(&documents)))
    });
    group.bench_function("emit", |b| {
        b.iter(|| codegen::emit::emit(black_box(&ir), &options).expect("emits"))
    });
    group.finish();
}

fn all(c: &mut Criterion) {
    let dir = lexicon_dir();
    if !dir.is_dir() {
        // Checked in `main` already; kept so the group never runs without its input.
        return;
    }
    benches(c, &dir);
}

criterion_group! {
    name = generate;
    config = Criterion::default().measurement_time(Duration::from_secs(10));
    targets = all
}

fn main() {
    let dir = lexicon_dir();
    if !dir.is_dir() {
        eprintln!(
            "skipping the codegen benchmark: no lexicon folder at {} (the shared corpus is not \
             beside the repository; set CODEGEN_BENCH_LEXICONS to a folder of lexicons)",
            dir.display()
        );
        return;
    }
    generate();
    Criterion::default().configure_from_args().final_summary();
}

//! Firehose benches: the same `com.atproto.sync.subscribeRepos` frames decoded with our
//! generated types and as generic `ipld_core::ipld::Ipld` values (`serde_ipld_dagcbor`), in
//! MB/s (10^6 bytes of frames per second); `cargo xtask bench-frames` adds frames per second.
//!
//! - `frame`: the frame alone (header and body). Ours: `Message::read_frame`. Baseline: two
//!   `Ipld` values read back to back.
//! - `records`: what an indexer does. Both: the frame, the CAR slice split with every block's
//!   SHA-256 checked, each created or updated record decoded (see `perf::indexer`). Ours: typed
//!   message, `Car::read`, `AnyRecord::from_cbor`. Baseline: `Ipld` frame, a CAR reader written
//!   the same way, `Ipld` records; and the baseline again with our `Car::read`.
//!
//! One iteration decodes every frame of the mix once. Before timing, the setup checks that
//! every frame reads both ways, every block matches its CID and every record reads as its typed
//! record. Then, besides criterion's runs (one benchmark after the other), it times passes of
//! each side alternately and keeps the median ratio: on a machine shared with other work, load
//! changes between two criterion runs seconds apart, much less between two passes back to
//! back. Run with `cargo xtask bench-frames` (it regenerates our crate first).

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use perf::indexer::{self, Decoder};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Rounds of alternating passes.
const ROUNDS: usize = 50;

/// Times `ROUNDS` rounds of one pass per side (the order turning each round) and gives, per
/// side, the median of its per-round ratio to the baseline (baseline time / its time).
fn interleaved(frames: &[Vec<u8>], sides: &[Decoder]) -> serde_json::Value {
    let pass = |decode: fn(&[u8])| {
        let start = Instant::now();
        for frame in frames {
            decode(frame);
        }
        start.elapsed().as_nanos() as f64
    };
    // One pass each first, to warm caches.
    for (_, decode) in sides {
        pass(*decode);
    }
    let mut times = vec![Vec::with_capacity(ROUNDS); sides.len()];
    for round in 0..ROUNDS {
        for i in 0..sides.len() {
            let side = (i + round) % sides.len();
            times[side].push(pass(sides[side].1));
        }
    }
    let mut out = serde_json::Map::new();
    for (side, (name, _)) in sides.iter().enumerate() {
        let mut ratios: Vec<f64> = (0..ROUNDS).map(|r| times[0][r] / times[side][r]).collect();
        ratios.sort_by(f64::total_cmp);
        out.insert(
            (*name).into(),
            serde_json::json!({ "ratio": ratios[ROUNDS / 2] }),
        );
    }
    serde_json::Value::Object(out)
}

/// Writes the frames (each as a 4-byte big-endian length and its bytes) and a description of
/// the mix where people and `cargo xtask bench-frames` can read them.
fn save(
    frames: &[Vec<u8>],
    stats: &perf::firehose::Stats,
    records: usize,
    interleaved: serde_json::Value,
) {
    let dir = std::env::var_os("PERF_DATA_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../target/perf/data").into());
    std::fs::create_dir_all(&dir).expect("create the data folder");
    let mut all = Vec::new();
    for frame in frames {
        all.extend_from_slice(&(frame.len() as u32).to_be_bytes());
        all.extend_from_slice(frame);
    }
    std::fs::write(dir.join("firehose.frames"), all).expect("write the frames");
    let description = serde_json::json!({
        "frames": frames.len(),
        "bytes": stats.bytes,
        "records": records,
        "summary": stats.summary(),
        "interleaved": interleaved,
        "rounds": ROUNDS,
    });
    std::fs::write(dir.join("firehose.json"), description.to_string()).expect("write the mix");
}

fn frames(c: &mut Criterion) {
    let firehose = perf::firehose::frames();
    let frames = &firehose.frames;
    let records = match indexer::check(frames) {
        Ok(records) => records,
        Err(e) => panic!("the frames do not read: {e}"),
    };
    eprintln!(
        "{}\n{records} records decoded per pass",
        firehose.stats.summary()
    );
    let alternating = serde_json::json!({
        "frame": interleaved(frames, indexer::FRAME),
        "records": interleaved(frames, indexer::RECORDS),
    });
    eprintln!("alternating passes, median ratio to ipld: {alternating}");
    save(frames, &firehose.stats, records, alternating);

    let bytes = firehose.stats.bytes as u64;
    let configure = |group: &mut criterion::BenchmarkGroup<_>| {
        group.throughput(Throughput::BytesDecimal(bytes));
        // An iteration is a few milliseconds: flat sampling, as criterion advises.
        group.sampling_mode(SamplingMode::Flat);
        group.sample_size(30);
        group.measurement_time(Duration::from_secs(8));
    };

    for (group_name, sides) in [("frame", indexer::FRAME), ("records", indexer::RECORDS)] {
        let mut group = c.benchmark_group(group_name);
        configure(&mut group);
        for (name, decode) in sides {
            group.bench_function(*name, |b| {
                b.iter(|| {
                    for frame in black_box(frames) {
                        decode(frame);
                    }
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, frames);
criterion_main!(benches);

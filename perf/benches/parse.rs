//! Parse benches: the same JSON into our generated types, atrium-api 0.26.0's and
//! `serde_json::Value`, in MB/s (10^6 bytes of JSON per second).
//!
//! Before timing anything, the setup checks that every parser accepts the data, that our
//! values validate cleanly and that writing them back gives the same JSON (lossless).
//! Besides criterion's runs (one benchmark after the other), it times rounds of one parse per
//! side back to back and keeps the median of each round's ratio, which load on a shared
//! machine moves far less (`target/perf/data/parse-alternating.json`).
//! Run with `cargo xtask bench-parse` (it regenerates our crate first).

use atproto_api::runtime::Validate;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Instant;

/// Rounds of alternating parses.
const ROUNDS: usize = 201;

/// A parser under test: its name and one parse of the input.
type Side = (&'static str, fn(&str));

/// Times `ROUNDS` rounds of `batch` parses per side (the order turning each round) and gives
/// each side's median ratio to `Value` (the last side): its time over this side's.
fn alternating(json: &str, batch: usize, sides: &[Side]) -> serde_json::Value {
    let pass = |parse: fn(&str)| {
        let start = Instant::now();
        for _ in 0..batch {
            parse(black_box(json));
        }
        start.elapsed().as_nanos() as f64
    };
    for (_, parse) in sides {
        pass(*parse);
    }
    let mut times = vec![Vec::with_capacity(ROUNDS); sides.len()];
    for round in 0..ROUNDS {
        for i in 0..sides.len() {
            let side = (i + round) % sides.len();
            times[side].push(pass(sides[side].1));
        }
    }
    let value = sides.len() - 1;
    let mut out = serde_json::Map::new();
    for (side, (name, _)) in sides.iter().enumerate() {
        let mut ratios: Vec<f64> = (0..ROUNDS).map(|r| times[value][r] / times[side][r]).collect();
        ratios.sort_by(f64::total_cmp);
        out.insert((*name).into(), ratios[ROUNDS / 2].into());
    }
    serde_json::Value::Object(out)
}

fn parse_alternating(c: &mut Criterion) {
    let _ = c;
    let posts = perf::data::posts();
    let timeline = perf::data::timeline();
    let result = serde_json::json!({
        "rounds": ROUNDS,
        "posts": alternating(&posts, 2, &[
            ("ours_record", |j| drop(serde_json::from_str::<Vec<OurPost>>(j).unwrap())),
            ("atrium_record", |j| drop(serde_json::from_str::<Vec<AtriumPost>>(j).unwrap())),
            ("serde_json_value", |j| drop(serde_json::from_str::<serde_json::Value>(j).unwrap())),
        ]),
        "timeline": alternating(&timeline, 4, &[
            ("ours_output", |j| drop(serde_json::from_str::<OurTimeline>(j).unwrap())),
            ("ours_output_posts_typed", |j| drop(timeline_posts_typed(j))),
            ("atrium_output", |j| drop(serde_json::from_str::<AtriumTimeline>(j).unwrap())),
            ("serde_json_value", |j| drop(serde_json::from_str::<serde_json::Value>(j).unwrap())),
        ]),
    });
    eprintln!("alternating parses, median ratio to Value: {result}");
    save("parse-alternating.json", &result.to_string());
}

/// The page, then every post's record (typed `unknown` in the view) read as a post: what a
/// program that shows the posts' text does.
fn timeline_posts_typed(json: &str) -> Vec<OurPost> {
    let page = serde_json::from_str::<OurTimeline>(json).unwrap();
    page.feed
        .iter()
        .map(|item| item.post.record.to_typed::<OurPost>().unwrap())
        .collect()
}

type OurPost = atproto_api::app::bsky::feed::post::Record;
type OurTimeline = atproto_api::app::bsky::feed::get_timeline::Output;
type AtriumPost = atrium_api::app::bsky::feed::post::Record;
type AtriumPostData = atrium_api::app::bsky::feed::post::RecordData;
type AtriumTimeline = atrium_api::app::bsky::feed::get_timeline::Output;

/// Writes the data where people (and other tools) can look at it.
fn save(name: &str, text: &str) {
    let dir = std::env::var_os("PERF_DATA_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../target/perf/data").into());
    std::fs::create_dir_all(&dir).expect("create the data folder");
    std::fs::write(dir.join(name), text).expect("write the data");
}

/// Our values written back must be the JSON we read.
fn assert_lossless<T: serde::Serialize>(what: &str, ours: &T, json: &str) {
    let original: serde_json::Value = serde_json::from_str(json).expect("valid JSON");
    let written = serde_json::to_value(ours).expect("our values serialize");
    let mut dropped_types = Vec::new();
    if let Some(difference) = first_difference("", &original, &written, &mut dropped_types) {
        panic!("{what}: our round trip is not lossless: {difference}");
    }
    // Real data carries `$type` on some non-union objects too (facets, `embed.record` inside
    // recordWithMedia); a generator that does not keep it changes the record's bytes (and CID).
    if !dropped_types.is_empty() {
        eprintln!(
            "WARNING {what}: our round trip drops {} `$type` keys of non-union objects, e.g. {}",
            dropped_types.len(),
            dropped_types[..dropped_types.len().min(3)].join(", ")
        );
    }
}

/// Where two JSON values first differ, as a JSON pointer and both sides.
/// A `$type` missing on the written side is collected in `dropped_types`, not a difference.
fn first_difference(
    path: &str,
    a: &serde_json::Value,
    b: &serde_json::Value,
    dropped_types: &mut Vec<String>,
) -> Option<String> {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (key, value) in x {
                let here = format!("{path}/{key}");
                match y.get(key) {
                    Some(other) => {
                        if let Some(d) = first_difference(&here, value, other, dropped_types) {
                            return Some(d);
                        }
                    }
                    None if key == "$type" => dropped_types.push(here),
                    None => return Some(format!("{here}: missing when written back")),
                }
            }
            y.keys()
                .find(|k| !x.contains_key(*k))
                .map(|k| format!("{path}/{k}: added when written back"))
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            x.iter().zip(y).enumerate().find_map(|(i, (v, w))| {
                first_difference(&format!("{path}/{i}"), v, w, dropped_types)
            })
        }
        _ if a == b => None,
        _ => Some(format!("{path}: read {a}, written {b}")),
    }
}

fn check_posts(json: &str) {
    let ours: Vec<OurPost> = serde_json::from_str(json).expect("ours parses the posts");
    assert_eq!(ours.len(), perf::data::POSTS);
    for (i, post) in ours.iter().enumerate() {
        if let Err(violations) = post.validate() {
            panic!("post {i} does not validate: {violations:?}");
        }
    }
    assert_lossless("posts", &ours, json);
    let atrium: Vec<AtriumPost> = serde_json::from_str(json).expect("atrium parses the posts");
    assert_eq!(atrium.len(), perf::data::POSTS);
    let atrium: Vec<AtriumPostData> =
        serde_json::from_str(json).expect("atrium parses the posts as RecordData");
    assert_eq!(atrium.len(), perf::data::POSTS);
}

fn check_timeline(json: &str) {
    let ours: OurTimeline = serde_json::from_str(json).expect("ours parses the timeline");
    assert_eq!(ours.feed.len(), perf::data::TIMELINE_ITEMS);
    if let Err(violations) = ours.validate() {
        panic!("the timeline does not validate: {violations:?}");
    }
    assert_lossless("timeline", &ours, json);
    let atrium: AtriumTimeline = serde_json::from_str(json).expect("atrium parses the timeline");
    assert_eq!(atrium.feed.len(), perf::data::TIMELINE_ITEMS);
}

fn posts(c: &mut Criterion) {
    let json = perf::data::posts();
    save("posts.json", &json);
    check_posts(&json);
    eprintln!("posts: {} records, {} bytes", perf::data::POSTS, json.len());
    let mut group = c.benchmark_group("posts");
    group.throughput(Throughput::BytesDecimal(json.len() as u64));
    group.bench_function("ours_record", |b| {
        b.iter(|| serde_json::from_str::<Vec<OurPost>>(black_box(&json)).unwrap())
    });
    group.bench_function("ours_record_validate", |b| {
        b.iter(|| {
            let posts = serde_json::from_str::<Vec<OurPost>>(black_box(&json)).unwrap();
            for post in &posts {
                post.validate().unwrap();
            }
            posts
        })
    });
    let parsed: Vec<OurPost> = serde_json::from_str(&json).unwrap();
    group.bench_function("ours_validate_only", |b| {
        b.iter(|| {
            for post in black_box(&parsed) {
                post.validate().unwrap();
            }
        })
    });
    group.bench_function("ours_serialize", |b| {
        b.iter(|| serde_json::to_string(black_box(&parsed)).unwrap())
    });
    group.bench_function("atrium_record", |b| {
        b.iter(|| serde_json::from_str::<Vec<AtriumPost>>(black_box(&json)).unwrap())
    });
    group.bench_function("atrium_record_data", |b| {
        b.iter(|| serde_json::from_str::<Vec<AtriumPostData>>(black_box(&json)).unwrap())
    });
    group.bench_function("serde_json_value", |b| {
        b.iter(|| serde_json::from_str::<serde_json::Value>(black_box(&json)).unwrap())
    });
    group.finish();
}

fn timeline(c: &mut Criterion) {
    let json = perf::data::timeline();
    save("timeline.json", &json);
    check_timeline(&json);
    eprintln!(
        "timeline: {} feed items, {} bytes",
        perf::data::TIMELINE_ITEMS,
        json.len()
    );
    let mut group = c.benchmark_group("timeline");
    group.throughput(Throughput::BytesDecimal(json.len() as u64));
    group.bench_function("ours_output", |b| {
        b.iter(|| serde_json::from_str::<OurTimeline>(black_box(&json)).unwrap())
    });
    group.bench_function("ours_output_validate", |b| {
        b.iter(|| {
            let page = serde_json::from_str::<OurTimeline>(black_box(&json)).unwrap();
            page.validate().unwrap();
            page
        })
    });
    group.bench_function("ours_output_posts_typed", |b| {
        b.iter(|| timeline_posts_typed(black_box(&json)))
    });
    group.bench_function("atrium_output", |b| {
        b.iter(|| serde_json::from_str::<AtriumTimeline>(black_box(&json)).unwrap())
    });
    group.bench_function("serde_json_value", |b| {
        b.iter(|| serde_json::from_str::<serde_json::Value>(black_box(&json)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, posts, timeline, parse_alternating);
criterion_main!(benches);

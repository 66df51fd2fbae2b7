//! A loop to run under a profiler (`valgrind --tool=callgrind`, `perf record`): parses one of
//! the bench inputs with one of the parsers, `N` times.
//!
//! `perf-profile (posts|timeline) (ours|ours-validate|atrium|value) [N]`, or
//! `perf-profile (frame|records) (ours_typed|ipld|ipld_our_car) [N]` for the firehose frames
//! (the frames bench's decoders; N passes over all the frames, read from
//! `target/perf/data/firehose.frames`, which the frames bench writes, when it is there, since
//! making them takes longer than decoding them).

use atproto_api::runtime::Validate;
use std::hint::black_box;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: perf-profile (posts|timeline) (ours|ours-validate|atrium|value) [N]
       perf-profile (frame|records) (ours_typed|ipld|ipld_our_car) [N]";
    let (data, parser) = match (args.first(), args.get(1)) {
        (Some(d), Some(p)) => (d.as_str(), p.as_str()),
        _ => return eprintln!("{usage}"),
    };
    let n: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(100);
    let decoders = match data {
        "frame" => Some(perf::indexer::FRAME),
        "records" => Some(perf::indexer::RECORDS),
        _ => None,
    };
    if let Some(decoders) = decoders {
        return match decoders.iter().find(|(name, _)| *name == parser) {
            Some((_, decode)) => frames(*decode, n),
            None => eprintln!("{usage}"),
        };
    }
    let json = match data {
        "posts" => perf::data::posts(),
        "timeline" => perf::data::timeline(),
        _ => return eprintln!("{usage}"),
    };
    type OurPost = atproto_api::app::bsky::feed::post::Record;
    type OurTimeline = atproto_api::app::bsky::feed::get_timeline::Output;
    for _ in 0..n {
        match (data, parser) {
            ("posts", "ours") => drop(black_box(
                serde_json::from_str::<Vec<OurPost>>(&json).unwrap(),
            )),
            ("posts", "ours-validate") => {
                let posts = serde_json::from_str::<Vec<OurPost>>(&json).unwrap();
                posts.iter().for_each(|p| p.validate().unwrap());
            }
            ("posts", "atrium") => drop(black_box(
                serde_json::from_str::<Vec<atrium_api::app::bsky::feed::post::Record>>(&json)
                    .unwrap(),
            )),
            ("timeline", "ours") => drop(black_box(
                serde_json::from_str::<OurTimeline>(&json).unwrap(),
            )),
            ("timeline", "ours-validate") => serde_json::from_str::<OurTimeline>(&json)
                .unwrap()
                .validate()
                .unwrap(),
            ("timeline", "atrium") => drop(black_box(
                serde_json::from_str::<atrium_api::app::bsky::feed::get_timeline::Output>(&json)
                    .unwrap(),
            )),
            (_, "value") => drop(black_box(
                serde_json::from_str::<serde_json::Value>(&json).unwrap(),
            )),
            _ => return eprintln!("{usage}"),
        }
    }
}

fn frames(decode: fn(&[u8]), n: usize) {
    let saved = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/perf/data/firehose.frames"
    );
    let frames = match std::fs::read(saved) {
        Ok(bytes) => split_frames(&bytes),
        Err(_) => perf::firehose::frames().frames,
    };
    for _ in 0..n {
        frames.iter().for_each(|frame| decode(frame));
    }
}

/// The frames of `firehose.frames`: each a 4-byte big-endian length and its bytes.
fn split_frames(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    while let Some((len, rest)) = bytes.split_first_chunk::<4>() {
        let (frame, rest) = rest.split_at(u32::from_be_bytes(*len) as usize);
        frames.push(frame.to_vec());
        bytes = rest;
    }
    frames
}

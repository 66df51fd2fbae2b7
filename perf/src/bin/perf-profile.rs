//! A loop to run under a profiler (`valgrind --tool=callgrind`, `perf record`): parses one of
//! the bench inputs with one of the parsers, `N` times.
//!
//! `perf-profile (posts|timeline) (ours|ours-validate|atrium|value) [N]`

use atproto_api::runtime::Validate;
use std::hint::black_box;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: perf-profile (posts|timeline) (ours|ours-validate|atrium|value) [N]";
    let (data, parser) = match (args.first(), args.get(1)) {
        (Some(d), Some(p)) => (d.as_str(), p.as_str()),
        _ => return eprintln!("{usage}"),
    };
    let n: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(100);
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

//! One side's router called in a loop, in process, for a profiler to watch:
//! `server-profile generated|hand 1|100 [SECONDS|Ncalls]` (the limit, then 10 s by default,
//! or a number of calls such as `2000calls`, which suits callgrind), e.g. under
//! `perf record -g`. Then counts the allocations of one more call, and lists the largest.
//!
//! `server-profile stages LIMIT N` calls each stage of both sides N times instead, each
//! from a function of its own (`stage_*`), so that callgrind's inclusive counts per function
//! are instructions per stage: `valgrind --tool=callgrind server-profile stages 1 1000`.

use perf_server::{data, generated, hand, stages};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The system allocator, noting the size of every allocation while `COUNTING` is set.
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static SIZES: Mutex<Vec<usize>> = Mutex::new(Vec::new());

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Notes a size; the flag is cleared while the list itself grows, so that does not count.
fn note(size: usize) {
    // A plain load first: outside the counted call this costs next to nothing.
    if COUNTING.load(Ordering::Relaxed) && COUNTING.swap(false, Ordering::Relaxed) {
        if let Ok(mut sizes) = SIZES.lock() {
            sizes.push(size);
        }
        COUNTING.store(true, Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The stages, kept out of line so that a profiler sees each.
mod stage {
    use atproto_api::app::bsky::feed::get_feed_skeleton;
    use perf_server::{generated, hand};
    use std::hint::black_box;

    #[inline(never)]
    pub fn stage_generated_params(query: &str) {
        black_box(generated::read_params(black_box(query)).ok());
    }
    #[inline(never)]
    pub fn stage_hand_params(uri: &axum::http::Uri) {
        black_box(hand::read_params(black_box(uri)).ok());
    }
    #[inline(never)]
    pub fn stage_generated_page(feed: &generated::Feed, params: &get_feed_skeleton::Params) {
        black_box(generated::page(feed, black_box(params)).ok());
    }
    #[inline(never)]
    pub fn stage_hand_page(feed: &hand::Feed, params: &hand::Params) {
        black_box(hand::page(feed, black_box(params)).ok());
    }
    #[inline(never)]
    pub fn stage_generated_to_vec(output: &get_feed_skeleton::Output) {
        black_box(serde_json::to_vec(black_box(output)).ok());
    }
    #[inline(never)]
    pub fn stage_hand_to_vec(output: &hand::Output) {
        black_box(serde_json::to_vec(black_box(output)).ok());
    }
    #[inline(never)]
    pub fn stage_generated_write(output: get_feed_skeleton::Output) {
        black_box(generated::write(output));
    }
    #[inline(never)]
    pub fn stage_hand_write(output: hand::Output) {
        black_box(hand::write(output));
    }
}

/// Each stage of both sides, `n` times.
fn stages(limit: u32, n: u64) {
    let items = data::feed();
    let (ours, theirs) = (generated::Feed::new(&items), hand::Feed::new(&items));
    let uri: axum::http::Uri = data::path(limit).parse().expect("a URI");
    let query = uri.query().unwrap_or("");
    let our_params = generated::read_params(query).expect("our parameters");
    let their_params = hand::read_params(&uri).expect("their parameters");
    let our_output = generated::page(&ours, &our_params).expect("our page");
    let their_output = hand::page(&theirs, &their_params).expect("their page");
    for _ in 0..n {
        stage::stage_generated_params(query);
        stage::stage_hand_params(&uri);
        stage::stage_generated_page(&ours, &our_params);
        stage::stage_hand_page(&theirs, &their_params);
        stage::stage_generated_to_vec(&our_output);
        stage::stage_hand_to_vec(&their_output);
        stage::stage_generated_write(our_output.clone());
        stage::stage_hand_write(hand::page(&theirs, &their_params).expect("their page"));
    }
    println!("stages for limit={limit}, {n} times each");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("stages") {
        let limit = args
            .get(1)
            .and_then(|l| l.parse().ok())
            .expect("stages LIMIT N");
        let n = args
            .get(2)
            .and_then(|n| n.parse().ok())
            .expect("stages LIMIT N");
        return stages(limit, n);
    }
    let usage = "usage: server-profile generated|hand LIMIT [SECONDS|Ncalls]";
    let side = args.first().expect(usage);
    let limit: u32 = args.get(1).and_then(|l| l.parse().ok()).expect(usage);
    let (seconds, most): (u64, u64) = match args.get(2) {
        None => (10, u64::MAX),
        Some(calls) if calls.ends_with("calls") => {
            (3600, calls.trim_end_matches("calls").parse().expect(usage))
        }
        Some(seconds) => (seconds.parse().expect(usage), u64::MAX),
    };
    let items = data::feed();
    let router = match side.as_str() {
        "generated" => generated::router(Arc::new(generated::Feed::new(&items))),
        "hand" => hand::router(Arc::new(hand::Feed::new(&items))),
        _ => panic!("{usage}"),
    };
    let uri: axum::http::Uri = data::path(limit).parse().expect("a URI");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (mut calls, start) = (0u64, Instant::now());
    runtime.block_on(async {
        while Instant::now() < deadline && calls < most {
            for _ in 0..100 {
                std::hint::black_box(stages::call(&router, &uri).await);
            }
            calls += 100;
        }
    });
    let each = start.elapsed().as_nanos() as f64 / calls as f64;
    println!("{side} limit={limit}: {calls} calls, {each:.0} ns each");

    SIZES.lock().expect("the sizes").reserve(100_000);
    runtime.block_on(async {
        COUNTING.store(true, Ordering::Relaxed);
        std::hint::black_box(stages::call(&router, &uri).await);
        COUNTING.store(false, Ordering::Relaxed);
    });
    let mut sizes = std::mem::take(&mut *SIZES.lock().expect("the sizes"));
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    println!(
        "one call (allocations and reallocations, the request's own included): {} of {} bytes; largest {:?}",
        sizes.len(),
        sizes.iter().sum::<usize>(),
        &sizes[..sizes.len().min(12)]
    );
}

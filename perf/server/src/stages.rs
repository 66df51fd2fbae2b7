//! Where each side's time goes, in process: no sockets and no HTTP parsing, so that the
//! layers' own costs show without the load generator's and the kernel's. The whole router is
//! called as a tower service, then each stage alone; the sides alternate batch by batch and
//! each figure is the median over the batches.

use crate::data::{self, Item};
use crate::{generated, hand};
use http_body_util::BodyExt as _;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt as _;

/// One stage's time per call on each side, in nanoseconds.
#[derive(Debug, Clone, Copy)]
pub struct Timed {
    pub stage: &'static str,
    pub generated_ns: f64,
    pub hand_ns: f64,
}

/// How long a batch of calls runs: long enough for the clock, short enough to alternate often.
const BATCH: Duration = Duration::from_millis(10);

/// Times `a` and `b` (each runs the given number of calls) in alternating batches.
fn pair(rounds: usize, mut a: impl FnMut(u64), mut b: impl FnMut(u64)) -> (f64, f64) {
    let calls = |f: &mut dyn FnMut(u64)| {
        let mut n = 1;
        loop {
            let start = Instant::now();
            f(n);
            if start.elapsed() >= BATCH / 4 || n >= 1 << 24 {
                return n * 4;
            }
            n *= 2;
        }
    };
    let (na, nb) = (calls(&mut a), calls(&mut b));
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let run = |f: &mut dyn FnMut(u64), n: u64, into: &mut Vec<f64>| {
            let start = Instant::now();
            f(n);
            into.push(start.elapsed().as_nanos() as f64 / n as f64);
        };
        if round % 2 == 0 {
            run(&mut a, na, &mut ta);
            run(&mut b, nb, &mut tb);
        } else {
            run(&mut b, nb, &mut tb);
            run(&mut a, na, &mut ta);
        }
    }
    (median(ta), median(tb))
}

pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// One request through a router to the last byte of its body.
pub async fn call(router: &axum::Router, uri: &axum::http::Uri) -> usize {
    let request = axum::http::Request::get(uri.clone())
        .body(axum::body::Body::empty())
        .expect("a request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), axum::http::StatusCode::OK);
    let body = response.into_body().collect().await.expect("a body");
    body.to_bytes().len()
}

/// The stages for a request of `limit` posts.
pub fn run(items: &[Item], limit: u32, rounds: usize) -> Vec<Timed> {
    let ours = Arc::new(generated::Feed::new(items));
    let theirs = Arc::new(hand::Feed::new(items));
    let uri: axum::http::Uri = data::path(limit).parse().expect("a URI");
    let query = uri.query().unwrap_or("");
    let our_params = generated::read_params(query).expect("our parameters");
    let their_params = hand::read_params(&uri).expect("their parameters");
    let our_output = generated::page(&ours, &our_params).expect("our page");
    let their_output = hand::page(&theirs, &their_params).expect("their page");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let our_router = generated::router(ours.clone());
    let their_router = hand::router(theirs.clone());
    let mut timed = Vec::new();
    let mut add = |stage, (generated_ns, hand_ns)| {
        timed.push(Timed {
            stage,
            generated_ns,
            hand_ns,
        })
    };

    add(
        "whole router call (in process)",
        pair(
            rounds,
            |n| {
                runtime.block_on(async {
                    for _ in 0..n {
                        black_box(call(&our_router, &uri).await);
                    }
                })
            },
            |n| {
                runtime.block_on(async {
                    for _ in 0..n {
                        black_box(call(&their_router, &uri).await);
                    }
                })
            },
        ),
    );
    add(
        "parameters: read and check",
        pair(
            rounds,
            |n| {
                for _ in 0..n {
                    black_box(generated::read_params(black_box(query)).ok());
                }
            },
            |n| {
                for _ in 0..n {
                    black_box(hand::read_params(black_box(&uri)).ok());
                }
            },
        ),
    );
    add(
        "handler: the page (clones the posts)",
        pair(
            rounds,
            |n| {
                for _ in 0..n {
                    black_box(generated::page(&ours, black_box(&our_params)).ok());
                }
            },
            |n| {
                for _ in 0..n {
                    black_box(hand::page(&theirs, black_box(&their_params)).ok());
                }
            },
        ),
    );
    add(
        "JSON: serde_json::to_vec of the output",
        pair(
            rounds,
            |n| {
                for _ in 0..n {
                    black_box(serde_json::to_vec(black_box(&our_output)).ok());
                }
            },
            |n| {
                for _ in 0..n {
                    black_box(serde_json::to_vec(black_box(&their_output)).ok());
                }
            },
        ),
    );
    add(
        "handler and response (page, then the side's own writer)",
        pair(
            rounds,
            |n| {
                for _ in 0..n {
                    let output = generated::page(&ours, black_box(&our_params)).expect("a page");
                    black_box(generated::write(output));
                }
            },
            |n| {
                for _ in 0..n {
                    let output = hand::page(&theirs, black_box(&their_params)).expect("a page");
                    black_box(hand::write(output));
                }
            },
        ),
    );
    timed
}

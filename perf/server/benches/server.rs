//! The overhead of our generated server layer against a hand-written axum handler for the
//! same endpoint and the same response bytes, in requests per second on loopback.
//!
//! Both servers run in this process, each on its own runtime and port; the load generator
//! runs here too, on its own runtime. Rounds alternate the sides (A B, then B A, ...) so that
//! drift from other work on the machine falls on both, and the summary takes the median of
//! each side. Besides requests per second, which the load generator's own CPU dilutes when it
//! shares the cores, each side's server threads' CPU time per request is counted.
//!
//! Run it with loops aligned, or the 50 KB figures measure where the linker happened to put
//! serde_json's string-escaping loop for each side rather than the layers:
//! `RUSTFLAGS="-C llvm-args=-align-loops=64" CARGO_TARGET_DIR=target/perf/server-target
//! cargo bench --manifest-path perf/server/Cargo.toml`.
//!
//! Settings, from the environment: `PERF_SERVER_ROUNDS` (15), `PERF_SERVER_SECONDS` per side
//! and round (2), `PERF_SERVER_CONNECTIONS` (32), `PERF_SERVER_THREADS` per server (2),
//! `PERF_SERVER_CLIENT_THREADS` (2), `PERF_SERVER_MAX_OTHERS_PERCENT` (25: the share of a
//! core other processes may take before and during a pair), `PERF_SERVER_MAX_WAIT` (900: the
//! seconds the whole run may wait for them), `PERF_SERVER_OUT` (the report's path).

use perf_server::machine::{self, CpuSample};
use perf_server::stages::{self, Timed, median};
use perf_server::{Server, data, generated, hand, load};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

fn setting(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value} is not a number")),
        Err(_) => default,
    }
}

/// One of the two sides.
struct Side {
    name: &'static str,
    /// The prefix of its threads' names.
    threads: &'static str,
    server: Server,
}

/// One request shape, and the body both sides answer it with.
struct Workload {
    name: &'static str,
    limit: u32,
    path: String,
    body_len: usize,
}

/// One side's figures for one round of one workload.
#[derive(Clone, Copy)]
struct Measured {
    per_second: f64,
    /// Server threads' CPU per request, in microseconds.
    server_us: f64,
    /// The load generator's CPU per request, in microseconds.
    client_us: f64,
    /// Cores other processes kept busy meanwhile.
    others: f64,
}

/// The flag that takes code placement out of the 50 KB figures (see `build.rs`).
const ALIGN_LOOPS: &str = "-align-loops=64";

/// How many times a pair of measurements is tried while other work is busy.
const PAIR_ATTEMPTS: usize = 6;

/// Waits, within a budget for the whole run, until other processes leave the machine nearly
/// idle: the sides share two cores with the load generator, and a build next to them moves
/// the figures by more than the difference being measured.
struct Quiet {
    max_others: f64,
    budget: Duration,
    waited: Duration,
}

impl Quiet {
    /// Returns the cores other processes kept busy over the last second.
    fn wait(&mut self) -> f64 {
        loop {
            let others = machine::others_busy(1.0);
            if others <= self.max_others || self.waited >= self.budget {
                return others;
            }
            println!(
                "{others:.2} cores busy with other work (load average {}): waiting",
                machine::load_average()
            );
            std::thread::sleep(Duration::from_secs(4));
            self.waited += Duration::from_secs(5);
        }
    }
}

fn main() {
    let rounds = setting("PERF_SERVER_ROUNDS", 15).clamp(1, 100);
    let seconds = setting("PERF_SERVER_SECONDS", 2).clamp(1, 60);
    let connections = setting("PERF_SERVER_CONNECTIONS", 32).clamp(1, 1024);
    let server_threads = setting("PERF_SERVER_THREADS", 2).clamp(1, 64);
    let client_threads = setting("PERF_SERVER_CLIENT_THREADS", 2).clamp(1, 64);
    let max_others = setting("PERF_SERVER_MAX_OTHERS_PERCENT", 25) as f64 / 100.0;
    let max_wait = setting("PERF_SERVER_MAX_WAIT", 900);
    let duration = Duration::from_secs(seconds as u64);

    if !env!("PERF_SERVER_RUSTFLAGS").contains(ALIGN_LOOPS) {
        println!(
            "warning: built without `-C llvm-args={ALIGN_LOOPS}` in RUSTFLAGS: the 50 KB figures will depend on code placement"
        );
    }
    let items = data::feed();
    let sides = [
        Side {
            name: "generated (XrpcRouter)",
            threads: "srv-generated",
            server: Server::start(
                "srv-generated",
                server_threads,
                generated::router(Arc::new(generated::Feed::new(&items))),
            )
            .expect("start the generated server"),
        },
        Side {
            name: "hand-written axum",
            threads: "srv-hand",
            server: Server::start(
                "srv-hand",
                server_threads,
                hand::router(Arc::new(hand::Feed::new(&items))),
            )
            .expect("start the hand-written server"),
        },
    ];
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(client_threads)
        .thread_name("load-gen")
        .enable_all()
        .build()
        .expect("the load generator's runtime");

    // Both sides must answer every workload with the same bytes, or the race means nothing.
    let mut workloads = Vec::new();
    for (name, limit) in [
        ("small query (limit=1)", 1),
        ("~50 KB response (limit=100)", 100),
    ] {
        let path = data::path(limit);
        let answers: Vec<_> = sides
            .iter()
            .map(|side| {
                client
                    .block_on(load::fetch(side.server.addr, &path))
                    .unwrap_or_else(|e| panic!("{}: {e}", side.name))
            })
            .collect();
        let (status, content_type, body) = &answers[0];
        assert_eq!(
            *status,
            200,
            "{}: {}",
            sides[0].name,
            String::from_utf8_lossy(body)
        );
        if answers[1] != answers[0] {
            panic!(
                "{name}: the sides answer differently\n{}: {} {}\n{}\n{}: {} {}\n{}",
                sides[0].name,
                answers[0].0,
                answers[0].1,
                String::from_utf8_lossy(&answers[0].2),
                sides[1].name,
                answers[1].0,
                answers[1].1,
                String::from_utf8_lossy(&answers[1].2),
            );
        }
        assert_eq!(content_type, "application/json");
        workloads.push(Workload {
            name,
            limit,
            path,
            body_len: body.len(),
        });
    }
    println!(
        "both sides answer the same bytes: {}",
        workloads
            .iter()
            .map(|w| format!("{} bytes for {}", w.body_len, w.name))
            .collect::<Vec<_>>()
            .join(", ")
    );

    let mut quiet = Quiet {
        max_others,
        budget: Duration::from_secs(max_wait as u64),
        waited: Duration::ZERO,
    };
    let others_before = quiet.wait();
    let load_before = machine::load_average();
    println!(
        "before the run: load average {load_before}, {others_before:.2} cores busy with other work"
    );

    // A warm-up round per side and workload (connections, allocator, caches), not counted.
    for workload in &workloads {
        for side in &sides {
            measure(&client, side, workload, connections, Duration::from_secs(1));
        }
    }

    let mut results = vec![vec![Vec::<Measured>::new(); sides.len()]; workloads.len()];
    let mut round_loads = Vec::new();
    let (mut redone, mut busy_kept) = (0, 0);
    for round in 0..rounds {
        round_loads.push(machine::load_average());
        for (w, workload) in workloads.iter().enumerate() {
            let order: [usize; 2] = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            // Each pair starts on a quiet machine, and one during which other work took a
            // good part of a core is run again (a build starting halfway would favour one
            // side), a few times at most.
            for attempt in 1..=PAIR_ATTEMPTS {
                quiet.wait();
                let mut pair = [None; 2];
                for s in order {
                    let m = measure(&client, &sides[s], workload, connections, duration);
                    println!(
                        "round {}: {} {}: {:.0} req/s, server {:.1} µs/req, client {:.1} µs/req, others {:.2} cores",
                        round + 1,
                        workload.name,
                        sides[s].name,
                        m.per_second,
                        m.server_us,
                        m.client_us,
                        m.others
                    );
                    pair[s] = Some(m);
                }
                let pair = pair.map(|m| m.expect("both sides measured"));
                if pair.iter().any(|m| m.others > max_others) {
                    if attempt < PAIR_ATTEMPTS {
                        println!("  other work above {max_others} cores: running the pair again");
                        redone += 1;
                        continue;
                    }
                    busy_kept += 1;
                }
                for (s, m) in pair.into_iter().enumerate() {
                    results[w][s].push(m);
                }
                break;
            }
        }
    }
    let load_after = machine::load_average();

    // Where the time goes, without sockets: the same limits, on this thread.
    let stage_rounds = 21;
    let stages: Vec<Vec<Timed>> = workloads
        .iter()
        .map(|workload| {
            quiet.wait();
            stages::run(&items, workload.limit, stage_rounds)
        })
        .collect();

    let report = report(&Report {
        sides: &sides,
        workloads: &workloads,
        results: &results,
        round_loads: &round_loads,
        load_before: &load_before,
        others_before,
        load_after: &load_after,
        stages: &stages,
        stage_rounds,
        redone,
        busy_kept,
        waited: quiet.waited,
        max_others,
        rounds,
        seconds,
        connections,
        server_threads,
        client_threads,
    });
    println!("\n{report}");
    let out = std::env::var_os("PERF_SERVER_OUT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../target/perf/results/server.md"
            )
            .into()
        });
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).expect("create the results folder");
    }
    std::fs::write(&out, &report).expect("write the report");
    println!("written to {}", out.display());
}

fn measure(
    client: &tokio::runtime::Runtime,
    side: &Side,
    workload: &Workload,
    connections: usize,
    duration: Duration,
) -> Measured {
    let (server0, client0, cpu0) = (
        machine::threads_cpu_ns(side.threads),
        machine::threads_cpu_ns("load-gen"),
        CpuSample::now(),
    );
    let counted = client
        .block_on(load::run(
            side.server.addr,
            &workload.path,
            connections,
            duration,
            workload.body_len,
        ))
        .unwrap_or_else(|e| panic!("{} {}: {e}", side.name, workload.name));
    let (server1, client1, cpu1) = (
        machine::threads_cpu_ns(side.threads),
        machine::threads_cpu_ns("load-gen"),
        CpuSample::now(),
    );
    let per_request = |ns: u64| ns as f64 / 1000.0 / counted.requests.max(1) as f64;
    Measured {
        per_second: counted.per_second(),
        server_us: per_request(server1 - server0),
        client_us: per_request(client1 - client0),
        others: cpu1.others_since(&cpu0),
    }
}

struct Report<'a> {
    sides: &'a [Side],
    workloads: &'a [Workload],
    results: &'a [Vec<Vec<Measured>>],
    round_loads: &'a [String],
    load_before: &'a str,
    others_before: f64,
    load_after: &'a str,
    stages: &'a [Vec<Timed>],
    stage_rounds: usize,
    redone: usize,
    busy_kept: usize,
    waited: Duration,
    max_others: f64,
    rounds: usize,
    seconds: usize,
    connections: usize,
    server_threads: usize,
    client_threads: usize,
}

fn git(args: &[&str]) -> String {
    std::process::Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn report(r: &Report) -> String {
    let (a, b) = (r.sides[0].name, r.sides[1].name);
    let mut out = String::new();
    let commit = git(&["rev-parse", "--short", "HEAD"]);
    let dirty = git(&[
        "status",
        "--porcelain",
        "--",
        "../../generated",
        "../../codegen/runtime",
    ]);
    let _ = writeln!(
        out,
        "# Server layer: generated `XrpcRouter` vs hand-written axum\n"
    );
    let _ = writeln!(
        out,
        "`app.bsky.feed.getFeedSkeleton`, the same response bytes from both sides, requests per second on loopback (commit {commit}{}; {} cores, shared by both servers and the load generator, so read the ratios).\n",
        if dirty.is_empty() {
            ""
        } else {
            ", generated/ or codegen/runtime/ with local changes"
        },
        machine::cores()
    );
    let flags = env!("PERF_SERVER_RUSTFLAGS").trim();
    if flags.contains(ALIGN_LOOPS) {
        let _ = writeln!(
            out,
            "Built with rustflags `{flags}`. CPU: {}.\n",
            machine::cpu_model()
        );
    } else {
        let _ = writeln!(
            out,
            "**Built without `{ALIGN_LOOPS}`** (rustflags `{flags}`): the 50 KB figures then depend on where the linker placed serde_json's string-escaping loop for each side, which runs at about half speed when it straddles a 64-byte boundary on some CPUs. CPU: {}.\n",
            machine::cpu_model()
        );
    }
    let _ = writeln!(
        out,
        "| workload | body | {a} req/s | {b} req/s | ratio (generated / hand-written) | server CPU per request, generated / hand-written | ratio |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for (w, workload) in r.workloads.iter().enumerate() {
        let rps: Vec<f64> = (0..2)
            .map(|s| median(r.results[w][s].iter().map(|m| m.per_second).collect()))
            .collect();
        let cpu: Vec<f64> = (0..2)
            .map(|s| median(r.results[w][s].iter().map(|m| m.server_us).collect()))
            .collect();
        // The ratio of each round's pair, then their median: drift between rounds cancels.
        let ratio = median(
            r.results[w][0]
                .iter()
                .zip(&r.results[w][1])
                .map(|(x, y)| x.per_second / y.per_second)
                .collect(),
        );
        let cpu_ratio = median(
            r.results[w][0]
                .iter()
                .zip(&r.results[w][1])
                .map(|(x, y)| x.server_us / y.server_us)
                .collect(),
        );
        let _ = writeln!(
            out,
            "| {} | {} B | {:.0} | {:.0} | {ratio:.3} | {:.1} µs / {:.1} µs | {cpu_ratio:.3} |",
            workload.name, workload.body_len, rps[0], rps[1], cpu[0], cpu[1]
        );
    }
    let _ = writeln!(
        out,
        "\nMedians over {} rounds of {} s per side and workload, sides alternated (A B, B A, ...) after a 1 s warm-up each; ratios are the medians of each round's pair. {} keep-alive HTTP/1.1 connections (hyper), each sending the next request when the last response is read whole; servers on their own tokio runtimes ({} worker threads each), the load generator on another ({} threads). Server CPU is the scheduler's count for the server's threads over the round.\n",
        r.rounds, r.seconds, r.connections, r.server_threads, r.client_threads
    );
    let _ = writeln!(
        out,
        "Load average before the run {} (it counts this bench's own build and threads too), {:.2} cores busy with other work; after the run {}. Each pair waited for other work below {:.2} cores first ({} s of waiting in all); pairs run again because other work took more during them: {}; busy pairs kept after {PAIR_ATTEMPTS} tries: {}.\n",
        r.load_before,
        r.others_before,
        r.load_after,
        r.max_others,
        r.waited.as_secs(),
        r.redone,
        r.busy_kept
    );
    let _ = writeln!(
        out,
        "In process, without sockets or HTTP parsing (median of {} alternating batches of about 10 ms; the whole call is the router as a tower service, body collected):\n",
        r.stage_rounds
    );
    let _ = writeln!(
        out,
        "| workload | stage | generated | hand-written | difference | ratio |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for (w, workload) in r.workloads.iter().enumerate() {
        for t in &r.stages[w] {
            let _ = writeln!(
                out,
                "| {} | {} | {:.0} ns | {:.0} ns | {:+.0} ns | {:.3} |",
                workload.name,
                t.stage,
                t.generated_ns,
                t.hand_ns,
                t.generated_ns - t.hand_ns,
                t.generated_ns / t.hand_ns
            );
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| round | load average before | workload | side | req/s | server µs/req | client µs/req | other work (cores) |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for round in 0..r.rounds {
        for (w, workload) in r.workloads.iter().enumerate() {
            for (s, side) in r.sides.iter().enumerate() {
                let m = r.results[w][s][round];
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {:.0} | {:.1} | {:.1} | {:.2} |",
                    round + 1,
                    r.round_loads[round],
                    workload.name,
                    side.name,
                    m.per_second,
                    m.server_us,
                    m.client_us,
                    m.others
                );
            }
        }
    }
    out
}

//! The overhead of our generated server layer against a hand-written axum handler for the
//! same endpoint and the same response bytes, in requests per second on loopback.
//!
//! A session is one process: both servers, each on its own runtime and port, and the load
//! generator on a third runtime. It checks that both sides answer the same bytes, then runs
//! rounds that alternate the sides (A B, then B A, ...) so that drift from other work falls
//! on both. Besides requests per second, which the load generator's own CPU dilutes when it
//! shares the cores, each side's server threads' CPU time per request is counted.
//!
//! The bench runs several sessions, each a fresh process, because the 50 KB figures have a
//! state of their own per process: in one process a side can stay 30% slower in every round
//! (the time goes to serde_json's string-escaping loop; memory placement, not the layer, as
//! the in-process timings show), and the next process can favour the other side. The summary
//! takes medians over all sessions' rounds and lists each session's ratio.
//!
//! Build with loops aligned, or the 50 KB figures also measure where the linker happened to
//! put that loop for each side: `RUSTFLAGS="-C llvm-args=-align-loops=64"
//! CARGO_TARGET_DIR=target/perf/server-target cargo bench --manifest-path
//! perf/server/Cargo.toml`.
//!
//! Settings, from the environment: `PERF_SERVER_SESSIONS` (5), `PERF_SERVER_ROUNDS` per
//! session (3), `PERF_SERVER_SECONDS` per side and round (2), `PERF_SERVER_CONNECTIONS` (32),
//! `PERF_SERVER_THREADS` per server (2), `PERF_SERVER_CLIENT_THREADS` (2),
//! `PERF_SERVER_MAX_OTHERS_PERCENT` (25: the share of a core other processes may take before
//! and during a pair), `PERF_SERVER_MAX_WAIT` (900: the seconds the whole run may wait for
//! them), `PERF_SERVER_OUT` (the report's path).

use perf_server::machine::{self, CpuSample};
use perf_server::stages::{self, Timed, median};
use perf_server::{Server, data, generated, hand, load};
use std::fmt::Write as _;
use std::io::BufRead as _;
use std::sync::Arc;
use std::time::Duration;

/// The sides: a name for people, and the name of their threads (to count their CPU time).
const SIDES: [(&str, &str); 2] = [
    ("generated (XrpcRouter)", "srv-generated"),
    ("hand-written axum", "srv-hand"),
];

/// The workloads: a name and the `limit` asked for.
const WORKLOADS: [(&str, u32); 2] = [
    ("small query (limit=1)", 1),
    ("~50 KB response (limit=100)", 100),
];

/// The flag that takes code placement out of the 50 KB figures (see `build.rs`).
const ALIGN_LOOPS: &str = "-align-loops=64";

/// How many times a pair of measurements is tried while other work is busy.
const PAIR_ATTEMPTS: usize = 6;

/// Rounds of alternating batches for the in-process stage timings.
const STAGE_ROUNDS: usize = 21;

/// Marks the lines a session writes for the bench to read (the others are shown as they are).
const DATA: &str = "@perf-server ";

struct Settings {
    sessions: usize,
    rounds: usize,
    seconds: usize,
    connections: usize,
    server_threads: usize,
    client_threads: usize,
    max_others: f64,
    max_wait: usize,
}

fn setting(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value} is not a number")),
        Err(_) => default,
    }
}

impl Settings {
    fn from_env() -> Settings {
        Settings {
            sessions: setting("PERF_SERVER_SESSIONS", 5).clamp(1, 20),
            rounds: setting("PERF_SERVER_ROUNDS", 3).clamp(1, 100),
            seconds: setting("PERF_SERVER_SECONDS", 2).clamp(1, 60),
            connections: setting("PERF_SERVER_CONNECTIONS", 32).clamp(1, 1024),
            server_threads: setting("PERF_SERVER_THREADS", 2).clamp(1, 64),
            client_threads: setting("PERF_SERVER_CLIENT_THREADS", 2).clamp(1, 64),
            max_others: setting("PERF_SERVER_MAX_OTHERS_PERCENT", 25) as f64 / 100.0,
            max_wait: setting("PERF_SERVER_MAX_WAIT", 900).min(24 * 3600),
        }
    }
}

/// One side's figures for one round of one workload.
#[derive(Debug, Clone, Copy)]
struct Measured {
    per_second: f64,
    /// Server threads' CPU per request, in microseconds.
    server_us: f64,
    /// The load generator's CPU per request, in microseconds.
    client_us: f64,
    /// Cores other processes kept busy meanwhile.
    others: f64,
}

/// Waits, within a budget, until other processes leave the machine nearly idle: the sides
/// share two cores with the load generator, and a build next to them moves the figures by
/// more than the difference being measured.
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
    let settings = Settings::from_env();
    match std::env::var("PERF_SERVER_SESSION") {
        Ok(session) => run_session(&settings, &session),
        Err(_) => run_bench(&settings),
    }
}

// ---------------------------------------------------------------------------------------------
// A session: one process with both servers

/// Runs the rounds and writes each kept pair as a data line for the bench.
fn run_session(settings: &Settings, session: &str) {
    let items = data::feed();
    let routers = [
        generated::router(Arc::new(generated::Feed::new(&items))),
        hand::router(Arc::new(hand::Feed::new(&items))),
    ];
    let servers: Vec<Server> = routers
        .into_iter()
        .zip(SIDES)
        .map(|(router, (name, threads))| {
            Server::start(threads, settings.server_threads, router)
                .unwrap_or_else(|e| panic!("start the {name} server: {e}"))
        })
        .collect();
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(settings.client_threads)
        .thread_name("load-gen")
        .enable_all()
        .build()
        .expect("the load generator's runtime");

    // Both sides must answer every workload with the same bytes, or the race means nothing.
    let mut body_lens = Vec::new();
    for (name, limit) in WORKLOADS {
        let path = data::path(limit);
        let answers: Vec<_> = servers
            .iter()
            .zip(SIDES)
            .map(|(server, (side, _))| {
                client
                    .block_on(load::fetch(server.addr, &path))
                    .unwrap_or_else(|e| panic!("{side}: {e}"))
            })
            .collect();
        let (status, content_type, body) = &answers[0];
        if *status != 200 || content_type != "application/json" || answers[1] != answers[0] {
            panic!(
                "{name}: the sides must both answer 200 with the same JSON\n{}: {} {}\n{}\n{}: {} {}\n{}",
                SIDES[0].0,
                answers[0].0,
                answers[0].1,
                String::from_utf8_lossy(&answers[0].2),
                SIDES[1].0,
                answers[1].0,
                answers[1].1,
                String::from_utf8_lossy(&answers[1].2),
            );
        }
        println!("{DATA}body {} {}", body_lens.len(), body.len());
        body_lens.push(body.len());
    }

    let mut quiet = Quiet {
        max_others: settings.max_others,
        budget: Duration::from_secs(settings.max_wait as u64),
        waited: Duration::ZERO,
    };
    let duration = Duration::from_secs(settings.seconds as u64);
    let run = |s: usize, w: usize, duration| {
        measure(
            &client,
            &servers[s],
            SIDES[s].1,
            WORKLOADS[w].1,
            body_lens[w],
            settings.connections,
            duration,
        )
    };
    // A warm-up per side and workload (connections, allocator, caches), not counted.
    for w in 0..WORKLOADS.len() {
        for s in 0..SIDES.len() {
            run(s, w, Duration::from_secs(1));
        }
    }

    let (mut redone, mut busy_kept) = (0, 0);
    for round in 0..settings.rounds {
        println!("{DATA}load {round} {}", machine::load_average());
        for (w, (workload, _)) in WORKLOADS.iter().enumerate() {
            let order: [usize; 2] = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            // Each pair starts on a quiet machine, and one during which other work took a
            // good part of a core is run again (a build starting halfway would favour one
            // side), a few times at most.
            for attempt in 1..=PAIR_ATTEMPTS {
                quiet.wait();
                let mut pair = [None; 2];
                for s in order {
                    let m = run(s, w, duration);
                    println!(
                        "session {session} round {}: {} {}: {:.0} req/s, server {:.1} µs/req, client {:.1} µs/req, others {:.2} cores",
                        round + 1,
                        workload,
                        SIDES[s].0,
                        m.per_second,
                        m.server_us,
                        m.client_us,
                        m.others
                    );
                    pair[s] = Some(m);
                }
                let pair = pair.map(|m| m.expect("both sides measured"));
                if pair.iter().any(|m| m.others > settings.max_others) {
                    if attempt < PAIR_ATTEMPTS {
                        println!(
                            "  other work above {} cores: running the pair again",
                            settings.max_others
                        );
                        redone += 1;
                        continue;
                    }
                    busy_kept += 1;
                }
                for (s, m) in pair.iter().enumerate() {
                    println!(
                        "{DATA}pair {round} {w} {s} {} {} {} {}",
                        m.per_second, m.server_us, m.client_us, m.others
                    );
                }
                break;
            }
        }
    }
    println!(
        "{DATA}stats {redone} {busy_kept} {}",
        quiet.waited.as_secs()
    );
}

fn measure(
    client: &tokio::runtime::Runtime,
    server: &Server,
    threads: &str,
    limit: u32,
    body_len: usize,
    connections: usize,
    duration: Duration,
) -> Measured {
    let (server0, client0, cpu0) = (
        machine::threads_cpu_ns(threads),
        machine::threads_cpu_ns("load-gen"),
        CpuSample::now(),
    );
    let counted = client
        .block_on(load::run(
            server.addr,
            &data::path(limit),
            connections,
            duration,
            body_len,
        ))
        .unwrap_or_else(|e| panic!("{threads} limit={limit}: {e}"));
    let (server1, client1, cpu1) = (
        machine::threads_cpu_ns(threads),
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

// ---------------------------------------------------------------------------------------------
// The bench: sessions, the stage timings, the report

/// What the sessions wrote.
#[derive(Default)]
struct Collected {
    body_lens: Vec<usize>,
    /// `pairs[w][s]`: every kept measurement, as (session, round, figures).
    pairs: Vec<Vec<Vec<(usize, usize, Measured)>>>,
    /// (session, round, load average before it).
    loads: Vec<(usize, usize, String)>,
    redone: usize,
    busy_kept: usize,
    waited: u64,
}

fn run_bench(settings: &Settings) {
    if !env!("PERF_SERVER_RUSTFLAGS").contains(ALIGN_LOOPS) {
        println!(
            "warning: built without `-C llvm-args={ALIGN_LOOPS}` in RUSTFLAGS: the 50 KB figures will depend on code placement"
        );
    }
    let mut quiet = Quiet {
        max_others: settings.max_others,
        budget: Duration::from_secs(settings.max_wait as u64),
        waited: Duration::ZERO,
    };
    let others_before = quiet.wait();
    let load_before = machine::load_average();
    println!(
        "before the run: load average {load_before}, {others_before:.2} cores busy with other work"
    );

    let mut collected = Collected {
        pairs: vec![vec![Vec::new(); SIDES.len()]; WORKLOADS.len()],
        ..Collected::default()
    };
    let exe = std::env::current_exe().expect("the bench's own path");
    for session in 1..=settings.sessions {
        let left =
            (settings.max_wait as u64).saturating_sub(quiet.waited.as_secs() + collected.waited);
        let mut child = std::process::Command::new(&exe)
            .env("PERF_SERVER_SESSION", session.to_string())
            .env("PERF_SERVER_MAX_WAIT", left.to_string())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start a session");
        let stdout = child.stdout.take().expect("the session's output");
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.expect("the session's output");
            match line.strip_prefix(DATA) {
                Some(data) => collect(&mut collected, session, data),
                None => println!("{line}"),
            }
        }
        let status = child.wait().expect("the session ends");
        assert!(status.success(), "session {session} failed: {status}");
    }
    let load_after = machine::load_average();

    // Where the time goes, without sockets: the same limits, on this thread.
    let stages: Vec<Vec<Timed>> = WORKLOADS
        .iter()
        .map(|&(_, limit)| {
            quiet.wait();
            stages::run(&data::feed(), limit, STAGE_ROUNDS)
        })
        .collect();

    let report = report(&Report {
        settings,
        collected: &collected,
        stages: &stages,
        load_before: &load_before,
        others_before,
        load_after: &load_after,
        waited: quiet.waited.as_secs() + collected.waited,
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

/// Reads one data line of a session.
fn collect(collected: &mut Collected, session: usize, data: &str) {
    let fields: Vec<&str> = data.split(' ').collect();
    let number = |i: usize| -> f64 {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .unwrap_or_else(|| panic!("a session wrote `{data}`"))
    };
    match fields[0] {
        "body" => {
            let (w, len) = (number(1) as usize, number(2) as usize);
            match collected.body_lens.get(w) {
                Some(&known) => assert_eq!(known, len, "the sessions disagree on the body"),
                None => collected.body_lens.push(len),
            }
        }
        "load" => collected
            .loads
            .push((session, number(1) as usize, fields[2..].join(" "))),
        "pair" => {
            let (round, w, s) = (number(1) as usize, number(2) as usize, number(3) as usize);
            let measured = Measured {
                per_second: number(4),
                server_us: number(5),
                client_us: number(6),
                others: number(7),
            };
            collected.pairs[w][s].push((session, round, measured));
        }
        "stats" => {
            collected.redone += number(1) as usize;
            collected.busy_kept += number(2) as usize;
            collected.waited += number(3) as u64;
        }
        _ => panic!("a session wrote `{data}`"),
    }
}

struct Report<'a> {
    settings: &'a Settings,
    collected: &'a Collected,
    stages: &'a [Vec<Timed>],
    load_before: &'a str,
    others_before: f64,
    load_after: &'a str,
    waited: u64,
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

/// The median, over `pairs` of one workload, of generated / hand-written for a figure.
fn ratio(pairs: &[Vec<(usize, usize, Measured)>], figure: fn(&Measured) -> f64) -> f64 {
    median(
        pairs[0]
            .iter()
            .zip(&pairs[1])
            .map(|((_, _, a), (_, _, b))| figure(a) / figure(b))
            .collect(),
    )
}

fn report(r: &Report) -> String {
    let (s, c) = (r.settings, r.collected);
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
        "`app.bsky.feed.getFeedSkeleton`, the same response bytes from both sides, requests per second on loopback (commit {commit}{}; {} cores, shared by both servers and the load generator, so read the ratios; CPU: {}).\n",
        if dirty.is_empty() {
            ""
        } else {
            ", generated/ or codegen/runtime/ with local changes"
        },
        machine::cores(),
        machine::cpu_model()
    );
    let flags = env!("PERF_SERVER_RUSTFLAGS").trim();
    if flags.contains(ALIGN_LOOPS) {
        let _ = writeln!(out, "Built with rustflags `{flags}`.\n");
    } else {
        let _ = writeln!(
            out,
            "**Built without `{ALIGN_LOOPS}`** (rustflags `{flags}`): the 50 KB figures then depend on where the linker placed serde_json's string-escaping loop for each side, which runs at about half speed when it straddles a 64-byte boundary on some CPUs.\n"
        );
    }
    let _ = writeln!(
        out,
        "| workload | body | {} req/s | {} req/s | ratio (generated / hand-written) | each session's ratio | server CPU per request, generated / hand-written | ratio | each session's ratio |",
        SIDES[0].0, SIDES[1].0
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    let per_second: fn(&Measured) -> f64 = |m| m.per_second;
    let server_us: fn(&Measured) -> f64 = |m| m.server_us;
    for (w, (name, _)) in WORKLOADS.iter().enumerate() {
        let pairs = &c.pairs[w];
        let side_median = |side: usize, figure: fn(&Measured) -> f64| {
            median(pairs[side].iter().map(|(_, _, m)| figure(m)).collect())
        };
        let sessions = |figure: fn(&Measured) -> f64| {
            (1..=s.sessions)
                .map(|session| {
                    let of = |side: usize| -> Vec<(usize, usize, Measured)> {
                        pairs[side]
                            .iter()
                            .filter(|(k, _, _)| *k == session)
                            .copied()
                            .collect()
                    };
                    format!("{:.2}", ratio(&[of(0), of(1)], figure))
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            out,
            "| {name} | {} B | {:.0} | {:.0} | {:.3} | {} | {:.1} µs / {:.1} µs | {:.3} | {} |",
            c.body_lens.get(w).copied().unwrap_or(0),
            side_median(0, per_second),
            side_median(1, per_second),
            ratio(pairs, per_second),
            sessions(per_second),
            side_median(0, server_us),
            side_median(1, server_us),
            ratio(pairs, server_us),
            sessions(server_us),
        );
    }
    let _ = writeln!(
        out,
        "\nMedians over {} sessions (each a fresh process) of {} rounds of {} s per side and workload, sides alternated (A B, B A, ...) after a 1 s warm-up each; ratios are medians of each round's pair. {} keep-alive HTTP/1.1 connections (hyper), each sending the next request when the last response is read whole; servers on their own tokio runtimes ({} worker threads each), the load generator on another ({} threads). Server CPU is the scheduler's count for the server's threads over the round.\n",
        s.sessions, s.rounds, s.seconds, s.connections, s.server_threads, s.client_threads
    );
    let _ = writeln!(
        out,
        "Load average before the run {} (it counts this bench's own build and threads too), {:.2} cores busy with other work; after the run {}. Each pair waited for other work below {:.2} cores first ({} s of waiting in all); pairs run again because other work took more during them: {}; busy pairs kept after {PAIR_ATTEMPTS} tries: {}.\n",
        r.load_before, r.others_before, r.load_after, s.max_others, r.waited, c.redone, c.busy_kept
    );
    let _ = writeln!(
        out,
        "In process, without sockets or HTTP parsing (median of {STAGE_ROUNDS} alternating batches of about 10 ms; the whole call is the router as a tower service, body collected):\n"
    );
    let _ = writeln!(
        out,
        "| workload | stage | generated | hand-written | difference | ratio |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for (w, (name, _)) in WORKLOADS.iter().enumerate() {
        for t in &r.stages[w] {
            let _ = writeln!(
                out,
                "| {name} | {} | {:.0} ns | {:.0} ns | {:+.0} ns | {:.3} |",
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
        "| session | round | load average before | workload | side | req/s | server µs/req | client µs/req | other work (cores) |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    for (session, round, load) in &c.loads {
        for (w, (name, _)) in WORKLOADS.iter().enumerate() {
            for (side, (side_name, _)) in SIDES.iter().enumerate() {
                let kept = c.pairs[w][side]
                    .iter()
                    .find(|(k, r, _)| k == session && r == round);
                if let Some((_, _, m)) = kept {
                    let _ = writeln!(
                        out,
                        "| {session} | {} | {load} | {name} | {side_name} | {:.0} | {:.1} | {:.1} | {:.2} |",
                        round + 1,
                        m.per_second,
                        m.server_us,
                        m.client_us,
                        m.others
                    );
                }
            }
        }
    }
    out
}

//! The performance harness: our generated crate against atrium-api 0.26.0, generic values
//! (`serde_json::Value`, `ipld_core::ipld::Ipld`) and `@atproto/lex`.
//!
//! Everything it builds or writes lives under `target/perf/` (its own cargo target folders, so
//! it never touches the workspace's build). The `perf/` crate holds the test data generator and
//! the criterion benches; it is not a workspace member and is kept out of CI.
//!
//! - `perf-gen [--rev REV]`: generate app.bsky, com.atproto, chat.bsky and tools.ozone from the
//!   upstream corpus into `target/perf/generated` (with this tree's codegen, or a commit's).
//! - `bench-parse [ARGS]`: criterion parse benches (`perf/benches/parse.rs`), then a summary.
//! - `bench-frames [ARGS]`: criterion firehose benches (`perf/benches/frames.rs`): typed frames
//!   and records against `Ipld` values, then a summary in frames/s and MB/s.
//! - `bench-repo [--runs N] [--sizes N,N,...]`: a large repository export (`getRepo`'s CAR
//!   file of 10k, 100k and 300k records) read to every typed record in memory (`Car`) and from
//!   the file (`CarFile`): peak heap (a counting allocator) and wall time (`perf-repo`).
//! - `bench-compile [--release] [--runs N]`: the API crate alone, cold, ours and atrium-api,
//!   interleaved; rustc wall time and peak RSS.
//! - `bench-layered [--runs N]`: third-party lexicon sets generated as crates layered on the
//!   perf crate, each built alone, cold, with the base prebuilt: rustc time per document and
//!   per line, next to the base's.
//! - `bench-size`: the same small client program (log in, read a timeline page, write a post)
//!   on our crate and on atrium-api over the same reqwest (`perf/binsize/`), release and
//!   stripped at opt-level 3 and "s": both sizes, their ratio and where the bytes come from.
//! - `bench-codegen [--runs N]`: our generator against `lex build` on the 402 upstream documents.
//! - `bench-all`: all of the above, one after the other, and `target/perf/report.md`.

use crate::{USAGE, workspace_root};
use codegen::{CrateOptions, SourceFile};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The namespaces both crates are built with (atrium-api: `namespace-appbsky`,
/// `namespace-chatbsky`, `namespace-toolsozone`; com.atproto is always on there).
const NAMESPACES: &[&str] = &["app/bsky/", "com/atproto/", "chat/bsky/", "tools/ozone/"];

/// Crate names as rustc sees them.
const OURS: &str = "atproto_api";
const ATRIUM: &str = "atrium_api";

struct Paths {
    root: PathBuf,
    perf: PathBuf,
    corpus: PathBuf,
}

impl Paths {
    fn new() -> Result<Paths, String> {
        let root = workspace_root();
        let corpus = root.join("../shared/corpus/atproto-lexicons/lexicons");
        let corpus = corpus
            .canonicalize()
            .map_err(|e| format!("{}: {e} (the upstream lexicon corpus)", corpus.display()))?;
        Ok(Paths {
            perf: root.join("target/perf"),
            root,
            corpus,
        })
    }
    fn manifest(&self) -> PathBuf {
        self.root.join("perf/Cargo.toml")
    }
    fn generated(&self) -> PathBuf {
        self.perf.join("generated")
    }
    fn results(&self) -> PathBuf {
        self.perf.join("results")
    }
}

pub fn run(command: &str, args: &[String]) -> Result<(), String> {
    let paths = Paths::new()?;
    std::fs::create_dir_all(paths.results()).map_err(|e| e.to_string())?;
    // `--rev COMMIT` first: measure the crate that commit's generator makes (before/after).
    let (rev, args) = match args {
        [flag, rev, rest @ ..] if flag == "--rev" => (Some(rev.as_str()), rest),
        [flag] if flag == "--rev" => return Err("--rev needs a commit".into()),
        _ => (None, args),
    };
    match command {
        "perf-gen" => {
            no_options(args)?;
            generate(&paths, rev)
        }
        "bench-parse" => {
            generate(&paths, rev)?;
            let summary = bench_parse(&paths, args)?;
            println!("\n{summary}");
            Ok(())
        }
        "bench-frames" => {
            generate(&paths, rev)?;
            let summary = bench_frames(&paths, args)?;
            println!("\n{summary}");
            Ok(())
        }
        "bench-repo" => {
            generate(&paths, rev)?;
            let summary = bench_repo(&paths, args)?;
            println!("\n{summary}");
            Ok(())
        }
        "bench-compile" => {
            let options = CompileOptions::parse(args)?;
            generate(&paths, rev)?;
            let summary = bench_compile(&paths, &options)?;
            println!("\n{summary}");
            Ok(())
        }
        "bench-instructions" => {
            no_options(args)?;
            generate(&paths, rev)?;
            let summary = bench_instructions(&paths)?;
            println!("\n{summary}");
            Ok(())
        }
        "bench-size" => {
            no_options(args)?;
            generate(&paths, rev)?;
            let summary = bench_size(&paths)?;
            println!("\n{summary}");
            Ok(())
        }
        "bench-layered" => {
            if rev.is_some() {
                return Err(
                    "bench-layered generates its layers with this tree's codegen: \
                            --rev is not supported"
                        .into(),
                );
            }
            let runs = runs_option(args, 3)?;
            generate(&paths, None)?;
            let summary = bench_layered(&paths, runs)?;
            println!("\n{summary}");
            Ok(())
        }
        "bench-codegen" => {
            let runs = runs_option(args, 5)?;
            let summary = bench_codegen(&paths, runs)?;
            println!("\n{summary}");
            Ok(())
        }
        "bench-all" => {
            let runs = runs_option(args, 3)?;
            generate(&paths, rev)?;
            let mut report = format!(
                "# Performance run\n\n{}\n\n",
                machine(&paths.root).trim_end()
            );
            report.push_str(&bench_parse(&paths, &[])?);
            report.push('\n');
            report.push_str(&bench_frames(&paths, &[])?);
            report.push('\n');
            report.push_str(&bench_repo(&paths, &[])?);
            report.push('\n');
            for release in [false, true] {
                let options = CompileOptions {
                    release,
                    runs,
                    features: Vec::new(),
                    rustc_flags: String::new(),
                };
                report.push_str(&bench_compile(&paths, &options)?);
                report.push('\n');
            }
            report.push_str(&bench_size(&paths)?);
            report.push('\n');
            report.push_str(&bench_codegen(&paths, runs.max(5))?);
            let file = paths.perf.join("report.md");
            std::fs::write(&file, &report).map_err(|e| format!("{}: {e}", file.display()))?;
            println!("\n{report}\n(written to {})", file.display());
            Ok(())
        }
        _ => unreachable!("main only routes perf commands here"),
    }
}

fn runs_option(args: &[String], default: usize) -> Result<usize, String> {
    let mut runs = default;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => {
                runs = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n > 0)
                    .ok_or("--runs needs a positive number")?
            }
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    Ok(runs)
}

// ---------------------------------------------------------------------------------------------
// perf-gen

/// The upstream documents of the four namespaces, with their corpus-relative paths.
fn four_namespaces(paths: &Paths) -> Result<Vec<SourceFile>, String> {
    let all = codegen::read_lexicon_dir(&paths.corpus).map_err(|e| e.to_string())?;
    Ok(all
        .into_iter()
        .filter(|s| {
            s.relative_path.as_ref().is_some_and(|p| {
                let p = p.to_string_lossy().replace('\\', "/");
                NAMESPACES.iter().any(|ns| p.starts_with(ns))
            })
        })
        .collect())
}

/// Generates the four namespaces into `target/perf/generated`, writing only changed files.
/// With a commit, that commit's generator does it (its source is unpacked under
/// `target/perf/rev/`), so a before/after pair needs no checkout.
fn generate(paths: &Paths, rev: Option<&str>) -> Result<(), String> {
    let sources = four_namespaces(paths)?;
    let out = paths.generated();
    let stamp = paths.perf.join("generated.rev");
    if let Some(rev) = rev {
        let commit = git(
            &paths.root,
            &["rev-parse", "--verify", &format!("{rev}^{{commit}}")],
        )?;
        let lexicons = paths.perf.join("lexicons");
        let _ = std::fs::remove_dir_all(&lexicons);
        for source in &sources {
            let target = lexicons.join(source.relative_path.as_ref().expect("filtered on it"));
            std::fs::create_dir_all(target.parent().expect("a file has a folder"))
                .map_err(|e| e.to_string())?;
            std::fs::write(&target, &source.text).map_err(|e| e.to_string())?;
        }
        let tree = paths.perf.join("rev").join(&commit[..12]);
        if !tree.join("Cargo.toml").is_file() {
            std::fs::create_dir_all(&tree).map_err(|e| e.to_string())?;
            let archive = format!(
                "git -C '{}' archive {commit} | tar -x -C '{}'",
                paths.root.display(),
                tree.display()
            );
            status(Command::new("sh").args(["-c", &archive]), "git archive")?;
        }
        println!("generating with the codegen of {}", &commit[..12]);
        status(
            Command::new("cargo")
                .current_dir(&tree)
                .env("CARGO_TARGET_DIR", paths.perf.join("rev-cargo"))
                .args([
                    "run",
                    "--quiet",
                    "--release",
                    "--package",
                    "xtask",
                    "--",
                    "gen",
                ])
                .arg("--lexicons")
                .arg(&lexicons)
                .arg("--out")
                .arg(&out)
                .args(["--crate-name", "atproto-api"]),
            "the older generator",
        )?;
        std::fs::write(&stamp, &commit).map_err(|e| e.to_string())?;
        return Ok(());
    }
    let started = Instant::now();
    let files = codegen::generate(&sources, &CrateOptions::default()).map_err(|d| d.to_string())?;
    let elapsed = started.elapsed();
    let plan = codegen::sync::plan(&files, &out).map_err(|e| e.to_string())?;
    for path in &plan.write {
        let target = out.join(path);
        std::fs::create_dir_all(target.parent().expect("a file has a folder"))
            .map_err(|e| e.to_string())?;
        std::fs::write(&target, &files[path]).map_err(|e| e.to_string())?;
    }
    for path in &plan.remove {
        std::fs::remove_file(out.join(path)).map_err(|e| e.to_string())?;
    }
    let head = git(&paths.root, &["rev-parse", "HEAD"]).unwrap_or_default();
    let dirty = git(&paths.root, &["status", "--porcelain", "--", "codegen"])
        .map(|s| !s.is_empty())
        .unwrap_or(false);
    let label = format!(
        "{head}{}",
        if dirty { " + uncommitted codegen/" } else { "" }
    );
    std::fs::write(&stamp, &label).map_err(|e| e.to_string())?;
    println!(
        "target/perf/generated: {} documents -> {} files ({} written, {} removed) in {:.0} ms (debug xtask), codegen {label}",
        sources.len(),
        files.len(),
        plan.write.len(),
        plan.remove.len(),
        elapsed.as_secs_f64() * 1e3
    );
    Ok(())
}

/// Which generator made `target/perf/generated` (the stamp `perf-gen` writes).
fn generated_by(paths: &Paths) -> String {
    std::fs::read_to_string(paths.perf.join("generated.rev"))
        .map(|s| {
            let s = s.trim();
            let (commit, rest) = s.split_at(s.len().min(12));
            let rest = rest.trim_start_matches(|c: char| c.is_ascii_hexdigit());
            format!("{commit}{rest}")
        })
        .unwrap_or_else(|_| "(unknown)".into())
}

fn git(root: &Path, args: &[&str]) -> Result<String, String> {
    let output = Command::new("git")
        .current_dir(root)
        .args(args)
        .output()
        .map_err(|e| format!("git: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn status(command: &mut Command, what: &str) -> Result<(), String> {
    let status = command.status().map_err(|e| format!("{what}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

// ---------------------------------------------------------------------------------------------
// bench-parse

/// Runs one criterion bench target of `perf/` (`ARGS` go to criterion) with its results under
/// `target/perf/criterion`, which it returns.
fn run_criterion(paths: &Paths, bench: &str, args: &[String]) -> Result<PathBuf, String> {
    let criterion_home = paths.perf.join("criterion");
    status(
        Command::new("cargo")
            .env("CARGO_TARGET_DIR", paths.perf.join("cargo"))
            .env("CRITERION_HOME", &criterion_home)
            .env("PERF_DATA_DIR", paths.perf.join("data"))
            .arg("bench")
            .arg("--manifest-path")
            .arg(paths.manifest())
            .args(["--bench", bench, "--"])
            .args(args),
        "cargo bench",
    )?;
    Ok(criterion_home)
}

/// One criterion benchmark's estimate: its name, time per iteration (ns), throughput bytes.
struct Estimate {
    name: String,
    ns: f64,
    bytes: u64,
}

impl Estimate {
    fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / self.ns * 1e3
    }

    fn time(&self) -> String {
        if self.ns >= 1e6 {
            format!("{:.3} ms", self.ns / 1e6)
        } else {
            format!("{:.1} µs", self.ns / 1e3)
        }
    }

    /// `base`'s time / this time: above 1, this one is faster.
    fn ratio(&self, base: Option<&Estimate>) -> String {
        base.map(|b| format!("{:.2}x", b.ns / self.ns))
            .unwrap_or_else(|| "-".into())
    }
}

/// The estimates of a criterion group's benchmarks, by name.
fn group_estimates(criterion_home: &Path, group: &str) -> Vec<Estimate> {
    let Ok(entries) = std::fs::read_dir(criterion_home.join(group)) else {
        return Vec::new();
    };
    let mut benches: Vec<Estimate> = entries
        .flatten()
        .filter(|entry| entry.file_name() != "report")
        .filter_map(|entry| {
            let (ns, bytes) = criterion_estimate(&entry.path())?;
            let name = entry.file_name().to_string_lossy().into_owned();
            Some(Estimate { name, ns, bytes })
        })
        .collect();
    benches.sort_by(|a, b| a.name.cmp(&b.name));
    benches
}

/// Runs the criterion benches and summarises their estimates as MB/s and ratios.
fn bench_parse(paths: &Paths, args: &[String]) -> Result<String, String> {
    let load = load_line();
    let criterion_home = run_criterion(paths, "parse", args)?;
    let mut summary = format!(
        "## Parse (criterion, `cargo xtask bench-parse`)\n\nours generated by codegen {}; {load}\n\n",
        generated_by(paths)
    );
    summary.push_str(
        "| bench | time per iteration | MB/s | vs atrium | vs Value |\n|---|---|---|---|---|\n",
    );
    for group in ["posts", "timeline"] {
        let benches = group_estimates(&criterion_home, group);
        let find = |prefix: &str| benches.iter().find(|b| b.name.starts_with(prefix));
        let atrium = find("atrium_record").or_else(|| find("atrium_output"));
        let value = find("serde_json_value");
        for bench in &benches {
            let _ = writeln!(
                summary,
                "| {group}/{} | {} | {:.0} | {} | {} |",
                bench.name,
                bench.time(),
                bench.mb_per_s(),
                bench.ratio(atrium),
                bench.ratio(value)
            );
        }
    }
    summary.push_str(
        "\nMB/s = 10^6 bytes of JSON per second (criterion's estimate: the slope, as it prints); `vs X` = X's time / this time (above 1: faster than X). `validate_only` and `serialize` rows are over the same bytes, for scale.\n",
    );
    let alternating: Option<serde_json::Value> =
        std::fs::read_to_string(paths.perf.join("data/parse-alternating.json"))
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok());
    if let Some(alternating) = alternating {
        let _ = writeln!(
            summary,
            "\nAlternating parses ({} rounds, one parse per side back to back, the order turning; median of each round's ratio), vs Value:\n\n| input | ours | atrium |\n|---|---|---|",
            alternating["rounds"]
        );
        for (input, ours, atrium) in [
            ("posts", "ours_record", "atrium_record"),
            ("timeline", "ours_output", "atrium_output"),
        ] {
            let ratio = |side: &str| {
                alternating[input][side]
                    .as_f64()
                    .map_or("?".into(), |r| format!("{r:.2}x"))
            };
            let _ = writeln!(summary, "| {input} | {} | {} |", ratio(ours), ratio(atrium));
        }
    }
    save(paths, "parse.md", &summary);
    Ok(summary)
}

// ---------------------------------------------------------------------------------------------
// bench-frames

/// Runs the firehose benches (`perf/benches/frames.rs`) and summarises them as frames/s, MB/s
/// and the ratio to the `Ipld` baseline, with the mix the bench wrote.
fn bench_frames(paths: &Paths, args: &[String]) -> Result<String, String> {
    let load = load_line();
    let criterion_home = run_criterion(paths, "frames", args)?;
    let mix_file = paths.perf.join("data/firehose.json");
    let mix: serde_json::Value = std::fs::read_to_string(&mix_file)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .ok_or_else(|| {
            format!(
                "{}: the bench did not describe its frames",
                mix_file.display()
            )
        })?;
    let frames = mix["frames"].as_u64().unwrap_or(0) as f64;
    let mut summary = format!(
        "## Firehose frames (criterion, `cargo xtask bench-frames`)\n\nours generated by codegen {}; {load}\n\n```\n{}\n{} records decoded per pass\n```\n\n",
        generated_by(paths),
        mix["summary"].as_str().unwrap_or_default(),
        mix["records"]
    );
    summary.push_str(
        "| bench | time per pass | frames/s | MB/s | vs Ipld | vs Ipld, alternating passes |\n|---|---|---|---|---|---|\n",
    );
    for group in ["frame", "records"] {
        let benches = group_estimates(&criterion_home, group);
        let ipld = benches.iter().find(|b| b.name == "ipld");
        for bench in &benches {
            let alternating = mix["interleaved"][group][&bench.name]["ratio"]
                .as_f64()
                .map(|r| format!("{r:.2}x"))
                .unwrap_or_else(|| "-".into());
            let _ = writeln!(
                summary,
                "| {group}/{} | {} | {:.0} | {:.0} | {} | {alternating} |",
                bench.name,
                bench.time(),
                frames / bench.ns * 1e9,
                bench.mb_per_s(),
                bench.ratio(ipld)
            );
        }
    }
    let _ = writeln!(
        summary,
        "\nA pass decodes every frame once. `frame`: the frame alone (typed `Message::read_frame` against two `Ipld` values); `records`: the frame, the CAR slice with every block's SHA-256 checked, and each created or updated record (typed `AnyRecord` against `Ipld`; `ipld_our_car` is the baseline with our `Car::read`). MB/s = 10^6 bytes of frames per second (criterion's mean); `vs Ipld` = the `ipld` time / this time (above 1: faster than `Ipld`), from criterion's runs one after the other, and as the median over {} rounds of one pass per side back to back, which other work on the machine disturbs less.",
        mix["rounds"]
    );
    save(paths, "frames.md", &summary);
    Ok(summary)
}

/// Time per iteration (ns) and throughput bytes of one criterion benchmark folder.
fn criterion_estimate(dir: &Path) -> Option<(f64, u64)> {
    let read = |file: &str| -> Option<serde_json::Value> {
        serde_json::from_str(&std::fs::read_to_string(dir.join("new").join(file)).ok()?).ok()
    };
    let estimates = read("estimates.json")?;
    // The figure criterion prints: the slope of the linear fit when it sampled that way.
    let mean = estimates
        .pointer("/slope/point_estimate")
        .and_then(serde_json::Value::as_f64)
        .or_else(|| estimates.pointer("/mean/point_estimate")?.as_f64())?;
    let benchmark = read("benchmark.json")?;
    let throughput = benchmark.get("throughput")?;
    let bytes = throughput
        .get("BytesDecimal")
        .or_else(|| throughput.get("Bytes"))?
        .as_u64()?;
    Some((mean, bytes))
}

// ---------------------------------------------------------------------------------------------
// bench-repo

/// Runs `perf-repo` (release) on the repository exports and summarises peak heap and time of
/// the in-memory and the bounded reading as a table.
fn bench_repo(paths: &Paths, args: &[String]) -> Result<String, String> {
    let mut passed: Vec<String> = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            option @ ("--runs" | "--sizes") => {
                let value = args
                    .next()
                    .ok_or_else(|| format!("{option} needs a value\n{USAGE}"))?;
                passed.extend([option.to_owned(), value.clone()]);
            }
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    let load = load_line();
    let json_file = paths.results().join("repo.json");
    status(
        Command::new("cargo")
            .env("CARGO_TARGET_DIR", paths.perf.join("cargo"))
            .env("PERF_DATA_DIR", paths.perf.join("data"))
            .args(["run", "--quiet", "--release", "--bin", "perf-repo"])
            .arg("--manifest-path")
            .arg(paths.manifest())
            .arg("--")
            .arg("--json")
            .arg(&json_file)
            .args(&passed),
        "perf-repo",
    )?;
    let results: serde_json::Value = std::fs::read_to_string(&json_file)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .ok_or_else(|| format!("{}: perf-repo wrote no results", json_file.display()))?;
    let median = |seconds: &serde_json::Value| {
        let mut all: Vec<f64> = seconds
            .as_array()
            .map(|a| a.iter().filter_map(serde_json::Value::as_f64).collect())
            .unwrap_or_default();
        all.sort_by(f64::total_cmp);
        all.get(all.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let number = |value: &serde_json::Value| value.as_f64().unwrap_or(f64::NAN);
    let mut summary = format!(
        "## Repository export (`cargo xtask bench-repo`)\n\nours generated by codegen {}; {load}\n\n",
        generated_by(paths)
    );
    summary.push_str(
        "| records | blocks | CAR file | in memory: peak heap | time | `CarFile`: peak heap | time | peak per record | index per block | walk above the index |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let sizes = results["sizes"].as_array().cloned().unwrap_or_default();
    for size in &sizes {
        let export = &size["export"];
        let records = number(&export["records"]);
        let blocks = number(&export["blocks"]);
        let file = &size["file"];
        let _ = writeln!(
            summary,
            "| {records} | {blocks} | {:.1} MB | {:.1} MB | {:.3} s | {:.1} MB | {:.3} s ({:.3} s opening) | {:.0} B | {:.0} B | {:.1} KB |",
            number(&export["bytes"]) / 1e6,
            number(&size["memory"]["peak"]) / 1e6,
            median(&size["memory"]["seconds"]),
            number(&file["peak"]) / 1e6,
            median(&file["seconds"]),
            median(&file["open_seconds"]),
            number(&file["peak"]) / records,
            number(&file["index"]) / blocks,
            number(&file["walk"]) / 1e3,
        );
    }
    let mix = sizes
        .first()
        .and_then(|size| size["export"]["collections"].as_object())
        .map(|collections| {
            let counts: Vec<String> = collections
                .iter()
                .map(|(collection, n)| format!("{n} {collection}"))
                .collect();
            counts.join(", ")
        })
        .unwrap_or_default();
    let _ = writeln!(
        summary,
        "\nEach export is `com.atproto.sync.getRepo`'s CAR file made by `perf/src/export.rs` (seeded; kept in `target/perf/data/repo-N.car`): the signed commit at the root, every tree node and record block in the PDS's order (revision, then CID, descending), not the tree's; records: {mix} for the first size, in the same proportions for the others. `in memory`: `std::fs::read`, `Car::read`, `repo_records()`, `AnyRecord::from_cbor` for each record; `CarFile`: `CarFile::open(BufReader<File>)`, its `repo_records()` iterated, `AnyRecord::from_cbor` for each, each dropped. Both are checked first to walk to the same keys, CIDs and bytes in the same order, exactly the keys written, every record typed. Peak heap: the most bytes live at once during a pass, above what was live before it (a counting global allocator; MB = 10^6 bytes); `index per block`: what the open `CarFile` holds; `walk above the index`: the most the walk added to it. Time: the median of {} passes of each, alternating, the file in the page cache.",
        results["runs"]
    );
    save(paths, "repo.md", &summary);
    Ok(summary)
}

// ---------------------------------------------------------------------------------------------
// bench-instructions

/// Instructions per parse, counted by callgrind: slower to take than criterion's times but
/// the same on a busy machine, so before/after comparisons work while others build.
/// Each count is (run with N parses - run with none) / N, so data generation drops out.
fn bench_instructions(paths: &Paths) -> Result<String, String> {
    let target = paths.perf.join("profile");
    println!("bench-instructions: building perf-profile (release, line tables)");
    status(
        Command::new("cargo")
            .env("CARGO_TARGET_DIR", &target)
            .env("CARGO_PROFILE_RELEASE_DEBUG", "line-tables-only")
            .args(["build", "--quiet", "--release", "--bin", "perf-profile"])
            .arg("--manifest-path")
            .arg(paths.manifest()),
        "cargo build --bin perf-profile",
    )?;
    let binary = target.join("release/perf-profile");
    let out = paths.perf.join("callgrind");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let count = |data: &str, parser: &str, n: usize| -> Result<f64, String> {
        let file = out.join(format!("{data}-{parser}-{n}.out"));
        let output = Command::new("valgrind")
            .arg("--tool=callgrind")
            .arg(format!("--callgrind-out-file={}", file.display()))
            .arg(&binary)
            .args([data, parser, &n.to_string()])
            .output()
            .map_err(|e| format!("valgrind: {e} (apt-get install valgrind)"))?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            return Err(format!("valgrind {data} {parser}: {stderr}"));
        }
        stderr
            .lines()
            .find_map(|l| l.split("Collected :").nth(1))
            .and_then(|n| n.trim().parse().ok())
            .ok_or_else(|| format!("no instruction count from valgrind:\n{stderr}"))
    };
    const N: usize = 10;
    let mut s = format!(
        "## Parse, instructions (callgrind, `cargo xtask bench-instructions`)\n\nours generated by codegen {}; instructions per parse of the whole input, (run with {N} parses - run with none) / {N}\n\n| input | parser | instructions | per byte | vs atrium | vs Value |\n|---|---|---|---|---|---|\n",
        generated_by(paths)
    );
    for data in ["posts", "timeline"] {
        let base = count(data, "value", 0)?;
        let mut rows = Vec::new();
        for parser in ["ours", "ours-validate", "atrium", "value"] {
            let per = (count(data, parser, N)? - base) / N as f64;
            println!("  {data} {parser}: {per:.0} instructions per parse");
            rows.push((parser, per));
        }
        let len = std::fs::read_to_string(paths.perf.join("data").join(format!("{data}.json")))
            .map(|t| t.len() as f64)
            .unwrap_or(f64::NAN);
        let of = |name: &str| rows.iter().find(|r| r.0 == name).map(|r| r.1);
        let (atrium, value) = (of("atrium"), of("value"));
        for (parser, per) in &rows {
            let ratio = |b: Option<f64>| b.map(|b| format!("{:.2}x", b / per)).unwrap_or_default();
            let _ = writeln!(
                s,
                "| {data} | {parser} | {:.2} M | {:.1} | {} | {} |",
                per / 1e6,
                per / len,
                ratio(atrium),
                ratio(value)
            );
        }
    }
    s.push_str("\n`vs X` = X's instructions / these (above 1: fewer than X). Per byte needs target/perf/data (written by bench-parse or perf-data).\n");
    save(paths, "instructions.md", &s);
    Ok(s)
}

// ---------------------------------------------------------------------------------------------
// bench-compile

struct CompileOptions {
    release: bool,
    runs: usize,
    /// Features of ours beyond its defaults (the four namespaces): none by default, as atrium
    /// is built with none beyond its namespaces.
    features: Vec<String>,
    /// Extra flags for the two measured rustc invocations only (`-Z` allowed), for profiling.
    rustc_flags: String,
}

impl CompileOptions {
    fn parse(args: &[String]) -> Result<CompileOptions, String> {
        let mut options = CompileOptions {
            release: false,
            runs: 3,
            features: Vec::new(),
            rustc_flags: String::new(),
        };
        let mut rest = Vec::new();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--release" => options.release = true,
                "--rustc-flags" => {
                    options.rustc_flags = args.next().ok_or("--rustc-flags needs a value")?.clone()
                }
                "--features" => {
                    let list = args.next().ok_or("--features needs a value")?;
                    options.features = list.split(',').map(str::to_owned).collect();
                }
                _ => rest.push(arg.clone()),
            }
        }
        options.runs = runs_option(&rest, 3)?;
        Ok(options)
    }
}

/// What the rustc wrapper recorded for one invocation.
#[derive(Debug, Clone)]
struct Rustc {
    krate: String,
    wall: f64,
    user: f64,
    max_rss_kb: u64,
}

/// Builds the perf crate's dependencies once, then for each run and each API crate: removes
/// that crate's artifacts (`cargo clean -p`) and times `cargo build -p` of it alone. rustc runs
/// under `/usr/bin/time` (a `RUSTC_WRAPPER`), which gives its wall time and peak RSS.
/// Incremental compilation is off for both: cargo turns it on for path dependencies (ours)
/// but never for registry crates (atrium-api), which would not be a fair race.
fn bench_compile(paths: &Paths, options: &CompileOptions) -> Result<String, String> {
    let profile = if options.release { "release" } else { "debug" };
    let target = paths.perf.join("compile");
    std::fs::create_dir_all(&target).map_err(|e| e.to_string())?;
    let wrapper = paths.perf.join("rustc-time.sh");
    std::fs::write(&wrapper, WRAPPER).map_err(|e| e.to_string())?;
    make_executable(&wrapper)?;
    let log = paths.perf.join(format!("rustc-{profile}.log"));
    let manifest = compile_manifest(paths, &options.features)?;
    let cargo = |args: &[&str]| {
        let mut command = Command::new("cargo");
        command
            .env("CARGO_TARGET_DIR", &target)
            .env("CARGO_INCREMENTAL", "0")
            .env("RUSTC_WRAPPER", &wrapper)
            .env("PERF_RUSTC_LOG", &log)
            .env("PERF_CRATES", format!("{OURS} {ATRIUM}"))
            .env("PERF_RUSTC_FLAGS", &options.rustc_flags)
            .args(args)
            .arg("--manifest-path")
            .arg(&manifest);
        if options.release {
            command.arg("--release");
        }
        command
    };
    println!("bench-compile ({profile}): building the dependencies once");
    status(&mut cargo(&["build", "--quiet", "--lib"]), "cargo build")?;

    let mut results: Vec<(&str, Vec<(Rustc, f64)>)> = vec![(OURS, vec![]), (ATRIUM, vec![])];
    let mut loads = Vec::new();
    for run in 1..=options.runs {
        for (krate, samples) in &mut results {
            let package = krate.replace('_', "-");
            let (rustc, wall) = build_alone(&cargo, &log, &package, &mut loads)?;
            println!(
                "  run {run}: {package}: rustc {:.1} s (user {:.1} s), peak RSS {} MB; cargo build {:.1} s",
                rustc.wall,
                rustc.user,
                rustc.max_rss_kb / 1024,
                wall
            );
            samples.push((rustc, wall));
        }
    }
    let (ours, atrium) = (stats(&results[0].1), stats(&results[1].1));
    let lines = |dir: &Path| source_lines(dir);
    let ours_lines = lines(&paths.generated().join("src"));
    let atrium_lines = registry_source("atrium-api-0.26.0")
        .map(|d| source_lines(&d.join("src")))
        .unwrap_or((0, 0));
    let mut s = format!(
        "## Compile, {profile}, the API crate alone (`cargo xtask bench-compile{}`)\n\n",
        if options.release { " --release" } else { "" }
    );
    let _ = writeln!(
        s,
        "ours generated by codegen {}, features: {}. {} runs each, interleaved, dependencies prebuilt, CARGO_INCREMENTAL=0{}; {}\n",
        generated_by(paths),
        if options.features.is_empty() {
            "default (the four namespaces)".to_owned()
        } else {
            format!("default and `{}`", options.features.join(","))
        },
        options.runs,
        if options.rustc_flags.is_empty() {
            String::new()
        } else {
            format!(", extra rustc flags `{}`", options.rustc_flags)
        },
        load_note(&loads),
    );
    s.push_str("| crate | rustc wall (median, min) | rustc user | peak RSS | `cargo build -p` wall | source |\n|---|---|---|---|---|---|\n");
    for (name, st, (files, lines)) in [
        ("ours (atproto-api, 394 documents)", &ours, ours_lines),
        ("atrium-api 0.26.0", &atrium, atrium_lines),
    ] {
        let _ = writeln!(
            s,
            "| {name} | {:.1} s, {:.1} s | {:.1} s | {} MB | {:.1} s | {files} files, {lines} lines |",
            st.wall_median,
            st.wall_min,
            st.user_median,
            st.rss_max_kb / 1024,
            st.cargo_median
        );
    }
    let _ = writeln!(
        s,
        "\nratio ours/atrium: time {:.2} (median), {:.2} (min); peak RSS {:.2}. Goal (issue 14): time at most 0.35, RSS at most 0.5.",
        ours.wall_median / atrium.wall_median,
        ours.wall_min / atrium.wall_min,
        ours.rss_max_kb as f64 / atrium.rss_max_kb as f64
    );
    save(paths, &format!("compile-{profile}.md"), &s);
    Ok(s)
}

/// One measured build: removes `package`'s artifacts (`cargo clean -p`), samples the cores
/// other work keeps busy (into `loads`), and builds it alone with the wrapper logging to
/// `log`. Returns what the wrapper recorded for its rustc run and the `cargo build` wall time;
/// fails if anything but that crate was compiled.
fn build_alone(
    cargo: &dyn Fn(&[&str]) -> Command,
    log: &Path,
    package: &str,
    loads: &mut Vec<f64>,
) -> Result<(Rustc, f64), String> {
    let krate = package.replace('-', "_");
    status(
        &mut cargo(&["clean", "--quiet", "--package", package]),
        "cargo clean",
    )?;
    loads.push(busy_cores());
    let _ = std::fs::remove_file(log);
    let started = Instant::now();
    status(
        &mut cargo(&["build", "--quiet", "--package", package]),
        "cargo build",
    )?;
    let wall = started.elapsed().as_secs_f64();
    let invocations = read_wrapper_log(log);
    let others: Vec<&str> = invocations
        .iter()
        .map(|r| r.krate.as_str())
        .filter(|k| *k != krate)
        .collect();
    if !others.is_empty() {
        return Err(format!(
            "building {package} alone also compiled {others:?}: the measurement would not be of the crate alone"
        ));
    }
    let rustc = invocations
        .into_iter()
        .find(|r| r.krate == krate)
        .ok_or_else(|| format!("no rustc invocation of {krate} was recorded"))?;
    Ok((rustc, wall))
}

/// What the load samples taken before each build say, for a report: each sample, the largest,
/// the load average at the end, and a warning when the machine was not idle.
fn load_note(loads: &[f64]) -> String {
    let max = loads.iter().cloned().fold(0.0, f64::max);
    let samples: Vec<String> = loads.iter().map(|l| format!("{l:.2}")).collect();
    format!(
        "cores busy with other work in the second before each build: {} (max {max:.2}; 1-minute load average at the end {:.2}){}",
        samples.join(", "),
        load_average(),
        if max > 0.3 {
            " — the machine was not idle: these are upper bounds, compare the ratios"
        } else {
            ""
        }
    )
}

/// The package `bench-compile` builds its two crates in: ours with its default features and
/// `features`, atrium-api as `perf/Cargo.toml` has it. A package of its own (under
/// `target/perf/compile-crate`), so that what the other benches turn on in ours (`dag-cbor`,
/// for the frames) is not in the measurement unless asked for. It starts from the harness's
/// lockfile, so both build the same dependency versions as every other bench.
fn compile_manifest(paths: &Paths, features: &[String]) -> Result<PathBuf, String> {
    let dir = paths.perf.join("compile-crate");
    std::fs::create_dir_all(dir.join("src")).map_err(|e| e.to_string())?;
    let features = features
        .iter()
        .map(|f| format!("{f:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let manifest = format!(
        "# Written by `cargo xtask bench-compile`.\n\
         [package]\nname = \"perf-compile\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\n\
         atproto-api = {{ path = \"../generated\", features = [{features}] }}\n\
         atrium-api = {{ version = \"=0.26.0\", default-features = false, features = [\"namespace-appbsky\", \"namespace-chatbsky\", \"namespace-toolsozone\"] }}\n\n\
         [workspace]\n"
    );
    let path = dir.join("Cargo.toml");
    write_if_changed(&path, &manifest)?;
    write_if_changed(&dir.join("src/lib.rs"), "")?;
    let lock = dir.join("Cargo.lock");
    if !lock.exists() {
        std::fs::copy(paths.root.join("perf/Cargo.lock"), &lock).map_err(|e| e.to_string())?;
    }
    Ok(path)
}

/// Writes `text` unless the file already has it (so cargo sees no change).
fn write_if_changed(path: &Path, text: &str) -> Result<(), String> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

const WRAPPER: &str = r#"#!/bin/sh
# RUSTC_WRAPPER of `cargo xtask bench-compile`: runs rustc under /usr/bin/time for the crates
# named in PERF_CRATES and appends "crate wall user sys maxrss_kb" to PERF_RUSTC_LOG; other
# rustc invocations are logged by name only, so a build that compiles more than the crate shows.
# PERF_RUSTC_FLAGS (split on spaces) is added to the measured invocations only; -Z flags work.
rustc="$1"; shift
name=""; prev=""
for arg in "$@"; do
  if [ "$prev" = "--crate-name" ]; then name="$arg"; fi
  prev="$arg"
done
case " $PERF_CRATES " in
  *" $name "*)
    if [ -n "$PERF_RUSTC_FLAGS" ]; then
      export RUSTC_BOOTSTRAP=1
      set -- "$@" $PERF_RUSTC_FLAGS
    fi
    exec /usr/bin/time -a -o "$PERF_RUSTC_LOG" -f "$name %e %U %S %M" "$rustc" "$@" ;;
esac
case "$name" in
  ""|___|build_script_build) ;;
  *) echo "$name - - - -" >> "$PERF_RUSTC_LOG" ;;
esac
exec "$rustc" "$@"
"#;

fn make_executable(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn read_wrapper_log(log: &Path) -> Vec<Rustc> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 5 {
                return None;
            }
            Some(Rustc {
                krate: f[0].to_owned(),
                wall: f[1].parse().unwrap_or(f64::NAN),
                user: f[2].parse().unwrap_or(f64::NAN),
                max_rss_kb: f[4].parse().unwrap_or(0),
            })
        })
        .collect()
}

struct Stats {
    wall_median: f64,
    wall_min: f64,
    user_median: f64,
    rss_max_kb: u64,
    cargo_median: f64,
}

fn stats(samples: &[(Rustc, f64)]) -> Stats {
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    };
    Stats {
        wall_median: median(samples.iter().map(|s| s.0.wall).collect()),
        wall_min: samples
            .iter()
            .map(|s| s.0.wall)
            .fold(f64::INFINITY, f64::min),
        user_median: median(samples.iter().map(|s| s.0.user).collect()),
        rss_max_kb: samples.iter().map(|s| s.0.max_rss_kb).max().unwrap_or(0),
        cargo_median: median(samples.iter().map(|s| s.1).collect()),
    }
}

/// `(files, lines)` of the `.rs` files below `dir`.
fn source_lines(dir: &Path) -> (usize, usize) {
    let mut totals = (0, 0);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return totals;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            let (f, l) = source_lines(&path);
            totals.0 += f;
            totals.1 += l;
        } else if path.extension().is_some_and(|e| e == "rs") {
            totals.0 += 1;
            totals.1 += std::fs::read_to_string(&path)
                .map(|t| t.lines().count())
                .unwrap_or(0);
        }
    }
    totals
}

/// The unpacked source of a crates.io crate in cargo's registry, if it is there.
fn registry_source(name_version: &str) -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    std::fs::read_dir(home.join("registry/src"))
        .ok()?
        .flatten()
        .map(|index| index.path().join(name_version))
        .find(|p| p.is_dir())
}

// ---------------------------------------------------------------------------------------------
// bench-codegen

/// Times `lex build` (npm `@atproto/lex`, pinned in `perf/lex/`) and our `xtask gen` (release
/// build) on the same 402 upstream documents, output folder removed before every run, runs
/// interleaved; both format their output (prettier / prettyplease).
fn bench_codegen(paths: &Paths, runs: usize) -> Result<String, String> {
    let xtask_target = paths.perf.join("xtask");
    println!("bench-codegen: building xtask (release)");
    status(
        Command::new("cargo")
            .env("CARGO_TARGET_DIR", &xtask_target)
            .current_dir(&paths.root)
            .args(["build", "--quiet", "--release", "--package", "xtask"]),
        "cargo build --release -p xtask",
    )?;
    let xtask = xtask_target.join("release/xtask");
    let lex_dir = paths.perf.join("lex");
    let lex = lex_dir.join("node_modules/.bin/lex");
    if !lex.exists() {
        println!(
            "bench-codegen: installing @atproto/lex (npm ci, pinned by perf/lex/package-lock.json)"
        );
        std::fs::create_dir_all(&lex_dir).map_err(|e| e.to_string())?;
        for file in ["package.json", "package-lock.json"] {
            std::fs::copy(paths.root.join("perf/lex").join(file), lex_dir.join(file))
                .map_err(|e| format!("perf/lex/{file}: {e}"))?;
        }
        status(
            Command::new("npm").current_dir(&lex_dir).args([
                "ci",
                "--no-audit",
                "--no-fund",
                "--silent",
            ]),
            "npm ci",
        )?;
    }
    let lex_version =
        std::fs::read_to_string(lex_dir.join("node_modules/@atproto/lex/package.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v.get("version")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| "(unknown version)".into());
    let documents = codegen::read_lexicon_dir(&paths.corpus)
        .map_err(|e| e.to_string())?
        .len();
    let out = paths.perf.join("codegen-out");
    let ours_out = out.join("ours");
    let lex_out = out.join("lex");
    let ours_command = || {
        let mut c = Command::new(&xtask);
        c.arg("gen")
            .arg("--lexicons")
            .arg(&paths.corpus)
            .arg("--out")
            .arg(&ours_out);
        c
    };
    let lex_command = || {
        let mut c = Command::new(&lex);
        c.arg("build")
            .arg("--lexicons")
            .arg(&paths.corpus)
            .arg("--out")
            .arg(&lex_out)
            .arg("--clear");
        c
    };
    // Each run under /usr/bin/time: wall, CPU (user + sys, less sensitive to other load) and
    // peak RSS of the generator process.
    let time_log = paths.perf.join("codegen-time.log");
    let timed = |command: Command, clear: &Path| -> Result<Run, String> {
        let _ = std::fs::remove_dir_all(clear);
        let mut wrapped = Command::new("/usr/bin/time");
        wrapped
            .arg("-o")
            .arg(&time_log)
            .args(["-f", "%e %U %S %M"])
            .arg(command.get_program())
            .args(command.get_args());
        let output = wrapped
            .output()
            .map_err(|e| format!("/usr/bin/time: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "{command:?} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let log = std::fs::read_to_string(&time_log).map_err(|e| e.to_string())?;
        let f: Vec<f64> = log
            .lines()
            .last()
            .unwrap_or_default()
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(f64::NAN))
            .collect();
        if f.len() < 4 {
            return Err(format!("unexpected /usr/bin/time output: {log}"));
        }
        Ok(Run {
            wall: f[0],
            cpu: f[1] + f[2],
            rss_mb: f[3] / 1024.0,
        })
    };
    // One warm-up each (file cache, node's compile cache), not counted.
    timed(ours_command(), &ours_out)?;
    timed(lex_command(), &lex_out)?;
    let (mut ours, mut theirs, mut loads) = (Vec::new(), Vec::new(), Vec::new());
    for run in 1..=runs {
        loads.push(busy_cores());
        let a = timed(ours_command(), &ours_out)?;
        let b = timed(lex_command(), &lex_out)?;
        println!(
            "  run {run}: ours {:.3} s (CPU {:.3} s), lex build {:.2} s (CPU {:.2} s)",
            a.wall, a.cpu, b.wall, b.cpu
        );
        ours.push(a);
        theirs.push(b);
    }
    let median = |runs: &[Run], f: fn(&Run) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let min = |runs: &[Run]| runs.iter().map(|r| r.wall).fold(f64::INFINITY, f64::min);
    let mut s = String::from("## Codegen speed (`cargo xtask bench-codegen`)\n\n");
    let _ = writeln!(
        s,
        "{documents} upstream documents, {runs} interleaved runs after one warm-up each, output folder removed before each run; cores busy with other work before each pair: {}\n",
        loads
            .iter()
            .map(|l| format!("{l:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    s.push_str("| generator | wall median | wall min | CPU median (user+sys) | peak RSS | files written |\n|---|---|---|---|---|---|\n");
    for (name, runs, out) in [
        ("ours (`xtask gen`, release)".to_owned(), &ours, &ours_out),
        (
            format!("`@atproto/lex` {lex_version} `lex build`"),
            &theirs,
            &lex_out,
        ),
    ] {
        let _ = writeln!(
            s,
            "| {name} | {:.3} s | {:.3} s | {:.3} s | {:.0} MB | {} |",
            median(runs, |r| r.wall),
            min(runs),
            median(runs, |r| r.cpu),
            median(runs, |r| r.rss_mb),
            source_lines_any(out)
        );
    }
    let _ = writeln!(
        s,
        "\nratio lex/ours: {:.1}x (wall, median), {:.1}x (wall, min), {:.1}x (CPU, median). Goal: ours under 1 s and at least 10x.",
        median(&theirs, |r| r.wall) / median(&ours, |r| r.wall),
        min(&theirs) / min(&ours),
        median(&theirs, |r| r.cpu) / median(&ours, |r| r.cpu)
    );
    save(paths, "codegen.md", &s);
    Ok(s)
}

struct Run {
    wall: f64,
    cpu: f64,
    rss_mb: f64,
}

fn source_lines_any(dir: &Path) -> usize {
    let mut n = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                n += source_lines_any(&path);
            } else {
                n += 1;
            }
        }
    }
    n
}

// ---------------------------------------------------------------------------------------------
// bench-layered

/// The third-party lexicon sets `bench-layered` layers on the base (folder under
/// `../shared/corpus/third-party`, package name), smallest first. All six sets there generate
/// on the base; these are the smallest (7 documents), one of middle size (33, with a
/// subscription and 13 copies of base documents left out) and the largest (69): sizes far
/// apart, so that a time proportional to a layer's own documents and a fixed cost set by the
/// base's size tell apart.
const LAYERED_SETS: &[(&str, &str)] = &[
    ("skyblur", "skyblur-api"),
    ("streamplace", "streamplace-api"),
    ("grain", "grain-api"),
];

/// One crate `bench-layered` builds: the base or a layer on it.
struct LayeredCrate {
    /// What the report calls it: `base (atproto-api)`, `grain (grain-api)`.
    label: String,
    package: String,
    dir: PathBuf,
    /// The documents it generates (not its base's, nor copies of them it skipped).
    documents: usize,
}

/// Generates `set` (a folder of `../shared/corpus/third-party`) into
/// `target/perf/layered/<set>`, layered on the perf crate, as the codegen library does for an
/// app's own tooling. Returns the crate and a line on what generating it said.
fn generate_layered(
    paths: &Paths,
    set: &str,
    package: &str,
) -> Result<(LayeredCrate, String), String> {
    let lexicons = paths.root.join("../shared/corpus/third-party").join(set);
    let sources = codegen::read_lexicon_dir(&lexicons)
        .map_err(|e| format!("cannot read the third-party set {set}: {e}"))?;
    let out = paths.perf.join("layered").join(set);
    let options = codegen::Options {
        krate: CrateOptions {
            name: package.to_owned(),
            version: "0.1.0".to_owned(),
        },
        bases: vec![codegen::Base::from_crate_dir(&paths.generated(), &out)?],
        deny_warnings: false,
    };
    let generated = codegen::generate_with(&[&sources], &options)
        .map_err(|d| format!("the third-party set {set} does not generate on the base:\n{d}"))?;
    let plan = codegen::sync::plan(&generated.files, &out).map_err(|e| e.to_string())?;
    codegen::sync::apply(&plan, &generated.files, &out)?;
    let skipped = generated
        .diagnostics
        .iter()
        .filter(|d| d.severity == codegen::Severity::Note && d.message.contains("provided by"))
        .count();
    let mut warnings: Vec<&str> = generated
        .diagnostics
        .iter()
        .filter(|d| d.severity == codegen::Severity::Warning)
        .map(|d| d.rule)
        .collect();
    warnings.sort_unstable();
    warnings.dedup();
    let said = format!(
        "{set}: {} files, {} documents generated, {skipped} skipped as provided by the base; \
         warnings: {}",
        sources.len(),
        generated.documents,
        match generated.diagnostics.count(codegen::Severity::Warning) {
            0 => "none".to_owned(),
            n => format!("{n} (`{}`)", warnings.join("`, `")),
        }
    );
    let krate = LayeredCrate {
        label: format!("{set} ({package})"),
        package: package.to_owned(),
        dir: out,
        documents: generated.documents,
    };
    Ok((krate, said))
}

/// The package `bench-layered` builds in (`target/perf/layered-crate`): the base with its
/// default features (the four namespaces) and every layered crate with theirs, so the base is
/// built once, as each layer sees it. Seeded with the harness's lockfile.
fn layered_manifest(paths: &Paths, crates: &[LayeredCrate]) -> Result<PathBuf, String> {
    let dir = paths.perf.join("layered-crate");
    std::fs::create_dir_all(dir.join("src")).map_err(|e| e.to_string())?;
    let mut manifest = "# Written by `cargo xtask bench-layered`.\n\
         [package]\nname = \"perf-layered\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\n"
        .to_owned();
    for krate in crates {
        let path = krate
            .dir
            .strip_prefix(&paths.perf)
            .map_err(|_| format!("{} is not below target/perf", krate.dir.display()))?;
        let path = Path::new("..").join(path).display().to_string();
        let _ = writeln!(manifest, "{} = {{ path = {path:?} }}", krate.package);
    }
    manifest.push_str("\n[workspace]\n");
    let path = dir.join("Cargo.toml");
    write_if_changed(&path, &manifest)?;
    write_if_changed(&dir.join("src/lib.rs"), "")?;
    let lock = dir.join("Cargo.lock");
    if !lock.exists() {
        std::fs::copy(paths.root.join("perf/Cargo.lock"), &lock).map_err(|e| e.to_string())?;
    }
    Ok(path)
}

/// Least squares `y = a + b·x` over `points`: `(a, b, r²)`, or `None` without two distinct x.
fn linear_fit(points: &[(f64, f64)]) -> Option<(f64, f64, f64)> {
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let syy: f64 = points.iter().map(|p| (p.1 - mean_y).powi(2)).sum();
    if points.len() < 2 || sxx == 0.0 {
        return None;
    }
    let b = sxy / sxx;
    let r2 = if syy == 0.0 {
        1.0
    } else {
        sxy * sxy / (sxx * syy)
    };
    Some((mean_y - b * mean_x, b, r2))
}

/// Generates the third-party sets of [`LAYERED_SETS`] as crates layered on the perf crate,
/// builds everything once, then for each run and each crate (the base first, for reference)
/// times a cold debug build of that crate alone, as `bench-compile` does: `cargo clean -p`,
/// then `cargo build -p` with rustc under the wrapper, incremental compilation off. The
/// question is whether a layer costs in proportion to its own documents, or pays a fixed
/// price for the base's size (reading its metadata).
fn bench_layered(paths: &Paths, runs: usize) -> Result<String, String> {
    let manifest: codegen::Manifest = {
        let file = paths.generated().join(codegen::manifest::FILE_NAME);
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        codegen::Manifest::parse(&text).map_err(|e| format!("{}: {e}", file.display()))?
    };
    let mut crates = vec![LayeredCrate {
        label: "base (atproto-api)".to_owned(),
        package: manifest.package.clone(),
        dir: paths.generated(),
        documents: manifest.documents.len(),
    }];
    let mut generation = Vec::new();
    for (set, package) in LAYERED_SETS {
        let (krate, said) = generate_layered(paths, set, package)?;
        println!("{said}");
        generation.push(said);
        crates.push(krate);
    }
    let root = layered_manifest(paths, &crates)?;
    let target = paths.perf.join("layered-cargo");
    let wrapper = paths.perf.join("rustc-time.sh");
    std::fs::write(&wrapper, WRAPPER).map_err(|e| e.to_string())?;
    make_executable(&wrapper)?;
    let log = paths.perf.join("rustc-layered.log");
    let measured: Vec<String> = crates.iter().map(|c| c.package.replace('-', "_")).collect();
    let cargo = |args: &[&str]| {
        let mut command = Command::new("cargo");
        command
            .env("CARGO_TARGET_DIR", &target)
            .env("CARGO_INCREMENTAL", "0")
            .env("RUSTC_WRAPPER", &wrapper)
            .env("PERF_RUSTC_LOG", &log)
            .env("PERF_CRATES", measured.join(" "))
            .env("PERF_RUSTC_FLAGS", "")
            .args(args)
            .arg("--manifest-path")
            .arg(&root);
        command
    };
    println!("bench-layered (debug): building the base, the layers and their dependencies once");
    status(&mut cargo(&["build", "--quiet", "--lib"]), "cargo build")?;

    let mut samples: Vec<Vec<(Rustc, f64)>> = crates.iter().map(|_| Vec::new()).collect();
    let mut loads = Vec::new();
    for run in 1..=runs {
        for (krate, samples) in crates.iter().zip(&mut samples) {
            let (rustc, wall) = build_alone(&cargo, &log, &krate.package, &mut loads)?;
            println!(
                "  run {run}: {}: rustc {:.1} s (user {:.1} s), peak RSS {} MB",
                krate.package,
                rustc.wall,
                rustc.user,
                rustc.max_rss_kb / 1024
            );
            samples.push((rustc, wall));
        }
    }
    let stats: Vec<Stats> = samples.iter().map(|s| stats(s)).collect();
    let sizes: Vec<(usize, usize)> = crates
        .iter()
        .map(|c| source_lines(&c.dir.join("src")))
        .collect();
    let runtime_lines = source_lines(&paths.generated().join("src/runtime")).1;
    let mut s =
        "## Layered crates, debug, each crate alone (`cargo xtask bench-layered`)\n\n".to_owned();
    let _ = writeln!(
        s,
        "{}\n\nbase: target/perf/generated (default features: the four namespaces), generated by \
         codegen {}; layers generated on it from \
         ../shared/corpus/third-party with the same codegen, each depending on the base by path. \
         {runs} runs each, interleaved, dependencies (the base included) prebuilt, \
         CARGO_INCREMENTAL=0; {}\n",
        machine(&paths.root).trim_end(),
        generated_by(paths),
        load_note(&loads),
    );
    s.push_str("| crate | documents | source | rustc wall (median, min) | rustc user | peak RSS | per document | per 1000 lines |\n|---|---|---|---|---|---|---|---|\n");
    for ((krate, st), (files, lines)) in crates.iter().zip(&stats).zip(&sizes) {
        let _ = writeln!(
            s,
            "| {} | {} | {files} files, {lines} lines | {:.2} s, {:.2} s | {:.2} s | {} MB | {:.3} s | {:.3} s |",
            krate.label,
            krate.documents,
            st.wall_median,
            st.wall_min,
            st.user_median,
            st.rss_max_kb / 1024,
            st.wall_median / krate.documents as f64,
            st.wall_median / (*lines as f64 / 1000.0)
        );
    }
    let _ = writeln!(
        s,
        "\nThe base's source includes its runtime ({runtime_lines} lines), which the layers use \
         and do not carry.\n\nGenerating the layers:\n"
    );
    for line in &generation {
        let _ = writeln!(s, "- {line}");
    }
    let layers = 1..crates.len();
    let by_documents: Vec<(f64, f64)> = layers
        .clone()
        .map(|i| (crates[i].documents as f64, stats[i].wall_median))
        .collect();
    let by_lines: Vec<(f64, f64)> = layers
        .clone()
        .map(|i| (sizes[i].1 as f64 / 1000.0, stats[i].wall_median))
        .collect();
    let rss: Vec<(f64, f64)> = layers
        .map(|i| {
            (
                crates[i].documents as f64,
                stats[i].rss_max_kb as f64 / 1024.0,
            )
        })
        .collect();
    let base = &stats[0];
    let _ = writeln!(s);
    if let (Some((a, b, r2)), Some((la, lb, lr2)), Some((ra, rb, _))) = (
        linear_fit(&by_documents),
        linear_fit(&by_lines),
        linear_fit(&rss),
    ) {
        let _ = writeln!(
            s,
            "Fit over the {} layers (medians): rustc time = {a:.2} s + {b:.3} s × documents \
             (R² {r2:.3}); by size, {la:.2} s + {lb:.3} s × 1000 lines (R² {lr2:.3}); peak RSS \
             = {ra:.0} MB + {rb:.2} MB × documents.",
            crates.len() - 1
        );
        let _ = writeln!(
            s,
            "\nThe base alone: {:.2} s, {:.3} s per document, {:.3} s per 1000 lines, {} MB. The \
             layers' fixed part ({a:.2} s, {ra:.0} MB: what a layer pays whatever its size, rustc's \
             start, reading the base's metadata, its own scaffolding) is {:.0}% of the base's time and {:.0}% of its peak RSS; their \
             cost per document is {:.2}x the base's, per 1000 lines {:.2}x.",
            base.wall_median,
            base.wall_median / crates[0].documents as f64,
            base.wall_median / (sizes[0].1 as f64 / 1000.0),
            base.rss_max_kb / 1024,
            100.0 * a / base.wall_median,
            100.0 * ra / (base.rss_max_kb as f64 / 1024.0),
            b / (base.wall_median / crates[0].documents as f64),
            lb / (base.wall_median / (sizes[0].1 as f64 / 1000.0)),
        );
    }
    let _ = writeln!(
        s,
        "\nGoal (issue 14): a layered crate compiles in time proportional to its own documents, \
         not to the base's."
    );
    save(paths, "layered.md", &s);
    Ok(s)
}

// ---------------------------------------------------------------------------------------------
// bench-size

/// The programs of `perf/binsize/`: binary name and package.
const SIZE_PROGRAMS: [(&str, &str); 2] = [("ours", "binsize-ours"), ("atrium", "binsize-atrium")];

/// Builds the two programs of `perf/binsize/` (log in, read a timeline page, write a post: on
/// our crate and on atrium-api, over the same reqwest and tokio) in release, stripped, at
/// opt-level 3 and "s", and compares their sizes. Each package is built on its own, so cargo
/// resolves its features as in a project of its own. The final rustc also asks the linker for a
/// map of the binary (`-Wl,-Map`; an argument of that crate only, so the dependencies are not
/// rebuilt for it): every input section it kept, its size and the object it came from, which
/// says where the bytes of the stripped binary come from without a second, unstripped build.
fn bench_size(paths: &Paths) -> Result<String, String> {
    let target = paths.perf.join("binsize-target");
    let out = target.join("out");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let manifest = paths.root.join("perf/binsize/Cargo.toml");
    // Per opt-level: (bytes, linker map) of each program, in SIZE_PROGRAMS' order.
    let mut built: Vec<(&str, Vec<(u64, LinkMap)>)> = Vec::new();
    for level in ["3", "s"] {
        let mut programs = Vec::new();
        for (bin, package) in SIZE_PROGRAMS {
            println!("bench-size: building {bin} (release, opt-level {level}, stripped)");
            let map = out.join(format!("{bin}-opt{level}.map"));
            let mut command = Command::new("cargo");
            command
                .env("CARGO_TARGET_DIR", &target)
                .stderr(Stdio::inherit())
                .args(["rustc", "--quiet", "--release", "--message-format=json"])
                .args(["--package", package, "--bin", bin])
                .arg("--manifest-path")
                .arg(&manifest)
                .args(["--", "-C"])
                .arg(format!("link-arg=-Wl,-Map={}", map.display()));
            // The profile says nothing of opt-level: 3 is cargo's default for release.
            if level != "3" {
                command.env("CARGO_PROFILE_RELEASE_OPT_LEVEL", level);
            }
            let output = command.output().map_err(|e| format!("cargo rustc: {e}"))?;
            if !output.status.success() {
                return Err(format!("building {bin} failed ({})", output.status));
            }
            let executable = String::from_utf8_lossy(&output.stdout)
                .lines()
                .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
                .find_map(|message| message["executable"].as_str().map(PathBuf::from))
                .ok_or_else(|| format!("cargo did not say where it wrote {bin}"))?;
            // Kept under its opt-level: the next build writes over `release/{bin}`.
            let kept = out.join(format!("{bin}-opt{level}"));
            std::fs::copy(&executable, &kept).map_err(|e| format!("{}: {e}", kept.display()))?;
            let bytes = std::fs::metadata(&kept)
                .map_err(|e| format!("{}: {e}", kept.display()))?
                .len();
            programs.push((bytes, read_link_map(&map, bin)));
        }
        built.push((level, programs));
    }

    let kib = |bytes: u64| format!("{bytes} B ({:.1} KiB)", bytes as f64 / 1024.0);
    let mut s = format!(
        "## Binary size (`cargo xtask bench-size`)\n\n{}; ours generated by codegen {}\n\n",
        machine(&paths.root),
        generated_by(paths)
    );
    s.push_str(
        "The program of `perf/binsize/`, written twice: log in (createSession), read one `app.bsky.feed.getTimeline` page (limit 10) and print how many items it has, create an `app.bsky.feed.post` record and print its URI; any error is printed and exits with 1. Ours: the generated crate (`target/perf/generated`, features `app-bsky`, `com-atproto`, `reqwest`) and its `Client::login`. atrium: atrium-api 0.26.0 (features `namespace-appbsky`, `agent`) and its `AtpAgent`, over a reqwest 0.13 client of its own (atrium-xrpc-client pins an older reqwest). Both: reqwest 0.13 with `rustls` and no default features, tokio with `rt` and `macros` on a current-thread runtime, `[profile.release]` with `strip = true` and nothing else, each package built alone (`target/perf/binsize-target`, the binaries kept in `out/`).\n\n| opt-level | ours | atrium | ours/atrium |\n|---|---|---|---|\n",
    );
    for (level, programs) in &built {
        let (ours, atrium) = (programs[0].0, programs[1].0);
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.3} |",
            if *level == "3" {
                "3 (default)"
            } else {
                "\"s\""
            },
            kib(ours),
            kib(atrium),
            ours as f64 / atrium as f64
        );
    }
    s.push_str("\nGoal: ours no larger than atrium's (ratio at most 1).\n");

    // Where the bytes of the opt-level 3 binaries come from.
    let [(_, ours), (_, atrium)] = [&built[0].1[0], &built[0].1[1]];
    if ours.pieces.is_empty() || atrium.pieces.is_empty() {
        s.push_str("\nNo breakdown: the linker maps are not in lld's format (rustc links with rust-lld by default on x86_64 Linux).\n");
        save(paths, "size.md", &s);
        return Ok(s);
    }
    s.push_str("\n### Where the bytes are (opt-level 3)\n\nFrom the linker's map of each binary. Output sections, as laid out in the file:\n\n| section | ours | atrium | difference |\n|---|---|---|---|\n");
    let mut names: Vec<&str> = ours.sections.iter().map(|(n, _)| n.as_str()).collect();
    for (name, _) in &atrium.sections {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    let section = |map: &LinkMap, name: &str| {
        map.sections
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, b)| *b as i64)
            .sum::<i64>()
    };
    let mut rows: Vec<(&str, i64, i64)> = names
        .iter()
        .map(|name| (*name, section(ours, name), section(atrium, name)))
        .collect();
    rows.sort_by_key(|(_, a, b)| std::cmp::Reverse(*a.max(b)));
    let (mut small_ours, mut small_atrium) = (0, 0);
    for (name, a, b) in rows {
        if a.max(b) < 16 * 1024 {
            small_ours += a;
            small_atrium += b;
            continue;
        }
        let _ = writeln!(s, "| `{name}` | {a} | {b} | {:+} |", a - b);
    }
    let _ = writeln!(
        s,
        "| the others (each under 16 KiB) | {small_ours} | {small_atrium} | {:+} |",
        small_ours - small_atrium
    );

    // By crate: a symbol's crate is the first path of its demangled name (an impl's self type,
    // or its trait's for a generic one; drop glue the dropped type's), so generic code counts
    // for the crate that wrote it wherever it was instantiated. Sections without a symbol
    // count for the crate of their object file.
    let by_crate = |map: &LinkMap| {
        let mut totals: std::collections::BTreeMap<String, i64> = Default::default();
        for piece in &map.pieces {
            let krate = piece
                .symbol
                .as_deref()
                .and_then(symbol_crate)
                .unwrap_or(&piece.object_crate);
            // The program's own functions count with the rest of its crate's objects.
            let krate = if SIZE_PROGRAMS.iter().any(|(bin, _)| *bin == krate) {
                "(main.rs)"
            } else {
                krate
            };
            *totals.entry(krate.to_owned()).or_default() += piece.bytes as i64;
        }
        totals
    };
    let (ours_crates, atrium_crates) = (by_crate(ours), by_crate(atrium));
    let mut crates: Vec<(&String, i64, i64)> = ours_crates
        .keys()
        .chain(
            atrium_crates
                .keys()
                .filter(|k| !ours_crates.contains_key(*k)),
        )
        .map(|k| {
            let of = |t: &std::collections::BTreeMap<String, i64>| t.get(k).copied().unwrap_or(0);
            (k, of(&ours_crates), of(&atrium_crates))
        })
        .collect();
    crates.sort_by_key(|(_, a, b)| std::cmp::Reverse(*a.max(b)));
    s.push_str("\nBy crate (code, constants, unwind and exception tables, relocated data; a generic function counts for the crate that defines it, wherever it was instantiated; `(main.rs)` is the program's own functions and what has no symbol in the objects of its crate, mostly constants of code instantiated there; `(linker)` is what the linker made: relocations, the unwind table's index, dynamic symbols):\n\n| crate | ours | atrium | difference |\n|---|---|---|---|\n");
    let (mut rest_ours, mut rest_atrium) = (0, 0);
    for (i, (name, a, b)) in crates.iter().enumerate() {
        if i >= 25 {
            rest_ours += a;
            rest_atrium += b;
            continue;
        }
        let _ = writeln!(s, "| {name} | {a} | {b} | {:+} |", a - b);
    }
    let total = |t: &std::collections::BTreeMap<String, i64>| t.values().sum::<i64>();
    let _ = writeln!(
        s,
        "| the others | {rest_ours} | {rest_atrium} | {:+} |\n| all input sections | {} | {} | {:+} |",
        rest_ours - rest_atrium,
        total(&ours_crates),
        total(&atrium_crates),
        total(&ours_crates) - total(&atrium_crates)
    );

    // Inside our crate, by module; then our largest symbols.
    let mut modules: std::collections::BTreeMap<String, i64> = Default::default();
    let mut symbols: std::collections::BTreeMap<String, i64> = Default::default();
    for piece in &ours.pieces {
        let Some(symbol) = piece.symbol.as_deref() else {
            continue;
        };
        *symbols.entry(symbol.to_owned()).or_default() += piece.bytes as i64;
        if symbol_crate(symbol) == Some(OURS) {
            *modules.entry(symbol_module(symbol)).or_default() += piece.bytes as i64;
        }
    }
    let largest = |map: std::collections::BTreeMap<String, i64>, n: usize| {
        let mut all: Vec<_> = map.into_iter().collect();
        all.sort_by_key(|(_, b)| std::cmp::Reverse(*b));
        all.truncate(n);
        all
    };
    s.push_str("\nOurs, the generated crate's share by module:\n\n| module | bytes |\n|---|---|\n");
    for (module, bytes) in largest(modules, 15) {
        let _ = writeln!(s, "| `{module}` | {bytes} |");
    }
    s.push_str(
        "\nOurs, the largest symbols (all their sections):\n\n| symbol | bytes |\n|---|---|\n",
    );
    for (symbol, bytes) in largest(symbols, 20) {
        let mut shown: String = symbol.chars().take(160).collect();
        if shown.len() < symbol.len() {
            shown.push('…');
        }
        let _ = writeln!(s, "| `{}` | {bytes} |", shown.replace('|', "\\|"));
    }
    save(paths, "size.md", &s);
    Ok(s)
}

/// What a linker map says about one binary.
struct LinkMap {
    /// The output sections that take room in the file, with their sizes.
    sections: Vec<(String, u64)>,
    /// The input sections in them.
    pieces: Vec<Piece>,
}

struct Piece {
    bytes: u64,
    /// The crate of the object file (`(main.rs)` for the program's own, `(linker)` for what the
    /// linker made, `(C runtime)` for the system's objects).
    object_crate: String,
    /// The demangled name of the function or static the section holds, without its hash.
    symbol: Option<String>,
}

/// Reads a map in lld's format (`VMA LMA Size Align Out In Symbol`, the name indented one
/// column past the alignment for an output section, nine for an input section, seventeen for
/// a symbol). Another linker's map gives nothing.
fn read_link_map(path: &Path, bin: &str) -> LinkMap {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut map = LinkMap {
        sections: Vec::new(),
        pieces: Vec::new(),
    };
    let mut mangled = Vec::new();
    // Not in a stripped file (or no bytes in it): uninitialized data and what strip removes.
    let counts = |name: &str| {
        !matches!(
            name,
            ".bss" | ".tbss" | ".comment" | ".symtab" | ".strtab" | ".shstrtab"
        ) && !name.starts_with(".debug")
    };
    let mut counting = false;
    for line in text.lines() {
        let mut fields = Vec::new();
        let mut start = None;
        for (i, c) in line.char_indices().chain([(line.len(), ' ')]) {
            match (c == ' ', start) {
                (false, None) => start = Some(i),
                (true, Some(from)) if fields.len() < 4 => {
                    fields.push((from, &line[from..i]));
                    start = None;
                }
                _ => {}
            }
        }
        let (Some(name_at), [.., (at, last)]) = (start, fields.as_slice()) else {
            continue;
        };
        let Some(bytes) = fields
            .get(2)
            .and_then(|(_, size)| u64::from_str_radix(size, 16).ok())
        else {
            continue;
        };
        let name = &line[name_at..];
        match name_at - (at + last.len()) {
            1 => {
                counting = counts(name);
                if counting {
                    map.sections.push((name.to_owned(), bytes));
                }
            }
            9 if counting && bytes > 0 => {
                let (file, section) = name.rsplit_once(":(").unwrap_or((name, ""));
                let section = section.trim_end_matches(')');
                let symbol = ["._ZN", "._R"]
                    .iter()
                    .find_map(|prefix| section.find(prefix))
                    .map(|i| section[i + 1..].split('+').next().unwrap_or_default());
                if let Some(symbol) = symbol {
                    mangled.push(symbol.to_owned());
                }
                map.pieces.push(Piece {
                    bytes,
                    object_crate: object_crate(file, bin),
                    symbol: symbol.map(str::to_owned),
                });
            }
            _ => {}
        }
    }
    // Demangled all at once by c++filt (binutils knows both Rust manglings); without it the
    // symbols stay mangled and every section counts for its object's crate.
    let demangled = demangle(&mangled);
    let mut names = demangled.into_iter();
    for piece in &mut map.pieces {
        if piece.symbol.is_some() {
            piece.symbol = names.next();
        }
    }
    map
}

/// The crate an object file of the link belongs to.
fn object_crate(file: &str, bin: &str) -> String {
    if file.starts_with('<') {
        return "(linker)".into();
    }
    let name = file.rsplit('/').next().unwrap_or(file);
    if let Some((archive, _)) = name
        .strip_prefix("lib")
        .and_then(|n| n.split_once(".rlib("))
    {
        return archive
            .rsplit_once('-')
            .map_or(archive, |(n, _)| n)
            .to_owned();
    }
    if name.ends_with(".rcgu.o") && name.starts_with(&format!("{bin}-")) {
        return "(main.rs)".into();
    }
    "(C runtime)".into()
}

/// `names` demangled by c++filt, hashes dropped (`::h…` of the legacy mangling, `[…]` after
/// crate names in v0); `names` as they are when c++filt cannot be run.
fn demangle(names: &[String]) -> Vec<String> {
    use std::io::Write as _;
    let run = || -> Option<Vec<String>> {
        let mut child = Command::new("c++filt")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .ok()?;
        let mut stdin = child.stdin.take()?;
        let input = names.join("\n");
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let output = child.wait_with_output().ok()?;
        writer.join().ok()?.ok()?;
        let lines: Vec<String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|line| {
                let mut name = String::with_capacity(line.len());
                let mut rest = line;
                while let Some(open) = rest.find('[') {
                    let close = rest[open..].find(']').map(|c| open + c);
                    match close {
                        Some(close)
                            if close - open > 8
                                && rest[open + 1..close].bytes().all(|b| b.is_ascii_hexdigit()) =>
                        {
                            name.push_str(&rest[..open]);
                            rest = &rest[close + 1..];
                        }
                        _ => {
                            name.push_str(&rest[..=open]);
                            rest = &rest[open + 1..];
                        }
                    }
                }
                name.push_str(rest);
                if let Some((head, hash)) = name.rsplit_once("::h")
                    && hash.len() == 16
                    && hash.bytes().all(|b| b.is_ascii_hexdigit())
                {
                    name.truncate(head.len());
                }
                name
            })
            .collect();
        (lines.len() == names.len()).then_some(lines)
    };
    run().unwrap_or_else(|| names.to_vec())
}

/// The crate a demangled symbol belongs to: the first segment of its path, looking through
/// `<`, references, pointers, `dyn` and drop glue (`core::ptr::drop_in_place<T>` is `T`'s); for
/// `<T as Trait>` with a generic or primitive `T`, the trait's crate.
fn symbol_crate(symbol: &str) -> Option<&str> {
    let path = symbol_path(symbol);
    let head = path
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(path.len());
    if head > 0 && path[head..].starts_with("::") {
        return Some(&path[..head]);
    }
    symbol_crate(path.split_once(" as ")?.1)
}

/// `symbol` without what comes before its first path (see `symbol_crate`).
fn symbol_path(symbol: &str) -> &str {
    let mut s = symbol;
    loop {
        let before = s.len();
        s = s.strip_prefix("core::ptr::drop_in_place<").unwrap_or(s);
        s = s.trim_start_matches(['<', '&', '*', '(', '[', ' ']);
        for prefix in ["mut ", "const ", "dyn "] {
            s = s.strip_prefix(prefix).unwrap_or(s);
        }
        if s.len() == before {
            return s;
        }
    }
}

/// The module of a symbol: the lower-case segments of its path before the item.
fn symbol_module(symbol: &str) -> String {
    let segments: Vec<&str> = symbol_path(symbol).split("::").collect();
    let module: Vec<&str> = segments[..segments.len() - 1]
        .iter()
        .take_while(|s| {
            s.starts_with(|c: char| c.is_ascii_lowercase())
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
        .copied()
        .collect();
    module.join("::")
}

// ---------------------------------------------------------------------------------------------
// machine and load

/// Cores kept busy by other processes: /proc/stat sampled over one second while this
/// harness runs nothing (the load average would count our own previous build too).
fn busy_cores() -> f64 {
    fn sample() -> Option<(u64, u64)> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let fields: Vec<u64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .filter_map(|f| f.parse().ok())
            .collect();
        let idle = fields.get(3)? + fields.get(4).copied().unwrap_or(0);
        Some((fields.iter().sum(), idle))
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as f64;
    let Some((total0, idle0)) = sample() else {
        return f64::NAN;
    };
    std::thread::sleep(std::time::Duration::from_secs(1));
    let Some((total1, idle1)) = sample() else {
        return f64::NAN;
    };
    let total = total1.saturating_sub(total0).max(1) as f64;
    cores * (1.0 - idle1.saturating_sub(idle0) as f64 / total)
}

fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

fn load_line() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let fields: Vec<&str> = load.split_whitespace().take(3).collect();
    format!(
        "before the run: {:.2} cores busy with other work, load average {}",
        busy_cores(),
        fields.join(" ")
    )
}

/// Date, cores, CPU, rustc, node: the head of every report.
fn machine(root: &Path) -> String {
    let out = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .current_dir(root)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!(
        "date {}; {cores} cores ({cpu}); {}; node {}; commit {}",
        out("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        out("rustc", &["-V"]),
        out("node", &["--version"]),
        out("git", &["rev-parse", "--short", "HEAD"]),
    )
}

fn save(paths: &Paths, name: &str, text: &str) {
    let _ = std::fs::write(paths.results().join(name), text);
}

/// Refuses options where a command takes none.
fn no_options(args: &[String]) -> Result<(), String> {
    match args.first() {
        Some(other) => Err(format!("unknown option {other}\n{USAGE}")),
        None => Ok(()),
    }
}

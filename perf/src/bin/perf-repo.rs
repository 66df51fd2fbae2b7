//! The memory and time of reading a large repository export (`com.atproto.sync.getRepo`'s CAR
//! file) to every record, typed, two ways:
//!
//! - `memory`: `std::fs::read`, `Car::read`, `repo_records()` (a `Vec` of every record), and
//!   `AnyRecord::from_cbor` for each;
//! - `file`: `CarFile::open(BufReader<File>)` (an index of where each block is), its
//!   `repo_records()` iterated, and `AnyRecord::from_cbor` for each, each dropped before the
//!   next.
//!
//! `perf-repo [--sizes N,N,...] [--runs N] [--json FILE]`: for each size (default 10k, 100k and
//! 300k records) the export is made once into `$PERF_DATA_DIR` (default `target/perf/data`) and
//! reused after. Both ways are first checked to give the same keys, CIDs and bytes in the same
//! order, every key the generator put in the tree, each record typed; then the runs alternate
//! the two ways. Peak heap is the most live bytes a counting global allocator saw during a
//! run, above what was live before it. The figures go to FILE as JSON (for `cargo xtask
//! bench-repo`), or to stdout.

use atproto_api::AnyRecord;
use atproto_api::runtime::car::{Car, CarFile};
use sha2::{Digest, Sha256};
use std::alloc::{GlobalAlloc, Layout, System};
use std::hash::Hasher;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

/// The system allocator, counting the bytes live and the most ever live.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Relaxed) + bytes;
    PEAK.fetch_max(live, Relaxed);
}

fn shrank(bytes: usize) {
    LIVE.fetch_sub(bytes, Relaxed);
}

// SAFETY: every call goes to `System` as it came; the counters only observe.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, layout, size) };
        if !q.is_null() {
            if size > layout.size() {
                grew(size - layout.size());
            } else {
                shrank(layout.size() - size);
            }
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// What a pass read: how many records, and a hash of their keys and CIDs in order.
#[derive(Debug, PartialEq, Eq)]
struct Read {
    records: usize,
    keys: u64,
}

/// Folds one record in, refusing one that does not read as its typed record.
fn typed(
    hasher: &mut std::hash::DefaultHasher,
    key: &str,
    cid: &ipld_core::cid::Cid,
    collection: &str,
    bytes: &[u8],
) -> Result<(), String> {
    let record = AnyRecord::from_cbor(collection, bytes).map_err(|e| format!("{key}: {e}"))?;
    if record.collection() != Some(collection) {
        return Err(format!("{key}: read as {:?}", record.collection()));
    }
    hasher.write(key.as_bytes());
    hasher.write(cid.hash().digest());
    Ok(())
}

/// The in-memory way.
fn memory(path: &Path) -> Result<Read, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let car = Car::read(&bytes).map_err(|e| e.to_string())?;
    let records = car.repo_records().map_err(|e| e.to_string())?;
    let mut hasher = std::hash::DefaultHasher::new();
    for record in &records {
        typed(
            &mut hasher,
            &record.key,
            &record.cid,
            record.collection(),
            record.bytes,
        )?;
    }
    Ok(Read {
        records: records.len(),
        keys: hasher.finish(),
    })
}

/// What the bounded way holds besides the records: the index the open file keeps, the most
/// the walk adds on top of it, and the time opening takes (one read of the file).
#[derive(Debug, Default, Clone, Copy)]
struct Held {
    index: usize,
    walk: usize,
    open_seconds: f64,
}

/// The bounded way.
fn file(path: &Path) -> Result<(Read, Held), String> {
    let started = Instant::now();
    let before = LIVE.load(Relaxed);
    let reader = BufReader::new(std::fs::File::open(path).map_err(|e| e.to_string())?);
    let mut car = CarFile::open(reader).map_err(|e| e.to_string())?;
    let open_seconds = started.elapsed().as_secs_f64();
    let opened = LIVE.load(Relaxed);
    // The walk's own peak, then the pass's (opening's, if higher) back.
    let open_peak = PEAK.swap(opened, Relaxed);
    let mut hasher = std::hash::DefaultHasher::new();
    let mut records = 0;
    for record in car.repo_records().map_err(|e| e.to_string())? {
        let record = record.map_err(|e| e.to_string())?;
        typed(
            &mut hasher,
            &record.key,
            &record.cid,
            record.collection(),
            &record.bytes,
        )?;
        records += 1;
    }
    let walk = PEAK.fetch_max(open_peak, Relaxed) - opened;
    let read = Read {
        records,
        keys: hasher.finish(),
    };
    let held = Held {
        index: opened.saturating_sub(before),
        walk,
        open_seconds,
    };
    Ok((read, held))
}

/// Runs `pass`, returning its result, its peak heap above what was live before, and seconds.
fn measure<T>(pass: impl FnOnce() -> Result<T, String>) -> Result<(T, usize, f64), String> {
    let before = LIVE.load(Relaxed);
    PEAK.store(before, Relaxed);
    let started = Instant::now();
    let out = pass()?;
    let seconds = started.elapsed().as_secs_f64();
    Ok((out, PEAK.load(Relaxed) - before, seconds))
}

/// Before timing: both ways walk to the same keys, CIDs and bytes in the same order; the keys
/// and CIDs are exactly those the generator put in the tree; every record reads typed.
fn check(path: &Path, stats: &serde_json::Value) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let car = Car::read(&bytes).map_err(|e| e.to_string())?;
    let in_memory = car.repo_records().map_err(|e| e.to_string())?;
    let reader = BufReader::new(std::fs::File::open(path).map_err(|e| e.to_string())?);
    let mut on_disk = CarFile::open(reader).map_err(|e| e.to_string())?;
    if on_disk.len() != car.len() || Some(car.len() as u64) != stats["blocks"].as_u64() {
        return Err(format!(
            "blocks: {} in memory, {} from the file, {} written",
            car.len(),
            on_disk.len(),
            stats["blocks"]
        ));
    }
    let mut walk = on_disk.repo_records().map_err(|e| e.to_string())?;
    let mut keys = Sha256::new();
    let mut ignored = std::hash::DefaultHasher::new();
    for (i, a) in in_memory.iter().enumerate() {
        let b = walk
            .next()
            .ok_or_else(|| format!("the file's walk ends after {i} records"))?
            .map_err(|e| e.to_string())?;
        if (&a.key, &a.cid, a.bytes) != (&b.key, &b.cid, &b.bytes[..]) {
            return Err(format!(
                "record {i}: {} {} in memory, {} {} from the file",
                a.key, a.cid, b.key, b.cid
            ));
        }
        typed(&mut ignored, &a.key, &a.cid, a.collection(), a.bytes)?;
        keys.update(a.key.as_bytes());
        keys.update([0]);
        keys.update(a.cid.to_bytes());
    }
    if let Some(extra) = walk.next() {
        return Err(format!("the file's walk goes on: {extra:?}"));
    }
    let keys: String = keys.finalize().iter().map(|b| format!("{b:02x}")).collect();
    if Some(in_memory.len() as u64) != stats["records"].as_u64()
        || Some(keys.as_str()) != stats["keys_sha256"].as_str()
    {
        return Err(format!(
            "the walk found {} records, not the {} written (or other keys or CIDs)",
            in_memory.len(),
            stats["records"]
        ));
    }
    Ok(())
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

fn run(sizes: &[usize], runs: usize, dir: &Path) -> Result<serde_json::Value, String> {
    let mut results = Vec::new();
    for &size in sizes {
        let started = Instant::now();
        let (path, stats) = perf::export::ensure(dir, size).map_err(|e| e.to_string())?;
        eprintln!(
            "{}: {} records, {} blocks, {:.1} MB ({:.1} s to make or find)",
            path.file_name().unwrap_or_default().to_string_lossy(),
            stats["records"],
            stats["blocks"],
            stats["bytes"].as_f64().unwrap_or(0.0) / 1e6,
            started.elapsed().as_secs_f64()
        );
        check(&path, &stats)?;
        let (mut memory_peak, mut file_peak, mut held) = (0, 0, Held::default());
        let mut open_times = Vec::new();
        let (mut memory_times, mut file_times) = (Vec::new(), Vec::new());
        let mut reads = Vec::new();
        for round in 0..runs {
            // Alternate which way goes first, so neither always follows the other.
            for way in [round % 2, 1 - round % 2] {
                if way == 0 {
                    let (read, peak, seconds) = measure(|| memory(&path))?;
                    memory_peak = memory_peak.max(peak);
                    memory_times.push(seconds);
                    reads.push(read);
                } else {
                    let ((read, this), peak, seconds) = measure(|| file(&path))?;
                    file_peak = file_peak.max(peak);
                    held.index = held.index.max(this.index);
                    held.walk = held.walk.max(this.walk);
                    open_times.push(this.open_seconds);
                    file_times.push(seconds);
                    reads.push(read);
                }
            }
        }
        if reads.windows(2).any(|w| w[0] != w[1]) {
            return Err(format!(
                "{size}: the passes read different records: {reads:?}"
            ));
        }
        let records = stats["records"].as_f64().unwrap_or(1.0);
        let blocks = stats["blocks"].as_f64().unwrap_or(1.0);
        eprintln!(
            "  memory: peak {:.1} MB, {:.3} s; file: peak {:.1} MB ({:.0} bytes per record; index {:.0} bytes per block, the walk {} bytes more), {:.3} s ({:.3} s opening)",
            memory_peak as f64 / 1e6,
            median(&memory_times),
            file_peak as f64 / 1e6,
            file_peak as f64 / records,
            held.index as f64 / blocks,
            held.walk,
            median(&file_times),
            median(&open_times)
        );
        results.push(serde_json::json!({
            "export": stats,
            "memory": { "peak": memory_peak, "seconds": memory_times },
            "file": {
                "peak": file_peak,
                "index": held.index,
                "walk": held.walk,
                "seconds": file_times,
                "open_seconds": open_times,
            },
        }));
    }
    Ok(serde_json::json!({ "runs": runs, "sizes": results }))
}

fn main() -> Result<(), String> {
    let usage = "usage: perf-repo [--sizes N,N,...] [--runs N] [--json FILE]";
    let mut sizes = perf::export::SIZES.to_vec();
    let mut runs = 3;
    let mut json: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or(usage)?;
        match arg.as_str() {
            "--sizes" => {
                sizes = value
                    .split(',')
                    .map(|n| n.trim().replace('_', "").parse().map_err(|_| usage))
                    .collect::<Result<_, _>>()?
            }
            "--runs" => runs = value.parse().map_err(|_| usage)?,
            "--json" => json = Some(value.into()),
            _ => return Err(usage.into()),
        }
    }
    if runs == 0 || sizes.iter().any(|&n| n < 2) {
        return Err(usage.into());
    }
    let dir = std::env::var_os("PERF_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../target/perf/data").into());
    let results = run(&sizes, runs, &dir)?;
    match json {
        Some(file) => std::fs::write(&file, results.to_string())
            .map_err(|e| format!("{}: {e}", file.display()))?,
        None => println!("{results}"),
    }
    Ok(())
}

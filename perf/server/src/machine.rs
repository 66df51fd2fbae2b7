//! What the machine is doing: load, other processes' CPU, and our threads' CPU, from /proc.
//! (Linux only; elsewhere the figures read as NaN or zero.)

use std::fs;

/// The three load averages, as /proc/loadavg writes them.
pub fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// The 1-minute load average.
pub fn load1() -> f64 {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// The CPU's model name, as /proc/cpuinfo gives it.
pub fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            let line = info.lines().find(|l| l.starts_with("model name"))?;
            Some(line.split_once(':')?.1.trim().to_owned())
        })
        .unwrap_or_else(|| "?".into())
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// CPU counters at one moment: the whole machine's (busy and total, in clock ticks) and this
/// process's (ticks), to tell how much of the machine other processes used in between.
#[derive(Debug, Clone, Copy)]
pub struct CpuSample {
    busy: u64,
    total: u64,
    own: u64,
}

impl CpuSample {
    pub fn now() -> CpuSample {
        let (busy, total) = fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|stat| {
                let fields: Vec<u64> = stat
                    .lines()
                    .next()?
                    .split_whitespace()
                    .skip(1)
                    .filter_map(|f| f.parse().ok())
                    .collect();
                let total: u64 = fields.iter().sum();
                let idle = fields.get(3)? + fields.get(4).copied().unwrap_or(0);
                Some((total - idle, total))
            })
            .unwrap_or((0, 0));
        // utime and stime, the 14th and 15th fields, after the command's parenthesis.
        let own = fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|stat| {
                let rest = &stat[stat.rfind(')')? + 2..];
                let fields: Vec<&str> = rest.split_whitespace().collect();
                Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
            })
            .unwrap_or(0);
        CpuSample { busy, total, own }
    }

    /// Cores other processes kept busy since `earlier`.
    pub fn others_since(&self, earlier: &CpuSample) -> f64 {
        let total = self.total.saturating_sub(earlier.total);
        if total == 0 {
            return f64::NAN;
        }
        let others = self
            .busy
            .saturating_sub(earlier.busy)
            .saturating_sub(self.own.saturating_sub(earlier.own));
        cores() as f64 * others as f64 / total as f64
    }
}

/// Cores other processes keep busy, over `seconds` of this process doing nothing.
pub fn others_busy(seconds: f64) -> f64 {
    let before = CpuSample::now();
    std::thread::sleep(std::time::Duration::from_secs_f64(seconds));
    CpuSample::now().others_since(&before)
}

/// CPU time, in nanoseconds, of this process's threads whose name starts with `prefix`
/// (the scheduler's count in /proc, exact to the nanosecond).
pub fn threads_cpu_ns(prefix: &str) -> u64 {
    let Ok(tasks) = fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter(|task| {
            fs::read_to_string(task.path().join("comm")).is_ok_and(|name| name.starts_with(prefix))
        })
        .filter_map(|task| {
            let schedstat = fs::read_to_string(task.path().join("schedstat")).ok()?;
            schedstat.split_whitespace().next()?.parse::<u64>().ok()
        })
        .sum()
}

//! What a cell measures: latency histograms, CPU of this process, of the servers and of the whole machine.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Latencies are recorded in nanoseconds.
/// Two significant digits (1% resolution) keep a histogram near 30 KB, so every task can own two of them;
/// the upper bound of 100 s is far above any deadline a client uses, and larger values saturate instead of failing.
pub(super) fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000_000, 2)
        .unwrap_or_else(|_| Histogram::new(2).unwrap_or_else(|_| unreachable_histogram()))
}

fn unreachable_histogram() -> Histogram<u64> {
    // new(2) only fails for a precision above 5; keep a defined value anyway.
    Histogram::new_with_max(1_000_000, 1).unwrap_or_else(|_| std::process::abort())
}

/// Percentiles of one histogram, in microseconds.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest value.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl Percentiles {
    /// Reads the percentiles of a nanosecond histogram as microseconds.
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        let us = |ns: u64| ns as f64 / 1000.0;
        Percentiles {
            p50: us(h.value_at_quantile(0.50)),
            p95: us(h.value_at_quantile(0.95)),
            p99: us(h.value_at_quantile(0.99)),
            p999: us(h.value_at_quantile(0.999)),
            max: us(h.max()),
            mean: h.mean() / 1000.0,
        }
    }
}

/// CPU seconds (user + system) this process has used, from getrusage(RUSAGE_SELF).
pub(super) fn self_cpu() -> f64 {
    rusage_cpu(libc::RUSAGE_SELF)
}

/// CPU seconds (user + system) of this process's reaped children (redis-benchmark runs), from getrusage(RUSAGE_CHILDREN).
pub(super) fn children_cpu() -> f64 {
    rusage_cpu(libc::RUSAGE_CHILDREN)
}

fn rusage_cpu(who: libc::c_int) -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we own; it has no other effect.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: see above; `who` is one of the RUSAGE_* constants.
    if unsafe { libc::getrusage(who, &mut ru) } != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// CPU seconds (utime + stime) of process `pid` from /proc/<pid>/stat; 0 when it cannot be read.
pub(super) fn process_cpu(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The command name (field 2) may contain spaces; the fields after its closing parenthesis are fixed.
    let Some(rest) = stat.rfind(')').and_then(|i| stat.get(i + 1..)) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, so utime (field 14) and stime (field 15) are at 11 and 12 here.
    let num = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (num(11) + num(12)) / clock_ticks()
}

/// Busy CPU seconds of the whole machine (all cores) from the first line of /proc/stat.
pub(super) fn machine_busy() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return 0.0;
    };
    let Some(line) = stat.lines().next() else {
        return 0.0;
    };
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: everything but idle and iowait is busy.
    let busy: f64 = v
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4 && *i < 8)
        .map(|(_, x)| x)
        .sum();
    busy / clock_ticks()
}

/// Number of online cores.
pub(super) fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// A point-in-time reading of every CPU counter a cell compares.
#[derive(Clone, Debug)]
pub(super) struct CpuSnapshot {
    at: std::time::Instant,
    ours: f64,
    children: f64,
    servers: f64,
    machine: f64,
}

/// CPU used between two snapshots.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct CpuUsage {
    /// Wall-clock seconds between the snapshots.
    pub wall_s: f64,
    /// CPU seconds of this process (the client under test, its runtime, the driver).
    pub client_s: f64,
    /// CPU seconds of reaped child processes (redis-benchmark).
    pub children_s: f64,
    /// CPU seconds of the Redis servers.
    pub servers_s: f64,
    /// CPU seconds of the whole machine.
    pub machine_s: f64,
    /// Machine CPU not explained by us, our children or the servers: other processes.
    pub other_s: f64,
    /// True when other processes used more than [`NOISY_SHARE`] of the machine during the cell.
    pub noisy: bool,
}

/// Share of the machine's total capacity (cores x wall time) that other processes may use before a cell is
/// flagged as noisy. A quarter of a core on 2 cores is enough to move throughput by several percent.
pub(super) const NOISY_SHARE: f64 = 0.125;

impl CpuSnapshot {
    /// Reads every counter now.
    pub(super) fn take(server_pids: &[u32]) -> CpuSnapshot {
        CpuSnapshot {
            at: std::time::Instant::now(),
            ours: self_cpu(),
            children: children_cpu(),
            servers: server_pids.iter().map(|p| process_cpu(*p)).sum(),
            machine: machine_busy(),
        }
    }

    /// The usage from `self` to `later`.
    pub(super) fn until(&self, later: &CpuSnapshot) -> CpuUsage {
        let wall = later
            .at
            .saturating_duration_since(self.at)
            .max(Duration::from_micros(1))
            .as_secs_f64();
        let client = later.ours - self.ours;
        let children = later.children - self.children;
        let servers = later.servers - self.servers;
        let machine = later.machine - self.machine;
        let other = (machine - client - children - servers).max(0.0);
        CpuUsage {
            wall_s: wall,
            client_s: client,
            children_s: children,
            servers_s: servers,
            machine_s: machine,
            other_s: other,
            noisy: other > NOISY_SHARE * wall * cores() as f64,
        }
    }
}

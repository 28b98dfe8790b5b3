//! `redis-benchmark` (redis-tools) as the server-side reference: how fast the servers go with a C client that does
//! nothing but send, at -P 1 and -P 16.

use serde::{Deserialize, Serialize};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Commands redis-benchmark runs: the GET / SET / INCR of our workloads.
const TESTS: &str = "get,set,incr";

/// Its parallel connections: redis-benchmark's default, close to our 64 tasks per client.
const CONNECTIONS: usize = 50;

/// One row of its CSV output.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct BenchmarkRow {
    /// "cluster" or "standalone".
    pub target: String,
    /// Pipeline depth (-P).
    pub pipeline: usize,
    /// Which command (GET, SET, INCR).
    pub test: String,
    /// Commands per second.
    pub rps: f64,
    /// Latency percentiles in microseconds (per request as redis-benchmark defines it).
    pub p50_us: f64,
    /// 95th percentile.
    pub p95_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Largest.
    pub max_us: f64,
}

/// Finds redis-benchmark on PATH (installed with redis-tools alongside redis-server).
pub(super) fn binary() -> Option<String> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("redis-benchmark"))
        .find(|p| p.is_file())
        .map(|p| p.display().to_string())
}

/// One redis-benchmark invocation.
#[derive(Clone, Debug)]
pub(super) struct Invocation {
    /// Where to connect (the first node of a cluster).
    pub(super) host: String,
    /// Its port.
    pub(super) port: u16,
    /// Adds `--cluster`.
    pub(super) cluster: bool,
    /// `-P`.
    pub(super) pipeline: usize,
    /// `-n`: requests per test, which bounds the run by count.
    pub(super) requests: u64,
    /// `-r`: random key space.
    pub(super) key_space: usize,
    /// `-d`: value size.
    pub(super) value_size: usize,
    /// Wall-time bound: killed after it.
    pub(super) limit: Duration,
}

/// Runs redis-benchmark once, bounded by request count and by wall time. Returns the parsed rows.
pub(super) fn run(inv: &Invocation) -> Result<Vec<BenchmarkRow>, String> {
    let Invocation {
        host,
        port,
        cluster,
        pipeline,
        requests,
        key_space,
        value_size,
        limit,
    } = inv.clone();
    let host = host.as_str();
    let bin = binary().ok_or("redis-benchmark not on PATH (apt-get install redis-tools)")?;
    let mut cmd = Command::new(bin);
    cmd.args([
        "-h",
        host,
        "-p",
        &port.to_string(),
        "-c",
        &CONNECTIONS.to_string(),
        "-n",
        &requests.to_string(),
    ])
    .args([
        "-P",
        &pipeline.to_string(),
        "-d",
        &value_size.to_string(),
        "-r",
        &key_space.to_string(),
    ])
    .args(["-t", TESTS, "--csv"]);
    if cluster {
        cmd.arg("--cluster");
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "redis-benchmark took longer than {limit:?}; killed"
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e.to_string()),
        }
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let rows = parse_csv(
        &text,
        if cluster { "cluster" } else { "standalone" },
        pipeline,
    );
    if rows.is_empty() {
        Err(format!(
            "redis-benchmark printed no results: {}",
            text.trim()
        ))
    } else {
        Ok(rows)
    }
}

/// Parses `redis-benchmark --csv` output: a header line then `"TEST","rps","avg","min","p50","p95","p99","max"` (ms).
pub fn parse_csv(text: &str, target: &str, pipeline: usize) -> Vec<BenchmarkRow> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line
                .split(',')
                .map(|s| s.trim().trim_matches('"'))
                .collect();
            let num = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok());
            let test = f.first()?;
            if *test == "test" {
                return None;
            }
            Some(BenchmarkRow {
                target: target.to_string(),
                pipeline,
                test: test.to_string(),
                rps: num(1)?,
                p50_us: num(4)? * 1000.0,
                p95_us: num(5)? * 1000.0,
                p99_us: num(6)? * 1000.0,
                max_us: num(7)? * 1000.0,
            })
        })
        .collect()
}

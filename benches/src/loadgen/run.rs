//! The matrix: every (target, workload) with every client, interleaved and repeated, then summarised.

use super::clients::{
    BenchClient, ClientKind, ErrKind, FredClient, RedisCluster, RedisStandalone, SlotmuxClient,
};
use super::config::Settings;
use super::driver::{CellOutcome, CellPlan, Live, Stop, drive};
use super::metrics::{CpuUsage, Percentiles, cores};
use super::redis_benchmark::{self, BenchmarkRow};
use super::target::Target;
use super::workload::{KeySpace, Workload};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How long a client may take to connect before its cell is recorded as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one redis-benchmark invocation may run before it is killed.
const REDIS_BENCHMARK_LIMIT: Duration = Duration::from_secs(60);

/// One measured (or skipped) cell.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CellRecord {
    /// "cluster" or "standalone".
    pub target: String,
    /// Workload name.
    pub workload: String,
    /// Client name.
    pub client: String,
    /// Repeat index (0-based).
    pub rep: usize,
    /// Requests completed in the measured window.
    pub requests: u64,
    /// Commands completed in the measured window.
    pub commands: u64,
    /// Failed requests by kind.
    pub errors: BTreeMap<String, u64>,
    /// Seconds measured.
    pub measured_s: f64,
    /// Requests per second.
    pub req_per_s: f64,
    /// Commands per second.
    pub cmd_per_s: f64,
    /// Latency per request (µs).
    pub latency_us: Percentiles,
    /// Latency per command inside a request (µs): the BATCH metric.
    pub per_command_us: Percentiles,
    /// CPU over the measured window.
    pub cpu: CpuUsage,
    /// Client CPU microseconds per request.
    pub client_cpu_us_per_req: f64,
    /// Server CPU microseconds per request.
    pub server_cpu_us_per_req: f64,
    /// Cut short by Ctrl-C.
    pub interrupted: bool,
    /// Why the cell has no numbers (not applicable, connect failure).
    pub note: Option<String>,
}

impl CellRecord {
    fn total_errors(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// Medians and ranges over a cell's repeats.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SummaryRow {
    /// "cluster" or "standalone".
    pub target: String,
    /// Workload name.
    pub workload: String,
    /// Client name.
    pub client: String,
    /// Repeats with numbers.
    pub runs: usize,
    /// Median, min, max requests per second.
    pub req_per_s: [f64; 3],
    /// Median commands per second.
    pub cmd_per_s: f64,
    /// Median p50 request latency (µs).
    pub p50_us: f64,
    /// Median, min, max p99 request latency (µs).
    pub p99_us: [f64; 3],
    /// Median p99.9 request latency (µs).
    pub p999_us: f64,
    /// Median per-command p50 (µs).
    pub per_command_p50_us: f64,
    /// Median client CPU µs per request.
    pub client_cpu_us_per_req: f64,
    /// Median server CPU µs per request.
    pub server_cpu_us_per_req: f64,
    /// Errors over every repeat.
    pub errors: u64,
    /// Repeats flagged noisy (other processes busy).
    pub noisy_runs: usize,
    /// slotmux only: median req/s over the best peer's median req/s in this (target, workload).
    pub throughput_vs_best_peer: Option<f64>,
    /// slotmux only: median p99 over the best (lowest) peer p99.
    pub p99_vs_best_peer: Option<f64>,
    /// Set when the client did not run here.
    pub note: Option<String>,
}

/// Standalone-to-cluster change of one client: cluster req/s over standalone req/s per workload run on both.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HeadlineRow {
    /// Client name.
    pub client: String,
    /// Workload -> cluster median req/s / standalone median req/s.
    pub per_workload: BTreeMap<String, f64>,
    /// Geometric mean of those ratios.
    pub geomean: Option<f64>,
}

/// Everything a run produced.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// UTC start time, `YYYYMMDDTHHMMSSZ`.
    pub started_utc: String,
    /// The settings, as text.
    pub settings: BTreeMap<String, String>,
    /// Online cores.
    pub cores: usize,
    /// How each client was driven.
    pub usage: BTreeMap<String, String>,
    /// Every cell in the order it ran.
    pub cells: Vec<CellRecord>,
    /// Medians per (target, workload, client).
    pub summary: Vec<SummaryRow>,
    /// Standalone-to-cluster change per client.
    pub headline: Vec<HeadlineRow>,
    /// The server-side reference.
    pub redis_benchmark: Vec<BenchmarkRow>,
    /// Anything the reader should know (skipped parts, interruptions).
    pub notes: Vec<String>,
    /// True when Ctrl-C ended the run early.
    pub interrupted: bool,
}

/// Runs the whole matrix against `targets`; returns what was measured, also after a stop.
pub async fn run(settings: &Settings, targets: &[Target], stop: &Stop) -> Report {
    let mut report = Report {
        started_utc: super::report::utc_stamp(),
        settings: describe(settings),
        cores: cores(),
        usage: BTreeMap::new(),
        cells: Vec::new(),
        summary: Vec::new(),
        headline: Vec::new(),
        redis_benchmark: Vec::new(),
        notes: Vec::new(),
        interrupted: false,
    };
    for t in targets {
        for c in &settings.clients {
            report.usage.insert(
                format!("{} ({})", c.name(), t.name),
                c.usage(t.cluster).to_string(),
            );
        }
    }
    let keys = KeySpace::new(settings.key_space, settings.value_size);
    let total: usize = targets
        .iter()
        .map(|t| workloads_of(settings, t).len() * settings.repeats * settings.clients.len())
        .sum();
    let bar = if settings.progress {
        let bar = ProgressBar::new(total as u64);
        bar.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} cells {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let live = Arc::new(Live::default());
    let label = Arc::new(std::sync::Mutex::new(String::new()));
    let ticker = tokio::spawn(stats_line(
        Arc::clone(&live),
        Arc::clone(&label),
        bar.clone(),
        settings.progress,
    ));

    'targets: for target in targets {
        if let Err(e) = target.preload(&keys).await {
            report
                .notes
                .push(format!("{}: preloading keys failed: {e}", target.name));
            continue;
        }
        let mut not_applicable: BTreeMap<ClientKind, String> = BTreeMap::new();
        for workload in workloads_of(settings, target) {
            let plan = CellPlan {
                workload,
                tasks_per_client: settings.tasks_per_client,
                duration: settings.duration,
                warmup: settings.warmup,
                pipeline_size: settings.pipeline_size,
                rate: settings.rate,
            };
            for rep in 0..settings.repeats {
                // Interleaved: A B C A B C, so a slow minute on the machine hits every client alike.
                for &client in &settings.clients {
                    if stop.is_set() {
                        report.interrupted = true;
                        break 'targets;
                    }
                    bar.set_message(format!(
                        "{} {} {} #{}",
                        target.name,
                        workload,
                        client,
                        rep + 1
                    ));
                    // Counts left over from the previous cell must not appear under this cell's label.
                    live.reset();
                    if let Ok(mut l) = label.lock() {
                        *l = format!("{} {} {} #{}", target.name, workload, client, rep + 1);
                    }
                    let record = if let Some(why) = not_applicable.get(&client) {
                        if rep > 0 {
                            bar.inc(1);
                            continue;
                        }
                        skipped(target, workload, client, rep, why.clone())
                    } else {
                        match run_cell(client, target, settings, &plan, &keys, &live, stop).await {
                            Ok(outcome) => record_of(target, workload, client, rep, outcome),
                            Err(e) => {
                                if e.starts_with("n/a") {
                                    not_applicable.insert(client, e.clone());
                                }
                                skipped(target, workload, client, rep, e)
                            }
                        }
                    };
                    report.interrupted |= record.interrupted;
                    report.cells.push(record);
                    bar.inc(1);
                }
            }
        }
    }
    if !report.interrupted && !settings.redis_benchmark_pipelines.is_empty() {
        bar.set_message("redis-benchmark");
        run_redis_benchmark(settings, targets, stop, &mut report).await;
    }
    ticker.abort();
    bar.finish_and_clear();
    if report.interrupted {
        report.notes.push(
            "Interrupted by Ctrl-C: the results hold what was measured until then.".to_string(),
        );
    }
    report.summary = summarise(&report.cells, &settings.clients);
    report.headline = headline(&report.summary, &settings.clients);
    report
}

fn workloads_of(settings: &Settings, target: &Target) -> Vec<Workload> {
    if target.cluster {
        settings.cluster_workloads.clone()
    } else {
        settings.standalone_workloads.clone()
    }
}

async fn run_cell(
    client: ClientKind,
    target: &Target,
    settings: &Settings,
    plan: &CellPlan,
    keys: &KeySpace,
    live: &Arc<Live>,
    stop: &Stop,
) -> Result<CellOutcome, String> {
    let n = settings.connections_per_client;
    let vs = settings.value_size;
    let instances = settings.client_instances.max(1);
    let pids = &target.server_pids;
    match (client, target.cluster) {
        (ClientKind::Slotmux, cluster) => {
            let h = connect_all(instances, || {
                SlotmuxClient::connect(&target.hosts, cluster, n, vs)
            })
            .await?;
            Ok(drive(h, plan, keys, pids, live, stop).await)
        }
        (ClientKind::RedisRs, true) => {
            let h = connect_all(instances, || RedisCluster::connect(&target.urls, n, vs)).await?;
            Ok(drive(h, plan, keys, pids, live, stop).await)
        }
        (ClientKind::RedisRs, false) => {
            let url = target.urls.first().ok_or("no url")?;
            let h = connect_all(instances, || RedisStandalone::connect(url, n, vs)).await?;
            Ok(drive(h, plan, keys, pids, live, stop).await)
        }
        (ClientKind::Fred, cluster) => {
            let h = connect_all(instances, || {
                FredClient::connect(&target.hosts, cluster, n, vs)
            })
            .await?;
            let quit: Vec<FredClient> = h.iter().flatten().cloned().collect();
            let outcome = drive(h, plan, keys, pids, live, stop).await;
            for c in quit {
                c.quit().await;
            }
            Ok(outcome)
        }
    }
}

async fn connect_all<C, F, Fut>(instances: usize, connect: F) -> Result<Vec<Vec<C>>, String>
where
    C: BenchClient,
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Vec<C>, String>>,
{
    let mut out = Vec::with_capacity(instances);
    for _ in 0..instances {
        let handles = tokio::time::timeout(CONNECT_TIMEOUT, connect())
            .await
            .map_err(|_| "connect timed out".to_string())??;
        out.push(handles);
    }
    Ok(out)
}

fn record_of(
    target: &Target,
    workload: Workload,
    client: ClientKind,
    rep: usize,
    o: CellOutcome,
) -> CellRecord {
    let secs = o.measured_s.max(1e-9);
    let per_req = |cpu: f64| {
        if o.requests > 0 {
            cpu * 1e6 / o.requests as f64
        } else {
            0.0
        }
    };
    CellRecord {
        target: target.name.clone(),
        workload: workload.name().to_string(),
        client: client.name().to_string(),
        rep,
        requests: o.requests,
        commands: o.commands,
        errors: o
            .errors
            .iter()
            .map(|(k, v): (&ErrKind, &u64)| (k.name().to_string(), *v))
            .collect(),
        measured_s: o.measured_s,
        req_per_s: o.requests as f64 / secs,
        cmd_per_s: o.commands as f64 / secs,
        latency_us: Percentiles::of(&o.latency),
        per_command_us: Percentiles::of(&o.per_command),
        client_cpu_us_per_req: per_req(o.cpu.client_s),
        server_cpu_us_per_req: per_req(o.cpu.servers_s),
        cpu: o.cpu,
        interrupted: o.interrupted,
        note: None,
    }
}

fn skipped(
    target: &Target,
    workload: Workload,
    client: ClientKind,
    rep: usize,
    note: String,
) -> CellRecord {
    CellRecord {
        target: target.name.clone(),
        workload: workload.name().to_string(),
        client: client.name().to_string(),
        rep,
        requests: 0,
        commands: 0,
        errors: BTreeMap::new(),
        measured_s: 0.0,
        req_per_s: 0.0,
        cmd_per_s: 0.0,
        latency_us: Percentiles::default(),
        per_command_us: Percentiles::default(),
        cpu: CpuUsage::default(),
        client_cpu_us_per_req: 0.0,
        server_cpu_us_per_req: 0.0,
        interrupted: false,
        note: Some(note),
    }
}

async fn run_redis_benchmark(
    settings: &Settings,
    targets: &[Target],
    stop: &Stop,
    report: &mut Report,
) {
    if redis_benchmark::binary().is_none() {
        report.notes.push(
            "redis-benchmark not on PATH (apt-get install redis-tools): no server-side reference."
                .to_string(),
        );
        return;
    }
    for target in targets {
        let Some((host, port)) = target.first_host() else {
            continue;
        };
        for &p in &settings.redis_benchmark_pipelines {
            if stop.is_set() {
                report.interrupted = true;
                return;
            }
            let inv = redis_benchmark::Invocation {
                host: host.clone(),
                port,
                cluster: target.cluster,
                pipeline: p,
                requests: settings.redis_benchmark_requests,
                key_space: settings.key_space,
                value_size: settings.value_size,
                limit: REDIS_BENCHMARK_LIMIT,
            };
            // A blocking child process: run it off the runtime's workers.
            let result = tokio::task::spawn_blocking(move || redis_benchmark::run(&inv)).await;
            match result {
                Ok(Ok(rows)) => report.redis_benchmark.extend(rows),
                Ok(Err(e)) => report
                    .notes
                    .push(format!("redis-benchmark -P {p} ({}): {e}", target.name)),
                Err(e) => report
                    .notes
                    .push(format!("redis-benchmark -P {p} ({}): {e}", target.name)),
            }
        }
    }
}

async fn stats_line(
    live: Arc<Live>,
    label: Arc<std::sync::Mutex<String>>,
    bar: ProgressBar,
    show: bool,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let mut last = std::time::Instant::now();
    loop {
        tick.tick().await;
        let secs = last.elapsed().as_secs_f64().max(1e-3);
        last = std::time::Instant::now();
        // Relaxed: a once-a-second display of counters.
        let req = live.requests.swap(0, Ordering::Relaxed);
        let cmd = live.commands.swap(0, Ordering::Relaxed);
        let err = live.errors.swap(0, Ordering::Relaxed);
        let p = match live.latency.lock() {
            Ok(mut h) => {
                let p = Percentiles::of(&h);
                h.reset();
                p
            }
            Err(_) => Percentiles::default(),
        };
        let name = label.lock().map(|l| l.clone()).unwrap_or_default();
        if show && req + err > 0 {
            let line = format!(
                "  {name:<40} {:>10} req/s {:>10} cmd/s  p50 {:>8}  p99 {:>8}  errors {err}",
                human(req as f64 / secs),
                human(cmd as f64 / secs),
                micros(p.p50),
                micros(p.p99)
            );
            // indicatif draws nothing when stderr is not a terminal (CI, a pipe): print the line plainly there.
            if bar.is_hidden() {
                eprintln!("{line}")
            } else {
                bar.println(line)
            }
        }
    }
}

/// 123456 -> "123.5k".
pub(super) fn human(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

/// Microseconds, as "85µs" or "1.25ms".
pub(super) fn micros(us: f64) -> String {
    if us >= 1000.0 {
        format!("{:.2}ms", us / 1000.0)
    } else {
        format!("{us:.0}µs")
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v.get(m).copied().unwrap_or(0.0)
    } else {
        (v.get(m - 1).copied().unwrap_or(0.0) + v.get(m).copied().unwrap_or(0.0)) / 2.0
    }
}

fn min_max(v: &[f64]) -> (f64, f64) {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if v.is_empty() { (0.0, 0.0) } else { (min, max) }
}

/// Medians and ranges per (target, workload, client), plus slotmux's ratios to the best peer.
pub(super) fn summarise(cells: &[CellRecord], clients: &[ClientKind]) -> Vec<SummaryRow> {
    let mut keys: Vec<(String, String)> = Vec::new();
    for c in cells {
        let k = (c.target.clone(), c.workload.clone());
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let mut out = Vec::new();
    for (target, workload) in keys {
        let mut rows = Vec::new();
        for client in clients {
            let mine: Vec<&CellRecord> = cells
                .iter()
                .filter(|c| {
                    c.target == target && c.workload == workload && c.client == client.name()
                })
                .collect();
            if mine.is_empty() {
                continue;
            }
            let measured: Vec<&&CellRecord> = mine
                .iter()
                .filter(|c| c.note.is_none() && c.measured_s > 0.0)
                .collect();
            let col = |f: &dyn Fn(&CellRecord) -> f64| {
                measured.iter().map(|c| f(c)).collect::<Vec<f64>>()
            };
            let rps = col(&|c| c.req_per_s);
            let p99 = col(&|c| c.latency_us.p99);
            let (rmin, rmax) = min_max(&rps);
            let (pmin, pmax) = min_max(&p99);
            rows.push(SummaryRow {
                target: target.clone(),
                workload: workload.clone(),
                client: client.name().to_string(),
                runs: measured.len(),
                req_per_s: [median(rps.clone()), rmin, rmax],
                cmd_per_s: median(col(&|c| c.cmd_per_s)),
                p50_us: median(col(&|c| c.latency_us.p50)),
                p99_us: [median(p99.clone()), pmin, pmax],
                p999_us: median(col(&|c| c.latency_us.p999)),
                per_command_p50_us: median(col(&|c| c.per_command_us.p50)),
                client_cpu_us_per_req: median(col(&|c| c.client_cpu_us_per_req)),
                server_cpu_us_per_req: median(col(&|c| c.server_cpu_us_per_req)),
                errors: mine.iter().map(|c| c.total_errors()).sum(),
                noisy_runs: measured.iter().filter(|c| c.cpu.noisy).count(),
                throughput_vs_best_peer: None,
                p99_vs_best_peer: None,
                note: if measured.is_empty() {
                    mine.iter().find_map(|c| c.note.clone())
                } else {
                    None
                },
            });
        }
        let peers: Vec<&SummaryRow> = rows
            .iter()
            .filter(|r| r.client != ClientKind::Slotmux.name() && r.runs > 0)
            .collect();
        let best_rps = peers.iter().map(|r| r.req_per_s[0]).fold(0.0, f64::max);
        let best_p99 = peers
            .iter()
            .map(|r| r.p99_us[0])
            .filter(|p| *p > 0.0)
            .fold(f64::INFINITY, f64::min);
        for r in rows.iter_mut() {
            if r.client == ClientKind::Slotmux.name() && r.runs > 0 {
                r.throughput_vs_best_peer = (best_rps > 0.0).then(|| r.req_per_s[0] / best_rps);
                r.p99_vs_best_peer = best_p99.is_finite().then(|| r.p99_us[0] / best_p99);
            }
        }
        out.extend(rows);
    }
    out
}

/// cluster / standalone median req/s per client over the workloads measured on both.
pub(super) fn headline(summary: &[SummaryRow], clients: &[ClientKind]) -> Vec<HeadlineRow> {
    let mut out = Vec::new();
    for client in clients {
        let mut per_workload = BTreeMap::new();
        for s in summary
            .iter()
            .filter(|r| r.client == client.name() && r.target == "standalone" && r.runs > 0)
        {
            let cluster = summary.iter().find(|r| {
                r.client == s.client
                    && r.target == "cluster"
                    && r.workload == s.workload
                    && r.runs > 0
            });
            if let Some(c) = cluster {
                if s.req_per_s[0] > 0.0 {
                    per_workload.insert(s.workload.clone(), c.req_per_s[0] / s.req_per_s[0]);
                }
            }
        }
        let geomean = (!per_workload.is_empty()).then(|| {
            (per_workload.values().map(|r: &f64| r.ln()).sum::<f64>() / per_workload.len() as f64)
                .exp()
        });
        out.push(HeadlineRow {
            client: client.name().to_string(),
            per_workload,
            geomean,
        });
    }
    out
}

fn describe(s: &Settings) -> BTreeMap<String, String> {
    let names = |w: &[Workload]| w.iter().map(|w| w.name()).collect::<Vec<_>>().join(",");
    let mut m = BTreeMap::new();
    m.insert("cluster_workloads".into(), names(&s.cluster_workloads));
    m.insert(
        "standalone_workloads".into(),
        names(&s.standalone_workloads),
    );
    m.insert(
        "clients".into(),
        s.clients
            .iter()
            .map(|c| c.name())
            .collect::<Vec<_>>()
            .join(","),
    );
    m.insert("repeats".into(), s.repeats.to_string());
    m.insert("duration_s".into(), s.duration.as_secs_f64().to_string());
    m.insert("warmup_s".into(), s.warmup.as_secs_f64().to_string());
    m.insert("client_instances".into(), s.client_instances.to_string());
    m.insert(
        "connections_per_client".into(),
        s.connections_per_client.to_string(),
    );
    m.insert("tasks_per_client".into(), s.tasks_per_client.to_string());
    m.insert("key_space".into(), s.key_space.to_string());
    m.insert("value_size".into(), s.value_size.to_string());
    m.insert("pipeline_size".into(), s.pipeline_size.to_string());
    m.insert(
        "mode".into(),
        match s.rate {
            Some(r) => format!(
                "open loop, {r} req/s per client instance (latency from the intended send time, including up to 1 ms of timer lateness)"
            ),
            None => "closed loop".to_string(),
        },
    );
    m
}

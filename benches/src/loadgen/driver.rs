//! Drives one cell: a client's tasks run one workload for warm-up + duration, closed or open loop, and stop by themselves.

use super::clients::{BenchClient, ErrKind};
use super::metrics::{CpuSnapshot, CpuUsage, new_histogram};
use super::workload::{Generator, KeySpace, Request, Workload};
use hdrhistogram::Histogram;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// How long finished-cell tasks get to return after the end of the cell before they are aborted and counted as hung.
/// Every client here has a command deadline of at most a few seconds, so a task still running after this is stuck.
const GRACE: Duration = Duration::from_secs(5);

/// How often a task publishes its counts to the live stats line; a lock per task 5 times a second costs nothing
/// next to the requests, and keeps the once-a-second line fresh.
const LIVE_FLUSH: Duration = Duration::from_millis(200);

/// Upper bound on the request rate any task could reach; it bounds each loop by count as well as by time.
const MAX_RATE_PER_TASK: u64 = 2_000_000;

/// A stop request (Ctrl-C): tasks poll the flag, waits select on the channel.
#[derive(Clone, Debug)]
pub struct Stop {
    flag: Arc<AtomicBool>,
    tx: Arc<watch::Sender<bool>>,
}

impl Default for Stop {
    fn default() -> Self {
        let (tx, _) = watch::channel(false);
        Stop {
            flag: Arc::new(AtomicBool::new(false)),
            tx: Arc::new(tx),
        }
    }
}

impl Stop {
    /// Requests a stop.
    pub fn set(&self) {
        // Relaxed: the flag is a hint polled in loops; the watch channel carries the wake-up.
        self.flag.store(true, Ordering::Relaxed);
        self.tx.send_replace(true);
    }

    /// Whether a stop was requested.
    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// Sleeps until `deadline` or a stop request, whichever comes first.
    pub async fn sleep_until(&self, deadline: Instant) {
        let mut rx = self.tx.subscribe();
        if *rx.borrow() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {}
            _ = rx.wait_for(|s| *s) => {}
        }
    }
}

/// Counters the once-a-second stats line reads and resets.
#[derive(Debug)]
pub(super) struct Live {
    /// Requests completed since the last read.
    pub requests: AtomicU64,
    /// Commands completed since the last read.
    pub commands: AtomicU64,
    /// Failed requests since the last read.
    pub errors: AtomicU64,
    /// Request latencies (ns) since the last read.
    pub latency: Mutex<Histogram<u64>>,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            requests: AtomicU64::new(0),
            commands: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            latency: Mutex::new(new_histogram()),
        }
    }
}

impl Live {
    /// Zeroes every counter (between cells).
    pub(super) fn reset(&self) {
        // Relaxed: display counters only.
        self.requests.store(0, Ordering::Relaxed);
        self.commands.store(0, Ordering::Relaxed);
        self.errors.store(0, Ordering::Relaxed);
        if let Ok(mut h) = self.latency.lock() {
            h.reset();
        }
    }
}

/// The shape of one cell.
#[derive(Clone, Debug)]
pub(super) struct CellPlan {
    /// What each request does.
    pub workload: Workload,
    /// Load tasks per client instance.
    pub tasks_per_client: usize,
    /// Measured time.
    pub duration: Duration,
    /// Unmeasured time before it.
    pub warmup: Duration,
    /// Commands per request of the `pipeline` workload.
    pub pipeline_size: usize,
    /// Open loop: requests per second per client instance, spread evenly over its tasks. None: closed loop.
    pub rate: Option<f64>,
}

/// What one cell measured.
#[derive(Debug)]
pub(super) struct CellOutcome {
    /// Requests completed without error in the measured window.
    pub requests: u64,
    /// Commands in those requests.
    pub commands: u64,
    /// Failed requests by kind (over the whole cell, warm-up included: an error is never hidden).
    pub errors: BTreeMap<ErrKind, u64>,
    /// Latency per request (ns); open loop: from the intended send time.
    pub latency: Histogram<u64>,
    /// Latency per command (ns): the request's latency divided by its commands (the BATCH metric).
    pub per_command: Histogram<u64>,
    /// Seconds measured (shorter than planned after a stop).
    pub measured_s: f64,
    /// CPU over the measured window.
    pub cpu: CpuUsage,
    /// True when a stop request cut the cell short.
    pub interrupted: bool,
}

struct TaskResult {
    requests: u64,
    commands: u64,
    errors: BTreeMap<ErrKind, u64>,
    latency: Histogram<u64>,
    per_command: Histogram<u64>,
}

/// Runs one cell. `handles[i]` are the handles of client instance `i` (one per connection); task `t` of an instance
/// uses `handles[i][t % len]`.
pub(super) async fn drive<C: BenchClient>(
    handles: Vec<Vec<C>>,
    plan: &CellPlan,
    keys: &KeySpace,
    server_pids: &[u32],
    live: &Arc<Live>,
    stop: &Stop,
) -> CellOutcome {
    let start = Instant::now();
    let measure_start = start + plan.warmup;
    let end = measure_start + plan.duration;
    let total_secs = (plan.warmup + plan.duration).as_secs().max(1);
    let max_requests = MAX_RATE_PER_TASK.saturating_mul(total_secs);
    let tasks = plan.tasks_per_client.max(1);
    let interval = plan
        .rate
        .filter(|r| *r > 0.0)
        .map(|r| Duration::from_secs_f64(tasks as f64 / r));

    let mut joins = Vec::new();
    let mut seed = 0x5107_u64;
    for (instance, conns) in handles.into_iter().enumerate() {
        for t in 0..tasks {
            let Some(client) = conns.get(t % conns.len().max(1)).cloned() else {
                continue;
            };
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let generator = Generator::new(
                plan.workload,
                keys.clone(),
                instance * tasks + t,
                plan.pipeline_size,
            );
            // Open loop: tasks are staggered evenly across one interval so the aggregate schedule is smooth.
            let first = interval.map(|iv| start + iv.mul_f64(t as f64 / tasks as f64));
            let task = LoadTask {
                client,
                generator,
                rng: SmallRng::seed_from_u64(seed),
                measure_start,
                end,
                max_requests,
                interval,
                next_send: first,
                live: Arc::clone(live),
                stop: stop.clone(),
            };
            joins.push(tokio::spawn(task.run()));
        }
    }

    stop.sleep_until(measure_start).await;
    let before = CpuSnapshot::take(server_pids);
    stop.sleep_until(end).await;
    let after = CpuSnapshot::take(server_pids);
    let interrupted = stop.is_set();
    let measured_s = if interrupted {
        Instant::now()
            .min(end)
            .saturating_duration_since(measure_start)
            .as_secs_f64()
    } else {
        plan.duration.as_secs_f64()
    };

    let mut outcome = CellOutcome {
        requests: 0,
        commands: 0,
        errors: BTreeMap::new(),
        latency: new_histogram(),
        per_command: new_histogram(),
        measured_s,
        cpu: before.until(&after),
        interrupted,
    };
    let grace_end = Instant::now() + GRACE;
    for mut join in joins {
        match tokio::time::timeout_at(grace_end, &mut join).await {
            Ok(Ok(r)) => {
                outcome.requests += r.requests;
                outcome.commands += r.commands;
                for (k, n) in r.errors {
                    *outcome.errors.entry(k).or_default() += n;
                }
                let _ = outcome.latency.add(&r.latency);
                let _ = outcome.per_command.add(&r.per_command);
            }
            Ok(Err(_)) => *outcome.errors.entry(ErrKind::Other).or_default() += 1,
            Err(_) => {
                join.abort();
                *outcome.errors.entry(ErrKind::Hung).or_default() += 1;
            }
        }
    }
    outcome
}

struct LoadTask<C> {
    client: C,
    generator: Generator,
    rng: SmallRng,
    measure_start: Instant,
    end: Instant,
    max_requests: u64,
    interval: Option<Duration>,
    next_send: Option<Instant>,
    live: Arc<Live>,
    stop: Stop,
}

impl<C: BenchClient> LoadTask<C> {
    async fn run(mut self) -> TaskResult {
        let mut out = TaskResult {
            requests: 0,
            commands: 0,
            errors: BTreeMap::new(),
            latency: new_histogram(),
            per_command: new_histogram(),
        };
        let mut window = new_histogram();
        let (mut w_req, mut w_cmd, mut w_err) = (0u64, 0u64, 0u64);
        let mut next_flush = Instant::now() + LIVE_FLUSH;
        let mut req = Request::default();
        let mut issued = 0u64;
        while issued < self.max_requests && !self.stop.is_set() {
            // Closed loop: send now. Open loop: wait for the intended time and measure from it, so a slow reply
            // delays later sends without hiding their waiting time (no coordinated omission).
            let intended = match (self.next_send, self.interval) {
                (Some(at), Some(iv)) => {
                    if at >= self.end {
                        break;
                    }
                    if at > Instant::now() {
                        tokio::time::sleep_until(at).await;
                    }
                    self.next_send = Some(at + iv);
                    at
                }
                _ => {
                    let now = Instant::now();
                    if now >= self.end {
                        break;
                    }
                    now
                }
            };
            self.generator.fill(&mut req, &mut self.rng);
            issued += 1;
            let result = self.client.request(&req).await;
            let done = Instant::now();
            match result {
                Ok(cmds) => {
                    if done >= self.measure_start && done <= self.end {
                        let ns = done
                            .saturating_duration_since(intended)
                            .as_nanos()
                            .min(u64::MAX as u128) as u64;
                        // One record per request, into the window: a record is a likely cache miss
                        // (256 tasks' histograms do not fit in cache) that every client pays alike, and
                        // a fixed cost per request narrows the gap between a fast client and a slow one.
                        // Each flush below folds the window into the task's total.
                        window.saturating_record(ns.max(1));
                        // For one-command requests the per-command histogram is the latency one,
                        // copied at the end.
                        if cmds > 1 {
                            out.per_command.saturating_record((ns / cmds as u64).max(1));
                        }
                        out.requests += 1;
                        out.commands += cmds as u64;
                        w_req += 1;
                        w_cmd += cmds as u64;
                    }
                }
                Err(kind) => {
                    *out.errors.entry(kind).or_default() += 1;
                    w_err += 1;
                }
            }
            if done >= next_flush {
                next_flush = done + LIVE_FLUSH;
                let _ = out.latency.add(&window);
                self.publish(&mut window, &mut w_req, &mut w_cmd, &mut w_err);
            }
        }
        let _ = out.latency.add(&window);
        self.publish(&mut window, &mut w_req, &mut w_cmd, &mut w_err);
        // Every workload has a fixed number of commands per request, so either every request was
        // recorded above or none was.
        if out.per_command.is_empty() {
            out.per_command = out.latency.clone();
        }
        out
    }

    fn publish(&self, window: &mut Histogram<u64>, req: &mut u64, cmd: &mut u64, err: &mut u64) {
        // Relaxed: the stats line only needs eventually consistent totals.
        self.live
            .requests
            .fetch_add(std::mem::take(req), Ordering::Relaxed);
        self.live
            .commands
            .fetch_add(std::mem::take(cmd), Ordering::Relaxed);
        self.live
            .errors
            .fetch_add(std::mem::take(err), Ordering::Relaxed);
        if let Ok(mut h) = self.live.latency.lock() {
            let _ = h.add(&*window);
        }
        window.reset();
    }
}

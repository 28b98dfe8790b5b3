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
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
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

/// Where a cell's tasks record their latencies: one shard per runtime worker thread, not one
/// histogram per task.
///
/// Why: with a histogram per task, 256 tasks own 256 histograms of about 30 KB, and a task records
/// on whichever core it was last woken, so nearly every record missed the cache or pulled the
/// counter's line from the other core. In perf that record was 7-8% of the client process during
/// cluster get_single (256 tasks), load that every client carries alike and that narrows the gap
/// between a client that saturates the cores and one that leaves them idle. A thread's shard stays
/// in its core's cache; the lock around it is taken by that thread alone except when the shard
/// count wraps.
pub(super) struct Recorder {
    shards: Box<[Shard]>,
}

/// One shard, aligned so that two shards' locks never share a cache line.
#[repr(align(128))]
struct Shard(Mutex<ShardData>);

struct ShardData {
    /// Latencies since the last flush (ns).
    window: Histogram<u64>,
    /// Everything flushed so far (ns).
    total: Histogram<u64>,
    /// Per-command latencies of multi-command requests (ns).
    per_command: Histogram<u64>,
    /// When the window next goes to the live line and the total.
    next_flush: Instant,
}

/// Numbers the threads that record, in the order they first do; a thread keeps its number for the
/// process's life, so the runtime's workers keep their shards from cell to cell.
static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static THREAD_NUMBER: usize = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
}

impl Recorder {
    /// Shards for `threads` recording threads. Twice the cores covers the runtime's workers (one per
    /// core) with room for the driver's own threads; a thread past that shares a shard, correctly.
    pub(super) fn new(threads: usize) -> Recorder {
        let now = Instant::now();
        let shards = (0..threads.max(1))
            .map(|_| {
                Shard(Mutex::new(ShardData {
                    window: new_histogram(),
                    total: new_histogram(),
                    per_command: new_histogram(),
                    next_flush: now + LIVE_FLUSH,
                }))
            })
            .collect();
        Recorder { shards }
    }

    /// The calling thread's shard (`None` only for a recorder without shards, which `new` never makes).
    fn shard(&self) -> Option<&Shard> {
        let n = THREAD_NUMBER.with(|n| *n);
        self.shards.get(n % self.shards.len().max(1))
    }

    /// Records one request of `cmds` commands that took `ns`; every `LIVE_FLUSH` the shard's window
    /// goes to the live line. True when it did (microseconds of work, not nanoseconds).
    fn record(&self, ns: u64, cmds: usize, now: Instant, live: &Live) -> bool {
        let Some(Ok(mut d)) = self.shard().map(|s| s.0.lock()) else {
            return false;
        };
        d.window.saturating_record(ns.max(1));
        if cmds > 1 {
            d.per_command.saturating_record((ns / cmds as u64).max(1));
        }
        if now >= d.next_flush {
            d.next_flush = now + LIVE_FLUSH;
            d.flush(live);
            return true;
        }
        false
    }

    /// Flushes every shard and returns the cell's latency and per-command histograms. For
    /// one-command workloads the per-command histogram is the latency one.
    fn finish(&self, live: &Live) -> (Histogram<u64>, Histogram<u64>) {
        let mut latency = new_histogram();
        let mut per_command = new_histogram();
        for shard in self.shards.iter() {
            if let Ok(mut d) = shard.0.lock() {
                d.flush(live);
                let _ = latency.add(&d.total);
                let _ = per_command.add(&d.per_command);
            }
        }
        // Every workload has a fixed number of commands per request, so either every request was
        // recorded per command or none was.
        if per_command.is_empty() {
            per_command = latency.clone();
        }
        (latency, per_command)
    }
}

impl ShardData {
    fn flush(&mut self, live: &Live) {
        if self.window.is_empty() {
            return;
        }
        let _ = self.total.add(&self.window);
        if let Ok(mut h) = live.latency.lock() {
            let _ = h.add(&self.window);
        }
        self.window.reset();
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

    let recorder = Arc::new(Recorder::new(2 * super::metrics::cores()));
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
                recorder: Arc::clone(&recorder),
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
            }
            Ok(Err(_)) => *outcome.errors.entry(ErrKind::Other).or_default() += 1,
            Err(_) => {
                join.abort();
                *outcome.errors.entry(ErrKind::Hung).or_default() += 1;
            }
        }
    }
    (outcome.latency, outcome.per_command) = recorder.finish(live);
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
    recorder: Arc<Recorder>,
    stop: Stop,
}

impl<C: BenchClient> LoadTask<C> {
    async fn run(mut self) -> TaskResult {
        let mut out = TaskResult {
            requests: 0,
            commands: 0,
            errors: BTreeMap::new(),
        };
        let (mut w_req, mut w_cmd, mut w_err) = (0u64, 0u64, 0u64);
        let mut next_flush = Instant::now() + LIVE_FLUSH;
        let mut req = Request::default();
        let mut issued = 0u64;
        // Closed loop: a request starts when the previous one has finished, so the clock read that
        // ends one request starts the next (one read per request instead of two; in perf the clock
        // was 4% of the client process at 256 tasks). The next request's latency then includes
        // this loop's bookkeeping, tens of nanoseconds against hundreds of microseconds (a flush of the
        // live window, every 200 ms per shard, reads the clock again).
        let mut now = Instant::now();
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
            now = done;
            match result {
                Ok(cmds) => {
                    if done >= self.measure_start && done <= self.end {
                        let ns = done
                            .saturating_duration_since(intended)
                            .as_nanos()
                            .min(u64::MAX as u128) as u64;
                        if self.recorder.record(ns, cmds, done, &self.live) {
                            // The flush took microseconds: start the next request's clock after it.
                            now = Instant::now();
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
                self.publish(&mut w_req, &mut w_cmd, &mut w_err);
            }
        }
        self.publish(&mut w_req, &mut w_cmd, &mut w_err);
        out
    }

    fn publish(&self, req: &mut u64, cmd: &mut u64, err: &mut u64) {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_record_reaches_the_cell_and_the_live_line_from_any_number_of_threads() {
        // Two shards and three threads: one shard is shared, as on a runtime with more threads
        // than the recorder was sized for.
        let recorder = Arc::new(Recorder::new(2));
        let live = Arc::new(Live::default());
        std::thread::scope(|s| {
            for _ in 0..3 {
                let (recorder, live) = (Arc::clone(&recorder), Arc::clone(&live));
                s.spawn(move || {
                    for i in 1..=1000u64 {
                        recorder.record(i * 1000, 1, Instant::now(), &live);
                    }
                });
            }
        });
        let (latency, per_command) = recorder.finish(&live);
        assert_eq!(latency.len(), 3000);
        assert_eq!(latency.max(), latency.highest_equivalent(1_000_000));
        // One-command requests: the per-command histogram is the request one.
        assert_eq!(per_command.len(), 3000);
        assert_eq!(live.latency.lock().map(|h| h.len()).ok(), Some(3000));
    }

    #[test]
    fn a_multi_command_request_records_its_latency_per_command() {
        let recorder = Recorder::new(1);
        let live = Live::default();
        recorder.record(20_000, 20, Instant::now(), &live);
        let (latency, per_command) = recorder.finish(&live);
        assert_eq!(latency.len(), 1);
        assert_eq!(
            latency.value_at_quantile(0.5),
            latency.highest_equivalent(20_000)
        );
        assert_eq!(per_command.len(), 1);
        assert_eq!(
            per_command.value_at_quantile(0.5),
            per_command.highest_equivalent(1_000)
        );
    }
}

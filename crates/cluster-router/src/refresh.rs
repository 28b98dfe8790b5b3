//! Coalesced, rate-limited topology refresh.
//!
//! Every MOVED, connection loss or unknown node calls [`RefreshGate::request`]: one atomic swap,
//! and a wake-up only for the first request since the last refresh started.
//! A single loop ([`run`]) waits for a request (or the periodic check), lets a coalescing window pass
//! so a burst of requests becomes one refresh, honours a minimum interval between refreshes,
//! and runs the refresh. A thousand MOVED replies therefore cause one refresh, not a thousand
//! (ioredis #203 is what happens otherwise).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// The "refresh requested" flag shared by the router's hot path and the refresh loop.
#[derive(Debug, Default)]
pub(crate) struct RefreshGate {
    requested: AtomicBool,
    closed: AtomicBool,
    notify: Notify,
    /// Requests seen, coalesced or not (a statistic).
    pub(crate) requests: AtomicU64,
    /// Refreshes finished; with `done`, lets a command wait for the next refresh (after READONLY).
    generation: AtomicU64,
    done: Notify,
}

impl RefreshGate {
    /// Asks for a refresh. Cheap enough to call on every MOVED.
    pub(crate) fn request(&self) {
        // Relaxed: a statistic only.
        self.requests.fetch_add(1, Ordering::Relaxed);
        // AcqRel: whoever flips false -> true wakes the loop; later callers see `true` and stop here.
        if !self.requested.swap(true, Ordering::AcqRel) {
            // notify_one stores a permit when the loop is busy, so the request is never lost.
            self.notify.notify_one();
        }
    }

    /// Ends the loop (the last router handle is gone).
    pub(crate) fn close(&self) {
        // Release: pairs with the Acquire load in the loop.
        self.closed.store(true, Ordering::Release);
        self.notify.notify_one();
        self.done.notify_waiters();
    }

    /// How many refreshes have finished.
    pub(crate) fn generation(&self) -> u64 {
        // Acquire: pairs with the Release in `finished`, so the new snapshot is visible after the wait.
        self.generation.load(Ordering::Acquire)
    }

    fn finished(&self) {
        // Release: the snapshot stored by the refresh happens-before a waiter seeing the new generation.
        self.generation.fetch_add(1, Ordering::Release);
        self.done.notify_waiters();
    }

    /// Waits until a refresh that finished after generation `seen` (true), or `deadline` / close (false).
    pub(crate) async fn wait_past(&self, seen: u64, deadline: Instant) -> bool {
        loop {
            let notified = self.done.notified();
            tokio::pin!(notified);
            // Register before checking, so a refresh finishing in between is not missed.
            notified.as_mut().enable();
            if self.generation() > seen {
                return true;
            }
            if self.is_closed() || tokio::time::timeout_at(deadline, notified).await.is_err() {
                return false;
            }
        }
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

/// When the loop refreshes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    pub(crate) periodic: Duration,
    pub(crate) coalesce: Duration,
    pub(crate) min_interval: Duration,
}

/// The refresh loop. `refresh()` returns `None` when the router is gone (its `Weak` no longer upgrades),
/// which ends the loop, as does [`RefreshGate::close`].
pub(crate) async fn run<F, Fut>(gate: Arc<RefreshGate>, timing: Timing, mut refresh: F)
where
    F: FnMut() -> Option<Fut>,
    Fut: Future<Output = ()>,
{
    let mut last: Option<Instant> = None;
    loop {
        let periodic_at = later(last.unwrap_or_else(Instant::now), timing.periodic);
        let requested = tokio::select! {
            () = gate.notify.notified() => true,
            () = tokio::time::sleep_until(periodic_at) => false,
        };
        if gate.is_closed() {
            return;
        }
        if requested {
            // Let the burst that triggered us finish: everything requested in this window is served
            // by the refresh below.
            tokio::time::sleep(timing.coalesce).await;
            if let Some(last) = last {
                tokio::time::sleep_until(later(last, timing.min_interval)).await;
            }
        }
        // Clear before refreshing (AcqRel pairs with `request`): a request that arrives while the
        // refresh runs may have seen a stale view, so it must cause one more round.
        gate.requested.store(false, Ordering::Release);
        if gate.is_closed() {
            return;
        }
        let Some(fut) = refresh() else { return };
        fut.await;
        gate.finished();
        last = Some(Instant::now());
    }
}

/// `by` after `at`, or as far as `Instant` goes past `now`: a configured `Duration::MAX` means never, and
/// `Instant + Duration` would panic.
fn later(at: Instant, by: Duration) -> Instant {
    at.checked_add(by)
        .unwrap_or_else(|| crate::config::deadline_after(by))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    const TIMING: Timing = Timing {
        periodic: Duration::from_secs(30),
        coalesce: Duration::from_millis(100),
        min_interval: Duration::from_millis(500),
    };

    fn start(gate: &Arc<RefreshGate>) -> (Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let task = tokio::spawn(run(gate.clone(), TIMING, move || {
            c.fetch_add(1, Ordering::SeqCst);
            Some(async {})
        }));
        (count, task)
    }

    #[tokio::test(start_paused = true)]
    async fn thousand_requests_cause_one_refresh() {
        let gate = Arc::new(RefreshGate::default());
        let (count, task) = start(&gate);
        tokio::task::yield_now().await;
        for _ in 0..1000 {
            gate.request();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        for _ in 0..1000 {
            gate.request();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(count.load(Ordering::SeqCst), 1);
        assert_eq!(gate.requests.load(Ordering::Relaxed), 2000);
        // A request after the refresh waits for the minimum interval, then refreshes once more.
        gate.request();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(count.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(count.load(Ordering::SeqCst), 2);
        gate.close();
        tokio::time::timeout(Duration::from_secs(1), task)
            .await
            .ok();
    }

    #[tokio::test(start_paused = true)]
    async fn a_command_can_wait_for_the_next_refresh() {
        let gate = Arc::new(RefreshGate::default());
        let (count, task) = start(&gate);
        tokio::task::yield_now().await;
        let seen = gate.generation();
        gate.request();
        let waited = gate
            .wait_past(seen, Instant::now() + Duration::from_secs(1))
            .await;
        assert!(waited);
        assert_eq!(count.load(Ordering::SeqCst), 1);
        // No refresh comes without a request: the wait ends at the deadline.
        let seen = gate.generation();
        let started = Instant::now();
        assert!(
            !gate
                .wait_past(seen, started + Duration::from_millis(300))
                .await
        );
        assert_eq!(started.elapsed(), Duration::from_millis(300));
        gate.close();
        tokio::time::timeout(Duration::from_secs(1), task)
            .await
            .ok();
    }

    #[tokio::test(start_paused = true)]
    async fn periodic_check_and_close() {
        let gate = Arc::new(RefreshGate::default());
        let (count, task) = start(&gate);
        tokio::time::sleep(Duration::from_secs(61)).await;
        assert_eq!(count.load(Ordering::SeqCst), 2);
        gate.close();
        assert!(
            tokio::time::timeout(Duration::from_secs(1), task)
                .await
                .is_ok(),
            "loop did not end on close"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn ends_when_router_is_gone() {
        let gate = Arc::new(RefreshGate::default());
        let task = tokio::spawn(run(gate.clone(), TIMING, || None::<std::future::Ready<()>>));
        gate.request();
        assert!(
            tokio::time::timeout(Duration::from_secs(1), task)
                .await
                .is_ok()
        );
    }
}

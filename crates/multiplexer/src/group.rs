//! [`ConnectionGroup`]: connections whose writers wait for the same callers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// The connections of one client (every node of a cluster, every connection of a pool), sharing a
/// count of callers that a reply has woken and that have not run yet, and a count of commands written
/// and not yet answered.
///
/// Why: a closed-loop caller sends its next command right after it takes a reply, often to another
/// connection (another node of a cluster). A writer that sees such callers waiting to run yields to
/// them first, so their commands share its next write; with a count per connection only, the writers
/// of a cluster's other nodes saw nobody coming and wrote one small batch per wake-up, and the send
/// syscall was 40% of the client's CPU in `cargo xtask profile --workload get_single --target cluster`.
///
/// Every [`ConnectionConfig`](crate::ConnectionConfig) starts with a group of its own, and its clones
/// share it: the connections made from one configuration form one group. The count is a scheduling
/// hint only; nothing depends on it for correctness. A reply future that is kept but never polled
/// again (or leaked with `mem::forget`) after its reply arrived stays counted, and until it is polled
/// or dropped every writer of the group yields once per write: a few microseconds, never a hang.
///
/// The count of unanswered commands, in all and per server address, lets a writer hold its queue
/// while its server still works on its previous write and the group's other servers keep the cores
/// busy (see `Shared::may_write`). It is a hint as well: a writer always writes once its own
/// connection has nothing unanswered.
///
/// A server that stops answering (stopped by SIGSTOP, or busy with a long script) keeps its count high
/// without keeping a core busy. Each connection's deadline sweep takes such a count out of the group's
/// sum after one tick without a reply (`withdraw`), and puts it back once replies come again, so the
/// other nodes' writers do not hold for a server that fills no gap.
#[derive(Clone, Debug, Default)]
pub struct ConnectionGroup {
    woken: Arc<AtomicUsize>,
    /// A separate allocation from `woken`: that count changes once per reply, this one once per
    /// write and read, and they should not share a cache line.
    in_flight: Arc<InFlight>,
    /// The same count per server address, shared by the connections to that address (a pool's).
    /// Entries are made at connect time and kept: one per address the client ever connected to.
    servers: Arc<Mutex<HashMap<String, Arc<AtomicUsize>>>>,
}

impl ConnectionGroup {
    /// A group of its own.
    pub fn new() -> ConnectionGroup {
        ConnectionGroup::default()
    }

    /// Callers woken by a reply that have not taken it yet, over the group.
    #[inline]
    pub(crate) fn woken_callers(&self) -> usize {
        // Relaxed: a hint for the writer's yield decision.
        self.woken.load(Ordering::Relaxed)
    }

    /// A reply is about to be handed to a caller. Called before the hand-over is published, so the
    /// caller's `taken` cannot come first (it is ordered after by the slot's release/acquire).
    #[inline]
    pub(crate) fn delivering(&self) {
        self.woken.fetch_add(1, Ordering::Relaxed);
    }

    /// The reply announced by `delivering` was taken by its caller, or dropped.
    #[inline]
    pub(crate) fn taken(&self) {
        self.woken.fetch_sub(1, Ordering::Relaxed);
    }

    /// The unanswered-command count of the group's connections to `addr` (called at connect time).
    pub(crate) fn server(&self, addr: &str) -> Arc<AtomicUsize> {
        let mut servers = self.servers.lock().unwrap_or_else(PoisonError::into_inner);
        // Counters no connection holds any more go: the map stays as big as the set of addresses
        // connected now, not every address ever seen (nodes replaced after failovers, probes).
        servers.retain(|_, count| Arc::strong_count(count) > 1);
        servers.entry(addr.to_string()).or_default().clone()
    }

    /// Commands written and not yet answered over the group, less those of connections whose server
    /// has stopped answering (see [`withdraw`](Self::withdraw)). Each connection updates it next to
    /// its own count, so the two may differ by a batch for a moment.
    #[inline]
    pub(crate) fn in_flight(&self) -> usize {
        // Relaxed: a hint for the writers' hold decision.
        let all = self.in_flight.all.load(Ordering::Relaxed);
        all.saturating_sub(self.in_flight.stalled.load(Ordering::Relaxed))
    }

    /// A connection's `n` unanswered commands stop counting in [`in_flight`](Self::in_flight): its
    /// server has answered nothing for a sweep tick. The connection's sweep gives back everything it
    /// withdrew with [`restore`](Self::restore), in one call or several, when replies come again, the
    /// connection resets or the sweep ends.
    pub(crate) fn withdraw(&self, n: usize) {
        self.in_flight.stalled.fetch_add(n, Ordering::Relaxed);
    }

    /// Gives back `n` of what [`withdraw`](Self::withdraw) took.
    pub(crate) fn restore(&self, n: usize) {
        self.in_flight.stalled.fetch_sub(n, Ordering::Relaxed);
    }

    /// `n` commands were written on one of the group's connections, to the server whose count
    /// [`server`](Self::server) gave.
    #[inline]
    pub(crate) fn written(&self, server: &AtomicUsize, n: usize) {
        server.fetch_add(n, Ordering::Relaxed);
        self.in_flight.all.fetch_add(n, Ordering::Relaxed);
    }

    /// `n` commands written on one of the group's connections were answered (or failed with it).
    /// A connection answers only what it counted with [`written`](Self::written) before the release
    /// of its own count, which its reader acquires before answering, so the count never underflows.
    #[inline]
    pub(crate) fn answered(&self, server: &AtomicUsize, n: usize) {
        server.fetch_sub(n, Ordering::Relaxed);
        self.in_flight.all.fetch_sub(n, Ordering::Relaxed);
    }
}

/// The group's unanswered-command counts. `stalled` changes only at a sweep tick, so sharing the
/// cache line with `all` costs the writers nothing.
#[derive(Debug, Default)]
struct InFlight {
    all: AtomicUsize,
    stalled: AtomicUsize,
}

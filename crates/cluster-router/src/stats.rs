//! Router counters ([`RouterStats`]): relaxed atomics read as a snapshot.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of the router's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RouterStats {
    /// `-MOVED` replies followed.
    pub moved: u64,
    /// `-ASK` replies followed.
    pub ask: u64,
    /// Retries after a refused command (TRYAGAIN, CLUSTERDOWN, ...) or an unsent connection failure.
    pub retries: u64,
    /// Commands failed as `Indeterminate` (may have run; not re-sent).
    pub indeterminate: u64,
    /// Refresh requests (most are coalesced).
    pub refresh_requests: u64,
    /// Topology refreshes run.
    pub refreshes: u64,
    /// Refreshes that found a different topology and swapped it in.
    pub topology_changes: u64,
    /// Connections made, over every node (first connects).
    pub connects: u64,
    /// Reconnects after a lost connection, over every node.
    pub reconnects: u64,
    /// Connections open right now for one blocking command each (`BLPOP`, `XREAD ... BLOCK`); not
    /// counted in `connects` or in the nodes' `in_flight`.
    pub blocking_connections: usize,
    /// Per node: address and commands in flight.
    pub nodes: Vec<NodeStats>,
}

/// Counters of one node's connections.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeStats {
    /// `host:port`.
    pub addr: String,
    /// Commands accepted and not finished.
    pub in_flight: usize,
    /// Whether a connection is up.
    pub connected: bool,
    /// Replies received, over the node's connections.
    pub commands: u64,
    /// Write batches (commands / writes is how many commands shared a write).
    pub writes: u64,
    /// Reads that returned data (commands / reads is how many replies one read brought).
    pub reads: u64,
    /// Callers whose deadline passed while waiting on this node.
    pub timeouts: u64,
}

/// The live counters. Relaxed everywhere: statistics, ordered with nothing.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) moved: AtomicU64,
    pub(crate) ask: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) indeterminate: AtomicU64,
    pub(crate) refreshes: AtomicU64,
    pub(crate) topology_changes: AtomicU64,
}

pub(crate) fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

//! [`Stats`]: the client's counters, for dashboards, alerts and tests.

/// A snapshot of a client's counters, from [`Client::stats`](crate::Client::stats).
///
/// Counters only grow (except `in_flight`); take two snapshots and subtract to get rates.
/// The redirect and topology counters stay 0 for a standalone server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// `MOVED` redirects followed (the slot map was patched and the command re-sent).
    pub moved: u64,
    /// `ASK` redirects followed (`ASKING` + the command on the importing node).
    pub ask: u64,
    /// Commands re-sent after the cluster refused them before running them (`TRYAGAIN`,
    /// `CLUSTERDOWN`, `LOADING`, ...) or after a connection failure before they were written.
    pub retries: u64,
    /// Commands that failed as [`Indeterminate`](crate::ErrorKind::Indeterminate): they may have
    /// run, so they were not re-sent.
    pub indeterminate: u64,
    /// Topology refreshes run (many requests coalesce into one).
    pub refreshes: u64,
    /// Refreshes that found a different slot map and switched to it.
    pub topology_changes: u64,
    /// Connections made, over every node.
    pub connects: u64,
    /// Reconnects after a lost connection, over every node.
    pub reconnects: u64,
    /// Connections open right now for one blocking command each (`BLPOP`, `XREAD ... BLOCK`): such a
    /// command would hold every other caller's reply behind it on a shared connection. Not counted in
    /// `connects` or in the nodes' `in_flight`.
    pub blocking_connections: usize,
    /// One entry per node with connections, sorted by address.
    pub nodes: Vec<NodeStats>,
}

/// The counters of one node's connections.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeStats {
    /// `host:port`.
    pub addr: String,
    /// Commands accepted and not finished with yet.
    pub in_flight: usize,
    /// Whether a connection to the node is up.
    pub connected: bool,
    /// Replies received.
    pub commands: u64,
    /// Write batches; `commands / writes` is how many commands shared one write.
    pub writes: u64,
    /// Reads that returned data; `commands / reads` is how many replies one read brought.
    pub reads: u64,
    /// Callers whose deadline passed while waiting on this node.
    pub timeouts: u64,
}

impl Stats {
    pub(crate) fn from_router(s: cluster_router::RouterStats) -> Stats {
        Stats {
            moved: s.moved,
            ask: s.ask,
            retries: s.retries,
            indeterminate: s.indeterminate,
            refreshes: s.refreshes,
            topology_changes: s.topology_changes,
            connects: s.connects,
            reconnects: s.reconnects,
            blocking_connections: s.blocking_connections,
            nodes: s
                .nodes
                .into_iter()
                .map(|n| NodeStats {
                    addr: n.addr,
                    in_flight: n.in_flight,
                    connected: n.connected,
                    commands: n.commands,
                    writes: n.writes,
                    reads: n.reads,
                    timeouts: n.timeouts,
                })
                .collect(),
        }
    }

    pub(crate) fn from_standalone(backend: &crate::standalone::Standalone) -> Stats {
        let pool = &backend.pool;
        let s = pool.stats();
        Stats {
            connects: s.connects,
            reconnects: s.reconnects,
            blocking_connections: backend.blocking_connections(),
            nodes: vec![NodeStats {
                addr: pool.addr().to_string(),
                in_flight: pool.in_flight(),
                connected: pool.is_connected(),
                commands: s.commands,
                writes: s.writes,
                reads: s.reads,
                timeouts: s.timeouts,
            }],
            ..Stats::default()
        }
    }
}

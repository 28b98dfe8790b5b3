//! Router settings and per-call options.

use std::time::Duration;

use multiplexer::ConnectionConfig;
use tokio::time::Instant;

/// Settings of a [`crate::Router`]. Build with [`RouterConfig::new`] and adjust the public fields.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RouterConfig {
    /// `host:port` of one or more cluster nodes; any one that answers is enough.
    pub seeds: Vec<String>,
    /// Template for every node connection; `addr` is replaced per node, `readonly` is set when
    /// `read_from_replicas` is on, and `on_silence` is the router's own (see `refresh_after_silence`).
    pub connection: ConnectionConfig,
    /// Multiplexed connections per node.
    pub connections_per_node: usize,
    /// Redirects (MOVED + ASK) one command may follow before failing with `TooManyRedirects`.
    pub max_redirects: u32,
    /// Send read-only commands to an online replica of the slot (master when none is up).
    pub read_from_replicas: bool,
    /// How often the topology is checked when nothing asked for a refresh.
    pub periodic_check: Duration,
    /// How long the refresh loop waits after a request so a burst of requests becomes one refresh.
    pub refresh_coalesce: Duration,
    /// Least time between two refreshes.
    pub min_refresh_interval: Duration,
    /// Bound on one topology fetch from one node during a refresh.
    pub refresh_timeout: Duration,
    /// A node that leaves commands unanswered this long makes the router refresh its topology, and
    /// again after each further interval as long as it stays silent and commands are still sent to it
    /// (see [`multiplexer::SilenceHook`]). `Duration::MAX` turns this off.
    pub refresh_after_silence: Duration,
    /// First pause before retrying a refused command or an unsent one.
    pub retry_backoff_min: Duration,
    /// Cap of the retry pause.
    pub retry_backoff_max: Duration,
    /// Deadline of a command when the caller gives none ([`crate::Router::options`]).
    pub default_timeout: Duration,
    /// Connections open at once for blocking commands (one per call, over all nodes; at least 1); a
    /// blocking call beyond it waits for one to close, until its deadline
    /// ([`multiplexer::Dedicated::with_limit`]).
    pub max_blocking_connections: usize,
}

impl RouterConfig {
    /// Defaults for the given seeds (`host:port`).
    pub fn new<S: Into<String>>(seeds: impl IntoIterator<Item = S>) -> RouterConfig {
        RouterConfig {
            seeds: seeds.into_iter().map(Into::into).collect(),
            connection: ConnectionConfig::new(""),
            connections_per_node: 1,
            // Five covers a MOVED and an ASK during a migration plus a stale view after a failover;
            // more than that is a loop (redis/redis #12743), not progress.
            max_redirects: 5,
            read_from_replicas: false,
            // glide checks every 60 s, Lettuce defaults to 60 s; MOVED and connection errors trigger a
            // refresh anyway, so the periodic check only catches silent changes (added replicas).
            periodic_check: Duration::from_secs(30),
            // go-redis merges refresh requests over about 200 ms; 50 ms already turns a burst of MOVED
            // replies or connection errors (they arrive within a few ms of each other) into one refresh.
            refresh_coalesce: Duration::from_millis(50),
            // At most 4 refreshes a second per client, each asking log2(n)+1 nodes, and only while
            // something keeps asking (ioredis #203 was a refresh per failing command). The interval bounds
            // how late a promoted replica is noticed after a crash (no MOVED comes from a dead master):
            // Redis promotes 2.0-2.5 s after the crash with node-timeout 1 s, and the client is expected
            // back within node-timeout + 2 s, which leaves a few hundred milliseconds.
            min_refresh_interval: Duration::from_millis(250),
            // A healthy node answers CLUSTER SHARDS in well under a millisecond; one second rides out
            // a loaded machine while a hung (SIGSTOPped) node cannot stall the refresh.
            refresh_timeout: Duration::from_secs(1),
            // A hung master (stopped, partitioned) sends no MOVED and closes nothing; the cluster fails
            // it over after cluster-node-timeout (15 s by default, 1 s in tests) plus an election, and
            // without this the client would learn of it only from a command's deadline (5 s by
            // default) and keep sending new commands to the dead node until then. Every second: the
            // promotion is seen within about a second of happening, and a false alarm (a script or
            // `KEYS` running for seconds) costs one cheap, rate-limited refresh per second.
            refresh_after_silence: Duration::from_secs(1),
            // TRYAGAIN during a migration clears in milliseconds; start small.
            retry_backoff_min: Duration::from_millis(10),
            // CLUSTERDOWN after a master crash lasts 0.6-1.1 s: polling every <= 200 ms resumes within
            // a fifth of a second of the cluster becoming ok without hammering it.
            retry_backoff_max: Duration::from_millis(200),
            // Five seconds: a Redis 7 failover with cluster-node-timeout 1 s makes every shard answer
            // CLUSTERDOWN for up to 1.1 s and promotes the replica 2.0-2.5 s after the crash, so a
            // command issued during the failover still succeeds within its deadline instead of failing fast.
            default_timeout: Duration::from_secs(5),
            // See `multiplexer::DEFAULT_MAX_DEDICATED`: 1,000, a bound on what one client may take of
            // a server's `maxclients` (10,000 by default).
            max_blocking_connections: multiplexer::DEFAULT_MAX_DEDICATED,
        }
    }

    /// The connection settings for one node.
    pub(crate) fn node_connection(&self, addr: &str) -> ConnectionConfig {
        self.connection
            .clone()
            .addr(addr)
            .readonly(self.read_from_replicas)
    }
}

/// Per-call options.
#[derive(Clone, Debug)]
pub struct SendOptions {
    /// The call returns by this instant, whatever happens (redirects, retries, reconnects included).
    pub deadline: Instant,
    /// The caller vouches that running the command twice is harmless: the router may re-send it after a
    /// connection loss even when it may already have run.
    pub retry_safe: bool,
}

impl SendOptions {
    /// A deadline `timeout` from now; not retry-safe.
    pub fn with_timeout(timeout: Duration) -> SendOptions {
        SendOptions {
            deadline: deadline_after(timeout),
            retry_safe: false,
        }
    }
}

/// `timeout` from now, saturating ([`multiplexer::deadline_after`]): `Duration::MAX` is how a caller
/// says "no limit" (a `BLPOP key 0`), and `Instant + Duration` panics when the sum does not fit.
pub(crate) fn deadline_after(timeout: Duration) -> Instant {
    multiplexer::deadline_after(Instant::now(), timeout)
}

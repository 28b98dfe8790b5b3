//! `ClientBuilder`: every connection setting in one place, checked when the client is built.

use std::time::Duration;

use crate::client::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::url;

/// The protocol version to speak.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// RESP2, the protocol every Redis version speaks.
    Resp2,
    /// RESP3 (`HELLO 3`), falling back to RESP2 when the server or a proxy refuses it.
    #[default]
    Resp3,
}

/// Builds a [`Client`] with settings other than the defaults.
///
/// ```no_run
/// # async fn run() -> slotmux::Result<()> {
/// use std::time::Duration;
///
/// let client = slotmux::Client::builder()
///     .url("redis://:secret@127.0.0.1:6379/2")
///     .command_timeout(Duration::from_millis(500))
///     .client_name("checkout-service")
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default)]
pub struct ClientBuilder {
    pub(crate) nodes: Vec<String>,
    pub(crate) connections_per_node: Option<usize>,
    pub(crate) command_timeout: Option<Duration>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) max_in_flight: Option<usize>,
    pub(crate) max_queued: Option<usize>,
    pub(crate) max_reply_bytes: Option<usize>,
    pub(crate) protocol: Protocol,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) database: Option<u32>,
    pub(crate) client_name: Option<String>,
    pub(crate) wait_for_reconnect: Option<bool>,
    pub(crate) read_from_replicas: Option<bool>,
    pub(crate) max_redirects: Option<u32>,
    pub(crate) max_blocking_connections: Option<usize>,
    pub(crate) tcp_keepalive: Option<Option<Duration>>,
    /// A bad URL is reported by [`build`](ClientBuilder::build), so the setters stay chainable.
    pub(crate) invalid: Option<String>,
}

impl ClientBuilder {
    /// A builder with default settings and no address.
    pub fn new() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The server to connect to, as `redis://[user[:password]@]host[:port][/db]`.
    ///
    /// The user name, password and database in the URL are applied as if set with the setters;
    /// setters called later override them. A malformed URL makes [`build`](ClientBuilder::build)
    /// fail with [`ErrorKind::InvalidInput`].
    pub fn url(mut self, url: &str) -> ClientBuilder {
        match url::parse(url) {
            Ok(p) => {
                self.nodes = vec![p.addr];
                if p.username.is_some() {
                    self.username = p.username;
                }
                if p.password.is_some() {
                    self.password = p.password;
                }
                if p.database.is_some() {
                    self.database = p.database;
                }
            }
            Err(e) => self.invalid = Some(e.to_string()),
        }
        self
    }

    /// The servers to connect to, as `host:port`.
    ///
    /// Several addresses are seed nodes of a Redis Cluster (any one that answers is enough);
    /// one address may be a standalone server or a cluster node, which [`build`](ClientBuilder::build) detects.
    pub fn nodes<I, S>(mut self, nodes: I) -> ClientBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.nodes = nodes.into_iter().map(Into::into).collect();
        self
    }

    /// How many multiplexed connections to open to each server (default 1).
    ///
    /// One connection carries many thousands of concurrent commands; a second one helps when a
    /// single connection's reader becomes the bottleneck on a many-core machine.
    pub fn connections_per_node(mut self, n: usize) -> ClientBuilder {
        self.connections_per_node = Some(n);
        self
    }

    /// How long a command may take, from the call until its reply, before it fails with
    /// [`ErrorKind::Timeout`]. The deadline covers everything on the way: queueing, reconnects, and
    /// against a cluster the redirects and retries too.
    ///
    /// Default: 1 s against one server; 5 s against a cluster, so that commands ride out a failover
    /// (every shard answers `CLUSTERDOWN` for up to about a second, and the replica is promoted 2-2.5 s
    /// after a master crashes with `cluster-node-timeout` 1 s) instead of failing.
    pub fn command_timeout(mut self, d: Duration) -> ClientBuilder {
        self.command_timeout = Some(d);
        self
    }

    /// How long connecting and the handshake may take.
    pub fn connect_timeout(mut self, d: Duration) -> ClientBuilder {
        self.connect_timeout = Some(d);
        self
    }

    /// The most commands one connection may have written and not yet answered (default 1024).
    ///
    /// Together with [`max_queued`](ClientBuilder::max_queued) it bounds what a connection holds:
    /// beyond both, callers wait in arrival order and fail with [`ErrorKind::Busy`] when their
    /// deadline passes first, so memory stays bounded however fast callers submit.
    pub fn max_in_flight(mut self, n: usize) -> ClientBuilder {
        self.max_in_flight = Some(n);
        self
    }

    /// The most commands one connection may hold accepted but not yet written (default 1024).
    ///
    /// Each slot of the bound (`max_in_flight + max_queued`) is allocated when the connection opens,
    /// about 176 bytes each, so the default costs about 350 KiB per connection. A caller that finds
    /// every slot taken waits in the fair queue described at [`max_in_flight`](ClientBuilder::max_in_flight);
    /// that costs CPU: it is woken twice per command instead of once, and takes the queue's lock.
    /// With 10,000 closed-loop GET tasks, one measurement (before a waiter's timer was removed) gave a
    /// client CPU per request of 3.2 µs with the default bound and 2.1 µs with `max_queued(8192)` on a
    /// 3-master cluster, 3.0 and 2.7 µs on one server (`docs/benchmarks/profile.md`, session 8). Where more tasks than the bound wait on
    /// one node most of the time, raising it buys throughput for memory.
    pub fn max_queued(mut self, n: usize) -> ClientBuilder {
        self.max_queued = Some(n);
        self
    }

    /// The most bytes one array, map or set reply may span (default 1 GiB). A reply past it fails
    /// the commands of its connection with [`ErrorKind::Protocol`] and the connection reconnects, as
    /// after any invalid reply; without a bound, a broken server or proxy that streams an endless array
    /// would fill the client's memory. Lower it when replies are known to be small; it is at least
    /// 4 MiB, so that the client's own replies (`COMMAND`, `CLUSTER SHARDS`) still fit.
    pub fn max_reply_bytes(mut self, n: usize) -> ClientBuilder {
        self.max_reply_bytes = Some(n);
        self
    }

    /// Connections open at once for blocking commands (`BLPOP`, `XREAD ... BLOCK`, ...), each of which
    /// gets a connection of its own for the call (default 1,000, at least 1). A blocking call that
    /// finds them all in use waits for one until its deadline, then fails with [`ErrorKind::Busy`]
    /// without having been sent. The bound keeps a burst of blocking calls from taking a large share
    /// of the server's `maxclients` (10,000 by default, shared by every client of the server).
    pub fn max_blocking_connections(mut self, n: usize) -> ClientBuilder {
        self.max_blocking_connections = Some(n);
        self
    }

    /// How long a connection may sit idle before TCP probes the server (default 15 s; three probes a
    /// third of that apart), and, on Linux, half of how long written data may stay unacknowledged
    /// (`TCP_USER_TIMEOUT`) before the connection is failed and reconnected. A server whose host went
    /// down or was cut off by a partition sends nothing, not even a reset: this is how the client
    /// finds out within about 30 s instead of at the next command or after minutes of
    /// retransmissions. `None` keeps the system's settings.
    pub fn tcp_keepalive(mut self, idle: Option<Duration>) -> ClientBuilder {
        self.tcp_keepalive = Some(idle);
        self
    }

    /// The protocol version (default [`Protocol::Resp3`], with fallback to RESP2).
    pub fn protocol(mut self, p: Protocol) -> ClientBuilder {
        self.protocol = p;
        self
    }

    /// The ACL user name to authenticate as.
    pub fn username(mut self, user: impl Into<String>) -> ClientBuilder {
        self.username = Some(user.into());
        self
    }

    /// The password to authenticate with (`requirepass`, or the ACL user's).
    pub fn password(mut self, password: impl Into<String>) -> ClientBuilder {
        self.password = Some(password.into());
        self
    }

    /// The database to `SELECT` on every connection (standalone servers only: a cluster has only 0,
    /// and asking a cluster for another is [`ErrorKind::InvalidInput`]).
    pub fn database(mut self, db: u32) -> ClientBuilder {
        self.database = Some(db);
        self
    }

    /// The name to set with `CLIENT SETNAME` on every connection, shown by `CLIENT LIST`.
    pub fn client_name(mut self, name: impl Into<String>) -> ClientBuilder {
        self.client_name = Some(name.into());
        self
    }

    /// While a connection is being re-established, whether commands wait for it (until their deadline)
    /// rather than fail at once with [`ErrorKind::Connection`].
    pub fn wait_for_reconnect(mut self, wait: bool) -> ClientBuilder {
        self.wait_for_reconnect = Some(wait);
        self
    }

    /// Cluster only: send read-only commands (`GET`, `MGET`, `HGETALL`, ...) to an online replica of their
    /// slot, with `READONLY` on the replica connections, falling back to the master when no replica is up.
    /// Spreads the read load over more servers, at the price of reads that may lag writes by the
    /// replication delay. Transactions always go to the master. Ignored by a client of one server.
    /// Default: off.
    pub fn read_from_replicas(mut self, on: bool) -> ClientBuilder {
        self.read_from_replicas = Some(on);
        self
    }

    /// Cluster only: how many redirects (`MOVED` and `ASK`) one command may follow before it fails with
    /// [`ErrorKind::TooManyRedirects`]. Default 5, which covers a `MOVED` and an `ASK` during a slot
    /// migration plus a stale view after a failover; more is a loop, not progress.
    pub fn max_redirects(mut self, n: u32) -> ClientBuilder {
        self.max_redirects = Some(n);
        self
    }

    /// Checks the settings, connects and returns the client.
    ///
    /// Fails with [`ErrorKind::InvalidInput`] for a bad URL or settings, or with the connection's error
    /// when the server cannot be reached or refuses the handshake.
    pub async fn build(self) -> Result<Client> {
        self.validate()?;
        Client::from_builder(self).await
    }

    fn validate(&self) -> Result<()> {
        if let Some(why) = &self.invalid {
            return Err(Error::with_message(ErrorKind::InvalidInput, why.clone()));
        }
        if self.nodes.is_empty() {
            return Err(Error::with_message(
                ErrorKind::InvalidInput,
                "no server address: call url() or nodes()",
            ));
        }
        if self.connections_per_node == Some(0) {
            return Err(Error::with_message(
                ErrorKind::InvalidInput,
                "connections_per_node must be at least 1",
            ));
        }
        if self.max_in_flight == Some(0) {
            return Err(Error::with_message(
                ErrorKind::InvalidInput,
                "max_in_flight must be at least 1",
            ));
        }
        if self.command_timeout == Some(Duration::ZERO) {
            return Err(Error::with_message(
                ErrorKind::InvalidInput,
                "command_timeout must be above zero",
            ));
        }
        Ok(())
    }
}

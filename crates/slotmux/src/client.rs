//! `Client`: the handle users share between tasks, dispatching to a backend.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cluster_router::ConnectionUse;
use multiplexer::deadline_after;
use resp_codec::{EncodedCommand, Frame};
use tokio::time::Instant;

use crate::builder::{ClientBuilder, Protocol};
use crate::cmd::{Cmd, Pipeline};
use crate::error::{Error, ErrorKind, Result};
use crate::from_value::FromValue;
use crate::scan::Scan;
use crate::standalone::{Standalone, exec_results};
use crate::stats::Stats;
use crate::value::Value;

/// A Redis or Redis Cluster client, shared by any number of tasks.
///
/// `Client` is `Clone + Send + Sync`; a clone is a reference-count bump and shares the connections.
/// Every command has a deadline ([`ClientBuilder::command_timeout`]) and resolves with its reply or a
/// typed [`Error`] by then, whatever the server or the network do.
///
/// ```no_run
/// # async fn run() -> slotmux::Result<()> {
/// let client = slotmux::Client::connect("redis://127.0.0.1:6379").await?;
/// client.set("greeting", "hello").await?;
/// assert_eq!(client.get("greeting").await?.as_deref(), Some(&b"hello"[..]));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    /// The deadline of every command and pipeline, counted from the call.
    command_timeout: Duration,
    /// Set by [`Client::close`]; read with Relaxed on each call, since it publishes no other data.
    closed: AtomicBool,
}

/// Where commands go; everything above this enum is written against the dispatch methods below.
enum Backend {
    /// One server, through a pool of multiplexed connections.
    Standalone(Standalone),
    /// A Redis Cluster: the router picks the node by slot and handles redirects and refusals.
    Cluster(cluster_router::Router),
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Client");
        match &self.inner.backend {
            Backend::Standalone(s) => d
                .field("mode", &"standalone")
                .field("addr", &s.pool.addr())
                .field("connected", &s.pool.is_connected()),
            Backend::Cluster(router) => d
                .field("mode", &"cluster")
                .field("masters", &router.masters()),
        };
        d.field("command_timeout", &self.inner.command_timeout)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects to the server at `url` (`redis://[user[:password]@]host[:port][/db]`) with default settings.
    ///
    /// When the server is a Redis Cluster node (`INFO cluster` says `cluster_enabled:1`), the client
    /// becomes a cluster client: it learns the slot map from that node and routes every command by
    /// its keys, following `MOVED`/`ASK` and retrying what the cluster refused before running it.
    ///
    /// Fails with [`ErrorKind::InvalidInput`] for a malformed URL, [`ErrorKind::Connection`] when the
    /// server cannot be reached, [`ErrorKind::Setup`] when it refuses the handshake (a wrong password).
    pub async fn connect(url: &str) -> Result<Client> {
        Client::builder().url(url).build().await
    }

    /// A builder for a client with settings other than the defaults.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    pub(crate) async fn from_builder(b: ClientBuilder) -> Result<Client> {
        let first = b.nodes.first().cloned().unwrap_or_default();
        let mut config = multiplexer::ConnectionConfig::new(first.clone());
        if let Some(d) = b.command_timeout {
            config = config.command_timeout(d);
        }
        if let Some(d) = b.connect_timeout {
            config = config.connect_timeout(d);
        }
        if let Some(n) = b.max_in_flight {
            config = config.max_in_flight(n);
        }
        if let Some(n) = b.max_queued {
            config = config.max_queued(n);
        }
        if let Some(n) = b.max_reply_bytes {
            config = config.max_reply_bytes(n);
        }
        if let Some(idle) = b.tcp_keepalive {
            config = config.tcp_keepalive(idle);
        }
        config = config.protocol(match b.protocol {
            Protocol::Resp2 => multiplexer::Protocol::Resp2,
            Protocol::Resp3 => multiplexer::Protocol::Resp3WithFallback,
        });
        if let Some(u) = b.username {
            config = config.username(u);
        }
        if let Some(p) = b.password {
            config = config.password(p);
        }
        if let Some(db) = b.database {
            config = config.database(db);
        }
        if let Some(name) = b.client_name {
            config = config.client_name(name);
        }
        if let Some(w) = b.wait_for_reconnect {
            config = config.wait_for_reconnect(w);
        }
        let command_timeout = config.command_timeout;
        let conns = b.connections_per_node.unwrap_or(1);
        // Several addresses can only be cluster seeds. One address is asked (`INFO cluster`) on the
        // pool a standalone client keeps anyway, so the same URL works for both and a standalone
        // client pays one round trip at start-up.
        let standalone = match b.nodes.as_slice() {
            [_] => {
                let pool = multiplexer::Pool::connect(config.clone(), conns)
                    .await
                    .map_err(from_mux)?;
                let info = EncodedCommand::from_args(["INFO", "cluster"]);
                let deadline = deadline_after(Instant::now(), config.connect_timeout);
                let reply = pool.send_by(&info, deadline).await.map_err(from_mux)?;
                if cluster_enabled(&reply) {
                    pool.close();
                    None
                } else {
                    Some(pool)
                }
            }
            _ => None,
        };
        let (backend, command_timeout) = match standalone {
            Some(pool) => (
                Backend::Standalone(Standalone::new(
                    pool,
                    config,
                    b.max_blocking_connections
                        .unwrap_or(multiplexer::DEFAULT_MAX_DEDICATED),
                )),
                command_timeout,
            ),
            None => {
                if config.database != 0 {
                    return Err(Error::with_message(
                        ErrorKind::InvalidInput,
                        "a Redis Cluster has only database 0",
                    ));
                }
                let mut rc = cluster_router::RouterConfig::new(b.nodes);
                // Unless the user chose one, a cluster client's deadline is the router's default (5 s),
                // not the 1 s of a client of one server: during a failover every shard answers
                // CLUSTERDOWN for up to 1.1 s and the replica is promoted 2.0-2.5 s after the crash
                // (cluster-node-timeout 1 s), and commands to healthy shards must ride that out.
                let command_timeout = b.command_timeout.unwrap_or(rc.default_timeout);
                rc.connection = config.command_timeout(command_timeout);
                rc.connections_per_node = conns;
                rc.default_timeout = command_timeout;
                if let Some(on) = b.read_from_replicas {
                    rc.read_from_replicas = on;
                }
                if let Some(n) = b.max_redirects {
                    rc.max_redirects = n;
                }
                if let Some(n) = b.max_blocking_connections {
                    rc.max_blocking_connections = n;
                }
                let router = cluster_router::Router::connect(rc)
                    .await
                    .map_err(from_router)?;
                (Backend::Cluster(router), command_timeout)
            }
        };
        Ok(Client {
            inner: Arc::new(Inner {
                backend,
                command_timeout,
                closed: AtomicBool::new(false),
            }),
        })
    }

    /// True when the client talks to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.inner.backend, Backend::Cluster(_))
    }

    /// Sends one command and returns its reply.
    ///
    /// A server error reply is an [`Error`] of kind [`Server`](ErrorKind::Server) with the server's text.
    // Not an `async fn`: each async layer keeps its callee's whole future (about 1 KB here) in its own
    // state, and creating it copies those bytes once more per layer; returning the one future that does
    // the work (`call`) saves that copy on every command.
    pub fn send(&self, cmd: Cmd) -> impl Future<Output = Result<Value>> {
        self.query(cmd)
    }

    /// Sends one command and converts its reply with [`FromValue`], e.g. `client.query::<i64>(cmd)`.
    pub fn query<T: FromValue>(&self, cmd: Cmd) -> impl Future<Output = Result<T>> {
        let (encoded, retry_safe, timeout) = cmd.into_parts();
        let timeout = timeout.unwrap_or(self.inner.command_timeout);
        self.call(encoded, retry_safe, timeout)
    }

    /// The hot path: an encoded command to the backend, its reply frame to a `T`.
    async fn call<T: FromValue>(
        &self,
        cmd: EncodedCommand,
        retry_safe: bool,
        timeout: Duration,
    ) -> Result<T> {
        self.admit()?;
        let deadline = deadline_after(Instant::now(), timeout);
        let frame = match &self.inner.backend {
            // The pool re-sends nothing that may have been written, and with `wait_for_reconnect`
            // it waits for the connection; `retry_safe` only matters where there is another node.
            // Classified here rather than in a `Standalone::send` of its own: one more async layer would
            // hold and copy the pool's future once more per command.
            Backend::Standalone(s) => match s.connection_use(&cmd) {
                ConnectionUse::Shared => s.pool.send_by(&cmd, deadline).await.map_err(from_mux)?,
                // Boxed: blocking commands are rare, and their connect would otherwise inflate every
                // command's future.
                ConnectionUse::Exclusive => Box::pin(s.exclusive(&cmd, deadline)).await?,
                ConnectionUse::EveryConnection => {
                    Box::pin(s.on_every_connection(&cmd, deadline)).await?
                }
                // Changes the state of the shared connections (MULTI, WATCH, SELECT, SUBSCRIBE, ...).
                _ => return Err(Standalone::refusal(&cmd)),
            },
            Backend::Cluster(router) => {
                let opts = cluster_router::SendOptions {
                    deadline,
                    retry_safe,
                };
                router.send(&cmd, &opts).await.map_err(from_router)?
            }
        };
        T::from_value(Value::from_reply(frame)?)
    }

    /// One command to the server of a client of one server, on the shared connections, with the client's
    /// deadline; the reply as the server sent it, for the router's frame parsers (`SCAN`'s).
    pub(crate) async fn send_to_one_server(&self, cmd: &EncodedCommand) -> Result<Frame> {
        self.admit()?;
        let Backend::Standalone(s) = &self.inner.backend else {
            return Err(Error::with_message(
                ErrorKind::InvalidInput,
                "a command for one server sent to a cluster client",
            ));
        };
        let deadline = deadline_after(Instant::now(), self.inner.command_timeout);
        s.pool.send_by(cmd, deadline).await.map_err(from_mux)
    }

    /// Admission: refuses calls after [`Client::close`]. Nothing else is needed here: the connections
    /// bound what they take and give their response slots to waiting callers in arrival order, for a
    /// standalone pool and for each node of a cluster alike.
    fn admit(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::Relaxed) {
            return Err(Error::new(ErrorKind::Closed));
        }
        Ok(())
    }

    /// Sends every command of `p` back to back in one write and returns one result per command, in order.
    /// A pipeline longer than a connection's slot pool (`max_in_flight + max_queued`, 2,048 by default)
    /// goes in parts of half the pool, each once the one before is answered.
    ///
    /// A server error for one command (say `INCR` on a string) is that command's `Err`; the others
    /// still succeed. The outer `Err` means nothing was sent: the client is closed.
    ///
    /// Against one server, a blocking command (`BLPOP`, `XREAD ... BLOCK`) in the pipeline runs after the
    /// others, on a connection of its own, and a command that would change the shared connection's state
    /// (`MULTI`, `WATCH`, `SELECT`, ...) is that command's `Err` of kind [`ErrorKind::InvalidInput`].
    /// Against a cluster, see the router's rules: commands are grouped per node and the groups run in
    /// parallel, so a pipeline that spans nodes is neither atomic nor ordered across nodes.
    pub async fn pipeline(&self, p: &Pipeline) -> Result<Vec<Result<Value>>> {
        let cmds = p.encoded();
        if cmds.is_empty() {
            return Ok(Vec::new());
        }
        self.admit()?;
        let deadline = deadline_after(
            Instant::now(),
            p.timeout_override().unwrap_or(self.inner.command_timeout),
        );
        match &self.inner.backend {
            Backend::Standalone(s) => convert_batch(s.pipeline(cmds, deadline).await),
            Backend::Cluster(router) => {
                let opts = cluster_router::SendOptions {
                    deadline,
                    retry_safe: p.is_retry_safe(),
                };
                let replies = router.pipeline(cmds, &opts).await;
                if replies
                    .iter()
                    .all(|r| matches!(r, Err(e) if e.kind() == cluster_router::ErrorKind::Closed))
                {
                    if let Some(Err(e)) = replies.into_iter().next() {
                        return Err(from_router(e));
                    }
                    return Ok(Vec::new());
                }
                Ok(replies
                    .into_iter()
                    .map(|r| r.map_err(from_router).and_then(Value::from_reply))
                    .collect())
            }
        }
    }

    /// Runs the commands of `p` as one transaction: `MULTI`, the commands and `EXEC`, written back to back
    /// on one connection, so no other caller's command can run between them. Returns one result per
    /// command; a command the server failed while running (say `INCR` on a string) is its own `Err`, and
    /// the others still ran: Redis does not roll back.
    ///
    /// The outer `Err` means the transaction did not run as a whole:
    /// - [`ErrorKind::Server`] with `EXECABORT`: the server rejected a command while queueing it (a
    ///   wrong number of arguments, an unknown command) and discarded the transaction; the message ends
    ///   with the server's reason and which command it was, e.g. `(command 2 of 3: ERR wrong number of
    ///   arguments for 'get' command)`;
    /// - [`ErrorKind::CrossSlot`] (cluster): the keys are in more than one slot, refused before sending
    ///   (put them in one slot with a hash tag, `{user:42}:cart`);
    /// - [`ErrorKind::InvalidInput`]: a command would change the state of the shared connection
    ///   (`WATCH`, `SELECT`, `SUBSCRIBE`, a nested `MULTI`, ...), refused before sending;
    /// - [`ErrorKind::Closed`] or [`ErrorKind::Connection`]: it was not sent;
    /// - [`ErrorKind::Timeout`] or [`ErrorKind::Indeterminate`]: the deadline passed or the connection was
    ///   lost after it may have reached the server, so it may or may not have run (all of it or nothing:
    ///   `EXEC` is atomic).
    ///
    /// A cluster client sends a transaction again after a connection loss only when every command in it is
    /// idempotent or was marked [`retry_safe`](Cmd::retry_safe); a client of one server never re-sends
    /// what may have reached the server. `WATCH` is not
    /// offered: on a connection shared by every task, one task's `WATCH` would guard another's `EXEC`.
    pub async fn transaction(&self, p: &Pipeline) -> Result<Vec<Result<Value>>> {
        let cmds = p.encoded();
        if cmds.is_empty() {
            return Ok(Vec::new());
        }
        self.admit()?;
        let deadline = deadline_after(
            Instant::now(),
            p.timeout_override().unwrap_or(self.inner.command_timeout),
        );
        let reply = match &self.inner.backend {
            Backend::Standalone(s) => s.transaction(cmds, deadline).await?,
            Backend::Cluster(router) => {
                let opts = cluster_router::SendOptions {
                    deadline,
                    retry_safe: p.is_retry_safe(),
                };
                router.transaction(cmds, &opts).await.map_err(from_router)?
            }
        };
        exec_results(reply, cmds.len())
    }

    /// Walks every key (of every master, against a cluster) with `SCAN`, optionally only those matching
    /// the glob-style `pattern`, asking for about `count` keys per round trip (the server's default is 10).
    /// See [`Scan`] for what the walk guarantees.
    pub fn scan(&self, pattern: Option<&str>, count: Option<u32>) -> Scan {
        let pattern = pattern.map(|p| bytes::Bytes::copy_from_slice(p.as_bytes()));
        match &self.inner.backend {
            Backend::Standalone(_) => Scan::standalone(self.clone(), pattern, count),
            Backend::Cluster(router) => Scan::cluster(router.scan(pattern, count)),
        }
    }

    /// Commands currently sent and waiting for their replies, over every connection.
    ///
    /// Returns to 0 once every caller has its answer, whatever happened on the way (timeouts,
    /// dropped futures, lost connections).
    pub fn in_flight(&self) -> usize {
        match &self.inner.backend {
            Backend::Standalone(s) => s.pool.in_flight(),
            Backend::Cluster(router) => router.stats().nodes.iter().map(|n| n.in_flight).sum(),
        }
    }

    /// A snapshot of the client's counters: redirects, retries and refreshes (cluster), and per
    /// node commands, write and read batches, timeouts and in-flight commands.
    pub fn stats(&self) -> Stats {
        match &self.inner.backend {
            Backend::Standalone(s) => Stats::from_standalone(s),
            Backend::Cluster(router) => Stats::from_router(router.stats()),
        }
    }

    /// True when at least one connection is up.
    pub fn is_connected(&self) -> bool {
        if self.inner.closed.load(Ordering::Relaxed) {
            return false;
        }
        match &self.inner.backend {
            Backend::Standalone(s) => s.pool.is_connected(),
            Backend::Cluster(router) => router.stats().nodes.iter().any(|n| n.connected),
        }
    }

    /// Closes every connection, for every clone of this client. Commands already accepted by a shared
    /// connection still get their replies (for at most the command timeout); later calls fail with
    /// [`ErrorKind::Closed`]; a blocking command on a connection of its own (`BLPOP`) ends at once with
    /// [`ErrorKind::Indeterminate`], since the server may have served it just before.
    pub fn close(&self) {
        // The flag refuses later calls before they reach a backend; closing the connections fails the
        // callers still waiting for a slot and the blocking commands on connections of their own.
        self.inner.closed.store(true, Ordering::Relaxed);
        match &self.inner.backend {
            Backend::Standalone(s) => s.close(),
            Backend::Cluster(router) => router.close(),
        }
    }
}

/// Whether an `INFO cluster` reply says `cluster_enabled:1`. An error reply (INFO refused by ACL)
/// or anything else means standalone.
fn cluster_enabled(reply: &Frame) -> bool {
    let text: &[u8] = match reply {
        Frame::BulkString(b) | Frame::SimpleString(b) => b,
        Frame::VerbatimString { text, .. } => text,
        _ => return false,
    };
    const NEEDLE: &[u8] = b"cluster_enabled:1";
    text.windows(NEEDLE.len()).any(|w| w == NEEDLE)
}

/// One result per pipelined command; the outer error when the whole batch was refused before sending.
fn convert_batch(replies: Vec<Result<Frame>>) -> Result<Vec<Result<Value>>> {
    if let Some(Err(first)) = replies.first() {
        if first.kind() == ErrorKind::Closed
            && replies
                .iter()
                .all(|r| matches!(r, Err(e) if e.kind() == ErrorKind::Closed))
        {
            return Err(first.clone());
        }
    }
    Ok(replies
        .into_iter()
        .map(|r| r.and_then(Value::from_reply))
        .collect())
}

/// Maps a cluster router error to the facade's kinds, keeping it as the source.
pub(crate) fn from_router(e: cluster_router::Error) -> Error {
    use cluster_router::ErrorKind as R;
    let kind = match e.kind() {
        R::Timeout => ErrorKind::Timeout,
        R::Connection => ErrorKind::Connection,
        R::Indeterminate => ErrorKind::Indeterminate,
        R::Busy => ErrorKind::Busy,
        R::CrossSlot => ErrorKind::CrossSlot,
        R::TooManyRedirects => ErrorKind::TooManyRedirects,
        R::NoRoute => ErrorKind::NoRoute,
        R::Protocol => ErrorKind::Protocol,
        R::Closed => ErrorKind::Closed,
        R::InvalidInput => ErrorKind::InvalidInput,
        R::Setup => ErrorKind::Setup,
        // The server's own refusal, as a server error reply would be on any other path.
        R::Server => return Error::server(e.server_message().unwrap_or_default().as_bytes()),
        _ if e.may_have_executed() => ErrorKind::Indeterminate,
        _ => ErrorKind::Connection,
    };
    Error::with_source(kind, e)
}

/// Maps a multiplexer error to the facade's kinds, keeping it as the source.
pub(crate) fn from_mux(e: multiplexer::Error) -> Error {
    use multiplexer::ErrorKind as M;
    let kind = match e.kind() {
        M::Timeout => ErrorKind::Timeout,
        M::Busy => ErrorKind::Busy,
        M::ConnectionNotSent | M::Connect => ErrorKind::Connection,
        M::ConnectionIndeterminate => ErrorKind::Indeterminate,
        M::Protocol => ErrorKind::Protocol,
        M::Setup => ErrorKind::Setup,
        M::Closed => ErrorKind::Closed,
        // A kind added below us later: classify by what matters most to a caller, whether it may have run.
        _ if e.may_have_been_sent() => ErrorKind::Indeterminate,
        _ => ErrorKind::Connection,
    };
    Error::with_source(kind, e)
}

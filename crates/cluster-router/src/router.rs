//! The router: an immutable topology snapshot behind an `ArcSwap`, one lazily connected `Pool` per node,
//! the redirect/retry loop, pipelines, transactions, fan-out and the refresh task.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::ArcSwap;
use bytes::Bytes;
use cluster_topology::{NodeAddr, Redirect, Topology, choose_view};
use futures_util::StreamExt;
use futures_util::future::{join, join_all, join3};
use futures_util::stream::FuturesUnordered;
use hash_slot::Slot;
use multiplexer::{ConnectionConfig, Dedicated, Multiplexer, Pool, SilenceHook};
use resp_codec::{EncodedCommand, Frame};
use smallvec::SmallVec;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::command::{CommandInfo, CommandTable, Merge, Route};
use crate::config::{RouterConfig, SendOptions, deadline_after};
use crate::error::{Error, ErrorKind};
use crate::exec::{explain_execabort, is_execabort};
use crate::refresh::{self, RefreshGate, Timing};
use crate::retry::{Backoff, Outcome, Refresh, classify, random_u64};
use crate::rules::connection_state;
use crate::split::{self, Part, Plan, merge_fanout, merge_split};
use crate::stats::{Counters, NodeStats, RouterStats, bump, get};
use crate::wait;

/// One cluster node as the router sees it: its address and its connections, made on first use.
#[derive(Debug)]
pub(crate) struct NodeHandle {
    addr: NodeAddr,
    key: String,
    pool: OnceCell<Pool>,
}

impl NodeHandle {
    fn new(addr: NodeAddr) -> NodeHandle {
        NodeHandle {
            key: addr.to_string(),
            addr,
            pool: OnceCell::new(),
        }
    }

    /// Connected now (a pool exists and one of its connections is up).
    fn is_up(&self) -> bool {
        self.pool.get().is_some_and(Pool::is_connected)
    }

    /// A pool exists and every connection of it is down: a poor choice for a topology fetch.
    fn is_known_down(&self) -> bool {
        self.pool.get().is_some_and(|p| !p.is_connected())
    }
}

/// An immutable snapshot: the topology plus the node handles, indexed like `topo.nodes()`.
#[derive(Debug)]
pub(crate) struct View {
    topo: Topology,
    nodes: Box<[Arc<NodeHandle>]>,
    /// Indices of the masters that serve slots (fan-out, keyless commands).
    masters: Box<[usize]>,
    /// The first slot each of `masters` serves (same order), found once per view: a fan-out or a scan
    /// follows a master to its successor through it.
    first_slots: Box<[Option<Slot>]>,
}

impl View {
    /// Every master that serves slots, with a slot it serves now: after a failover, the master of that
    /// slot is its successor (see [`successor`]).
    fn master_shards(&self) -> Vec<(Arc<NodeHandle>, Option<Slot>)> {
        self.masters
            .iter()
            .zip(self.first_slots.iter())
            .filter_map(|(&i, &slot)| Some((self.nodes.get(i)?.clone(), slot)))
            .collect()
    }
}

/// Whether publishing a view closes the connections of the nodes it does not list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Prune {
    /// A full view (start-up, refresh): a node it does not list has left the cluster.
    NodesThatLeft,
    /// A patched view (after MOVED): it may not list every node in use.
    Nothing,
}

/// A failed attempt: the router's error plus whether the command may have reached the server.
#[derive(Clone, Debug)]
struct Fail {
    err: Error,
    sent: bool,
}

impl Fail {
    fn from_mux(e: multiplexer::Error) -> Fail {
        Fail {
            sent: e.may_have_been_sent(),
            err: Error::from_mux(&e),
        }
    }
    fn not_sent(err: Error) -> Fail {
        Fail { err, sent: false }
    }
}

/// Where an attempt goes.
#[derive(Clone, Debug)]
enum Target {
    /// The master (or, for reads with replicas enabled, a replica) of the slot; `None`: any master.
    Slot(Option<Slot>),
    /// This node (SCAN, which replaces a failed-over master itself: its successor is walked from cursor 0).
    Node(Arc<NodeHandle>),
    /// A master, for a fan-out: this node while the view lists it as a master, else the master of `slot`,
    /// a slot it served when the call started, so a retry after a failover reaches the promoted replica;
    /// but never one of the fan-out's other masters (listed last), which has its own part: after a
    /// scale-in moved the slot to one of them, it would be asked twice.
    Shard(Arc<NodeHandle>, Option<Slot>, Arc<[Arc<NodeHandle>]>),
}

/// One command of a pipeline after splitting.
#[derive(Clone, Copy, Debug)]
struct Unit<'a> {
    /// Borrowed from the caller's pipeline, or from the per-slot parts of a split command.
    cmd: &'a EncodedCommand,
    info: CommandInfo,
    slot: Option<Slot>,
}

/// The units of a pipeline that go to one node, as indices into the unit list, in pipeline order.
#[derive(Debug)]
struct NodeGroup {
    node: Arc<NodeHandle>,
    members: SmallVec<[usize; UNITS_INLINE]>,
}

/// Node groups kept inline per pipeline: a cluster of up to four masters needs no allocation for them.
const GROUPS_INLINE: usize = 4;

/// Units per node group kept inline: a pipeline of up to 16 commands per node (48 over three nodes,
/// beyond the usual rate-limit or cache pipeline) groups without allocating.
const UNITS_INLINE: usize = 16;

pub(crate) struct Inner {
    config: RouterConfig,
    view: ArcSwap<View>,
    /// Every node handle by `host:port`. Locked only to change the view (MOVED patch, refresh),
    /// never on the command path, and never held across an await.
    registry: Mutex<HashMap<String, Arc<NodeHandle>>>,
    table: CommandTable,
    gate: Arc<RefreshGate>,
    counters: Counters,
    /// Round-robin cursor for keyless commands and replica choice.
    rr: AtomicUsize,
    asking: EncodedCommand,
    multi: EncodedCommand,
    exec: EncodedCommand,
    /// The connections opened for one blocking command each.
    dedicated: Dedicated,
    /// Set by [`Router::close`]. Read only on slow paths (a failed attempt, a first connect), so the
    /// command path pays nothing for it: after a close the pools fail every command with `Closed`.
    closed: AtomicBool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.close();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the registry lock cannot leave it inconsistent (each change is one insert
    // or retain), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A Redis Cluster client core: routes commands by slot over multiplexed node connections.
///
/// Cheap to clone; the background refresh task ends when the last clone is dropped.
#[derive(Clone)]
pub struct Router {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("seeds", &self.inner.config.seeds)
            .finish_non_exhaustive()
    }
}

async fn fetch_topology(pool: &Pool, host: &str, deadline: Instant) -> Result<Topology, Error> {
    let shards = EncodedCommand::from_args(["CLUSTER", "SHARDS"]);
    let reply = pool
        .send_by(&shards, deadline)
        .await
        .map_err(|e| Error::from_mux(&e))?;
    let parsed = if reply.is_error() {
        // Redis < 7 has no CLUSTER SHARDS.
        let slots = EncodedCommand::from_args(["CLUSTER", "SLOTS"]);
        let reply = pool
            .send_by(&slots, deadline)
            .await
            .map_err(|e| Error::from_mux(&e))?;
        if reply.is_error() {
            return Err(Error::new(
                ErrorKind::Setup,
                format!("{}: CLUSTER SLOTS failed: {reply:?}", pool.addr()),
            ));
        }
        Topology::from_cluster_slots(&reply, host)
    } else {
        Topology::from_cluster_shards(&reply, host)
    };
    parsed.map_err(|e| Error::new(ErrorKind::Protocol, e.to_string()))
}

fn seed_host(seed: &str) -> &str {
    let host = seed.rsplit_once(':').map_or(seed, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

impl Router {
    /// Connects to the cluster: asks every seed for its view in parallel, picks the majority view,
    /// learns the server's command table, connects to every master and starts the refresh task.
    /// One seed down does not prevent start-up. Must be called inside a tokio runtime.
    pub async fn connect(config: RouterConfig) -> Result<Router, Error> {
        if config.seeds.is_empty() {
            return Err(Error::new(ErrorKind::InvalidInput, "no seeds"));
        }
        let deadline = deadline_after(
            config
                .connection
                .connect_timeout
                .saturating_add(config.refresh_timeout),
        );
        let fetches = config.seeds.iter().map(|seed| {
            let mut cfg = config
                .connection
                .clone()
                .addr(seed.as_str())
                .readonly(false);
            // The router's own hook is for node connections; a seed's lives only for start-up.
            cfg.on_silence = None;
            async move {
                let mux = tokio::time::timeout_at(deadline, Multiplexer::connect(cfg))
                    .await
                    .map_err(|_| {
                        Error::new(ErrorKind::Timeout, format!("{seed}: connect timed out"))
                    })?
                    .map_err(|e| Error::from_mux(&e))?;
                let pool = Pool::from_connections(vec![mux]);
                let topo = fetch_topology(&pool, seed_host(seed), deadline).await;
                Ok::<_, Error>((pool, topo))
            }
        });
        let mut views = Vec::new();
        let mut pools = Vec::new();
        let mut last_err = None;
        for r in join_all(fetches).await {
            match r {
                Ok((pool, Ok(topo))) => {
                    views.push(topo);
                    pools.push(pool);
                }
                Ok((pool, Err(e))) => {
                    pool.close();
                    last_err = Some(e);
                }
                Err(e) => last_err = Some(e),
            }
        }
        let Some(topo) = choose_view(&views)
            .filter(|t| t.covered_slots() > 0)
            .cloned()
        else {
            for p in &pools {
                p.close();
            }
            // Unreachable seeds stay a connection error and a refused AUTH a set-up error;
            // only "reachable but no usable topology" is reported as set-up by itself.
            let kind = last_err.as_ref().map_or(ErrorKind::Setup, Error::kind);
            let why = last_err.map_or_else(|| "no slots covered".to_owned(), |e| e.to_string());
            return Err(Error::new(kind, why));
        };
        // Learn every command the server has (module commands, newer commands) once.
        let mut table = CommandTable::builtin();
        if let Some(pool) = pools.first() {
            if let Ok(reply) = pool
                // Its own budget: a hung seed may have used up the fetch deadline.
                .send_by(
                    &EncodedCommand::from_args(["COMMAND"]),
                    deadline_after(config.refresh_timeout),
                )
                .await
            {
                table.learn(&reply);
            }
        }
        for p in &pools {
            p.close();
        }
        let inner = Arc::new(Inner::new(config, table, topo));
        inner
            .connect_nodes(deadline_after(inner.config.connection.connect_timeout))
            .await;

        let timing = Timing {
            periodic: inner.config.periodic_check,
            coalesce: inner.config.refresh_coalesce,
            min_interval: inner.config.min_refresh_interval,
        };
        let weak = Arc::downgrade(&inner);
        // The one task the router owns: it holds only a Weak, so it never keeps the router alive.
        multiplexer::spawn_background(refresh::run(inner.gate.clone(), timing, move || {
            let inner = weak.upgrade()?;
            Some(async move { inner.refresh().await })
        }));
        Ok(Router { inner })
    }

    /// Tells whether the server at `addr` runs in cluster mode (`INFO cluster` says `cluster_enabled:1`).
    pub async fn is_cluster(addr: &str, conn: &ConnectionConfig) -> Result<bool, Error> {
        let cfg = conn.clone().addr(addr);
        let mux = Multiplexer::connect(cfg)
            .await
            .map_err(|e| Error::from_mux(&e))?;
        let reply = mux
            .send(&EncodedCommand::from_args(["INFO", "cluster"]))
            .await;
        mux.close();
        let reply = reply.map_err(|e| Error::from_mux(&e))?;
        let text: &[u8] = match &reply {
            Frame::BulkString(b) | Frame::SimpleString(b) => b,
            Frame::VerbatimString { text, .. } => text,
            _ => return Ok(false),
        };
        Ok(text.windows(17).any(|w| w == b"cluster_enabled:1"))
    }

    /// Options with the configured default deadline (`RouterConfig::default_timeout` from now).
    pub fn options(&self) -> SendOptions {
        SendOptions::with_timeout(self.inner.config.default_timeout)
    }

    /// Sends one command, routed by the slot of its keys; keyless commands go to any master,
    /// fan-out commands (PING, DBSIZE, FLUSHALL, KEYS, SCRIPT LOAD/FLUSH/EXISTS, ...) to every master
    /// with the replies merged; MGET/MSET/DEL/UNLINK/EXISTS/TOUCH across slots are split per slot and merged
    /// (not atomic). MOVED, ASK and refusals are handled here; other server errors come back as
    /// `Ok(Frame::SimpleError(..))`.
    // Not an `async fn`: returns the future that does the work instead of wrapping it in one more layer,
    // which would copy its ~1 KB state once more per command.
    pub fn send<'a>(
        &'a self,
        cmd: &'a EncodedCommand,
        opts: &'a SendOptions,
    ) -> impl Future<Output = Result<Frame, Error>> + 'a {
        self.inner.send(cmd, opts)
    }

    /// Sends commands for any slots: grouped by node, each group written back to back (in parts when
    /// longer than the node connection's slot pool), the groups in parallel, replies in input order.
    /// A redirect re-sends only the command that got it.
    /// A pipeline that spans nodes is not atomic, and neither is its order across nodes.
    pub async fn pipeline(
        &self,
        cmds: &[EncodedCommand],
        opts: &SendOptions,
    ) -> Vec<Result<Frame, Error>> {
        self.inner.pipeline(cmds, opts).await
    }

    /// `MULTI`, the commands and `EXEC` as one unit on one connection. Every key must be in one slot:
    /// otherwise `ErrorKind::CrossSlot` before anything is sent. Returns the EXEC reply; an `EXECABORT`
    /// comes back as a simple error with the queued command's error appended ([`explain_execabort`]).
    pub async fn transaction(
        &self,
        cmds: &[EncodedCommand],
        opts: &SendOptions,
    ) -> Result<Frame, Error> {
        self.inner.transaction(cmds, opts).await
    }

    /// A cluster-wide SCAN: walks every master of the current view, one cursor per master.
    pub fn scan(&self, pattern: Option<Bytes>, count: Option<u32>) -> ClusterScan {
        ClusterScan {
            router: self.clone(),
            nodes: self.inner.view.load().master_shards(),
            at: 0,
            cursor: Bytes::from_static(b"0"),
            pattern,
            count,
        }
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> RouterStats {
        self.inner.stats()
    }

    /// The `host:port` of every master serving slots in the current view.
    pub fn masters(&self) -> Vec<String> {
        let view = self.inner.view.load();
        view.masters
            .iter()
            .filter_map(|&i| view.nodes.get(i))
            .map(|h| h.key.clone())
            .collect()
    }

    /// Asks for a topology refresh (coalesced with any other request).
    pub fn request_refresh(&self) {
        self.inner.gate.request();
    }

    /// Closes the router for every clone of it: stops the refresh task and closes every connection.
    /// Commands already accepted by a shared connection get their replies (for at most the connections'
    /// `command_timeout`); a blocking command on a connection of its own ends at once, as
    /// [`ErrorKind::Indeterminate`] if it was written (a `BLPOP` may have popped just before); later calls
    /// fail with [`ErrorKind::Closed`]. Nothing is retried or reconnected after the close.
    pub fn close(&self) {
        self.inner.close();
    }
}

impl Inner {
    /// A router core over `topo`, with no connection made yet.
    fn new(config: RouterConfig, table: CommandTable, topo: Topology) -> Inner {
        let inner = Inner {
            view: ArcSwap::from_pointee(View {
                topo: Topology::empty(),
                nodes: Box::new([]),
                masters: Box::new([]),
                first_slots: Box::new([]),
            }),
            registry: Mutex::new(HashMap::new()),
            table,
            gate: Arc::new(RefreshGate::default()),
            counters: Counters::default(),
            rr: AtomicUsize::new(0),
            asking: EncodedCommand::from_args(["ASKING"]),
            multi: EncodedCommand::from_args(["MULTI"]),
            exec: EncodedCommand::from_args(["EXEC"]),
            dedicated: Dedicated::with_limit(config.max_blocking_connections),
            closed: AtomicBool::new(false),
            config,
        };
        inner.install(&mut lock(&inner.registry), topo, Prune::NodesThatLeft);
        inner
    }

    /// Stops the refresh task and closes every connection: shared ones finish the commands already
    /// accepted (see [`Pool::close`]), dedicated ones fail their blocking command at once.
    fn close(&self) {
        // Before the pools close, so that a command failing with `Closed` sees the flag and is not retried.
        self.closed.store(true, Ordering::SeqCst);
        // Pairs with the fence in `connect_pool`: either this close sees a pool made concurrently, or that
        // connect sees the flag and closes the pool itself.
        std::sync::atomic::fence(Ordering::SeqCst);
        self.gate.close();
        self.dedicated.close();
        for h in lock(&self.registry).values() {
            if let Some(p) = h.pool.get() {
                p.close();
            }
        }
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// The error of a command that meets a closed router.
    fn closed_error() -> Error {
        Error::new(ErrorKind::Closed, "the router was closed")
    }

    /// The error of an attempt that failed because the router closed: `Indeterminate` if the command may
    /// have reached the server (a `BLPOP` may have popped), `Closed` if it cannot have.
    fn after_close(fail: Fail) -> Error {
        if fail.sent {
            fail.err.into_indeterminate()
        } else {
            Inner::closed_error()
        }
    }

    // ---- topology -------------------------------------------------------------------------------------

    /// Publishes `topo` as the new snapshot, reusing node handles by address; with
    /// [`Prune::NodesThatLeft`], closes the connections of nodes that `topo` does not list (each finishes
    /// its in-flight commands first). Caller holds the registry lock.
    fn install(
        &self,
        registry: &mut HashMap<String, Arc<NodeHandle>>,
        topo: Topology,
        prune: Prune,
    ) {
        let nodes: Box<[Arc<NodeHandle>]> = topo
            .nodes()
            .iter()
            .map(|n| {
                registry
                    .entry(n.addr.to_string())
                    .or_insert_with(|| Arc::new(NodeHandle::new(n.addr.clone())))
                    .clone()
            })
            .collect();
        let keep: HashSet<&str> = nodes.iter().map(|h| h.key.as_str()).collect();
        registry.retain(|key, h| {
            if prune == Prune::Nothing {
                return true;
            }
            let stays = keep.contains(key.as_str());
            if !stays {
                if let Some(p) = h.pool.get() {
                    p.close();
                }
            }
            stays
        });
        let masters: Box<[usize]> = topo.masters().map(|i| i.get()).collect();
        // One walk of the slot table for all masters.
        let ranges = topo.slot_ranges();
        let first_slots = masters
            .iter()
            .map(|&m| {
                ranges
                    .iter()
                    .find(|(_, owner)| owner.get() == m)
                    .map(|(range, _)| range.start())
            })
            .collect();
        self.view.store(Arc::new(View {
            topo,
            nodes,
            masters,
            first_slots,
        }));
    }

    /// Patches one slot after `MOVED` (unless the snapshot already says so) and asks for a refresh.
    fn apply_moved(&self, r: &Redirect, from: &NodeHandle) {
        let to = if r.addr.has_empty_host() {
            r.addr.with_default_host(from.addr.host())
        } else {
            r.addr.clone()
        };
        {
            let mut registry = lock(&self.registry);
            let view = self.view.load();
            let current = view.topo.master_for(r.slot).and_then(|i| view.topo.get(i));
            if current.is_none_or(|n| n.addr != to) {
                let topo = view.topo.with_slot_moved(r.slot, &to);
                // A patch lists the nodes of the last refresh and perhaps one more: a node missing
                // from it has not left (an ASK target the refresh has not seen yet, a seed), and
                // closing it would fail the commands about to use it.
                self.install(&mut registry, topo, Prune::Nothing);
            }
        }
        self.gate.request();
    }

    /// The handle for an address (an ASK target), created if the snapshot does not know it.
    fn handle_for(&self, addr: &NodeAddr) -> Arc<NodeHandle> {
        {
            let view = self.view.load();
            if let Some(h) = view.topo.find(addr).and_then(|i| view.nodes.get(i.get())) {
                return h.clone();
            }
        }
        lock(&self.registry)
            .entry(addr.to_string())
            .or_insert_with(|| Arc::new(NodeHandle::new(addr.clone())))
            .clone()
    }

    /// The pool of `node`, connecting on first use (one connect at a time per node) within `deadline`.
    async fn pool<'h>(&self, node: &'h NodeHandle, deadline: Instant) -> Result<&'h Pool, Fail> {
        if let Some(p) = node.pool.get() {
            return Ok(p);
        }
        // Boxed: connecting is rare, and its future (about 1.8 KB) would otherwise be part of every
        // command's future, copied whenever one is created or moved.
        Box::pin(self.connect_pool(node, deadline)).await
    }

    /// The slow path of [`Inner::pool`]: the node's first connection.
    async fn connect_pool<'h>(
        &self,
        node: &'h NodeHandle,
        deadline: Instant,
    ) -> Result<&'h Pool, Fail> {
        if self.is_closed() {
            return Err(Fail::not_sent(Inner::closed_error()));
        }
        let connect = node.pool.get_or_try_init(|| async {
            let mut cfg = self.config.node_connection(&node.key);
            // Weak: a pool's tasks may outlive the router by a close's grace.
            let gate = Arc::downgrade(&self.gate);
            cfg.on_silence = Some(SilenceHook::new(
                self.config.refresh_after_silence,
                move || {
                    if let Some(gate) = gate.upgrade() {
                        gate.request();
                    }
                },
            ));
            Pool::connect(cfg, self.config.connections_per_node)
                .await
                .map_err(Fail::from_mux)
        });
        let connected = tokio::time::timeout_at(deadline, connect).await;
        // See `close`.
        std::sync::atomic::fence(Ordering::SeqCst);
        match connected {
            Ok(Ok(pool)) if self.is_closed() => {
                // Made while the router closed: `close` may have missed it.
                pool.close();
                Err(Fail::not_sent(Inner::closed_error()))
            }
            Ok(r) => r,
            Err(_) => Err(Fail {
                err: Error::new(ErrorKind::Timeout, format!("{}: connect", node.key)),
                sent: false,
            }),
        }
    }

    /// Connects every master (and replica, when reads may go there) that has no pool yet, in parallel.
    async fn connect_nodes(&self, deadline: Instant) {
        let view = self.view.load_full();
        let wanted = view.nodes.iter().enumerate().filter(|(i, h)| {
            h.pool.get().is_none()
                && (view.masters.contains(i)
                    || (self.config.read_from_replicas
                        && view
                            .topo
                            .nodes()
                            .get(*i)
                            .is_some_and(|n| n.health.is_usable() && n.reachable)))
        });
        join_all(wanted.map(|(_, h)| async move { self.pool(h, deadline).await.map(|_| ()) }))
            .await;
    }

    /// One refresh: ask about log2(n)+1 nodes (not known to be down) for their view, choose the majority,
    /// swap it in if it differs from ours, then connect new nodes. Falls back to the seeds.
    async fn refresh(&self) {
        bump(&self.counters.refreshes);
        let view = self.view.load_full();
        let deadline = deadline_after(self.config.refresh_timeout);
        let mut candidates: Vec<Arc<NodeHandle>> = view
            .nodes
            .iter()
            .zip(view.topo.nodes())
            .filter(|(h, n)| n.reachable && n.health.is_usable() && !h.is_known_down())
            .map(|(h, _)| h.clone())
            .collect();
        // Fisher-Yates with a cheap random source: spreads the refresh load over the cluster.
        for i in (1..candidates.len()).rev() {
            let j = usize::try_from(random_u64() % (i as u64 + 1)).unwrap_or(0);
            candidates.swap(i, j);
        }
        let n = view.nodes.len().max(1);
        // floor(log2 n) + 1, made odd: two views that disagree tie, three cannot split evenly in two.
        let sample = ((usize::BITS - n.leading_zeros()) as usize) | 1;
        let rest = candidates.split_off(sample.min(candidates.len()));
        // `choose_view` breaks a tie in favour of the view listed first: list the nodes that serve slots
        // in our view first. The stale view to fear is that of a node that lost its role (an old master
        // restarted after its replica took over), which our view no longer has serving slots.
        candidates.sort_by_key(|h| {
            !view
                .masters
                .iter()
                .any(|&i| view.nodes.get(i).is_some_and(|m| Arc::ptr_eq(m, h)))
        });
        let mut views = self.fetch_views(&candidates, deadline).await;
        if views.is_empty() && !rest.is_empty() {
            // Every sampled node failed (a partition, several nodes down): ask all the others once.
            views = self
                .fetch_views(&rest, deadline_after(self.config.refresh_timeout))
                .await;
        }
        if views.is_empty() {
            let seeds: Vec<Arc<NodeHandle>> = self
                .config
                .seeds
                .iter()
                .filter_map(|s| NodeAddr::parse(s).ok())
                .map(|a| self.handle_for(&a))
                .collect();
            views = self
                .fetch_views(&seeds, deadline_after(self.config.refresh_timeout))
                .await;
        }
        let Some(best) = choose_view(&views).filter(|t| t.covered_slots() > 0) else {
            return;
        };
        {
            // Compare with the snapshot as it is now, not as it was when the refresh started: MOVED
            // patches may have landed meanwhile, and the registry lock keeps new ones out until we are done.
            let mut registry = lock(&self.registry);
            if best.fingerprint() != self.view.load().topo.fingerprint() {
                self.install(&mut registry, best.clone(), Prune::NodesThatLeft);
                bump(&self.counters.topology_changes);
                tracing::debug!(slots = best.covered_slots(), "topology changed");
            }
        }
        self.connect_nodes(deadline_after(self.config.connection.connect_timeout))
            .await;
    }

    /// Asks `nodes` for their views in parallel, until `deadline` or until one view has a majority of
    /// `nodes`. The others cannot change which view `choose_view` picks then (by fingerprint, so the
    /// routing; only which node's copy of it, whose health flags may differ a little), and a hung node
    /// in the sample would otherwise hold every refresh for `refresh_timeout`, just when a refresh is
    /// most needed (finding its successor). The views come back in the order of `nodes`, which
    /// `choose_view` uses to break ties.
    async fn fetch_views(&self, nodes: &[Arc<NodeHandle>], deadline: Instant) -> Vec<Topology> {
        let mut fetches: FuturesUnordered<_> = nodes
            .iter()
            .enumerate()
            .map(|(i, h)| async move {
                let fetched = async {
                    let pool = self.pool(h, deadline).await.map_err(|f| f.err)?;
                    tokio::time::timeout_at(deadline, fetch_topology(pool, h.addr.host(), deadline))
                        .await
                        .map_err(|_| Error::new(ErrorKind::Timeout, "topology fetch"))?
                };
                (i, fetched.await)
            })
            .collect();
        let mut views: Vec<(usize, Topology)> = Vec::with_capacity(nodes.len());
        while let Some((i, fetched)) = fetches.next().await {
            let Ok(view) = fetched else { continue };
            let agreeing = 1 + views
                .iter()
                .filter(|(_, v)| v.fingerprint() == view.fingerprint())
                .count();
            views.push((i, view));
            if agreeing * 2 > nodes.len() {
                break;
            }
        }
        views.sort_by_key(|(i, _)| *i);
        views.into_iter().map(|(_, view)| view).collect()
    }

    // ---- routing ---------------------------------------------------------------------------------------

    /// The node for a target in the current snapshot: one `ArcSwap` load, one table lookup, one `Arc` clone.
    fn route(&self, target: &Target, readonly: bool) -> Option<Arc<NodeHandle>> {
        let view = self.view.load();
        route_in(
            &view,
            target,
            readonly && self.config.read_from_replicas,
            &self.rr,
        )
    }

    fn backoff(&self) -> Backoff {
        Backoff::new(self.config.retry_backoff_min, self.config.retry_backoff_max)
    }

    /// Sleeps the next backoff step unless that would pass the deadline (then returns false).
    async fn pause(&self, backoff: &mut Backoff, deadline: Instant) -> bool {
        let until = deadline_after(backoff.next_delay());
        if until >= deadline {
            return false;
        }
        tokio::time::sleep_until(until).await;
        true
    }

    /// What to do before retrying a refused command; false when the deadline leaves no room.
    async fn after_refusal(
        &self,
        refresh: Refresh,
        backoff: &mut Backoff,
        deadline: Instant,
    ) -> bool {
        match refresh {
            Refresh::No => self.pause(backoff, deadline).await,
            Refresh::Request => {
                self.gate.request();
                self.pause(backoff, deadline).await
            }
            Refresh::Await => {
                let seen = self.gate.generation();
                self.gate.request();
                self.gate.wait_past(seen, deadline).await
            }
        }
    }

    /// A command timed out. A master that hangs or is cut off keeps its connection up, so no MOVED and no
    /// connection error will ever say that its replica took over (`CLUSTER FAILOVER TAKEOVER`, or a
    /// failover in a cluster that serves partial coverage): only a refresh does. The request is coalesced
    /// and rate limited, so a burst of timeouts costs one refresh per `min_refresh_interval` at most.
    fn after_timeout(&self, err: &Error) {
        if err.kind() == ErrorKind::Timeout {
            self.gate.request();
        }
    }

    /// One attempt on one node; with `asking`, `ASKING` and the command go as one unit.
    /// A blocking command gets a connection of its own: on the shared one it would hold every other
    /// caller's reply behind it for as long as it blocks.
    async fn attempt(
        &self,
        node: &NodeHandle,
        cmd: &EncodedCommand,
        asking: bool,
        blocking: bool,
        deadline: Instant,
    ) -> Result<Frame, Fail> {
        if blocking {
            // Boxed for the same reason as the connect in `pool`: blocking commands are rare.
            return Box::pin(self.attempt_exclusive(node, cmd, asking, deadline)).await;
        }
        let pool = self.pool(node, deadline).await?;
        if asking {
            let batch = [self.asking.clone(), cmd.clone()];
            let mut replies = Box::pin(pool.send_batch(&batch, deadline)).await;
            match replies.pop() {
                Some(r) => r.map_err(Fail::from_mux),
                None => Err(Fail::not_sent(Error::new(
                    ErrorKind::Protocol,
                    "empty batch reply",
                ))),
            }
        } else {
            pool.send_by(cmd, deadline).await.map_err(Fail::from_mux)
        }
    }

    /// [`Inner::attempt`] on a connection opened for this command and closed after it.
    async fn attempt_exclusive(
        &self,
        node: &NodeHandle,
        cmd: &EncodedCommand,
        asking: bool,
        deadline: Instant,
    ) -> Result<Frame, Fail> {
        let cfg = self.config.node_connection(&node.key);
        if asking {
            let batch = [&self.asking, cmd];
            match self.dedicated.send_batch(cfg, &batch, deadline).await.pop() {
                Some(r) => r.map_err(Fail::from_mux),
                None => Err(Fail::not_sent(Error::new(
                    ErrorKind::Protocol,
                    "empty batch reply",
                ))),
            }
        } else {
            self.dedicated
                .send(cfg, cmd, deadline)
                .await
                .map_err(Fail::from_mux)
        }
    }

    /// The redirect / retry loop of one command. `first` is a result already obtained (from a pipeline
    /// batch) to continue from.
    async fn drive(
        &self,
        cmd: &EncodedCommand,
        info: &CommandInfo,
        mut target: Target,
        opts: &SendOptions,
        mut first: Option<(Arc<NodeHandle>, Result<Frame, Fail>)>,
    ) -> Result<Frame, Error> {
        let deadline = opts.deadline;
        let blocking = info.is_blocking(cmd);
        let mut redirects = 0u32;
        let mut backoff = self.backoff();
        let mut ask: Option<Arc<NodeHandle>> = None;
        let mut invalid_replies = 0u32;
        loop {
            let (node, asked, result) = match first.take() {
                Some((node, result)) => (node, false, result),
                None => {
                    let (node, asking) = match ask.take() {
                        Some(n) => (n, true),
                        None => match self.route(&target, info.readonly) {
                            Some(n) => (n, false),
                            None => {
                                if self.is_closed() {
                                    return Err(Inner::closed_error());
                                }
                                self.gate.request();
                                if !Box::pin(self.pause(&mut backoff, deadline)).await {
                                    return Err(Error::new(
                                        ErrorKind::NoRoute,
                                        format!("{target:?}"),
                                    ));
                                }
                                continue;
                            }
                        },
                    };
                    let r = self.attempt(&node, cmd, asking, blocking, deadline).await;
                    (node, asking, r)
                }
            };
            match result {
                Ok(frame) => match classify(&frame) {
                    Outcome::Done => return Ok(frame),
                    Outcome::Moved(r) => {
                        bump(&self.counters.moved);
                        redirects += 1;
                        if redirects > self.config.max_redirects {
                            return Err(Error::new(
                                ErrorKind::TooManyRedirects,
                                format!("last: MOVED {} {}", r.slot, r.addr),
                            ));
                        }
                        self.apply_moved(&r, &node);
                        target = Target::Slot(Some(r.slot));
                    }
                    Outcome::Ask(r) => {
                        bump(&self.counters.ask);
                        redirects += 1;
                        if redirects > self.config.max_redirects {
                            return Err(Error::new(
                                ErrorKind::TooManyRedirects,
                                format!("last: ASK {} {}", r.slot, r.addr),
                            ));
                        }
                        let to = if r.addr.has_empty_host() {
                            r.addr.with_default_host(node.addr.host())
                        } else {
                            r.addr
                        };
                        ask = Some(self.handle_for(&to));
                    }
                    Outcome::Refused { refresh } => {
                        if self.is_closed() {
                            // Refused before running, and there is nothing left to retry on.
                            return Err(Inner::closed_error());
                        }
                        uncount_ask_before_refusal(asked, &mut redirects);
                        if !Box::pin(self.after_refusal(refresh, &mut backoff, deadline)).await {
                            // Out of time: the server's refusal is the most precise answer we have.
                            return Ok(frame);
                        }
                        bump(&self.counters.retries);
                    }
                },
                Err(fail) => {
                    if matches!(fail.err.kind(), ErrorKind::Timeout | ErrorKind::Busy) {
                        self.after_timeout(&fail.err);
                        return Err(fail.err);
                    }
                    if self.is_closed() {
                        return Err(Inner::after_close(fail));
                    }
                    // The node may be gone: learn the topology from another node.
                    self.gate.request();
                    if fail.sent && !(opts.retry_safe || info.is_idempotent(cmd)) {
                        bump(&self.counters.indeterminate);
                        return Err(fail.err.into_indeterminate());
                    }
                    if second_invalid_reply(&fail.err, &mut invalid_replies) {
                        return Err(fail.err);
                    }
                    if !Box::pin(self.pause(&mut backoff, deadline)).await {
                        return Err(fail.err);
                    }
                    bump(&self.counters.retries);
                }
            }
        }
    }

    // ---- entry points ----------------------------------------------------------------------------------

    async fn send(&self, cmd: &EncodedCommand, opts: &SendOptions) -> Result<Frame, Error> {
        if cmd.argc() == 0 {
            return Err(Error::new(ErrorKind::InvalidInput, "empty command"));
        }
        let info = self.table.lookup(cmd);
        match info.route {
            Route::Keyed | Route::AnyMaster => {
                self.drive(cmd, &info, Target::Slot(first_slot(cmd, &info)), opts, None)
                    .await
            }
            // Boxed, as the rare paths of `drive` are: a fan-out or a split joins several futures, which
            // would otherwise make every single command's future several times bigger.
            Route::FanOut(merge) => Box::pin(self.fan_out(cmd, &info, merge, opts)).await,
            Route::EveryConnection => Box::pin(self.on_every_connection(cmd, opts)).await,
            Route::ConnectionState => Err(connection_state(cmd)),
            Route::Split(kind) => match split::plan(cmd, &info, kind) {
                Plan::Whole(slot) => self.drive(cmd, &info, Target::Slot(slot), opts, None).await,
                Plan::Split { kind, keys, parts } => {
                    let units: Vec<Unit> = parts
                        .iter()
                        .map(|p| Unit {
                            cmd: &p.cmd,
                            info,
                            slot: Some(p.slot),
                        })
                        .collect();
                    let results = Box::pin(self.run_units(&units, opts)).await;
                    merge_parts(kind, keys, &parts, results, info.readonly)
                }
            },
        }
    }

    async fn fan_out(
        &self,
        cmd: &EncodedCommand,
        info: &CommandInfo,
        merge: Merge,
        opts: &SendOptions,
    ) -> Result<Frame, Error> {
        let shards = self.view.load().master_shards();
        if shards.is_empty() {
            return Err(Error::new(ErrorKind::NoRoute, "no master"));
        }
        let parts: Arc<[Arc<NodeHandle>]> = shards.iter().map(|(n, _)| n.clone()).collect();
        let replies = join_all(shards.into_iter().map(|(n, slot)| {
            self.drive(cmd, info, Target::Shard(n, slot, parts.clone()), opts, None)
        }))
        .await;
        merge_fanout(merge, all_parts(replies, info.readonly)?)
    }

    /// The masters of the current view that serve slots.
    fn master_handles(&self) -> Result<Vec<Arc<NodeHandle>>, Error> {
        let view = self.view.load();
        let masters: Vec<Arc<NodeHandle>> = view
            .masters
            .iter()
            .filter_map(|&i| view.nodes.get(i).cloned())
            .collect();
        if masters.is_empty() {
            return Err(Error::new(ErrorKind::NoRoute, "no master"));
        }
        Ok(masters)
    }

    /// `WAIT` / `WAITAOF` on every connection of every master (see `wait.rs`). Keyless, so the server never
    /// redirects or refuses it for the cluster's sake: nothing here to retry.
    async fn on_every_connection(
        &self,
        cmd: &EncodedCommand,
        opts: &SendOptions,
    ) -> Result<Frame, Error> {
        let mut masters = self.master_handles()?;
        // A master without connections carried none of this client's writes; a new connection to it
        // would only answer with its replica count and lower the minimum for nothing. Every master is
        // connected at start-up and after each refresh, so this skips only one that has just appeared.
        if masters.iter().any(|n| n.pool.get().is_some()) {
            masters.retain(|n| n.pool.get().is_some());
        }
        let pools = join_all(masters.iter().map(|n| self.pool(n, opts.deadline)))
            .await
            .into_iter()
            .map(|r| r.map_err(|fail| fail.err))
            .collect::<Result<Vec<&Pool>, Error>>()?;
        wait::send_to_every_connection(pools, cmd, opts.deadline).await
    }

    async fn pipeline(
        &self,
        cmds: &[EncodedCommand],
        opts: &SendOptions,
    ) -> Vec<Result<Frame, Error>> {
        // Pass 1: what each command becomes. A split command's parts are owned here, so that the units
        // of pass 2 can borrow them as they borrow the caller's commands.
        enum Slotting {
            Unit(CommandInfo, Option<Slot>),
            Split {
                kind: crate::command::SplitKind,
                info: CommandInfo,
                keys: usize,
                parts: Vec<Part>,
            },
            FanOut(CommandInfo, Merge),
            EveryConnection,
            Invalid,
            Refused(Error),
        }
        let plans: Vec<Slotting> = cmds
            .iter()
            .map(|cmd| {
                if cmd.argc() == 0 {
                    return Slotting::Invalid;
                }
                let info = self.table.lookup(cmd);
                match info.route {
                    Route::Keyed | Route::AnyMaster => Slotting::Unit(info, first_slot(cmd, &info)),
                    Route::FanOut(merge) => Slotting::FanOut(info, merge),
                    Route::EveryConnection => Slotting::EveryConnection,
                    Route::ConnectionState => Slotting::Refused(connection_state(cmd)),
                    Route::Split(kind) => match split::plan(cmd, &info, kind) {
                        Plan::Whole(slot) => Slotting::Unit(info, slot),
                        Plan::Split { kind, keys, parts } => Slotting::Split {
                            kind,
                            info,
                            keys,
                            parts,
                        },
                    },
                }
            })
            .collect();
        let all_units = plans.iter().all(|p| matches!(p, Slotting::Unit(..)));
        // Pass 2: the units, in pipeline order, and the fan-out commands.
        let mut units = Vec::with_capacity(cmds.len());
        let mut fanouts = Vec::new();
        let mut waits = Vec::new();
        for (cmd, plan) in cmds.iter().zip(&plans) {
            match plan {
                Slotting::Unit(info, slot) => units.push(Unit {
                    cmd,
                    info: *info,
                    slot: *slot,
                }),
                Slotting::Split { info, parts, .. } => units.extend(parts.iter().map(|p| Unit {
                    cmd: &p.cmd,
                    info: *info,
                    slot: Some(p.slot),
                })),
                Slotting::FanOut(info, merge) => fanouts.push((cmd, *info, *merge)),
                Slotting::EveryConnection => waits.push(cmd),
                Slotting::Invalid | Slotting::Refused(_) => {}
            }
        }
        if all_units {
            // The usual pipeline: one result per unit, already in the caller's order.
            return self.run_units(&units, opts).await;
        }
        let fan_futs = fanouts
            .iter()
            .map(|(cmd, info, merge)| self.fan_out(cmd, info, *merge, opts));
        let (unit_results, fan_results) =
            join(self.run_units(&units, opts), join_all(fan_futs)).await;
        // After everything else has its reply, so that a `WAIT` waits for the writes before it (and for
        // those after it too, which only makes it wait longer, never promise more).
        let wait_results =
            join_all(waits.iter().map(|cmd| self.on_every_connection(cmd, opts))).await;
        // Pass 3: results in pipeline order; units and fan-outs were made in that order too.
        let mut unit_results = unit_results.into_iter();
        let mut fan_results = fan_results.into_iter();
        let mut wait_results = wait_results.into_iter();
        let missing = || {
            Err(Error::new(
                ErrorKind::Protocol,
                "internal: missing pipeline result",
            ))
        };
        plans
            .into_iter()
            .map(|plan| match plan {
                Slotting::Unit(..) => unit_results.next().unwrap_or_else(missing),
                Slotting::Split {
                    kind,
                    info,
                    keys,
                    parts,
                } => {
                    let results: Vec<_> = unit_results.by_ref().take(parts.len()).collect();
                    if results.len() < parts.len() {
                        return missing();
                    }
                    merge_parts(kind, keys, &parts, results, info.readonly)
                }
                Slotting::FanOut(..) => fan_results.next().unwrap_or_else(missing),
                Slotting::EveryConnection => wait_results.next().unwrap_or_else(missing),
                Slotting::Invalid => Err(Error::new(ErrorKind::InvalidInput, "empty command")),
                Slotting::Refused(e) => Err(e),
            })
            .collect()
    }

    /// Sends units grouped by node (one back-to-back batch per node, nodes in parallel, no task per group);
    /// a unit whose reply is a redirect or refusal continues alone through [`Inner::drive`].
    /// Returns one result per unit, in unit order.
    async fn run_units(&self, units: &[Unit<'_>], opts: &SendOptions) -> Vec<Result<Frame, Error>> {
        let mut groups: SmallVec<[NodeGroup; GROUPS_INLINE]> = SmallVec::new();
        // Units sent alone through `drive`: no route yet, or blocking.
        let mut unrouted: SmallVec<[usize; 4]> = SmallVec::new();
        {
            let view = self.view.load();
            let replicas = self.config.read_from_replicas;
            for (i, u) in units.iter().enumerate() {
                if u.info.is_blocking(u.cmd) {
                    // Alone, on a connection of its own (see `attempt`), concurrently with the groups.
                    unrouted.push(i);
                    continue;
                }
                match route_in(
                    &view,
                    &Target::Slot(u.slot),
                    replicas && u.info.readonly,
                    &self.rr,
                ) {
                    Some(node) => match groups.iter_mut().find(|g| Arc::ptr_eq(&g.node, &node)) {
                        Some(group) => group.members.push(i),
                        None => groups.push(NodeGroup {
                            node,
                            members: smallvec::smallvec![i],
                        }),
                    },
                    None => unrouted.push(i),
                }
            }
        }
        if unrouted.is_empty() && groups.len() == 1 {
            if let Some(group) = groups.pop() {
                // Every unit is in this one group, in unit order: its results need no reordering.
                return self.run_group(&group, units, opts).await;
            }
        }

        let lone_futs = unrouted.iter().map(|&i| async move {
            match units.get(i) {
                Some(u) => {
                    self.drive(u.cmd, &u.info, Target::Slot(u.slot), opts, None)
                        .await
                }
                None => Err(Error::new(ErrorKind::Protocol, "internal: unit index")),
            }
        });
        let (grouped, lone) = if unrouted.is_empty() {
            (self.run_groups(&groups, units, opts).await, Vec::new())
        } else {
            join(self.run_groups(&groups, units, opts), join_all(lone_futs)).await
        };
        let mut out: Vec<Option<Result<Frame, Error>>> = (0..units.len()).map(|_| None).collect();
        let placed = groups
            .iter()
            .zip(grouped)
            .flat_map(|(g, results)| g.members.iter().copied().zip(results))
            .chain(unrouted.iter().copied().zip(lone));
        for (i, r) in placed {
            if let Some(slot) = out.get_mut(i) {
                *slot = Some(r);
            }
        }
        out.into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(Error::new(
                        ErrorKind::Protocol,
                        "internal: missing unit result",
                    ))
                })
            })
            .collect()
    }

    /// Every group's batch, concurrently; their results in group order. Up to three groups (a cluster
    /// of three masters) are joined in place: `join_all` boxes its futures, and three of them came to
    /// several KiB, a block glibc serves only after consolidating its caches (about 1.5% of a
    /// mixed_10keys profile) and that had to be copied into the box.
    async fn run_groups(
        &self,
        groups: &[NodeGroup],
        units: &[Unit<'_>],
        opts: &SendOptions,
    ) -> SmallVec<[Vec<Result<Frame, Error>>; GROUPS_INLINE]> {
        match groups {
            [] => SmallVec::new(),
            [a] => smallvec::smallvec![self.run_group(a, units, opts).await],
            [a, b] => {
                let (a, b) = join(
                    self.run_group(a, units, opts),
                    self.run_group(b, units, opts),
                )
                .await;
                smallvec::smallvec![a, b]
            }
            [a, b, c] => {
                let (a, b, c) = join3(
                    self.run_group(a, units, opts),
                    self.run_group(b, units, opts),
                    self.run_group(c, units, opts),
                )
                .await;
                smallvec::smallvec![a, b, c]
            }
            _ => join_all(groups.iter().map(|g| self.run_group(g, units, opts)))
                .await
                .into_iter()
                .collect(),
        }
    }

    /// One node's units as one batch; returns their results in member order.
    async fn run_group(
        &self,
        group: &NodeGroup,
        units: &[Unit<'_>],
        opts: &SendOptions,
    ) -> Vec<Result<Frame, Error>> {
        let node = &group.node;
        let batch: SmallVec<[&EncodedCommand; UNITS_INLINE]> = group
            .members
            .iter()
            .filter_map(|&i| units.get(i))
            .map(|u| u.cmd)
            .collect();
        let results: Vec<Result<Frame, multiplexer::Error>> =
            match self.pool(node, opts.deadline).await {
                Ok(pool) if batch.len() == 1 => match batch.first() {
                    Some(cmd) => vec![pool.send_by(cmd, opts.deadline).await],
                    None => Vec::new(),
                },
                Ok(pool) => pool.send_pipeline(&batch, opts.deadline).await,
                Err(fail) => {
                    let mut out = Vec::with_capacity(batch.len());
                    let mut waited = false;
                    for &i in &group.members {
                        let Some(u) = units.get(i) else { continue };
                        let first = self.stale_first(node, Err(fail.clone()), waited, opts);
                        let drive = self.drive(u.cmd, &u.info, Target::Slot(u.slot), opts, first);
                        out.push(Box::pin(drive).await);
                        waited = true;
                    }
                    return out;
                }
            };
        let mut out = Vec::with_capacity(results.len());
        // Redirected or refused commands are retried one by one in their pipeline order, so two commands
        // on the same key that were both redirected still run in the order the caller gave.
        let mut waited = false;
        for (&i, r) in group.members.iter().zip(results) {
            let Some(u) = units.get(i) else { continue };
            let res = match r {
                Ok(frame) if classify(&frame) == Outcome::Done => Ok(frame),
                other => {
                    let other = other.map_err(Fail::from_mux);
                    let pauses = match &other {
                        Ok(frame) => matches!(classify(frame), Outcome::Refused { .. }),
                        Err(_) => true,
                    };
                    let first = self.stale_first(node, other, waited, opts);
                    // Boxed: redirects are rare, and `drive` would triple the size of this future.
                    let res =
                        Box::pin(self.drive(u.cmd, &u.info, Target::Slot(u.slot), opts, first))
                            .await;
                    waited |= pauses;
                    res
                }
            };
            out.push(res);
        }
        out
    }

    /// The result a pipeline member's retry starts from. A refusal or a failure before the write makes
    /// `drive` pause before it retries; once an earlier member of the same batch has waited that out,
    /// the later ones' results are as old as its was, so they are sent again at once instead (without
    /// this, a 1000-command pipeline refused during a failover paused 5-10 ms per command, one after
    /// the other, and its tail ran out of time after the cluster had recovered). A result that may
    /// have run is kept: `drive` decides whether it may be sent again. Past the deadline every result
    /// is kept, so `drive` returns it at once.
    fn stale_first(
        &self,
        node: &Arc<NodeHandle>,
        result: Result<Frame, Fail>,
        waited: bool,
        opts: &SendOptions,
    ) -> Option<(Arc<NodeHandle>, Result<Frame, Fail>)> {
        let nothing_ran = match &result {
            Ok(frame) => matches!(classify(frame), Outcome::Refused { .. }),
            Err(fail) => !fail.sent,
        };
        if waited && nothing_ran && Instant::now() < opts.deadline {
            return None;
        }
        Some((node.clone(), result))
    }

    async fn transaction(
        &self,
        cmds: &[EncodedCommand],
        opts: &SendOptions,
    ) -> Result<Frame, Error> {
        let mut slot: Option<Slot> = None;
        let mut idempotent = true;
        for cmd in cmds {
            if cmd.argc() == 0 {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    "empty command in transaction",
                ));
            }
            let info = self.table.lookup(cmd);
            if info.route == Route::ConnectionState {
                return Err(connection_state(cmd));
            }
            idempotent &= info.is_idempotent(cmd);
            match split::single_slot(cmd, &info) {
                Err(()) => {
                    return Err(Error::new(
                        ErrorKind::CrossSlot,
                        "a command's keys span slots",
                    ));
                }
                Ok(Some(s)) if slot.is_some_and(|prev| prev != s) => {
                    return Err(Error::new(
                        ErrorKind::CrossSlot,
                        "the transaction's keys span slots",
                    ));
                }
                Ok(Some(s)) => slot = Some(s),
                Ok(None) => {}
            }
        }
        // A transaction always goes to the master, even when every command reads: it is one unit and
        // replicas may lag, so a read-only transaction on a replica could see a state the master never had.
        let mut batch = Vec::with_capacity(cmds.len() + 3);
        batch.push(self.asking.clone());
        batch.push(self.multi.clone());
        batch.extend(cmds.iter().cloned());
        batch.push(self.exec.clone());
        let deadline = opts.deadline;
        let mut target = Target::Slot(slot);
        let mut ask: Option<Arc<NodeHandle>> = None;
        let mut redirects = 0u32;
        let mut invalid_replies = 0u32;
        let mut backoff = self.backoff();
        loop {
            let (node, asking) = match ask.take() {
                Some(n) => (n, true),
                None => match self.route(&target, false) {
                    Some(n) => (n, false),
                    None => {
                        if self.is_closed() {
                            return Err(Inner::closed_error());
                        }
                        self.gate.request();
                        if !self.pause(&mut backoff, deadline).await {
                            return Err(Error::new(ErrorKind::NoRoute, "transaction"));
                        }
                        continue;
                    }
                },
            };
            // ASKING before MULTI stays in force for the whole transaction (the server keeps the flag while
            // the client is in MULTI), so the ASK retry is the same unit with ASKING in front.
            let unit = if asking {
                &batch[..]
            } else {
                batch.get(1..).unwrap_or_default()
            };
            let replies = match self.pool(&node, deadline).await {
                Ok(pool) => pool
                    .send_batch(unit, deadline)
                    .await
                    .into_iter()
                    .map(|r| r.map_err(Fail::from_mux))
                    .collect(),
                Err(fail) => vec![Err(fail)],
            };
            let exec = replies.last().cloned();
            // The replies to the caller's commands, for the reason of an EXECABORT.
            let queued = || {
                let first = if asking { 2 } else { 1 };
                let last = replies.len().saturating_sub(1);
                replies
                    .get(first..last)
                    .unwrap_or_default()
                    .iter()
                    .map(|r| r.as_ref().ok())
            };
            match exec {
                Some(Ok(frame)) => {
                    // Nothing ran in either case. EXECABORT: the reason is among the queued replies.
                    // Any other refusal or redirect (TRYAGAIN, MOVED, ASK, CLUSTERDOWN) is EXEC's own
                    // reply: the server checks the keys' slots again when EXEC runs and discards the
                    // transaction, e.g. when the slot's keys are split by a migration meanwhile.
                    let why = if is_execabort(&frame) {
                        replies
                            .iter()
                            .filter_map(|r| r.as_ref().ok())
                            .map(classify)
                            .find(|o| *o != Outcome::Done)
                    } else {
                        match classify(&frame) {
                            Outcome::Done => return Ok(frame),
                            refused_or_redirected => Some(refused_or_redirected),
                        }
                    };
                    match why {
                        Some(Outcome::Moved(r)) => {
                            bump(&self.counters.moved);
                            redirects += 1;
                            if redirects > self.config.max_redirects {
                                return Err(Error::new(ErrorKind::TooManyRedirects, "transaction"));
                            }
                            self.apply_moved(&r, &node);
                            target = Target::Slot(Some(r.slot));
                        }
                        Some(Outcome::Ask(r)) => {
                            bump(&self.counters.ask);
                            redirects += 1;
                            if redirects > self.config.max_redirects {
                                return Err(Error::new(ErrorKind::TooManyRedirects, "transaction"));
                            }
                            let to = if r.addr.has_empty_host() {
                                r.addr.with_default_host(node.addr.host())
                            } else {
                                r.addr
                            };
                            ask = Some(self.handle_for(&to));
                        }
                        Some(Outcome::Refused { refresh }) => {
                            if self.is_closed() {
                                return Err(Inner::closed_error());
                            }
                            uncount_ask_before_refusal(asking, &mut redirects);
                            if !self.after_refusal(refresh, &mut backoff, deadline).await {
                                return Ok(explain_execabort(frame, queued()));
                            }
                            bump(&self.counters.retries);
                        }
                        _ => return Ok(explain_execabort(frame, queued())),
                    }
                }
                Some(Err(fail)) => {
                    if matches!(fail.err.kind(), ErrorKind::Timeout | ErrorKind::Busy) {
                        self.after_timeout(&fail.err);
                        return Err(fail.err);
                    }
                    if self.is_closed() {
                        let any_sent = replies
                            .iter()
                            .any(|r| r.as_ref().err().is_none_or(|f| f.sent));
                        return Err(Inner::after_close(Fail {
                            sent: any_sent,
                            err: fail.err,
                        }));
                    }
                    self.gate.request();
                    let any_sent = replies
                        .iter()
                        .any(|r| r.as_ref().err().is_none_or(|f| f.sent));
                    if any_sent && !(opts.retry_safe || idempotent) {
                        bump(&self.counters.indeterminate);
                        return Err(fail.err.into_indeterminate());
                    }
                    if second_invalid_reply(&fail.err, &mut invalid_replies) {
                        return Err(fail.err);
                    }
                    if !self.pause(&mut backoff, deadline).await {
                        return Err(fail.err);
                    }
                    bump(&self.counters.retries);
                }
                None => return Err(Error::new(ErrorKind::Protocol, "no EXEC reply")),
            }
        }
    }

    fn stats(&self) -> RouterStats {
        let c = &self.counters;
        let mut stats = RouterStats {
            moved: get(&c.moved),
            ask: get(&c.ask),
            retries: get(&c.retries),
            indeterminate: get(&c.indeterminate),
            refresh_requests: self.gate.requests.load(Ordering::Relaxed),
            refreshes: get(&c.refreshes),
            topology_changes: get(&c.topology_changes),
            blocking_connections: self.dedicated.open(),
            ..RouterStats::default()
        };
        for (key, h) in lock(&self.registry).iter() {
            let Some(pool) = h.pool.get() else { continue };
            let s = pool.stats();
            stats.connects += s.connects;
            stats.reconnects += s.reconnects;
            stats.nodes.push(NodeStats {
                addr: key.clone(),
                in_flight: pool.in_flight(),
                connected: h.is_up(),
                commands: s.commands,
                writes: s.writes,
                reads: s.reads,
                timeouts: s.timeouts,
            });
        }
        stats.nodes.sort_by(|a, b| a.addr.cmp(&b.addr));
        stats
    }
}

/// The slot of the first key (the server checks the rest and answers CROSSSLOT itself).
fn first_slot(cmd: &EncodedCommand, info: &CommandInfo) -> Option<Slot> {
    info.key_indices(cmd)
        .next()
        .and_then(|i| cmd.arg(i))
        .map(Slot::for_key)
}

fn route_in(
    view: &View,
    target: &Target,
    replica_ok: bool,
    rr: &AtomicUsize,
) -> Option<Arc<NodeHandle>> {
    match target {
        Target::Node(n) => Some(n.clone()),
        Target::Shard(n, slot, parts) => Some(
            successor(view, n, *slot)
                .filter(|s| !parts.iter().any(|p| Arc::ptr_eq(p, s)))
                .unwrap_or_else(|| n.clone()),
        ),
        Target::Slot(Some(slot)) => {
            let master = view.topo.master_for(*slot)?;
            if replica_ok {
                let replicas = view.topo.replicas_for(*slot);
                if !replicas.is_empty() {
                    // Relaxed: only spreads load.
                    let start = rr.fetch_add(1, Ordering::Relaxed);
                    let up = (0..replicas.len())
                        .filter_map(|k| replicas.get((start + k) % replicas.len()))
                        .filter_map(|r| view.nodes.get(r.get()))
                        .find(|h| h.is_up());
                    if let Some(h) = up {
                        return Some(h.clone());
                    }
                }
            }
            view.nodes.get(master.get()).cloned()
        }
        Target::Slot(None) => {
            let n = view.masters.len();
            if n == 0 {
                return None;
            }
            // Relaxed: only spreads load.
            let i = rr.fetch_add(1, Ordering::Relaxed) % n;
            view.masters
                .get(i)
                .and_then(|&m| view.nodes.get(m))
                .cloned()
        }
    }
}

/// An invalid reply (`ErrorKind::Protocol`) resets its connection and fails everything in flight there.
/// A command failed for another's reply is retried as after any connection loss; one whose own reply
/// is invalid (or over `max_reply_bytes`) would only fail again, resetting the connection under every
/// other caller each time. True at the second one for the same command: give up.
fn second_invalid_reply(err: &Error, count: &mut u32) -> bool {
    if err.kind() != ErrorKind::Protocol {
        return false;
    }
    *count += 1;
    *count > 1
}

/// An `ASK` whose target then refused the command (`TRYAGAIN`: the keys of a multi-key command or a
/// transaction are not all there yet during a migration) does not count against `max_redirects`: the
/// retry will be sent to the source, get the same `ASK` and wait for the migration, paced by the
/// refusal's backoff and bounded by the deadline. Counted, a transaction in a migrating slot failed
/// with `TooManyRedirects` after about 0.3 s. A redirect loop without refusals is still counted.
fn uncount_ask_before_refusal(asked: bool, redirects: &mut u32) {
    if asked {
        *redirects = redirects.saturating_sub(1);
    }
}

/// The master that replaced `node` when the view no longer lists it as a master: the master of `slot`, a
/// slot `node` served. `None` while `node` is still a master, or when nothing serves `slot`.
fn successor(view: &View, node: &Arc<NodeHandle>, slot: Option<Slot>) -> Option<Arc<NodeHandle>> {
    let still_master = view
        .masters
        .iter()
        .any(|&i| view.nodes.get(i).is_some_and(|h| Arc::ptr_eq(h, node)));
    if still_master {
        return None;
    }
    let master = view.topo.master_for(slot?)?;
    view.nodes
        .get(master.get())
        .filter(|h| !Arc::ptr_eq(h, node))
        .cloned()
}

fn merge_parts(
    kind: crate::command::SplitKind,
    keys: usize,
    parts: &[Part],
    results: Vec<Result<Frame, Error>>,
    readonly: bool,
) -> Result<Frame, Error> {
    merge_split(kind, keys, parts, all_parts(results, readonly)?)
}

/// The replies of a command sent in parts (a split multi-key command, a fan-out), or the first part's
/// error. When another part ran, or may have, a write ran in part, whatever the failed part says: an
/// error that says "nothing ran" (a connection never made, no route, too many redirects) would invite a
/// retry that repeats the parts that did run (`DEL` counting twice, `FLUSHALL` on one master and not the
/// other), so it is reported as [`ErrorKind::Indeterminate`]. A read-only command changes nothing, so
/// its part's error stands.
fn all_parts(results: Vec<Result<Frame, Error>>, readonly: bool) -> Result<Vec<Frame>, Error> {
    let some_ran = || {
        results.iter().any(|r| match r {
            Ok(frame) => !frame.is_error(),
            Err(e) => e.may_have_executed(),
        })
    };
    if let Some(i) = results.iter().position(Result::is_err) {
        let ran = !readonly && some_ran();
        let Some(Err(e)) = results.into_iter().nth(i) else {
            return Err(Error::new(
                ErrorKind::Protocol,
                "a part's result went missing",
            ));
        };
        return Err(if ran && !e.may_have_executed() {
            Error::new(
                ErrorKind::Indeterminate,
                format!("part of the command ran, another part failed: {e}"),
            )
        } else {
            e
        });
    }
    Ok(results.into_iter().filter_map(Result::ok).collect())
}

/// A cluster-wide `SCAN`: one cursor per master of the view taken when the scan started.
///
/// Keys are yielded in batches; a key present for the whole scan is yielded at least once (SCAN's
/// guarantee, per master), and may be yielded more than once. If a master fails over mid-scan, its
/// successor (the new master of its slots) is scanned from the start. Slots resharded during a scan
/// may be missed or repeated: SCAN's guarantee holds per node, not across a reshard.
#[derive(Debug)]
pub struct ClusterScan {
    router: Router,
    /// Each master to walk, with a slot it served when the scan started.
    nodes: Vec<(Arc<NodeHandle>, Option<Slot>)>,
    at: usize,
    cursor: Bytes,
    pattern: Option<Bytes>,
    count: Option<u32>,
}

impl ClusterScan {
    /// The next batch of keys, or `None` when every master has been walked.
    /// Each call returns by the router's default deadline. Pages without a match are skipped while that
    /// deadline lasts; once it has passed, the call returns an empty batch and the next call continues
    /// where this one stopped, so a pattern that matches nothing in a large keyspace costs several calls
    /// rather than a timeout. A master's refusal (`NOPERM` for a user not allowed to scan) is
    /// [`ErrorKind::Server`] with the server's text.
    pub async fn next_batch(&mut self) -> Result<Option<Vec<Bytes>>, Error> {
        let inner = self.router.inner.clone();
        if inner.is_closed() {
            return Err(Inner::closed_error());
        }
        let deadline = deadline_after(inner.config.default_timeout);
        let mut first_page = true;
        loop {
            let Some((node, slot)) = self.nodes.get_mut(self.at) else {
                return Ok(None);
            };
            // Checked before every page but the first, which always goes out: the cursor is kept, so
            // returning an empty batch loses nothing.
            if !first_page && Instant::now() >= deadline {
                return Ok(Some(Vec::new()));
            }
            let later_page = !first_page;
            first_page = false;
            // A master that no longer serves slots (failed over) is replaced by its successor, scanned
            // from cursor 0.
            if let Some(next) = successor(&inner.view.load(), node, *slot) {
                *node = next;
                self.cursor = Bytes::from_static(b"0");
            }
            let node = node.clone();
            let cmd = scan_command(&self.cursor, self.pattern.as_deref(), self.count);
            let info = inner.table.lookup(&cmd);
            // Short attempts, so a dead master is noticed and replaced while the call's deadline lasts.
            let attempt = SendOptions {
                deadline: deadline.min(deadline_after(inner.config.refresh_timeout)),
                retry_safe: true,
            };
            let reply = match inner
                .drive(&cmd, &info, Target::Node(node), &attempt, None)
                .await
            {
                Ok(reply) => reply,
                // A closed router has nothing to re-resolve.
                Err(e) if inner.is_closed() => return Err(e),
                // A later page went out with what was left of the call's deadline: running out is
                // this call's end, not a failure. The cursor is kept, and SCAN only reads, so the
                // next call simply asks for that page again.
                Err(e) if later_page && e.kind() == ErrorKind::Timeout => {
                    return Ok(Some(Vec::new()));
                }
                Err(e) if deadline_after(inner.config.retry_backoff_max) < deadline => {
                    tracing::debug!(error = %e, "SCAN attempt failed; re-resolving the node");
                    inner.gate.request();
                    tokio::time::sleep(inner.config.retry_backoff_max).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if let Frame::SimpleError(text) | Frame::BulkError(text) = &reply {
                return Err(Error::new(ErrorKind::Server, String::from_utf8_lossy(text)));
            }
            let (cursor, keys) = parse_scan_reply(reply)?;
            if &cursor[..] == b"0" {
                self.at += 1;
                self.cursor = Bytes::from_static(b"0");
            } else {
                self.cursor = cursor;
            }
            if !keys.is_empty() {
                return Ok(Some(keys));
            }
        }
    }
}

/// `SCAN cursor [MATCH pattern] [COUNT count]`.
pub fn scan_command(cursor: &[u8], pattern: Option<&[u8]>, count: Option<u32>) -> EncodedCommand {
    let mut b = resp_codec::CommandBuilder::new("SCAN");
    b.arg(cursor);
    if let Some(p) = pattern {
        b.arg(b"MATCH").arg(p);
    }
    if let Some(n) = count {
        b.arg(b"COUNT").arg_u64(u64::from(n));
    }
    b.finish()
}

/// `SCAN`'s reply, `[cursor, [key, ...]]`, as the next cursor (`0` when the walk is over) and the keys.
/// Anything else is a [`ErrorKind::Protocol`] error, a server error reply included.
pub fn parse_scan_reply(reply: Frame) -> Result<(Bytes, Vec<Bytes>), Error> {
    let bad = |why: &str| Error::new(ErrorKind::Protocol, format!("SCAN reply: {why}"));
    let Frame::Array(mut parts) = reply else {
        return Err(bad(&format!("not an array: {reply:?}")));
    };
    if parts.len() != 2 {
        return Err(bad("not two elements"));
    }
    let keys = parts.pop();
    let cursor = match parts.pop() {
        Some(Frame::BulkString(c) | Frame::SimpleString(c)) => c,
        _ => return Err(bad("the cursor is not a string")),
    };
    let keys = match keys {
        Some(Frame::Array(keys) | Frame::Set(keys)) => keys,
        _ => return Err(bad("the keys are not an array")),
    };
    let keys = keys
        .into_iter()
        .map(|k| match k {
            Frame::BulkString(k) | Frame::SimpleString(k) => Ok(k),
            _ => Err(bad("a key is not a string")),
        })
        .collect::<Result<Vec<Bytes>, Error>>()?;
    Ok((cursor, keys))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_write_that_ran_in_part_is_indeterminate() {
        let one = || Ok(Frame::Integer(1));
        let refused = || Ok(Frame::SimpleError(Bytes::from_static(b"ERR no")));
        let err = |kind| Err(Error::new(kind, "part"));
        // Parts, read-only, and what comes out: the number of replies or the error kind reported.
        type Case = (Vec<Result<Frame, Error>>, bool, Result<usize, ErrorKind>);
        let cases: Vec<Case> = vec![
            (vec![one(), one()], false, Ok(2)),
            // Nothing ran anywhere: the part's own error stands.
            (
                vec![err(ErrorKind::Connection)],
                false,
                Err(ErrorKind::Connection),
            ),
            (
                vec![refused(), err(ErrorKind::NoRoute)],
                false,
                Err(ErrorKind::NoRoute),
            ),
            // Another part ran or may have: the write ran in part.
            (
                vec![one(), err(ErrorKind::Connection)],
                false,
                Err(ErrorKind::Indeterminate),
            ),
            (
                vec![err(ErrorKind::TooManyRedirects), one()],
                false,
                Err(ErrorKind::Indeterminate),
            ),
            (
                vec![err(ErrorKind::NoRoute), err(ErrorKind::Timeout)],
                false,
                Err(ErrorKind::Indeterminate),
            ),
            // An error that already says "may have run" is kept.
            (
                vec![one(), err(ErrorKind::Timeout)],
                false,
                Err(ErrorKind::Timeout),
            ),
            // A read changes nothing.
            (
                vec![one(), err(ErrorKind::Connection)],
                true,
                Err(ErrorKind::Connection),
            ),
        ];
        for (i, (parts, readonly, want)) in cases.into_iter().enumerate() {
            let got = all_parts(parts, readonly)
                .map(|f| f.len())
                .map_err(|e| e.kind());
            assert_eq!(got, want, "case {i}");
        }
    }

    #[test]
    fn scan_commands_and_replies() {
        assert_eq!(
            scan_command(b"17", Some(b"user:*"), Some(500)).bytes().as_ref(),
            b"*6\r\n$4\r\nSCAN\r\n$2\r\n17\r\n$5\r\nMATCH\r\n$6\r\nuser:*\r\n$5\r\nCOUNT\r\n$3\r\n500\r\n"
        );
        assert_eq!(
            scan_command(b"0", None, None).bytes().as_ref(),
            b"*2\r\n$4\r\nSCAN\r\n$1\r\n0\r\n"
        );
        let bulk = |s: &'static str| Frame::BulkString(Bytes::from_static(s.as_bytes()));
        let reply = Frame::Array(vec![bulk("17"), Frame::Array(vec![bulk("a"), bulk("b")])]);
        let (cursor, keys) = parse_scan_reply(reply).expect("a page");
        assert_eq!(cursor.as_ref(), b"17");
        assert_eq!(keys, [Bytes::from_static(b"a"), Bytes::from_static(b"b")]);
        let end = Frame::Array(vec![bulk("0"), Frame::Array(vec![])]);
        assert_eq!(
            parse_scan_reply(end).expect("the last page").0.as_ref(),
            b"0"
        );
        for bad in [
            Frame::Integer(3),
            Frame::SimpleError(Bytes::from_static(b"ERR invalid cursor")),
            Frame::Array(vec![bulk("0")]),
            Frame::Array(vec![Frame::Integer(0), Frame::Array(vec![])]),
            Frame::Array(vec![bulk("0"), bulk("a")]),
            Frame::Array(vec![bulk("0"), Frame::Array(vec![Frame::Integer(1)])]),
        ] {
            let err = parse_scan_reply(bad.clone()).expect_err("not a SCAN page");
            assert_eq!(err.kind(), ErrorKind::Protocol, "{bad:?}");
        }
    }

    /// A `CLUSTER SLOTS` view: each `(first, last, port)` range served by a master at 127.0.0.1:port.
    fn masters(ranges: &[(i64, i64, i64)]) -> Topology {
        let reply = Frame::Array(
            ranges
                .iter()
                .map(|&(first, last, port)| {
                    let id = format!("{port:0>40}");
                    Frame::Array(vec![
                        Frame::Integer(first),
                        Frame::Integer(last),
                        Frame::Array(vec![
                            Frame::BulkString(Bytes::from_static(b"127.0.0.1")),
                            Frame::Integer(port),
                            Frame::BulkString(Bytes::from(id)),
                        ]),
                    ])
                })
                .collect(),
        );
        Topology::from_cluster_slots(&reply, "127.0.0.1").unwrap()
    }

    #[test]
    fn a_fan_out_part_follows_a_failover_but_never_to_another_part() {
        let three = [(0, 5460, 7001), (5461, 10922, 7002), (10923, 16383, 7003)];
        let inner = Inner::new(
            RouterConfig::new(["127.0.0.1:7001"]),
            CommandTable::builtin(),
            masters(&three),
        );
        let shards = inner.view.load().master_shards();
        let ports: Vec<_> = shards
            .iter()
            .map(|(n, s)| (n.addr.port(), s.map(Slot::get)))
            .collect();
        assert_eq!(
            ports,
            [(7001, Some(0)), (7002, Some(5461)), (7003, Some(10923))]
        );
        let parts: Arc<[Arc<NodeHandle>]> = shards.iter().map(|(n, _)| n.clone()).collect();
        let (first, slot) = shards[0].clone();
        let target = Target::Shard(first.clone(), slot, parts);
        let routed = |inner: &Inner| {
            route_in(&inner.view.load(), &target, false, &inner.rr).map(|n| n.addr.port())
        };
        assert_eq!(routed(&inner), Some(7001), "a master that still is one");
        let mut registry = lock(&inner.registry);
        // A failover: 7001's slots now belong to 7004, its promoted replica.
        let failed_over = [(0, 5460, 7004), (5461, 10922, 7002), (10923, 16383, 7003)];
        inner.install(&mut registry, masters(&failed_over), Prune::NodesThatLeft);
        assert_eq!(routed(&inner), Some(7004), "the successor");
        // A scale-in: 7001's slots went to 7002, which has its own part of the fan-out.
        let scaled_in = [(0, 10922, 7002), (10923, 16383, 7003)];
        inner.install(&mut registry, masters(&scaled_in), Prune::NodesThatLeft);
        assert_eq!(routed(&inner), Some(7001), "not another part's master");
    }

    #[tokio::test(start_paused = true)]
    async fn thousand_moved_replies_patch_the_map_and_cause_one_refresh() {
        let inner = Arc::new(Inner::new(
            RouterConfig::new(["127.0.0.1:7000"]),
            CommandTable::builtin(),
            masters(&[(0, 16383, 7000)]),
        ));
        let refreshes = Arc::new(AtomicUsize::new(0));
        let counter = refreshes.clone();
        let timing = Timing {
            periodic: inner.config.periodic_check,
            coalesce: inner.config.refresh_coalesce,
            min_interval: inner.config.min_refresh_interval,
        };
        // The real loop with a counting refresh instead of the network one.
        let task = tokio::spawn(refresh::run(inner.gate.clone(), timing, move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Some(async {})
        }));
        tokio::task::yield_now().await;
        let from = inner.view.load().nodes.first().cloned().unwrap();
        for i in 0..1000u16 {
            // 500 slots, each redirected twice (the second finds the map already patched).
            let text = format!("MOVED {} 127.0.0.1:7001", i % 500);
            let r = Redirect::parse(text.as_bytes()).unwrap();
            inner.apply_moved(&r, &from);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(refreshes.load(Ordering::SeqCst), 1);
        assert_eq!(inner.gate.requests.load(Ordering::Relaxed), 1000);
        let view = inner.view.load();
        for slot in [0u16, 250, 499, 500, 16383] {
            let owner = view
                .topo
                .master_for(Slot::new(slot).unwrap())
                .map(|i| view.topo.node(i).addr.to_string());
            let want = if slot < 500 {
                "127.0.0.1:7001"
            } else {
                "127.0.0.1:7000"
            };
            assert_eq!(owner.as_deref(), Some(want), "slot {slot}");
        }
        // Routing uses the patched snapshot: one load, one lookup.
        let node = inner.route(&Target::Slot(Slot::new(42)), false).unwrap();
        assert_eq!(node.key, "127.0.0.1:7001");
        inner.gate.close();
        task.await.unwrap();
    }
}

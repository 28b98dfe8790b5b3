//! The public handles: [`Multiplexer`] (one connection) and [`Pool`] (several to one address).

use std::borrow::Borrow;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use resp_codec::{EncodedCommand, Frame};
use smallvec::SmallVec;
use tokio::time::Instant;

use crate::config::{ConnectionConfig, ProtocolVersion};
use crate::conn::{self, Entry, Reply, Shared, WireBytes};
use crate::error::{Error, ErrorKind};
use crate::loom::{Arc, AtomicUsize, Ordering};
use crate::stats::ConnectionStats;

/// One TCP connection to one Redis server, shared by any number of tasks. Cheap to clone.
///
/// Commands from all tasks are written in batches by one writer task and their replies matched in
/// order by one reader task; each caller waits on a pooled response slot. The connection reconnects
/// in the background; dropping the last clone closes it.
#[derive(Clone)]
pub struct Multiplexer {
    handle: Arc<Handle>,
}

/// Owned by the handles only (not by the tasks): its drop is "the last handle is gone".
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.handles_dropped();
    }
}

impl std::fmt::Debug for Multiplexer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Multiplexer")
            .field("addr", &self.addr())
            .field("connected", &self.is_connected())
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

impl Multiplexer {
    /// Connects and runs set-up (HELLO 3 / AUTH / SETNAME / SELECT / READONLY), then starts the
    /// connection's tasks. Errors: `Connect` (TCP or timeout), `Setup` (server refused set-up).
    pub async fn connect(config: ConnectionConfig) -> Result<Multiplexer, Error> {
        let (stream, protocol, leftover) = conn::connect_and_setup(&config).await?;
        let shared = Arc::new(Shared::new(config, protocol));
        shared.stats.connects.fetch_add(1, Ordering::Relaxed);
        conn::spawn(shared.clone(), stream, leftover);
        Ok(Multiplexer {
            handle: Arc::new(Handle { shared }),
        })
    }

    #[inline]
    fn shared(&self) -> &Shared {
        &self.handle.shared
    }

    /// Sends one command; its deadline is now + `command_timeout`.
    /// A server error reply is `Ok(Frame::SimpleError(..))`.
    pub async fn send(&self, cmd: &EncodedCommand) -> Result<Frame, Error> {
        let deadline = conn::deadline_after(Instant::now(), self.shared().config.command_timeout);
        self.send_by(cmd, deadline).await
    }

    /// Sends one command that must be answered by `deadline`.
    /// The caller returns at the latest `timeout_tick` after the deadline.
    pub fn send_by<'a>(
        &'a self,
        cmd: &'a EncodedCommand,
        deadline: Instant,
    ) -> impl Future<Output = Result<Frame, Error>> + 'a {
        send_one(Target::Connection(self), cmd, deadline)
    }

    /// All commands enter the connection as one unit, written back to back with nothing from another
    /// task between them (ASKING + command, MULTI..EXEC). One result per command, in order.
    /// A batch needs a response slot per command, all at once: one larger than the slot pool
    /// (`max_in_flight + max_queued`) fails whole with `Busy`; see [`Multiplexer::send_pipeline`].
    pub async fn send_batch<C: Borrow<EncodedCommand>>(
        &self,
        cmds: &[C],
        deadline: Instant,
    ) -> Vec<Result<Frame, Error>> {
        let shared = self.shared();
        if cmds.is_empty() {
            return Vec::new();
        }
        if let Err(e) = shared.check_accepting() {
            return vec![Err(e); cmds.len()];
        }
        let mut slots = Vec::with_capacity(cmds.len());
        if let Err(e) = shared.acquire_many(cmds.len(), deadline, &mut slots).await {
            return vec![Err(e); cmds.len()];
        }
        let len = cmds.iter().map(|c| c.borrow().bytes().len()).sum();
        let mut bytes = BytesMut::with_capacity(len);
        for cmd in cmds {
            bytes.extend_from_slice(cmd.borrow().bytes());
        }
        // Replies are awaited in order. If this future is dropped midway, the slot being awaited is
        // abandoned by its `ReplyFuture` and the later ones by `pending`.
        let mut pending = PendingReplies {
            shared,
            slots: SmallVec::from_slice(&slots),
            next: 0,
        };
        // The slot list moves into the entry (its capacity is its length: no reallocation).
        shared.submit(Entry::Batch {
            bytes: bytes.freeze(),
            slots: slots.into_boxed_slice(),
        });
        let mut out = Vec::with_capacity(cmds.len());
        while let Some(&slot) = pending.slots.get(pending.next) {
            pending.next += 1;
            out.push(ReplyFuture::new(shared, slot, deadline, true).await);
        }
        out
    }

    /// Commands written in order on this connection, any number of them: a pipeline. One result per
    /// command, in order.
    ///
    /// Up to the slot pool's size (`max_in_flight + max_queued`) this is [`Multiplexer::send_batch`].
    /// A longer pipeline goes in parts of half the pool, each sent once the one before is answered:
    /// half, so that other callers still find slots meanwhile. Other callers' commands may then be
    /// written between two parts, so a MULTI..EXEC must go through `send_batch`.
    ///
    /// Once a part has a failed command (connection lost, deadline passed), or the deadline has passed,
    /// the later parts are not sent: they fail with [`ErrorKind::ConnectionNotSent`] (or
    /// [`ErrorKind::Busy`] after the deadline), never sent. Sending them on a new connection would run
    /// them before a retry of the failed ones, out of the caller's order.
    pub async fn send_pipeline<C: Borrow<EncodedCommand>>(
        &self,
        cmds: &[C],
        deadline: Instant,
    ) -> Vec<Result<Frame, Error>> {
        let pool = self.shared().slots.capacity();
        if cmds.len() <= pool {
            return self.send_batch(cmds, deadline).await;
        }
        let mut out: Vec<Result<Frame, Error>> = Vec::with_capacity(cmds.len());
        let mut parts = cmds.chunks((pool / 2).max(1));
        for part in parts.by_ref() {
            let start = out.len();
            out.extend(self.send_batch(part, deadline).await);
            let failed = out
                .get(start..)
                .is_some_and(|r| r.iter().any(Result::is_err));
            if failed || Instant::now() >= deadline {
                break;
            }
        }
        let unsent = if Instant::now() >= deadline {
            Error::with_message(ErrorKind::Busy, "pipeline deadline passed before this part")
        } else {
            Error::with_message(
                ErrorKind::ConnectionNotSent,
                "an earlier part of the pipeline failed",
            )
        };
        for part in parts {
            out.extend(part.iter().map(|_| Err(unsent.clone())));
        }
        out
    }

    /// The configured `host:port`.
    pub fn addr(&self) -> &str {
        &self.shared().config.addr
    }

    /// Commands accepted and not yet finished with (queued, written, or awaiting a reply that a
    /// timed-out caller no longer wants), plus slots a waiting batch has collected but not yet used.
    /// Returns to zero when the connection is idle.
    pub fn in_flight(&self) -> usize {
        self.shared().slots.outstanding()
    }

    /// True while the connection is up (not reconnecting, not closed).
    pub fn is_connected(&self) -> bool {
        self.shared().phase() == conn::UP
    }

    /// A snapshot of the connection's counters.
    pub fn stats(&self) -> ConnectionStats {
        self.shared().stats.snapshot()
    }

    /// Stops accepting commands; those already accepted are written and their replies read (for at most
    /// `command_timeout`, counted from the first close), then the connection closes. Later commands
    /// fail with `Closed`, and so do those still queued when that bound passes.
    pub fn close(&self) {
        self.shared().close();
    }

    /// Closes without a grace: nothing queued is written any more (it fails `Closed`) and what is in
    /// flight fails `ConnectionIndeterminate` as soon as the writer runs. For [`Dedicated`](crate::Dedicated).
    pub(crate) fn close_now(&self) {
        self.shared().close_now();
    }

    /// The protocol negotiated on the current (or last) connection.
    pub fn protocol(&self) -> ProtocolVersion {
        self.shared().protocol()
    }

    /// The configuration this connection was made with.
    pub fn config(&self) -> &ConnectionConfig {
        &self.shared().config
    }
}

/// Batch slots kept inline while their replies are awaited: batches of up to 16 commands (one node's
/// share of a typical pipeline) allocate nothing for them.
const BATCH_SLOTS_INLINE: usize = 16;

/// The slots of a submitted batch whose replies are not awaited yet; dropping it abandons them.
struct PendingReplies<'a> {
    shared: &'a Shared,
    slots: SmallVec<[u32; BATCH_SLOTS_INLINE]>,
    /// The first slot not yet handed to a `ReplyFuture`.
    next: usize,
}

impl Drop for PendingReplies<'_> {
    fn drop(&mut self) {
        for &slot in self.slots.get(self.next..).unwrap_or_default() {
            self.shared.slots.abandon(slot);
        }
    }
}

/// Waits for one slot's reply; abandons the slot when dropped or when the deadline passes.
struct ReplyFuture<'a> {
    shared: &'a Shared,
    slot: u32,
    deadline: Instant,
    /// Skip the clock on the first poll (right after submit the deadline has not passed unless it was
    /// already in the past, which the sweep catches): the steady state then reads no clock at all.
    check_now: bool,
    done: bool,
}

impl<'a> ReplyFuture<'a> {
    fn new(shared: &'a Shared, slot: u32, deadline: Instant, check_first: bool) -> ReplyFuture<'a> {
        ReplyFuture {
            shared,
            slot,
            deadline,
            check_now: check_first,
            done: false,
        }
    }
}

impl Future for ReplyFuture<'_> {
    type Output = Reply;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Reply> {
        if self.done {
            return Poll::Ready(Err(Error::new(ErrorKind::Closed)));
        }
        let shared = self.shared;
        match shared.slots.poll_take(self.slot, cx) {
            Poll::Ready(value) => {
                self.done = true;
                Poll::Ready(value.unwrap_or_else(|| {
                    Err(Error::with_message(
                        ErrorKind::Protocol,
                        "empty response slot",
                    ))
                }))
            }
            Poll::Pending => {
                if self.check_now && Instant::now() >= self.deadline {
                    self.done = true;
                    shared.slots.abandon(self.slot);
                    shared.stats.timeouts.fetch_add(1, Ordering::Relaxed);
                    return Poll::Ready(Err(Error::new(ErrorKind::Timeout)));
                }
                self.check_now = true;
                Poll::Pending
            }
        }
    }
}

impl Drop for ReplyFuture<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.shared.slots.abandon(self.slot);
        }
    }
}

/// `connections_per_node` multiplexers to one address, used round-robin: spreads the writer/reader work
/// of a very busy node over several sockets (and cores). Same send API as [`Multiplexer`]. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Pool {
    inner: Arc<PoolInner>,
}

#[derive(Debug)]
struct PoolInner {
    conns: Box<[Multiplexer]>,
    next: AtomicUsize,
}

impl Pool {
    /// Opens `connections_per_node` (at least 1) connections to `config.addr`; fails if any fails.
    pub async fn connect(
        config: ConnectionConfig,
        connections_per_node: usize,
    ) -> Result<Pool, Error> {
        let n = connections_per_node.max(1);
        let mut conns = Vec::with_capacity(n);
        for _ in 0..n {
            conns.push(Multiplexer::connect(config.clone()).await?);
        }
        Ok(Pool::from_connections(conns))
    }

    /// A pool over existing connections (at least one is expected).
    pub fn from_connections(conns: Vec<Multiplexer>) -> Pool {
        Pool {
            inner: Arc::new(PoolInner {
                conns: conns.into_boxed_slice(),
                next: AtomicUsize::new(0),
            }),
        }
    }

    /// The next connection round-robin, preferring one that is up and has a response slot free.
    ///
    /// Each connection's slot pool is fair on its own; skipping a connection whose slots are all taken
    /// (or that has callers waiting) keeps a caller from queueing there while another connection of the
    /// pool could take its command at once.
    pub fn get(&self) -> Option<&Multiplexer> {
        let conns = &self.inner.conns;
        let n = conns.len();
        if n == 1 {
            return conns.first();
        }
        // Relaxed: only spreads load; no data is published through the counter.
        let start = self.inner.next.fetch_add(1, Ordering::Relaxed);
        let in_turn = || (0..n).filter_map(|i| conns.get(start.wrapping_add(i) % n));
        in_turn()
            .find(|c| c.is_connected() && c.shared().slots.has_free_slot())
            .or_else(|| in_turn().find(|c| c.is_connected()))
            .or_else(|| conns.get(start % n))
    }

    /// Every connection of the pool.
    pub fn connections(&self) -> &[Multiplexer] {
        &self.inner.conns
    }

    /// [`Multiplexer::send`] on the next connection.
    pub async fn send(&self, cmd: &EncodedCommand) -> Result<Frame, Error> {
        match self.get() {
            Some(c) => c.send(cmd).await,
            None => Err(Error::new(ErrorKind::Closed)),
        }
    }

    /// [`Multiplexer::send_by`] on the next connection.
    // Not an `async fn` wrapping `Multiplexer::send_by`: that layer would copy the command's future
    // once more per command. The connection is still picked at the first poll, as the wrapper did.
    pub fn send_by<'a>(
        &'a self,
        cmd: &'a EncodedCommand,
        deadline: Instant,
    ) -> impl Future<Output = Result<Frame, Error>> + 'a {
        send_one(Target::Pool(self), cmd, deadline)
    }

    /// [`Multiplexer::send_pipeline`] on the next connection (every command on that one connection).
    pub async fn send_pipeline<C: Borrow<EncodedCommand>>(
        &self,
        cmds: &[C],
        deadline: Instant,
    ) -> Vec<Result<Frame, Error>> {
        match self.get() {
            Some(c) => c.send_pipeline(cmds, deadline).await,
            None => vec![Err(Error::new(ErrorKind::Closed)); cmds.len()],
        }
    }

    /// [`Multiplexer::send_batch`] on the next connection (the whole batch on one connection).
    pub async fn send_batch<C: Borrow<EncodedCommand>>(
        &self,
        cmds: &[C],
        deadline: Instant,
    ) -> Vec<Result<Frame, Error>> {
        match self.get() {
            Some(c) => c.send_batch(cmds, deadline).await,
            None => vec![Err(Error::new(ErrorKind::Closed)); cmds.len()],
        }
    }

    /// The address of the pool's connections.
    pub fn addr(&self) -> &str {
        self.inner.conns.first().map_or("", |c| c.addr())
    }

    /// Sum of [`Multiplexer::in_flight`] over the pool.
    pub fn in_flight(&self) -> usize {
        self.inner.conns.iter().map(Multiplexer::in_flight).sum()
    }

    /// True when at least one connection is up.
    pub fn is_connected(&self) -> bool {
        self.inner.conns.iter().any(Multiplexer::is_connected)
    }

    /// Counters summed over the pool.
    pub fn stats(&self) -> ConnectionStats {
        self.inner
            .conns
            .iter()
            .map(Multiplexer::stats)
            .fold(ConnectionStats::default(), |a, b| a + b)
    }

    /// Closes every connection (see [`Multiplexer::close`]).
    pub fn close(&self) {
        for c in self.inner.conns.iter() {
            c.close();
        }
    }

    /// The protocol of the first connection.
    pub fn protocol(&self) -> ProtocolVersion {
        self.inner
            .conns
            .first()
            .map_or(ProtocolVersion::Resp2, Multiplexer::protocol)
    }
}

/// Where [`send_one`] sends: one connection, or the connection a pool picks when the send starts.
enum Target<'a> {
    Connection(&'a Multiplexer),
    Pool(&'a Pool),
}

/// The one-command path shared by [`Multiplexer::send_by`] and [`Pool::send_by`].
async fn send_one(
    target: Target<'_>,
    cmd: &EncodedCommand,
    deadline: Instant,
) -> Result<Frame, Error> {
    let conn = match target {
        Target::Connection(conn) => Some(conn),
        Target::Pool(pool) => pool.get(),
    };
    let shared = conn
        .map(Multiplexer::shared)
        .ok_or_else(|| Error::new(ErrorKind::Closed))?;
    shared.check_accepting()?;
    let slot = shared.acquire(deadline).await?;
    shared.submit(Entry::One {
        bytes: WireBytes::of(cmd.bytes()),
        slot,
    });
    ReplyFuture::new(shared, slot, deadline, false).await
}

//! The connection's tasks and the state they share: the driver (connect, set-up, writer loop, reconnect),
//! the reader loop, and the deadline sweep.
//!
//! Data path of one command: the caller takes a slot from [`SlotPool`], pushes `(bytes, slot)` on the
//! bounded submit queue and notifies the writer through [`Signal`]. The writer drains whatever is queued
//! into one buffer, hands the slot indices in order to the reader through the SPSC [`Handoff`] ring
//! *before* writing (so a reply can never arrive before its slot is known), and writes the buffer in one
//! syscall. The reader decodes every complete reply in its buffer and completes the slots in FIFO order.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::task::spawn_background;
use bytes::{Bytes, BytesMut};
use resp_codec::{DecodeLimits, Decoder, EncodedCommand, Frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::Instant;

use crate::atomic_waker::AtomicWaker;
use crate::config::{
    ConnectionConfig, MAX_SLOTS, MIN_REPLY_BYTES, Protocol, ProtocolVersion, SilenceHook,
};
use crate::error::{Error, ErrorKind};
use crate::group::ConnectionGroup;
use crate::handoff::Handoff;
use crate::loom::{Arc, AtomicBool, AtomicU64, AtomicUsize, BoundedQueue, Ordering};
use crate::signal::Signal;
use crate::slot::{SlotPool, Turn};
use crate::stats::Counters;

/// What a slot delivers to its caller.
pub(crate) type Reply = Result<Frame, Error>;

/// The read buffer grows in 64 KiB steps: one read then takes up to a few thousand small replies
/// (1024 concurrent `GET`s answered at once are about 10-20 KiB), and since replies are zero-copy
/// slices of this buffer, a fresh 64 KiB block is allocated only after the previous one is used up
/// (one allocation per many replies, not per reply). The price: a reply kept alive keeps its block
/// alive, which `slotmux::Value`'s documentation tells users who keep values for long.
const READ_BUFFER: usize = 64 * 1024;
/// Below this much spare room the reader reserves a fresh block before reading, so a read never
/// fetches just a few bytes of a large burst.
const READ_MIN_SPARE: usize = 4 * 1024;
/// At most this many commands per write, even if they are small and more are queued: fred forces a
/// flush after 200 frames; 512 lets 1024 concurrent tasks share two syscalls while bounding how long
/// the first command of a batch waits for the write.
const MAX_WRITE_BATCH_COMMANDS: usize = 512;

/// The furthest a deadline lies ahead: about 30 years, tokio's own "never" for a sleep. Timeouts
/// come from the configuration or the caller, and `Duration::MAX` is a natural "wait forever" (a
/// `BLPOP k 0`), but an `Instant` plus a `Duration` panics on overflow; no connection lives long
/// enough to tell 30 years from forever.
const FAR_FUTURE: Duration = Duration::from_secs(30 * 365 * 24 * 60 * 60);

/// `now + timeout`, for every deadline made from a configured or caller-given duration: capped at
/// about 30 years, tokio's own "never", so that no setting can make the addition panic
/// (`Instant + Duration` does on overflow, and `Duration::MAX` is a natural "wait forever"). Public so
/// that the layers above build their deadlines the same way.
#[inline]
pub fn deadline_after(now: Instant, timeout: Duration) -> Instant {
    // `unwrap_or(now)` is unreachable in practice: the monotonic clock would have to be within 30
    // years of the end of its range.
    now.checked_add(timeout.min(FAR_FUTURE)).unwrap_or(now)
}

/// Whole microseconds of `d`, the unit of the slot pool's clock; `u64::MAX` (never) when `d` does not
/// fit, rather than the wrapped-around value of an `as` cast.
#[inline]
fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Connection phases (one atomic so the submit path checks them with a single load).
pub(crate) const UP: usize = 0;
pub(crate) const DOWN: usize = 1;
pub(crate) const CLOSING: usize = 2;
pub(crate) const CLOSED: usize = 3;

/// One unit of the submit queue: a command, or a batch that must be written back to back.
pub(crate) enum Entry {
    One {
        bytes: WireBytes,
        slot: u32,
    },
    /// The commands' wire bytes back to back in one buffer (one allocation per batch, not a
    /// reference-counted clone per command) and their slots in the same order.
    Batch {
        bytes: Bytes,
        slots: Box<[u32]>,
    },
}

impl Entry {
    fn slots(&self) -> impl Iterator<Item = u32> + '_ {
        let (one, many) = match self {
            Entry::One { slot, .. } => (Some(*slot), &[][..]),
            Entry::Batch { slots, .. } => (None, &slots[..]),
        };
        one.into_iter().chain(many.iter().copied())
    }
}

/// Commands up to this many bytes are copied into their submit-queue entry. 62 bytes hold a GET,
/// INCR or EXPIRE with a key of up to about 35 bytes (`*2\r\n$3\r\nGET\r\n$35\r\n...\r\n`), the
/// common case, and keep an entry at 72 bytes (the queue has one per slot, 2048 by default: 144 KiB).
/// A clone of the caller's `Bytes` instead costs an allocation (the first clone of an encoder's buffer
/// allocates its shared header) and reference-count updates on a cache line both threads touch.
const INLINE_COMMAND_BYTES: usize = 62;

/// A command's wire bytes as the submit queue holds them.
pub(crate) enum WireBytes {
    /// Copied into the entry.
    Inline {
        len: u8,
        data: [u8; INLINE_COMMAND_BYTES],
    },
    /// A reference to the caller's buffer, for bigger commands.
    Shared(Bytes),
}

impl WireBytes {
    /// Inline when small enough, else a reference-counted clone.
    #[inline]
    pub(crate) fn of(bytes: &Bytes) -> WireBytes {
        let len = bytes.len();
        if len <= INLINE_COMMAND_BYTES {
            let mut data = [0u8; INLINE_COMMAND_BYTES];
            if let Some(dst) = data.get_mut(..len) {
                dst.copy_from_slice(bytes);
                // len <= 62 fits in a u8.
                return WireBytes::Inline {
                    len: len as u8,
                    data,
                };
            }
        }
        WireBytes::Shared(bytes.clone())
    }

    #[inline]
    fn as_slice(&self) -> &[u8] {
        match self {
            WireBytes::Inline { len, data } => data.get(..usize::from(*len)).unwrap_or_default(),
            WireBytes::Shared(bytes) => bytes,
        }
    }

    fn into_bytes(self) -> Bytes {
        match self {
            WireBytes::Inline { .. } => Bytes::copy_from_slice(self.as_slice()),
            WireBytes::Shared(bytes) => bytes,
        }
    }
}

/// State shared by the handles and the connection's tasks.
pub(crate) struct Shared {
    pub(crate) config: ConnectionConfig,
    pub(crate) slots: SlotPool<Reply>,
    submit: BoundedQueue<Entry>,
    writer_signal: Signal,
    sweeper_signal: Signal,
    /// Slot indices written (or about to be), in wire order; writer produces, reader consumes.
    handoff: Handoff,
    /// Commands written whose reply has not been read; bounds what the writer takes.
    in_flight: AtomicUsize,
    /// The writer holds its queue until `in_flight` reaches zero (see `may_write`); the reader wakes it.
    writer_held: AtomicBool,
    /// Unanswered commands of every connection of the group to this address (see `ConnectionGroup`).
    server_in_flight: Arc<AtomicUsize>,
    /// How many of this connection's unanswered commands its sweep has taken out of the group's count
    /// (see `StallWatch`); the hold adds them back when it compares the other servers with this one.
    withdrawn: AtomicUsize,
    phase: AtomicUsize,
    handles_gone: AtomicBool,
    reader_failed: AtomicBool,
    /// The close deadline has passed (or the close had no grace): the writer writes nothing more and
    /// ends the connection.
    close_expired: AtomicBool,
    /// Woken with `close_expired` set; the writer registers it only while a write waits for room in
    /// the socket, which `writer_signal` does not interrupt.
    close_waker: AtomicWaker,
    close_deadline: AtomicU64,
    /// Why the reader stopped (rare path, so a plain mutex).
    reader_error: Mutex<Option<Error>>,
    protocol: AtomicUsize,
    epoch: Instant,
    pub(crate) stats: Counters,
    rng: AtomicU64,
}

impl Shared {
    pub(crate) fn new(config: ConnectionConfig, protocol: ProtocolVersion) -> Shared {
        // The fields are public, so the setters' clamps may have been bypassed.
        let capacity = config
            .max_in_flight
            .saturating_add(config.max_queued)
            .clamp(1, MAX_SLOTS);
        let epoch = Instant::now();
        Shared {
            slots: SlotPool::in_group(capacity, config.group.clone()),
            // Never full: each entry holds at least one slot.
            submit: BoundedQueue::new(capacity),
            writer_signal: Signal::new(),
            sweeper_signal: Signal::new(),
            // Never full: each index in it is an outstanding slot.
            handoff: Handoff::new(capacity),
            in_flight: AtomicUsize::new(0),
            writer_held: AtomicBool::new(false),
            server_in_flight: config.group.server(&config.addr),
            withdrawn: AtomicUsize::new(0),
            phase: AtomicUsize::new(UP),
            handles_gone: AtomicBool::new(false),
            reader_failed: AtomicBool::new(false),
            close_expired: AtomicBool::new(false),
            close_waker: AtomicWaker::new(),
            close_deadline: AtomicU64::new(u64::MAX),
            reader_error: Mutex::new(None),
            protocol: AtomicUsize::new(protocol_code(protocol)),
            epoch,
            stats: Counters::default(),
            rng: AtomicU64::new(seed(&config.addr)),
            config,
        }
    }

    /// Microseconds since the connection's epoch: the slot pool's clock for deadlines.
    #[inline]
    pub(crate) fn ticks(&self, t: Instant) -> u64 {
        micros(t.saturating_duration_since(self.epoch))
    }

    #[inline]
    pub(crate) fn phase(&self) -> usize {
        // Relaxed: a hint for fail-fast; the queue protocol handles races with phase changes.
        self.phase.load(Ordering::Relaxed)
    }

    pub(crate) fn protocol(&self) -> ProtocolVersion {
        if self.protocol.load(Ordering::Relaxed) == 3 {
            ProtocolVersion::Resp3
        } else {
            ProtocolVersion::Resp2
        }
    }

    /// Rejects a new command early when the connection cannot take it.
    #[inline]
    pub(crate) fn check_accepting(&self) -> Result<(), Error> {
        match self.phase() {
            UP => Ok(()),
            DOWN if self.config.wait_for_reconnect => Ok(()),
            DOWN => Err(Error::with_message(
                ErrorKind::ConnectionNotSent,
                "disconnected; reconnecting",
            )),
            _ => Err(Error::new(ErrorKind::Closed)),
        }
    }

    /// Takes a slot, waiting (until `deadline`) for one when the pool is exhausted. Callers that have to
    /// wait get their slots in arrival order.
    #[inline]
    pub(crate) async fn acquire(&self, deadline: Instant) -> Result<u32, Error> {
        let ticks = self.ticks(deadline);
        if let Some(slot) = self.slots.acquire(ticks) {
            return Ok(slot);
        }
        let mut out = Vec::with_capacity(1);
        self.acquire_slow(1, deadline, ticks, &mut out).await?;
        out.first()
            .copied()
            .ok_or_else(|| Error::new(ErrorKind::Busy))
    }

    /// Takes `n` slots (all or none), waiting until `deadline`. A waiting batch collects slots as they
    /// are freed while the callers behind it wait, so it is not starved by single commands.
    pub(crate) async fn acquire_many(
        &self,
        n: usize,
        deadline: Instant,
        out: &mut Vec<u32>,
    ) -> Result<(), Error> {
        if n > self.slots.capacity() {
            return Err(Error::with_message(
                ErrorKind::Busy,
                "batch larger than the connection's slot pool (max_in_flight + max_queued)",
            ));
        }
        let ticks = self.ticks(deadline);
        if self.slots.acquire_many(n, ticks, out) {
            return Ok(());
        }
        self.acquire_slow(n, deadline, ticks, out).await
    }

    /// The overload path: every slot is taken or others already wait. Queues behind them until the
    /// slots come or the deadline passes (checked by the sweep at each tick, like a command's, and at
    /// each poll). Leaving early (error or dropped future) hands any slots collected so far to the next
    /// waiter.
    #[cold]
    async fn acquire_slow(
        &self,
        n: usize,
        deadline: Instant,
        ticks: u64,
        out: &mut Vec<u32>,
    ) -> Result<(), Error> {
        self.check_accepting()?;
        out.clear();
        let mut wait = self.slots.wait(n, ticks);
        // The sweep expires waiters (no timer per waiter, see `waiters.rs`): make sure it runs. It may
        // be parked when every slot was taken by callers that have not been written yet.
        self.sweeper_signal.notify();
        let busy = || {
            self.stats.busy.fetch_add(1, Ordering::Relaxed);
            Poll::Ready(Err(Error::new(ErrorKind::Busy)))
        };
        poll_fn(|cx| {
            // Checked first: a caller woken because the connection is closing gives its place up.
            if let Err(e) = self.check_accepting() {
                return Poll::Ready(Err(e));
            }
            match wait.poll_acquire(out, cx) {
                Poll::Ready(Turn::Served) => return Poll::Ready(Ok(())),
                Poll::Ready(Turn::Expired) => return busy(),
                Poll::Pending => {}
            }
            // Checked again now that the waker is registered: a close between the first check and
            // the registration woke nobody, and would otherwise leave this caller to its deadline.
            if let Err(e) = self.check_accepting() {
                return Poll::Ready(Err(e));
            }
            // Woken for another reason after the deadline (or it had passed on arrival): give up now
            // rather than at the sweep's next tick.
            if Instant::now() >= deadline {
                return busy();
            }
            Poll::Pending
        })
        .await
    }

    /// Queues a command for the writer.
    #[inline]
    pub(crate) fn submit(&self, entry: Entry) {
        if let Err(entry) = self.submit.push(entry) {
            // Cannot happen (the queue holds as many entries as there are slots); fail rather than hang.
            self.fail_entry(entry, &Error::new(ErrorKind::Busy));
            return;
        }
        self.writer_signal.notify();
    }

    fn fail_entry(&self, entry: Entry, error: &Error) {
        for slot in entry.slots() {
            self.slots.complete(slot, Err(error.clone()));
        }
    }

    /// Fails every queued (never written) command.
    fn fail_queue(&self, error: &Error) {
        while let Some(entry) = self.submit.pop() {
            self.fail_entry(entry, error);
        }
    }

    /// While disconnected (the writer is not running, so the driver is the queue's only consumer):
    /// frees the slots of queued commands whose callers gave up, keeping the others queued.
    fn purge_abandoned(&self) {
        for _ in 0..self.submit.len() {
            let Some(entry) = self.submit.pop() else {
                break;
            };
            if let Entry::One { slot, .. } = &entry {
                if self.slots.release_if_abandoned(*slot) {
                    continue;
                }
            }
            // Re-queued behind whatever arrived meanwhile. Only commands that were sent concurrently
            // (not awaited one after the other) can swap places, and those carry no order promise.
            if let Err(entry) = self.submit.push(entry) {
                self.fail_entry(entry, &Error::new(ErrorKind::Busy));
            }
        }
    }

    /// Begins a graceful close: no new commands; queued and in-flight ones finish (bounded by
    /// command_timeout), then the socket closes. What is still queued at the close deadline fails
    /// `Closed`, what is still unanswered `ConnectionIndeterminate`.
    pub(crate) fn close(&self) {
        self.begin_close(micros(self.config.command_timeout));
    }

    /// Closes without a grace: nothing queued is written any more (it fails `Closed`), and the writer
    /// ends the connection as soon as it runs, failing what is in flight as `ConnectionIndeterminate`.
    /// For a connection whose callers have their answer or have given up by the time it closes.
    pub(crate) fn close_now(&self) {
        // Release: the writer's acquire load sees it with everything before; set before the wakes.
        self.close_expired.store(true, Ordering::Release);
        self.begin_close(0);
        self.close_waker.wake();
    }

    fn begin_close(&self, grace: u64) {
        let deadline = self.ticks(Instant::now()).saturating_add(grace);
        // Relaxed: read by the sweep, which is woken below. The minimum, so that closing again never
        // moves the deadline later: the first close's bound is what that close promised.
        self.close_deadline.fetch_min(deadline, Ordering::Relaxed);
        let mut phase = self.phase.load(Ordering::Acquire);
        while phase == UP || phase == DOWN {
            // AcqRel: publishes close_deadline with the phase change.
            match self
                .phase
                .compare_exchange(phase, CLOSING, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(actual) => phase = actual,
            }
        }
        self.writer_signal.wake();
        self.sweeper_signal.wake();
        // Callers waiting for a slot fail with Closed now rather than when a slot or their deadline comes.
        self.slots.wake_waiters();
    }

    /// The last handle is gone: close and let the tasks end.
    pub(crate) fn handles_dropped(&self) {
        self.handles_gone.store(true, Ordering::Release);
        self.close();
    }

    fn set_phase(&self, phase: usize) {
        // Never leave CLOSING/CLOSED for UP/DOWN.
        let mut current = self.phase.load(Ordering::Acquire);
        loop {
            if current >= CLOSING && phase < CLOSING {
                return;
            }
            match self
                .phase
                .compare_exchange(current, phase, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }

    /// What the writer should do next; Pending until there is work or a state change, and while the
    /// writer holds its queue (see `may_write`).
    fn poll_writer(&self, cx: &mut Context<'_>) -> Poll<WriterWake> {
        loop {
            // Acquire: pairs with the reader's release so its recorded error is visible.
            if self.reader_failed.load(Ordering::Acquire) {
                return Poll::Ready(WriterWake::ReaderFailed);
            }
            // Past the close deadline: whatever is still queued is not written (the driver fails it
            // `Closed`), even if a reply would free the credit for it, so the close ends by its bound.
            // Acquire: pairs with the release of whoever set it.
            if self.close_expired.load(Ordering::Acquire) {
                return Poll::Ready(WriterWake::CloseDone);
            }
            let queued = !self.submit.is_empty();
            let in_flight = self.in_flight.load(Ordering::Acquire);
            if queued && in_flight < self.config.max_in_flight {
                if self.may_write(in_flight) {
                    // Relaxed: only the reader's wake decision reads it, and a stale `true` costs one
                    // spurious wake.
                    self.writer_held.store(false, Ordering::Relaxed);
                    return Poll::Ready(WriterWake::Work);
                }
                // Held: wait for this connection's replies. The submit flag is left as it is, so the
                // callers queueing meanwhile cost no wake-up each; the reader wakes the writer when it
                // has read the last reply.
                // SeqCst here and on the re-check below, with the reader's SeqCst decrement and load of
                // `writer_held` (Dekker): either the reader sees the writer held and wakes it, or the
                // writer sees the count at zero.
                self.writer_held.store(true, Ordering::SeqCst);
                self.writer_signal.register(cx);
                if self.in_flight.load(Ordering::SeqCst) == 0
                    || self.reader_failed.load(Ordering::Acquire)
                    || self.phase.load(Ordering::Acquire) >= CLOSING
                {
                    continue;
                }
                return Poll::Pending;
            }
            if self.phase.load(Ordering::Acquire) >= CLOSING && !queued && in_flight == 0 {
                return Poll::Ready(WriterWake::CloseDone);
            }
            if self.writer_signal.poll_notified(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }

    /// Whether the writer writes what is queued now, or holds it until every command it has written
    /// is answered.
    ///
    /// Why hold: each write wakes the server, and a server's cost per wake-up (epoll, read, write,
    /// waking our reader) is most of its CPU per command when writes are small. A cluster's writes are
    /// small: a burst of replies from one node wakes callers whose next commands spread over every
    /// node. Holding while the server still works on this connection's previous write makes the next
    /// write carry everything queued meanwhile. Measured with `bench-cluster` (cluster get_single, 256
    /// tasks, slotmux alone, alternating binaries): server CPU per request 1.44 -> 1.36 µs and
    /// 3-6% more requests per second.
    ///
    /// Why only while the group's other servers have at least as many commands unanswered as this
    /// one: a connection that holds leaves its server idle until the replies are read and the next
    /// write is made, and only the other servers' work fills that gap. Holding on a lone server (one
    /// server, or the node a skewed load goes to) cost 20-30% of standalone get_single's throughput
    /// in the same measurements, and 13% with two connections to one server that held in turn.
    ///
    /// Why only from `HOLD_MIN_UNANSWERED` commands up: below that the load is light, the cores are
    /// not the limit, and a held command only waits longer.
    #[inline]
    fn may_write(&self, in_flight: usize) -> bool {
        if in_flight == 0 || self.phase.load(Ordering::Relaxed) >= CLOSING {
            return true;
        }
        // Relaxed: hints, see `ConnectionGroup`.
        let server = self.server_in_flight.load(Ordering::Relaxed);
        if server < HOLD_MIN_UNANSWERED {
            return true;
        }
        // The group's count leaves out stalled connections, this one included if its own server is
        // silent; only the other servers' silence should count here.
        let withdrawn = self.withdrawn.load(Ordering::Relaxed);
        let others = (self.config.group.in_flight() + withdrawn).saturating_sub(server);
        others < server
    }

    fn next_random(&self) -> u64 {
        // xorshift64: jitter only needs to decorrelate reconnecting clients, not be unpredictable.
        let mut x = self.rng.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.store(x, Ordering::Relaxed);
        x
    }
}

fn protocol_code(protocol: ProtocolVersion) -> usize {
    match protocol {
        ProtocolVersion::Resp3 => 3,
        ProtocolVersion::Resp2 => 2,
    }
}

fn seed(addr: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in addr.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    (h ^ u64::from(nanos)) | 1
}

enum WriterWake {
    Work,
    ReaderFailed,
    CloseDone,
}

enum WriterExit {
    Failed(Error),
    Closed,
}

/// Starts the connection's tasks on an already set-up stream.
pub(crate) fn spawn(shared: Arc<Shared>, stream: TcpStream, leftover: BytesMut) {
    spawn_background(drive(shared.clone(), stream, leftover));
    spawn_background(sweep(shared));
}

/// The driver: runs the writer on a live connection, and on failure fails what was in flight,
/// reconnects with backoff and starts over. Lives until the last handle is dropped, so the submit
/// queue always has a consumer (a command queued after close is failed, never forgotten).
async fn drive(shared: Arc<Shared>, mut stream: TcpStream, mut leftover: BytesMut) {
    loop {
        shared.set_phase(UP);
        shared.sweeper_signal.wake();
        let (rd, wr) = stream.into_split();
        let reader = spawn_background(read_loop(shared.clone(), rd, leftover));
        let exit = write_loop(&shared, wr).await;
        reader.abort();
        let _ = reader.await;
        // The reader is gone (and the writer too): we are the handoff's only user now.
        let reader_error = shared
            .reader_error
            .lock()
            .map(|mut e| e.take())
            .unwrap_or(None);
        let error = match (&exit, reader_error) {
            (_, Some(e)) => e,
            (WriterExit::Failed(e), None) => e.clone(),
            (WriterExit::Closed, None) => Error::with_message(
                ErrorKind::ConnectionIndeterminate,
                "closed before the reply arrived",
            ),
        };
        let mut unanswered = shared.handoff.reader();
        while let Some(slot) = unanswered.pop() {
            shared.slots.complete(slot, Err(error.clone()));
        }
        let counted = shared.in_flight.swap(0, Ordering::AcqRel);
        shared
            .config
            .group
            .answered(&shared.server_in_flight, counted);
        shared.writer_held.store(false, Ordering::Relaxed);
        shared.reader_failed.store(false, Ordering::Release);
        if matches!(exit, WriterExit::Closed) || shared.phase() >= CLOSING {
            break;
        }
        tracing::debug!(addr = %shared.config.addr, %error, "connection lost; reconnecting");
        shared.stats.disconnects.fetch_add(1, Ordering::Relaxed);
        shared.set_phase(DOWN);
        shared.sweeper_signal.wake();
        if !shared.config.wait_for_reconnect {
            // Callers waiting for a slot fail now (check_accepting refuses while DOWN).
            shared.slots.wake_waiters();
            shared.fail_queue(&Error::with_message(
                ErrorKind::ConnectionNotSent,
                "connection lost before the command was written",
            ));
        }
        match reconnect(&shared).await {
            Some((s, rest)) => {
                stream = s;
                leftover = rest;
                shared.stats.reconnects.fetch_add(1, Ordering::Relaxed);
            }
            None => break,
        }
    }
    shared.set_phase(CLOSED);
    shared.phase.store(CLOSED, Ordering::Release);
    let closed = Error::new(ErrorKind::Closed);
    loop {
        shared.fail_queue(&closed);
        if shared.handles_gone.load(Ordering::Acquire) {
            break;
        }
        poll_fn(|cx| shared.writer_signal.poll_notified(cx)).await;
    }
    shared.fail_queue(&closed);
    shared.sweeper_signal.wake();
}

/// Reconnects with capped exponential backoff and jitter. None when closed meanwhile.
async fn reconnect(shared: &Shared) -> Option<(TcpStream, BytesMut)> {
    let config = &shared.config;
    let mut delay = Duration::ZERO;
    loop {
        if shared.phase() >= CLOSING {
            return None;
        }
        if !delay.is_zero() {
            // Full jitter in [delay/2, delay]: reconnecting clients do not arrive in lockstep.
            let half = delay / 2;
            let jitter = half.mul_f64((shared.next_random() % 1024) as f64 / 1024.0);
            let wake_at = deadline_after(Instant::now(), half.saturating_add(jitter));
            loop {
                // Wakes at least once per tick so that commands whose callers gave up while waiting
                // for the reconnect give their slots back (otherwise a long outage would fill the pool
                // with abandoned entries).
                let until = wake_at.min(deadline_after(Instant::now(), config.timeout_tick));
                tokio::select! {
                    () = tokio::time::sleep_until(until) => {}
                    () = poll_fn(|cx| shared.writer_signal.poll_notified(cx)) => {}
                }
                if shared.phase() >= CLOSING {
                    return None;
                }
                if config.wait_for_reconnect {
                    shared.purge_abandoned();
                } else {
                    shared.fail_queue(&Error::with_message(
                        ErrorKind::ConnectionNotSent,
                        "disconnected; reconnecting",
                    ));
                }
                if Instant::now() >= wake_at {
                    break;
                }
            }
        }
        // The attempt runs for up to `connect_timeout`, which may be long (or `Duration::MAX`). A
        // close meanwhile ends it at once, and a command submitted meanwhile by a caller that saw the
        // connection up fails as never sent now, not when the attempt ends (by then its deadline may
        // have passed, and a `Timeout` would say it may have run).
        let mut attempt = pin!(connect_and_setup(config));
        let attempt = loop {
            tokio::select! {
                biased;
                result = &mut attempt => break result,
                () = poll_fn(|cx| shared.writer_signal.poll_notified(cx)) => {
                    if shared.phase() >= CLOSING {
                        return None;
                    }
                    if !config.wait_for_reconnect {
                        shared.fail_queue(&Error::with_message(
                            ErrorKind::ConnectionNotSent,
                            "disconnected; reconnecting",
                        ));
                    }
                }
            }
        };
        match attempt {
            Ok((stream, protocol, leftover)) => {
                shared
                    .protocol
                    .store(protocol_code(protocol), Ordering::Relaxed);
                shared.stats.connects.fetch_add(1, Ordering::Relaxed);
                return Some((stream, leftover));
            }
            Err(error) => {
                tracing::debug!(addr = %config.addr, %error, "reconnect failed");
                delay = if delay.is_zero() {
                    config.reconnect_backoff_min
                } else {
                    delay.saturating_mul(2).min(config.reconnect_backoff_max)
                };
                if !config.wait_for_reconnect {
                    shared.fail_queue(&Error::with_message(
                        ErrorKind::ConnectionNotSent,
                        "disconnected; reconnecting",
                    ));
                }
            }
        }
    }
}

/// A writer holds its queue only while its server has at least this many commands unanswered (see
/// `Shared::may_write`). 8: at 16 tasks over three nodes (about five per server) holding from the
/// first command cost 12% of cluster get_single's throughput and raised its p50 (4 alternating
/// rounds), and with this bound that loss was gone; at 256 tasks a server has 24-80 unanswered, so the
/// bound does not change when the hold applies there.
const HOLD_MIN_UNANSWERED: usize = 8;

/// The writer loop: drains the submit queue into one buffer per write.
async fn write_loop(shared: &Shared, mut wr: OwnedWriteHalf) -> WriterExit {
    let max_bytes = shared.config.max_write_batch_bytes;
    let mut buf = BytesMut::with_capacity(max_bytes.min(1 << 20));
    loop {
        match poll_fn(|cx| shared.poll_writer(cx)).await {
            WriterWake::Work => {}
            WriterWake::ReaderFailed => {
                return WriterExit::Failed(Error::with_message(
                    ErrorKind::ConnectionIndeterminate,
                    "connection lost",
                ));
            }
            WriterWake::CloseDone => {
                let _ = wr.shutdown().await;
                return WriterExit::Closed;
            }
        }
        // The first submit of a burst wakes the writer, and the callers woken by the same reads of
        // replies are still queued on the runtime behind it. Yielding once lets them submit first, so
        // one write carries the burst instead of one command: the send syscall was about half of the
        // client's CPU in `cargo xtask profile --workload get_single` before this.
        // Only when such callers exist (woken by a reply on any connection of the group, value not
        // taken yet): a lone caller would just wait a scheduler round, which halved 1-task
        // throughput. Counting them over the group, not per connection, is what lets a cluster's
        // writers batch: the callers woken by node A's replies mostly send to nodes B and C.
        // One round, not several: more rounds (2 or 4, measured with bench-cluster) made batches
        // bigger but the first command of each wait longer, and throughput fell 5-10%.
        if shared.slots.woken_callers() > 0 {
            tokio::task::yield_now().await;
        }
        let credit = shared
            .config
            .max_in_flight
            .saturating_sub(shared.in_flight.load(Ordering::Acquire));
        let mut handoff = shared.handoff.writer();
        let mut count = 0usize;
        // A command at least as big as a whole batch is written from its own Bytes, not copied.
        let mut large: Option<Bytes> = None;
        while count < credit
            && count < MAX_WRITE_BATCH_COMMANDS
            && buf.len() < max_bytes
            && handoff.room() > 0
        {
            let Some(entry) = shared.submit.pop() else {
                break;
            };
            match entry {
                Entry::One { bytes, slot } => {
                    if shared.slots.release_if_abandoned(slot) {
                        // Its caller gave up before it was written: skip it (it never reaches the server).
                        continue;
                    }
                    handoff.push(slot);
                    count += 1;
                    if bytes.as_slice().len() >= max_bytes {
                        large = Some(bytes.into_bytes());
                        break;
                    }
                    buf.extend_from_slice(bytes.as_slice());
                }
                Entry::Batch { bytes, slots } => {
                    // A batch is never skipped in part: ASKING or MULTI without its partner would
                    // change the meaning of another caller's command.
                    if handoff.room() < slots.len() {
                        // The room was counted before this drain began; the reader may have read
                        // (and callers freed and re-taken, for this very batch) slots since.
                        handoff.refresh();
                    }
                    if handoff.room() < slots.len() {
                        // Cannot happen: every index in the ring is an outstanding slot and the ring
                        // has a place per slot. Fail the batch, unwritten, rather than lose track of it.
                        debug_assert!(false, "handoff ring full");
                        let error = Error::with_message(ErrorKind::Protocol, "handoff ring full");
                        for slot in slots.iter() {
                            shared.slots.complete(*slot, Err(error.clone()));
                        }
                        continue;
                    }
                    for slot in slots.iter() {
                        handoff.push(*slot);
                    }
                    count += slots.len();
                    if bytes.len() >= max_bytes {
                        large = Some(bytes);
                        break;
                    }
                    buf.extend_from_slice(&bytes);
                }
            }
        }
        // Published before the write: a reply can never arrive before its slot is known.
        handoff.publish();
        if count == 0 {
            continue;
        }
        // Before the write: the reader can only see replies to commands counted here. The server's
        // and the group's counts first, so the release of the connection's own add covers them: a
        // reader that sees that add and subtracts can never take them below zero.
        shared.config.group.written(&shared.server_in_flight, count);
        shared.in_flight.fetch_add(count, Ordering::AcqRel);
        // Outstanding commands exist now: make sure the deadline sweep is running.
        shared.sweeper_signal.notify();
        shared.stats.writes.fetch_add(1, Ordering::Relaxed);
        if !buf.is_empty() {
            if let Some(exit) = write_until_close(shared, &mut wr, &buf).await {
                return exit;
            }
            buf.clear();
        }
        if let Some(large) = large {
            if let Some(exit) = write_until_close(shared, &mut wr, &large).await {
                return exit;
            }
        }
        if buf.capacity() > 4 * max_bytes.max(READ_BUFFER) {
            // A huge batch grew the buffer; do not keep that memory for the connection's lifetime.
            buf = BytesMut::with_capacity(max_bytes.min(1 << 20));
        }
    }
}

/// Writes all of `bytes`; None when done, else how the writer ends: the write failed, or the close
/// deadline passed while it waited. A server that reads nothing (stopped, or stuck in a long script)
/// would otherwise hold the writer in the write, and the connection's tasks and socket with it, past
/// the bound `close` promises.
async fn write_until_close(
    shared: &Shared,
    wr: &mut OwnedWriteHalf,
    bytes: &[u8],
) -> Option<WriterExit> {
    let mut write = pin!(wr.write_all(bytes));
    poll_fn(|cx| {
        if let Poll::Ready(result) = write.as_mut().poll(cx) {
            return Poll::Ready(result.err().map(|e| {
                WriterExit::Failed(Error::with_message(
                    ErrorKind::ConnectionIndeterminate,
                    e.to_string(),
                ))
            }));
        }
        // Only once the socket is full, so a write that goes through at once costs nothing more.
        shared.close_waker.register(cx.waker());
        // Acquire, after registering: either this load sees the flag, or its setter's wake finds
        // the waker registered.
        if shared.close_expired.load(Ordering::Acquire) {
            return Poll::Ready(Some(WriterExit::Closed));
        }
        Poll::Pending
    })
    .await
}

/// The reader loop: one buffer, every complete reply decoded in a tight loop, slots completed in order.
async fn read_loop(shared: Arc<Shared>, mut rd: OwnedReadHalf, mut buf: BytesMut) {
    // The field is public, so the setter's floor may have been bypassed.
    let bound = shared.config.max_reply_bytes.max(MIN_REPLY_BYTES);
    let limits = DecodeLimits::default().max_aggregate_bytes(bound);
    let mut decoder = Decoder::with_limits(limits);
    let error = 'outer: loop {
        let mut done = 0usize;
        let mut written = shared.handoff.reader();
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => {
                    if frame.is_push() {
                        // Never matched to a caller (client tracking, keyspace notifications).
                        shared.stats.push_frames.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    let Some(slot) = written.pop() else {
                        finish_batch(&shared, done);
                        break 'outer Error::with_message(
                            ErrorKind::Protocol,
                            "reply received with no command waiting for it",
                        );
                    };
                    done += 1;
                    shared.slots.complete(slot, Ok(frame));
                }
                Ok(None) => break,
                Err(e) => {
                    finish_batch(&shared, done);
                    break 'outer Error::with_message(ErrorKind::Protocol, e.to_string());
                }
            }
        }
        finish_batch(&shared, done);
        // Decoded everything complete (including bytes left over from set-up); now read more.
        if buf.capacity() - buf.len() < READ_MIN_SPARE {
            buf.reserve(READ_BUFFER);
        }
        match rd.read_buf(&mut buf).await {
            Ok(0) => {
                break Error::with_message(
                    ErrorKind::ConnectionIndeterminate,
                    "server closed the connection",
                );
            }
            Ok(_) => {
                shared.stats.reads.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => break Error::with_message(ErrorKind::ConnectionIndeterminate, e.to_string()),
        }
    };
    if error.kind() == ErrorKind::Protocol {
        shared.stats.protocol_errors.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(addr = %shared.config.addr, %error, "protocol error; resetting connection");
    }
    if let Ok(mut slot) = shared.reader_error.lock() {
        *slot = Some(error);
    }
    // Release: the writer's acquire load sees the recorded error.
    shared.reader_failed.store(true, Ordering::Release);
    shared.writer_signal.wake();
}

#[inline]
fn finish_batch(shared: &Shared, done: usize) {
    if done == 0 {
        return;
    }
    shared
        .stats
        .replies
        .fetch_add(done as u64, Ordering::Relaxed);
    // SeqCst: the writer's acquire load of in_flight sees the credit returned; for the pairing with
    // `writer_held`, see the hold in `poll_writer`.
    let before = shared.in_flight.fetch_sub(done, Ordering::SeqCst);
    shared.config.group.answered(&shared.server_in_flight, done);
    if before >= shared.config.max_in_flight || shared.phase() >= CLOSING {
        // The writer may be waiting for credit (or for in-flight to drain on close).
        shared.writer_signal.notify();
    } else if before == done && shared.writer_held.load(Ordering::SeqCst) {
        // The writer holds its queue for these replies. `wake`, not `notify`: a held writer leaves
        // the submit flag set, and `notify` wakes nobody then.
        shared.writer_signal.wake();
    }
}

/// The deadline sweep: while commands are outstanding or callers wait for a slot, wakes every caller
/// whose deadline has passed once per tick. One timer per connection instead of one per command
/// (fred measured ~30% CPU in tokio's timer wheel with a timer per command).
///
/// It also watches for a server that stopped answering (see [`StallWatch`]), and wakes a held writer
/// once per tick so it re-checks the hold against the group's counts, which other connections' sweeps
/// may have changed meanwhile.
async fn sweep(shared: Arc<Shared>) {
    let tick = shared.config.timeout_tick;
    let mut stall = StallWatch::new(
        shared.config.group.clone(),
        &shared.withdrawn,
        shared.config.on_silence.clone(),
    );
    loop {
        let phase = shared.phase();
        // Ends only after the driver has finished (CLOSED): until then a close may still need the
        // close deadline enforced, or commands their deadlines.
        if phase == CLOSED && shared.handles_gone.load(Ordering::Acquire) {
            return;
        }
        if (phase == UP || phase == CLOSED)
            && shared.slots.outstanding() == 0
            && !shared.slots.has_waiters()
        {
            stall.observe(progress(&shared), 0, 0, false, Instant::now());
            // Idle: park until the writer writes again or the phase changes.
            poll_fn(|cx| shared.sweeper_signal.poll_notified(cx)).await;
            continue;
        }
        tokio::time::sleep(tick).await;
        let now = Instant::now();
        // Relaxed: hints, see `ConnectionGroup`.
        stall.observe(
            progress(&shared),
            shared.in_flight.load(Ordering::Relaxed),
            demand(&shared),
            shared.slots.has_waiters(),
            now,
        );
        if shared.writer_held.load(Ordering::Relaxed) {
            shared.writer_signal.wake();
        }
        let now = shared.ticks(now);
        shared.slots.wake_expired(now);
        shared.slots.expire_waiters(now);
        if shared.phase() == CLOSING
            && now >= shared.close_deadline.load(Ordering::Relaxed)
            && !shared.close_expired.swap(true, Ordering::AcqRel)
        {
            // The writer waits either for work or in a write the server does not read.
            shared.writer_signal.wake();
            shared.close_waker.wake();
        }
    }
}

/// What counts as a sign of life for [`StallWatch`]: replies, and disconnects (a reset answers every
/// command it had in flight, and a reconnect starts over).
fn progress(shared: &Shared) -> u64 {
    // Relaxed: hints, see `ConnectionGroup`.
    shared.stats.replies.load(Ordering::Relaxed) + shared.stats.disconnects.load(Ordering::Relaxed)
}

/// What counts as callers still wanting this connection, for [`StallWatch`]'s repeated reports: writes,
/// and callers that gave up waiting for a response slot (`Busy`). Once a silent server holds
/// `max_in_flight` commands nothing more is written, but callers keep coming.
fn demand(shared: &Shared) -> u64 {
    shared.stats.writes.load(Ordering::Relaxed) + shared.stats.busy.load(Ordering::Relaxed)
}

/// Takes a connection's unanswered commands out of its group's count while its server answers
/// nothing, and puts them back when it answers again (see `ConnectionGroup::withdraw`).
///
/// A server counts as stalled when it had commands unanswered at two ticks in a row and sent no reply
/// between: one tick (10 ms by default) with nothing answered, against replies every few hundred
/// microseconds under the loads the hold is for. A wrong guess (one reply bigger than a tick's reading,
/// a reader starved for a tick, the first tick after a reconnect) only makes the other writers
/// pipeline as they would without the hold, for about a tick.
///
/// It also calls the connection's [`SilenceHook`] once a stall has lasted the hook's `after`, counted
/// from the first tick that saw the stall (about a tick after the last reply), and again after each
/// further `after` in which callers still wanted the silent server (see [`demand`], or callers waiting
/// for a response slot at the tick): once they send elsewhere (a cluster client that found the node's
/// successor), more calls would tell nothing new.
struct StallWatch<'a> {
    group: ConnectionGroup,
    /// What is withdrawn now, for the writer's hold (`Shared::withdrawn`); only the watch writes it.
    withdrawn: &'a AtomicUsize,
    replies: u64,
    unanswered: usize,
    on_silence: Option<SilenceHook>,
    /// Whether the last tick saw a stall.
    stalled: bool,
    /// During a stall, when the hook is next due (`None`: never, the delay does not fit an `Instant`).
    next_report: Option<Instant>,
    /// The connection's [`demand`] when the hook was last due (`None`: not yet due in this stall).
    demand_when_due: Option<u64>,
}

impl StallWatch<'_> {
    fn new(
        group: ConnectionGroup,
        withdrawn: &AtomicUsize,
        on_silence: Option<SilenceHook>,
    ) -> StallWatch<'_> {
        StallWatch {
            group,
            withdrawn,
            replies: 0,
            unanswered: 0,
            on_silence,
            stalled: false,
            next_report: None,
            demand_when_due: None,
        }
    }

    /// One tick's reading at `now`: the connection's signs of life (see [`progress`]), its unanswered
    /// commands, its [`demand`] counter and whether callers wait for a response slot.
    fn observe(
        &mut self,
        replies: u64,
        unanswered: usize,
        demand: u64,
        waiting: bool,
        now: Instant,
    ) {
        let stalled = unanswered > 0 && self.unanswered > 0 && replies == self.replies;
        self.set(if stalled { unanswered } else { 0 });
        self.replies = replies;
        self.unanswered = unanswered;
        if let Some(hook) = &self.on_silence {
            if !stalled {
                self.stalled = false;
            } else if !self.stalled {
                self.stalled = true;
                self.next_report = now.checked_add(hook.after());
                self.demand_when_due = None;
            } else if self.next_report.is_some_and(|due| now >= due) {
                if waiting || self.demand_when_due != Some(demand) {
                    // The sweep task must survive a panicking hook: it enforces every deadline.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook.call()));
                }
                self.demand_when_due = Some(demand);
                self.next_report = now.checked_add(hook.after());
            }
        }
    }

    fn set(&self, withdrawn: usize) {
        // Relaxed: the watch is the only writer, and the writer reads it as a hint.
        let before = self.withdrawn.swap(withdrawn, Ordering::Relaxed);
        if withdrawn > before {
            self.group.withdraw(withdrawn - before);
        } else if withdrawn < before {
            self.group.restore(before - withdrawn);
        }
    }
}

impl Drop for StallWatch<'_> {
    fn drop(&mut self) {
        // The sweep task ends (or its runtime shuts down): the group must not keep the withdrawal.
        self.set(0);
    }
}

/// Connects and runs the set-up commands. Returns the stream, the negotiated protocol and any bytes
/// read past the last set-up reply.
pub(crate) async fn connect_and_setup(
    config: &ConnectionConfig,
) -> Result<(TcpStream, ProtocolVersion, BytesMut), Error> {
    match tokio::time::timeout(config.connect_timeout, connect_inner(config)).await {
        Ok(result) => result,
        Err(_) => Err(Error::with_message(
            ErrorKind::Connect,
            format!("connect to {} timed out", config.addr),
        )),
    }
}

/// Socket options for a new connection. Failures are ignored: each option only speeds up or detects
/// something sooner, and a connection without it still works.
fn configure_socket(stream: &TcpStream, config: &ConnectionConfig) {
    // Commands are already batched by the writer; Nagle would only add latency.
    let _ = stream.set_nodelay(true);
    if let Some(idle) = config.tcp_keepalive {
        let socket = socket2::SockRef::from(stream);
        let probes = socket2::TcpKeepalive::new()
            .with_time(idle)
            .with_interval((idle / 3).max(Duration::from_secs(1)))
            .with_retries(3);
        let _ = socket.set_tcp_keepalive(&probes);
        #[cfg(target_os = "linux")]
        let _ = socket.set_tcp_user_timeout(Some(idle.saturating_mul(2)));
    }
}

async fn connect_inner(
    config: &ConnectionConfig,
) -> Result<(TcpStream, ProtocolVersion, BytesMut), Error> {
    let stream = TcpStream::connect(config.addr.as_str())
        .await
        .map_err(|e| Error::with_message(ErrorKind::Connect, format!("{}: {e}", config.addr)))?;
    configure_socket(&stream, config);
    let mut io = SetupIo {
        stream,
        buf: BytesMut::with_capacity(4096),
        decoder: Decoder::new(),
    };
    let mut protocol = ProtocolVersion::Resp2;
    let user = config.username.as_deref().unwrap_or("default");
    if config.protocol == Protocol::Resp3WithFallback {
        let mut args: Vec<&[u8]> = vec![b"HELLO", b"3"];
        if let Some(password) = &config.password {
            args.extend([b"AUTH".as_slice(), user.as_bytes(), password.as_bytes()]);
        }
        if let Some(name) = &config.client_name {
            args.extend([b"SETNAME".as_slice(), name.as_bytes()]);
        }
        let reply = io.call(&args).await?;
        match error_text(&reply) {
            None => protocol = ProtocolVersion::Resp3,
            Some(text) if hello_unsupported(&text) => {
                tracing::debug!(addr = %config.addr, %text, "HELLO 3 rejected; falling back to RESP2");
            }
            Some(text) => return Err(Error::with_message(ErrorKind::Setup, text)),
        }
    }
    if protocol == ProtocolVersion::Resp2 {
        if let Some(password) = &config.password {
            let reply = match &config.username {
                Some(user) => {
                    io.call(&[b"AUTH", user.as_bytes(), password.as_bytes()])
                        .await?
                }
                None => io.call(&[b"AUTH", password.as_bytes()]).await?,
            };
            setup_ok(&reply)?;
        }
        if let Some(name) = &config.client_name {
            setup_ok(&io.call(&[b"CLIENT", b"SETNAME", name.as_bytes()]).await?)?;
        }
    }
    if config.database != 0 {
        let db = config.database.to_string();
        setup_ok(&io.call(&[b"SELECT", db.as_bytes()]).await?)?;
    }
    if config.readonly {
        setup_ok(&io.call(&[b"READONLY"]).await?)?;
    }
    Ok((io.stream, protocol, io.buf))
}

fn hello_unsupported(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    text.starts_with("NOPROTO") || lower.contains("unknown command")
}

fn error_text(frame: &Frame) -> Option<String> {
    match frame {
        Frame::SimpleError(text) | Frame::BulkError(text) => {
            Some(String::from_utf8_lossy(text).into_owned())
        }
        _ => None,
    }
}

fn setup_ok(frame: &Frame) -> Result<(), Error> {
    match error_text(frame) {
        Some(text) => Err(Error::with_message(ErrorKind::Setup, text)),
        None => Ok(()),
    }
}

/// Plain request/response IO used only during set-up, before the connection is split.
struct SetupIo {
    stream: TcpStream,
    buf: BytesMut,
    decoder: Decoder,
}

impl SetupIo {
    async fn call(&mut self, args: &[&[u8]]) -> Result<Frame, Error> {
        let command = EncodedCommand::from_args(args.iter());
        self.stream
            .write_all(command.bytes())
            .await
            .map_err(|e| Error::with_message(ErrorKind::Connect, e.to_string()))?;
        loop {
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(frame)) if frame.is_push() => continue,
                Ok(Some(frame)) => return Ok(frame),
                Ok(None) => {}
                Err(e) => return Err(Error::with_message(ErrorKind::Protocol, e.to_string())),
            }
            match self.stream.read_buf(&mut self.buf).await {
                Ok(0) => {
                    return Err(Error::with_message(
                        ErrorKind::Connect,
                        "server closed the connection during set-up",
                    ));
                }
                Ok(_) => {}
                Err(e) => return Err(Error::with_message(ErrorKind::Connect, e.to_string())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection's unanswered commands leave the group's count after a tick with none answered, and
    /// come back with the next reply, a reset or an idle connection; nothing stays withdrawn after the
    /// watch ends.
    #[test]
    fn stall_watch_withdraws_a_silent_connection_and_restores_it() {
        // Per tick: the connection's reply counter and unanswered commands, and how many of those
        // the group should not count. Another connection of the group has 10 unanswered throughout.
        let ticks: [(u64, usize, usize); 10] = [
            (100, 20, 0),  // first reading: no earlier tick to compare with
            (100, 20, 20), // nothing answered for a tick
            (100, 25, 25), // still silent, more written: the withdrawal follows
            (101, 24, 0),  // a reply
            (101, 24, 24), // silent again
            (101, 0, 0),   // a reset answered everything
            (101, 3, 0),
            (101, 3, 3),
            (101, 0, 0), // idle
            (101, 5, 0),
        ];
        let group = ConnectionGroup::new();
        group.written(&group.server("b"), 10);
        let server = group.server("a");
        let published = AtomicUsize::new(0);
        let mut watch = StallWatch::new(group.clone(), &published, None);
        let mut counted = 0;
        for (i, (replies, unanswered, withdrawn)) in ticks.into_iter().enumerate() {
            // The connection's writes and replies since the last tick, as its writer and reader count them.
            if unanswered > counted {
                group.written(&server, unanswered - counted);
            } else {
                group.answered(&server, counted - unanswered);
            }
            counted = unanswered;
            watch.observe(replies, unanswered, 0, false, Instant::now());
            assert_eq!(group.in_flight(), 10 + unanswered - withdrawn, "tick {i}");
            assert_eq!(published.load(Ordering::Relaxed), withdrawn, "tick {i}");
        }
        watch.observe(101, 5, 0, false, Instant::now());
        assert_eq!(group.in_flight(), 10);
        drop(watch);
        assert_eq!(group.in_flight(), 15);
        assert_eq!(published.load(Ordering::Relaxed), 0);
    }

    /// The socket options a connection gets: keepalive probes and the unacknowledged-data bound from
    /// `tcp_keepalive`, nothing of either when it is None.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn sockets_get_keepalive_and_a_user_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        for (idle, expected) in [
            (
                Some(Duration::from_secs(15)),
                Some((15, 5, Duration::from_secs(30))),
            ),
            (
                Some(Duration::from_secs(2)),
                Some((2, 1, Duration::from_secs(4))),
            ),
            (None, None),
        ] {
            let stream = TcpStream::connect(addr).await.unwrap();
            configure_socket(&stream, &ConnectionConfig::new("").tcp_keepalive(idle));
            let socket = socket2::SockRef::from(&stream);
            assert!(socket.tcp_nodelay().unwrap());
            assert_eq!(socket.keepalive().unwrap(), expected.is_some(), "{idle:?}");
            if let Some((time, interval, user_timeout)) = expected {
                assert_eq!(socket.tcp_keepalive_time().unwrap().as_secs(), time);
                assert_eq!(socket.tcp_keepalive_interval().unwrap().as_secs(), interval);
                assert_eq!(socket.tcp_keepalive_retries().unwrap(), 3);
                assert_eq!(socket.tcp_user_timeout().unwrap(), Some(user_timeout));
            } else {
                assert_eq!(socket.tcp_user_timeout().unwrap(), None);
            }
        }
    }

    /// The silence hook's schedule: due `after` from the first tick that saw the stall, then every
    /// `after` in which callers still wanted the connection; reset by a reply or a reconnect (both count as progress);
    /// never with `Duration::MAX`; a panicking hook does not end the watch.
    #[test]
    fn stall_watch_reports_silence_on_schedule() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        // (time in ms, progress counter, unanswered, demand, callers waiting for a slot); the stall
        // starts at the tick at 10 ms.
        let ticks: [(u64, u64, usize, u64, bool); 14] = [
            (0, 7, 3, 1, false),
            (10, 7, 3, 1, false),  // stalled: reports due at 110
            (100, 7, 3, 2, false), // not yet
            (110, 7, 3, 2, false), // report 1, next due at 210
            (200, 7, 3, 2, false),
            (215, 7, 4, 3, false), // written since: report 2, next due at 315
            (315, 7, 4, 3, false), // nothing written since 215: no report, next due at 415
            (415, 7, 4, 3, true),  // nothing written, but callers wait for a slot: report 3
            (515, 7, 5, 4, false), // written again (or a caller gave up with Busy): report 4
            (600, 8, 5, 4, false), // a reply (or a reconnect): the stall is over
            (610, 8, 5, 4, false), // a new stall: due at 710
            (709, 8, 5, 4, false),
            (710, 8, 5, 4, false), // report 5: the first of a stall needs no new demand
            (810, 8, 5, 4, false),
        ];
        for (after, expected) in [
            (Duration::from_millis(100), vec![110, 215, 415, 515, 710]),
            (Duration::MAX, vec![]),
        ] {
            let calls: Arc<std::sync::Mutex<Vec<u64>>> = Arc::default();
            let now = Arc::new(std::sync::Mutex::new(0));
            let hook = {
                let (calls, now) = (calls.clone(), now.clone());
                SilenceHook::new(after, move || {
                    let at = *now.lock().unwrap();
                    calls.lock().unwrap().push(at);
                    assert_ne!(at, 215, "a panicking hook");
                })
            };
            let withdrawn = AtomicUsize::new(0);
            let mut watch = StallWatch::new(ConnectionGroup::new(), &withdrawn, Some(hook));
            for (at, progress, unanswered, demand, waiting) in ticks {
                *now.lock().unwrap() = at;
                watch.observe(progress, unanswered, demand, waiting, ms(at));
            }
            assert_eq!(*calls.lock().unwrap(), expected, "after {after:?}");
        }
    }

    /// Regression: durations and deadlines too far out for the tick clock wrapped around when cast
    /// (a command timeout of some 585,000 years closed the connection after 0.45 s).
    #[test]
    fn far_deadlines_saturate_the_tick_clock() {
        let wraps = Duration::from_secs(u64::MAX / 1_000_000 + 1);
        let shared = Shared::new(
            ConnectionConfig::new("far").command_timeout(wraps),
            ProtocolVersion::Resp3,
        );
        for (after_epoch, ticks) in [
            (Duration::ZERO, 0),
            (Duration::from_secs(1), 1_000_000),
            (wraps, u64::MAX),
        ] {
            assert_eq!(
                shared.ticks(shared.epoch + after_epoch),
                ticks,
                "{after_epoch:?}"
            );
        }
        shared.close();
        assert_eq!(shared.close_deadline.load(Ordering::Relaxed), u64::MAX);
    }

    /// Regression: a second `close` moved the close deadline later than the first had set it.
    #[test]
    fn closing_again_keeps_the_first_close_deadline() {
        let shared = Shared::new(
            ConnectionConfig::new("twice").command_timeout(Duration::from_secs(1)),
            ProtocolVersion::Resp3,
        );
        shared.close();
        let first = shared.close_deadline.load(Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(2));
        shared.close();
        assert_eq!(shared.close_deadline.load(Ordering::Relaxed), first);
    }

    /// Regression: a pool asked for without bound (`usize::MAX`, meant as "unlimited") allocated
    /// until the process aborted; it is clamped to `MAX_SLOTS`, through the setters or the fields.
    #[test]
    fn slot_pool_is_clamped_to_max_slots() {
        let max = MAX_SLOTS;
        for (in_flight, queued, capacity) in [
            (1024, 1024, 2048),
            (0, 0, 1),
            (usize::MAX, 0, max),
            (1, usize::MAX, max),
            (usize::MAX, usize::MAX, max),
        ] {
            let set = ConnectionConfig::new("pool")
                .max_in_flight(in_flight)
                .max_queued(queued);
            let mut assigned = ConnectionConfig::new("pool");
            (assigned.max_in_flight, assigned.max_queued) = (in_flight, queued);
            for config in [set, assigned] {
                let shared = Shared::new(config, ProtocolVersion::Resp3);
                assert_eq!(shared.slots.capacity(), capacity, "{in_flight} + {queued}");
            }
        }
    }

    /// Small commands are copied into the entry, bigger ones shared; both give back the same bytes.
    #[test]
    fn wire_bytes_inline_up_to_the_limit() {
        for len in [0, 1, INLINE_COMMAND_BYTES - 1, INLINE_COMMAND_BYTES] {
            let bytes = Bytes::from(vec![b'a'; len]);
            let wire = WireBytes::of(&bytes);
            assert!(matches!(wire, WireBytes::Inline { .. }), "{len} bytes");
            assert_eq!(wire.as_slice(), &bytes[..]);
            assert_eq!(wire.into_bytes(), bytes);
        }
        let bytes = Bytes::from(vec![b'b'; INLINE_COMMAND_BYTES + 1]);
        let wire = WireBytes::of(&bytes);
        assert!(matches!(wire, WireBytes::Shared(_)));
        assert_eq!(wire.as_slice(), &bytes[..]);
        assert_eq!(wire.into_bytes(), bytes);
    }
}

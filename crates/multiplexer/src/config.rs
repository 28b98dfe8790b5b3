//! Connection settings ([`ConnectionConfig`]) and the protocol choice.

use std::sync::Arc;
use std::time::Duration;

use resp_codec::DecodeLimits;

use crate::group::ConnectionGroup;

/// The most response slots one connection takes: `max_in_flight + max_queued` is clamped to it.
///
/// 2^20: room for a pipeline of a million commands sent as one batch (a batch needs a slot per
/// command), while a setting meant as "unlimited" (`usize::MAX`) cannot ask for more memory than the
/// machine has and abort the process. Each slot costs about 180 bytes, allocated at connect (a
/// response slot, a submit-queue entry, a free-list entry and a handoff-ring entry; see
/// [`ConnectionConfig::max_queued`]'s default), so this is about 180 MiB for one connection.
pub(crate) const MAX_SLOTS: usize = 1 << 20;

/// The lowest bound [`ConnectionConfig::max_reply_bytes`] takes, whatever the setting: the replies a
/// client needs for itself travel on the same connections and must fit (`COMMAND`, about 200 KiB on
/// Redis 7; `CLUSTER SHARDS`, about 1 KiB per node, so 4 MiB covers clusters of a few thousand nodes).
pub(crate) const MIN_REPLY_BYTES: usize = 4 * 1024 * 1024;

/// Which protocol to negotiate on connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Protocol {
    /// `HELLO 3` (with AUTH and SETNAME in it); when the server rejects HELLO (`-NOPROTO`, unknown
    /// command), fall back to RESP2 with `AUTH` and `CLIENT SETNAME`.
    #[default]
    Resp3WithFallback,
    /// RESP2 only: `AUTH` and `CLIENT SETNAME`, no HELLO.
    Resp2,
}

/// The protocol a connection actually speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolVersion {
    /// RESP2.
    Resp2,
    /// RESP3.
    Resp3,
}

/// Settings of one multiplexed connection. Build with [`ConnectionConfig::new`] and the setters;
/// every field is public to read.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ConnectionConfig {
    /// `host:port` to connect to.
    pub addr: String,
    /// Bound on TCP connect plus set-up (HELLO/AUTH/SELECT/READONLY). `Duration::MAX` means none;
    /// a close still ends a reconnect's set-up at once.
    pub connect_timeout: Duration,
    /// Deadline of [`send`](crate::Multiplexer::send), counted from the call, and how long a close
    /// waits for replies. `Duration::MAX` (as any timeout here beyond about 30 years) means none.
    pub command_timeout: Duration,
    /// Commands written but not yet answered; the writer stops taking from the queue at this bound.
    pub max_in_flight: usize,
    /// Commands accepted but not yet written. In-flight + queued is the size of the response-slot pool:
    /// a caller that finds every slot taken waits for one until its deadline, then gets `Busy`.
    /// The pool holds at most 2^20 (1,048,576) slots, about 180 MiB allocated at connect; a larger
    /// sum is clamped to that.
    pub max_queued: usize,
    /// The writer flushes once this many bytes are buffered, even if more commands are queued.
    pub max_write_batch_bytes: usize,
    /// The most bytes one aggregate reply (array, map, set, push) may span. A reply that goes past it
    /// fails the connection with a `Protocol` error, as any invalid reply does, instead of filling the
    /// read buffer: a broken server or proxy could otherwise stream an endless array into the client's
    /// memory. Scalars are bounded by the protocol's own limits (512 MiB for a bulk string). At least
    /// 4 MiB: a lower value is raised to that, so the client's own replies (`COMMAND`, `CLUSTER SHARDS`)
    /// still fit.
    pub max_reply_bytes: usize,
    /// Protocol to negotiate.
    pub protocol: Protocol,
    /// ACL user name (with `password`); None means `default`.
    pub username: Option<String>,
    /// Password for AUTH; None sends no AUTH.
    pub password: Option<String>,
    /// Database selected on connect (0 sends no SELECT).
    pub database: u32,
    /// Client name set on connect.
    pub client_name: Option<String>,
    /// Send READONLY on connect (to read from cluster replicas).
    pub readonly: bool,
    /// First reconnect delay after a failed attempt (the first attempt is immediate).
    pub reconnect_backoff_min: Duration,
    /// Cap of the exponential reconnect delay.
    pub reconnect_backoff_max: Duration,
    /// While disconnected: false (default) fails commands at once with `ConnectionNotSent`;
    /// true keeps them queued until reconnect or their deadline.
    pub wait_for_reconnect: bool,
    /// Granularity of deadline enforcement: a connection with outstanding commands, or callers waiting
    /// for a response slot, checks their deadlines this often, so a timed-out caller returns within
    /// deadline + this tick. It is also how long a server may answer nothing before the writer hold
    /// stops counting it as busy (see [`ConnectionGroup`](crate::ConnectionGroup)).
    pub timeout_tick: Duration,
    /// The connections made from this configuration and its clones: their writers wait for callers
    /// woken by replies on any of them, and hold their writes while their server is busy and the
    /// group's other servers are busier (see [`ConnectionGroup`](crate::ConnectionGroup)). A clone
    /// pointed at another address counts as another server of the group.
    pub group: ConnectionGroup,
    /// How long a connection may sit idle before TCP probes its peer (`SO_KEEPALIVE`, then three
    /// probes a third of this apart), and, on Linux, how long written data may stay unacknowledged
    /// (`TCP_USER_TIMEOUT`, twice this) before the connection is failed and reconnected. None leaves
    /// the system's settings (no keepalive; about 15 minutes of retransmissions).
    ///
    /// A peer whose host went down, or that a partition cut off, sends nothing, not even a reset:
    /// without these the socket looks healthy, an idle connection finds out only at its next
    /// command, and a busy one keeps queueing commands behind unacknowledged writes for minutes
    /// (ioredis #559). A stopped but live server (SIGSTOP) still has its kernel acknowledge, so it is
    /// not mistaken for a dead one (that case is the deadlines' and [`SilenceHook`]'s) until its
    /// receive buffer is full: a server that reads nothing for twice this while the client has more
    /// to write than the buffers hold gets the connection reset, its commands failing as
    /// indeterminate, as for a dead one.
    pub tcp_keepalive: Option<Duration>,
    /// Told when this connection's server leaves commands unanswered for a while (see
    /// [`SilenceHook`]); none by default. A [`Dedicated`](crate::Dedicated) connection never calls it:
    /// a blocking command is silent by design.
    pub on_silence: Option<SilenceHook>,
}

impl ConnectionConfig {
    /// Defaults for `addr` (`host:port`).
    pub fn new(addr: impl Into<String>) -> ConnectionConfig {
        ConnectionConfig {
            addr: addr.into(),
            // Loopback and LAN connects take well under a millisecond; a second covers a slow or
            // distant server without letting a black-holed address stall start-up for long.
            connect_timeout: Duration::from_secs(1),
            command_timeout: Duration::from_secs(1),
            // glide settled on 1000 in-flight by default; 1024 keeps that order while letting 1024
            // concurrent tasks pipeline fully on one connection.
            max_in_flight: 1024,
            // Another 1024 waiting to be written: the pool is then 2048 slots, allocated at connect
            // (80-byte response slot, 80-byte submit-queue entry, 16-byte free-list entry: about 350 KiB
            // per connection), enough to absorb a burst while one batch is on the wire.
            max_queued: 1024,
            // 64 KiB is a typical socket send-buffer chunk; bigger batches add latency for the first
            // command in them without saving syscalls that matter.
            max_write_batch_bytes: 64 * 1024,
            // 1 GiB: see `resp_codec::DecodeLimits::max_aggregate_bytes` for why.
            max_reply_bytes: DecodeLimits::default().get_max_aggregate_bytes(),
            protocol: Protocol::Resp3WithFallback,
            username: None,
            password: None,
            database: 0,
            client_name: None,
            readonly: false,
            // Start fast (a server restart or CLIENT KILL is over in milliseconds), cap at 2 s so a
            // returning node is picked up quickly without hammering a dead one.
            reconnect_backoff_min: Duration::from_millis(10),
            reconnect_backoff_max: Duration::from_secs(2),
            wait_for_reconnect: false,
            // 10 ms: 1% of the default deadline, and 100 sweeps a second only while commands are outstanding.
            timeout_tick: Duration::from_millis(10),
            group: ConnectionGroup::new(),
            // Go's net.Dialer probes after 15 s; with three probes 5 s apart a vanished peer is found
            // within about 30 s of the last sign of life, busy or idle, against Redis's own
            // tcp-keepalive of 300 s on the server side.
            tcp_keepalive: Some(Duration::from_secs(15)),
            on_silence: None,
        }
    }

    /// Sets [`addr`](Self::addr).
    pub fn addr(mut self, addr: impl Into<String>) -> Self {
        self.addr = addr.into();
        self
    }
    /// Sets [`connect_timeout`](Self::connect_timeout).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }
    /// Sets [`command_timeout`](Self::command_timeout).
    pub fn command_timeout(mut self, d: Duration) -> Self {
        self.command_timeout = d;
        self
    }
    /// Sets [`max_in_flight`](Self::max_in_flight) (at least 1, at most 2^20: see
    /// [`max_queued`](Self::max_queued)).
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.clamp(1, MAX_SLOTS);
        self
    }
    /// Sets [`max_queued`](Self::max_queued) (at most 2^20; the connection clamps the sum with
    /// `max_in_flight` to that too).
    pub fn max_queued(mut self, n: usize) -> Self {
        self.max_queued = n.min(MAX_SLOTS);
        self
    }
    /// Sets [`max_write_batch_bytes`](Self::max_write_batch_bytes) (at least 1).
    pub fn max_write_batch_bytes(mut self, n: usize) -> Self {
        self.max_write_batch_bytes = n.max(1);
        self
    }
    /// Sets [`max_reply_bytes`](Self::max_reply_bytes) (at least 4 MiB).
    pub fn max_reply_bytes(mut self, n: usize) -> Self {
        self.max_reply_bytes = n.max(MIN_REPLY_BYTES);
        self
    }
    /// Sets [`protocol`](Self::protocol).
    pub fn protocol(mut self, p: Protocol) -> Self {
        self.protocol = p;
        self
    }
    /// Sets [`username`](Self::username).
    pub fn username(mut self, user: impl Into<String>) -> Self {
        self.username = Some(user.into());
        self
    }
    /// Sets [`password`](Self::password).
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }
    /// Sets [`database`](Self::database).
    pub fn database(mut self, db: u32) -> Self {
        self.database = db;
        self
    }
    /// Sets [`client_name`](Self::client_name).
    pub fn client_name(mut self, name: impl Into<String>) -> Self {
        self.client_name = Some(name.into());
        self
    }
    /// Sets [`readonly`](Self::readonly).
    pub fn readonly(mut self, readonly: bool) -> Self {
        self.readonly = readonly;
        self
    }
    /// Sets [`reconnect_backoff_min`](Self::reconnect_backoff_min).
    pub fn reconnect_backoff_min(mut self, d: Duration) -> Self {
        self.reconnect_backoff_min = d;
        self
    }
    /// Sets [`reconnect_backoff_max`](Self::reconnect_backoff_max).
    pub fn reconnect_backoff_max(mut self, d: Duration) -> Self {
        self.reconnect_backoff_max = d;
        self
    }
    /// Sets [`wait_for_reconnect`](Self::wait_for_reconnect).
    pub fn wait_for_reconnect(mut self, wait: bool) -> Self {
        self.wait_for_reconnect = wait;
        self
    }
    /// Sets [`timeout_tick`](Self::timeout_tick) (at least 1 ms).
    pub fn timeout_tick(mut self, d: Duration) -> Self {
        self.timeout_tick = d.max(Duration::from_millis(1));
        self
    }
    /// Sets [`tcp_keepalive`](Self::tcp_keepalive) (None: the system's settings; at least 1 s).
    pub fn tcp_keepalive(mut self, idle: Option<Duration>) -> Self {
        self.tcp_keepalive = idle.map(|d| d.max(Duration::from_secs(1)));
        self
    }
    /// Sets [`on_silence`](Self::on_silence).
    pub fn on_silence(mut self, hook: SilenceHook) -> Self {
        self.on_silence = Some(hook);
        self
    }
}

/// A call made when a connection's server has answered nothing for `after` while commands waited for
/// it, and again after each further `after` in which more commands were written to it, as long as
/// that lasts (once callers send elsewhere, more calls would tell nothing new).
///
/// Why: a hung server (stopped, swapping, cut off by a network partition that keeps the socket open)
/// sends no error and closes nothing, so a client learns of it only from its commands' deadlines.
/// A cluster client gives the hook a topology refresh: once the cluster has failed the node over, new
/// commands go to its successor at the next report instead of waiting out a command timeout first.
///
/// The call runs on the connection's deadline-sweep task, which checks once per
/// [`timeout_tick`](ConnectionConfig::timeout_tick): it must return quickly (set a flag, notify a task).
/// A panic in it is caught and ignored, since that task also enforces the commands' deadlines.
/// A slow command (a long script, `KEYS` over a big keyspace, `CLIENT PAUSE`) looks the same as a
/// hung server, so the hook should do something that is cheap when the guess is wrong.
#[derive(Clone)]
pub struct SilenceHook {
    after: Duration,
    call: Arc<dyn Fn() + Send + Sync>,
}

impl SilenceHook {
    /// Calls `call` after `after` of silence, and every `after` while it lasts and commands are still
    /// written; `after` is at least 1 ms, and `Duration::MAX` never calls.
    pub fn new(after: Duration, call: impl Fn() + Send + Sync + 'static) -> SilenceHook {
        SilenceHook {
            after: after.max(Duration::from_millis(1)),
            call: Arc::new(call),
        }
    }

    /// How long a server may leave commands unanswered before the call.
    pub fn after(&self) -> Duration {
        self.after
    }

    pub(crate) fn call(&self) {
        (self.call)();
    }
}

impl std::fmt::Debug for SilenceHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SilenceHook")
            .field("after", &self.after)
            .finish_non_exhaustive()
    }
}

//! One Redis connection shared by many tasks: pooled response slots, batched writes, pipelined reads.
//!
//! [`Multiplexer`] owns one TCP connection to one server (it stands on `resp-codec` for the wire format;
//! `cluster-router` and the `slotmux` facade stand on it). Any number of tasks call
//! [`Multiplexer::send`] concurrently:
//!
//! - the caller takes a response slot from a preallocated, lock-free pool (no allocation per command),
//!   queues its already-encoded command on a bounded queue, and awaits the slot; when every slot is
//!   taken, callers wait for one in arrival order (a newcomer never overtakes a waiting caller);
//! - one writer task drains everything queued into one buffer and writes it in one syscall, handing the
//!   slot indices to the reader *before* writing; while its server still works on its last write and
//!   the other servers of its [`ConnectionGroup`] have as much unanswered, it holds the queue for
//!   that write's replies, so that the next write carries more;
//! - one reader task decodes every complete reply in its buffer and completes the slots in order;
//! - one sweep per connection enforces deadlines (no timer per command).
//!
//! Connection loss resolves every command with a typed error that says whether it may have been sent
//! ([`Error::may_have_been_sent`]), and the connection reconnects in the background with backoff.
//! [`Pool`] spreads one address over several connections.
//!
//! ```no_run
//! use multiplexer::{ConnectionConfig, Multiplexer};
//! use resp_codec::{EncodedCommand, Frame};
//!
//! # async fn example() -> Result<(), multiplexer::Error> {
//! let mux = Multiplexer::connect(ConnectionConfig::new("127.0.0.1:6379")).await?;
//! let set = EncodedCommand::from_args(["SET", "greeting", "hello"]);
//! let get = EncodedCommand::from_args(["GET", "greeting"]);
//! mux.send(&set).await?;
//! assert_eq!(mux.send(&get).await?, Frame::BulkString("hello".into()));
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
// Under loom only the lock-free primitives are compiled (the tokio layer on top is not modelled).
#![cfg_attr(loom, allow(dead_code, unused_imports))]

mod atomic_waker;
mod group;
mod handoff;
mod loom;
mod signal;
mod slot;
mod waiters;

#[cfg(not(loom))]
mod config;
#[cfg(not(loom))]
mod conn;
#[cfg(not(loom))]
mod dedicated;
#[cfg(not(loom))]
mod error;
#[cfg(not(loom))]
mod mux;
#[cfg(not(loom))]
mod stats;
#[cfg(not(loom))]
mod task;

#[cfg(not(loom))]
pub use crate::{
    config::{ConnectionConfig, Protocol, ProtocolVersion, SilenceHook},
    conn::deadline_after,
    dedicated::{DEFAULT_MAX_DEDICATED, Dedicated},
    error::{Error, ErrorKind},
    group::ConnectionGroup,
    mux::{Multiplexer, Pool},
    stats::ConnectionStats,
    task::spawn_background,
};

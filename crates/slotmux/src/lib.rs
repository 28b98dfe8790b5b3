//! slotmux: a fast, dependable Redis and Redis Cluster client.
//!
//! - [`Client`] is the handle every task shares: [`Client::send`] and [`Client::query`] for any command,
//!   [`Client::pipeline`] for several at once, and typed helpers ([`Client::get`], [`Client::set`],
//!   [`Client::incr`], [`Client::hgetall`], ...) for the common ones.
//! - [`Client::transaction`] runs `MULTI`/`EXEC` as one unit on one connection, and [`Client::scan`] walks
//!   every key (of every master of a cluster) with `SCAN`.
//! - Connections are shared by every task: blocking commands (`BLPOP`, `XREAD ... BLOCK`) get a connection
//!   of their own for the call, and commands that would change a shared connection's state (`MULTI` outside
//!   a transaction, `WATCH`, `SELECT`, `SUBSCRIBE`) are refused with [`ErrorKind::InvalidInput`].
//! - [`Cmd`] is one command, encoded into its wire form as arguments are added ([`ToArg`]);
//!   a [`Pipeline`] holds encoded commands and can be sent again and again.
//! - [`Value`] is a reply; [`FromValue`] converts it into Rust types with a typed error on mismatch.
//! - [`Error`] is one opaque error with a [`kind`](Error::kind): timeouts, connection failures that did
//!   or did not reach the server, server error replies with their text, conversion and usage errors.
//!
//! Underneath, each server is reached through `multiplexer` connections shared by every task (a writer
//! batches whatever is queued into one write, a reader completes callers in order), and commands are
//! encoded by `resp-codec`. Against a Redis Cluster (detected at connect), `cluster-router` routes each
//! command by slot behind the same `Client`, splitting pipelines and multi-key commands per node.
//!
//! ```no_run
//! use slotmux::{Client, Cmd, Pipeline};
//!
//! # async fn run() -> slotmux::Result<()> {
//! let client = Client::connect("redis://127.0.0.1:6379").await?;
//!
//! client.set("counter", 10).await?;
//! assert_eq!(client.incr("counter").await?, 11);
//!
//! // Any command, converted to the type you ask for.
//! let len: i64 = client.query(Cmd::new("STRLEN").arg("counter")).await?;
//! assert_eq!(len, 2);
//!
//! // A pipeline: one write, one result per command.
//! let p = Pipeline::new()
//!     .cmd(Cmd::new("INCR").arg("counter"))
//!     .cmd(Cmd::new("GET").arg("counter"));
//! let replies = client.pipeline(&p).await?;
//! assert_eq!(replies.len(), 2);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod builder;
mod client;
mod cmd;
mod commands;
mod error;
mod from_value;
mod scan;
mod standalone;
mod stats;
mod url;
mod value;

pub use crate::{
    builder::{ClientBuilder, Protocol},
    client::Client,
    cmd::{ArgWriter, Cmd, Pipeline, ToArg},
    commands::SetOptions,
    error::{Error, ErrorKind, Result},
    from_value::FromValue,
    scan::Scan,
    stats::{NodeStats, Stats},
    value::Value,
};
/// Byte strings as replies hold them: cheap to clone, sliced from the connection's read buffer.
pub use bytes::Bytes;

//! Redis Cluster routing: slot lookup, redirects, retries, topology refresh and per-node pipeline splitting.
//!
//! [`Router`] sits between the `slotmux` facade above and the `multiplexer` crate below.
//! It keeps an immutable snapshot of the cluster (a `cluster_topology::Topology` plus one lazily
//! connected `multiplexer::Pool` per node) behind an `ArcSwap`, so routing a command is a table lookup
//! without a lock or an allocation.
//!
//! ```no_run
//! # async fn demo() -> Result<(), cluster_router::Error> {
//! use cluster_router::{Router, RouterConfig};
//! use resp_codec::EncodedCommand;
//!
//! let router = Router::connect(RouterConfig::new(["127.0.0.1:7000", "127.0.0.1:7001"])).await?;
//! let reply = router.send(&EncodedCommand::from_args(["INCR", "visits"]), &router.options()).await?;
//! let replies = router
//!     .pipeline(
//!         &[EncodedCommand::from_args(["GET", "a"]), EncodedCommand::from_args(["GET", "b"])],
//!         &router.options(),
//!     )
//!     .await;
//! # let _ = (reply, replies);
//! # Ok(())
//! # }
//! ```
//!
//! # Routing
//!
//! A command goes to the master of the slot of its first key (key positions from a static table, and from
//! the server's `COMMAND` reply for anything else; `EVAL`/`FCALL` keys follow `numkeys`).
//! Keyless commands go to any master, round robin. `PING`, `DBSIZE`, `FLUSHALL`, `FLUSHDB`, `KEYS`,
//! `SCRIPT LOAD|FLUSH|EXISTS` and `FUNCTION LOAD|DELETE|FLUSH` go to every master and the replies are merged.
//! `MGET`, `MSET`, `DEL`, `UNLINK`, `EXISTS` and `TOUCH` whose keys span slots are split per slot
//! (Redis 7 refuses cross-slot commands even on one node), sent back to back per node and merged in key
//! order. **A split command is not atomic**: another client may see some of its keys changed and not others,
//! and an error in one part does not undo the others.
//! With `read_from_replicas`, read-only commands go to an online replica of the slot (master when none is up).
//! Commands that change the state of the connection they run on (`MULTI`, `EXEC`, `WATCH`, `SELECT`,
//! `SUBSCRIBE`, `CLIENT REPLY`, `AUTH`, `HELLO`, `READONLY`, ...) are refused with [`ErrorKind::InvalidInput`]
//! before anything is sent: node connections are shared by every caller, and a stray `MULTI` would queue
//! everyone else's commands. Use [`Router::transaction`] for `MULTI`/`EXEC`.
//! Blocking commands (`BLPOP`, `BZPOPMIN`, `BLMOVE`, `XREAD ... BLOCK`, ...) run on a connection of
//! their own, opened for the call: on the shared connection they would hold every other caller's reply behind
//! them. Give them a deadline longer than their block timeout.
//! `WAIT` and `WAITAOF` wait for the writes sent before them on the same connection, so they run on every
//! connection of every connected master, their timeout lowered to end before the caller's deadline and
//! within the connections' command timeout (`WAIT 1 0`, "forever", would otherwise hold a shared connection
//! for good), and the reply is the smallest count: a lower bound on how many replicas (or AOFs) have every
//! write this client made before the call. In a pipeline they run after the other commands have their
//! replies.
//!
//! # Retry and re-send contract
//!
//! - `MOVED`: the slot is patched in a new snapshot, the command is re-sent to the new owner at once, and one
//!   coalesced topology refresh is requested.
//! - `ASK`: `ASKING` and the command are written back to back as one unit on the target; the slot map is unchanged.
//! - `TRYAGAIN`, `CLUSTERDOWN`, `LOADING`, `MASTERDOWN`, `READONLY`: the server refused before running the
//!   command, so any command is retried with capped, jittered backoff until its deadline
//!   (`CLUSTERDOWN` and `MASTERDOWN` also request a refresh; `READONLY` waits for a refresh first, since
//!   the node taken for a master is a replica now). If the deadline leaves no room,
//!   the refusal itself is returned as the reply.
//! - A connection failure before the command was written (the multiplexer says it was not sent) is retried
//!   on the refreshed route, whatever the command.
//! - A connection failure after the command may have been written: the command is re-sent only if it is
//!   idempotent or the caller set [`SendOptions::retry_safe`]; otherwise the call fails with
//!   [`ErrorKind::Indeterminate`]. The client never runs `INCR`, `RPUSH`, `DEL` or a script twice.
//!   Idempotent: every read-only command (per the static table or the server's `readonly` flag), `SET`
//!   without `NX` or `GET`, `SETEX`, `PSETEX`, `MSET`, `HMSET`, `LSET`, `LTRIM`, `EXPIRE`/`PEXPIRE`/`EXPIREAT`/
//!   `PEXPIREAT` without `NX`/`XX`/`GT`/`LT`, `FLUSHALL`, `FLUSHDB`, `SCRIPT LOAD|FLUSH`, `PING`.
//!   A relative `EXPIRE`/`SET EX` run twice ends as if one run had arrived a little later.
//!   `SET NX`, `DEL`, `HSET`, `SADD` and the like are not: their second run changes the reply.
//! - A timeout is never retried: the deadline is the caller's whole budget.
//! - Each command follows at most `max_redirects` redirects (default 5) and returns by its deadline.
//!
//! # Pipelines and transactions
//!
//! [`Router::pipeline`] groups commands by node (not by slot), writes each group back to back (in parts of half
//! the connection's slot pool when longer than the pool), runs the groups
//! concurrently (joined futures, no task per group) and returns replies in the caller's order. A redirect or a
//! refusal affects only the command that got it, which is retried alone. **A pipeline that spans nodes is not
//! atomic.** [`Router::transaction`] needs every key in one slot (else [`ErrorKind::CrossSlot`] before anything
//! is sent) and sends `MULTI`, the commands and `EXEC` as one unit; a transaction the server aborted because of a
//! redirect or refusal (`EXECABORT` after `-MOVED`/`-ASK`/`-TRYAGAIN` on a queued command) ran nothing and is
//! retried whole. Any other `EXECABORT` is returned with the queued command's error appended
//! ([`explain_execabort`]), since that error is the only reason the server gives.
//!
//! # Topology refresh
//!
//! One background task per router (it holds a `Weak` and ends with the last handle) refreshes the topology
//! when asked (MOVED, connection loss, refusals that hint at a failover, unknown slots), at most once per
//! `min_refresh_interval` after a `refresh_coalesce` window, and every `periodic_check` otherwise. It asks
//! log2(n)+1 random nodes for `CLUSTER SHARDS` (falling back to `CLUSTER SLOTS`), keeps the majority view and swaps
//! it in only if its fingerprint differs. Connections of nodes that left are closed after their in-flight commands.
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod command;
mod config;
mod error;
mod exec;
mod refresh;
mod retry;
mod router;
mod rules;
mod split;
mod stats;
mod wait;

pub use crate::{
    config::{RouterConfig, SendOptions},
    error::{Error, ErrorKind},
    exec::explain_execabort,
    router::{ClusterScan, Router, parse_scan_reply, scan_command},
    rules::{CommandRules, ConnectionUse},
    stats::{NodeStats, RouterStats},
    wait::send_to_every_connection,
};

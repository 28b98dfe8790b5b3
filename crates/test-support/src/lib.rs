//! Test harness: starts real `redis-server` processes, standalone and as a Redis Cluster,
//! on free loopback ports for integration tests and for `cargo xtask cluster`.
//!
//! [`Server`] is one standalone server, [`Cluster`] a cluster of [`ClusterNode`]s shaped by a [`ClusterSpec`].
//! [`shared_server`] and [`shared_cluster`] start one of each per test binary, on first use.
//! Fault injection (kill, restart, SIGSTOP, failover, slot migration) works on `&self`,
//! so a test can break a cluster it shares with nobody while holding a plain reference.
//!
//! Every server a test starts dies with the test process, however that process ends:
//! servers are forked by one long-lived thread with `PR_SET_PDEATHSIG = SIGKILL`, and killed on drop.
//! `cargo xtask cluster up` uses [`Cluster::start_detached`] instead, and `cluster down` [`Cluster::stop_detached`].
//!
//! The harness talks to servers with its own tiny RESP2 client ([`Conn`], [`Reply`]),
//! never with the crates under test, so a bug in them cannot hide a bug in a test's setup.
//!
//! Set `TEST_SUPPORT_TRACE=1` to see each step of cluster creation with its timing.
//!
//! ```no_run
//! let cluster = test_support::shared_cluster();
//! let seeds = cluster.seed_urls(); // hand these to the client under test
//! assert_eq!(seeds.len(), 6);
//! let owner = cluster.slot_owner(12182)?; // the master that holds "foo"
//! assert!(cluster.node(owner).port() > 0);
//! # Ok::<(), anyhow::Error>(())
//! ```
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod binary;
mod cluster;
mod ports;
mod resp;
mod server;
mod shared;
mod spawner;

pub use crate::{
    binary::{INSTALL_COMMAND, redis_cli_binary, redis_server_binary},
    cluster::{Cluster, ClusterNode, ClusterSpec, Role},
    resp::{Conn, Reply},
    server::Server,
    shared::{shared_cluster, shared_server},
};

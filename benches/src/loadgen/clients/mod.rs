//! The clients under test behind one small trait, so every client runs the same driver on the same requests.

mod fred_client;
mod redis_rs;
mod slotmux_client;

use super::workload::Request;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::future::Future;

pub(super) use fred_client::FredClient;
pub(super) use redis_rs::{RedisCluster, RedisStandalone};
pub(super) use slotmux_client::SlotmuxClient;

/// Why a request failed; counted per kind in the results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrKind {
    /// The client's own deadline passed.
    Timeout,
    /// The connection failed or closed.
    Connection,
    /// The server answered with an error reply.
    Server,
    /// A reply of the wrong shape (for example a GET of a pre-set key that came back nil).
    Unexpected,
    /// The request was still running when the cell's grace period ended; its task was aborted.
    Hung,
    /// Anything else the client reported.
    Other,
}

impl ErrKind {
    /// The snake_case name used in the results.
    pub fn name(self) -> &'static str {
        match self {
            ErrKind::Timeout => "timeout",
            ErrKind::Connection => "connection",
            ErrKind::Server => "server",
            ErrKind::Unexpected => "unexpected",
            ErrKind::Hung => "hung",
            ErrKind::Other => "other",
        }
    }
}

/// A client handle as one load task holds it: each task owns a clone of the shared handle.
pub trait BenchClient: Clone + Send + Sync + 'static {
    /// Issues `req` (one command, or one pipeline) and checks the replies; returns the number of commands done.
    fn request(&mut self, req: &Request) -> impl Future<Output = Result<usize, ErrKind>> + Send;
}

/// Which library, as named in the results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ClientKind {
    /// This project.
    #[serde(rename = "slotmux")]
    Slotmux,
    /// redis-rs (`redis` crate v1).
    #[serde(rename = "redis-rs")]
    RedisRs,
    /// fred v10.
    #[serde(rename = "fred")]
    Fred,
}

impl ClientKind {
    /// Every client library, in the order the report lists them.
    pub const ALL: [ClientKind; 3] = [ClientKind::Slotmux, ClientKind::RedisRs, ClientKind::Fred];

    /// The name used in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            ClientKind::Slotmux => "slotmux",
            ClientKind::RedisRs => "redis-rs",
            ClientKind::Fred => "fred",
        }
    }

    /// Parses a name as printed by [`ClientKind::name`].
    pub fn parse(name: &str) -> Option<ClientKind> {
        ClientKind::ALL.into_iter().find(|c| c.name() == name)
    }

    /// How the client is driven, for the results (the same text for every run).
    pub fn usage(self, cluster: bool) -> &'static str {
        match (self, cluster) {
            (ClientKind::Slotmux, false) => {
                "slotmux::Client::builder().nodes([url]).connections_per_node(n); one Client per instance cloned into every task; \
                 single commands via get/set/send, requests of several commands via client.pipeline(&Pipeline)"
            }
            (ClientKind::Slotmux, true) => {
                "slotmux::Client::builder().nodes(seeds).connections_per_node(n); one Client per instance cloned into every task; \
                 cross-slot pipelines go out as one client.pipeline call (the client splits them per node)"
            }
            (ClientKind::RedisRs, false) => {
                "redis::Client::get_multiplexed_async_connection (n connections per instance, task i uses connection i mod n), \
                 cloned into every task; single commands via cmd().query_async, pipelines via redis::pipe().query_async"
            }
            (ClientKind::RedisRs, true) => {
                "redis::cluster::ClusterClient::get_async_connection (redis::cluster_async::ClusterConnection), cloned into every task; \
                 a request touching several slots is grouped by hash slot by the caller, one pipeline per slot group, \
                 the groups run concurrently with join_all (what its users write, as the Envoy rate-limit service does)"
            }
            (ClientKind::Fred, false) => {
                "fred::Builder::from_config(ServerConfig::new_centralized).build() (build_pool(n) when n > 1), init(), cloned into \
                 every task; single commands via get/set, requests of several commands via client.pipeline() + try_all()"
            }
            (ClientKind::Fred, true) => {
                "fred::Builder with ServerConfig::new_clustered(seeds).build() (build_pool(n) when n > 1), init(), cloned into \
                 every task; requests of several commands via client.pipeline() + try_all() (fred routes each command)"
            }
        }
    }
}

impl fmt::Display for ClientKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Checks a GET reply: pre-set keys always hold a value of the configured size.
pub(crate) fn check_value(len: Option<usize>, expected: usize) -> Result<(), ErrKind> {
    match len {
        Some(n) if n == expected => Ok(()),
        _ => Err(ErrKind::Unexpected),
    }
}

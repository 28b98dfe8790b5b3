//! Servers shared by every test of one test binary.

use std::sync::OnceLock;

use crate::cluster::{Cluster, ClusterSpec};
use crate::server::Server;

static SERVER: OnceLock<Server> = OnceLock::new();
static CLUSTER: OnceLock<Cluster> = OnceLock::new();

/// A standalone server started on first use and shared by every test of this test binary.
///
/// Statics are never dropped: the kernel kills the server when the test process exits (see the crate docs).
/// Tests sharing it must use their own keys and must not inject faults.
///
/// # Panics
/// When the server cannot start: no test that needs it can run then, and the message says why.
#[allow(
    clippy::panic,
    reason = "a test fixture that cannot start has nothing to return"
)]
pub fn shared_server() -> &'static Server {
    SERVER.get_or_init(|| {
        Server::start().unwrap_or_else(|e| panic!("test-support: cannot start redis-server: {e:#}"))
    })
}

/// A cluster of 3 masters with one replica each, started on first use and shared by every test of this test binary.
///
/// Its node timeout is 2 s rather than the 1 s of [`ClusterSpec::default`]: nothing fails over in it on purpose,
/// and the longer timeout keeps a loaded machine from failing a node over by accident.
/// Tests sharing it must use their own keys and must not inject faults; start a [`Cluster`] of your own for that.
///
/// # Panics
/// When the cluster cannot start, with the reason.
#[allow(
    clippy::panic,
    reason = "a test fixture that cannot start has nothing to return"
)]
pub fn shared_cluster() -> &'static Cluster {
    CLUSTER.get_or_init(|| {
        let spec = ClusterSpec {
            node_timeout_ms: 2000,
            ..ClusterSpec::default()
        };
        Cluster::start(spec)
            .unwrap_or_else(|e| panic!("test-support: cannot start a Redis Cluster: {e:#}"))
    })
}

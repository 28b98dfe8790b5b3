//! One cluster node as a topology reply describes it, and the small value types around it.

use std::fmt;
use std::sync::Arc;

use hash_slot::Slot;

use crate::addr::NodeAddr;

/// A node's replication role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// Serves writes for the slots it owns (Valkey calls it "primary").
    Master,
    /// Replicates a master; serves reads after `READONLY`.
    Replica,
}

/// A node's health as the node we asked sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Health {
    /// Serving traffic.
    Online,
    /// Marked failed by the cluster (`fail` in Redis 7.0, `failed` in the documentation).
    Failed,
    /// Still loading its dataset: not eligible for traffic now, but may be soon.
    Loading,
    /// The reply did not say: `CLUSTER SLOTS` has no health (but leaves failed replicas out),
    /// a node added after `MOVED` has none, and a future server may send a value we do not know.
    Unknown,
}

impl Health {
    /// True unless the view knows the node cannot serve traffic (failed or loading).
    pub fn is_usable(self) -> bool {
        matches!(self, Health::Online | Health::Unknown)
    }
}

/// The position of a node in [`Topology::nodes`](crate::Topology::nodes).
///
/// An index is only meaningful for the topology that returned it and the ones derived from it
/// with [`Topology::with_slot_moved`](crate::Topology::with_slot_moved), which only appends nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeIndex(pub(crate) u16);

impl NodeIndex {
    /// The index as a `usize`, for callers that keep per-node tables (connection pools) beside the topology.
    pub fn get(self) -> usize {
        usize::from(self.0)
    }
}

impl fmt::Display for NodeIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// An inclusive range of slots, `start..=end`, as both topology commands report them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotRange {
    start: Slot,
    end: Slot,
}

impl SlotRange {
    /// The range `start..=end`, or `None` when `start > end`.
    pub fn new(start: Slot, end: Slot) -> Option<SlotRange> {
        (start <= end).then_some(SlotRange { start, end })
    }

    /// The first slot of the range.
    pub fn start(self) -> Slot {
        self.start
    }

    /// The last slot of the range (inclusive).
    pub fn end(self) -> Slot {
        self.end
    }

    /// The number of slots in the range, at least 1.
    pub fn len(self) -> usize {
        usize::from(self.end.get() - self.start.get()) + 1
    }

    /// Always false: a range holds at least one slot. Present because clippy expects it beside `len`.
    pub fn is_empty(self) -> bool {
        false
    }

    /// True when `slot` is inside the range.
    pub fn contains(self, slot: Slot) -> bool {
        self.start <= slot && slot <= self.end
    }
}

impl fmt::Display for SlotRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

/// One node of the cluster.
///
/// `addr` is where a client connects: the endpoint the server prefers
/// (`cluster-preferred-endpoint-type`: IP, hostname, or "unknown", meaning the host we asked).
/// The other network facts the reply gave are kept beside it for callers with other needs
/// (TLS with SNI wants the hostname, a NAT setup may want the IP).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Node {
    /// The 40-character node id; `None` for servers older than Redis 4 (`CLUSTER SLOTS` without ids)
    /// and for a node first seen in a `MOVED` reply.
    pub id: Option<Arc<str>>,
    /// The address to connect to; see [`Node::reachable`] before using it.
    pub addr: NodeAddr,
    /// False when the server gave no endpoint a client can use: the preferred endpoint type is
    /// `hostname` but the node announced none (the server sends `?`).
    /// `addr` then holds the node's IP (or the `?` placeholder when there is none either),
    /// which identifies the node but may not be reachable from the client.
    pub reachable: bool,
    /// The IP address the reply gave, if any.
    pub ip: Option<Arc<str>>,
    /// The announced hostname (`cluster-announce-hostname`), if any.
    pub hostname: Option<Arc<str>>,
    /// The plain TCP port, if the reply gave one.
    pub port: Option<u16>,
    /// The TLS port, if the reply gave one (`CLUSTER SHARDS` only; `CLUSTER SLOTS` gives one port,
    /// the TLS one when asked over TLS).
    pub tls_port: Option<u16>,
    /// Master or replica.
    pub role: Role,
    /// Health, from `CLUSTER SHARDS`; [`Health::Unknown`] from `CLUSTER SLOTS`.
    pub health: Health,
    /// The replication offset, from `CLUSTER SHARDS`: the highest offset marks the most up-to-date replica.
    pub replication_offset: Option<i64>,
    /// For a replica, the master it replicates (when the reply tells).
    pub master: Option<NodeIndex>,
}

impl Node {
    /// A node known only from its address (a `MOVED` target or a seed).
    pub(crate) fn bare(addr: NodeAddr, role: Role) -> Node {
        Node {
            id: None,
            port: Some(addr.port()),
            addr,
            reachable: true,
            ip: None,
            hostname: None,
            tls_port: None,
            role,
            health: Health::Unknown,
            replication_offset: None,
            master: None,
        }
    }
}

//! `Topology`: an immutable view of the cluster, with the 16384-entry slot table the router reads per command.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use hash_slot::Slot;

use crate::addr::NodeAddr;
use crate::error::{Error, ErrorKind};
use crate::node::{Node, NodeIndex, Role, SlotRange};

/// The table entry of a slot no node serves.
const NONE: u16 = u16::MAX;

/// The most nodes a topology holds: every `u16` except [`NONE`].
/// Real clusters stay far below it (Redis recommends at most about 1000 nodes).
const MAX_NODES: usize = NONE as usize;

/// The number of slots as an index bound.
const SLOTS: usize = Slot::COUNT as usize;

/// The slot table: entry `s` is the index of the node that serves slot `s`, or [`NONE`].
/// A boxed array of `u16` keeps it at 32 KiB, cheap to copy when `MOVED` patches one entry.
type SlotTable = Box<[u16; SLOTS]>;

/// Everything about the nodes that a `MOVED` patch usually leaves alone, so patched copies share it.
#[derive(Clone, Debug)]
struct Nodes {
    list: Vec<Node>,
    /// Per node: every replica of that node (empty for replicas).
    replicas: Vec<Vec<NodeIndex>>,
    /// Per node: the replicas whose health does not rule them out ([`crate::Health::is_usable`]).
    usable_replicas: Vec<Vec<NodeIndex>>,
    by_addr: HashMap<NodeAddr, NodeIndex>,
}

/// An immutable view of a Redis Cluster: its nodes, who replicates whom, and which node serves each slot.
///
/// Build one from a `CLUSTER SHARDS` reply ([`Topology::from_cluster_shards`], Redis 7+)
/// or a `CLUSTER SLOTS` reply ([`Topology::from_cluster_slots`]).
/// Lookups by slot read one entry of a 16384-entry table: no hashing and no lock,
/// so the router can keep the current view in an `ArcSwap` and read it on every command.
#[derive(Clone)]
pub struct Topology {
    nodes: Arc<Nodes>,
    slots: SlotTable,
    /// Per node: how many slots it serves.
    owned: Box<[u16]>,
    covered: usize,
    fingerprint: u64,
}

/// Collects nodes and slot assignments while a reply is parsed.
pub(crate) struct Builder {
    nodes: Vec<Node>,
    by_id: HashMap<Arc<str>, NodeIndex>,
    by_addr: HashMap<NodeAddr, NodeIndex>,
    slots: SlotTable,
}

impl Builder {
    pub(crate) fn new() -> Builder {
        Builder {
            nodes: Vec::new(),
            by_id: HashMap::new(),
            by_addr: HashMap::new(),
            slots: Box::new([NONE; SLOTS]),
        }
    }

    /// Adds a node, or returns the index of the node already added with the same id
    /// (or, for id-less replies from old servers, the same address):
    /// `CLUSTER SLOTS` repeats a node once per slot range.
    pub(crate) fn add_node(&mut self, node: Node) -> Result<NodeIndex, Error> {
        let existing = match &node.id {
            Some(id) => self.by_id.get(id),
            None => self.by_addr.get(&node.addr),
        };
        if let Some(&index) = existing {
            return Ok(index);
        }
        if self.nodes.len() >= MAX_NODES {
            return Err(Error::new(
                ErrorKind::TooManyNodes,
                format!("more than {MAX_NODES} nodes"),
            ));
        }
        // The bound check above keeps the length below u16::MAX.
        let index = NodeIndex(self.nodes.len() as u16);
        if let Some(id) = &node.id {
            self.by_id.insert(Arc::clone(id), index);
        }
        self.by_addr.entry(node.addr.clone()).or_insert(index);
        self.nodes.push(node);
        Ok(index)
    }

    /// Assigns `range` to `owner`; a slot already assigned to another node is an error,
    /// because a consistent view never gives one slot two owners.
    pub(crate) fn assign(&mut self, range: SlotRange, owner: NodeIndex) -> Result<(), Error> {
        let (start, end) = (range.start().index(), range.end().index());
        let Some(entries) = self.slots.get_mut(start..=end) else {
            return Err(Error::new(
                ErrorKind::InvalidSlotRange,
                format!("range {range} is outside the slot table"),
            ));
        };
        for (offset, entry) in entries.iter_mut().enumerate() {
            if *entry != NONE && *entry != owner.0 {
                return Err(Error::new(
                    ErrorKind::ConflictingSlot,
                    format!("slot {} is assigned to two nodes", start + offset),
                ));
            }
            *entry = owner.0;
        }
        Ok(())
    }

    pub(crate) fn node_mut(&mut self, index: NodeIndex) -> Option<&mut Node> {
        self.nodes.get_mut(index.get())
    }

    pub(crate) fn finish(self) -> Topology {
        let Builder {
            nodes: list, slots, ..
        } = self;
        let owned = count_owned(&slots, list.len());
        let nodes = Nodes::new(list, &owned);
        Topology::assemble(Arc::new(nodes), slots, owned)
    }
}

impl Nodes {
    fn new(list: Vec<Node>, owned: &[u16]) -> Nodes {
        let mut replicas = vec![Vec::new(); list.len()];
        let mut usable_replicas = vec![Vec::new(); list.len()];
        for (i, node) in list.iter().enumerate() {
            let index = NodeIndex(i as u16);
            if let (Role::Replica, Some(master)) = (node.role, node.master) {
                if let Some(all) = replicas.get_mut(master.get()) {
                    all.push(index);
                }
                if node.health.is_usable() {
                    if let Some(usable) = usable_replicas.get_mut(master.get()) {
                        usable.push(index);
                    }
                }
            }
        }
        // Two nodes can share an address: a node that was reset and rejoined under a new id,
        // while the others still remember the old id as failed. `find` must return the live one.
        let rank = |i: usize| {
            let node = list.get(i);
            let serves = owned.get(i).is_some_and(|&n| n > 0);
            (
                serves,
                node.is_some_and(|n| n.health.is_usable()),
                node.is_some_and(|n| n.role == Role::Master),
            )
        };
        let mut by_addr: HashMap<NodeAddr, NodeIndex> = HashMap::with_capacity(list.len());
        for (i, node) in list.iter().enumerate() {
            let index = NodeIndex(i as u16);
            by_addr
                .entry(node.addr.clone())
                .and_modify(|current| {
                    if rank(i) > rank(current.get()) {
                        *current = index;
                    }
                })
                .or_insert(index);
        }
        Nodes {
            list,
            replicas,
            usable_replicas,
            by_addr,
        }
    }
}

fn count_owned(slots: &[u16; SLOTS], node_count: usize) -> Box<[u16]> {
    let mut owned = vec![0u16; node_count];
    for &entry in slots.iter() {
        if let Some(count) = owned.get_mut(usize::from(entry)) {
            *count += 1;
        }
    }
    owned.into_boxed_slice()
}

impl Topology {
    fn assemble(nodes: Arc<Nodes>, slots: SlotTable, owned: Box<[u16]>) -> Topology {
        let covered = owned.iter().map(|&n| usize::from(n)).sum();
        let fingerprint = fingerprint_of(&nodes, &slots);
        Topology {
            nodes,
            slots,
            owned,
            covered,
            fingerprint,
        }
    }

    /// A topology with no nodes and no slot served, for a router that has not fetched one yet.
    pub fn empty() -> Topology {
        Builder::new().finish()
    }

    /// The node that serves `slot`, or `None` when the view assigns it to nobody.
    ///
    /// The node may be failed or unreachable ([`Node::health`], [`Node::reachable`]): the table says
    /// who owns the slot, and the router decides what to do when the owner is down.
    #[inline]
    pub fn master_for(&self, slot: Slot) -> Option<NodeIndex> {
        match self.slots.get(slot.index()) {
            Some(&entry) if entry != NONE => Some(NodeIndex(entry)),
            _ => None,
        }
    }

    /// The replicas of the master of `slot` that the view does not know to be failed or loading.
    ///
    /// From `CLUSTER SLOTS` these are all the listed replicas (that command leaves failed replicas out).
    pub fn replicas_for(&self, slot: Slot) -> &[NodeIndex] {
        self.master_for(slot)
            .and_then(|master| self.nodes.usable_replicas.get(master.get()))
            .map_or(&[], Vec::as_slice)
    }

    /// Every replica of the master of `slot`, whatever its health; check [`Node::health`] yourself.
    pub fn all_replicas_for(&self, slot: Slot) -> &[NodeIndex] {
        self.master_for(slot)
            .map_or(&[], |master| self.replicas_of(master))
    }

    /// Every replica of `master`, whatever its health (empty for a replica or an unknown index).
    pub fn replicas_of(&self, master: NodeIndex) -> &[NodeIndex] {
        self.nodes
            .replicas
            .get(master.get())
            .map_or(&[], Vec::as_slice)
    }

    /// The node at `index`.
    ///
    /// # Panics
    ///
    /// When `index` did not come from this topology or one it was derived from
    /// (use [`Topology::get`] when that can happen).
    pub fn node(&self, index: NodeIndex) -> &Node {
        &self.nodes.list[index.get()]
    }

    /// The node at `index`, or `None` when the index belongs to another topology.
    pub fn get(&self, index: NodeIndex) -> Option<&Node> {
        self.nodes.list.get(index.get())
    }

    /// Every node of the view, in reply order; position `i` is `NodeIndex` `i`.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes.list
    }

    /// Iterates over every node with its index.
    pub fn indexed_nodes(&self) -> impl ExactSizeIterator<Item = (NodeIndex, &Node)> + '_ {
        self.nodes
            .list
            .iter()
            .enumerate()
            .map(|(i, node)| (NodeIndex(i as u16), node))
    }

    /// The masters that serve at least one slot, in node order.
    ///
    /// A slot-less node flagged master is left out: right after a failover the old master is still listed
    /// as a master without slots until it rejoins as a replica, and it must not receive fan-out commands.
    pub fn masters(&self) -> impl Iterator<Item = NodeIndex> + '_ {
        self.indexed_nodes()
            .filter(|(i, node)| node.role == Role::Master && self.slot_count(*i) > 0)
            .map(|(i, _)| i)
    }

    /// How many slots `node` serves.
    pub fn slot_count(&self, node: NodeIndex) -> usize {
        self.owned.get(node.get()).map_or(0, |&n| usize::from(n))
    }

    /// The node with address `addr`, preferring the one that serves slots when two share an address.
    pub fn find(&self, addr: &NodeAddr) -> Option<NodeIndex> {
        self.nodes.by_addr.get(addr).copied()
    }

    /// The node with id `id`.
    pub fn find_by_id(&self, id: &str) -> Option<NodeIndex> {
        self.indexed_nodes()
            .find(|(_, node)| node.id.as_deref() == Some(id))
            .map(|(i, _)| i)
    }

    /// How many of the 16384 slots the view assigns to a node.
    pub fn covered_slots(&self) -> usize {
        self.covered
    }

    /// True when every slot has an owner, as a healthy cluster with `cluster-require-full-coverage` has.
    pub fn is_fully_covered(&self) -> bool {
        self.covered == SLOTS
    }

    /// The assigned slot ranges in slot order, each with its owner (maximal runs of one owner).
    pub fn slot_ranges(&self) -> Vec<(SlotRange, NodeIndex)> {
        runs(&self.slots)
            .filter_map(|(range, entry)| (entry != NONE).then_some((range, NodeIndex(entry))))
            .collect()
    }

    /// The slot ranges `node` serves, in slot order.
    pub fn slot_ranges_of(&self, node: NodeIndex) -> Vec<SlotRange> {
        runs(&self.slots)
            .filter_map(|(range, entry)| (entry == node.0).then_some(range))
            .collect()
    }

    /// The ranges of slots no node serves, in slot order.
    pub fn uncovered_ranges(&self) -> Vec<SlotRange> {
        runs(&self.slots)
            .filter_map(|(range, entry)| (entry == NONE).then_some(range))
            .collect()
    }

    /// A hash of the view: slot ranges with their owners' addresses, and every node's address, role and master.
    ///
    /// Two views with the same fingerprint route every slot the same way, so the periodic check can ask a few
    /// nodes and compare one `u64` per answer. Node ids, health and replication offsets are left out:
    /// offsets move with every write and health flips at different moments on different nodes,
    /// so including them would make agreeing views look different.
    /// The hash is FNV-1a, stable across processes and Rust versions. Compare views built by the same
    /// command: `CLUSTER SLOTS` omits failed replicas and slot-less masters that `CLUSTER SHARDS` lists.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// Returns a copy in which `slot` is served by `to`, as a `MOVED` reply says, without a full refresh.
    ///
    /// An address the view does not know becomes a new master (with no replicas and only this slot);
    /// a known replica is promoted to master, since only a master answers `MOVED` for its own slot, and
    /// when this view has `slot` with that replica's master, every slot of that master moves with it
    /// (only a failover makes a replica answer for its master's slots, and it moves the whole shard).
    /// The node list is shared with `self` unless a node is added or promoted; the slot table (32 KiB) is copied.
    /// `to` must have a host: resolve an empty one with [`NodeAddr::with_default_host`] first.
    /// If the view already holds the maximum number of nodes, an unknown `to` cannot be added
    /// and the slot is left unassigned, so the router refreshes instead of routing to a stale owner.
    pub fn with_slot_moved(&self, slot: Slot, to: &NodeAddr) -> Topology {
        let mut slots = self.slots.clone();
        let (nodes, target) = match self.find(to) {
            Some(index) if self.node(index).role == Role::Master => {
                (Arc::clone(&self.nodes), Some(index))
            }
            Some(index) => {
                let mut nodes = Nodes::clone(&self.nodes);
                // A replica answers for its master's slots only after a failover, and a failover moves
                // the whole shard (a migration never targets a replica): every slot of the old master
                // moves with this one. Left with the old master, they would make a fan-out count the
                // shard twice, once on each node, until the next refresh.
                // Only when our view has the slot with that master: a replica we list under another
                // master has moved since (replica migration), and its old master keeps its slots.
                let old_master = nodes.list.get(index.get()).and_then(|n| n.master);
                if let Some(old) = old_master.filter(|m| slots.get(slot.index()) == Some(&m.0)) {
                    for entry in slots.iter_mut().filter(|e| **e == old.0) {
                        *entry = index.0;
                    }
                }
                promote(&mut nodes, index);
                (Arc::new(nodes), Some(index))
            }
            None if self.nodes.list.len() < MAX_NODES => {
                let mut nodes = Nodes::clone(&self.nodes);
                let index = NodeIndex(nodes.list.len() as u16);
                nodes.list.push(Node::bare(to.clone(), Role::Master));
                nodes.replicas.push(Vec::new());
                nodes.usable_replicas.push(Vec::new());
                nodes.by_addr.insert(to.clone(), index);
                (Arc::new(nodes), Some(index))
            }
            None => (Arc::clone(&self.nodes), None),
        };
        if let Some(entry) = slots.get_mut(slot.index()) {
            *entry = target.map_or(NONE, |index| index.0);
        }
        let owned = count_owned(&slots, nodes.list.len());
        Topology::assemble(nodes, slots, owned)
    }
}

/// Makes `index` a master and takes it out of its old master's replica lists.
fn promote(nodes: &mut Nodes, index: NodeIndex) {
    let Some(node) = nodes.list.get_mut(index.get()) else {
        return;
    };
    let old_master = node.master.take();
    node.role = Role::Master;
    if let Some(old) = old_master {
        for list in [&mut nodes.replicas, &mut nodes.usable_replicas] {
            if let Some(replicas) = list.get_mut(old.get()) {
                replicas.retain(|&r| r != index);
            }
        }
    }
}

/// Maximal runs of equal table entries, as (range, entry).
fn runs(slots: &[u16; SLOTS]) -> impl Iterator<Item = (SlotRange, u16)> + '_ {
    let mut start = 0usize;
    std::iter::from_fn(move || {
        let first = *slots.get(start)?;
        let len = slots
            .get(start..)?
            .iter()
            .take_while(|&&e| e == first)
            .count();
        let end = start + len - 1;
        // Both bounds are below SLOTS, so the conversions cannot fail.
        let range = SlotRange::new(Slot::new(start as u16)?, Slot::new(end as u16)?)?;
        start = end + 1;
        Some((range, first))
    })
}

/// FNV-1a, 64 bit: tiny, and unlike `DefaultHasher` its output is specified, so fingerprints are stable.
struct Fnv(u64);

impl Fnv {
    /// The FNV-1a 64-bit offset basis and prime, from the algorithm's specification.
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(Self::PRIME);
        }
    }

    fn write_addr(&mut self, addr: &NodeAddr) {
        self.write(addr.host().as_bytes());
        // 0xff never occurs in UTF-8 text, so it ends the host unambiguously.
        self.write(&[0xff]);
        self.write(&addr.port().to_le_bytes());
    }
}

fn fingerprint_of(nodes: &Nodes, slots: &[u16; SLOTS]) -> u64 {
    let mut h = Fnv(Fnv::OFFSET);
    let addr_of = |entry: u16| nodes.list.get(usize::from(entry)).map(|n| &n.addr);
    for (range, entry) in runs(slots) {
        h.write(&range.start().get().to_le_bytes());
        h.write(&range.end().get().to_le_bytes());
        match addr_of(entry) {
            Some(addr) => h.write_addr(addr),
            None => h.write(&[0xfe]),
        }
    }
    // Replies list nodes in an order that differs from node to node, so hash them sorted.
    let mut keyed: Vec<(&NodeAddr, u8, Option<&NodeAddr>)> = nodes
        .list
        .iter()
        .map(|node| {
            let role = match node.role {
                Role::Master => 1,
                Role::Replica => 2,
            };
            (&node.addr, role, node.master.and_then(|m| addr_of(m.0)))
        })
        .collect();
    keyed.sort_unstable();
    for (addr, role, master) in keyed {
        h.write_addr(addr);
        h.write(&[role]);
        if let Some(master) = master {
            h.write_addr(master);
        }
    }
    h.0
}

/// Picks the view to trust when sampled nodes disagree.
///
/// The view reported by the most nodes (by [`Topology::fingerprint`]) wins; among equally common views,
/// the one that covers the most slots; among those, the first in `views`, so list the views in the order
/// you trust their sources. Returns `None` only for an empty slice.
///
/// Neither `CLUSTER SHARDS` nor `CLUSTER SLOTS` carries config epochs, so the client cannot tell which
/// view is newer; a majority tolerates one stale node (a just-restarted old master that still claims its
/// slots), and coverage breaks ties toward the healthy view. See "Which topology view to trust" in
/// `ARCHITECTURE.md`.
pub fn choose_view(views: &[Topology]) -> Option<&Topology> {
    let mut best: Option<(usize, usize, &Topology)> = None;
    for view in views {
        let votes = views
            .iter()
            .filter(|other| other.fingerprint == view.fingerprint)
            .count();
        let key = (votes, view.covered);
        // Strictly greater keeps the first of equals, as documented.
        if best.is_none_or(|(v, c, _)| key > (v, c)) {
            best = Some((votes, view.covered, view));
        }
    }
    best.map(|(_, _, view)| view)
}

impl Default for Topology {
    fn default() -> Topology {
        Topology::empty()
    }
}

impl fmt::Debug for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Ranges<'a>(&'a Topology);
        impl fmt::Debug for Ranges<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut list = f.debug_list();
                for (range, owner) in self.0.slot_ranges() {
                    list.entry(&format_args!("{range} -> {owner}"));
                }
                list.finish()
            }
        }
        f.debug_struct("Topology")
            .field("covered_slots", &self.covered)
            .field("fingerprint", &format_args!("{:016x}", self.fingerprint))
            .field("ranges", &Ranges(self))
            .field("nodes", &self.nodes.list)
            .finish()
    }
}

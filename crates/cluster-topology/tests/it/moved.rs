//! `Topology::with_slot_moved`: patching a view after `-MOVED` without a full refresh.

use cluster_topology::{Health, NodeAddr, Role, Topology};
use hash_slot::Slot;

use crate::captures::SHARDS_RESP3;
use crate::shards;

fn addr(s: &str) -> NodeAddr {
    NodeAddr::parse(s).unwrap()
}

fn slot(n: u16) -> Slot {
    Slot::new(n).unwrap()
}

fn owner(t: &Topology, s: u16) -> Option<String> {
    t.master_for(slot(s)).map(|m| t.node(m).addr.to_string())
}

#[test]
fn moved_to_a_known_master() {
    let before = shards(SHARDS_RESP3, "127.0.0.1");
    let after = before.with_slot_moved(slot(0), &addr("127.0.0.1:31002"));
    assert_eq!(owner(&after, 0).as_deref(), Some("127.0.0.1:31002"));
    assert_eq!(owner(&after, 1).as_deref(), Some("127.0.0.1:31001"));
    assert_eq!(
        owner(&before, 0).as_deref(),
        Some("127.0.0.1:31001"),
        "the original view is untouched"
    );
    assert_eq!(after.nodes().len(), before.nodes().len());
    assert_eq!(after.covered_slots(), 16384);
    let m2 = after.find(&addr("127.0.0.1:31002")).unwrap();
    assert_eq!(after.slot_count(m2), 5462 + 1);
    let ranges: Vec<_> = after
        .slot_ranges_of(m2)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(ranges, ["0-0", "5461-10922"]);
    // The replicas of slot 0 are now those of its new master.
    let replicas: Vec<_> = after
        .replicas_for(slot(0))
        .iter()
        .map(|&r| after.node(r).addr.port())
        .collect();
    assert_eq!(replicas, [31006]);
    assert_ne!(after.fingerprint(), before.fingerprint());
    // Moving it back restores the same view, fingerprint included.
    let back = after.with_slot_moved(slot(0), &addr("127.0.0.1:31001"));
    assert_eq!(back.fingerprint(), before.fingerprint());
}

#[test]
fn moved_to_an_unknown_node_adds_a_master() {
    let before = shards(SHARDS_RESP3, "127.0.0.1");
    let after = before.with_slot_moved(slot(16383), &addr("10.0.0.7:7000"));
    assert_eq!(after.nodes().len(), before.nodes().len() + 1);
    let new = after.master_for(slot(16383)).unwrap();
    let node = after.node(new);
    assert_eq!(
        (node.addr.to_string(), node.role, node.health),
        ("10.0.0.7:7000".into(), Role::Master, Health::Unknown)
    );
    assert_eq!(
        (node.id.clone(), node.port, node.reachable),
        (None, Some(7000), true)
    );
    assert!(after.replicas_for(slot(16383)).is_empty());
    assert_eq!(after.find(&addr("10.0.0.7:7000")), Some(new));
    assert_eq!(after.masters().count(), 4);
    // Indices of the old nodes are unchanged, so per-node tables of the router stay valid.
    for (i, node) in before.indexed_nodes() {
        assert_eq!(after.node(i), node);
    }
    // A second MOVED to the same new node reuses it.
    let again = after.with_slot_moved(slot(16382), &addr("10.0.0.7:7000"));
    assert_eq!(again.nodes().len(), after.nodes().len());
    assert_eq!(
        again
            .slot_ranges_of(new)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["16382-16383"]
    );
}

#[test]
fn moved_to_a_replica_promotes_it_with_its_whole_shard() {
    // After a failover the replica answers for the slot before the next refresh tells us; the failover
    // moved every slot of the shard (regression: the old master kept the others, and a fan-out such as
    // DBSIZE counted the shard on both nodes).
    let before = shards(SHARDS_RESP3, "127.0.0.1");
    let old = before.find(&addr("127.0.0.1:31003")).unwrap();
    let shard: Vec<_> = before
        .slot_ranges_of(old)
        .iter()
        .map(ToString::to_string)
        .collect();
    let after = before.with_slot_moved(slot(12182), &addr("127.0.0.1:31004"));
    let promoted = after.find(&addr("127.0.0.1:31004")).unwrap();
    assert_eq!(after.node(promoted).role, Role::Master);
    assert_eq!(after.node(promoted).master, None);
    assert!(after.replicas_of(old).is_empty());
    assert!(after.replicas_for(slot(12182)).is_empty());
    for s in [12182, 10923, 16383] {
        assert_eq!(
            owner(&after, s).as_deref(),
            Some("127.0.0.1:31004"),
            "slot {s}"
        );
    }
    let moved: Vec<_> = after
        .slot_ranges_of(promoted)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(moved, shard);
    assert_eq!(after.slot_count(old), 0);
    assert_eq!(after.masters().count(), before.masters().count());
    assert_eq!(after.covered_slots(), 16384);
    // The other shards are untouched.
    assert_eq!(owner(&after, 0).as_deref(), Some("127.0.0.1:31001"));

    // A replica that this view lists under another master than the slot's (it migrated since): only
    // the one slot moves, and its listed master keeps its own.
    let before = shards(SHARDS_RESP3, "127.0.0.1");
    let after = before.with_slot_moved(slot(0), &addr("127.0.0.1:31004"));
    assert_eq!(owner(&after, 0).as_deref(), Some("127.0.0.1:31004"));
    assert_eq!(owner(&after, 1).as_deref(), Some("127.0.0.1:31001"));
    assert_eq!(owner(&after, 12182).as_deref(), Some("127.0.0.1:31003"));
    assert_eq!(after.slot_count(old), before.slot_count(old));
}

#[test]
fn moved_into_an_uncovered_slot_raises_coverage() {
    let wire = b"*1\r\n*3\r\n:0\r\n:99\r\n*3\r\n$1\r\na\r\n:1\r\n$1\r\na\r\n";
    let before = crate::slots(wire, "s");
    let after = before.with_slot_moved(slot(100), &addr("a:1"));
    assert_eq!((before.covered_slots(), after.covered_slots()), (100, 101));
    assert_eq!(after.slot_ranges().len(), 1);
    let empty = Topology::empty().with_slot_moved(slot(5), &addr("b:2"));
    assert_eq!(
        (empty.covered_slots(), owner(&empty, 5).as_deref()),
        (1, Some("b:2"))
    );
}

//! `fingerprint` and `choose_view`: which of several sampled views to trust.

use cluster_topology::{NodeAddr, Topology, choose_view};
use hash_slot::Slot;

use crate::captures::*;
use crate::{shards, slots};

#[test]
fn fingerprint_ignores_order_health_and_offsets() {
    // The same cluster seen by two nodes lists shards in another order, with other offsets and health.
    let a = shards(SHARDS_RESP2, "127.0.0.1");
    let b = shards(SHARDS_RESP3_JUST_CREATED, "127.0.0.1");
    assert_eq!(a.fingerprint(), b.fingerprint());
    // But routing differences show.
    let c = shards(SHARDS_RESP3_AFTER_FAILOVER, "127.0.0.1");
    let d = shards(SHARDS_RESP3_HOSTNAMES, "127.0.0.1");
    let prints = [a.fingerprint(), c.fingerprint(), d.fingerprint()];
    assert!(
        prints[0] != prints[1] && prints[1] != prints[2] && prints[0] != prints[2],
        "{prints:?}"
    );
    // A fingerprint is stable: the same view gives the same value, run after run.
    assert_eq!(
        a.fingerprint(),
        shards(SHARDS_RESP2, "127.0.0.1").fingerprint()
    );
}

/// Picks among `views` and returns the position of the chosen one.
fn check(views: &[Topology], expected: Option<usize>) {
    let chosen = choose_view(views).map(|v| views.iter().position(|w| std::ptr::eq(v, w)).unwrap());
    assert_eq!(chosen, expected);
}

#[test]
fn majority_wins_over_a_stale_node() {
    let fresh = || shards(SHARDS_RESP3_AFTER_FAILOVER, "127.0.0.1");
    // A just-restarted old master that still claims its slots: covers everything, but it is alone.
    let stale = shards(SHARDS_RESP2, "127.0.0.1");
    check(&[stale.clone(), fresh(), fresh()], Some(1));
    check(&[fresh(), stale.clone(), fresh()], Some(0));
    check(&[], None);
    check(std::slice::from_ref(&stale), Some(0));
}

#[test]
fn tie_goes_to_coverage_then_to_the_first() {
    let full = slots(SLOTS_RESP2, "127.0.0.1");
    let partial = full.with_slot_moved(Slot::new(0).unwrap(), &NodeAddr::new("127.0.0.1", 31002));
    let wire = b"*1\r\n*3\r\n:0\r\n:99\r\n*3\r\n$1\r\na\r\n:1\r\n$1\r\na\r\n";
    let small = slots(wire, "s");
    check(&[small.clone(), full.clone()], Some(1));
    check(&[full.clone(), small.clone()], Some(0));
    // Two equally common views covering the same number of slots: the first listed wins.
    check(&[partial.clone(), full.clone()], Some(0));
    check(&[full.clone(), partial.clone()], Some(0));
    // Votes before coverage: two small views outvote one full one.
    check(&[full, small.clone(), small], Some(1));
}

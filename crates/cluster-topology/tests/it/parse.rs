//! Real replies parse into the view the cluster had when they were captured.

use cluster_topology::{Health, NodeAddr, Topology};
use hash_slot::Slot;

use crate::captures::*;
use crate::{assert_view, decode, render, shards, slots};

/// The steady-state view as `CLUSTER SHARDS` gives it (both protocols give the same view).
const STEADY_SHARDS: &str = "
    0-5460 127.0.0.1:31001
    5461-10922 127.0.0.1:31002
    10923-16383 127.0.0.1:31003
    127.0.0.1:31003 master online id=195a7023 offset=70
    127.0.0.1:31004 replica online id=2fa05c2b of=127.0.0.1:31003 offset=70
    127.0.0.1:31002 master online id=63477c6b offset=70
    127.0.0.1:31006 replica online id=f219fce4 of=127.0.0.1:31002 offset=70
    127.0.0.1:31001 master online id=6e673699 offset=70
    127.0.0.1:31005 replica online id=3fdb19f0 of=127.0.0.1:31001 offset=70
";

#[test]
fn shards_resp2_and_resp3_give_the_same_view() {
    let resp2 = shards(SHARDS_RESP2, "127.0.0.1");
    let resp3 = shards(SHARDS_RESP3, "127.0.0.1");
    assert_view(&resp2, STEADY_SHARDS);
    assert_view(&resp3, STEADY_SHARDS);
    assert_eq!(resp2.fingerprint(), resp3.fingerprint());
    assert!(resp2.is_fully_covered());
    assert_eq!(resp2.covered_slots(), 16384);
}

#[test]
fn slots_resp2_and_resp3_give_the_same_view() {
    let expected = "
        0-5460 127.0.0.1:31001
        5461-10922 127.0.0.1:31002
        10923-16383 127.0.0.1:31003
        127.0.0.1:31001 master unknown id=6e673699
        127.0.0.1:31005 replica unknown id=3fdb19f0 of=127.0.0.1:31001
        127.0.0.1:31002 master unknown id=63477c6b
        127.0.0.1:31006 replica unknown id=f219fce4 of=127.0.0.1:31002
        127.0.0.1:31003 master unknown id=195a7023
        127.0.0.1:31004 replica unknown id=2fa05c2b of=127.0.0.1:31003
    ";
    let resp2 = slots(SLOTS_RESP2, "127.0.0.1");
    let resp3 = slots(SLOTS_RESP3, "127.0.0.1");
    assert_view(&resp2, expected);
    assert_view(&resp3, expected);
    // The same cluster through either command routes alike and hashes alike: only node order differs.
    assert_eq!(
        resp2.fingerprint(),
        shards(SHARDS_RESP2, "127.0.0.1").fingerprint()
    );
}

#[test]
fn accessors_agree_with_the_reply() {
    let t = shards(SHARDS_RESP3, "127.0.0.1");
    let foo = Slot::for_key(b"foo"); // 12182, served by 31003
    let master = t.master_for(foo).unwrap();
    assert_eq!(
        t.node(master).addr,
        NodeAddr::parse("127.0.0.1:31003").unwrap()
    );
    let replicas: Vec<_> = t
        .replicas_for(foo)
        .iter()
        .map(|&r| t.node(r).addr.to_string())
        .collect();
    assert_eq!(replicas, ["127.0.0.1:31004"]);
    assert_eq!(t.all_replicas_for(foo), t.replicas_for(foo));
    assert_eq!(t.masters().count(), 3);
    assert_eq!(t.slot_count(master), 5461);
    let ranges: Vec<_> = t
        .slot_ranges_of(master)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(ranges, ["10923-16383"]);
    assert_eq!(
        t.find(&NodeAddr::parse("127.0.0.1:31004").unwrap())
            .map(|i| t.node(i).port),
        Some(Some(31004))
    );
    assert_eq!(t.find(&NodeAddr::parse("127.0.0.1:31999").unwrap()), None);
    assert_eq!(
        t.find_by_id("6e673699dc09bef19b8aba9b3349d049a6619b65")
            .map(|i| t.node(i).addr.port()),
        Some(31001)
    );
    assert!(t.uncovered_ranges().is_empty());
}

#[test]
fn loading_replicas_are_not_offered_for_reads() {
    // Right after `--cluster create` the replicas are still loading: known, but not yet usable.
    let t = shards(SHARDS_RESP3_JUST_CREATED, "127.0.0.1");
    let slot = Slot::new(0).unwrap();
    assert!(t.replicas_for(slot).is_empty());
    let all = t.all_replicas_for(slot);
    assert_eq!(all.len(), 1);
    assert_eq!(t.node(all[0]).health, Health::Loading);
    assert_eq!(t.node(all[0]).replication_offset, Some(0));
}

#[test]
fn slots_entries_without_replicas() {
    // Three-element entries: the replicas were not listed yet.
    assert_view(
        &slots(SLOTS_RESP2_JUST_CREATED, "127.0.0.1"),
        "
        0-5460 127.0.0.1:31001
        5461-10922 127.0.0.1:31002
        10923-16383 127.0.0.1:31003
        127.0.0.1:31001 master unknown id=6e673699
        127.0.0.1:31002 master unknown id=63477c6b
        127.0.0.1:31003 master unknown id=195a7023
    ",
    );
}

#[test]
fn hostnames_are_the_preferred_endpoint() {
    let t = shards(SHARDS_RESP3_HOSTNAMES, "127.0.0.1");
    assert_view(
        &t,
        "
        0-5460 node-31001.test:31001
        5461-10922 node-31002.test:31002
        10923-16383 node-31003.test:31003
        node-31003.test:31003 master online id=195a7023 ip=127.0.0.1 offset=168
        node-31004.test:31004 replica online id=2fa05c2b of=node-31003.test:31003 ip=127.0.0.1 offset=168
        node-31002.test:31002 master online id=63477c6b ip=127.0.0.1 offset=168
        127.0.0.1:31006 replica online id=f219fce4 of=node-31002.test:31002 unreachable offset=168
        node-31001.test:31001 master online id=6e673699 ip=127.0.0.1 offset=168
        node-31005.test:31005 replica online id=3fdb19f0 of=node-31001.test:31001 ip=127.0.0.1 offset=168
    ",
    );
    // SLOTS carries the same facts: the IP moves into the metadata (a flat array in RESP2, a map in RESP3).
    let expected_slots = "
        0-5460 node-31001.test:31001
        5461-10922 node-31002.test:31002
        10923-16383 node-31003.test:31003
        node-31001.test:31001 master unknown id=6e673699 ip=127.0.0.1
        node-31005.test:31005 replica unknown id=3fdb19f0 of=node-31001.test:31001 ip=127.0.0.1
        node-31002.test:31002 master unknown id=63477c6b ip=127.0.0.1
        127.0.0.1:31006 replica unknown id=f219fce4 of=node-31002.test:31002 unreachable
        node-31003.test:31003 master unknown id=195a7023 ip=127.0.0.1
        node-31004.test:31004 replica unknown id=2fa05c2b of=node-31003.test:31003 ip=127.0.0.1
    ";
    assert_view(&slots(SLOTS_RESP2_HOSTNAMES, "127.0.0.1"), expected_slots);
    assert_view(&slots(SLOTS_RESP3_HOSTNAMES, "127.0.0.1"), expected_slots);
}

#[test]
fn unknown_endpoint_means_the_host_we_asked() {
    // Redis 7.0 sends an empty `endpoint` in SHARDS and a null one in SLOTS; both mean "the seed host".
    let t = shards(SHARDS_RESP2_UNKNOWN_ENDPOINT, "redis.lb.example");
    let text = render(&t);
    assert!(
        text.starts_with("0-5460 redis.lb.example:31001\n"),
        "{text}"
    );
    assert!(
        t.nodes()
            .iter()
            .all(|n| n.reachable && n.addr.host() == "redis.lb.example"),
        "{text}"
    );
    assert_eq!(
        t.node(t.master_for(Slot::new(0).unwrap()).unwrap())
            .hostname
            .as_deref(),
        Some("node-31001.test")
    );
    // Without a host to fall back on, the nodes are known but marked unreachable, identified by their IP.
    let t = shards(SHARDS_RESP2_UNKNOWN_ENDPOINT, "");
    assert!(
        t.nodes()
            .iter()
            .all(|n| !n.reachable && n.addr.host() == "127.0.0.1"),
        "{}",
        render(&t)
    );
    for wire in [SLOTS_RESP3_UNKNOWN_ENDPOINT, SLOTS_RESP2_UNKNOWN_ENDPOINT] {
        let t = slots(wire, "10.0.0.9");
        assert!(
            t.nodes()
                .iter()
                .all(|n| n.reachable && n.addr.host() == "10.0.0.9"),
            "{}",
            render(&t)
        );
        assert_eq!(t.nodes().len(), 6);
    }
}

#[test]
fn failed_replica_is_kept_but_not_offered() {
    let t = shards(SHARDS_RESP2_FAILED_REPLICA, "127.0.0.1");
    let slot = Slot::new(6000).unwrap();
    assert!(t.replicas_for(slot).is_empty());
    let all = t.all_replicas_for(slot);
    assert_eq!(all.len(), 1);
    assert_eq!(t.node(all[0]).health, Health::Failed);
    assert_eq!(t.node(all[0]).addr.port(), 31006);
    // SLOTS leaves the failed replica out altogether.
    let s = slots(SLOTS_RESP2_FAILED_REPLICA, "127.0.0.1");
    assert_eq!(s.nodes().len(), 5);
    assert!(s.replicas_for(slot).is_empty());
}

#[test]
fn failed_old_master_is_a_slotless_master_after_failover() {
    let t = shards(SHARDS_RESP3_AFTER_FAILOVER, "127.0.0.1");
    assert_view(
        &t,
        "
        0-5460 127.0.0.1:31001
        5461-10922 127.0.0.1:31002
        10923-16383 127.0.0.1:31004
        127.0.0.1:31004 master online id=2fa05c2b hostname=node-31004.test offset=196
        127.0.0.1:31003 master failed id=195a7023 hostname=node-31003.test offset=196
        127.0.0.1:31002 master online id=63477c6b hostname=node-31002.test offset=182
        127.0.0.1:31006 replica failed id=f219fce4 of=127.0.0.1:31002 offset=182
        127.0.0.1:31001 master online id=6e673699 hostname=node-31001.test offset=196
        127.0.0.1:31005 replica online id=3fdb19f0 of=127.0.0.1:31001 hostname=node-31005.test offset=196
    ",
    );
    // Fan-out commands go to masters that serve slots, not to the failed old master.
    let masters: Vec<_> = t.masters().map(|m| t.node(m).addr.port()).collect();
    assert_eq!(masters, [31004, 31002, 31001]);
    let s = slots(SLOTS_RESP2_AFTER_FAILOVER, "127.0.0.1");
    assert_eq!(
        s.node(s.master_for(Slot::new(16383).unwrap()).unwrap())
            .addr
            .port(),
        31004
    );
    assert_eq!(s.nodes().len(), 4);
}

#[test]
fn partial_coverage_from_a_hand_edited_reply() {
    // The steady SLOTS reply with the 5461-10922 entry removed, as a node that lost a shard would answer.
    let wire = b"*2\r\n\
        *3\r\n:0\r\n:5460\r\n*3\r\n$9\r\n127.0.0.1\r\n:31001\r\n$2\r\nm1\r\n\
        *3\r\n:10923\r\n:16383\r\n*3\r\n$9\r\n127.0.0.1\r\n:31003\r\n$2\r\nm3\r\n";
    let t = slots(wire, "127.0.0.1");
    assert_eq!(t.covered_slots(), 16384 - 5462);
    assert!(!t.is_fully_covered());
    assert_eq!(t.master_for(Slot::new(5461).unwrap()), None);
    assert!(t.replicas_for(Slot::new(5461).unwrap()).is_empty());
    assert_view(
        &t,
        "
        0-5460 127.0.0.1:31001
        10923-16383 127.0.0.1:31003
        5461-10922 uncovered
        127.0.0.1:31001 master unknown id=m1
        127.0.0.1:31003 master unknown id=m3
    ",
    );
    // A shard with an empty slot list, and non-contiguous ranges of one shard.
    let wire = b"*2\r\n\
        %2\r\n$5\r\nslots\r\n*4\r\n:0\r\n:99\r\n:200\r\n:200\r\n$5\r\nnodes\r\n*1\r\n\
            %4\r\n$2\r\nid\r\n$2\r\nm1\r\n$4\r\nport\r\n:7000\r\n$8\r\nendpoint\r\n$8\r\n10.0.0.1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n\
        %2\r\n$5\r\nslots\r\n*0\r\n$5\r\nnodes\r\n*1\r\n\
            %4\r\n$2\r\nid\r\n$2\r\nm2\r\n$8\r\ntls-port\r\n:7443\r\n$8\r\nendpoint\r\n$8\r\n10.0.0.2\r\n$4\r\nrole\r\n$6\r\nmaster\r\n";
    assert_view(
        &shards(wire, "seed"),
        "
        0-99 10.0.0.1:7000
        200-200 10.0.0.1:7000
        100-199 uncovered
        201-16383 uncovered
        10.0.0.1:7000 master unknown id=m1
        10.0.0.2:7443 master unknown id=m2 tls=7443
    ",
    );
}

#[test]
fn old_servers_and_odd_but_valid_shapes() {
    // Before Redis 4, node entries were [ip, port]; an empty ip is the node we asked; IPv6 has no brackets.
    let wire = b"*2\r\n\
        *4\r\n:0\r\n:8191\r\n*2\r\n$0\r\n\r\n:7000\r\n*2\r\n$3\r\n::1\r\n:7003\r\n\
        *3\r\n:8192\r\n:16383\r\n*5\r\n$8\r\n10.0.0.2\r\n:7001\r\n$2\r\nm2\r\n*0\r\n$5\r\nextra\r\n";
    let t = slots(wire, "seed.example");
    assert_view(
        &t,
        "
        0-8191 seed.example:7000
        8192-16383 10.0.0.2:7001
        seed.example:7000 master unknown
        [::1]:7003 replica unknown of=seed.example:7000
        10.0.0.2:7001 master unknown id=m2
    ",
    );
    // Attributes around the reply, sets instead of arrays, integers sent as strings: all accepted.
    let wire =
        b"|1\r\n+ttl\r\n:3\r\n~1\r\n*3\r\n$1\r\n0\r\n+16383\r\n*3\r\n+h\r\n$4\r\n6379\r\n+id\r\n";
    assert_view(
        &slots(wire, "s"),
        "0-16383 h:6379\nh:6379 master unknown id=id",
    );
    // Unknown fields and unknown health values are ignored; "primary" is Valkey's "master".
    let wire = b"*1\r\n%2\r\n$5\r\nslots\r\n*2\r\n:0\r\n:16383\r\n$5\r\nnodes\r\n*1\r\n\
        %7\r\n$2\r\nid\r\n$1\r\na\r\n$4\r\nport\r\n:1\r\n$2\r\nip\r\n$2\r\n::\r\n$4\r\nrole\r\n$7\r\nprimary\r\n\
        $6\r\nhealth\r\n$7\r\nwobbly!\r\n$3\r\nnew\r\n*0\r\n\
        $6\r\nfuture\r\n_\r\n";
    assert_view(
        &shards(wire, "s"),
        "0-16383 [::]:1\n[::]:1 master unknown id=a",
    );
}

#[test]
fn empty_reply_is_an_empty_view() {
    let t = Topology::from_cluster_slots(&decode(b"*0\r\n"), "s").unwrap();
    assert_eq!(t.covered_slots(), 0);
    assert!(t.nodes().is_empty());
    assert_eq!(t.fingerprint(), Topology::empty().fingerprint());
    assert_eq!(
        Topology::from_cluster_shards(&decode(b"*0\r\n"), "s")
            .unwrap()
            .covered_slots(),
        0
    );
}

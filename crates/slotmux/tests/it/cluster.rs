//! The same `Client` against a Redis Cluster: detected from one URL, or given seed nodes.

use std::time::Duration;

use slotmux::{Bytes, Client, Cmd, ErrorKind, Pipeline, Value};

use crate::{check, key, run};

#[test]
fn one_url_of_a_cluster_node_gives_a_cluster_client() {
    let cluster = test_support::shared_cluster();
    let url = cluster.seed_urls().into_iter().next().expect("a node");
    run(Duration::from_secs(60), async {
        let c = Client::connect(&url)
            .await
            .expect("connect to a cluster node");
        assert!(c.is_cluster());
        // Every helper, including multi-key DEL/EXISTS/MGET/MSET over keys in different slots.
        crate::commands::helpers(&c, "cluster").await;
    });
}

#[test]
fn seed_nodes_and_cross_node_pipelines() {
    let cluster = test_support::shared_cluster();
    let seeds = cluster.seed_addrs();
    run(Duration::from_secs(60), async {
        let c = Client::builder()
            .nodes(seeds.clone())
            .build()
            .await
            .expect("connect with seeds");
        assert!(c.is_cluster());
        // Keys spread over every master; replies still come back in input order.
        let mut p = Pipeline::new();
        for i in 0..200 {
            p.push(Cmd::new("SET").arg(key(&format!("pipe:{i}"))).arg(i));
            p.push(Cmd::new("GET").arg(key(&format!("pipe:{i}"))));
        }
        let replies = c.pipeline(&p).await.expect("pipeline");
        assert_eq!(replies.len(), 400);
        for (i, pair) in replies.chunks(2).enumerate() {
            match pair {
                [Ok(Value::Status(ok)), Ok(Value::Bulk(v))] => {
                    assert_eq!(ok.as_ref(), b"OK");
                    assert_eq!(v, &Bytes::from(i.to_string()), "pair {i}");
                }
                other => panic!("pair {i}: {other:?}"),
            }
        }
        let keys: Vec<String> = (0..200).map(|i| key(&format!("pipe:{i}"))).collect();
        check("del across slots", c.del(&keys).await, 200);
        assert_eq!(c.in_flight(), 0);

        c.close();
        assert_eq!(
            c.ping().await.expect_err("closed").kind(),
            ErrorKind::Closed
        );
        let err = c
            .pipeline(&p)
            .await
            .expect_err("closed pipeline is an outer error");
        assert_eq!(err.kind(), ErrorKind::Closed);

        let err = Client::builder()
            .nodes(seeds)
            .database(1)
            .build()
            .await
            .expect_err("db 1");
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    });
}

#[test]
fn stats_count_redirects_and_batches() {
    let cluster = test_support::shared_cluster();
    let k = key("{stats-moved}");
    let slot = match cluster.node(0).command(&["CLUSTER", "KEYSLOT", &k]) {
        Ok(test_support::Reply::Integer(n)) => u16::try_from(n).expect("slot"),
        other => panic!("CLUSTER KEYSLOT: {other:?}"),
    };
    let from = cluster.slot_owner(slot).expect("slot owner");
    let to = cluster
        .masters()
        .iter()
        .filter_map(|m| cluster.index_of_port(m.port()))
        .find(|&i| i != from)
        .expect("another master");
    run(Duration::from_secs(60), async {
        let c = Client::builder()
            .nodes(cluster.seed_addrs())
            .build()
            .await
            .expect("connect with seeds");
        c.set(&k, "v").await.expect("set");
        let before = c.stats();
        assert_eq!((before.moved, before.ask), (0, 0), "{before:?}");
        // The client still maps the slot to `from`: its next GET meets MOVED and follows it.
        cluster.migrate_slot(slot, from, to).expect("migrate");
        let got = c.get(&k).await;
        // Put the slot back before asserting, so a failure leaves the shared cluster as it was.
        cluster.migrate_slot(slot, to, from).expect("migrate back");
        assert_eq!(got.expect("get").as_deref(), Some(&b"v"[..]));
        let after = c.stats();
        assert!(after.moved > before.moved, "{after:?}");
        assert!(after.connects >= 3, "{after:?}");
        assert!(after.nodes.len() >= cluster.masters().len(), "{after:?}");
        let commands: u64 = after.nodes.iter().map(|n| n.commands).sum();
        let writes: u64 = after.nodes.iter().map(|n| n.writes).sum();
        let reads: u64 = after.nodes.iter().map(|n| n.reads).sum();
        assert!(commands >= 2, "{after:?}");
        assert!((1..=commands).contains(&writes), "{after:?}");
        assert!((1..=commands).contains(&reads), "{after:?}");
        assert!(after.nodes.iter().all(|n| n.in_flight == 0 && n.connected));
    });
}

#[test]
fn a_cluster_client_by_default_waits_out_a_stall_longer_than_one_second() {
    // An own cluster: stalling the shared one would slow every other test using it.
    let cluster = std::sync::Arc::new(
        test_support::Cluster::start(test_support::ClusterSpec {
            masters: 3,
            replicas_per_master: 0,
            // Far above the stall, so nobody marks the stalled masters as failing.
            node_timeout_ms: 10_000,
            base_port: None,
        })
        .expect("cluster"),
    );
    crate::run_serial(Duration::from_secs(60), async {
        // No command_timeout: the default under test.
        let c = Client::builder()
            .nodes(cluster.seed_addrs())
            .build()
            .await
            .expect("connect");
        let k = key("stall");
        c.set(&k, "v").await.expect("SET");
        // Every master holds its clients for 1.5 s: longer than a failover's CLUSTERDOWN window, and
        // than 1 s. CLIENT PAUSE answers at once and is in force from then on.
        let stall = Duration::from_millis(1500);
        let cl = cluster.clone();
        tokio::task::spawn_blocking(move || {
            for node in cl.nodes() {
                node.command(&["CLIENT", "PAUSE", "1500", "ALL"])
                    .expect("CLIENT PAUSE");
            }
        })
        .await
        .expect("pause");
        let started = std::time::Instant::now();
        let got = c.get(&k).await;
        let took = started.elapsed();
        check("GET through the stall", got, Some(Bytes::from_static(b"v")));
        // The GET was answered only when the pause ended, more than 1 s after it was issued.
        assert!(
            took >= stall - Duration::from_millis(500),
            "the GET did not wait for the pause: {took:?}"
        );
    });
}

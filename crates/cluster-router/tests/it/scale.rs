//! Scaling out and in under load: a master joins and takes slots, gives them back and leaves, while tasks
//! INCR keys of those slots. The router must follow both changes with no error reaching a caller, connect to
//! the new node, and close its connection to the node that left.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cluster_router::{Router, RouterConfig};
use rand::Rng;
use resp_codec::Frame;
use test_support::{Cluster, ClusterSpec};

use crate::{cmd, int, tags_owned_by};

/// Bound on every wait of this test: a refresh comes within `periodic_check` (below), a migration of a few
/// keys within a second; the rest is headroom for a loaded 2-core machine.
const WAIT: Duration = Duration::from_secs(20);

/// Upper bound on the requests of one load task, so the loop ends by itself even if the stop flag is missed.
const MAX_REQUESTS_PER_TASK: usize = 200_000;

/// Waits until `check` holds, polling every 50 ms; panics with `what` and the router's counters after [`WAIT`].
async fn wait_for(what: &str, router: &Router, mut check: impl FnMut() -> bool) {
    let until = Instant::now() + WAIT;
    while !check() {
        assert!(
            Instant::now() < until,
            "timed out waiting for {what}; router: {:?}, masters {:?}",
            router.stats(),
            router.masters()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn node_stats(router: &Router, addr: &str) -> Option<cluster_router::NodeStats> {
    router.stats().nodes.into_iter().find(|n| n.addr == addr)
}

#[test]
fn a_master_joins_and_leaves_under_load() {
    let mut cluster = Cluster::start(ClusterSpec {
        masters: 3,
        replicas_per_master: 0,
        node_timeout_ms: 2000,
        base_port: None,
    })
    .expect("cluster");
    // 100 keys in 4 slots of master 0 (a hash tag per slot): these slots move to the new master and back.
    let tags = tags_owned_by(&cluster, 0, 4, "sc");
    let keys: Arc<Vec<String>> = Arc::new(
        tags.iter()
            .flat_map(|(t, _)| (0..25).map(move |n| format!("{{{t}}}:{n}")))
            .collect(),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let block = |what: &str, f: std::pin::Pin<Box<dyn Future<Output = ()> + '_>>| {
        rt.block_on(async {
            if tokio::time::timeout(WAIT * 3, f).await.is_err() {
                panic!("{what} did not finish within {:?}", WAIT * 3);
            }
        });
    };
    let mut config = RouterConfig::new(cluster.seed_addrs());
    // The node that leaves sends no MOVED (it owns nothing by then): only the periodic check can notice.
    config.periodic_check = Duration::from_millis(500);
    let router = rt
        .block_on(async { tokio::time::timeout(WAIT, Router::connect(config)).await })
        .expect("connect in time")
        .expect("router connects");

    // 16 tasks: single INCRs, and pipelines of two INCRs on keys of different moving slots.
    let stop = Arc::new(AtomicBool::new(false));
    let counts: Arc<Mutex<HashMap<String, i64>>> = Arc::default();
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let tasks: Vec<_> = (0..16)
        .map(|t| {
            let (router, keys, counts, errors, stop) = (
                router.clone(),
                keys.clone(),
                counts.clone(),
                errors.clone(),
                stop.clone(),
            );
            rt.spawn(async move {
                for _ in 0..MAX_REQUESTS_PER_TASK {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let picked: Vec<String> = {
                        let mut rng = rand::rng();
                        (0..2)
                            .map(|_| keys[rng.random_range(0..keys.len())].clone())
                            .collect()
                    };
                    let o = router.options();
                    let results = if t % 2 == 0 {
                        vec![router.send(&cmd(["INCR", picked[0].as_str()]), &o).await]
                    } else {
                        let p = [
                            cmd(["INCR", picked[0].as_str()]),
                            cmd(["INCR", picked[1].as_str()]),
                        ];
                        router.pipeline(&p, &o).await
                    };
                    for (key, r) in picked.iter().zip(results) {
                        match r {
                            Ok(Frame::Integer(_)) => {
                                *counts.lock().unwrap().entry(key.clone()).or_default() += 1;
                            }
                            other => errors.lock().unwrap().push(format!("{key}: {other:?}")),
                        }
                    }
                }
            })
        })
        .collect();

    // Scale out: a fourth master joins and takes the four slots, keys included, under load.
    let new = cluster.add_master().expect("a master joins");
    let new_addr = cluster.node(new).addr();
    for (_, slot) in &tags {
        cluster.migrate_slot(*slot, 0, new).expect("slot moves out");
    }
    block(
        "scale-out check",
        Box::pin(async {
            wait_for("commands served by the new master", &router, || {
                node_stats(&router, &new_addr).is_some_and(|n| n.connected && n.commands > 0)
            })
            .await;
        }),
    );
    let moved_out = router.stats();
    assert!(
        moved_out.moved > 0,
        "the moves were seen as MOVED: {moved_out:?}"
    );

    // Scale in: the slots go back, then the node leaves the cluster (it keeps running, alone).
    for (_, slot) in &tags {
        cluster
            .migrate_slot(*slot, new, 0)
            .expect("slot moves back");
    }
    let left = cluster.remove_last_node().expect("the master leaves");
    block(
        "scale-in check",
        Box::pin(async {
            wait_for("the router to drop the node that left", &router, || {
                node_stats(&router, &new_addr).is_none()
            })
            .await;
        }),
    );
    // The router closed its connection (after its in-flight commands): only ours, asking, is left.
    let deadline = Instant::now() + WAIT;
    loop {
        let clients: i64 = left
            .server()
            .info_field("connected_clients")
            .expect("INFO clients")
            .parse()
            .expect("a number");
        if clients == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{clients} connections still open on the node that left"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // Load stops; nothing failed and every counted INCR is in the data, exactly once.
    stop.store(true, Ordering::Relaxed);
    block(
        "load tasks",
        Box::pin(async {
            for t in tasks {
                t.await.expect("load task");
            }
        }),
    );
    let errors = errors.lock().unwrap().clone();
    assert!(errors.is_empty(), "errors reached callers: {errors:?}");
    let counts = counts.lock().unwrap().clone();
    assert!(
        counts.values().sum::<i64>() > 1000,
        "too little load to mean anything: {counts:?}"
    );
    block(
        "final counters",
        Box::pin(async {
            for key in keys.iter() {
                let got = router
                    .send(&cmd(["GET", key.as_str()]), &router.options())
                    .await
                    .expect("GET");
                let want = counts.get(key).copied().unwrap_or(0);
                let got = match got {
                    Frame::BulkString(b) => {
                        String::from_utf8_lossy(&b).parse::<i64>().expect("int")
                    }
                    Frame::Null | Frame::NullBulkString => 0,
                    other => int(&other),
                };
                assert_eq!(got, want, "{key}: counter differs from successful INCRs");
            }
        }),
    );
    drop(router);
}

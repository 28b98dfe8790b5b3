//! Routing, pipelines, multi-key splitting, fan-out, transactions and scan on the shared cluster.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use cluster_router::{ErrorKind, Router, SendOptions};
use hash_slot::Slot;
use rand::Rng;
use resp_codec::Frame;
use test_support::{shared_cluster, shared_server};

use crate::{bulk, cmd, connect, int, ok, prefix, run, value};

fn seeds() -> Vec<String> {
    shared_cluster().seed_addrs()
}

fn random_binary_key(rng: &mut impl Rng, prefix: &str) -> Vec<u8> {
    let mut k = prefix.as_bytes().to_vec();
    let n = rng.random_range(1..24);
    k.extend((0..n).map(|_| rng.random::<u8>()));
    k
}

#[test]
fn ten_thousand_random_keys_round_trip() {
    let seeds = seeds();
    run(Duration::from_secs(60), async move {
        let router = connect(seeds).await;
        let p = prefix("rt");
        let tasks: Vec<_> = (0..64)
            .map(|t| {
                let router = router.clone();
                let p = format!("{p}{t}:");
                tokio::spawn(async move {
                    let pairs: Vec<(Vec<u8>, Vec<u8>)> = {
                        let mut rng = rand::rng();
                        (0..157)
                            .map(|_| {
                                let key = random_binary_key(&mut rng, &p);
                                let val =
                                    (0..rng.random_range(0..64)).map(|_| rng.random()).collect();
                                (key, val)
                            })
                            .collect()
                    };
                    for (key, val) in pairs {
                        let opts = router.options();
                        let r = router
                            .send(&cmd([&b"SET"[..], &key[..], &val[..]]), &opts)
                            .await;
                        assert_eq!(r.expect("SET"), ok());
                        let got = router
                            .send(&cmd([&b"GET"[..], &key[..]]), &router.options())
                            .await
                            .expect("GET");
                        assert_eq!(value(&got), Some(val), "key {key:?}");
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
        let s = router.stats();
        assert_eq!(s.moved, 0, "a stable cluster redirects nothing: {s:?}");
        assert!(
            s.nodes.iter().all(|n| n.in_flight == 0),
            "in-flight returns to zero: {s:?}"
        );
    });
}

#[test]
fn pipeline_of_1000_commands_replies_in_order() {
    let seeds = seeds();
    run(Duration::from_secs(60), async move {
        let router = connect(seeds).await;
        let p = prefix("pipe");
        let keys: Vec<String> = (0..1000).map(|i| format!("{p}{i}")).collect();
        let sets: Vec<_> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| cmd(["SET", k.as_str(), &i.to_string()]))
            .collect();
        let replies = router.pipeline(&sets, &router.options()).await;
        assert_eq!(replies.len(), 1000);
        assert!(replies.iter().all(|r| r.as_ref().ok() == Some(&ok())));
        // Mixed: GETs, keyless ECHOs, a cross-slot MGET and a fan-out DBSIZE, all in caller order.
        let mut mixed = Vec::new();
        let mut expected = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            match i % 10 {
                3 => {
                    mixed.push(cmd(["ECHO", &format!("e{i}")]));
                    expected.push(Some(bulk(format!("e{i}"))));
                }
                7 => {
                    let other = &keys[(i * 7919) % 1000];
                    mixed.push(cmd(["MGET", k.as_str(), other.as_str()]));
                    let j = (i * 7919) % 1000;
                    expected.push(Some(Frame::Array(vec![
                        bulk(i.to_string()),
                        bulk(j.to_string()),
                    ])));
                }
                9 => {
                    mixed.push(cmd(["DBSIZE"]));
                    expected.push(None);
                }
                _ => {
                    mixed.push(cmd(["GET", k.as_str()]));
                    expected.push(Some(bulk(i.to_string())));
                }
            }
        }
        let replies = router.pipeline(&mixed, &router.options()).await;
        assert_eq!(replies.len(), mixed.len());
        for (i, (r, e)) in replies.iter().zip(&expected).enumerate() {
            let r = r.as_ref().unwrap_or_else(|e| panic!("command {i}: {e}"));
            match e {
                Some(e) => assert_eq!(r, e, "command {i}"),
                None => assert!(int(r) >= 1000, "DBSIZE {r:?}"),
            }
        }
    });
}

/// Every kind of pipeline entry keeps its place: keyed, empty, split across slots (MGET, DEL, EXISTS),
/// fan-out (PING, DBSIZE), refused (WATCH) and blocking (BLPOP) commands; then keyed and blocking
/// commands only (no re-ordering pass), then a pipeline on one node (its batch returned as it is).
#[test]
fn pipeline_of_every_kind_replies_in_order() {
    let seeds = seeds();
    run(Duration::from_secs(30), async move {
        let router = connect(seeds).await;
        let o = router.options();
        let p = prefix("kinds");
        // Three keys in three different slots, so the multi-key commands below are split.
        let mut seen = HashSet::new();
        let k: Vec<String> = (0..)
            .map(|i| format!("{p}{i}"))
            .filter(|k| seen.insert(Slot::for_key(k.as_bytes())))
            .take(3)
            .collect();
        let list = format!("{p}list");
        let pushed = router
            .send(&cmd(["RPUSH", list.as_str(), "a", "b"]), &o)
            .await
            .expect("RPUSH");
        assert_eq!(int(&pushed), 2);
        let (k0, k1, k2) = (k[0].as_str(), k[1].as_str(), k[2].as_str());
        let pipeline = [
            cmd(["SET", k0, "v0"]),
            cmd(["SET", k1, "v1"]),
            cmd(Vec::<&str>::new()),
            cmd(["SET", k2, "v2"]),
            cmd(["MGET", k0, k1, k2]),
            cmd(["WATCH", k0]),
            cmd(["PING"]),
            cmd(["BLPOP", list.as_str(), "1"]),
            cmd(["DEL", k0, k1]),
            cmd(["DBSIZE"]),
            cmd(["GET", k2]),
            cmd(["EXISTS", k2, k0]),
        ];
        let expected: [Result<Option<Frame>, ErrorKind>; 12] = [
            Ok(Some(ok())),
            Ok(Some(ok())),
            Err(ErrorKind::InvalidInput),
            Ok(Some(ok())),
            Ok(Some(Frame::Array(vec![bulk("v0"), bulk("v1"), bulk("v2")]))),
            Err(ErrorKind::InvalidInput),
            Ok(Some(Frame::SimpleString(Bytes::from_static(b"PONG")))),
            Ok(Some(Frame::Array(vec![bulk(list.clone()), bulk("a")]))),
            Ok(Some(Frame::Integer(2))),
            Ok(None), // DBSIZE: checked below
            Ok(Some(bulk("v2"))),
            Ok(Some(Frame::Integer(1))),
        ];
        let replies = router.pipeline(&pipeline, &o).await;
        assert_eq!(replies.len(), pipeline.len());
        for (i, (r, e)) in replies.iter().zip(&expected).enumerate() {
            match (r, e) {
                (Ok(r), Ok(None)) => assert!(int(r) >= 1, "command {i}: DBSIZE {r:?}"),
                (Ok(r), Ok(Some(e))) => assert_eq!(r, e, "command {i}"),
                (Err(r), Err(e)) => assert_eq!(r.kind(), *e, "command {i}: {r}"),
                (r, e) => panic!("command {i}: got {r:?}, expected {e:?}"),
            }
        }
        // Keyed and blocking commands only.
        let replies = router
            .pipeline(
                &[
                    cmd(["SET", k0, "w0"]),
                    cmd(["BLPOP", list.as_str(), "1"]),
                    cmd(["GET", k0]),
                    cmd(["GET", k2]),
                ],
                &o,
            )
            .await;
        let replies: Vec<Frame> = replies
            .into_iter()
            .map(|r| r.expect("keyed or blocking"))
            .collect();
        assert_eq!(
            replies,
            [
                ok(),
                Frame::Array(vec![bulk(list.clone()), bulk("b")]),
                bulk("w0"),
                bulk("v2"),
            ]
        );
        // One node: one hash tag.
        let (x, y) = (format!("{{{p}}}x"), format!("{{{p}}}y"));
        let replies = router
            .pipeline(
                &[
                    cmd(["SET", x.as_str(), "1"]),
                    cmd(["SET", y.as_str(), "2"]),
                    cmd(["MGET", y.as_str(), x.as_str()]),
                    cmd(["DEL", x.as_str(), y.as_str()]),
                    cmd(["GET", x.as_str()]),
                ],
                &o,
            )
            .await;
        let replies: Vec<Option<Vec<u8>>> = replies
            .iter()
            .enumerate()
            .map(|(i, r)| match r {
                Ok(Frame::Array(v)) => Some(v.iter().filter_map(value).flatten().collect()),
                Ok(f) => value(f),
                Err(e) => panic!("command {i}: {e}"),
            })
            .collect();
        assert_eq!(
            replies,
            [
                Some(b"OK".to_vec()),
                Some(b"OK".to_vec()),
                Some(b"21".to_vec()),
                Some(b"2".to_vec()),
                None,
            ]
        );
    });
}

#[test]
fn mixed_10keys_from_64_tasks_give_exact_counters() {
    let seeds = seeds();
    run(Duration::from_secs(60), async move {
        let router = connect(seeds).await;
        let p = prefix("rate");
        let keys: Arc<Vec<String>> = Arc::new((0..200).map(|i| format!("{p}{i}")).collect());
        let counts: Arc<Mutex<HashMap<String, i64>>> = Arc::default();
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let (router, keys, counts) = (router.clone(), keys.clone(), counts.clone());
                tokio::spawn(async move {
                    for _ in 0..30 {
                        let picked: Vec<String> = {
                            let mut rng = rand::rng();
                            (0..10)
                                .map(|_| keys[rng.random_range(0..keys.len())].clone())
                                .collect()
                        };
                        let mut batch = Vec::new();
                        for k in &picked {
                            batch.push(cmd(["INCRBY", k.as_str(), "1"]));
                            batch.push(cmd(["EXPIRE", k.as_str(), "60"]));
                        }
                        let replies = router.pipeline(&batch, &router.options()).await;
                        let mut counts = counts.lock().unwrap();
                        for (k, r) in picked.iter().zip(replies.chunks(2)) {
                            assert!(matches!(r[0], Ok(Frame::Integer(_))), "{r:?}");
                            assert_eq!(r[1].as_ref().ok(), Some(&Frame::Integer(1)));
                            *counts.entry(k.clone()).or_default() += 1;
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
        let counts = counts.lock().unwrap().clone();
        assert_eq!(counts.values().sum::<i64>(), 64 * 30 * 10);
        let gets: Vec<_> = counts.keys().map(|k| cmd(["GET", k.as_str()])).collect();
        let replies = router.pipeline(&gets, &router.options()).await;
        for ((k, n), r) in counts.iter().zip(replies) {
            assert_eq!(
                value(&r.expect("GET")),
                Some(n.to_string().into_bytes()),
                "{k}"
            );
        }
    });
}

#[test]
fn multi_key_commands_match_key_by_key() {
    let seeds = seeds();
    run(Duration::from_secs(60), async move {
        let router = connect(seeds).await;
        let p = prefix("mk");
        let keys: Vec<String> = (0..1000).map(|i| format!("{p}{i}")).collect();
        let slots: HashSet<Slot> = keys.iter().map(|k| Slot::for_key(k.as_bytes())).collect();
        assert!(slots.len() > 900, "keys spread over many slots");
        let o = router.options();
        let mut mset = vec!["MSET".to_owned()];
        for (i, k) in keys.iter().enumerate().filter(|(i, _)| i % 3 != 0) {
            mset.push(k.clone());
            mset.push(format!("v{i}"));
        }
        assert_eq!(router.send(&cmd(&mset), &o).await.expect("MSET"), ok());
        let mut mget = vec!["MGET".to_owned()];
        mget.extend(keys.iter().cloned());
        let Frame::Array(values) = router.send(&cmd(&mget), &o).await.expect("MGET") else {
            panic!("MGET array")
        };
        assert_eq!(values.len(), 1000);
        for (k, v) in keys.iter().zip(&values) {
            let one = router
                .send(&cmd(["GET", k.as_str()]), &o)
                .await
                .expect("GET");
            assert_eq!(value(v), value(&one), "{k}");
        }
        let mut exists = vec!["EXISTS".to_owned()];
        exists.extend(keys.iter().cloned());
        exists.push(keys[1].clone()); // counted twice, as the server does
        let present = keys.iter().enumerate().filter(|(i, _)| i % 3 != 0).count() as i64;
        assert_eq!(
            int(&router.send(&cmd(&exists), &o).await.expect("EXISTS")),
            present + 1
        );
        let mut del = vec!["DEL".to_owned()];
        del.extend(keys.iter().take(500).cloned());
        let deleted = keys
            .iter()
            .take(500)
            .enumerate()
            .filter(|(i, _)| i % 3 != 0)
            .count() as i64;
        assert_eq!(
            int(&router.send(&cmd(&del), &o).await.expect("DEL")),
            deleted
        );
        let mut unlink = vec!["UNLINK".to_owned()];
        unlink.extend(keys.iter().cloned());
        assert_eq!(
            int(&router.send(&cmd(&unlink), &o).await.expect("UNLINK")),
            present - deleted
        );
        // Single-slot multi-key commands go through whole (fast path).
        let tagged = cmd(["MSET", "{mk}a", "1", "{mk}b", "2"]);
        assert_eq!(router.send(&tagged, &o).await.expect("MSET tagged"), ok());
        let got = router
            .send(&cmd(["MGET", "{mk}a", "{mk}b", "{mk}none"]), &o)
            .await
            .expect("MGET tagged");
        let Frame::Array(v) = got else {
            panic!("array")
        };
        assert_eq!(
            v.iter().map(value).collect::<Vec<_>>(),
            vec![Some(b"1".to_vec()), Some(b"2".to_vec()), None]
        );
    });
}

#[test]
fn fan_out_scan_scripts_and_transactions() {
    let seeds = seeds();
    run(Duration::from_secs(60), async move {
        let router = connect(seeds).await;
        let o = router.options();
        let p = prefix("fan");
        let keys: Vec<String> = (0..300).map(|i| format!("{p}{i}")).collect();
        let sets: Vec<_> = keys.iter().map(|k| cmd(["SET", k.as_str(), "x"])).collect();
        assert!(router.pipeline(&sets, &o).await.iter().all(Result::is_ok));
        assert_eq!(
            value(&router.send(&cmd(["PING"]), &o).await.expect("PING")),
            Some(b"PONG".to_vec())
        );
        assert!(int(&router.send(&cmd(["DBSIZE"]), &o).await.expect("DBSIZE")) >= 300);
        let pattern = format!("{p}*");
        let Frame::Array(found) = router
            .send(&cmd(["KEYS", pattern.as_str()]), &o)
            .await
            .expect("KEYS")
        else {
            panic!("KEYS array")
        };
        let found: HashSet<Vec<u8>> = found.iter().filter_map(value).collect();
        let want: HashSet<Vec<u8>> = keys.iter().map(|k| k.as_bytes().to_vec()).collect();
        assert_eq!(found, want);
        let mut scan = router.scan(Some(Bytes::from(pattern)), Some(50));
        let mut scanned = HashSet::new();
        while let Some(batch) = scan.next_batch().await.expect("scan") {
            scanned.extend(batch.into_iter().map(|b| b.to_vec()));
        }
        assert_eq!(scanned, want);

        // SCRIPT LOAD goes to every master, so EVALSHA works for keys in any slot.
        let script = "return redis.call('GET', KEYS[1])";
        let sha = value(
            &router
                .send(&cmd(["SCRIPT", "LOAD", script]), &o)
                .await
                .expect("LOAD"),
        )
        .expect("sha");
        let sha = String::from_utf8(sha).expect("hex");
        for k in keys.iter().take(30) {
            let r = router
                .send(&cmd(["EVALSHA", sha.as_str(), "1", k.as_str()]), &o)
                .await
                .expect("EVALSHA");
            assert_eq!(value(&r), Some(b"x".to_vec()));
            let r = router
                .send(&cmd(["EVAL", script, "1", k.as_str()]), &o)
                .await
                .expect("EVAL");
            assert_eq!(value(&r), Some(b"x".to_vec()));
        }
        let exists = router
            .send(&cmd(["SCRIPT", "EXISTS", sha.as_str(), "0000"]), &o)
            .await
            .expect("EXISTS");
        assert_eq!(
            exists,
            Frame::Array(vec![Frame::Integer(1), Frame::Integer(0)])
        );

        // Transactions: one slot is sent as one unit; cross-slot is refused before sending.
        let t = format!("{{{p}}}");
        let tx = [
            cmd(["SET", &format!("{t}a"), "1"]),
            cmd(["INCR", &format!("{t}a")]),
            cmd(["GET", &format!("{t}a")]),
        ];
        let exec = router.transaction(&tx, &o).await.expect("EXEC");
        assert_eq!(exec, Frame::Array(vec![ok(), Frame::Integer(2), bulk("2")]));
        let cross = [
            cmd(["SET", keys[0].as_str(), "1"]),
            cmd(["SET", keys[1].as_str(), "1"]),
        ];
        assert_eq!(
            router
                .transaction(&cross, &o)
                .await
                .map_err(|e| e.kind())
                .err(),
            Some(ErrorKind::CrossSlot)
        );
        let err = router
            .send(&cmd(["INCR", keys[0].as_str()]), &o)
            .await
            .expect("server error is data");
        assert!(err.is_error(), "{err:?}");
        // Commands that change a shared connection's state are refused before sending.
        let multi = router.send(&cmd(["MULTI"]), &o).await;
        assert_eq!(
            multi.map_err(|e| e.kind()).err(),
            Some(ErrorKind::InvalidInput)
        );
        let mixed = router
            .pipeline(
                &[
                    cmd(["GET", keys[0].as_str()]),
                    cmd(["WATCH", keys[0].as_str()]),
                ],
                &o,
            )
            .await;
        assert_eq!(mixed[0].as_ref().ok(), Some(&bulk("x")));
        assert_eq!(
            mixed[1].as_ref().map_err(|e| e.kind()).err(),
            Some(ErrorKind::InvalidInput)
        );
        // The connection is still usable (nothing was queued in a stray MULTI).
        assert_eq!(
            value(
                &router
                    .send(&cmd(["GET", keys[1].as_str()]), &o)
                    .await
                    .expect("GET")
            ),
            Some(b"x".to_vec())
        );
        assert_eq!(router.stats().moved, 0);
    });
}

#[test]
fn a_scan_call_returns_by_its_deadline_when_nothing_matches() {
    // Regression: pages without a match were walked past the call's deadline, so one call could walk
    // the whole keyspace, or end in a spurious Timeout on a healthy cluster.
    let seeds = seeds();
    run(Duration::from_secs(60), async move {
        let mut config = cluster_router::RouterConfig::new(seeds);
        config.default_timeout = Duration::from_millis(100);
        let router = Router::connect(config).await.expect("router");
        let p = prefix("scandl");
        let sets: Vec<_> = (0..20_000)
            .map(|i| cmd(["SET", format!("{p}{i}").as_str(), "x"]))
            .collect();
        let o = SendOptions::with_timeout(Duration::from_secs(20));
        for chunk in sets.chunks(1000) {
            assert!(router.pipeline(chunk, &o).await.iter().all(Result::is_ok));
        }
        let nothing = format!("{p}nothing*");
        let mut scan = router.scan(Some(Bytes::from(nothing)), Some(1));
        let (mut calls, mut empty_calls) = (0, 0);
        let walk = tokio::time::Instant::now();
        loop {
            let started = tokio::time::Instant::now();
            let batch = scan
                .next_batch()
                .await
                .expect("no error from a healthy cluster");
            let took = started.elapsed();
            // The deadline, plus the last page's round trip on a busy machine.
            assert!(took < Duration::from_millis(600), "a call took {took:?}");
            calls += 1;
            match batch {
                Some(keys) => {
                    assert!(keys.is_empty(), "nothing matches: {keys:?}");
                    empty_calls += 1;
                }
                None => break,
            }
            assert!(walk.elapsed() < Duration::from_secs(40), "the walk ends");
        }
        // The walk needed more than one call's deadline, so some calls stopped early with an empty batch.
        assert!(empty_calls > 0, "{calls} calls");
    });
}

#[test]
fn learned_commands_route_by_key_and_detection_works() {
    let seeds = seeds();
    let standalone = shared_server().addr();
    run(Duration::from_secs(60), async move {
        let conn = multiplexer::ConnectionConfig::new("");
        assert!(Router::is_cluster(&seeds[0], &conn).await.expect("cluster"));
        assert!(
            !Router::is_cluster(&standalone, &conn)
                .await
                .expect("standalone")
        );
        let router = connect(seeds).await;
        let o = router.options();
        // SPUBLISH is not in the static table: its key position comes from the COMMAND reply,
        // so it goes straight to the shard's master (no MOVED).
        for i in 0..200 {
            let ch = format!("chan{i}");
            let r = router
                .send(&cmd(["SPUBLISH", ch.as_str(), "m"]), &o)
                .await
                .expect("SPUBLISH");
            assert_eq!(r, Frame::Integer(0));
        }
        assert_eq!(router.stats().moved, 0);
    });
}

#[test]
fn one_seed_down_does_not_prevent_start_up() {
    let mut seeds = seeds();
    // A port nothing listens on (bound then dropped), first in the list.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .to_string();
    seeds.insert(0, dead);
    run(Duration::from_secs(30), async move {
        let router = connect(seeds).await;
        assert_eq!(router.masters().len(), 3);
        let r = router
            .send(&cmd(["SET", "seed-test", "1"]), &router.options())
            .await
            .expect("SET");
        assert_eq!(r, ok());
        let weak_check = router.clone();
        drop(router);
        drop(weak_check);
    });
}

#[test]
fn reads_go_to_replicas_when_asked() {
    let cluster = shared_cluster();
    let seeds = seeds();
    let replica_gets = || -> i64 {
        cluster
            .nodes()
            .iter()
            .filter(|n| n.role().ok() == Some(test_support::Role::Replica))
            .map(|n| {
                let info = n.cli(&["INFO", "commandstats"]).unwrap_or_default();
                info.lines()
                    .find_map(|l| l.strip_prefix("cmdstat_get:calls="))
                    .and_then(|rest| rest.split(',').next())
                    .and_then(|n| n.parse::<i64>().ok())
                    .unwrap_or(0)
            })
            .sum()
    };
    let before = replica_gets();
    run(Duration::from_secs(30), async move {
        let writer = connect(seeds.clone()).await;
        let mut config = cluster_router::RouterConfig::new(seeds);
        config.read_from_replicas = true;
        let reader = Router::connect(config).await.expect("connect");
        let p = prefix("replica");
        let keys: Vec<String> = (0..100).map(|i| format!("{p}{i}")).collect();
        let sets: Vec<_> = keys.iter().map(|k| cmd(["SET", k.as_str(), "r"])).collect();
        assert!(
            writer
                .pipeline(&sets, &writer.options())
                .await
                .iter()
                .all(Result::is_ok)
        );
        // Writes through a replica-reading router still reach the masters.
        assert_eq!(
            reader
                .send(&cmd(["SET", keys[0].as_str(), "r"]), &reader.options())
                .await
                .expect("SET"),
            ok()
        );
        // Replication is asynchronous: give it a moment before reading from replicas.
        tokio::time::sleep(Duration::from_millis(300)).await;
        for k in &keys {
            let got = reader
                .send(&cmd(["GET", k.as_str()]), &reader.options())
                .await
                .expect("GET");
            assert_eq!(value(&got), Some(b"r".to_vec()), "{k}");
        }
    });
    assert!(
        replica_gets() - before >= 100,
        "GETs were served by replicas"
    );
}

/// A router whose connections carry a client name of their own, and a count of that name's connections
/// over the masters (`CLIENT LIST`, on connections of the test's own).
async fn named_router(tag: &str) -> (Router, NamedConnections) {
    let name = format!("{tag}{:08x}", rand::random::<u32>());
    let mut config = cluster_router::RouterConfig::new(seeds());
    config.connection = multiplexer::ConnectionConfig::new("").client_name(name.as_str());
    let router = Router::connect(config).await.expect("connect");
    (router, NamedConnections(format!("name={name} ")))
}

struct NamedConnections(String);

impl NamedConnections {
    async fn count(&self) -> usize {
        let pattern = self.0.clone();
        tokio::task::spawn_blocking(move || {
            shared_cluster()
                .masters()
                .iter()
                .map(|n| {
                    n.cli(&["CLIENT", "LIST"])
                        .unwrap_or_default()
                        .matches(&pattern)
                        .count()
                })
                .sum()
        })
        .await
        .expect("join")
    }

    /// Waits up to 5 s for every one of them to be gone.
    async fn wait_all_closed(&self, after: &str) {
        let end = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let n = self.count().await;
            if n == 0 {
                return;
            }
            assert!(
                std::time::Instant::now() < end,
                "{n} connections still open after {after}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[test]
fn dropping_the_last_handle_closes_every_connection() {
    run(Duration::from_secs(30), async move {
        let (router, connections) = named_router("drop").await;
        let clone = router.clone();
        router
            .send(&cmd(["SET", "drop-test", "1"]), &router.options())
            .await
            .expect("SET");
        assert_eq!(connections.count().await, 3, "one connection per master");
        drop(router);
        drop(clone);
        connections.wait_all_closed("drop").await;
    });
}

#[test]
fn close_closes_every_connection_and_nothing_is_retried() {
    run(Duration::from_secs(30), async move {
        let (router, connections) = named_router("close").await;
        let clone = router.clone();
        let stream = prefix("close-stream");
        // Read-only, so re-sending it is safe: after the close it must still not be retried.
        let xread = {
            let router = router.clone();
            tokio::spawn(async move {
                let read = cmd(["XREAD", "BLOCK", "10000", "STREAMS", stream.as_str(), "$"]);
                router
                    .send(&read, &SendOptions::with_timeout(Duration::from_secs(15)))
                    .await
            })
        };
        let until = tokio::time::Instant::now() + Duration::from_secs(3);
        while router.stats().blocking_connections != 1 {
            assert!(tokio::time::Instant::now() < until, "XREAD never started");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(
            connections.count().await,
            4,
            "one connection per master and the XREAD's own"
        );

        let started = tokio::time::Instant::now();
        router.close();
        let err = xread.await.expect("join").expect_err("XREAD after close");
        // Written by now, almost always, so it may have been served just before: `Indeterminate`; a close
        // that wins the race with the write finds it unsent: `Closed`.
        assert!(
            matches!(err.kind(), ErrorKind::Indeterminate | ErrorKind::Closed),
            "{err}"
        );
        let err = clone
            .send(&cmd(["GET", "close-test"]), &clone.options())
            .await
            .expect_err("GET after close");
        assert_eq!(err.kind(), ErrorKind::Closed, "{err}");
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "retried after close: {:?}",
            started.elapsed()
        );
        // A scan ends at once too, instead of re-resolving its node until its deadline.
        let err = clone
            .scan(None, None)
            .next_batch()
            .await
            .expect_err("SCAN after close");
        assert_eq!(err.kind(), ErrorKind::Closed, "{err}");
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "retried after close: {:?}",
            started.elapsed()
        );
        assert_eq!(router.stats().blocking_connections, 0);
        connections.wait_all_closed("close").await;
    });
}

#[test]
fn a_blocking_command_does_not_stall_other_callers() {
    let seeds = seeds();
    run(Duration::from_secs(30), async move {
        let router = connect(seeds).await;
        let p = prefix("blk");
        // One hash tag: the list and the other key live on the same node, so the same shared connection.
        let (list, other) = (format!("{{{p}}}list"), format!("{{{p}}}other"));
        let o = router.options();
        router
            .send(&cmd(["SET", other.as_str(), "v"]), &o)
            .await
            .expect("SET");
        let blpop = {
            let (router, list) = (router.clone(), list.clone());
            tokio::spawn(async move {
                let started = tokio::time::Instant::now();
                let r = router
                    .send(
                        &cmd(["BLPOP", list.as_str(), "1"]),
                        &SendOptions::with_timeout(Duration::from_secs(3)),
                    )
                    .await;
                (r, started.elapsed())
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = tokio::time::Instant::now();
        for _ in 0..50 {
            let got = router
                .send(&cmd(["GET", other.as_str()]), &o)
                .await
                .expect("GET");
            assert_eq!(value(&got), Some(b"v".to_vec()));
        }
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "GETs waited behind BLPOP: {:?}",
            started.elapsed()
        );
        let (r, took) = blpop.await.expect("join");
        let r = r.expect("BLPOP");
        assert!(matches!(r, Frame::Null | Frame::NullArray), "{r:?}");
        assert!(
            took >= Duration::from_millis(900),
            "BLPOP blocked for its timeout: {took:?}"
        );

        // And it still gets the data when it arrives.
        let blpop = {
            let (router, list) = (router.clone(), list.clone());
            tokio::spawn(async move {
                router
                    .send(
                        &cmd(["BLPOP", list.as_str(), "2"]),
                        &SendOptions::with_timeout(Duration::from_secs(4)),
                    )
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        router
            .send(&cmd(["RPUSH", list.as_str(), "item"]), &o)
            .await
            .expect("RPUSH");
        let r = blpop.await.expect("join").expect("BLPOP");
        assert_eq!(r, Frame::Array(vec![bulk(list.clone()), bulk("item")]));
    });
}

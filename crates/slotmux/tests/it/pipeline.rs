//! Pipelines: one write, one result per command, server errors per command.

use std::time::Duration;

use slotmux::{Bytes, Cmd, ErrorKind, Pipeline, Value};

use crate::{key, run, shared_client};

#[test]
fn server_error_inside_a_pipeline_is_reported_for_that_command_only() {
    run(Duration::from_secs(20), async {
        let c = shared_client().await;
        let k = key("pipeline-errors");
        let p = Pipeline::new()
            .cmd(Cmd::new("SET").arg(&k).arg("text"))
            .cmd(Cmd::new("INCR").arg(&k))
            .cmd(Cmd::new("GET").arg(&k))
            .cmd(Cmd::new("LPUSH").arg(&k).arg("x"))
            .cmd(Cmd::new("APPEND").arg(&k).arg("!"))
            .cmd(Cmd::new("DEL").arg(&k));
        let replies = c.pipeline(&p).await.expect("pipeline sent");
        assert_eq!(replies.len(), 6);
        let mut it = replies.into_iter();
        let mut next = || it.next().expect("one reply per command");
        assert_eq!(
            next().expect("SET"),
            Value::Status(Bytes::from_static(b"OK"))
        );
        let incr = next().expect_err("INCR on text");
        assert_eq!(incr.kind(), ErrorKind::Server);
        assert_eq!(incr.server_code(), Some("ERR"));
        assert!(incr.to_string().contains("not an integer"), "{incr}");
        assert_eq!(
            next().expect("GET"),
            Value::Bulk(Bytes::from_static(b"text"))
        );
        let lpush = next().expect_err("LPUSH on a string");
        assert_eq!(lpush.server_code(), Some("WRONGTYPE"));
        assert_eq!(next().expect("APPEND"), Value::Int(5));
        assert_eq!(next().expect("DEL"), Value::Int(1));
    });
}

#[test]
fn pipelines_are_reusable_and_ordered() {
    run(Duration::from_secs(20), async {
        let c = shared_client().await;
        let k = key("pipeline-order");
        let mut p = Pipeline::with_capacity(1000);
        for _ in 0..1000 {
            p.push(Cmd::new("INCR").arg(&k));
        }
        assert_eq!(p.len(), 1000);
        for round in 0..3i64 {
            let replies = c.pipeline(&p).await.expect("pipeline sent");
            let got: Vec<i64> = replies
                .into_iter()
                .map(|r| match r {
                    Ok(Value::Int(n)) => n,
                    other => panic!("INCR reply {other:?}"),
                })
                .collect();
            let expected: Vec<i64> = (round * 1000 + 1..=round * 1000 + 1000).collect();
            assert_eq!(got, expected, "round {round}");
        }
        assert!(
            c.pipeline(&Pipeline::new())
                .await
                .expect("empty")
                .is_empty()
        );
        c.del(&k).await.expect("clean up");
    });
}

/// A pipeline longer than a connection's slot pool (2048 by default): 20,000 INCRs of one key (one
/// node) and 20,000 SETs and GETs over every slot, each reply in its place, on one server and a
/// cluster (regression: the batch failed whole with `Busy`, and the cluster retried it one by one).
#[test]
fn a_pipeline_longer_than_the_slot_pool_keeps_its_order() {
    let targets = crate::server_and_cluster();
    run(Duration::from_secs(60), async move {
        for (what, builder) in targets {
            let c = builder.build().await.expect(what);
            let k = key(&format!("long-pipeline:{what}"));
            c.del(&k).await.expect("clean up");
            let incrs = (0..20_000).fold(Pipeline::new(), |p, _| p.cmd(Cmd::new("INCR").arg(&k)));
            let got: Vec<i64> = c
                .pipeline(&incrs)
                .await
                .expect(what)
                .into_iter()
                .map(|r| match r {
                    Ok(Value::Int(n)) => n,
                    other => panic!("{what}: INCR reply {other:?}"),
                })
                .collect();
            assert_eq!(got, (1..=20_000).collect::<Vec<i64>>(), "{what}");

            let keys: Vec<String> = (0..10_000)
                .map(|i| key(&format!("long-pipeline:{what}:{i}")))
                .collect();
            let mut p = Pipeline::new();
            for (i, k) in keys.iter().enumerate() {
                p = p.cmd(Cmd::new("SET").arg(k).arg(i));
            }
            for k in &keys {
                p = p.cmd(Cmd::new("GET").arg(k));
            }
            let replies = c.pipeline(&p).await.expect(what);
            assert_eq!(replies.len(), 20_000);
            for (i, r) in replies.into_iter().enumerate() {
                let r = r.unwrap_or_else(|e| panic!("{what}: command {i}: {e}"));
                if i < 10_000 {
                    assert_eq!(
                        r,
                        Value::Status(Bytes::from_static(b"OK")),
                        "{what}: SET {i}"
                    );
                } else {
                    let n = (i - 10_000).to_string();
                    assert_eq!(r, Value::Bulk(Bytes::from(n)), "{what}: GET {i}");
                }
            }
            c.del(&k).await.expect("clean up");
        }
    });
}

//! Cancellation: callers dropping their futures at random points never receive another caller's reply.

use std::time::Duration;

use multiplexer::{ConnectionConfig, Multiplexer};
use rand::Rng;
use resp_codec::Frame;
use tokio::time::Instant;

use crate::{bounded, cmd, eventually};

/// About half of all futures are dropped mid-flight (timeout with tiny durations, or select! against a
/// sleep). Each task only ever reads its own key, whose values carry the task's id, so any reply handed
/// to the wrong caller shows up as a foreign value or a wrong reply type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_futures_never_get_someone_elses_reply() {
    bounded(Duration::from_secs(40), async {
        let mux = Multiplexer::connect(
            ConnectionConfig::new(test_support::shared_server().addr())
                .command_timeout(Duration::from_secs(5)),
        )
        .await
        .unwrap();
        let run_for = Duration::from_secs(10);
        let stop_at = Instant::now() + run_for;
        let tasks: Vec<_> = (0..256u32)
            .map(|id| {
                let mux = mux.clone();
                tokio::spawn(async move {
                    let key = format!("cancel:{id}");
                    let mut latest_set = 0u64;
                    let (mut done, mut dropped) = (0u64, 0u64);
                    while Instant::now() < stop_at {
                        latest_set += 1;
                        let value = format!("{id}:{latest_set}");
                        let set = cmd(["SET", &key, &value]);
                        let get = cmd(["GET", &key]);
                        // Budgets from 0 to ~300 µs: about half of the commands outlive them.
                        let budget = Duration::from_micros(rand::rng().random_range(0..300));
                        let set_result = if rand::rng().random_bool(0.5) {
                            tokio::time::timeout(budget, mux.send(&set)).await.ok()
                        } else {
                            tokio::select! {
                                r = mux.send(&set) => Some(r),
                                () = tokio::time::sleep(budget) => None,
                            }
                        };
                        match set_result {
                            Some(r) => {
                                assert_eq!(r.unwrap(), Frame::SimpleString("OK".into()));
                                done += 1;
                            }
                            None => dropped += 1,
                        }
                        let budget = Duration::from_micros(rand::rng().random_range(0..300));
                        match tokio::time::timeout(budget, mux.send(&get)).await {
                            Ok(r) => {
                                done += 1;
                                match r.unwrap() {
                                    Frame::BulkString(v) => {
                                        let v = std::str::from_utf8(&v).unwrap();
                                        let (owner, n) = v.split_once(':').unwrap();
                                        assert_eq!(owner, id.to_string(), "foreign value {v}");
                                        let n: u64 = n.parse().unwrap();
                                        assert!(n <= latest_set, "value from the future: {v}");
                                    }
                                    // Only before the first SET ever reached the server.
                                    Frame::Null => {}
                                    other => panic!("wrong reply type for GET: {other:?}"),
                                }
                            }
                            Err(_) => dropped += 1,
                        }
                    }
                    (done, dropped)
                })
            })
            .collect();
        let (mut done, mut dropped) = (0, 0);
        for task in tasks {
            let (d, x) = task.await.unwrap();
            done += d;
            dropped += x;
        }
        let total = done + dropped;
        assert!(
            total > 10_000,
            "too little traffic to mean anything: {total}"
        );
        let dropped_share = dropped as f64 / total as f64;
        // Tokio's timer fires on 1 ms ticks, so the share depends on how fast replies come back more
        // than on the budgets: about 20% on 2 cores since the writer batches bursts into one write.
        // Both outcomes must still be common for the test to mean anything.
        assert!(
            (0.1..0.9).contains(&dropped_share),
            "aim for about half dropped: {dropped} of {total}"
        );
        eventually(|| mux.in_flight() == 0).await;
        assert_eq!(
            mux.send(&cmd(["PING"])).await.unwrap(),
            Frame::SimpleString("PONG".into())
        );
        println!("cancellation: {done} completed, {dropped} dropped");
    })
    .await;
}

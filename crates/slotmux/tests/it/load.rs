//! Many tasks on one client: every task gets its own values back, nobody hangs.

use std::time::{Duration, Instant};

use slotmux::Bytes;
use test_support::Server;

use crate::run_serial;

/// The numbers: 10,000 concurrent tasks, 100 GET/SET pairs each (1M SET + 1M GET).
const TASKS: usize = 10_000;
const PAIRS: usize = 100;

#[test]
fn ten_thousand_tasks_get_their_own_values() {
    // An own server: a million writes would slow every other test sharing one.
    let server = Server::start().expect("server");
    let elapsed = run_serial(Duration::from_secs(120), async {
        // Default settings: a 1 s deadline per command, 1024 in flight + 1024 queued on one connection,
        // so most of the 10,000 tasks wait for a slot and must get one in turn.
        let client = slotmux::Client::connect(&server.url())
            .await
            .expect("connect");
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for t in 0..TASKS {
            let client = client.clone();
            tasks.spawn(async move {
                let key = format!("load:{t}");
                for i in 0..PAIRS {
                    let value = format!("{t}:{i}");
                    client
                        .set(&key, &value)
                        .await
                        .map_err(|e| format!("task {t} SET {i}: {e}"))?;
                    let got = client
                        .get(&key)
                        .await
                        .map_err(|e| format!("task {t} GET {i}: {e}"))?;
                    if got.as_deref() != Some(value.as_bytes()) {
                        return Err(format!("task {t} pair {i}: wanted {value:?}, got {got:?}"));
                    }
                }
                Ok::<(), String>(())
            });
        }
        let mut failures = Vec::new();
        while let Some(done) = tasks.join_next().await {
            if let Err(e) = done.expect("task panicked") {
                failures.push(e);
            }
        }
        let elapsed = start.elapsed();
        assert!(
            failures.is_empty(),
            "{} tasks failed, first: {:?}",
            failures.len(),
            failures.first()
        );
        assert_eq!(client.in_flight(), 0);
        // Every key holds the last value its task wrote.
        let keys: Vec<String> = (0..TASKS)
            .step_by(997)
            .map(|t| format!("load:{t}"))
            .collect();
        let values = client.mget(&keys).await.expect("mget");
        for (t, v) in (0..TASKS).step_by(997).zip(values) {
            assert_eq!(v, Some(Bytes::from(format!("{t}:{}", PAIRS - 1))));
        }
        elapsed
    });
    let ops = (TASKS * PAIRS * 2) as f64;
    eprintln!(
        "load: {TASKS} tasks x {PAIRS} GET/SET pairs in {elapsed:.2?} ({:.0} ops/s)",
        ops / elapsed.as_secs_f64()
    );
}

//! Faults on an own server: a crash with commands in flight, a hung server, a client that keeps submitting.

use std::time::{Duration, Instant};

use slotmux::{Client, Cmd, ErrorKind};
use test_support::Server;

use crate::{eventually, run_serial};

/// Scheduling slack on a loaded two-core machine, on top of the multiplexer's 10 ms deadline tick.
const MARGIN: Duration = Duration::from_millis(300);

#[test]
fn server_killed_with_1000_commands_in_flight() {
    let server = Server::start().expect("server");
    let timeout = Duration::from_secs(3);
    run_serial(Duration::from_secs(60), async {
        let client = Client::builder()
            .url(&server.url())
            .command_timeout(timeout)
            .build()
            .await
            .expect("connect");
        client.set("k", "before").await.expect("set");
        // DEBUG SLEEP holds the server, so the 1000 commands behind it are surely in flight when it dies.
        let sleeper = {
            let client = client.clone();
            tokio::spawn(async move { client.send(Cmd::new("DEBUG").arg("SLEEP").arg(10)).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..1000 {
            let client = client.clone();
            tasks.spawn(async move {
                let r = if i % 2 == 0 {
                    client.get("k").await.map(drop)
                } else {
                    client.incr("n").await.map(drop)
                };
                (r, Instant::now())
            });
        }
        eventually(Duration::from_secs(2), || client.in_flight() >= 1000).await;
        server.kill();
        let mut kinds = std::collections::HashMap::new();
        while let Some(done) = tasks.join_next().await {
            let (r, at) = done.expect("task panicked");
            let err = r.expect_err("the server died before answering");
            assert!(
                err.is_connection(),
                "wanted a connection error, got {err} ({err:?})"
            );
            // The multiplexer cannot know whether a written command ran: Indeterminate, never a quiet retry.
            assert!(
                at.duration_since(start) < timeout,
                "resolved only after {:?}",
                at.duration_since(start)
            );
            *kinds.entry(err.kind()).or_insert(0) += 1;
        }
        let err = sleeper
            .await
            .expect("sleeper")
            .expect_err("DEBUG SLEEP cut short");
        assert!(err.is_connection(), "{err}");
        eprintln!(
            "kill: 1000 in-flight commands resolved as {kinds:?} in {:?}",
            start.elapsed()
        );
        assert_eq!(client.in_flight(), 0);

        // While the server is down, commands fail fast rather than hang.
        let t = Instant::now();
        let err = client.get("k").await.expect_err("server down");
        assert!(err.is_connection() || err.is_timeout(), "{err}");
        assert!(t.elapsed() <= timeout + MARGIN);

        server.restart().expect("restart");
        // The same client reconnects by itself (reconnect backoff is capped at 2 s).
        let t = Instant::now();
        loop {
            match client.ping().await {
                Ok(()) => break,
                Err(e) => {
                    assert!(
                        t.elapsed() < Duration::from_secs(10),
                        "no reconnect within 10 s: {e}"
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        client.set("k", "after").await.expect("set after restart");
        assert_eq!(
            client.get("k").await.expect("get").as_deref(),
            Some(&b"after"[..])
        );
        eprintln!("kill: reconnected {:?} after restart", t.elapsed());
    });
}

#[test]
fn hung_server_times_out_at_the_bound_and_stays_bounded() {
    let server = Server::start().expect("server");
    let timeout = Duration::from_millis(500);
    let (max_in_flight, max_queued) = (64, 64);
    run_serial(Duration::from_secs(60), async {
        let client = Client::builder()
            .url(&server.url())
            .command_timeout(timeout)
            .max_in_flight(max_in_flight)
            .max_queued(max_queued)
            .build()
            .await
            .expect("connect");
        client.set("k", "v").await.expect("set");

        server.stop_signal();
        let start = Instant::now();
        let err = client.get("k").await.expect_err("hung server");
        let elapsed = start.elapsed();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
        assert!(err.is_timeout());
        assert!(
            elapsed >= timeout && elapsed <= timeout + MARGIN,
            "timed out after {elapsed:?}, bound {timeout:?}"
        );

        // Keep submitting for 3 s from 200 tasks: every call ends by its deadline with Timeout or Busy,
        // and the client's in-flight count never exceeds its bound.
        let rss_before = rss_kib();
        let stop_at = Instant::now() + Duration::from_secs(3);
        let mut tasks = tokio::task::JoinSet::new();
        for t in 0..200 {
            let client = client.clone();
            tasks.spawn(async move {
                let mut kinds = Vec::new();
                while Instant::now() < stop_at {
                    let started = Instant::now();
                    let r = client.set(format!("k{t}"), "x".repeat(1000)).await;
                    let took = started.elapsed();
                    match r {
                        Ok(()) => panic!("a stopped server answered"),
                        Err(e) => kinds.push((e.kind(), took)),
                    }
                }
                kinds
            });
        }
        let mut max_seen = 0;
        while Instant::now() < stop_at {
            max_seen = max_seen.max(client.in_flight());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut counts = std::collections::HashMap::new();
        while let Some(done) = tasks.join_next().await {
            for (kind, took) in done.expect("task panicked") {
                assert!(
                    matches!(kind, ErrorKind::Timeout | ErrorKind::Busy),
                    "unexpected {kind:?}"
                );
                assert!(took <= timeout + MARGIN, "{kind:?} after {took:?}");
                *counts.entry(kind).or_insert(0usize) += 1;
            }
        }
        let rss_after = rss_kib();
        eprintln!(
            "hung: {counts:?}, max in flight {max_seen}, RSS {rss_before} -> {rss_after} KiB"
        );
        let bound = max_in_flight + max_queued;
        assert!(
            max_seen <= bound,
            "{max_seen} commands held, above the bound {bound}"
        );
        // Bounded memory: thousands of rejected 1 KB commands must not pile up.
        assert!(
            rss_after.saturating_sub(rss_before) < 64 * 1024,
            "RSS grew {rss_before} -> {rss_after} KiB"
        );

        server.cont_signal();
        // The server answers the stale commands; nobody waits for them, and the count returns to zero.
        eventually(Duration::from_secs(10), || client.in_flight() == 0).await;
        client.set("k", "again").await.expect("works after SIGCONT");
        assert_eq!(
            client.get("k").await.expect("get").as_deref(),
            Some(&b"again"[..])
        );
    });
}

#[test]
fn slow_command_times_out_at_the_bound() {
    let server = Server::start().expect("server");
    let timeout = Duration::from_millis(300);
    run_serial(Duration::from_secs(30), async {
        let client = Client::builder()
            .url(&server.url())
            .command_timeout(timeout)
            .build()
            .await
            .expect("connect");
        let start = Instant::now();
        let err = client
            .send(Cmd::new("DEBUG").arg("SLEEP").arg(1))
            .await
            .expect_err("DEBUG SLEEP 1 outlasts the timeout");
        let elapsed = start.elapsed();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
        assert!(err.may_have_executed());
        assert!(
            elapsed >= timeout && elapsed <= timeout + MARGIN,
            "{elapsed:?}"
        );
        // The late reply is discarded: the next caller gets its own reply, not DEBUG's +OK.
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(
            client
                .send(Cmd::new("ECHO").arg("mine"))
                .await
                .expect("echo"),
            slotmux::Value::Bulk(slotmux::Bytes::from_static(b"mine"))
        );
        eventually(Duration::from_secs(5), || client.in_flight() == 0).await;
    });
}

/// Resident memory of this process in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

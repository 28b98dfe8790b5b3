//! Faults on a real redis-server: SIGKILL with commands in flight, SIGSTOP (hung server), restart.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use multiplexer::{ConnectionConfig, ErrorKind, Multiplexer, SilenceHook};
use resp_codec::Frame;
use test_support::Server;
use tokio::time::Instant;

use crate::{bounded, bulk, cmd, eventually};

async fn start_server() -> Arc<Server> {
    let server = tokio::task::spawn_blocking(Server::start)
        .await
        .unwrap()
        .expect("start redis-server");
    Arc::new(server)
}

async fn blocking<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// SIGKILL with 1,000 commands in flight: every future resolves with a connection error well within
/// its deadline; commands sent while down fail fast as never sent; after a restart the same
/// Multiplexer works again and its in-flight count is back to zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_with_commands_in_flight_then_restart() {
    bounded(Duration::from_secs(60), async {
        let server = start_server().await;
        let timeout = Duration::from_secs(5);
        let mux = Multiplexer::connect(
            ConnectionConfig::new(server.addr())
                .command_timeout(timeout)
                .max_in_flight(2048),
        )
        .await
        .unwrap();
        // Freeze the server so the commands stay in flight (written, unanswered) until the kill.
        server.stop_signal();
        let started = Instant::now();
        let tasks: Vec<_> = (0..1000)
            .map(|i| {
                let mux = mux.clone();
                tokio::spawn(
                    async move { mux.send(&cmd(["INCR", &format!("faults:kill:{i}")])).await },
                )
            })
            .collect();
        eventually(|| mux.in_flight() == 1000).await;
        // Let the writer put them on the wire.
        tokio::time::sleep(Duration::from_millis(100)).await;
        {
            let server = server.clone();
            blocking(move || server.kill()).await;
        }
        let mut indeterminate = 0;
        for task in tasks {
            let err = task.await.unwrap().unwrap_err();
            assert!(err.is_connection(), "{err}");
            // Written (the common case) or still queued behind the writer at the kill.
            match err.kind() {
                ErrorKind::ConnectionIndeterminate => {
                    assert!(err.may_have_been_sent());
                    indeterminate += 1;
                }
                ErrorKind::ConnectionNotSent => assert!(!err.may_have_been_sent()),
                other => panic!("unexpected {other:?}: {err}"),
            }
        }
        assert!(indeterminate > 0);
        assert!(
            started.elapsed() < timeout,
            "resolved by the connection error, not the deadline"
        );
        eventually(|| mux.in_flight() == 0).await;
        eventually(|| !mux.is_connected()).await;
        // Down: fail fast, provably not sent.
        let t = Instant::now();
        let err = mux.send(&cmd(["PING"])).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionNotSent, "{err}");
        assert!(!err.may_have_been_sent());
        assert!(t.elapsed() < Duration::from_millis(100));

        {
            let server = server.clone();
            blocking(move || server.restart()).await.unwrap();
        }
        eventually(|| mux.is_connected()).await;
        assert_eq!(
            mux.send(&cmd(["PING"])).await.unwrap(),
            Frame::SimpleString("PONG".into())
        );
        let stats = mux.stats();
        assert_eq!((stats.disconnects, stats.reconnects), (1, 1), "{stats:?}");
        assert_eq!(mux.in_flight(), 0);
    })
    .await;
}

/// wait_for_reconnect: commands sent while the server is down wait for the reconnect (within their
/// deadline) instead of failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_reconnect_holds_commands() {
    bounded(Duration::from_secs(60), async {
        let server = start_server().await;
        let mux = Multiplexer::connect(
            ConnectionConfig::new(server.addr())
                .command_timeout(Duration::from_secs(10))
                .wait_for_reconnect(true)
                .reconnect_backoff_max(Duration::from_millis(100)),
        )
        .await
        .unwrap();
        mux.send(&cmd(["SET", "faults:wait", "1"])).await.unwrap();
        {
            let server = server.clone();
            blocking(move || server.kill()).await;
        }
        eventually(|| !mux.is_connected()).await;
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let mux = mux.clone();
                tokio::spawn(async move { mux.send(&cmd(["PING"])).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        {
            let server = server.clone();
            blocking(move || server.restart()).await.unwrap();
        }
        for task in tasks {
            assert_eq!(
                task.await.unwrap().unwrap(),
                Frame::SimpleString("PONG".into())
            );
        }
        // A deadline still bounds a command waiting for a server that does not come back.
        {
            let server = server.clone();
            blocking(move || server.kill()).await;
        }
        eventually(|| !mux.is_connected()).await;
        let t = Instant::now();
        let err = mux
            .send_by(&cmd(["PING"]), Instant::now() + Duration::from_millis(200))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
        assert!(
            t.elapsed() < Duration::from_millis(200 + 150),
            "{:?}",
            t.elapsed()
        );
        eventually(|| mux.in_flight() == 0).await;
    })
    .await;
}

/// A hung server (SIGSTOP): commands time out at the configured bound (plus one tick), while callers
/// keep submitting the connection's memory stays bounded (Busy or Timeout, never growth beyond the
/// slot pool), and after SIGCONT the connection recovers with nothing left over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigstop_times_out_bounded_then_recovers() {
    bounded(Duration::from_secs(60), async {
        let server = start_server().await;
        let timeout = Duration::from_millis(300);
        let mux = Multiplexer::connect(
            ConnectionConfig::new(server.addr())
                .command_timeout(timeout)
                .max_in_flight(64)
                .max_queued(64),
        )
        .await
        .unwrap();
        mux.send(&cmd(["SET", "faults:stop", "before"]))
            .await
            .unwrap();
        server.stop_signal();
        let stop_at = Instant::now() + Duration::from_millis(1500);
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let mux = mux.clone();
                tokio::spawn(async move {
                    let (mut timeouts, mut busy, mut worst) = (0u32, 0u32, Duration::ZERO);
                    while Instant::now() < stop_at {
                        let t = Instant::now();
                        match mux.send(&cmd(["GET", "faults:stop"])).await {
                            Err(e) if e.kind() == ErrorKind::Timeout => timeouts += 1,
                            Err(e) if e.kind() == ErrorKind::Busy => {
                                assert!(!e.may_have_been_sent());
                                busy += 1
                            }
                            other => panic!("unexpected while the server is stopped: {other:?}"),
                        }
                        worst = worst.max(t.elapsed());
                        assert!(mux.in_flight() <= 128, "bounded by the slot pool");
                    }
                    (timeouts, busy, worst)
                })
            })
            .collect();
        let (mut timeouts, mut busy, mut worst) = (0, 0, Duration::ZERO);
        for task in tasks {
            let (t, b, w) = task.await.unwrap();
            timeouts += t;
            busy += b;
            worst = worst.max(w);
        }
        assert!(timeouts > 0 && busy > 0, "timeouts {timeouts}, busy {busy}");
        // Deadline + one 10 ms tick, plus scheduling slack on a loaded 2-core machine.
        assert!(
            worst < timeout + Duration::from_millis(150),
            "worst {worst:?}"
        );
        assert!(mux.in_flight() <= 128);
        server.cont_signal();
        // The server answers everything it buffered; abandoned replies are discarded, slots come back.
        eventually(|| mux.in_flight() == 0).await;
        assert_eq!(
            mux.send(&cmd(["GET", "faults:stop"])).await.unwrap(),
            bulk("before")
        );
        let stats = mux.stats();
        assert_eq!(
            stats.disconnects, 0,
            "a hung server is not a lost connection: {stats:?}"
        );
    })
    .await;
}

/// The silence hook: called once a hung server has left a command unanswered for its `after`, then
/// again every `after` while callers keep writing to it, and no more once they stop or the server
/// answers. A blocking command on a dedicated connection made from the same settings never calls it,
/// nor does an idle connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_is_reported_until_it_answers() {
    bounded(Duration::from_secs(60), async {
        let server = start_server().await;
        let after = Duration::from_millis(200);
        let reports: Arc<std::sync::Mutex<Vec<Instant>>> = Arc::default();
        let hook = {
            let reports = reports.clone();
            SilenceHook::new(after, move || reports.lock().unwrap().push(Instant::now()))
        };
        let config = ConnectionConfig::new(server.addr())
            .command_timeout(Duration::from_secs(5))
            .on_silence(hook);
        let mux = Multiplexer::connect(config.clone()).await.unwrap();
        mux.send(&cmd(["SET", "faults:silent", "v"])).await.unwrap();

        // A BLPOP that blocks for 0.7 s, three times the hook's delay, while the shared connection idles.
        let dedicated = multiplexer::Dedicated::new();
        let popped = dedicated
            .send(
                config,
                &cmd(["BLPOP", "faults:silent:none", "0.7"]),
                Instant::now() + Duration::from_secs(5),
            )
            .await;
        assert!(matches!(popped, Ok(Frame::Null)), "{popped:?}");
        assert!(
            reports.lock().unwrap().is_empty(),
            "a blocking command is not silence"
        );

        server.stop_signal();
        let stopped = Instant::now();
        // Callers write for the first 0.7 s of a 1.5 s stop, one GET every 50 ms.
        let writing = Duration::from_millis(700);
        let gets = {
            let mux = mux.clone();
            tokio::spawn(async move {
                let mut sent = Vec::new();
                while stopped.elapsed() < writing {
                    let mux = mux.clone();
                    sent.push(tokio::spawn(async move {
                        mux.send(&cmd(["GET", "faults:silent"])).await
                    }));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                sent
            })
        };
        tokio::time::sleep(Duration::from_millis(1500)).await;
        server.cont_signal();
        for get in gets.await.unwrap() {
            assert_eq!(get.await.unwrap().unwrap(), bulk("v"));
        }
        let resumed = Instant::now();
        // Two ticks to see the stall, then `after`; then every `after` while GETs are written, so
        // about 0.21, 0.41, 0.61 and 0.81 s in (ticks of 10 ms, slack for a loaded machine), and none
        // once an `after` has passed with nothing written.
        let during: Vec<Duration> = reports
            .lock()
            .unwrap()
            .iter()
            .map(|t| *t - stopped)
            .collect();
        assert!(
            (3..=5).contains(&during.len()),
            "reports at {during:?} into a 1.5 s stop"
        );
        assert!(
            during
                .iter()
                .all(|d| *d < writing + after + Duration::from_millis(150)),
            "reports after the writes stopped: {during:?}"
        );
        assert!(
            during[0] >= after && during[0] < after + Duration::from_millis(200),
            "first report {:?}",
            during[0]
        );
        for pair in during.windows(2) {
            assert!(
                pair[1] - pair[0] >= after,
                "reports closer than `after`: {during:?}"
            );
        }
        // Answering again ends the reports, and a connection with nothing unanswered makes none.
        tokio::time::sleep(after * 3).await;
        let late = reports
            .lock()
            .unwrap()
            .iter()
            .filter(|t| **t > resumed)
            .count();
        assert_eq!(late, 0, "reports after the server answered again");
    })
    .await;
}

/// The silence hook keeps reporting while callers keep coming, also once the silent server holds
/// every slot and nothing more is written (regression: one report, then none while every new caller
/// failed with `Busy`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_with_every_slot_taken_is_still_reported() {
    bounded(Duration::from_secs(60), async {
        let server = start_server().await;
        let after = Duration::from_millis(100);
        let reports = Arc::new(AtomicUsize::new(0));
        let hook = {
            let reports = reports.clone();
            SilenceHook::new(after, move || {
                reports.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            })
        };
        let mux = Multiplexer::connect(
            ConnectionConfig::new(server.addr())
                .command_timeout(Duration::from_millis(300))
                .max_in_flight(2)
                .max_queued(2)
                .on_silence(hook),
        )
        .await
        .unwrap();
        mux.send(&cmd(["PING"])).await.unwrap();
        server.stop_signal();
        let until = Instant::now() + Duration::from_secs(1);
        let mut calls = Vec::new();
        while Instant::now() < until {
            let mux = mux.clone();
            calls.push(tokio::spawn(async move { mux.send(&cmd(["PING"])).await }));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut busy = 0;
        for call in calls {
            if let Err(e) = call.await.unwrap() {
                busy += usize::from(e.kind() == ErrorKind::Busy);
            }
        }
        server.cont_signal();
        let reports = reports.load(std::sync::atomic::Ordering::Relaxed);
        assert!(busy > 0, "the slots were all taken");
        // Due about 0.12 s in, then every 0.1 s while callers come: about 9 in a 1 s stop.
        assert!(reports >= 5, "{reports} reports in a 1 s stop");
    })
    .await;
}

/// CLIENT KILL closes the connection from the server side: the multiplexer reconnects by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_closes_connection_then_reconnect() {
    bounded(Duration::from_secs(30), async {
        let server = start_server().await;
        let mux = Multiplexer::connect(ConnectionConfig::new(server.addr()).client_name("victim"))
            .await
            .unwrap();
        mux.send(&cmd(["PING"])).await.unwrap();
        let killer = Multiplexer::connect(ConnectionConfig::new(server.addr()))
            .await
            .unwrap();
        let killed = killer
            .send(&cmd(["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]))
            .await
            .unwrap();
        assert_eq!(killed, Frame::Integer(1));
        eventually(|| mux.stats().reconnects == 1 && mux.is_connected()).await;
        assert_eq!(
            mux.send(&cmd(["CLIENT", "GETNAME"])).await.unwrap(),
            bulk("victim")
        );
    })
    .await;
}

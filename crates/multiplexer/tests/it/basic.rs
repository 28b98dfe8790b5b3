//! Round trips, concurrency, batches and set-up against a real redis-server.

use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use multiplexer::{ConnectionConfig, ErrorKind, Multiplexer, Pool, ProtocolVersion};
use resp_codec::{EncodedCommand, Frame};
use tokio::time::Instant;

use crate::{bounded, bulk, cmd, connect_shared};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip() {
    bounded(Duration::from_secs(20), async {
        let mux = connect_shared().await;
        assert_eq!(mux.protocol(), ProtocolVersion::Resp3);
        assert_eq!(
            mux.send(&cmd(["SET", "basic:rt", "v1"])).await.unwrap(),
            Frame::SimpleString("OK".into())
        );
        assert_eq!(
            mux.send(&cmd(["GET", "basic:rt"])).await.unwrap(),
            bulk("v1")
        );
        // A server error is data, not an Err.
        let reply = mux.send(&cmd(["NOSUCHCOMMAND"])).await.unwrap();
        assert!(reply.is_error(), "{reply:?}");
        assert_eq!(mux.in_flight(), 0);
        assert!(mux.is_connected());
    })
    .await;
}

/// 10,000 tasks x 10 commands on one connection, each checking its own values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_tasks_get_their_own_replies() {
    bounded(Duration::from_secs(60), async {
        let mux = Multiplexer::connect(
            ConnectionConfig::new(test_support::shared_server().addr())
                .command_timeout(Duration::from_secs(10)),
        )
        .await
        .unwrap();
        let mut tasks = Vec::new();
        for t in 0..10_000u32 {
            let mux = mux.clone();
            tasks.push(tokio::spawn(async move {
                let key = format!("basic:many:{t}");
                for i in 0..10u32 {
                    let value = format!("{t}-{i}");
                    let set = mux.send(&cmd(["SET", &key, &value])).await.unwrap();
                    assert_eq!(set, Frame::SimpleString("OK".into()));
                    assert_eq!(mux.send(&cmd(["GET", &key])).await.unwrap(), bulk(&value));
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(mux.in_flight(), 0);
        crate::eventually(|| mux.stats().commands == 200_000).await;
        let stats = mux.stats();
        assert!(
            stats.writes < stats.commands,
            "writes were batched: {stats:?}"
        );
    })
    .await;
}

/// Pipelines sent back to back from several tasks: each batch's replies in its own order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_back_to_back() {
    bounded(Duration::from_secs(30), async {
        let mux = connect_shared().await;
        let mut tasks = Vec::new();
        for t in 0..50u32 {
            let mux = mux.clone();
            tasks.push(tokio::spawn(async move {
                for round in 0..20u32 {
                    let key = format!("basic:batch:{t}");
                    let cmds = vec![
                        cmd(["DEL", &key]),
                        cmd(["RPUSH", &key, "a", "b"]),
                        cmd(["RPUSH", &key, &round.to_string()]),
                        cmd(["LRANGE", &key, "0", "-1"]),
                    ];
                    let deadline = Instant::now() + Duration::from_secs(5);
                    let out = mux.send_batch(&cmds, deadline).await;
                    let out: Vec<Frame> = out.into_iter().map(Result::unwrap).collect();
                    assert_eq!(out[1], Frame::Integer(2));
                    assert_eq!(out[2], Frame::Integer(3));
                    assert_eq!(
                        out[3],
                        Frame::Array(vec![bulk("a"), bulk("b"), bulk(&round.to_string())])
                    );
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert!(
            mux.send_batch::<EncodedCommand>(&[], Instant::now())
                .await
                .is_empty()
        );
        // MULTI..EXEC as one unit.
        let out = mux
            .send_batch(
                &[
                    cmd(["MULTI"]),
                    cmd(["SET", "basic:tx", "1"]),
                    cmd(["INCR", "basic:tx"]),
                    cmd(["EXEC"]),
                ],
                Instant::now() + Duration::from_secs(5),
            )
            .await;
        assert_eq!(
            out[3].as_ref().unwrap(),
            &Frame::Array(vec![Frame::SimpleString("OK".into()), Frame::Integer(2)])
        );
    })
    .await;
}

/// A batch larger than the slot pool fails whole with `Busy` and sends nothing; a pipeline of any
/// length goes in parts and returns every reply in order, while other callers keep being served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_longer_than_the_slot_pool_goes_in_parts() {
    bounded(Duration::from_secs(30), async {
        let mux = Multiplexer::connect(
            ConnectionConfig::new(test_support::shared_server().addr())
                .max_in_flight(64)
                .max_queued(64),
        )
        .await
        .unwrap();
        let soon = || Instant::now() + Duration::from_secs(10);
        let key = "basic:long-pipeline";
        mux.send(&cmd(["DEL", key])).await.unwrap();
        let incrs: Vec<EncodedCommand> = (0..129).map(|_| cmd(["INCR", key])).collect();
        let refused = mux.send_batch(&incrs, soon()).await;
        assert!(
            refused.iter().all(|r| r
                .as_ref()
                .is_err_and(|e| e.kind() == ErrorKind::Busy && !e.may_have_been_sent())),
            "{:?}",
            refused.first()
        );
        assert_eq!(mux.send(&cmd(["GET", key])).await.unwrap(), Frame::Null);

        let incrs: Vec<EncodedCommand> = (0..5000).map(|_| cmd(["INCR", key])).collect();
        let other = {
            let mux = mux.clone();
            tokio::spawn(async move {
                let mut served = 0;
                for _ in 0..200 {
                    mux.send(&cmd(["PING"]))
                        .await
                        .expect("another caller is served");
                    served += 1;
                }
                served
            })
        };
        let replies = mux.send_pipeline(&incrs, soon()).await;
        let counts: Vec<i64> = replies
            .into_iter()
            .map(|r| match r {
                Ok(Frame::Integer(n)) => n,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(counts, (1..=5000).collect::<Vec<i64>>());
        assert_eq!(other.await.unwrap(), 200);
        assert_eq!(mux.in_flight(), 0);
    })
    .await;
}

/// AUTH inside HELLO, SETNAME, SELECT, READONLY-less set-up; wrong password is a Setup error with the
/// server's text; RESP2 mode uses AUTH + CLIENT SETNAME.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_auth_name_select() {
    bounded(Duration::from_secs(30), async {
        let server = tokio::task::spawn_blocking(|| {
            let server = test_support::Server::start()?;
            // Set after start: the harness's readiness PING runs without a password.
            server.cli(&["CONFIG", "SET", "requirepass", "sekret"])?;
            anyhow::Ok(server)
        })
        .await
        .unwrap()
        .unwrap();
        let base = ConnectionConfig::new(server.addr())
            .password("sekret")
            .client_name("mux-test")
            .database(3);
        for protocol in [
            multiplexer::Protocol::Resp3WithFallback,
            multiplexer::Protocol::Resp2,
        ] {
            let mux = Multiplexer::connect(base.clone().protocol(protocol))
                .await
                .unwrap();
            let name = mux.send(&cmd(["CLIENT", "GETNAME"])).await.unwrap();
            assert_eq!(name, bulk("mux-test"));
            mux.send(&cmd(["SET", "basic:db", "three"])).await.unwrap();
            let expected = match protocol {
                multiplexer::Protocol::Resp2 => ProtocolVersion::Resp2,
                _ => ProtocolVersion::Resp3,
            };
            assert_eq!(mux.protocol(), expected);
        }
        // The key landed in db 3.
        let mux = Multiplexer::connect(ConnectionConfig::new(server.addr()).password("sekret"))
            .await
            .unwrap();
        assert_eq!(
            mux.send(&cmd(["GET", "basic:db"])).await.unwrap(),
            Frame::Null
        );
        for protocol in [
            multiplexer::Protocol::Resp3WithFallback,
            multiplexer::Protocol::Resp2,
        ] {
            let err = Multiplexer::connect(
                ConnectionConfig::new(server.addr())
                    .password("wrong")
                    .protocol(protocol),
            )
            .await
            .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Setup, "{err}");
            assert!(err.message().unwrap_or("").contains("WRONGPASS"), "{err}");
            assert!(!err.may_have_been_sent());
        }
        // Nothing listening: a Connect error.
        drop(server);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_round_robin() {
    bounded(Duration::from_secs(20), async {
        let pool = Pool::connect(
            ConnectionConfig::new(test_support::shared_server().addr()),
            3,
        )
        .await
        .unwrap();
        let pool = Arc::new(pool);
        for i in 0..30 {
            let v = i.to_string();
            pool.send(&cmd(["SET", "basic:pool", &v])).await.unwrap();
            assert_eq!(
                pool.send(&cmd(["GET", "basic:pool"])).await.unwrap(),
                bulk(&v)
            );
        }
        assert_eq!(pool.connections().len(), 3);
        for c in pool.connections() {
            assert!(c.stats().commands >= 10, "{:?}", c.stats());
        }
        // The reader bumps its counters after completing a read's replies: give it a moment.
        crate::eventually(|| pool.stats().commands == 60).await;
        assert_eq!(pool.in_flight(), 0);
        pool.close();
    })
    .await;
}

/// close() lets in-flight commands finish; later commands fail with Closed; the tasks end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_finishes_in_flight() {
    bounded(Duration::from_secs(20), async {
        let mux = connect_shared().await;
        let mut tasks = Vec::new();
        for i in 0..200 {
            let mux = mux.clone();
            tasks.push(tokio::spawn(async move {
                // Sends until the connection is closed; every command either succeeds or is refused
                // with Closed (never a timeout or a connection error).
                let mut ok = 0u32;
                loop {
                    match mux
                        .send(&cmd(["SET", &format!("basic:close:{i}"), "x"]))
                        .await
                    {
                        Ok(reply) => {
                            assert_eq!(reply, Frame::SimpleString("OK".into()));
                            ok += 1;
                        }
                        Err(e) => {
                            assert_eq!(e.kind(), ErrorKind::Closed, "{e}");
                            return ok;
                        }
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        mux.close();
        let mut ok = 0;
        for task in tasks {
            ok += task.await.unwrap();
        }
        assert!(ok > 0);
        let err = mux.send(&cmd(["PING"])).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Closed);
        assert!(!err.may_have_been_sent());
        assert_eq!(mux.in_flight(), 0);
        assert!(!mux.is_connected());
    })
    .await;
}

/// Dropping the last handle closes the connection and ends all of its tasks (no task leak).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_last_handle_ends_the_tasks() {
    bounded(Duration::from_secs(20), async {
        let metrics = tokio::runtime::Handle::current().metrics();
        let before = metrics.num_alive_tasks();
        let server = test_support::shared_server();
        let mux =
            Multiplexer::connect(ConnectionConfig::new(server.addr()).client_name("leak-check"))
                .await
                .unwrap();
        let clone = mux.clone();
        clone.send(&cmd(["PING"])).await.unwrap();
        // Driver (writer), reader and sweep.
        assert_eq!(metrics.num_alive_tasks(), before + 3);
        drop(clone);
        assert!(mux.is_connected(), "a clone is not the last handle");
        drop(mux);
        crate::eventually(|| metrics.num_alive_tasks() == before).await;
        let clients = tokio::task::spawn_blocking(|| {
            test_support::shared_server()
                .cli(&["CLIENT", "LIST"])
                .unwrap()
        })
        .await
        .unwrap();
        assert!(!clients.contains("name=leak-check"), "{clients}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dedicated_connections_are_counted_and_close_with_their_owner() {
    bounded(Duration::from_secs(20), async {
        let config = ConnectionConfig::new(test_support::shared_server().addr());
        // One at a time: a second blocking call waits for the first's connection.
        let dedicated = multiplexer::Dedicated::with_limit(1);
        let soon = || Instant::now() + Duration::from_secs(5);

        // One call, one connection, closed after it.
        let replies = dedicated
            .send_batch(
                config.clone(),
                &[
                    cmd(["SET", "basic:dedicated", "d"]),
                    cmd(["GET", "basic:dedicated"]),
                ],
                soon(),
            )
            .await;
        let replies: Vec<Frame> = replies.into_iter().map(|r| r.expect("reply")).collect();
        assert_eq!(replies, [Frame::SimpleString("OK".into()), bulk("d")]);
        assert_eq!((dedicated.open(), dedicated.opened()), (0, 1));

        // Open while its command blocks; a clone's close ends it at once.
        let spawn_blpop = || {
            let (dedicated, config) = (dedicated.clone(), config.clone());
            tokio::spawn(async move {
                let blpop = cmd(["BLPOP", "basic:dedicated:none", "10"]);
                dedicated
                    .send(config, &blpop, Instant::now() + Duration::from_secs(15))
                    .await
            })
        };
        let blocked = spawn_blpop();
        crate::eventually(|| dedicated.open() == 1).await;
        let waiting = spawn_blpop();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            dedicated.open(),
            1,
            "the second call waits for the first's connection"
        );
        let started = Instant::now();
        dedicated.clone().close();
        // The waiting call was never sent.
        let err = waiting.await.expect("join").expect_err("closed");
        assert_eq!(err.kind(), ErrorKind::Closed, "{err:?}");
        let err = blocked.await.expect("join").expect_err("closed");
        // Written by now, almost always; a close that wins the race with the write finds it unsent.
        assert!(
            matches!(
                err.kind(),
                ErrorKind::ConnectionIndeterminate | ErrorKind::Closed
            ),
            "{err:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        assert_eq!((dedicated.open(), dedicated.opened()), (0, 2));

        // Nothing opens after the close.
        let err = dedicated
            .send(config, &cmd(["PING"]), soon())
            .await
            .expect_err("refused");
        assert_eq!(err.kind(), ErrorKind::Closed);
        assert_eq!(dedicated.opened(), 2);
    })
    .await;
}

/// Regression: `command_timeout(Duration::MAX)`, natural for "wait forever" (`BLPOP k 0`), panicked
/// on the first send computing the deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duration_max_timeouts_neither_panic_nor_hold_a_close() {
    bounded(Duration::from_secs(20), async {
        let mux = Multiplexer::connect(
            ConnectionConfig::new(test_support::shared_server().addr())
                .client_name("forever")
                .command_timeout(Duration::MAX)
                .connect_timeout(Duration::MAX)
                .reconnect_backoff_min(Duration::MAX)
                .reconnect_backoff_max(Duration::MAX),
        )
        .await
        .unwrap();
        assert_eq!(
            mux.send(&cmd(["PING"])).await.unwrap(),
            Frame::SimpleString("PONG".into())
        );
        // Nothing in flight: the close has nothing to wait for, however long it may wait.
        let closed_at = Instant::now();
        mux.close();
        let err = mux.send(&cmd(["PING"])).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Closed);
        let observer = connect_shared().await;
        loop {
            let clients = observer.send(&cmd(["CLIENT", "LIST"])).await.unwrap();
            let (Frame::BulkString(clients) | Frame::VerbatimString { text: clients, .. }) =
                clients
            else {
                panic!("CLIENT LIST: {clients:?}");
            };
            if !String::from_utf8_lossy(&clients).contains("name=forever ") {
                break;
            }
            assert!(
                closed_at.elapsed() < Duration::from_secs(1),
                "the connection outlived its close"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

/// Regression: a `Dedicated::close` that found its connection's command still queued let the writer
/// write it anyway, so a `BLPOP` nobody would wait for could pop an element.
// A current-thread runtime: the connection's writer cannot run between the submit and the close.
#[tokio::test]
async fn dedicated_close_writes_no_queued_command() {
    bounded(Duration::from_secs(20), async {
        let key = "basic:dedicated:unwritten";
        let shared = connect_shared().await;
        shared.send(&cmd(["DEL", key])).await.unwrap();
        shared.send(&cmd(["RPUSH", key, "kept"])).await.unwrap();
        let dedicated = multiplexer::Dedicated::new();
        let config = ConnectionConfig::new(test_support::shared_server().addr());
        let blpop = cmd(["BLPOP", key, "1"]);
        let mut call =
            std::pin::pin!(dedicated.send(config, &blpop, Instant::now() + Duration::from_secs(5)));
        // Polled by hand, without yielding once the connection is open: the poll that opens it
        // submits the command too, and its writer has not run yet.
        loop {
            let polled = std::future::poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx))).await;
            assert!(polled.is_pending(), "{polled:?}");
            if dedicated.open() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        dedicated.close();
        let err = call.await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Closed, "{err}");
        assert!(!err.may_have_been_sent());
        assert_eq!(dedicated.open(), 0);
        assert_eq!(
            shared.send(&cmd(["LRANGE", key, "0", "-1"])).await.unwrap(),
            Frame::Array(vec![bulk("kept")])
        );
    })
    .await;
}

//! URLs, builder validation, and the connection handshake (AUTH, SELECT, SETNAME) seen from the server.

use std::time::Duration;

use slotmux::{Client, Cmd, ErrorKind, Protocol};
use test_support::Server;
use tokio::time::Instant;

use crate::{check, run};

#[test]
fn bad_urls_and_settings_are_invalid_input() {
    run(Duration::from_secs(10), async {
        for url in [
            "localhost:6379",
            "http://127.0.0.1:6379",
            "rediss://127.0.0.1:6379",
            "unix:///tmp/redis.sock",
            "redis://",
            "redis://127.0.0.1:0",
            "redis://127.0.0.1:65536",
            "redis://127.0.0.1:port",
            "redis://127.0.0.1:6379/db",
            "redis://127.0.0.1:6379/-1",
            "redis://127.0.0.1:6379?db=1",
            "redis://user:p%zz@127.0.0.1",
            "redis://[::1",
        ] {
            let err = Client::connect(url).await.expect_err(url);
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{url}: {err}");
        }
        let err = Client::connect("redis://u:hunter2@127.0.0.1:6379/x")
            .await
            .expect_err("bad db");
        assert!(
            !err.to_string().contains("hunter2"),
            "the password leaked into {err}"
        );

        let url = test_support::shared_server().url();
        for (what, builder) in [
            ("no address", Client::builder()),
            (
                "zero connections",
                Client::builder().url(&url).connections_per_node(0),
            ),
            (
                "zero in flight",
                Client::builder().url(&url).max_in_flight(0),
            ),
            (
                "zero timeout",
                Client::builder().url(&url).command_timeout(Duration::ZERO),
            ),
        ] {
            let err = builder.build().await.expect_err(what);
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{what}: {err}");
        }
    });
}

#[test]
fn unreachable_server_is_a_connection_error() {
    run(Duration::from_secs(10), async {
        // Reserve a port by binding it, then close it: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let err = Client::connect(&format!("redis://127.0.0.1:{port}"))
            .await
            .expect_err("no server");
        assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
        assert!(err.is_connection());
    });
}

#[test]
fn unreachable_cluster_seeds_are_a_connection_error() {
    // A refused AUTH is a Setup error; seeds that cannot be reached at all must stay a Connection error.
    run(Duration::from_secs(20), async {
        let ports: Vec<u16> = (0..2)
            .map(|_| {
                std::net::TcpListener::bind("127.0.0.1:0")
                    .and_then(|l| l.local_addr())
                    .expect("free port")
                    .port()
            })
            .collect();
        let err = Client::builder()
            .nodes(ports.iter().map(|p| format!("127.0.0.1:{p}")))
            .connect_timeout(Duration::from_millis(500))
            .build()
            .await
            .expect_err("no server");
        assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    });
}

#[test]
fn auth_select_and_setname_reach_the_server() {
    let server = Server::start_with(&[("requirepass", "pw")]).expect("server");
    // An ACL user as well, to check that the user name is sent.
    let out = server
        .cli(&[
            "-a",
            "pw",
            "--no-auth-warning",
            "ACL",
            "SETUSER",
            "alice",
            "on",
            ">s3cret",
            "~*",
            "+@all",
        ])
        .expect("ACL SETUSER");
    assert_eq!(out, "OK");
    run(Duration::from_secs(30), async {
        for protocol in [Protocol::Resp3, Protocol::Resp2] {
            let c = Client::builder()
                .url(&format!("redis://:pw@127.0.0.1:{}/3", server.port()))
                .client_name("slotmux-it")
                .protocol(protocol)
                .build()
                .await
                .expect("connect with a password");
            let info: String = c
                .query(Cmd::new("CLIENT").arg("INFO"))
                .await
                .expect("CLIENT INFO");
            for field in ["db=3 ", "name=slotmux-it ", "user=default "] {
                assert!(
                    info.contains(field),
                    "{protocol:?}: {field:?} not in {info}"
                );
            }
            let resp = if protocol == Protocol::Resp3 {
                "resp=3"
            } else {
                "resp=2"
            };
            assert!(info.contains(resp), "{protocol:?}: {info}");

            let c = Client::connect(&format!(
                "redis://alice:s3cret@127.0.0.1:{}/1",
                server.port()
            ))
            .await
            .expect("connect as alice");
            let info: String = c
                .query(Cmd::new("CLIENT").arg("INFO"))
                .await
                .expect("CLIENT INFO");
            assert!(
                info.contains("user=alice ") && info.contains("db=1 "),
                "{info}"
            );

            // Settings from the builder override the URL's.
            let c = Client::builder()
                .url(&format!("redis://:wrong@127.0.0.1:{}/3", server.port()))
                .password("pw")
                .database(5)
                .protocol(protocol)
                .build()
                .await
                .expect("builder settings override the URL");
            let info: String = c
                .query(Cmd::new("CLIENT").arg("INFO"))
                .await
                .expect("CLIENT INFO");
            assert!(info.contains("db=5 "), "{info}");
        }

        let err = Client::connect(&format!("redis://:wrong@127.0.0.1:{}", server.port()))
            .await
            .expect_err("wrong password");
        assert_eq!(err.kind(), ErrorKind::Setup, "{err}");
        assert!(err.to_string().contains("WRONGPASS"), "{err}");

        // Without a password the handshake may pass, but no command does.
        match Client::connect(&server.url()).await {
            Err(err) => assert_eq!(err.kind(), ErrorKind::Setup, "{err}"),
            Ok(c) => {
                let err = c.get("k").await.expect_err("not authenticated");
                assert_eq!(err.server_code(), Some("NOAUTH"), "{err}");
            }
        }
    });
}

#[test]
fn clones_share_connections_and_close() {
    run(Duration::from_secs(10), async {
        let c = crate::shared_client().await;
        let c2 = c.clone();
        check("ping via clone", c2.ping().await, ());
        assert!(c.is_connected());
        c.close();
        let err = c2.ping().await.expect_err("closed");
        assert_eq!(err.kind(), ErrorKind::Closed, "{err}");
        let err = c2
            .pipeline(&slotmux::Pipeline::new().cmd(Cmd::new("PING")))
            .await
            .expect_err("closed pipeline is an outer error");
        assert_eq!(err.kind(), ErrorKind::Closed, "{err}");
    });
}

/// Regression: `Duration::MAX`, the natural way to say "no limit" (a `BLPOP k 0`), panicked in
/// `Instant + Duration` wherever a deadline was built from it.
#[test]
fn timeouts_of_duration_max_mean_no_limit() {
    let targets = crate::server_and_cluster();
    run(Duration::from_secs(30), async move {
        for (what, builder) in targets {
            let c = builder
                .command_timeout(Duration::MAX)
                .connect_timeout(Duration::MAX)
                .build()
                .await
                .expect(what);
            let list = crate::key(&format!("max-timeout:{what}"));
            check(
                what,
                c.query::<i64>(Cmd::new("RPUSH").arg(&list).arg("v")).await,
                1,
            );
            let popped: Option<Vec<String>> = c
                .query(Cmd::new("BLPOP").arg(&list).arg(0).timeout(Duration::MAX))
                .await
                .expect(what);
            assert_eq!(popped, Some(vec![list.clone(), "v".to_owned()]), "{what}");
            let mut p = slotmux::Pipeline::new();
            p.push(Cmd::new("SET").arg(&list).arg("x"));
            p.push(Cmd::new("GET").arg(&list));
            let p = p.timeout(Duration::MAX);
            let replies = c.pipeline(&p).await.expect(what);
            assert_eq!(replies.len(), 2, "{what}");
            assert!(
                c.transaction(&p)
                    .await
                    .expect(what)
                    .iter()
                    .all(Result::is_ok),
                "{what}"
            );
            check(what, c.query::<i64>(Cmd::new("DEL").arg(&list)).await, 1);
        }
    });
}

/// A reply past `max_reply_bytes` fails its command with `Protocol` (after one retry on a cluster,
/// where a command may have lost its connection to another's reply), and the client carries on.
#[test]
fn a_reply_over_max_reply_bytes_is_a_protocol_error() {
    let targets = crate::server_and_cluster();
    run(Duration::from_secs(30), async move {
        for (what, builder) in targets {
            // Asking for less gives the floor, 4 MiB; the list is 6.4 MiB.
            let c = builder.max_reply_bytes(4096).build().await.expect(what);
            let list = crate::key(&format!("max-reply:{what}"));
            let mut push = Cmd::new("RPUSH").arg(&list);
            for i in 0..100 {
                push = push.arg(format!("{i}:{}", "x".repeat(65_536)));
            }
            check(what, c.query::<i64>(push).await, 100);
            let started = std::time::Instant::now();
            let err = c
                .query::<Vec<String>>(Cmd::new("LRANGE").arg(&list).arg(0).arg(-1))
                .await
                .expect_err(what);
            assert_eq!(err.kind(), ErrorKind::Protocol, "{what}: {err}");
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{what}: not retried until the deadline ({:?})",
                started.elapsed()
            );
            // The same for a transaction, whose EXEC reply is the list.
            let started = std::time::Instant::now();
            let mut tx = slotmux::Pipeline::new();
            tx.push(Cmd::new("LRANGE").arg(&list).arg(0).arg(-1));
            let until = std::time::Instant::now() + Duration::from_secs(5);
            let err = loop {
                match c.transaction(&tx).await {
                    // One server may still be reconnecting after the first reply.
                    Err(e)
                        if e.kind() == ErrorKind::Connection
                            && std::time::Instant::now() < until =>
                    {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    other => break other.expect_err(what),
                }
            };
            assert_eq!(err.kind(), ErrorKind::Protocol, "{what}: {err}");
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{what}: transaction retried"
            );
            // Within the bound, the same list reads fine once the connection is back (one server
            // fails commands at once while it reconnects: `wait_for_reconnect` is off by default).
            let until = std::time::Instant::now() + Duration::from_secs(5);
            let first = loop {
                match c
                    .query::<Vec<String>>(Cmd::new("LRANGE").arg(&list).arg(0).arg(9))
                    .await
                {
                    Ok(first) => break first,
                    Err(e)
                        if e.kind() == ErrorKind::Connection
                            && std::time::Instant::now() < until =>
                    {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    Err(e) => panic!("{what}: {e}"),
                }
            };
            assert_eq!(first.len(), 10, "{what}");
            check(what, c.query::<i64>(Cmd::new("DEL").arg(&list)).await, 1);
        }
    });
}

/// `max_blocking_connections`: with one allowed, a second blocking call waits for the first to end
/// (first come, first served) and fails with `Busy`, never sent, if its deadline comes first; on one
/// server and on a cluster.
#[test]
fn blocking_calls_beyond_the_bound_wait_for_a_connection() {
    let targets = crate::server_and_cluster();
    run(Duration::from_secs(60), async move {
        for (what, builder) in targets {
            let c = builder
                .max_blocking_connections(1)
                .build()
                .await
                .expect(what);
            let first = crate::key(&format!("blocking-bound:{what}:first"));
            let third = crate::key(&format!("blocking-bound:{what}:third"));
            let blpop = |list: &str, secs: u64| {
                Cmd::new("BLPOP")
                    .arg(list)
                    .arg(secs)
                    .timeout(Duration::from_secs(secs + 2))
            };
            let holder = {
                let (c, cmd) = (c.clone(), blpop(&first, 5));
                tokio::spawn(async move { c.query::<Option<(String, String)>>(cmd).await })
            };
            crate::eventually(Duration::from_secs(5), || {
                c.stats().blocking_connections == 1
            })
            .await;

            // Its deadline passes while the one connection is taken: Busy, and nothing reached the
            // server (the list it would have popped keeps its element).
            let second = crate::key(&format!("blocking-bound:{what}:second"));
            c.query::<i64>(Cmd::new("RPUSH").arg(&second).arg("kept"))
                .await
                .expect("RPUSH");
            let started = Instant::now();
            let err = c
                .query::<Option<(String, String)>>(
                    Cmd::new("BLPOP")
                        .arg(&second)
                        .arg(1)
                        .timeout(Duration::from_millis(300)),
                )
                .await
                .expect_err("no connection for it");
            assert_eq!(err.kind(), ErrorKind::Busy, "{what}: {err}");
            assert!(
                started.elapsed() >= Duration::from_millis(250),
                "{what}: waited"
            );
            assert_eq!(
                c.query::<i64>(Cmd::new("LLEN").arg(&second))
                    .await
                    .expect("LLEN"),
                1,
                "{what}: the refused BLPOP was not sent"
            );

            // A call with time to spare gets the connection once the first call ends.
            let waiter = {
                let (c, cmd) = (c.clone(), blpop(&third, 5));
                tokio::spawn(async move { c.query::<Option<(String, String)>>(cmd).await })
            };
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert_eq!(c.stats().blocking_connections, 1, "{what}: still one open");
            c.query::<i64>(Cmd::new("RPUSH").arg(&first).arg("a"))
                .await
                .expect("RPUSH");
            let got = holder.await.expect("join").expect("first BLPOP");
            assert_eq!(got, Some((first.clone(), "a".to_owned())), "{what}");
            crate::eventually(Duration::from_secs(5), || {
                c.stats().blocking_connections == 1
            })
            .await;
            c.query::<i64>(Cmd::new("RPUSH").arg(&third).arg("b"))
                .await
                .expect("RPUSH");
            let got = waiter.await.expect("join").expect("third BLPOP");
            assert_eq!(got, Some((third.clone(), "b".to_owned())), "{what}");
            c.del(&second).await.expect("clean up");
        }
    });
}

/// `tcp_keepalive` reaches the client's sockets: with it, every connection to the server runs the
/// kernel's keepalive timer with the idle time given; without it, none does (read from /proc/net/tcp,
/// where `tr` 2 is the keepalive timer and `tm->when` its remaining time in 1/100 s).
#[cfg(target_os = "linux")]
#[test]
fn tcp_keepalive_reaches_the_sockets() {
    let server = Server::start().expect("server");
    let port = server.port();
    run(Duration::from_secs(20), async move {
        for idle in [Some(Duration::from_secs(20)), None] {
            let c = Client::builder()
                .url(&server.url())
                .connections_per_node(2)
                .tcp_keepalive(idle)
                .build()
                .await
                .expect("connect");
            c.ping().await.expect("PING");
            let timers = keepalive_timers(port);
            assert_eq!(
                timers.len(),
                2,
                "{idle:?}: one line per connection: {timers:?}"
            );
            for (kind, remaining) in timers {
                match idle {
                    // Just armed with 20 s: above the default's 15 s, at most 20 s.
                    Some(_) => assert!(
                        kind == 2 && (1600..=2000).contains(&remaining),
                        "keepalive timer {kind}:{remaining}"
                    ),
                    None => assert_ne!(kind, 2, "no keepalive timer"),
                }
            }
            c.close();
            drop(c);
            crate::eventually(Duration::from_secs(5), || keepalive_timers(port).is_empty()).await;
        }
    });
}

#[cfg(target_os = "linux")]
/// (timer kind, remaining 1/100 s) of each established socket of this process's network namespace
/// connected to `port` on the loopback.
fn keepalive_timers(port: u16) -> Vec<(u32, u32)> {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let remote_port = u16::from_str_radix(f.get(2)?.split(':').nth(1)?, 16).ok()?;
            // State 01: established.
            if remote_port != port || *f.get(3)? != "01" {
                return None;
            }
            let (kind, when) = f.get(5)?.split_once(':')?;
            Some((
                u32::from_str_radix(kind, 16).ok()?,
                u32::from_str_radix(when, 16).ok()?,
            ))
        })
        .collect()
}

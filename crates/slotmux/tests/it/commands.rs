//! Every typed helper against a real server, in both protocol versions.

use std::collections::HashMap;
use std::time::Duration;

use slotmux::{Bytes, Client, Cmd, ErrorKind, Protocol, SetOptions, Value};

use crate::{check, key, run};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

async fn client(protocol: Protocol) -> Client {
    Client::builder()
        .url(&test_support::shared_server().url())
        .protocol(protocol)
        .build()
        .await
        .expect("connect to the shared server")
}

pub(crate) async fn helpers(c: &Client, p: &str) {
    let k = |s: &str| key(&format!("{p}:{s}"));
    let (s, n, h, l, z, m1, m2, e) = (
        k("s"),
        k("n"),
        k("h"),
        k("l"),
        k("z"),
        k("m1"),
        k("m2"),
        k("e"),
    );
    c.del(&[&s, &n, &h, &l, &z, &m1, &m2, &e])
        .await
        .expect("clean up");

    check("ping", c.ping().await, ());
    check("get missing", c.get(&s).await, None);
    check("set", c.set(&s, "v1").await, ());
    check("get", c.get(&s).await, Some(b("v1")));
    check("set bytes", c.set(&s, &b"\x00\xffbin"[..]).await, ());
    check(
        "get bytes",
        c.get(&s).await,
        Some(Bytes::from_static(b"\x00\xffbin")),
    );
    check(
        "set_with nx existing",
        c.set_with(&s, "v2", SetOptions::new().nx()).await,
        false,
    );
    check(
        "set_with xx existing",
        c.set_with(&s, "v3", SetOptions::new().xx().ex(100)).await,
        true,
    );
    check("get after xx", c.get(&s).await, Some(b("v3")));
    check(
        "set_with xx missing",
        c.set_with(&e, "v", SetOptions::new().xx()).await,
        false,
    );
    check(
        "set_with nx px",
        c.set_with(&e, "v", SetOptions::new().nx().px(100_000))
            .await,
        true,
    );
    check(
        "set_with keepttl",
        c.set_with(&e, "w", SetOptions::new().keep_ttl()).await,
        true,
    );
    let ttl = c.ttl(&e).await.expect("ttl");
    assert!(
        (90..=100).contains(&ttl),
        "KEEPTTL kept the PX expiry: {ttl}"
    );
    check(
        "ttl with ex",
        c.ttl(&s).await.map(|t| (90..=100).contains(&t)),
        true,
    );
    check("ttl missing", c.ttl(&n).await, -2);
    check("exists one", c.exists(&s).await, 1);
    check("exists many", c.exists(&[&s, &n, &s]).await, 2);
    check("expire missing", c.expire(&n, 10).await, false);
    check("incr", c.incr(&n).await, 1);
    check("incr_by", c.incr_by(&n, 41).await, 42);
    check("incr_by negative", c.incr_by(&n, -50).await, -8);
    check("ttl no expiry", c.ttl(&n).await, -1);
    check("expire", c.expire(&n, 10).await, true);
    check("mset", c.mset(&[(&m1, "a"), (&m2, "b")]).await, ());
    check(
        "mget",
        c.mget(&[&m1, &k("nope"), &m2]).await,
        vec![Some(b("a")), None, Some(b("b"))],
    );
    check("mget one", c.mget(&m1).await, vec![Some(b("a"))]);
    check("hset new", c.hset(&h, "f1", "v1").await, 1);
    check("hset update", c.hset(&h, "f1", "v1b").await, 0);
    check(
        "hset pairs",
        c.hset_multiple(&h, &[("f2", "v2"), ("f3", "v3")]).await,
        2,
    );
    check("hget", c.hget(&h, "f1").await, Some(b("v1b")));
    check("hget missing", c.hget(&h, "nope").await, None);
    let all: HashMap<Bytes, Bytes> = [(b("f1"), b("v1b")), (b("f2"), b("v2")), (b("f3"), b("v3"))]
        .into_iter()
        .collect();
    check("hgetall", c.hgetall(&h).await, all);
    check(
        "hgetall missing",
        c.hgetall(&k("nope")).await,
        HashMap::new(),
    );
    check("lpush one", c.lpush(&l, "x").await, 1);
    check("lpush many", c.lpush(&l, &["y", "z"]).await, 3);
    check("rpop", c.rpop(&l).await, Some(b("x")));
    check("rpop missing", c.rpop(&k("nope")).await, None);
    check("zadd", c.zadd(&z, 2.0, "two").await, 1);
    check("zadd more", c.zadd(&z, 1.5, "one").await, 1);
    check("zadd update", c.zadd(&z, 3.0, "two").await, 0);
    check(
        "zrange",
        c.zrange(&z, 0, -1).await,
        vec![b("one"), b("two")],
    );
    let score: f64 = c
        .query(Cmd::new("ZSCORE").arg(&z).arg("one"))
        .await
        .expect("zscore");
    assert_eq!(score, 1.5);
    check(
        "del many",
        c.del(&[&s, &n, &h, &l, &z, &m1, &m2, &e]).await,
        8,
    );
    check("del none", c.del(&s).await, 0);

    // A typed helper on the wrong type of key: the server's error, code and text intact.
    c.lpush(&l, "x").await.expect("lpush");
    let err = c.get(&l).await.expect_err("GET on a list");
    assert_eq!(err.kind(), ErrorKind::Server);
    assert_eq!(err.server_code(), Some("WRONGTYPE"));
    assert!(
        err.to_string()
            .starts_with("WRONGTYPE Operation against a key"),
        "{err}"
    );
    c.del(&l).await.expect("clean up");

    // A reply that cannot become the requested type: a typed conversion error, not a panic.
    c.set(&s, "not a number").await.expect("set");
    let err = c
        .query::<i64>(Cmd::new("GET").arg(&s))
        .await
        .expect_err("text into i64");
    assert_eq!(err.kind(), ErrorKind::Type);
    c.del(&s).await.expect("clean up");
}

#[test]
fn typed_helpers_resp3() {
    run(Duration::from_secs(30), async {
        helpers(&client(Protocol::Resp3).await, "resp3").await;
    });
}

#[test]
fn typed_helpers_resp2() {
    run(Duration::from_secs(30), async {
        helpers(&client(Protocol::Resp2).await, "resp2").await;
    });
}

/// Spawns `$e` (a helper call on a clone of client `$c`) as a task of its own and returns its result: a
/// helper's future must be `Send`, and hold nothing borrowed from its arguments, to be spawned like this.
macro_rules! spawned {
    ($c:ident => $e:expr) => {{
        let $c = $c.clone();
        tokio::spawn(async move { $e.await })
            .await
            .expect("the task ran to the end")
    }};
}

#[test]
fn helper_futures_can_be_spawned() {
    run(Duration::from_secs(30), async {
        let c = crate::shared_client().await;
        // 'static keys, so each spawned block owns everything it uses.
        let k =
            |s: &str| -> &'static str { Box::leak(key(&format!("spawn:{s}")).into_boxed_str()) };
        let (s, n, h, l, z) = (k("s"), k("n"), k("h"), k("l"), k("z"));
        check("set", spawned!(c => c.set(s, "v")), ());
        check("get", spawned!(c => c.get(s)), Some(b("v")));
        check(
            "set_with",
            spawned!(c => c.set_with(s, "w", SetOptions::new().xx())),
            true,
        );
        check("mset", spawned!(c => c.mset([(n, "1")])), ());
        check(
            "mget",
            spawned!(c => c.mget([s, n])),
            vec![Some(b("w")), Some(b("1"))],
        );
        check("incr", spawned!(c => c.incr(n)), 2);
        check("incr_by", spawned!(c => c.incr_by(n, 3)), 5);
        check("expire", spawned!(c => c.expire(n, 100)), true);
        check(
            "ttl",
            spawned!(c => c.ttl(n)).map(|t| (1..=100).contains(&t)),
            true,
        );
        check("exists", spawned!(c => c.exists([s, n])), 2);
        check("hset", spawned!(c => c.hset(h, "f", "1")), 1);
        check(
            "hset_multiple",
            spawned!(c => c.hset_multiple(h, [("g", "2")])),
            1,
        );
        check("hget", spawned!(c => c.hget(h, "g")), Some(b("2")));
        check("hgetall", spawned!(c => c.hgetall(h)).map(|m| m.len()), 2);
        check("lpush", spawned!(c => c.lpush(l, ["a", "b"])), 2);
        check("rpop", spawned!(c => c.rpop(l)), Some(b("a")));
        check("zadd", spawned!(c => c.zadd(z, 1.5, "m")), 1);
        check("zrange", spawned!(c => c.zrange(z, 0, -1)), vec![b("m")]);
        check("ping", spawned!(c => c.ping()), ());
        check(
            "send",
            spawned!(c => c.send(Cmd::new("ECHO").arg("e"))),
            Value::Bulk(b("e")),
        );
        check(
            "query",
            spawned!(c => c.query::<i64>(Cmd::new("STRLEN").arg(s))),
            1,
        );
        check("del", spawned!(c => c.del([s, n, h, l, z])), 5);
    });
}

#[test]
fn send_returns_raw_values() {
    run(Duration::from_secs(30), async {
        let c = crate::shared_client().await;
        let k = key("raw");
        check(
            "echo",
            c.send(Cmd::new("ECHO").arg("hi")).await,
            Value::Bulk(b("hi")),
        );
        check(
            "set",
            c.send(Cmd::new("SET").arg(&k).arg(7)).await,
            Value::Status(b("OK")),
        );
        check(
            "incrbyfloat",
            c.query::<f64>(Cmd::new("INCRBYFLOAT").arg(&k).arg(0.5))
                .await,
            7.5,
        );
        check(
            "strlen typed",
            c.query::<u32>(Cmd::new("STRLEN").arg(&k)).await,
            3,
        );
        let err = c
            .send(Cmd::new("NOSUCHCOMMAND"))
            .await
            .expect_err("unknown command");
        assert_eq!(err.server_code(), Some("ERR"));
        assert!(
            err.server_message()
                .is_some_and(|m| m.contains("unknown command")),
            "{err}"
        );
        c.del(&k).await.expect("clean up");
    });
}

#[test]
fn stats_of_a_standalone_client() {
    run(Duration::from_secs(30), async {
        let c = crate::shared_client().await;
        let k = key("stats");
        let start = c.stats();
        // 100 concurrent SETs: they share writes, so there are fewer writes than commands.
        let sets: Vec<_> = (0..100).map(|i| c.set(format!("{k}:{i}"), i)).collect();
        for r in futures_util::future::join_all(sets).await {
            r.expect("set");
        }
        let s = c.stats();
        assert_eq!(s.nodes.len(), 1, "{s:?}");
        let (n0, n) = (&start.nodes[0], &s.nodes[0]);
        assert!(n.commands >= n0.commands + 100, "{s:?}");
        assert!(n.writes > n0.writes && n.writes - n0.writes < 100, "{s:?}");
        assert!(n.reads > n0.reads, "{s:?}");
        assert!(n.connected && n.in_flight == 0, "{s:?}");
        assert_eq!(
            (s.moved, s.ask, s.refreshes, s.connects),
            (0, 0, 0, 1),
            "{s:?}"
        );
    });
}

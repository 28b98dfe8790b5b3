//! Transactions, SCAN, replica reads, and the commands a shared connection cannot take, on both backends.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use slotmux::{Bytes, Client, Cmd, ErrorKind, Pipeline, Value};
use test_support::Role;

use crate::{check, eventually, key, run, run_serial, shared_client};

async fn cluster_client() -> Client {
    Client::builder()
        .nodes(test_support::shared_cluster().seed_addrs())
        .build()
        .await
        .expect("connect to the shared cluster")
}

/// The same transaction checks against either backend; on a cluster every key shares one hash tag.
async fn transactions(c: &Client, tag: &str) {
    let counter = key(&format!("{{{tag}}}:tx:counter"));
    let text = key(&format!("{{{tag}}}:tx:text"));
    c.del([&counter, &text]).await.expect("clean up");

    // Results in order, one per command, and nothing of another caller's in between.
    let p = Pipeline::new()
        .cmd(Cmd::new("INCR").arg(&counter))
        .cmd(Cmd::new("INCRBY").arg(&counter).arg(10))
        .cmd(Cmd::new("SET").arg(&text).arg("abc"))
        .cmd(Cmd::new("GET").arg(&text));
    let results = c.transaction(&p).await.expect("transaction");
    let results: Vec<Value> = results
        .into_iter()
        .map(|r| r.expect("each command"))
        .collect();
    assert_eq!(
        results,
        vec![Value::Int(1), Value::Int(11), ok(), bulk("abc"),]
    );

    // A command that fails while running is its own error; the others ran (Redis does not roll back).
    let p = Pipeline::new()
        .cmd(Cmd::new("INCR").arg(&text))
        .cmd(Cmd::new("INCR").arg(&counter));
    let results = c.transaction(&p).await.expect("transaction");
    assert_eq!(results.len(), 2);
    let err = results[0].as_ref().expect_err("INCR on a string");
    assert_eq!(err.kind(), ErrorKind::Server);
    assert_eq!(err.server_code(), Some("ERR"));
    assert_eq!(results[1].as_ref().ok(), Some(&Value::Int(12)));

    // A command the server rejects while queueing aborts the whole transaction: nothing ran.
    let p = Pipeline::new()
        .cmd(Cmd::new("INCR").arg(&counter))
        .cmd(Cmd::new("GET").arg(&counter).arg("extra-argument"));
    let err = c.transaction(&p).await.expect_err("EXECABORT");
    assert_eq!(err.kind(), ErrorKind::Server);
    assert_eq!(err.server_code(), Some("EXECABORT"));
    // The server's reason, which it gave to the queued command, comes with it.
    let text = err.to_string();
    assert!(
        text.contains("(command 2 of 2: ERR wrong number of arguments"),
        "{text}"
    );
    check(
        "counter after the aborted transaction",
        c.query::<i64>(Cmd::new("GET").arg(&counter)).await,
        12,
    );

    // Commands that would change the shared connection's state are refused before anything is sent.
    for bad in [
        Cmd::new("WATCH").arg(&counter),
        Cmd::new("MULTI"),
        Cmd::new("SELECT").arg(0),
    ] {
        let p = Pipeline::new().cmd(Cmd::new("INCR").arg(&counter)).cmd(bad);
        let err = c.transaction(&p).await.expect_err("refused");
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    }
    check(
        "counter after the refused transactions",
        c.query::<i64>(Cmd::new("GET").arg(&counter)).await,
        12,
    );

    // An empty transaction sends nothing.
    assert!(
        c.transaction(&Pipeline::new())
            .await
            .expect("empty")
            .is_empty()
    );

    // Concurrent transactions from many tasks never interleave: each sees its own INCRs back to back.
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let c = c.clone();
        let counter = counter.clone();
        tasks.push(tokio::spawn(async move {
            let p = Pipeline::new()
                .cmd(Cmd::new("INCR").arg(&counter))
                .cmd(Cmd::new("INCR").arg(&counter));
            let r = c.transaction(&p).await.expect("transaction");
            let a = r[0].as_ref().expect("first").clone();
            let b = r[1].as_ref().expect("second").clone();
            match (a, b) {
                (Value::Int(a), Value::Int(b)) => {
                    assert_eq!(b, a + 1, "another command ran between")
                }
                other => panic!("unexpected {other:?}"),
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    check(
        "counter after 32 transactions",
        c.query::<i64>(Cmd::new("GET").arg(&counter)).await,
        12 + 64,
    );
}

#[test]
fn transactions_on_one_server() {
    run(Duration::from_secs(30), async {
        let c = shared_client().await;
        transactions(&c, "standalone").await;
    });
}

#[test]
fn transactions_on_a_cluster() {
    run(Duration::from_secs(60), async {
        let c = cluster_client().await;
        transactions(&c, "cluster").await;
        // Keys in two slots (two hash tags): refused before sending, so the first key is untouched.
        let a = key("{tx-a}:cross");
        let b = key("{tx-b}:cross");
        assert_ne!(slot_of(&a), slot_of(&b), "the test needs two slots");
        c.del(&a).await.expect("clean up");
        c.del(&b).await.expect("clean up");
        let p = Pipeline::new()
            .cmd(Cmd::new("SET").arg(&a).arg(1))
            .cmd(Cmd::new("SET").arg(&b).arg(1));
        let err = c.transaction(&p).await.expect_err("cross-slot");
        assert_eq!(err.kind(), ErrorKind::CrossSlot);
        check("first key after the refusal", c.get(&a).await, None);
    });
}

#[test]
fn a_cluster_answers_swapdb_with_its_own_refusal() {
    run(Duration::from_secs(30), async {
        // Not refused by the client (it leaves the connection as it was, and one server runs it): the
        // cluster refuses it itself, since it has database 0 only.
        let c = cluster_client().await;
        let err = c
            .send(Cmd::new("SWAPDB").arg(0).arg(1))
            .await
            .expect_err("a cluster has one database");
        assert_eq!(err.kind(), ErrorKind::Server, "{err}");
        assert!(err.to_string().contains("cluster mode"), "{err}");
    });
}

fn slot_of(key: &str) -> u16 {
    hash_slot::Slot::for_key(key.as_bytes()).get()
}

#[test]
fn a_shared_connection_refuses_commands_that_change_its_state() {
    run(Duration::from_secs(30), async {
        let c = shared_client().await;
        let k = key("state:k");
        for bad in [
            Cmd::new("MULTI"),
            Cmd::new("exec"),
            Cmd::new("WATCH").arg(&k),
            Cmd::new("SELECT").arg(1),
            Cmd::new("SUBSCRIBE").arg("channel"),
            Cmd::new("CLIENT").arg("REPLY").arg("OFF"),
        ] {
            let err = c.send(bad).await.expect_err("refused");
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        }
        // The connection is still in its normal state: a plain command gets its own reply.
        c.set(&k, "v").await.expect("SET after the refusals");
        check(
            "GET after the refusals",
            c.get(&k).await,
            Some(Bytes::from_static(b"v")),
        );
        // In a pipeline, only the refused command fails; the others run, replies in order.
        let p = Pipeline::new()
            .cmd(Cmd::new("SET").arg(&k).arg("w"))
            .cmd(Cmd::new("MULTI"))
            .cmd(Cmd::new("GET").arg(&k));
        expect_results(
            &c.pipeline(&p).await.expect("pipeline"),
            &[Ok(ok()), Err(ErrorKind::InvalidInput), Ok(bulk("w"))],
        );
    });
}

#[test]
fn a_blocking_command_does_not_hold_other_callers_on_one_server() {
    run_serial(Duration::from_secs(30), async {
        // One connection, so without a connection of its own the BLPOP would hold every reply behind it.
        // The deadline must outlast the 2 s block.
        let c = Client::builder()
            .url(&test_support::shared_server().url())
            .command_timeout(Duration::from_secs(5))
            .build()
            .await
            .expect("connect");
        let list = key("blocking:list");
        let k = key("blocking:k");
        c.del(&list).await.expect("clean up");
        let blocker = {
            let c = c.clone();
            let list = list.clone();
            tokio::spawn(async move {
                c.query::<Option<Vec<Bytes>>>(Cmd::new("BLPOP").arg(&list).arg(2))
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        for _ in 0..20 {
            c.set(&k, "v").await.expect("SET while BLPOP blocks");
        }
        let took = started.elapsed();
        assert!(
            took < Duration::from_millis(1000),
            "20 SETs took {took:?} behind a BLPOP"
        );
        assert!(
            !blocker.is_finished(),
            "BLPOP returned before its 2 s timeout"
        );
        // The blocked command still gets its answer: a push wakes it.
        c.send(Cmd::new("RPUSH").arg(&list).arg("x"))
            .await
            .expect("RPUSH");
        let popped = blocker.await.expect("task").expect("BLPOP");
        assert_eq!(
            popped,
            Some(vec![
                Bytes::copy_from_slice(list.as_bytes()),
                Bytes::from_static(b"x")
            ])
        );
        // A blocking command inside a pipeline also runs on its own connection, after the rest (so it
        // sees the push before it), and keeps its place among the results.
        let p = Pipeline::new()
            .cmd(Cmd::new("SET").arg(&k).arg("p"))
            .cmd(Cmd::new("BLPOP").arg(&list).arg(0.2))
            .cmd(Cmd::new("BLPOP").arg(&list).arg(0.2))
            .cmd(Cmd::new("RPUSH").arg(&list).arg("y"))
            .cmd(Cmd::new("GET").arg(&k));
        let list_and = |v: &'static str| {
            Value::Array(vec![
                Value::Bulk(Bytes::copy_from_slice(list.as_bytes())),
                bulk(v),
            ])
        };
        // One BLPOP gets the element, the other times out with nil; which one is not promised.
        let r = c.pipeline(&p).await.expect("pipeline");
        let popped: Vec<Value> = r[1..3].iter().map(|r| r.clone().expect("BLPOP")).collect();
        assert!(
            popped == [list_and("y"), Value::Nil] || popped == [Value::Nil, list_and("y")],
            "{popped:?}"
        );
        expect_results(
            &[r[0].clone(), r[3].clone(), r[4].clone()],
            &[Ok(ok()), Ok(Value::Int(1)), Ok(bulk("p"))],
        );
        // XREAD ... BLOCK is blocking too, and answers nil when nothing arrives.
        let stream = key("blocking:stream");
        let started = Instant::now();
        let read = c
            .send(
                Cmd::new("XREAD")
                    .arg("BLOCK")
                    .arg(200)
                    .arg("STREAMS")
                    .arg(&stream)
                    .arg("$"),
            )
            .await
            .expect("XREAD BLOCK");
        assert_eq!(read, Value::Nil);
        assert!(
            started.elapsed() >= Duration::from_millis(150),
            "XREAD did not block"
        );
        // WAIT waits for the writes sent before it on the same connection, so it runs on the shared one
        // (a server without replicas answers 0 at once).
        let p = Pipeline::new()
            .cmd(Cmd::new("SET").arg(&k).arg("w"))
            .cmd(Cmd::new("WAIT").arg(0).arg(100));
        expect_results(
            &c.pipeline(&p).await.expect("pipeline"),
            &[Ok(ok()), Ok(Value::Int(0))],
        );
    });
}

#[test]
fn a_timeout_of_its_own_outlasts_the_clients_and_a_pipeline_takes_the_longest() {
    run_serial(Duration::from_secs(60), async {
        // Default settings: 1 s for a client of one server, shorter than the 1.5 s block below.
        let c = shared_client().await;
        let list = key("own-timeout:list");
        let k = key("own-timeout:k");
        c.del(&list).await.expect("clean up");
        let blpop = || Cmd::new("BLPOP").arg(&list).arg(1.5);

        let started = Instant::now();
        let err = c.send(blpop()).await.expect_err("the client's deadline");
        assert_eq!(err.kind(), ErrorKind::Timeout);
        assert!(
            started.elapsed() < Duration::from_millis(1400),
            "{:?}",
            started.elapsed()
        );

        let started = Instant::now();
        let reply = c.send(blpop().timeout(Duration::from_secs(4))).await;
        check(
            "BLPOP with its own deadline times out with nil",
            reply,
            Value::Nil,
        );
        assert!(
            started.elapsed() >= Duration::from_millis(1400),
            "{:?}",
            started.elapsed()
        );

        // In a pipeline without a timeout of its own, its longest command timeout applies to all of it.
        let p = Pipeline::new()
            .cmd(Cmd::new("SET").arg(&k).arg(1))
            .cmd(blpop().timeout(Duration::from_secs(4)));
        expect_results(
            &c.pipeline(&p).await.expect("pipeline"),
            &[Ok(ok()), Ok(Value::Nil)],
        );
        // The pipeline's own timeout wins.
        let p = p.timeout(Duration::from_millis(300));
        expect_results(
            &c.pipeline(&p).await.expect("pipeline"),
            &[Ok(ok()), Err(ErrorKind::Timeout)],
        );

        // A cluster client (5 s by default) honours a shorter one.
        let c = cluster_client().await;
        let started = Instant::now();
        let err = c
            .send(blpop().timeout(Duration::from_millis(300)))
            .await
            .expect_err("its own deadline");
        assert_eq!(err.kind(), ErrorKind::Timeout);
        assert!(
            started.elapsed() < Duration::from_millis(1000),
            "{:?}",
            started.elapsed()
        );
    });
}

fn ok() -> Value {
    Value::Status(Bytes::from_static(b"OK"))
}

fn bulk(s: &'static str) -> Value {
    Value::Bulk(Bytes::from_static(s.as_bytes()))
}

/// Compares one result per command with what was expected: a value, or the kind of error.
#[track_caller]
fn expect_results(got: &[slotmux::Result<Value>], expected: &[Result<Value, ErrorKind>]) {
    let got: Vec<Result<Value, ErrorKind>> = got
        .iter()
        .map(|r| r.clone().map_err(|e| e.kind()))
        .collect();
    assert_eq!(got, expected);
}

/// Writes `n` keys under `prefix` and checks that a scan for `prefix*` finds exactly them.
async fn scan_finds_every_key(c: &Client, prefix: &str, n: usize) {
    let mut expected = HashSet::new();
    let mut p = Pipeline::new();
    for i in 0..n {
        let k = format!("{prefix}{i}");
        p.push(Cmd::new("SET").arg(&k).arg(i));
        expected.insert(Bytes::from(k.into_bytes()));
    }
    for r in c.pipeline(&p).await.expect("pipeline") {
        r.expect("SET");
    }
    let mut found = HashSet::new();
    let mut scan = c.scan(Some(&format!("{prefix}*")), Some(100));
    let mut rounds = 0;
    while let Some(batch) = scan.next_batch().await.expect("SCAN") {
        found.extend(batch);
        rounds += 1;
        assert!(rounds < 100_000, "the scan does not end");
    }
    assert_eq!(found, expected);
    // Once over, it stays over.
    assert!(scan.next_batch().await.expect("after the end").is_none());
}

#[test]
fn scan_walks_every_key_of_one_server() {
    run(Duration::from_secs(30), async {
        let c = shared_client().await;
        scan_finds_every_key(&c, &key("scan:"), 1_000).await;
    });
}

#[test]
fn scan_walks_every_master_of_a_cluster() {
    run(Duration::from_secs(60), async {
        let c = cluster_client().await;
        scan_finds_every_key(&c, &key("cscan:"), 1_000).await;
    });
}

/// The server's refusal of a `SCAN` step is a `Server` error with its code, whichever the backend: a user
/// who may run everything but `SCAN` is created on `servers`, and `builder` connects as that user.
async fn a_refused_scan_is_a_server_error(
    builder: slotmux::ClientBuilder,
    servers: &[&test_support::Server],
) {
    let user = format!("noscan{}", std::process::id());
    for server in servers {
        let acl = [
            "ACL", "SETUSER", &user, "on", ">pw", "~*", "&*", "+@all", "-scan",
        ];
        server.command(&acl).expect("ACL SETUSER");
    }
    let c = builder
        .username(user)
        .password("pw")
        .build()
        .await
        .expect("connect as the user");
    let err = c
        .scan(None, None)
        .next_batch()
        .await
        .expect_err("SCAN is not allowed");
    assert_eq!(err.kind(), ErrorKind::Server, "{err}");
    assert_eq!(err.server_code(), Some("NOPERM"), "{err}");
}

#[test]
fn a_refused_scan_is_a_server_error_on_one_server() {
    run(Duration::from_secs(30), async {
        let server = test_support::shared_server();
        a_refused_scan_is_a_server_error(Client::builder().url(&server.url()), &[server]).await;
    });
}

#[test]
fn a_refused_scan_is_a_server_error_on_a_cluster() {
    run(Duration::from_secs(30), async {
        let cluster = test_support::shared_cluster();
        let servers: Vec<&test_support::Server> =
            cluster.nodes().iter().map(|n| n.server()).collect();
        a_refused_scan_is_a_server_error(Client::builder().nodes(cluster.seed_addrs()), &servers)
            .await;
    });
}

#[test]
fn read_from_replicas_sends_reads_to_replicas() {
    // Serial: `wait_answers_for_every_master_on_a_cluster` stops a replica for a moment.
    run_serial(Duration::from_secs(60), async {
        let cluster = test_support::shared_cluster();
        let c = Client::builder()
            .nodes(cluster.seed_addrs())
            .read_from_replicas(true)
            .build()
            .await
            .expect("connect");
        let k = key("replica-read");
        c.set(&k, "v").await.expect("SET goes to the master");
        // Replication is asynchronous: the replica has the value shortly after.
        let start = Instant::now();
        loop {
            if c.get(&k).await.expect("GET") == Some(Bytes::from_static(b"v")) {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "the replica never saw the write"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for _ in 0..50 {
            c.get(&k).await.expect("GET");
        }
        let replicas: HashSet<String> = cluster
            .nodes()
            .iter()
            .filter(|n| n.role().ok() == Some(Role::Replica))
            .map(|n| n.addr())
            .collect();
        let replies_from_replicas = |c: &Client| -> u64 {
            c.stats()
                .nodes
                .iter()
                .filter(|n| replicas.contains(&n.addr))
                .map(|n| n.commands)
                .sum()
        };
        let on_replicas = replies_from_replicas(&c);
        assert!(
            on_replicas >= 50,
            "{on_replicas} replies came from replicas"
        );

        // Without the option, nothing goes to a replica.
        let c = cluster_client().await;
        for _ in 0..50 {
            c.get(&k).await.expect("GET");
        }
        assert_eq!(replies_from_replicas(&c), 0);
    });
}

/// `blocked_clients` of `INFO clients` from a server, read on a connection of the test's own.
fn blocked_clients(server: &test_support::Server) -> i64 {
    let info = server
        .command(&["INFO", "clients"])
        .expect("INFO clients")
        .text()
        .expect("INFO text");
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("blocked_clients in INFO")
}

/// A `BLPOP` on its own connection shows in the stats while it blocks, and `close` ends it at once, on
/// the client and on the server, instead of leaving it to wait out its 10 s.
async fn close_ends_blocking_commands(c: Client, list: String, server: &test_support::Server) {
    c.del(&list).await.expect("clean up");
    assert_eq!(c.stats().blocking_connections, 0);
    let blocker = {
        let c = c.clone();
        let list = list.clone();
        tokio::spawn(async move {
            c.query::<Option<Vec<Bytes>>>(
                Cmd::new("BLPOP")
                    .arg(&list)
                    .arg(10)
                    .timeout(Duration::from_secs(15)),
            )
            .await
        })
    };
    eventually(Duration::from_secs(3), || {
        c.stats().blocking_connections == 1
    })
    .await;
    eventually(Duration::from_secs(3), || blocked_clients(server) >= 1).await;

    let started = Instant::now();
    c.close();
    let err = blocker.await.expect("task").expect_err("BLPOP after close");
    // Written, so it may have popped an element just before the close: not `Closed`, which says "not sent".
    assert_eq!(err.kind(), ErrorKind::Indeterminate, "{err}");
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "BLPOP ended {:?} after close",
        started.elapsed()
    );
    assert_eq!(c.stats().blocking_connections, 0);
    // The server dropped the blocked client, so a later push is not popped by nobody.
    eventually(Duration::from_secs(3), || blocked_clients(server) == 0).await;
    let err = c
        .send(Cmd::new("BLPOP").arg(&list).arg(1))
        .await
        .expect_err("calls after close");
    assert_eq!(err.kind(), ErrorKind::Closed);
}

/// A `BLPOP` whose caller stops waiting, because its future is dropped or its deadline passes, leaves
/// nothing blocked on the server, so an element pushed afterwards stays in the list instead of going to
/// nobody.
async fn an_abandoned_blpop_takes_nothing(c: Client, list: String, server: &test_support::Server) {
    c.del(&list).await.expect("clean up");
    let blpop = || {
        Cmd::new("BLPOP")
            .arg(&list)
            .arg(10)
            .timeout(Duration::from_secs(15))
    };
    // Dropped while it blocks.
    let dropped = tokio::time::timeout(
        Duration::from_millis(300),
        c.query::<Option<Vec<Bytes>>>(blpop()),
    )
    .await;
    assert!(dropped.is_err(), "BLPOP returned early: {dropped:?}");
    // Past its own deadline.
    let err = c
        .query::<Option<Vec<Bytes>>>(blpop().timeout(Duration::from_millis(300)))
        .await
        .expect_err("its deadline passes first");
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");

    // At once, not after a graceful close's wait for the reply still due (1 s and more).
    eventually(Duration::from_millis(700), || blocked_clients(server) == 0).await;
    assert_eq!(c.stats().blocking_connections, 0);
    c.send(Cmd::new("RPUSH").arg(&list).arg("x"))
        .await
        .expect("RPUSH");
    check(
        "the element is still there",
        c.query::<i64>(Cmd::new("LLEN").arg(&list)).await,
        1,
    );
}

#[test]
fn an_abandoned_blpop_takes_nothing_on_one_server() {
    run_serial(Duration::from_secs(30), async {
        let c = shared_client().await;
        an_abandoned_blpop_takes_nothing(c, key("abandoned:list"), test_support::shared_server())
            .await;
    });
}

#[test]
fn an_abandoned_blpop_takes_nothing_on_a_cluster() {
    run_serial(Duration::from_secs(30), async {
        let c = cluster_client().await;
        let list = key("abandoned:list");
        let cluster = test_support::shared_cluster();
        let owner = cluster.slot_owner(slot_of(&list)).expect("slot owner");
        an_abandoned_blpop_takes_nothing(c, list, cluster.node(owner).server()).await;
    });
}

#[test]
fn close_ends_blocking_commands_on_one_server() {
    run_serial(Duration::from_secs(30), async {
        let c = shared_client().await;
        let server = test_support::shared_server();
        close_ends_blocking_commands(c, key("close:list"), server).await;
    });
}

#[test]
fn close_ends_blocking_commands_on_a_cluster() {
    run_serial(Duration::from_secs(30), async {
        let c = cluster_client().await;
        let list = key("close:list");
        let cluster = test_support::shared_cluster();
        let owner = cluster.slot_owner(slot_of(&list)).expect("slot owner");
        close_ends_blocking_commands(c, list, cluster.node(owner).server()).await;
    });
}

/// SIGCONT for a stopped node when dropped, so a failing test does not leave it stopped.
struct Resume<'a>(&'a test_support::ClusterNode);

impl Drop for Resume<'_> {
    fn drop(&mut self) {
        self.0.cont_signal();
    }
}

/// `WAIT replicas 0` ("forever") for more replicas than exist ends within the call's 1 s deadline with
/// the count reached, `expected`, and holds no later command of the shared connections behind it: `GET k`
/// right after it still answers `value`.
async fn wait_forever_ends_in_time(
    c: &Client,
    replicas: u32,
    expected: i64,
    k: &str,
    value: &'static str,
) {
    let started = Instant::now();
    let wait = Cmd::new("WAIT")
        .arg(replicas)
        .arg(0)
        .timeout(Duration::from_secs(1));
    check(
        "WAIT forever within 1 s",
        c.query::<i64>(wait).await,
        expected,
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    check(
        "GET after it",
        c.get(k).await,
        Some(Bytes::from_static(value.as_bytes())),
    );
}

#[test]
fn wait_answers_for_every_master_on_a_cluster() {
    run_serial(Duration::from_secs(60), async {
        let cluster = test_support::shared_cluster();
        let c = cluster_client().await;
        let k = key("wait:k");
        let wait = |n: u32, ms: u64| Cmd::new("WAIT").arg(n).arg(ms);

        // Every master has one replica, in sync: the write is acknowledged at once.
        c.set(&k, "1").await.expect("SET");
        check("WAIT 1", c.query::<i64>(wait(1, 2000)).await, 1);
        let p = Pipeline::new()
            .cmd(Cmd::new("SET").arg(&k).arg("2"))
            .cmd(wait(1, 2000))
            .cmd(Cmd::new("GET").arg(&k));
        expect_results(
            &c.pipeline(&p).await.expect("pipeline"),
            &[Ok(ok()), Ok(Value::Int(1)), Ok(bulk("2"))],
        );

        // A second replica does not exist.
        wait_forever_ends_in_time(&c, 2, 1, &k, "2").await;

        // The replica of the key's master stops: its master cannot confirm the next write, and that is
        // the answer, whatever the other masters say.
        let master = cluster.slot_owner(slot_of(&k)).expect("slot owner");
        let replica = *cluster
            .replicas_of(master)
            .expect("replicas")
            .first()
            .expect("one replica");
        let replica = cluster.node(replica);
        replica.stop_signal();
        let resume = Resume(replica);
        c.set(&k, "3").await.expect("SET with the replica stopped");
        let started = Instant::now();
        check(
            "WAIT 1 with the replica stopped",
            c.query::<i64>(wait(1, 300)).await,
            0,
        );
        assert!(
            started.elapsed() >= Duration::from_millis(250),
            "did not wait on the key's master: {:?}",
            started.elapsed()
        );
        drop(resume);
        let start = Instant::now();
        while c.query::<i64>(wait(1, 500)).await.expect("WAIT") != 1 {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "the replica never caught up"
            );
        }
    });
}

#[test]
fn wait_never_holds_a_shared_connection_past_the_deadline_on_one_server() {
    run_serial(Duration::from_secs(30), async {
        // The shared server has no replica: `WAIT 1 0` would block its connection for good.
        let c = shared_client().await;
        let k = key("wait-one:k");
        c.set(&k, "v").await.expect("SET");
        wait_forever_ends_in_time(&c, 1, 0, &k, "v").await;
    });
}

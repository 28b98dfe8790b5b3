//! Tests of the harness itself, against real redis-server processes.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use test_support::{Cluster, ClusterSpec, Reply, Role, Server, shared_cluster, shared_server};

fn process_exists(pid: u32) -> bool {
    // A zombie (killed, not yet reaped) still has a /proc entry but is not running.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            !stat
                .rsplit(')')
                .next()
                .unwrap_or_default()
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

fn check_reply(server: &Server, args: &[&str], expected: Reply) {
    assert_eq!(server.command(args).unwrap(), expected, "reply to {args:?}");
}

#[test]
fn standalone_server_answers_ping() {
    let server = shared_server();
    check_reply(server, &["PING"], Reply::Status("PONG".into()));
    assert_eq!(server.cli(&["PING"]).unwrap(), "PONG");
    assert_eq!(server.info_field("cluster_enabled").unwrap(), "0");
    assert!(server.addr().starts_with("127.0.0.1:"));
    assert_eq!(server.url(), format!("redis://{}", server.addr()));
}

#[test]
fn server_takes_extra_config_and_allows_debug() {
    let server = Server::start_with(&[("maxmemory", "10mb")]).unwrap();
    check_reply(
        &server,
        &["CONFIG", "GET", "maxmemory"],
        Reply::Array(vec![
            Reply::Bulk(b"maxmemory".to_vec()),
            Reply::Bulk(b"10485760".to_vec()),
        ]),
    );
    check_reply(
        &server,
        &["CONFIG", "GET", "save"],
        Reply::Array(vec![Reply::Bulk(b"save".to_vec()), Reply::Bulk(vec![])]),
    );
    check_reply(
        &server,
        &["DEBUG", "SLEEP", "0"],
        Reply::Status("OK".into()),
    );
}

#[test]
fn password_protected_server_starts_and_refuses_unauthenticated_commands() {
    // Regression: start-up waited for PONG, which a server with requirepass never sends before AUTH.
    let server = Server::start_with(&[("requirepass", "pw")]).unwrap();
    let refused = server.command(&["PING"]).unwrap();
    assert!(
        matches!(&refused, Reply::Error(e) if e.starts_with("NOAUTH")),
        "{refused:?}"
    );
}

#[test]
fn killed_server_restarts_on_the_same_port() {
    let server = Server::start().unwrap();
    let (port, first_pid) = (server.port(), server.pid());
    server.command(&["SET", "k", "v"]).unwrap();
    server.kill();
    assert!(!server.is_alive());
    assert!(!process_exists(first_pid));
    assert!(
        server.command(&["PING"]).is_err(),
        "a killed server must not answer"
    );
    server.restart().unwrap();
    assert_eq!(server.port(), port);
    assert_ne!(server.pid(), first_pid);
    // `save ""`: a crash loses everything.
    check_reply(&server, &["GET", "k"], Reply::Nil);
}

#[test]
fn stopped_server_does_not_answer_until_continued() {
    let server = Server::start().unwrap();
    server.stop_signal();
    let conn = server.connect().unwrap();
    conn.set_timeout(Duration::from_millis(300)).unwrap();
    let mut conn = conn;
    assert!(
        conn.command(&["PING"]).is_err(),
        "a stopped server must not answer"
    );
    server.cont_signal();
    check_reply(&server, &["PING"], Reply::Status("PONG".into()));
}

#[test]
fn dropped_server_leaves_no_process_or_directory() {
    let server = Server::start().unwrap();
    let (pid, dir) = (server.pid(), server.dir().to_owned());
    assert!(process_exists(pid));
    drop(server);
    assert!(
        !process_exists(pid),
        "redis-server {pid} survived its Server"
    );
    assert!(!dir.exists(), "{} was not removed", dir.display());
}

/// The kernel must kill a test's servers even when the test process is SIGKILLed and runs no destructor.
/// The test runs itself as a child process, which starts a server and waits to be killed.
#[test]
fn servers_die_when_the_test_process_is_killed() {
    if std::env::var_os("TEST_SUPPORT_CHILD").is_some() {
        let server = Server::start().unwrap();
        println!("server-pid {}", server.pid());
        std::thread::sleep(Duration::from_secs(60));
        return;
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "servers_die_when_the_test_process_is_killed",
            "--exact",
            "--nocapture",
        ])
        .env("TEST_SUPPORT_CHILD", "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let pid: u32 = stdout
        .lines()
        .map_while(Result::ok)
        .find_map(|line| {
            line.strip_prefix("server-pid ")
                .and_then(|p| p.parse().ok())
        })
        .expect("the child printed no server pid");
    assert!(process_exists(pid));
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while process_exists(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        !process_exists(pid),
        "redis-server {pid} outlived its killed test process"
    );
}

#[test]
fn shared_cluster_covers_every_slot_with_attached_replicas() {
    let cluster = shared_cluster();
    assert_eq!(cluster.nodes().len(), 6);
    assert_eq!(cluster.masters().len(), 3);
    for (i, node) in cluster.nodes().iter().enumerate() {
        assert_eq!(node.id().len(), 40);
        assert_eq!(node.info_field_ok("cluster_state"), "ok");
        assert_eq!(node.info_field_ok("cluster_slots_assigned"), "16384");
        let expected = if i < 3 { Role::Master } else { Role::Replica };
        assert_eq!(node.role().unwrap(), expected, "node {i}");
    }
    for master in 0..3 {
        assert_eq!(cluster.replicas_of(master).unwrap(), vec![master + 3]);
    }
    // The harness splits slots evenly in node order: "foo" hashes to 12182, in the third of three even ranges.
    assert_eq!(cluster.slot_owner(12182).unwrap(), 2);
    assert_eq!(cluster.slot_owner(0).unwrap(), 0);
    assert_eq!(cluster.seed_urls().len(), 6);
}

trait InfoFieldOk {
    fn info_field_ok(&self, field: &str) -> String;
}

impl InfoFieldOk for test_support::ClusterNode {
    fn info_field_ok(&self, field: &str) -> String {
        self.server().info_field(field).unwrap()
    }
}

#[test]
fn cluster_starts_fast_and_survives_a_killed_and_restarted_master() {
    let started = Instant::now();
    let cluster = Cluster::start(ClusterSpec::default()).unwrap();
    let took = started.elapsed();
    eprintln!("3+3 cluster formed in {took:?}");
    assert!(
        took < Duration::from_secs(15),
        "cluster start took {took:?}"
    );

    let master_port = cluster.node(0).port();
    cluster.kill(0);
    // The replica of node 0 is promoted; the survivors converge on a map without node 0.
    cluster.wait_ok(Duration::from_secs(30)).unwrap();
    assert_eq!(cluster.node(3).role().unwrap(), Role::Master);
    assert_eq!(cluster.slot_owner(0).unwrap(), 3);

    // Restarted with its nodes.conf, the old master rejoins as a replica of its successor.
    cluster.restart(0).unwrap();
    assert_eq!(cluster.node(0).port(), master_port);
    cluster.wait_ok(Duration::from_secs(30)).unwrap();
    assert_eq!(cluster.node(0).role().unwrap(), Role::Replica);
    assert_eq!(cluster.replicas_of(3).unwrap(), vec![0]);

    // A manual failover hands the slots back.
    cluster.failover(0, "", Duration::from_secs(30)).unwrap();
    assert_eq!(cluster.slot_owner(0).unwrap(), 0);
    assert_eq!(cluster.node(3).role().unwrap(), Role::Replica);

    let pids: Vec<u32> = cluster.nodes().iter().map(|n| n.pid()).collect();
    drop(cluster);
    for pid in pids {
        assert!(
            !process_exists(pid),
            "redis-server {pid} survived its Cluster"
        );
    }
}

#[test]
fn migrate_slot_moves_keys_and_ownership() {
    let cluster = Cluster::start(ClusterSpec {
        replicas_per_master: 0,
        ..ClusterSpec::default()
    })
    .unwrap();
    // A shared hash tag keeps every key in one slot, owned by the first master (slot 5 < 5461).
    let slot = 5;
    let tag = key_for_slot(&cluster, slot);
    let keys: Vec<String> = (0..250).map(|i| format!("{{{tag}}}{i}")).collect();
    let owner = cluster.node(0);
    for key in &keys {
        owner.command(&["SET", key, "v"]).unwrap().ok().unwrap();
    }
    assert_eq!(cluster.migrate_slot(slot, 0, 1).unwrap(), 250);
    assert_eq!(cluster.slot_owner(slot).unwrap(), 1);
    check_moved(
        &cluster.node(0).command(&["GET", &keys[0]]).unwrap(),
        cluster.node(1).port(),
    );
    check_moved(
        &cluster.node(2).command(&["GET", &keys[0]]).unwrap(),
        cluster.node(1).port(),
    );
    assert_eq!(
        cluster.node(1).command(&["GET", &keys[249]]).unwrap(),
        Reply::Bulk(b"v".to_vec())
    );
    cluster.wait_ok(Duration::from_secs(10)).unwrap();

    cluster.reshard(2, 0, 100).unwrap();
    cluster.wait_ok(Duration::from_secs(10)).unwrap();
    assert_eq!(cluster.slot_count(2).unwrap(), 16384 - 10922 - 100);
    assert_eq!(cluster.slot_count(0).unwrap(), 5461 - 1 + 100);
}

fn check_moved(reply: &Reply, port: u16) {
    match reply {
        Reply::Error(e) => assert!(
            e.starts_with("MOVED ") && e.ends_with(&format!(":{port}")),
            "{e}"
        ),
        other => panic!("expected MOVED to {port}, got {other:?}"),
    }
}

/// A short key in `slot`, found by asking the server (this crate does not depend on hash-slot).
fn key_for_slot(cluster: &Cluster, slot: u16) -> String {
    let mut conn = cluster.node(0).server().connect().unwrap();
    (0..100_000)
        .map(|i| format!("k{i}"))
        .find(|key| {
            conn.command(&["CLUSTER", "KEYSLOT", key]).unwrap() == Reply::Integer(slot.into())
        })
        .expect("no key in the slot among 100000 candidates")
}

#[test]
fn detached_cluster_is_stopped_by_pid() {
    let state = std::env::temp_dir().join(format!("slotmux-detached-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    let spec = ClusterSpec {
        masters: 3,
        replicas_per_master: 0,
        ..ClusterSpec::default()
    };
    let cluster = Cluster::start_detached(spec.clone(), &state).unwrap();
    let pids: Vec<u32> = cluster.nodes().iter().map(|n| n.pid()).collect();
    drop(cluster);
    // Dropping a detached cluster's handle leaves the servers running.
    assert!(pids.iter().all(|&pid| process_exists(pid)));
    let attached = Cluster::attach(&state)
        .unwrap()
        .expect("attach finds the cluster");
    assert_eq!(attached.nodes().len(), 3);
    assert_eq!(
        attached.spec(),
        &ClusterSpec {
            base_port: attached.spec().base_port,
            ..spec
        }
    );
    assert!(
        attached
            .nodes()
            .iter()
            .all(|n| n.is_up() && n.id().len() == 40)
    );
    attached.wait_ok(Duration::from_secs(10)).unwrap();
    drop(attached);
    assert_eq!(Cluster::stop_detached(&state).unwrap(), 3);
    for pid in pids {
        assert!(
            !process_exists(pid),
            "detached redis-server {pid} was not stopped"
        );
    }
    assert!(!Path::new(&state).exists());
    assert!(Cluster::attach(&state).unwrap().is_none());
}

//! A Redis Cluster of real servers: creation, convergence checks and the fault operations tests need.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use crate::binary::redis_cli_binary;
use crate::ports::{self, PortLease};
use crate::resp::{Conn, Reply};
use crate::server::{self, Launch, Mode, Server};

/// Number of hash slots, fixed by the cluster specification.
const SLOTS: usize = 16384;

/// How long a new cluster may take to converge. It takes about 2.3 s (a fresh master refuses
/// `cluster_state:ok` for its first 2 s); the rest is headroom for a loaded 2-core machine.
const FORM_TIMEOUT: Duration = Duration::from_secs(30);

/// Pause between convergence probes: small against the 100 ms cluster cron, so we see `ok` promptly.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// How often nodes that still miss others are introduced again: the shortest handshake timeout is 1 s,
/// so a MEET repeated sooner would only pile up handshakes.
const REMEET_INTERVAL: Duration = Duration::from_secs(1);

/// Keys moved per `MIGRATE`, as `redis-cli --cluster reshard` does by default (its `--cluster-pipeline` is 10;
/// tests hold few keys per slot, so a larger batch just means fewer round trips).
const MIGRATE_BATCH: usize = 100;

/// The shape of a cluster to start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterSpec {
    /// Number of masters; the slots are split evenly between them, in order.
    pub masters: usize,
    /// Number of replicas of each master.
    pub replicas_per_master: usize,
    /// `cluster-node-timeout` in milliseconds: how long a node may be unreachable before failover starts.
    pub node_timeout_ms: u64,
    /// The port of the first node, the others following it; `None` picks free ports.
    pub base_port: Option<u16>,
}

impl Default for ClusterSpec {
    /// Three masters with one replica each and a 1 s node timeout: the smallest cluster that can fail over,
    /// detecting a dead master in about 1.5 s.
    fn default() -> ClusterSpec {
        ClusterSpec {
            masters: 3,
            replicas_per_master: 1,
            node_timeout_ms: 1000,
            base_port: None,
        }
    }
}

impl ClusterSpec {
    /// Total number of nodes.
    pub fn node_count(&self) -> usize {
        self.masters * (1 + self.replicas_per_master)
    }
}

/// The role of a cluster node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Serves slots (or could: a master may own none).
    Master,
    /// Replicates a master.
    Replica,
}

/// One node of a [`Cluster`]: a [`Server`] with a cluster node id.
#[derive(Debug)]
pub struct ClusterNode {
    server: Server,
    id: String,
    initial_role: Role,
}

impl ClusterNode {
    /// The node's 40-character cluster node id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The server process behind the node.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The role the node was created with (masters first, then replicas).
    pub fn initial_role(&self) -> Role {
        self.initial_role
    }

    /// The role the node reports now (`ROLE`), which changes after a failover.
    pub fn role(&self) -> Result<Role> {
        let reply = self.server.command(&["ROLE"])?.ok()?;
        let kind = reply
            .array()
            .and_then(|a| a.first())
            .and_then(Reply::text)
            .context("bad ROLE reply")?;
        Ok(if kind == "master" {
            Role::Master
        } else {
            Role::Replica
        })
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> String {
        self.server.addr()
    }

    /// `redis://127.0.0.1:port`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The current process id.
    pub fn pid(&self) -> u32 {
        self.server.pid()
    }

    /// Whether the process runs and is not stopped: whether it can answer.
    pub fn is_up(&self) -> bool {
        self.server.is_alive() && !self.server.is_stopped()
    }

    /// SIGKILL: the node crashes.
    pub fn kill(&self) {
        self.server.kill();
    }

    /// Starts the node again with its `nodes.conf`, so it rejoins with the same id.
    pub fn restart(&self) -> Result<()> {
        self.server.restart()
    }

    /// SIGSTOP: the node hangs.
    pub fn stop_signal(&self) {
        self.server.stop_signal();
    }

    /// SIGCONT: the node resumes.
    pub fn cont_signal(&self) {
        self.server.cont_signal();
    }

    /// Runs redis-cli against the node; see [`Server::cli`].
    pub fn cli(&self, args: &[&str]) -> Result<String> {
        self.server.cli(args)
    }

    /// Sends one command on a new connection; see [`Server::command`].
    pub fn command(&self, args: &[&str]) -> Result<Reply> {
        self.server.command(args)
    }
}

/// A running Redis Cluster on `127.0.0.1`.
///
/// Nodes `0..masters` start as masters owning even slot ranges in order; the replicas follow,
/// node `masters + k` replicating master `k % masters`.
/// Every node is killed when the value is dropped (unless started detached) and when the test process exits.
#[derive(Debug)]
pub struct Cluster {
    nodes: Vec<ClusterNode>,
    spec: ClusterSpec,
}

impl Cluster {
    /// Starts the servers, forms the cluster and returns once every node reports `cluster_state:ok`,
    /// every node sees the same slot map, and every replica is attached to its master.
    pub fn start(spec: ClusterSpec) -> Result<Cluster> {
        Cluster::start_with(spec, &[])
    }

    /// Like [`Cluster::start`], with extra `redis.conf` directives for every node.
    pub fn start_with(spec: ClusterSpec, extra_config: &[(&str, &str)]) -> Result<Cluster> {
        let leases = reserve_ports(&spec)?;
        let launches = leases
            .into_iter()
            .map(|lease| {
                let port = lease.port();
                Ok(Launch {
                    dir: server::test_dir(port)?,
                    lease: Some(lease),
                    port,
                    mode: Mode::Tied,
                    config: node_config(&spec, extra_config),
                    remove_dir_on_drop: true,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Cluster::form(spec, launches)
    }

    /// Starts a cluster that outlives this process, for `cargo xtask cluster up`: each node runs in its own
    /// session from `state_dir/node-<port>`, and [`Cluster::stop_detached`] stops it later by PID.
    pub fn start_detached(spec: ClusterSpec, state_dir: &Path) -> Result<Cluster> {
        let leases = reserve_ports(&spec)?;
        let launches = leases
            .into_iter()
            .map(|lease| {
                let port = lease.port();
                let dir = state_dir.join(format!("node-{port}"));
                let _ = fs::remove_dir_all(&dir);
                Launch {
                    dir,
                    // The reservation only guards the start-up; the cluster outlives this process anyway.
                    lease: Some(lease),
                    port,
                    mode: Mode::Detached,
                    config: node_config(&spec, &[]),
                    remove_dir_on_drop: false,
                }
            })
            .collect();
        Cluster::form(spec, launches)
    }

    /// A handle on a detached cluster started earlier in `state_dir`, or `None` when there is none.
    /// Nodes that no longer run are included (see [`ClusterNode::is_up`]).
    pub fn attach(state_dir: &Path) -> Result<Option<Cluster>> {
        let mut nodes = Vec::new();
        for (port, dir) in node_dirs(state_dir)? {
            let (id, initial_role) = read_myself(&dir).unwrap_or((String::new(), Role::Master));
            nodes.push(ClusterNode {
                server: Server::attach(dir, port),
                id,
                initial_role,
            });
        }
        if nodes.is_empty() {
            return Ok(None);
        }
        let masters = nodes
            .iter()
            .filter(|n| n.initial_role == Role::Master)
            .count()
            .max(1);
        let spec = ClusterSpec {
            masters,
            replicas_per_master: (nodes.len() / masters).saturating_sub(1),
            node_timeout_ms: nodes
                .first()
                .and_then(|n| read_node_timeout(n.server.dir()))
                .unwrap_or(0),
            base_port: nodes.first().map(ClusterNode::port),
        };
        Ok(Some(Cluster { nodes, spec }))
    }

    /// Stops every node of the detached cluster in `state_dir` by the PID in its pidfile (SIGTERM, then SIGKILL
    /// after 5 s), checks that no redis-server is left running from that directory, and removes it.
    /// Returns how many servers were running.
    pub fn stop_detached(state_dir: &Path) -> Result<usize> {
        let mut stoppers = Vec::new();
        let mut running = 0;
        for (_, dir) in node_dirs(state_dir)? {
            if let Some(pid) = server::read_pid(&dir) {
                if server::is_our_server(pid, &dir) {
                    running += 1;
                    // A master takes 1-2 s to shut down on SIGTERM; stop them all at once.
                    stoppers.push(thread::spawn(move || {
                        server::kill_and_wait(pid, &dir, libc::SIGTERM, Duration::from_secs(5));
                    }));
                }
            }
        }
        for stopper in stoppers {
            let _ = stopper.join();
        }
        let left = servers_running_in(state_dir);
        ensure!(
            left.is_empty(),
            "redis-server processes still running from {}: {left:?}",
            state_dir.display()
        );
        if state_dir.exists() {
            fs::remove_dir_all(state_dir)
                .with_context(|| format!("removing {}", state_dir.display()))?;
        }
        Ok(running)
    }

    fn form(spec: ClusterSpec, launches: Vec<Launch>) -> Result<Cluster> {
        let started = Instant::now();
        // Launch every process first and only then wait, so they start in parallel.
        let servers = launches
            .into_iter()
            .map(Server::launch)
            .collect::<Result<Vec<_>>>()?;
        for server in &servers {
            server.wait_ready(Duration::from_secs(15))?;
        }
        trace(started, "servers answer PING");
        let mut nodes = Vec::with_capacity(servers.len());
        for (i, server) in servers.into_iter().enumerate() {
            let id = server
                .command(&["CLUSTER", "MYID"])?
                .ok()?
                .text()
                .context("CLUSTER MYID")?;
            let initial_role = if i < spec.masters {
                Role::Master
            } else {
                Role::Replica
            };
            nodes.push(ClusterNode {
                server,
                id,
                initial_role,
            });
        }
        let cluster = Cluster { nodes, spec };
        cluster.create()?;
        Ok(cluster)
    }

    /// Does what `redis-cli --cluster create` does, without its one-second polling:
    /// slots and distinct config epochs first (so no epoch collision must be resolved), then one MEET per node,
    /// then REPLICATE once every node knows every other.
    fn create(&self) -> Result<()> {
        let started = Instant::now();
        let masters = self.spec.masters;
        ensure!(
            (1..=SLOTS).contains(&masters),
            "a cluster needs 1 to {SLOTS} masters, not {masters}"
        );
        for (k, (start, end)) in slot_ranges(masters).into_iter().enumerate() {
            self.nodes[k]
                .command(&[
                    "CLUSTER",
                    "ADDSLOTSRANGE",
                    &start.to_string(),
                    &end.to_string(),
                ])?
                .ok()?;
        }
        for (i, node) in self.nodes.iter().enumerate() {
            node.command(&["CLUSTER", "SET-CONFIG-EPOCH", &(i + 1).to_string()])?
                .ok()?;
        }
        let first = &self.nodes[0];
        for node in &self.nodes[1..] {
            first
                .command(&["CLUSTER", "MEET", "127.0.0.1", &node.port().to_string()])?
                .ok()?;
        }
        let n = self.nodes.len();
        let mut last_meet = Instant::now();
        wait_until(FORM_TIMEOUT, "every node to know every other node", || {
            let mut lagging = Vec::new();
            for (i, node) in self.nodes.iter().enumerate() {
                let known = nodes_known(node)?;
                if known != n {
                    lagging.push((i, known));
                }
            }
            let Some(&(lagging_node, known)) = lagging.first() else {
                return Ok(Ok(()));
            };
            // On a loaded machine a handshake can outlast its timeout (the node timeout), and the node that
            // started it then forgets the other for good: MEET again, in both directions.
            if last_meet.elapsed() >= REMEET_INTERVAL {
                last_meet = Instant::now();
                for &(i, _) in &lagging {
                    let others = if i == 0 {
                        &self.nodes[1..]
                    } else {
                        std::slice::from_ref(first)
                    };
                    for other in others {
                        let _ = self.nodes[i].command(&[
                            "CLUSTER",
                            "MEET",
                            "127.0.0.1",
                            &other.port().to_string(),
                        ]);
                        let _ = other.command(&[
                            "CLUSTER",
                            "MEET",
                            "127.0.0.1",
                            &self.nodes[i].port().to_string(),
                        ]);
                    }
                }
                trace(
                    started,
                    &format!("MEET again for nodes {lagging:?} (index, nodes known)"),
                );
            }
            Ok(Err(format!(
                "node {} knows {known} of {n} nodes",
                self.nodes[lagging_node].port()
            )))
        })?;
        trace(started, "every node knows every other");
        for (i, node) in self.nodes.iter().enumerate().skip(masters) {
            let master = &self.nodes[(i - masters) % masters];
            node.command(&["CLUSTER", "REPLICATE", master.id()])?.ok()?;
        }
        wait_until(
            FORM_TIMEOUT,
            "every replica to sync with its master",
            || {
                for node in &self.nodes[masters..] {
                    let role = node.command(&["ROLE"])?.ok()?;
                    let state = role
                        .array()
                        .and_then(|r| r.get(3))
                        .and_then(Reply::text)
                        .unwrap_or_default();
                    if state != "connected" {
                        return Ok(Err(format!("replica {} link is {state:?}", node.port())));
                    }
                }
                Ok(Ok(()))
            },
        )?;
        // CLUSTER SLOTS leaves out replicas whose replication offset is still 0, and a new master's offset only
        // moves on a write or its replication ping every 10 s. A write to each (still empty) master makes it move now.
        if self.spec.replicas_per_master > 0 {
            for node in &self.nodes[..masters] {
                node.command(&["FLUSHALL"])?.ok()?;
            }
        }
        trace(started, "replicas attached");
        let expected = self.expected_view();
        self.wait_converged(FORM_TIMEOUT, Some(&expected))
            .with_context(|| format!("cluster did not form within {:?}", started.elapsed()))
    }

    /// The slot map a fresh cluster must reach.
    fn expected_view(&self) -> View {
        let masters = self.spec.masters;
        slot_ranges(masters)
            .into_iter()
            .enumerate()
            .map(|(k, (start, end))| {
                let replicas = (masters..self.nodes.len())
                    .filter(|i| (i - masters) % masters == k)
                    .map(|i| self.nodes[i].port())
                    .collect();
                Range {
                    start,
                    end,
                    master: self.nodes[k].port(),
                    replicas,
                }
            })
            .collect()
    }

    /// Waits until every node that is up reports `cluster_state:ok`, all of them return the same
    /// `CLUSTER SLOTS` covering all 16384 slots, and every replica that is up is attached to its master
    /// and listed under it.
    pub fn wait_ok(&self, timeout: Duration) -> Result<()> {
        self.wait_converged(timeout, None)
    }

    fn wait_converged(&self, timeout: Duration, expected: Option<&View>) -> Result<()> {
        let mut conns: Vec<Option<Conn>> = self.nodes.iter().map(|_| None).collect();
        let started = Instant::now();
        let mut last = String::new();
        wait_until(timeout, "the cluster to converge", || {
            let result = self.probe(&mut conns, expected);
            if let Ok(Err(reason)) = &result {
                if *reason != last {
                    trace(started, reason);
                    last.clone_from(reason);
                }
            }
            result
        })
    }

    /// One convergence check; `Ok(Err(reason))` means "not yet".
    fn probe(
        &self,
        conns: &mut [Option<Conn>],
        expected: Option<&View>,
    ) -> Result<Result<(), String>> {
        let mut reference: Option<(u16, View)> = None;
        let mut attached = Vec::new();
        for (node, slot) in self.nodes.iter().zip(conns.iter_mut()) {
            if !node.is_up() {
                continue;
            }
            let port = node.port();
            let mut conn = match slot.take() {
                Some(conn) => conn,
                None => match node.server.connect() {
                    Ok(conn) => conn,
                    Err(e) => return Ok(Err(format!("node {port}: {e:#}"))),
                },
            };
            let answers = (|| -> Result<(String, Reply, Reply)> {
                let info = conn
                    .command(&["CLUSTER", "INFO"])?
                    .ok()?
                    .text()
                    .unwrap_or_default();
                Ok((
                    info,
                    conn.command(&["CLUSTER", "SLOTS"])?.ok()?,
                    conn.command(&["ROLE"])?.ok()?,
                ))
            })();
            let (info, slots, role) = match answers {
                Ok(answers) => answers,
                Err(e) => return Ok(Err(format!("node {port}: {e:#}"))),
            };
            *slot = Some(conn);
            if !info.lines().any(|l| l.trim() == "cluster_state:ok") {
                return Ok(Err(format!("node {port} is not cluster_state:ok")));
            }
            let view = parse_slots(&slots)?;
            let covered: usize = view.iter().map(|r| r.end - r.start + 1).sum();
            if covered != SLOTS {
                return Ok(Err(format!(
                    "node {port} sees {covered} of {SLOTS} slots covered"
                )));
            }
            match &reference {
                None => reference = Some((port, view)),
                Some((first, seen)) if *seen != view => {
                    return Ok(Err(format!(
                        "node {port} sees {view:?}, node {first} sees {seen:?}"
                    )));
                }
                Some(_) => {}
            }
            let role = role.array().unwrap_or_default();
            if role.first().and_then(Reply::text).as_deref() == Some("slave") {
                let master_port = role.get(2).and_then(Reply::integer).unwrap_or(0);
                let state = role.get(3).and_then(Reply::text).unwrap_or_default();
                if state != "connected" {
                    return Ok(Err(format!(
                        "replica {port} link to its master is {state:?}"
                    )));
                }
                attached.push((port, master_port));
            }
        }
        let Some((_, view)) = reference else {
            return Ok(Err("no node is up".into()));
        };
        for (replica, master) in attached {
            if !view
                .iter()
                .any(|r| i64::from(r.master) == master && r.replicas.contains(&replica))
            {
                return Ok(Err(format!(
                    "replica {replica} of {master} is not in the slot map yet"
                )));
            }
        }
        if let Some(expected) = expected {
            if view != *expected {
                return Ok(Err(format!(
                    "the nodes agree on {view:?}, expected {expected:?}"
                )));
            }
        }
        Ok(Ok(()))
    }

    /// Every node, in creation order.
    pub fn nodes(&self) -> &[ClusterNode] {
        &self.nodes
    }

    /// Node `i` (creation order: masters first).
    ///
    /// # Panics
    /// When `i` is out of range: a bug in the test.
    pub fn node(&self, i: usize) -> &ClusterNode {
        &self.nodes[i]
    }

    /// The id of node `i`.
    pub fn node_id(&self, i: usize) -> &str {
        self.node(i).id()
    }

    /// The spec the cluster was started with.
    pub fn spec(&self) -> &ClusterSpec {
        &self.spec
    }

    /// The URL of every node, to seed a client.
    pub fn seed_urls(&self) -> Vec<String> {
        self.nodes.iter().map(ClusterNode::url).collect()
    }

    /// The `127.0.0.1:port` of every node.
    pub fn seed_addrs(&self) -> Vec<String> {
        self.nodes.iter().map(ClusterNode::addr).collect()
    }

    /// The index of the node listening on `port`.
    pub fn index_of_port(&self, port: u16) -> Option<usize> {
        self.nodes.iter().position(|n| n.port() == port)
    }

    /// The nodes that own slots now, by the slot map of the first node that answers
    /// (by initial role when none answers).
    pub fn masters(&self) -> Vec<&ClusterNode> {
        match self.current_view() {
            Ok(view) => self
                .nodes
                .iter()
                .filter(|n| view.iter().any(|r| r.master == n.port()))
                .collect(),
            Err(_) => self
                .nodes
                .iter()
                .filter(|n| n.initial_role == Role::Master)
                .collect(),
        }
    }

    /// The indices of the replicas of node `master` that are listed in the current slot map.
    pub fn replicas_of(&self, master: usize) -> Result<Vec<usize>> {
        let port = self.node(master).port();
        let view = self.current_view()?;
        let ports = view
            .iter()
            .find(|r| r.master == port)
            .map(|r| r.replicas.clone())
            .unwrap_or_default();
        Ok(ports
            .into_iter()
            .filter_map(|p| self.index_of_port(p))
            .collect())
    }

    /// The index of the node that owns `slot` in the slot map of the first node that answers.
    pub fn slot_owner(&self, slot: u16) -> Result<usize> {
        let view = self.current_view()?;
        let range = view
            .iter()
            .find(|r| (r.start..=r.end).contains(&usize::from(slot)))
            .context("slot not covered")?;
        self.index_of_port(range.master)
            .with_context(|| format!("owner port {} is not ours", range.master))
    }

    /// How many slots node `i` owns in the slot map of the first node that answers.
    pub fn slot_count(&self, i: usize) -> Result<usize> {
        let port = self.node(i).port();
        let view = self.current_view()?;
        Ok(view
            .iter()
            .filter(|r| r.master == port)
            .map(|r| r.end - r.start + 1)
            .sum())
    }

    fn current_view(&self) -> Result<View> {
        let mut last = None;
        for node in self.nodes.iter().filter(|n| n.is_up()) {
            match node.command(&["CLUSTER", "SLOTS"]).and_then(Reply::ok) {
                Ok(reply) => return parse_slots(&reply),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("no node is up")))
    }

    /// SIGKILLs node `i`.
    pub fn kill(&self, i: usize) {
        self.node(i).kill();
    }

    /// Restarts node `i` on its port with its `nodes.conf`; it answers PING on return,
    /// use [`Cluster::wait_ok`] to wait until it has rejoined.
    pub fn restart(&self, i: usize) -> Result<()> {
        self.node(i).restart()
    }

    /// Runs `CLUSTER FAILOVER [mode]` on replica `i` (mode: `""`, `"FORCE"` or `"TAKEOVER"`) and waits until it
    /// reports itself master and the cluster has converged.
    pub fn failover(&self, i: usize, mode: &str, timeout: Duration) -> Result<()> {
        let node = self.node(i);
        let mut args = vec!["CLUSTER", "FAILOVER"];
        if !mode.is_empty() {
            args.push(mode);
        }
        node.command(&args)?.ok()?;
        wait_until(timeout, "the replica to become master", || {
            Ok(if node.role()? == Role::Master {
                Ok(())
            } else {
                Err(format!("node {} is still a replica", node.port()))
            })
        })?;
        self.wait_ok(timeout)
    }

    /// Adds an empty master, as `redis-cli --cluster add-node` does: starts one more node (with the spec's
    /// configuration; extra directives given at start are not repeated), MEETs it, and waits until every node
    /// knows every other and the cluster has converged. Returns its index, the new last one.
    pub fn add_master(&mut self) -> Result<usize> {
        let started = Instant::now();
        let lease = ports::reserve()?;
        let port = lease.port();
        let server = Server::launch(Launch {
            dir: server::test_dir(port)?,
            lease: Some(lease),
            port,
            mode: Mode::Tied,
            config: node_config(&self.spec, &[]),
            remove_dir_on_drop: true,
        })?;
        server.wait_ready(Duration::from_secs(15))?;
        let id = server
            .command(&["CLUSTER", "MYID"])?
            .ok()?
            .text()
            .context("CLUSTER MYID")?;
        self.nodes.push(ClusterNode {
            server,
            id,
            initial_role: Role::Master,
        });
        let new = self.nodes.len() - 1;
        let meet = |cluster: &Cluster| -> Result<()> {
            cluster.nodes[0]
                .command(&["CLUSTER", "MEET", "127.0.0.1", &port.to_string()])?
                .ok()?;
            Ok(())
        };
        meet(self)?;
        let mut last_meet = Instant::now();
        self.wait_nodes_known(self.nodes.len(), || {
            // A handshake can time out on a loaded machine; introduce the node again, as `create` does.
            if last_meet.elapsed() >= REMEET_INTERVAL {
                last_meet = Instant::now();
                let _ = meet(self);
            }
        })?;
        trace(started, &format!("node {port} joined"));
        self.wait_ok(FORM_TIMEOUT)?;
        Ok(new)
    }

    /// Removes the last node, which must own no slot, as `redis-cli --cluster del-node` does before it shuts
    /// the node down: every other node forgets it, then it forgets them (`CLUSTER RESET HARD`) and keeps
    /// running on its own. Returns the node; dropping it stops the process.
    pub fn remove_last_node(&mut self) -> Result<ClusterNode> {
        let last = self.nodes.len().checked_sub(1).context("no node")?;
        ensure!(last > 0, "cannot remove the only node");
        let owned = self.slot_count(last)?;
        ensure!(owned == 0, "node {last} still owns {owned} slots");
        let id = self.nodes[last].id().to_owned();
        for node in &self.nodes[..last] {
            node.command(&["CLUSTER", "FORGET", &id])?.ok()?;
        }
        // Forgotten nodes are banned from gossip for 60 s only; the reset makes the node forget the others too.
        self.nodes[last]
            .command(&["CLUSTER", "RESET", "HARD"])?
            .ok()?;
        let node = self.nodes.pop().context("no node")?;
        self.wait_nodes_known(self.nodes.len(), || {})?;
        self.wait_ok(FORM_TIMEOUT)?;
        Ok(node)
    }

    /// Waits until every node lists exactly `n` nodes (handshakes not counted) in `CLUSTER NODES`, calling
    /// `between` after each unsuccessful round.
    fn wait_nodes_known(&self, n: usize, mut between: impl FnMut()) -> Result<()> {
        wait_until(FORM_TIMEOUT, "every node to know the others", || {
            for node in &self.nodes {
                let known = nodes_known(node)?;
                if known != n {
                    between();
                    return Ok(Err(format!(
                        "node {} knows {known} of {n} nodes",
                        node.port()
                    )));
                }
            }
            Ok(Ok(()))
        })
    }

    /// Moves `slot` with its keys from master `from` to master `to`, as `redis-cli --cluster reshard` does for
    /// one slot. Returns the number of keys moved.
    pub fn migrate_slot(&self, slot: u16, from: usize, to: usize) -> Result<usize> {
        self.begin_slot_migration(slot, from, to)?;
        let mut moved = 0;
        loop {
            let n = self.migrate_slot_keys(slot, from, to, MIGRATE_BATCH)?;
            if n == 0 {
                break;
            }
            moved += n;
        }
        self.finish_slot_migration(slot, from, to)?;
        Ok(moved)
    }

    /// First step of [`Cluster::migrate_slot`]: `SETSLOT IMPORTING` on `to`, then `SETSLOT MIGRATING` on `from`.
    /// Afterwards `from` answers `-ASK` for keys of the slot it no longer has.
    pub fn begin_slot_migration(&self, slot: u16, from: usize, to: usize) -> Result<()> {
        let (src, dst) = (self.node(from), self.node(to));
        let slot = slot.to_string();
        dst.command(&["CLUSTER", "SETSLOT", &slot, "IMPORTING", src.id()])?
            .ok()?;
        src.command(&["CLUSTER", "SETSLOT", &slot, "MIGRATING", dst.id()])?
            .ok()?;
        Ok(())
    }

    /// Middle step of [`Cluster::migrate_slot`]: moves up to `max_keys` keys of `slot` from `from` to `to` with
    /// `MIGRATE`. Returns how many were moved (0 when none is left).
    pub fn migrate_slot_keys(
        &self,
        slot: u16,
        from: usize,
        to: usize,
        max_keys: usize,
    ) -> Result<usize> {
        let (src, dst) = (self.node(from), self.node(to));
        let mut conn = src.server.connect()?;
        let reply = conn
            .command(&[
                "CLUSTER",
                "GETKEYSINSLOT",
                &slot.to_string(),
                &max_keys.to_string(),
            ])?
            .ok()?;
        let keys: Vec<Vec<u8>> = reply
            .array()
            .unwrap_or_default()
            .iter()
            .filter_map(|k| match k {
                Reply::Bulk(key) => Some(key.clone()),
                _ => None,
            })
            .collect();
        if keys.is_empty() {
            return Ok(0);
        }
        let port = dst.port().to_string();
        let mut args: Vec<&[u8]> = vec![
            b"MIGRATE",
            b"127.0.0.1",
            port.as_bytes(),
            b"",
            b"0",
            b"5000",
            b"KEYS",
        ];
        args.extend(keys.iter().map(Vec::as_slice));
        conn.command(&args)?.ok().context("MIGRATE")?;
        Ok(keys.len())
    }

    /// Last step of [`Cluster::migrate_slot`]: `SETSLOT NODE` on `to`, then on `from`, then on every other node
    /// that is up (best effort; gossip tells the rest).
    pub fn finish_slot_migration(&self, slot: u16, from: usize, to: usize) -> Result<()> {
        let dst_id = self.node(to).id().to_owned();
        let slot = slot.to_string();
        let setslot = ["CLUSTER", "SETSLOT", slot.as_str(), "NODE", dst_id.as_str()];
        self.node(to).command(&setslot)?.ok()?;
        self.node(from).command(&setslot)?.ok()?;
        for (i, node) in self.nodes.iter().enumerate() {
            if i != from && i != to && node.is_up() && node.role().ok() == Some(Role::Master) {
                let _ = node.command(&setslot);
            }
        }
        Ok(())
    }

    /// Moves `n_slots` slots from master `from` to master `to` with `redis-cli --cluster reshard`.
    pub fn reshard(&self, from: usize, to: usize, n_slots: usize) -> Result<()> {
        let out = Command::new(redis_cli_binary()?)
            .args(["--cluster", "reshard", &self.node(from).addr()])
            .args([
                "--cluster-from",
                self.node_id(from),
                "--cluster-to",
                self.node_id(to),
            ])
            .args(["--cluster-slots", &n_slots.to_string(), "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .context("running redis-cli --cluster reshard")?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || stdout.contains("[ERR]") {
            bail!(
                "redis-cli --cluster reshard failed ({}):\n{stdout}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }
}

/// Prints the progress of cluster creation when `TEST_SUPPORT_TRACE` is set, to diagnose slow starts.
fn trace(started: Instant, what: &str) {
    if std::env::var_os("TEST_SUPPORT_TRACE").is_some() {
        eprintln!("test-support: {:>6.0?} {what}", started.elapsed());
    }
}

fn reserve_ports(spec: &ClusterSpec) -> Result<Vec<PortLease>> {
    let n = spec.node_count();
    ensure!(n > 0, "a cluster needs at least one master");
    match spec.base_port {
        Some(base) => (0..n)
            .map(|i| {
                let port = u16::try_from(i)
                    .ok()
                    .and_then(|i| base.checked_add(i))
                    .context("port out of range")?;
                reserve_exact_patiently(port)
            })
            .collect(),
        None => (0..n).map(|_| ports::reserve()).collect(),
    }
}

/// How long a fixed port may stay taken before we give up. The bus ports of fixed clusters (40001 and up)
/// lie in Linux's ephemeral range, so a finished outgoing connection can hold one in TIME_WAIT for 60 s.
const FIXED_PORT_WAIT: Duration = Duration::from_secs(70);

fn reserve_exact_patiently(port: u16) -> Result<PortLease> {
    let deadline = Instant::now() + FIXED_PORT_WAIT;
    let mut told = false;
    loop {
        match ports::reserve_exact(port) {
            Ok(lease) => return Ok(lease),
            Err(e) if Instant::now() >= deadline => {
                return Err(e.context(format!(
                    "still in use after {FIXED_PORT_WAIT:?}; choose other ports"
                )));
            }
            Err(e) => {
                if !told {
                    eprintln!(
                        "test-support: {e:#}; waiting up to {FIXED_PORT_WAIT:?} for it (TIME_WAIT lasts 60 s)"
                    );
                    told = true;
                }
                thread::sleep(Duration::from_millis(500));
            }
        }
    }
}

fn node_config(spec: &ClusterSpec, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut config = server::base_config();
    config.push(("cluster-enabled".into(), "yes".into()));
    config.push(("cluster-config-file".into(), "nodes.conf".into()));
    config.push((
        "cluster-node-timeout".into(),
        spec.node_timeout_ms.to_string(),
    ));
    config.extend(extra.iter().map(|&(k, v)| (k.to_owned(), v.to_owned())));
    config
}

/// How many nodes `node` lists in `CLUSTER NODES`, not counting handshakes in progress or nodes without an address.
fn nodes_known(node: &ClusterNode) -> Result<usize> {
    let text = node
        .command(&["CLUSTER", "NODES"])?
        .ok()?
        .text()
        .unwrap_or_default();
    Ok(text
        .lines()
        .filter(|l| !l.contains("handshake") && !l.contains("noaddr"))
        .count())
}

/// Splits the slots evenly between `masters` in order, as `redis-cli --cluster create` does.
fn slot_ranges(masters: usize) -> Vec<(usize, usize)> {
    (0..masters)
        .map(|k| (k * SLOTS / masters, (k + 1) * SLOTS / masters - 1))
        .collect()
}

/// One entry of `CLUSTER SLOTS`, reduced to what convergence compares.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Range {
    start: usize,
    end: usize,
    master: u16,
    replicas: Vec<u16>,
}

type View = Vec<Range>;

/// Parses `CLUSTER SLOTS` into ranges sorted by start, with adjacent ranges of one shard merged
/// (a migrated slot splits a range; the map is the same).
fn parse_slots(reply: &Reply) -> Result<View> {
    let mut ranges = Vec::new();
    for entry in reply.array().context("CLUSTER SLOTS is not an array")? {
        let fields = entry
            .array()
            .context("CLUSTER SLOTS entry is not an array")?;
        let int = |i: usize| -> Result<usize> {
            let n = fields
                .get(i)
                .and_then(Reply::integer)
                .context("bad CLUSTER SLOTS entry")?;
            Ok(usize::try_from(n)?)
        };
        let port = |node: &Reply| -> Result<u16> {
            let n = node
                .array()
                .and_then(|a| a.get(1))
                .and_then(Reply::integer)
                .context("bad node")?;
            Ok(u16::try_from(n)?)
        };
        let master = port(
            fields
                .get(2)
                .context("CLUSTER SLOTS entry without master")?,
        )?;
        let mut replicas = fields
            .iter()
            .skip(3)
            .map(port)
            .collect::<Result<Vec<_>>>()?;
        replicas.sort_unstable();
        ranges.push(Range {
            start: int(0)?,
            end: int(1)?,
            master,
            replicas,
        });
    }
    ranges.sort();
    let mut merged: View = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last)
                if last.end + 1 == range.start
                    && last.master == range.master
                    && last.replicas == range.replicas =>
            {
                last.end = range.end;
            }
            _ => merged.push(range),
        }
    }
    Ok(merged)
}

/// Polls `check` until it returns `Ok(Ok(v))`; `Ok(Err(reason))` means "not yet", `Err` aborts.
/// The error after `timeout` names what was awaited and the last reason.
fn wait_until<T>(
    timeout: Duration,
    what: &str,
    mut check: impl FnMut() -> Result<Result<T, String>>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        let reason = match check() {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(reason)) => reason,
            Err(e) => format!("{e:#}"),
        };
        if Instant::now() >= deadline {
            bail!("timed out after {timeout:?} waiting for {what}: {reason}");
        }
        thread::sleep(POLL_INTERVAL);
    }
}

/// The `node-<port>` directories of a detached cluster, by port.
fn node_dirs(state_dir: &Path) -> Result<Vec<(u16, PathBuf)>> {
    let mut dirs = BTreeMap::new();
    let entries = match fs::read_dir(state_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", state_dir.display())),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        if let Some(port) = name
            .to_str()
            .and_then(|n| n.strip_prefix("node-"))
            .and_then(|p| p.parse().ok())
        {
            dirs.insert(port, entry.path());
        }
    }
    Ok(dirs.into_iter().collect())
}

/// The node's own id and role from the `myself` line of its `nodes.conf`.
fn read_myself(dir: &Path) -> Option<(String, Role)> {
    let text = fs::read_to_string(dir.join("nodes.conf")).ok()?;
    let line = text.lines().find(|l| {
        l.split(' ')
            .nth(2)
            .is_some_and(|f| f.split(',').any(|f| f == "myself"))
    })?;
    let mut fields = line.split(' ');
    let id = fields.next()?.to_owned();
    let flags = fields.nth(1)?;
    let role = if flags.split(',').any(|f| f == "slave") {
        Role::Replica
    } else {
        Role::Master
    };
    Some((id, role))
}

/// The `cluster-node-timeout` a node was configured with.
fn read_node_timeout(dir: &Path) -> Option<u64> {
    let text = fs::read_to_string(dir.join("redis.conf")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("cluster-node-timeout "))
        .and_then(|v| v.trim().parse().ok())
}

/// PIDs of redis-server processes whose working directory is under `dir`.
fn servers_running_in(dir: &Path) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|&pid| server::is_our_server(pid, dir))
        .collect()
}

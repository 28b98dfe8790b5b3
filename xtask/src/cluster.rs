//! `cargo xtask cluster up|down|status`: a local Redis Cluster for benchmarks and manual testing.
//!
//! The servers are started detached by `test-support` and keep running after this command exits;
//! their directories, pidfiles and logs live under `<repo>/.slotmux/cluster/` (git-ignored),
//! and `down` stops them by the PIDs recorded there.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use test_support::{Cluster, ClusterSpec, Reply};

use crate::flags::{ClusterCommand, ClusterUp};
use crate::{ensure_redis, format_duration, project_root};

/// How long `up` waits for an existing cluster to show itself healthy before starting afresh:
/// a healthy local cluster answers in milliseconds.
const HEALTHY_TIMEOUT: Duration = Duration::from_secs(3);

fn state_dir() -> PathBuf {
    project_root().join(".slotmux/cluster")
}

pub(crate) fn run(command: ClusterCommand) -> Result<()> {
    match command {
        ClusterCommand::Up(flags) => up(&flags),
        ClusterCommand::Down => down(),
        ClusterCommand::Status => status(),
    }
}

fn up(flags: &ClusterUp) -> Result<()> {
    let dir = state_dir();
    if let Some(cluster) = Cluster::attach(&dir)? {
        let all_up = cluster.nodes().iter().all(|n| n.is_up());
        if all_up && cluster.wait_ok(HEALTHY_TIMEOUT).is_ok() {
            println!("cluster is already up:");
            print_status(&cluster);
            return Ok(());
        }
        println!(
            "found a stale or unhealthy cluster under {}; stopping it first",
            dir.display()
        );
        Cluster::stop_detached(&dir)?;
    }
    ensure_redis()?;
    let spec = ClusterSpec {
        masters: flags.masters,
        replicas_per_master: flags.replicas,
        node_timeout_ms: flags.node_timeout_ms,
        base_port: Some(flags.base_port),
    };
    let started = std::time::Instant::now();
    let cluster = Cluster::start_detached(spec, &dir)
        .inspect_err(|_| {
            // Leave nothing half-started behind.
            let _ = Cluster::stop_detached(&dir);
        })
        .context("starting the cluster (--base-port picks other ports)")?;
    println!(
        "cluster is up ({} nodes in {}); state in {}",
        cluster.nodes().len(),
        format_duration(started.elapsed()),
        dir.display()
    );
    print_status(&cluster);
    println!("try: redis-cli -c -p {} cluster info", flags.base_port);
    Ok(())
}

fn down() -> Result<()> {
    let dir = state_dir();
    if Cluster::attach(&dir)?.is_none() {
        println!("no cluster is up (nothing under {})", dir.display());
        return Ok(());
    }
    let stopped = Cluster::stop_detached(&dir)?;
    println!("stopped {stopped} redis-server processes; none of ours is left running");
    Ok(())
}

fn status() -> Result<()> {
    let dir = state_dir();
    let Some(cluster) = Cluster::attach(&dir)? else {
        bail!(
            "no cluster is up (nothing under {}); start one with `cargo xtask cluster up`",
            dir.display()
        );
    };
    print_status(&cluster);
    let healthy =
        cluster.nodes().iter().all(|n| n.is_up()) && cluster.wait_ok(HEALTHY_TIMEOUT).is_ok();
    if !healthy {
        bail!("the cluster is not healthy; `cargo xtask cluster down` then `up` starts it afresh");
    }
    println!("cluster_state:ok on every node, all agree on the slot map");
    Ok(())
}

fn print_status(cluster: &Cluster) {
    println!(
        "{:<7} {:<8} {:<8} {:<8} {:<14} slots",
        "port", "pid", "process", "role", "cluster_state"
    );
    for node in cluster.nodes() {
        let process = if node.is_up() { "up" } else { "down" };
        let (role, state, slots) = if node.is_up() {
            describe(node)
        } else {
            Default::default()
        };
        println!(
            "{:<7} {:<8} {:<8} {:<8} {:<14} {slots}",
            node.port(),
            node.pid(),
            process,
            role,
            state
        );
    }
}

/// Role, cluster state and slot ranges of a running node, from its own `myself` line of `CLUSTER NODES`.
fn describe(node: &test_support::ClusterNode) -> (String, String, String) {
    let state = node
        .server()
        .info_field("cluster_state")
        .unwrap_or_else(|e| format!("? ({e})"));
    let nodes = node
        .command(&["CLUSTER", "NODES"])
        .ok()
        .and_then(|r| r.ok().ok())
        .and_then(|r: Reply| r.text());
    let myself = nodes
        .as_deref()
        .unwrap_or_default()
        .lines()
        .find(|l| l.contains("myself"))
        .unwrap_or_default();
    let fields: Vec<&str> = myself.split(' ').collect();
    let (role, slots) = match fields.get(2) {
        Some(flags) if flags.contains("master") => {
            // Fields 8.. are slot ranges, plus `[slot->-id]` entries for slots being migrated.
            let ranges: Vec<&str> = fields
                .iter()
                .skip(8)
                .filter(|f| !f.starts_with('['))
                .copied()
                .collect();
            (
                "master",
                if ranges.is_empty() {
                    "none".to_owned()
                } else {
                    ranges.join(",")
                },
            )
        }
        Some(flags) if flags.contains("slave") => {
            let master = fields
                .get(3)
                .and_then(|id| nodes.as_deref()?.lines().find(|l| l.starts_with(id)));
            let addr = master
                .and_then(|l| l.split(' ').nth(1))
                .and_then(|a| a.split('@').next());
            ("replica", format!("replica of {}", addr.unwrap_or("?")))
        }
        _ => ("?", String::new()),
    };
    (role.to_owned(), state, slots)
}

//! The run's settings: the default matrix, the `--quick` subset, and a user's `bench.toml` scenario on top.

use super::clients::ClientKind;
use super::workload::Workload;
use serde::Deserialize;
use std::time::Duration;

/// Everything a run needs besides the servers.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Workloads run against the cluster.
    pub cluster_workloads: Vec<Workload>,
    /// Workloads run against the standalone server (the standalone-to-cluster headline uses the ones in both).
    pub standalone_workloads: Vec<Workload>,
    /// Client libraries compared.
    pub clients: Vec<ClientKind>,
    /// Repeats of every cell, interleaved across clients (A B C A B C ...).
    pub repeats: usize,
    /// Measured time per cell.
    pub duration: Duration,
    /// Unmeasured warm-up per cell.
    pub warmup: Duration,
    /// Independent client handles per cell.
    pub client_instances: usize,
    /// Connections per client (per node for slotmux).
    pub connections_per_client: usize,
    /// Load tasks per client instance.
    pub tasks_per_client: usize,
    /// Keys per key table.
    pub key_space: usize,
    /// Bytes per value.
    pub value_size: usize,
    /// Commands per request of the `pipeline` workload.
    pub pipeline_size: usize,
    /// Open loop at this many requests per second per client instance; None: closed loop.
    pub rate: Option<f64>,
    /// redis-benchmark pipeline depths to run as the server-side reference (empty: skip it).
    pub redis_benchmark_pipelines: Vec<usize>,
    /// Requests per redis-benchmark test.
    pub redis_benchmark_requests: u64,
    /// Show the progress bar and the stats line.
    pub progress: bool,
}

impl Settings {
    /// The default matrix: about 4 minutes on 2 cores (7 cluster + 4 standalone workloads, 3 clients,
    /// 3 repeats of 1.5 s + 0.5 s warm-up, plus redis-benchmark).
    pub fn default_matrix() -> Settings {
        Settings {
            cluster_workloads: Workload::ALL.to_vec(),
            standalone_workloads: vec![
                Workload::GetSingle,
                Workload::SetGet,
                Workload::Mixed10Keys,
                Workload::Pipeline,
            ],
            clients: ClientKind::ALL.to_vec(),
            repeats: 3,
            duration: Duration::from_millis(1500),
            warmup: Duration::from_millis(500),
            client_instances: 1,
            connections_per_client: 1,
            // 64 concurrent callers per client: enough to keep 3 masters busy through one shared handle.
            tasks_per_client: 64,
            key_space: 100_000,
            value_size: 100,
            pipeline_size: 10,
            rate: None,
            redis_benchmark_pipelines: vec![1, 16],
            redis_benchmark_requests: 200_000,
            progress: true,
        }
    }

    /// The `--quick` subset: 30-60 s.
    pub fn quick() -> Settings {
        Settings {
            cluster_workloads: vec![
                Workload::GetSingle,
                Workload::Mixed10Keys,
                Workload::Pipeline,
            ],
            standalone_workloads: vec![Workload::GetSingle, Workload::Mixed10Keys],
            repeats: 2,
            duration: Duration::from_millis(1000),
            warmup: Duration::from_millis(300),
            key_space: 10_000,
            redis_benchmark_requests: 50_000,
            ..Settings::default_matrix()
        }
    }

    /// Applies a `bench.toml` scenario on top.
    pub fn apply_toml(&mut self, text: &str) -> Result<(), String> {
        let s: Scenario = toml::from_str(text).map_err(|e| e.to_string())?;
        let workloads = |names: Vec<String>| -> Result<Vec<Workload>, String> {
            names
                .iter()
                .map(|n| Workload::parse(n).ok_or_else(|| format!("unknown workload {n:?}")))
                .collect()
        };
        if let Some(w) = s.workloads {
            self.cluster_workloads = workloads(w)?;
        }
        if let Some(w) = s.standalone_workloads {
            self.standalone_workloads = workloads(w)?;
        }
        if let Some(c) = s.clients {
            self.clients = c
                .iter()
                .map(|n| ClientKind::parse(n).ok_or_else(|| format!("unknown client {n:?}")))
                .collect::<Result<_, _>>()?;
        }
        if let Some(v) = s.repeats {
            self.repeats = v.max(1);
        }
        if let Some(v) = s.duration_secs {
            self.duration = Duration::from_secs_f64(v.max(0.1));
        }
        if let Some(v) = s.warmup_secs {
            self.warmup = Duration::from_secs_f64(v.max(0.0));
        }
        if let Some(v) = s.client_instances {
            self.client_instances = v.max(1);
        }
        if let Some(v) = s.connections_per_client {
            self.connections_per_client = v.max(1);
        }
        if let Some(v) = s.tasks_per_client {
            self.tasks_per_client = v.max(1);
        }
        if let Some(v) = s.key_space {
            self.key_space = v.max(1);
        }
        if let Some(v) = s.value_size {
            self.value_size = v;
        }
        if let Some(v) = s.pipeline_size {
            self.pipeline_size = v.max(1);
        }
        if s.rate.is_some() {
            self.rate = s.rate.filter(|r| *r > 0.0);
        }
        if let Some(v) = s.redis_benchmark_pipelines {
            self.redis_benchmark_pipelines = v;
        }
        if let Some(v) = s.redis_benchmark_requests {
            self.redis_benchmark_requests = v.max(1);
        }
        Ok(())
    }
}

/// A user's scenario file; every field is optional and overrides the default matrix.
///
/// ```toml
/// workloads = ["get_single", "mixed_10keys"]   # cluster
/// standalone_workloads = ["get_single"]
/// clients = ["slotmux", "redis-rs", "fred"]
/// repeats = 3
/// duration_secs = 5
/// warmup_secs = 1
/// tasks_per_client = 256
/// rate = 20000        # open loop, requests/s per client instance
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    workloads: Option<Vec<String>>,
    standalone_workloads: Option<Vec<String>>,
    clients: Option<Vec<String>>,
    repeats: Option<usize>,
    duration_secs: Option<f64>,
    warmup_secs: Option<f64>,
    client_instances: Option<usize>,
    connections_per_client: Option<usize>,
    tasks_per_client: Option<usize>,
    key_space: Option<usize>,
    value_size: Option<usize>,
    pipeline_size: Option<usize>,
    rate: Option<f64>,
    redis_benchmark_pipelines: Option<Vec<usize>>,
    redis_benchmark_requests: Option<u64>,
}

//! `cargo xtask bench-cluster [args]`: compares slotmux with redis-rs, fred and redis-benchmark on a local
//! 3-master cluster and a standalone server (or on `--nodes`), and writes
//! `benchmarks/results/cluster/<UTC timestamp>/{results.json,results.md,chart.svg}`.
//!
//! `cargo xtask profile [args]` (= `bench-cluster profile`) runs one workload against slotmux under perf.

use anyhow::{Context, Result, bail};
use benches::loadgen::{self, ClientKind, Settings, Stop, Target, Workload};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "bench-cluster",
    about = "slotmux vs redis-rs vs fred vs redis-benchmark, same workloads, same run"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand, Debug)]
enum Sub {
    /// One workload against one client under `perf record -g`, flamegraph via inferno (optionally callgrind).
    Profile(ProfileArgs),
}

#[derive(Args, Debug, Clone)]
struct RunArgs {
    /// The 30-60 s subset.
    #[arg(long)]
    quick: bool,
    /// A bench.toml scenario applied on top of the default (or --quick) matrix.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Use these servers (redis://host:port,..., loopback only) instead of starting a cluster and a standalone server.
    #[arg(long, value_delimiter = ',')]
    nodes: Vec<String>,
    /// Replicas per master of the cluster this run starts (0 or 1).
    #[arg(long, default_value_t = 0)]
    replicas: usize,
    /// Skip the cluster target.
    #[arg(long)]
    no_cluster: bool,
    /// Skip the standalone target.
    #[arg(long)]
    no_standalone: bool,
    /// Results root (default: <workspace>/benchmarks/results/cluster).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Cluster workloads (comma-separated seed names).
    #[arg(long, value_delimiter = ',')]
    workloads: Vec<String>,
    /// Standalone workloads.
    #[arg(long, value_delimiter = ',')]
    standalone_workloads: Vec<String>,
    /// Clients (slotmux, redis-rs, fred).
    #[arg(long, value_delimiter = ',')]
    clients: Vec<String>,
    /// Repeats per cell.
    #[arg(long)]
    repeats: Option<usize>,
    /// Measured seconds per cell.
    #[arg(long)]
    duration: Option<f64>,
    /// Warm-up seconds per cell.
    #[arg(long)]
    warmup: Option<f64>,
    /// Client handles per cell.
    #[arg(long)]
    client_instances: Option<usize>,
    /// Connections per client (per node for slotmux).
    #[arg(long)]
    connections_per_client: Option<usize>,
    /// Load tasks per client.
    #[arg(long)]
    tasks_per_client: Option<usize>,
    /// Keys per key table.
    #[arg(long)]
    key_space: Option<usize>,
    /// Value size in bytes.
    #[arg(long)]
    value_size: Option<usize>,
    /// Commands per request of the `pipeline` workload.
    #[arg(long)]
    pipeline_size: Option<usize>,
    /// Open loop at this many requests/s per client instance (latency from the intended send time).
    #[arg(long)]
    rate: Option<f64>,
    /// Skip redis-benchmark.
    #[arg(long)]
    no_redis_benchmark: bool,
    /// No progress bar or stats line.
    #[arg(long)]
    no_progress: bool,
}

#[derive(Args, Debug, Clone)]
struct ProfileArgs {
    /// Workload to profile.
    #[arg(long, default_value = "mixed_10keys")]
    workload: String,
    /// Client to profile.
    #[arg(long, default_value = "slotmux")]
    client: String,
    /// Target: standalone or cluster.
    #[arg(long, default_value = "standalone")]
    target: String,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Also count instructions per request with valgrind --tool=callgrind (slow).
    #[arg(long)]
    callgrind: bool,
    /// Use these servers instead of starting them.
    #[arg(long, value_delimiter = ',')]
    nodes: Vec<String>,
    /// Output root (default: <workspace>/benchmarks/results/cluster).
    #[arg(long)]
    out: Option<PathBuf>,
}

fn results_root(out: &Option<PathBuf>) -> PathBuf {
    // The workspace root is the benches crate's parent directory.
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.parent().map(PathBuf::from).unwrap_or(manifest);
    out.clone()
        .unwrap_or_else(|| root.join("benchmarks/results/cluster"))
}

fn settings_of(args: &RunArgs) -> Result<Settings> {
    let mut s = if args.quick {
        Settings::quick()
    } else {
        Settings::default_matrix()
    };
    if let Some(path) = &args.config {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        s.apply_toml(&text)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("in {}", path.display()))?;
    }
    let workloads = |names: &[String]| -> Result<Vec<Workload>> {
        names
            .iter()
            .map(|n| Workload::parse(n).with_context(|| format!("unknown workload {n:?}")))
            .collect()
    };
    if !args.workloads.is_empty() {
        s.cluster_workloads = workloads(&args.workloads)?;
    }
    if !args.standalone_workloads.is_empty() {
        s.standalone_workloads = workloads(&args.standalone_workloads)?;
    }
    if !args.clients.is_empty() {
        s.clients = args
            .clients
            .iter()
            .map(|n| ClientKind::parse(n).with_context(|| format!("unknown client {n:?}")))
            .collect::<Result<_>>()?;
    }
    if let Some(v) = args.repeats {
        s.repeats = v.max(1);
    }
    if let Some(v) = args.duration {
        s.duration = Duration::from_secs_f64(v.max(0.1));
    }
    if let Some(v) = args.warmup {
        s.warmup = Duration::from_secs_f64(v.max(0.0));
    }
    if let Some(v) = args.client_instances {
        s.client_instances = v.max(1);
    }
    if let Some(v) = args.connections_per_client {
        s.connections_per_client = v.max(1);
    }
    if let Some(v) = args.tasks_per_client {
        s.tasks_per_client = v.max(1);
    }
    if let Some(v) = args.key_space {
        s.key_space = v.max(1);
    }
    if let Some(v) = args.value_size {
        s.value_size = v;
    }
    if let Some(v) = args.pipeline_size {
        s.pipeline_size = v.max(1);
    }
    if args.rate.is_some() {
        s.rate = args.rate.filter(|r| *r > 0.0);
    }
    if args.no_redis_benchmark {
        s.redis_benchmark_pipelines.clear();
    }
    if args.no_progress {
        s.progress = false;
    }
    Ok(s)
}

/// The servers this process started; dropping them stops them.
#[derive(Default)]
struct Started {
    cluster: Option<test_support::Cluster>,
    standalone: Option<test_support::Server>,
}

/// Starts (or takes from `--nodes`) the targets: blocking, before the runtime exists.
fn start_servers(
    nodes: &[String],
    cluster: bool,
    standalone: bool,
    replicas: usize,
) -> Result<(Started, Vec<Vec<String>>)> {
    let mut started = Started::default();
    let mut url_sets = Vec::new();
    if !nodes.is_empty() {
        for n in nodes {
            loadgen::parse_loopback_url(n).map_err(anyhow::Error::msg)?;
        }
        url_sets.push(nodes.to_vec());
        return Ok((started, url_sets));
    }
    if cluster {
        eprintln!("starting a 3-master cluster ({replicas} replica(s) per master) on loopback...");
        let spec = test_support::ClusterSpec {
            masters: 3,
            replicas_per_master: replicas.min(1),
            // A generous node timeout: a saturated 2-core machine must not trigger failovers mid-run.
            node_timeout_ms: 5000,
            base_port: None,
        };
        let c = test_support::Cluster::start(spec).context("starting the cluster")?;
        url_sets.push(c.seed_urls());
        started.cluster = Some(c);
    }
    if standalone {
        eprintln!("starting a standalone server on loopback...");
        let s = test_support::Server::start().context("starting the standalone server")?;
        url_sets.push(vec![s.url()]);
        started.standalone = Some(s);
    }
    Ok((started, url_sets))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    // The default worker count (one per core): every client runs on the same runtime, one cell at a time.
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("building the tokio runtime")
}

fn install_ctrl_c(stop: &Stop) {
    let stop = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "\nCtrl-C: finishing the current cell, keeping what was measured, stopping the servers..."
            );
            stop.set();
        }
    });
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Sub::Profile(p)) => profile_main(p),
        None => run_main(cli.run),
    }
}

fn run_main(args: RunArgs) -> Result<()> {
    let settings = settings_of(&args)?;
    if args.no_cluster && args.no_standalone {
        bail!("--no-cluster and --no-standalone leave nothing to measure");
    }
    let (started, url_sets) = start_servers(
        &args.nodes,
        !args.no_cluster,
        !args.no_standalone,
        args.replicas,
    )?;
    let rt = runtime()?;
    let report = rt.block_on(async {
        let stop = Stop::default();
        install_ctrl_c(&stop);
        let mut targets: Vec<Target> = Vec::new();
        for urls in &url_sets {
            targets.push(
                Target::discover(urls)
                    .await
                    .map_err(anyhow::Error::msg)
                    .context("inspecting the servers")?,
            );
        }
        // The cluster first, as in the tables.
        targets.sort_by_key(|t| !t.cluster);
        anyhow::Ok(loadgen::run(&settings, &targets, &stop).await)
    })?;
    rt.shutdown_timeout(Duration::from_secs(2));
    let written =
        loadgen::write(&report, &results_root(&args.out)).context("writing the results")?;
    println!("\n{}", loadgen::table(&report));
    println!(
        "{}",
        loadgen::markdown(&report)
            .split("## Standalone to cluster")
            .nth(1)
            .map(|s| format!("Standalone to cluster{s}"))
            .unwrap_or_default()
    );
    println!("results: {}", written.dir.display());
    drop(started);
    Ok(())
}

fn profile_main(p: ProfileArgs) -> Result<()> {
    let exe = std::env::current_exe().context("locating this binary")?;
    let cluster = p.target == "cluster";
    let (started, url_sets) = start_servers(&p.nodes, cluster, !cluster, 0)?;
    let urls = url_sets.first().cloned().unwrap_or_default();
    let dir = results_root(&p.out).join(format!(
        "{}-profile-{}-{}",
        loadgen::utc_stamp(),
        p.client,
        p.workload
    ));
    let child_args: Vec<String> = vec![
        "--nodes".into(),
        urls.join(","),
        "--clients".into(),
        p.client.clone(),
        if cluster {
            "--workloads"
        } else {
            "--standalone-workloads"
        }
        .into(),
        p.workload.clone(),
        "--repeats".into(),
        "1".into(),
        "--duration".into(),
        p.seconds.to_string(),
        "--warmup".into(),
        "0.5".into(),
        "--no-redis-benchmark".into(),
        "--no-progress".into(),
    ];
    eprintln!(
        "profiling {} {} ({}) into {}",
        p.client,
        p.workload,
        p.target,
        dir.display()
    );
    let out = loadgen::profile(&exe, &child_args, &dir, p.callgrind);
    if let Some(f) = &out.flamegraph {
        println!(
            "flamegraph ({}): {}",
            out.event.as_deref().unwrap_or("?"),
            f.display()
        );
    }
    if let Some(ir) = out.instructions_per_request {
        println!("callgrind: {ir:.0} instructions per request");
    }
    for n in &out.notes {
        println!("note: {n}");
    }
    drop(started);
    Ok(())
}

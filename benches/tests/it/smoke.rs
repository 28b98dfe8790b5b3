//! The bench code path end to end, briefly: every client against the test cluster and a standalone server,
//! redis-benchmark once, then the JSON, Markdown and SVG outputs.

use benches::loadgen::{self, ClientKind, Settings, Stop, Target, Workload};
use std::time::Duration;

fn settings() -> Settings {
    let mut s = Settings::quick();
    // Two workloads per target, 0.4 s measured each: about 2 s of load per client in all, the whole test well
    // under a minute even in a debug build.
    s.cluster_workloads = vec![Workload::GetSingle, Workload::Mixed10Keys];
    s.standalone_workloads = vec![Workload::GetSingle, Workload::Mixed10Keys];
    s.repeats = 1;
    s.duration = Duration::from_millis(400);
    s.warmup = Duration::from_millis(100);
    s.tasks_per_client = 16;
    s.key_space = 1000;
    s.redis_benchmark_pipelines = vec![1];
    s.redis_benchmark_requests = 2000;
    s.progress = false;
    s
}

#[test]
fn every_client_completes_requests_without_errors_and_the_results_are_written() {
    let cluster = test_support::shared_cluster();
    let server = test_support::shared_server();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = rt.block_on(async {
        let targets = vec![
            Target::discover(&cluster.seed_urls()).await.unwrap(),
            Target::discover(&[server.url()]).await.unwrap(),
        ];
        assert!(targets[0].cluster && !targets[1].cluster);
        assert!(
            targets.iter().all(|t| !t.server_pids.is_empty()),
            "server pids found with INFO server"
        );
        loadgen::run(&settings(), &targets, &Stop::default()).await
    });

    assert!(!report.interrupted);
    for target in ["cluster", "standalone"] {
        for workload in ["get_single", "mixed_10keys"] {
            for client in ClientKind::ALL {
                let cells: Vec<_> = report
                    .cells
                    .iter()
                    .filter(|c| {
                        c.target == target && c.workload == workload && c.client == client.name()
                    })
                    .collect();
                assert_eq!(cells.len(), 1, "{target} {workload} {client}: one cell");
                let cell = cells[0];
                assert_eq!(cell.note, None, "{target} {workload} {client}");
                assert!(
                    cell.requests > 0,
                    "{target} {workload} {client}: no requests completed"
                );
                assert!(
                    cell.errors.is_empty(),
                    "{target} {workload} {client}: errors {:?}",
                    cell.errors
                );
                let per_request = if workload == "mixed_10keys" { 20 } else { 1 };
                assert_eq!(
                    cell.commands,
                    cell.requests * per_request,
                    "{target} {workload} {client}"
                );
                assert!(cell.latency_us.p50 > 0.0 && cell.latency_us.p99 >= cell.latency_us.p50);
                assert!(cell.cpu.client_s > 0.0, "getrusage saw the client's CPU");
            }
        }
    }
    for target in ["cluster", "standalone"] {
        assert!(
            report
                .redis_benchmark
                .iter()
                .any(|r| r.target == target && r.rps > 0.0),
            "redis-benchmark ran against the {target}: {:?} {:?}",
            report.redis_benchmark,
            report.notes
        );
    }
    let headline = report
        .headline
        .iter()
        .find(|h| h.client == "redis-rs")
        .unwrap();
    assert!(
        headline.geomean.is_some(),
        "standalone-to-cluster ratio computed"
    );

    let root = std::env::temp_dir().join(format!("bench-cluster-it-{}", std::process::id()));
    let written = loadgen::write(&report, &root).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&written.json).unwrap()).unwrap();
    assert_eq!(
        json["cells"].as_array().map(Vec::len),
        Some(report.cells.len())
    );
    let md = std::fs::read_to_string(&written.markdown).unwrap();
    assert!(md.contains("| cluster | mixed_10keys | fred |"), "{md}");
    assert!(md.contains("## How each client was used"));
    assert!(md.contains("## redis-benchmark"));
    let svg = std::fs::read_to_string(&written.svg).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("redis-rs") && svg.contains("mixed_10keys"));
    std::fs::remove_dir_all(&root).unwrap();
}

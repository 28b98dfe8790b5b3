//! The text the instrument reads from other programs and from the user.

use benches::loadgen::{BenchmarkRow, Settings, Workload, parse_csv, parse_loopback_url};

fn check_csv(input: &str, expected: &[(&str, f64, f64)]) {
    let rows: Vec<BenchmarkRow> = parse_csv(input, "standalone", 16);
    let got: Vec<(&str, f64, f64)> = rows
        .iter()
        .map(|r| (r.test.as_str(), r.rps, r.p99_us))
        .collect();
    assert_eq!(got, expected, "input: {input}");
    assert!(
        rows.iter()
            .all(|r| r.target == "standalone" && r.pipeline == 16)
    );
}

#[test]
fn redis_benchmark_csv() {
    // redis-benchmark 7 --csv: header, then one quoted row per test, latencies in ms.
    check_csv(
        "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n\
         \"SET\",\"253164.55\",\"2.812\",\"0.320\",\"1.959\",\"6.279\",\"9.855\",\"10.055\"\n\
         \"GET\",\"425531.94\",\"1.642\",\"0.368\",\"1.375\",\"3.887\",\"4.631\",\"4.775\"\n",
        &[("SET", 253164.55, 9855.0), ("GET", 425531.94, 4631.0)],
    );
    // Noise and truncated rows are skipped rather than misread.
    check_csv("ERROR: connection refused\n\"GET\",\"1.0\"\n", &[]);
    check_csv("", &[]);
}

fn check_url(input: &str, expected: Result<(&str, u16), ()>) {
    let got = parse_loopback_url(input);
    match expected {
        Ok((host, port)) => assert_eq!(got, Ok((host.to_string(), port)), "input: {input}"),
        Err(()) => assert!(got.is_err(), "{input} must be refused, got {got:?}"),
    }
}

#[test]
fn only_loopback_nodes() {
    check_url("redis://127.0.0.1:7000", Ok(("127.0.0.1", 7000)));
    check_url("redis://localhost:6379/0", Ok(("localhost", 6379)));
    check_url("127.0.0.1:30001", Ok(("127.0.0.1", 30001)));
    check_url("redis://[::1]:7000", Ok(("::1", 7000)));
    check_url("redis://10.0.0.5:6379", Err(()));
    check_url("redis://example.com:6379", Err(()));
    check_url("redis://127.0.0.1", Err(()));
    check_url("redis://127.0.0.1:notaport", Err(()));
}

#[test]
fn scenario_file_overrides_the_matrix() {
    let mut s = Settings::default_matrix();
    s.apply_toml(
        "workloads = [\"mixed_2keys\"]\nrepeats = 5\nrate = 1000.0\ntasks_per_client = 8\n",
    )
    .unwrap();
    assert_eq!(s.cluster_workloads, vec![Workload::Mixed2Keys]);
    assert_eq!(
        (s.repeats, s.tasks_per_client, s.rate),
        (5, 8, Some(1000.0))
    );
    // A typo is an error, not a silently ignored knob.
    assert!(Settings::default_matrix().apply_toml("repeat = 5").is_err());
    assert!(
        Settings::default_matrix()
            .apply_toml("workloads = [\"get\"]")
            .is_err()
    );
}

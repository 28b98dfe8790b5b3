//! `profile`: one workload against one client under `perf record -g`, folded into a flamegraph SVG with inferno,
//! and optionally an instruction count per request from `valgrind --tool=callgrind`.

use inferno::collapse::Collapse;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What a profile run wrote.
#[derive(Debug, Default)]
pub struct ProfileOutput {
    /// flamegraph.svg, when perf worked.
    pub flamegraph: Option<PathBuf>,
    /// The perf event used (`cycles` or the software `cpu-clock`).
    pub event: Option<String>,
    /// Instructions per request from callgrind, when asked for.
    pub instructions_per_request: Option<f64>,
    /// What went wrong or was skipped.
    pub notes: Vec<String>,
}

fn works(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Makes sure `perf` runs; installs linux-perf with apt when root and it is missing.
fn ensure_perf(notes: &mut Vec<String>) -> bool {
    if works("perf", &["--version"]) {
        return true;
    }
    // SAFETY: geteuid only reads the process's credentials.
    if unsafe { libc::geteuid() } == 0 {
        notes.push("perf missing: installing linux-perf with apt-get".to_string());
        let _ = Command::new("apt-get")
            .args(["install", "-y", "linux-perf"])
            .status();
        return works("perf", &["--version"]);
    }
    notes.push("perf is not installed: run `sudo apt-get install -y linux-perf`".to_string());
    false
}

/// Hardware `cycles` when the machine exposes counters (not in most VMs), else the software `cpu-clock`.
fn perf_event() -> &'static str {
    if works("perf", &["stat", "-e", "cycles", "--", "true"])
        && works(
            "perf",
            &["record", "-e", "cycles", "-o", "/dev/null", "--", "true"],
        )
    {
        "cycles"
    } else {
        "cpu-clock"
    }
}

/// Runs `child` (this binary with the arguments of a one-cell run) under perf and callgrind as asked, in `dir`.
/// `child_out(tag)` gives the child's own results directory so the request count can be read back.
pub fn profile(exe: &Path, child_args: &[String], dir: &Path, callgrind: bool) -> ProfileOutput {
    let mut out = ProfileOutput::default();
    if let Err(e) = std::fs::create_dir_all(dir) {
        out.notes
            .push(format!("cannot create {}: {e}", dir.display()));
        return out;
    }
    if ensure_perf(&mut out.notes) {
        let event = perf_event();
        out.event = Some(event.to_string());
        let data = dir.join("perf.data");
        let status = Command::new("perf")
            // DWARF unwinding: release builds keep debug info but no frame pointers, so `-g` alone loses most
            // stacks. 8 KB of stack per sample at 499 Hz keeps perf.data near 10 MB per second of profiling.
            .args([
                "record",
                "-g",
                "--call-graph",
                "dwarf,8192",
                "-F",
                "499",
                "-e",
                event,
                "-o",
            ])
            .arg(&data)
            .arg("--")
            .arg(exe)
            .args(child_args)
            .args([
                "--out".to_string(),
                dir.join("perf-run").display().to_string(),
            ])
            .status();
        match status {
            Ok(s) if s.success() => match flamegraph(&data, &dir.join("flamegraph.svg")) {
                Ok(p) => out.flamegraph = Some(p),
                Err(e) => out.notes.push(format!("flamegraph: {e}")),
            },
            Ok(s) => out.notes.push(format!("perf record exited with {s}")),
            Err(e) => out.notes.push(format!("perf record: {e}")),
        }
    }
    if callgrind {
        if works("valgrind", &["--version"]) {
            let file = dir.join("callgrind.out");
            let run_dir = dir.join("callgrind-run");
            let status = Command::new("valgrind")
                .arg("--tool=callgrind")
                .arg(format!("--callgrind-out-file={}", file.display()))
                .arg(exe)
                .args(child_args)
                .args(["--out".to_string(), run_dir.display().to_string()])
                .stderr(Stdio::null())
                .status();
            match status {
                Ok(s) if s.success() => {
                    match (callgrind_total(&file), requests_in(&run_dir)) {
                        (Some(ir), Some(n)) if n > 0 => {
                            out.instructions_per_request = Some(ir as f64 / n as f64)
                        }
                        _ => out.notes.push(
                            "callgrind: could not read the totals or the request count".to_string(),
                        ),
                    }
                    out.notes.push(
                        "callgrind's count covers the whole process (start-up, connect, warm-up) divided by measured requests: \
                         compare runs of the same length only"
                            .to_string(),
                    );
                }
                Ok(s) => out.notes.push(format!("valgrind exited with {s}")),
                Err(e) => out.notes.push(format!("valgrind: {e}")),
            }
        } else {
            out.notes.push(
                "valgrind not installed (apt-get install -y valgrind): no instruction count"
                    .to_string(),
            );
        }
    }
    out
}

/// `perf script` -> inferno's perf folder -> inferno's flamegraph.
fn flamegraph(data: &Path, svg: &Path) -> Result<PathBuf, String> {
    let script = Command::new("perf")
        .args(["script", "-i"])
        .arg(data)
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("perf script: {e}"))?;
    let mut folded = Vec::new();
    inferno::collapse::perf::Folder::default()
        .collapse(&script.stdout[..], &mut folded)
        .map_err(|e| e.to_string())?;
    if folded.is_empty() {
        return Err("perf recorded no samples".to_string());
    }
    let file = std::fs::File::create(svg).map_err(|e| e.to_string())?;
    let mut opts = inferno::flamegraph::Options::default();
    opts.title = "bench-cluster profile".to_string();
    inferno::flamegraph::from_reader(&mut opts, &folded[..], std::io::BufWriter::new(file))
        .map_err(|e| e.to_string())?;
    Ok(svg.to_path_buf())
}

/// The `summary:` (or `totals:`) instruction count of a callgrind output file.
fn callgrind_total(file: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Measured requests in the results.json a child run wrote under `dir/<stamp>/`.
fn requests_in(dir: &Path) -> Option<u64> {
    let entry = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .max_by_key(|e| e.file_name())?;
    let text = std::fs::read_to_string(entry.path().join("results.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(
        v.get("cells")?
            .as_array()?
            .iter()
            .filter_map(|c| c.get("requests")?.as_u64())
            .sum(),
    )
}

//! `cargo xtask ci`: every check CI runs, each stage timed, with a summary the CI system reads.
//!
//! Stages: `cargo fmt --check`, clippy with warnings denied, the workspace's tests (against real servers),
//! 30 s of each fuzz target, and the multiplexer's loom models.
//! A failing stage does not stop the others, so one run reports everything; the exit status is non-zero
//! if any stage failed.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use xshell::{Shell, cmd};

use crate::{cargo, ensure_redis, format_duration, project_root};

/// Fuzzing time per target: enough to shake out shallow decoder panics on every CI run while
/// keeping the whole run well under its 30-minute budget on 2 cores.
const FUZZ_SECONDS: u32 = 30;

/// Loom's bound on preemptions per execution: 2 covers the interleavings our models care about
/// and keeps each model under a minute; 3 multiplies the run time many times over.
const LOOM_MAX_PREEMPTIONS: u32 = 2;

/// Free space below which the run warns before it starts: a run on a clean clone writes about 3.3 GiB
/// (measured: `target/` with the test and loom builds, plus `fuzz/target/`), and cargo's
/// "No space left on device" in the middle of a stage reads like a broken build, not a full disk.
const MIN_FREE_BYTES: u64 = 4 << 30;

enum Outcome {
    Passed,
    Failed(String),
    Skipped(String),
}

struct Stage {
    name: &'static str,
    outcome: Outcome,
    took: Duration,
    tests: Option<TestCount>,
}

#[derive(Clone, Copy, Debug, Default)]
struct TestCount {
    passed: u64,
    failed: u64,
}

pub(crate) fn run() -> Result<()> {
    let started = Instant::now();
    let sh = Shell::new()?;
    let root = project_root();
    sh.change_dir(&root);
    if std::env::var_os("CI").is_some() {
        sh.set_var("CARGO_TERM_COLOR", "never");
    }
    if let Err(e) = ensure_redis() {
        println!("ci: redis-server is required: {e:#}");
        println!("0 passed, 1 failed");
        return Err(e);
    }

    warn_if_disk_is_low(&sh, &root);

    let mut stages = Vec::new();
    stages.push(stage("fmt", || {
        let cargo = cargo();
        // rustfmt colours its diff itself, ignoring CARGO_TERM_COLOR.
        let color: &[&str] = if std::env::var_os("CI").is_some() {
            &["--", "--color=never"]
        } else {
            &[]
        };
        cmd!(sh, "{cargo} fmt --all --check {color...}").run()?;
        Ok(Done::Ran(None))
    }));
    stages.push(stage("clippy", || {
        let cargo = cargo();
        cmd!(
            sh,
            "{cargo} clippy --workspace --all-targets -- -D warnings"
        )
        .run()?;
        Ok(Done::Ran(None))
    }));
    stages.push(stage("test", || {
        let cargo = cargo();
        run_counting_tests(cmd!(sh, "{cargo} test --workspace --no-fail-fast").into())
    }));
    stages.push(stage("fuzz", || fuzz(&sh, &root)));
    stages.push(stage("loom", || loom(&sh, &root)));

    summarize(&stages, started.elapsed())
}

/// Says so before any stage runs when the file system holding the build output has less room than a run needs.
/// Only a warning: the estimate is rough, and an incremental run needs far less.
fn warn_if_disk_is_low(sh: &Shell, root: &Path) {
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.to_path_buf());
    let Ok(report) = cmd!(sh, "df -Pk {target_dir}").quiet().read() else {
        return;
    };
    let Some(free) = free_bytes_from_df(&report) else {
        return;
    };
    if free < MIN_FREE_BYTES {
        println!(
            "ci: warning: only {} MiB free under {} (a run on a clean clone writes about 3.3 GiB); \
             stages may fail with \"No space left on device\": free space (old target/ directories) and run again",
            free >> 20,
            target_dir.display()
        );
    }
}

/// Reads the available bytes from `df -Pk`'s output (a header line, then
/// `filesystem 1024-blocks used available capacity mount`).
fn free_bytes_from_df(report: &str) -> Option<u64> {
    let line = report.lines().nth(1)?;
    let kib: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// What a stage body reports when it did not fail.
enum Done {
    Ran(Option<TestCount>),
    Skipped(String),
}

/// Runs one stage, printing a banner before and its outcome after.
fn stage(name: &'static str, body: impl FnOnce() -> Result<Done>) -> Stage {
    println!("\n==> ci: {name}");
    let _ = std::io::stdout().flush();
    let started = Instant::now();
    let (outcome, tests) = match body() {
        Ok(Done::Ran(tests)) => (Outcome::Passed, tests),
        Ok(Done::Skipped(why)) => (Outcome::Skipped(why), None),
        Err(e) => {
            let tests = e.downcast_ref::<TestsFailed>().map(|f| f.0);
            (Outcome::Failed(format!("{e:#}")), tests)
        }
    };
    let took = started.elapsed();
    match &outcome {
        Outcome::Passed => println!("==> ci: {name} passed in {}", format_duration(took)),
        Outcome::Failed(why) => {
            println!("==> ci: {name} FAILED in {}: {why}", format_duration(took))
        }
        Outcome::Skipped(why) => println!("==> ci: {name} skipped: {why}"),
    }
    Stage {
        name,
        outcome,
        took,
        tests,
    }
}

/// A test command failed; carries what it counted so the summary still has the numbers.
#[derive(Debug)]
struct TestsFailed(TestCount);

impl std::fmt::Display for TestsFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} tests passed, {} failed (or a test binary did not build)",
            self.0.passed, self.0.failed
        )
    }
}

impl std::error::Error for TestsFailed {}

/// Runs a `cargo test` command, echoing its standard output while counting the `test result:` lines.
fn run_counting_tests(mut command: Command) -> Result<Done> {
    println!("$ {command:?}");
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .context("starting cargo test")?;
    let mut count = TestCount::default();
    let stdout = child.stdout.take().context("no stdout")?;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        if let Some(result) = parse_test_result(&line) {
            count.passed += result.passed;
            count.failed += result.failed;
        }
    }
    let status = child.wait()?;
    if !status.success() || count.failed > 0 {
        return Err(TestsFailed(count).into());
    }
    Ok(Done::Ran(Some(count)))
}

/// Reads `test result: ok. 12 passed; 0 failed; 0 ignored; ...` (libtest's summary per test binary).
fn parse_test_result(line: &str) -> Option<TestCount> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let mut count = TestCount::default();
    for part in rest.split(';') {
        let mut words = part.split_whitespace().rev();
        let (Some(what), Some(n)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(n) = n.parse::<u64>() else { continue };
        match what {
            "passed" => count.passed = n,
            "failed" => count.failed = n,
            _ => {}
        }
    }
    Some(count)
}

fn fuzz(sh: &Shell, root: &Path) -> Result<Done> {
    let fuzz_dir = root.join("fuzz");
    if !fuzz_dir.is_dir() {
        return Ok(Done::Skipped("fuzz/ does not exist".into()));
    }
    let cargo = cargo();
    if cmd!(sh, "{cargo} fuzz --version")
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .is_err()
    {
        cmd!(sh, "{cargo} install cargo-fuzz --locked").run()?;
    }
    let _dir = sh.push_dir(&fuzz_dir);
    // cargo-fuzz builds with sanitizer flags that stable rustc accepts only with RUSTC_BOOTSTRAP.
    let _bootstrap = sh.push_env("RUSTC_BOOTSTRAP", "1");
    let targets = cmd!(sh, "{cargo} fuzz list").read()?;
    let targets: Vec<&str> = targets
        .lines()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    if targets.is_empty() {
        bail!("fuzz/ has no fuzz targets");
    }
    let max_time = format!("-max_total_time={FUZZ_SECONDS}");
    for target in targets {
        cmd!(sh, "{cargo} fuzz run {target} -- {max_time}").run()?;
    }
    Ok(Done::Ran(None))
}

fn loom(sh: &Shell, root: &Path) -> Result<Done> {
    let src = root.join("crates/multiplexer/src");
    if !src.is_dir() || !tree_contains(&src, "cfg(loom)")? {
        return Ok(Done::Skipped(
            "crates/multiplexer/src has no cfg(loom) models yet".into(),
        ));
    }
    // Loom changes RUSTFLAGS, which would invalidate every artifact of the normal build: use a separate target dir.
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let cargo = cargo();
    let command = cmd!(sh, "{cargo} test -p multiplexer --release --lib loom")
        .env("RUSTFLAGS", "--cfg loom")
        .env("LOOM_MAX_PREEMPTIONS", LOOM_MAX_PREEMPTIONS.to_string())
        .env("CARGO_TARGET_DIR", target_dir.join("loom"));
    run_counting_tests(command.into())
}

fn tree_contains(dir: &Path, needle: &str) -> Result<bool> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            if tree_contains(&path, needle)? {
                return Ok(true);
            }
        } else if path.extension().is_some_and(|e| e == "rs")
            && std::fs::read_to_string(&path)?.contains(needle)
        {
            return Ok(true);
        }
    }
    Ok(false)
}

fn summarize(stages: &[Stage], took: Duration) -> Result<()> {
    println!("\nci: summary");
    let mut tests = TestCount::default();
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for stage in stages {
        let (word, detail) = match &stage.outcome {
            Outcome::Passed => {
                passed += 1;
                ("passed", String::new())
            }
            Outcome::Failed(why) => {
                failed += 1;
                ("FAILED", why.lines().next().unwrap_or_default().to_owned())
            }
            Outcome::Skipped(why) => {
                skipped += 1;
                ("skipped", why.clone())
            }
        };
        let detail = match stage.tests {
            Some(t) => format!("{} tests passed, {} failed", t.passed, t.failed),
            None => detail,
        };
        let row = format!(
            "  {:<7} {:<8} {:>7}  {detail}",
            stage.name,
            word,
            format_duration(stage.took)
        );
        println!("{}", row.trim_end());
        if let Some(t) = stage.tests {
            tests.passed += t.passed;
            tests.failed += t.failed;
        }
        // A failed stage that counted no failing test (fmt, clippy, a build error) still counts as one failure,
        // so the plain "N passed, M failed" line never reads as a success when CI failed.
        if matches!(stage.outcome, Outcome::Failed(_)) && stage.tests.is_none_or(|t| t.failed == 0)
        {
            tests.failed += 1;
        }
    }
    let skipped_text = if skipped > 0 {
        format!(", {skipped} skipped")
    } else {
        String::new()
    };
    println!(
        "ci: {passed} stages passed, {failed} failed{skipped_text}, {} tests passed in {}",
        tests.passed,
        format_duration(took)
    );
    println!("{} passed, {} failed", tests.passed, tests.failed);
    if failed > 0 {
        // The summary above says what failed; an error here would only repeat it (with a backtrace
        // when RUST_BACKTRACE is set), so exit directly.
        std::process::exit(1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(line: &str, expected: Option<(u64, u64)>) {
        assert_eq!(
            parse_test_result(line).map(|c| (c.passed, c.failed)),
            expected,
            "{line}"
        );
    }

    #[test]
    fn reads_libtest_summaries() {
        check(
            "test result: ok. 12 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s",
            Some((12, 0)),
        );
        check(
            "test result: FAILED. 8 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 17.61s",
            Some((8, 2)),
        );
        check("test foo ... ok", None);
        check("running 3 tests", None);
    }

    #[test]
    fn reads_free_space_from_df() {
        let report = "Filesystem     1024-blocks     Used Available Capacity Mounted on\n\
                      /dev/vda         264140564 95225168    772128     100% /\n";
        assert_eq!(free_bytes_from_df(report), Some(772_128 * 1024));
        assert_eq!(
            free_bytes_from_df("Filesystem 1024-blocks Used Available\n"),
            None
        );
        assert_eq!(free_bytes_from_df("header\n/dev/vda 1 2 lots 9% /\n"), None);
    }
}

//! `cargo xtask`: the project's automation, one binary with one module per task.
//!
//! `.cargo/config.toml` aliases `cargo xtask` to `cargo run -p xtask --`.
//! The subcommands are declared in [`flags`]; `cluster` starts a detached Redis Cluster with `test-support`,
//! `ci` runs every check CI runs, and `bench-cluster` / `profile` forward to the `benches` crate.

mod ci;
mod cluster;
mod flags;
mod perf;
#[cfg(test)]
mod tidy;

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let flags = flags::Xtask::parse();
    match flags.command {
        flags::Command::Cluster { command } => cluster::run(command),
        flags::Command::Ci => ci::run(),
        flags::Command::BenchCluster(forward) => perf::run(&forward.args, false),
        flags::Command::Profile(forward) => perf::run(&forward.args, true),
    }
}

/// The workspace root: xtask lives one level below it.
pub(crate) fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The cargo that runs us (`$CARGO`), so toolchain overrides carry over to the commands we run.
pub(crate) fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// Makes sure redis-server exists, installing it when root (see `test_support::redis_server_binary`).
pub(crate) fn ensure_redis() -> anyhow::Result<()> {
    let server = test_support::redis_server_binary()?;
    test_support::redis_cli_binary()?;
    eprintln!("xtask: using {}", server.display());
    Ok(())
}

/// `7m12s`, `41s`, `1.3s`: short enough for a summary line.
pub(crate) fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else if secs >= 10 {
        format!("{secs}s")
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

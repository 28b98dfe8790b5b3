//! Every subcommand and flag of `cargo xtask`, declared in one place.

use clap::{Args, Parser, Subcommand};

/// slotmux's project automation.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version, about)]
pub(crate) struct Xtask {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Start, stop or inspect a local Redis Cluster that outlives this command.
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// Everything CI checks: fmt, clippy, tests, fuzzing, loom models.
    Ci,
    /// Run the side-by-side cluster benchmark (`benches`' `bench-cluster` binary; `--help` is its help).
    #[command(disable_help_flag = true)]
    BenchCluster(Forward),
    /// Profile slotmux under the benchmark load (`bench-cluster profile`; `--help` is its help).
    #[command(disable_help_flag = true)]
    Profile(Forward),
}

#[derive(Debug, Subcommand)]
pub(crate) enum ClusterCommand {
    /// Start the cluster (prints its status if it is already up).
    Up(ClusterUp),
    /// Stop the cluster by the PIDs in its pidfiles.
    Down,
    /// Show each node's port, PID, role, slots and cluster state.
    Status,
}

#[derive(Debug, Args)]
pub(crate) struct ClusterUp {
    /// Number of masters.
    #[arg(long, default_value_t = 3)]
    pub(crate) masters: usize,
    /// Replicas per master.
    #[arg(long, default_value_t = 1)]
    pub(crate) replicas: usize,
    /// Port of the first node; the others follow it.
    #[arg(long, default_value_t = 30001)]
    pub(crate) base_port: u16,
    /// cluster-node-timeout in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub(crate) node_timeout_ms: u64,
}

/// Arguments passed through untouched.
#[derive(Debug, Args)]
pub(crate) struct Forward {
    /// Arguments for bench-cluster.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub(crate) args: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(argv: &[&str], expected: &[&str]) {
        let flags = Xtask::try_parse_from(argv).unwrap();
        let (Command::BenchCluster(forward) | Command::Profile(forward)) = flags.command else {
            panic!("{argv:?} parsed as {:?}", flags.command);
        };
        assert_eq!(forward.args, expected, "{argv:?}");
    }

    #[test]
    fn bench_arguments_pass_through_untouched() {
        check(&["xtask", "bench-cluster"], &[]);
        check(
            &[
                "xtask",
                "bench-cluster",
                "--quick",
                "--nodes",
                "redis://127.0.0.1:30001",
            ],
            &["--quick", "--nodes", "redis://127.0.0.1:30001"],
        );
        check(
            &["xtask", "profile", "--client", "slotmux", "--help"],
            &["--client", "slotmux", "--help"],
        );
        check(&["xtask", "bench-cluster", "--", "--quick"], &["--quick"]);
        check(&["xtask", "bench-cluster", "--help"], &["--help"]);
    }
}

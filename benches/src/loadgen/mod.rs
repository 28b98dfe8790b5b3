//! `cargo xtask bench-cluster`: slotmux against redis-rs, fred and redis-benchmark on the same workloads,
//! same servers, same process, interleaved and repeated.
//!
//! [`workload`] builds each request once; [`clients`] puts every library behind [`BenchClient`];
//! [`driver`] runs one cell (closed or open loop) and measures it; [`run`] walks the matrix and summarises;
//! [`report`] writes results.json, results.md and the SVG chart; [`profile`] wraps a run in perf / callgrind.

mod clients;
mod config;
mod driver;
mod metrics;
mod profile;
mod redis_benchmark;
mod report;
mod run;
mod target;
mod workload;

pub use clients::{BenchClient, ClientKind, ErrKind};
pub use config::Settings;
pub use driver::Stop;
pub use metrics::{CpuUsage, Percentiles};
pub use profile::{ProfileOutput, profile};
pub use redis_benchmark::{BenchmarkRow, parse_csv};
pub use report::{Written, markdown, svg, table, utc_stamp, write};
pub use run::{CellRecord, HeadlineRow, Report, SummaryRow, run};
pub use target::{Target, parse_loopback_url};
pub use workload::{Command, KeySpace, Op, Request, Workload};

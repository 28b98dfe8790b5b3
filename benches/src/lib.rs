//! Benchmarks for slotmux.
//!
//! Criterion micro-benchmarks live in `benches/`. This library holds [`loadgen`], the load generator behind
//! `cargo xtask bench-cluster` (binary `bench-cluster`), which compares slotmux with redis-rs, fred and
//! redis-benchmark against a local cluster and a standalone server.
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod loadgen;

//! `cargo xtask`: the project's automation, one binary with one module per task.
fn main() {}

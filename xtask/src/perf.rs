//! `cargo xtask bench-cluster` and `cargo xtask profile`: forward to the `bench-cluster` binary of `benches`.

use anyhow::Result;
use xshell::{Shell, cmd};

use crate::{cargo, ensure_redis, project_root};

pub(crate) fn run(args: &[String], profile: bool) -> Result<()> {
    let root = project_root();
    if !root.join("benches/src/bin/bench-cluster.rs").exists() {
        println!("bench-cluster is not built yet (issue 5)");
        return Ok(());
    }
    ensure_redis()?;
    let sh = Shell::new()?;
    sh.change_dir(&root);
    let cargo = cargo();
    let mode: &[&str] = if profile { &["profile"] } else { &[] };
    cmd!(
        sh,
        "{cargo} run --release -p benches --bin bench-cluster -- {mode...} {args...}"
    )
    .run()?;
    Ok(())
}

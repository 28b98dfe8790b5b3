//! Finding (and, when allowed, installing) `redis-server` and `redis-cli`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use anyhow::{Context, Result, bail};

/// The command a person runs to get the server; printed verbatim when we may not run it ourselves.
pub const INSTALL_COMMAND: &str = "apt-get install -y redis-server";

/// The oldest major version with everything the harness uses (`CLUSTER ADDSLOTSRANGE`, `enable-debug-command`).
const MIN_MAJOR_VERSION: u32 = 7;

/// Serialises installation within this process, so parallel tests run apt-get once.
static INSTALL: Mutex<()> = Mutex::new(());

/// Returns the path of `redis-server`, installing it with apt-get when it is missing and we run as root.
///
/// Fails with an error naming the exact install command otherwise, or when the server is older than 7.0.
pub fn redis_server_binary() -> Result<PathBuf> {
    let path = find_or_install("redis-server")?;
    check_version(&path)?;
    Ok(path)
}

/// Returns the path of `redis-cli` (Debian ships it with `redis-server`, in `redis-tools`).
pub fn redis_cli_binary() -> Result<PathBuf> {
    find_or_install("redis-cli")
}

fn find_or_install(name: &str) -> Result<PathBuf> {
    if let Some(path) = find_in_path(name) {
        return Ok(path);
    }
    let _guard = INSTALL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(path) = find_in_path(name) {
        return Ok(path);
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if !root || !Path::new("/usr/bin/apt-get").exists() {
        bail!("{name} not found in PATH; install Redis 7 or newer with: {INSTALL_COMMAND}");
    }
    eprintln!("test-support: {name} not found, running: apt-get update && {INSTALL_COMMAND}");
    // Another process (a parallel test binary) may hold the dpkg lock; waiting for it beats failing.
    let status = Command::new("sh")
        .arg("-c")
        .arg("apt-get update -qq && apt-get install -y -qq -o DPkg::Lock::Timeout=600 redis-server")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("running apt-get")?;
    if !status.success() {
        bail!("apt-get failed ({status}); install Redis 7 or newer with: {INSTALL_COMMAND}");
    }
    find_in_path(name)
        .with_context(|| format!("{name} still not found after installing redis-server"))
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/usr/local/bin", "/usr/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn check_version(server: &Path) -> Result<()> {
    let out = Command::new(server)
        .arg("--version")
        .output()
        .context("running redis-server --version")?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "Redis server v=7.0.15 sha=..." (Valkey prints "Valkey server v=8.0.1 ...").
    let major = text
        .split_whitespace()
        .find_map(|word| word.strip_prefix("v="))
        .and_then(|version| version.split('.').next())
        .and_then(|major| major.parse::<u32>().ok())
        .with_context(|| format!("cannot read the version of {}: {text:?}", server.display()))?;
    if major < MIN_MAJOR_VERSION {
        bail!(
            "{} is version {major}, the harness needs {MIN_MAJOR_VERSION}.0 or newer",
            server.display()
        );
    }
    Ok(())
}

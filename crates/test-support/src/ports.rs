//! Choosing loopback ports that no other server (ours or anyone's) is using.
//!
//! Several test binaries, and several people's test runs, start servers at the same time.
//! Checking that a port is free and then starting a server on it races with them,
//! so each port is also reserved with an exclusive `flock` on a file named after it.
//! The kernel drops the lock when the process dies, so a crash never leaks a reservation.

use std::fs::{self, File, OpenOptions};
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

/// Redis Cluster nodes talk to each other on the client port plus this offset (the cluster bus).
pub(crate) const BUS_OFFSET: u16 = 10000;

/// Test servers take ports from this range: below the Linux ephemeral range (32768 and up) even with
/// the bus offset added, so outgoing connections never grab them, and above the common service ports.
const FIRST: u16 = 20000;
const LAST: u16 = 22760;

/// A port reserved for one server for as long as this value lives.
#[derive(Debug)]
pub(crate) struct PortLease {
    port: u16,
    _lock: File,
}

impl PortLease {
    pub(crate) fn port(&self) -> u16 {
        self.port
    }
}

fn lock_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join("slotmux-ports");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Reserves a free port (and its cluster bus port) from the test range.
pub(crate) fn reserve() -> Result<PortLease> {
    let dir = lock_dir()?;
    let span = u32::from(LAST - FIRST);
    // Start at a different place in each process so parallel test binaries rarely probe the same ports.
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let start = (std::process::id().wrapping_mul(7919) ^ nanos) % span;
    for i in 0..span {
        let Ok(offset) = u16::try_from((start + i) % span) else {
            continue;
        };
        let port = FIRST + offset;
        if let Some(lease) = try_reserve(&dir, port)? {
            return Ok(lease);
        }
    }
    bail!("no free port pair (port, port+{BUS_OFFSET}) in {FIRST}..={LAST}")
}

/// Reserves exactly `port`, failing when it or its bus port is taken.
pub(crate) fn reserve_exact(port: u16) -> Result<PortLease> {
    if port.checked_add(BUS_OFFSET).is_none() {
        bail!("port {port} is too high: its cluster bus port {port}+{BUS_OFFSET} does not exist");
    }
    try_reserve(&lock_dir()?, port)?.with_context(|| {
        format!(
            "port {port} or its cluster bus port {} is in use",
            port + BUS_OFFSET
        )
    })
}

fn try_reserve(dir: &std::path::Path, port: u16) -> Result<Option<PortLease>> {
    let Some(bus) = port.checked_add(BUS_OFFSET) else {
        return Ok(None);
    };
    let path = dir.join(port.to_string());
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    // SAFETY: the descriptor is open for the duration of the call.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Ok(None);
    }
    if !is_free(port) || !is_free(bus) {
        return Ok(None);
    }
    Ok(Some(PortLease { port, _lock: file }))
}

/// A wildcard bind conflicts with a listener on any local address (and with a dual-stack `[::]` one),
/// so one bind answers for every address a server might use.
fn is_free(port: u16) -> bool {
    TcpListener::bind(("0.0.0.0", port)).is_ok()
}

//! One `redis-server` process: its port, directory, configuration and life cycle.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, Once, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::binary::{redis_cli_binary, redis_server_binary};
use crate::ports::{self, PortLease};
use crate::resp::{Conn, Reply};
use crate::spawner;

/// How long a server may take from exec to answering PING; it normally takes about 20 ms.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// How many ports a standalone server tries when another program grabs its port first; one retry
/// covers the race, more would hide a machine that is out of ports.
const START_ATTEMPTS: u32 = 2;

/// How long one readiness probe may wait for a connection; the server is local.
const PROBE_TIMEOUT: Duration = Duration::from_millis(200);

/// Pause between readiness probes: short against a 20 ms start, long enough not to spin a core.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Whether a server dies with the process that started it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Started by the spawner thread with a death signal, killed on drop: tests.
    Tied,
    /// Started in its own session, left running on drop, stopped later by PID: `cargo xtask cluster up`.
    Detached,
}

#[derive(Debug)]
struct Process {
    child: Option<Child>,
    pid: u32,
    alive: bool,
    stopped: bool,
}

/// One `redis-server` on `127.0.0.1`, with its own directory, pidfile and log.
///
/// A test server is killed (SIGKILL) when the value is dropped, and by the kernel when the test process exits,
/// however it exits. Every method takes `&self`, so shared servers can have faults injected too.
#[derive(Debug)]
pub struct Server {
    port: u16,
    dir: PathBuf,
    mode: Mode,
    process: Mutex<Process>,
    remove_dir_on_drop: bool,
    _lease: Option<PortLease>,
}

/// Everything that describes a server before it runs.
pub(crate) struct Launch {
    pub(crate) lease: Option<PortLease>,
    pub(crate) port: u16,
    pub(crate) dir: PathBuf,
    pub(crate) mode: Mode,
    pub(crate) config: Vec<(String, String)>,
    pub(crate) remove_dir_on_drop: bool,
}

impl Server {
    /// Starts a standalone server on a free port and waits until it answers PING.
    pub fn start() -> Result<Server> {
        Server::start_with(&[])
    }

    /// Like [`Server::start`], with extra `redis.conf` directives (`("maxmemory", "10mb")`),
    /// written after the harness's own so they override them.
    pub fn start_with(extra_config: &[(&str, &str)]) -> Result<Server> {
        let mut config = base_config();
        config.extend(
            extra_config
                .iter()
                .map(|&(k, v)| (k.to_owned(), v.to_owned())),
        );
        let mut attempt = 1;
        loop {
            let lease = ports::reserve()?;
            let port = lease.port();
            let server = Server::launch(Launch {
                dir: test_dir(port)?,
                lease: Some(lease),
                port,
                mode: Mode::Tied,
                config: config.clone(),
                remove_dir_on_drop: true,
            })?;
            match server.wait_ready(READY_TIMEOUT) {
                Ok(()) => return Ok(server),
                // A program outside the harness took the port between our check and the server's bind:
                // another port will do.
                Err(_)
                    if attempt < START_ATTEMPTS
                        && server.log().contains("Address already in use") =>
                {
                    attempt += 1
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes the configuration and starts the process without waiting for it to answer.
    pub(crate) fn launch(launch: Launch) -> Result<Server> {
        let Launch {
            lease,
            port,
            dir,
            mode,
            config,
            remove_dir_on_drop,
        } = launch;
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let dir = dir.canonicalize()?;
        let mut text = format!(
            "# Written by test-support.\nport {port}\nbind 127.0.0.1\ndir {}\npidfile {}\nlogfile {}\n",
            quote(&dir.display().to_string()),
            quote(&dir.join("redis.pid").display().to_string()),
            quote(&dir.join("redis.log").display().to_string()),
        );
        for (key, value) in &config {
            text.push_str(&format!("{key} {}\n", quote(value)));
        }
        fs::write(dir.join("redis.conf"), text)?;
        let server = Server {
            port,
            dir,
            mode,
            process: Mutex::new(Process {
                child: None,
                pid: 0,
                alive: false,
                stopped: false,
            }),
            remove_dir_on_drop,
            _lease: lease,
        };
        server.spawn()?;
        Ok(server)
    }

    /// A handle on a detached server that an earlier process started in `dir` on `port`.
    pub(crate) fn attach(dir: PathBuf, port: u16) -> Server {
        let pid = read_pid(&dir).unwrap_or(0);
        let alive = pid != 0 && is_our_server(pid, &dir);
        Server {
            port,
            dir,
            mode: Mode::Detached,
            process: Mutex::new(Process {
                child: None,
                pid,
                alive,
                stopped: false,
            }),
            remove_dir_on_drop: false,
            _lease: None,
        }
    }

    fn spawn(&self) -> Result<()> {
        let mut command = Command::new(redis_server_binary()?);
        // Output before the log file is open (a bad directive) goes here, so start failures can be explained.
        let early = File::create(self.dir.join("stdout.log"))?;
        command
            .arg(self.dir.join("redis.conf"))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(early.try_clone()?)
            .stderr(early);
        let child = match self.mode {
            Mode::Tied => spawner::spawn_tied(command),
            Mode::Detached => spawner::spawn_detached(command),
        }
        .context("starting redis-server")?;
        let mut process = self.lock();
        process.pid = child.id();
        process.child = Some(child);
        process.alive = true;
        process.stopped = false;
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, Process> {
        self.process.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until the server answers PING, failing early (with its log) if the process exits.
    pub(crate) fn wait_ready(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self
                .lock()
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                bail!(
                    "redis-server on port {} exited during start-up ({status}):\n{}",
                    self.port,
                    self.log_tail()
                );
            }
            let answer = Conn::connect(&self.addr(), PROBE_TIMEOUT).and_then(|mut c| {
                c.set_timeout(PROBE_TIMEOUT)?;
                c.command(&["PING"])
            });
            // LOADING or a similar refusal still means "not ready yet"; NOAUTH means the server is up
            // and serving, it only wants a password (a server started with `requirepass`).
            let ready = match &answer {
                Ok(Reply::Status(s)) => s == "PONG",
                Ok(Reply::Error(e)) => e.starts_with("NOAUTH"),
                _ => false,
            };
            if ready {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "redis-server on port {} did not answer PING within {timeout:?}:\n{}",
                    self.port,
                    self.log_tail()
                );
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `redis://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The process id of the server (of the last one started, after [`Server::kill`]).
    pub fn pid(&self) -> u32 {
        self.lock().pid
    }

    /// The server's directory: `redis.conf`, `redis.log`, `redis.pid`, and `nodes.conf` for cluster nodes.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the process is running (possibly stopped by [`Server::stop_signal`]).
    pub fn is_alive(&self) -> bool {
        let mut process = self.lock();
        if let Some(child) = process.child.as_mut() {
            if matches!(child.try_wait(), Ok(Some(_))) {
                process.alive = false;
            }
        } else if process.alive {
            process.alive = is_our_server(process.pid, &self.dir);
        }
        process.alive
    }

    /// Whether the process was stopped with [`Server::stop_signal`] and not continued.
    pub fn is_stopped(&self) -> bool {
        self.lock().stopped
    }

    /// Kills the server with SIGKILL (a crash: nothing is saved) and waits until it is gone.
    pub fn kill(&self) {
        let mut process = self.lock();
        if !process.alive {
            return;
        }
        match process.child.as_mut() {
            Some(child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            None => kill_and_wait(
                process.pid,
                &self.dir,
                libc::SIGKILL,
                Duration::from_secs(5),
            ),
        }
        process.alive = false;
        process.stopped = false;
    }

    /// Starts the server again on the same port with the same directory, so a cluster node keeps its
    /// `nodes.conf` (its identity and view) and rejoins. Kills it first if it still runs.
    /// Returns when it answers PING; a cluster node may still report `cluster_state:fail` for a while.
    pub fn restart(&self) -> Result<()> {
        self.kill();
        self.spawn()?;
        self.wait_ready(READY_TIMEOUT)
    }

    /// Sends SIGSTOP: the server stops answering, but the kernel still accepts connections (a hung node).
    pub fn stop_signal(&self) {
        let mut process = self.lock();
        if process.alive {
            signal(process.pid, libc::SIGSTOP);
            process.stopped = true;
        }
    }

    /// Sends SIGCONT after [`Server::stop_signal`].
    pub fn cont_signal(&self) {
        let mut process = self.lock();
        if process.alive {
            signal(process.pid, libc::SIGCONT);
            process.stopped = false;
        }
    }

    /// Runs `redis-cli -h 127.0.0.1 -p <port> <args>` and returns its standard output.
    ///
    /// Note that redis-cli exits with 0 and prints the message when the server replies with an error,
    /// so check the text; only a failure to run redis-cli is an `Err`.
    pub fn cli(&self, args: &[&str]) -> Result<String> {
        let out = Command::new(redis_cli_binary()?)
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .context("running redis-cli")?;
        if !out.status.success() {
            bail!(
                "redis-cli -p {} {} failed ({}): {}{}",
                self.port,
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .trim_end_matches('\n')
            .to_owned())
    }

    /// Opens a new blocking RESP2 connection to the server.
    pub fn connect(&self) -> Result<Conn> {
        Conn::connect(&self.addr(), Duration::from_secs(2))
    }

    /// Sends one command on a new connection and returns the reply (an error reply is `Ok(Reply::Error)`).
    pub fn command(&self, args: &[&str]) -> Result<Reply> {
        self.connect()?.command(args)
    }

    /// One field of `INFO` (`role`, `master_link_status`, `cluster_enabled`, ...) or of `CLUSTER INFO`
    /// (`cluster_state`, `cluster_slots_assigned`, ...).
    pub fn info_field(&self, field: &str) -> Result<String> {
        let find = |reply: Reply| -> Option<String> {
            let text = reply.text()?;
            text.lines()
                .find_map(|line| {
                    line.strip_prefix(field)
                        .and_then(|rest| rest.strip_prefix(':'))
                })
                .map(|value| value.trim().to_owned())
        };
        if let Some(value) = find(self.command(&["INFO", "everything"])?.ok()?) {
            return Ok(value);
        }
        if field.starts_with("cluster_") {
            if let Some(value) = find(self.command(&["CLUSTER", "INFO"])?.ok()?) {
                return Ok(value);
            }
        }
        bail!("no field {field} in INFO of port {}", self.port)
    }

    /// The server's log file.
    pub fn log(&self) -> String {
        let mut text = fs::read_to_string(self.dir.join("stdout.log")).unwrap_or_default();
        text.push_str(&fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default());
        text
    }

    fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.mode == Mode::Tied {
            self.kill();
            if self.remove_dir_on_drop {
                let _ = fs::remove_dir_all(&self.dir);
            }
        }
    }
}

/// Directives every harness server gets: no persistence (fast, and no files left behind),
/// DEBUG allowed from loopback (tests use DEBUG SLEEP), and replicas that sync at once.
pub(crate) fn base_config() -> Vec<(String, String)> {
    [
        ("daemonize", "no"),
        ("save", ""),
        ("appendonly", "no"),
        ("protected-mode", "no"),
        ("enable-debug-command", "local"),
        ("repl-diskless-sync-delay", "0"),
    ]
    .iter()
    .map(|&(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn quote(value: &str) -> String {
    if value.is_empty() || value.contains([' ', '"', '\'']) {
        format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        value.to_owned()
    }
}

/// Numbers the servers of this process, so their directories never collide.
static NEXT_DIR: AtomicU64 = AtomicU64::new(0);

/// Removes the directories of test processes that no longer run, once per process.
static CLEAN_STALE: Once = Once::new();

fn test_root() -> PathBuf {
    std::env::temp_dir().join("slotmux-test")
}

/// A fresh directory for a test server: `<tmp>/slotmux-test/<pid>-<n>-<port>`.
pub(crate) fn test_dir(port: u16) -> Result<PathBuf> {
    let root = test_root();
    CLEAN_STALE.call_once(|| remove_stale_dirs(&root));
    let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
    let dir = root.join(format!("{}-{n}-{port}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

fn remove_stale_dirs(root: &Path) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let owner = name
            .to_str()
            .and_then(|n| n.split('-').next())
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = owner {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
}

pub(crate) fn read_pid(dir: &Path) -> Option<u32> {
    fs::read_to_string(dir.join("redis.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Whether `pid` is a redis-server running in `dir`: guards against killing whatever reused a stale PID.
pub(crate) fn is_our_server(pid: u32, dir: &Path) -> bool {
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    if comm.trim() != "redis-server" {
        return false;
    }
    // A zombie has no working directory; it is not running.
    let Ok(cwd) = fs::read_link(format!("/proc/{pid}/cwd")) else {
        return false;
    };
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_owned());
    cwd.starts_with(&dir)
}

fn signal(pid: u32, sig: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        if pid > 0 {
            // SAFETY: kill has no memory-safety preconditions; the PID is positive, so it names one process.
            unsafe { libc::kill(pid, sig) };
        }
    }
}

/// Signals a process we did not fork (a detached server) and waits until it is gone, then SIGKILLs it.
pub(crate) fn kill_and_wait(pid: u32, dir: &Path, sig: libc::c_int, grace: Duration) {
    if !is_our_server(pid, dir) {
        return;
    }
    signal(pid, libc::SIGCONT);
    signal(pid, sig);
    let deadline = Instant::now() + grace;
    while is_our_server(pid, dir) {
        if Instant::now() >= deadline {
            signal(pid, libc::SIGKILL);
        }
        thread::sleep(POLL_INTERVAL);
    }
}

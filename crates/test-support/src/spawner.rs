//! Starting server processes so that they die with the test process.
//!
//! `PR_SET_PDEATHSIG` sends its signal when the *thread* that forked the child exits, not the process.
//! Test threads come and go, so every tied server is forked by one dedicated thread that never exits:
//! it dies only with the process, and then the kernel kills every server it started,
//! even when the test process itself was killed with SIGKILL.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::sync::mpsc::{Sender, channel};
use std::thread;

struct Request {
    command: Command,
    reply: Sender<io::Result<Child>>,
}

/// The spawner thread's inbox. The sender lives in a static and is never dropped,
/// so the thread's receive loop never ends and the thread lives as long as the process.
static SPAWNER: OnceLock<Sender<Request>> = OnceLock::new();

fn spawner() -> io::Result<&'static Sender<Request>> {
    if let Some(sender) = SPAWNER.get() {
        return Ok(sender);
    }
    let (tx, rx) = channel::<Request>();
    // Two racing first callers may both build a thread; the loser's thread ends at once
    // because its channel's only sender is dropped right here.
    let sender = SPAWNER.get_or_init(|| tx);
    thread::Builder::new()
        .name("test-support-spawner".into())
        .spawn(move || {
            for mut request in rx {
                let result = request.command.spawn();
                // The requester may have given up; the child is then reaped by nobody, which is harmless.
                let _ = request.reply.send(result);
            }
        })?;
    Ok(sender)
}

/// Spawns `command` from the spawner thread with `PR_SET_PDEATHSIG = SIGKILL`.
pub(crate) fn spawn_tied(mut command: Command) -> io::Result<Child> {
    let parent = std::process::id();
    let parent = libc::pid_t::try_from(parent).map_err(io::Error::other)?;
    // SAFETY: the closure runs between fork and exec and calls only async-signal-safe functions
    // (prctl, getppid); it allocates nothing and touches no lock.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl; then the signal would never come.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    let (reply, response) = channel();
    spawner()?
        .send(Request { command, reply })
        .map_err(|_| io::Error::other("the spawner thread is gone"))?;
    response
        .recv()
        .map_err(|_| io::Error::other("the spawner thread dropped the request"))?
}

/// Spawns `command` in its own session and without a death signal, so it outlives this process
/// and a Ctrl-C in the terminal that started it (`cargo xtask cluster up`).
pub(crate) fn spawn_detached(mut command: Command) -> io::Result<Child> {
    // SAFETY: setsid is async-signal-safe and the closure allocates nothing.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.spawn()
}

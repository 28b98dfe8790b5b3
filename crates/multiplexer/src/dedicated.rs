//! [`Dedicated`]: connections opened for one call each, counted and closed with the client that owns them.

use std::borrow::Borrow;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use resp_codec::{EncodedCommand, Frame};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::config::ConnectionConfig;
use crate::error::{Error, ErrorKind};
use crate::mux::Multiplexer;

/// Connections opened for one call each and closed right after it: a blocking command (`BLPOP`,
/// `XREAD ... BLOCK`) on a shared connection would hold every other caller's reply behind it.
///
/// Every open one is tracked, so that [`Dedicated::open`] can report them and [`Dedicated::close`] closes
/// them with the rest of their client (their callers fail at once instead of waiting out a long `BLPOP`).
/// Cheap to clone; clones share the set.
///
/// A dedicated connection closes without the grace a shared one gives its commands
/// ([`Multiplexer::close`] waits up to `command_timeout`): by then its one caller has its answer or
/// has given up (or its client is closing), and a blocking command written after that, or left live
/// on the server (a `BLPOP` past its caller's deadline), would take an element nobody receives. So
/// nothing queued is written after the close, and the socket closes as soon as the writer runs.
///
/// At most a set number are open at once ([`Dedicated::with_limit`]); a call beyond it waits for one
/// to close, first come first served, until its deadline.
#[derive(Clone, Debug)]
pub struct Dedicated {
    inner: Arc<Mutex<State>>,
    /// One permit per connection that may be open; closed by [`Dedicated::close`].
    permits: Arc<Semaphore>,
}

/// The default bound on open dedicated connections ([`Dedicated::new`]).
///
/// Redis accepts 10,000 clients per server by default (`maxclients`), shared by every process that
/// uses it, and a rejected connection fails the shared connections' reconnects too. A client that
/// opened one connection per waiting `BLPOP` without bound could take all of them; a thousand leaves
/// room for several such clients per server, and is more concurrent blocking calls than a service
/// usually has (each one holds a task and a socket).
pub const DEFAULT_MAX_DEDICATED: usize = 1000;

impl Default for Dedicated {
    fn default() -> Dedicated {
        Dedicated::with_limit(DEFAULT_MAX_DEDICATED)
    }
}

#[derive(Debug, Default)]
struct State {
    closed: bool,
    next_id: u64,
    /// The open connections by id: one per blocking call under way, usually a handful. At the bound
    /// (1,000 by default) a close's linear search still costs about a microsecond, less than the
    /// connect that came before it, so a vector beats a map.
    open: Vec<(u64, Multiplexer)>,
    /// Connections opened so far.
    opened: u64,
}

impl Dedicated {
    /// An empty set of at most [`DEFAULT_MAX_DEDICATED`] open connections.
    pub fn new() -> Dedicated {
        Dedicated::default()
    }

    /// An empty set of at most `max_open` open connections (at least one). A call that finds them all
    /// in use waits for one to close until its deadline, then fails with [`ErrorKind::Busy`], never
    /// sent.
    pub fn with_limit(max_open: usize) -> Dedicated {
        Dedicated {
            inner: Arc::default(),
            permits: Arc::new(Semaphore::new(max_open.clamp(1, Semaphore::MAX_PERMITS))),
        }
    }

    /// Opens a connection with `config` (within `deadline`), sends `cmds` on it as one batch, and closes it.
    /// One result per command, in order. A connection that cannot be made fails every command with
    /// [`ErrorKind::Connect`], or [`ErrorKind::ConnectionNotSent`] when the deadline passes while connecting
    /// (never sent either way); after [`Dedicated::close`] every command fails with [`ErrorKind::Closed`].
    pub async fn send_batch<C: Borrow<EncodedCommand>>(
        &self,
        config: ConnectionConfig,
        cmds: &[C],
        deadline: Instant,
    ) -> Vec<Result<Frame, Error>> {
        let guard = match self.open_one(config, cmds.len(), deadline).await {
            Ok(guard) => guard,
            Err(e) => return vec![Err(e); cmds.len()],
        };
        let replies = guard.mux.send_batch(cmds, deadline).await;
        drop(guard);
        replies
    }

    /// [`Dedicated::send_batch`] for one command.
    pub async fn send(
        &self,
        config: ConnectionConfig,
        cmd: &EncodedCommand,
        deadline: Instant,
    ) -> Result<Frame, Error> {
        let guard = self.open_one(config, 1, deadline).await?;
        guard.mux.send_by(cmd, deadline).await
    }

    /// How many dedicated connections are open right now.
    pub fn open(&self) -> usize {
        self.state().open.len()
    }

    /// How many dedicated connections were opened so far.
    pub fn opened(&self) -> u64 {
        self.state().opened
    }

    /// Closes every open dedicated connection and refuses new ones. Their callers fail at once:
    /// [`ErrorKind::ConnectionIndeterminate`] for a command already written (a `BLPOP` may have popped
    /// just before), [`ErrorKind::Closed`] for one not yet written (none is written after the close, but for
    /// one the writer had already taken from its queue when the close landed: a window of microseconds).
    pub fn close(&self) {
        // Callers waiting for a connection fail with `Closed`.
        self.permits.close();
        let open = {
            let mut state = self.state();
            state.closed = true;
            std::mem::take(&mut state.open)
        };
        for (_, mux) in open {
            mux.close_now();
        }
    }

    /// A poisoned lock is still consistent: every change under it is one push, one removal or one flag.
    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn open_one(
        &self,
        mut config: ConnectionConfig,
        commands: usize,
        deadline: Instant,
    ) -> Result<OpenGuard<'_>, Error> {
        if self.state().closed {
            return Err(Error::new(ErrorKind::Closed));
        }
        let permit = match tokio::time::timeout_at(deadline, self.permits.clone().acquire_owned())
            .await
        {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => return Err(Error::new(ErrorKind::Closed)),
            Err(_) => {
                return Err(Error::with_message(
                    ErrorKind::Busy,
                    "every dedicated connection (for blocking commands) stayed in use until the deadline",
                ));
            }
        };
        // A group of its own, whatever group the caller's configuration carries: a blocked command
        // is no load, and counted with the shared connections it would make their writers hold for
        // it; nor is its one caller part of the shared connections' batching (the woken-callers
        // count). See `ConnectionGroup`.
        config.group = crate::group::ConnectionGroup::new();
        // A blocking command's silence is what it was sent for, not a hung server.
        config.on_silence = None;
        // Slots for this call's commands only: the pool is allocated at connect, and a shared
        // connection's default (2048 slots, about 350 KiB) per blocked caller would make a thousand
        // waiting `BLPOP`s cost hundreds of MiB.
        config = config.max_in_flight(commands.max(1)).max_queued(0);
        let mux = match tokio::time::timeout_at(deadline, Multiplexer::connect(config)).await {
            Ok(Ok(mux)) => mux,
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                return Err(Error::with_message(
                    ErrorKind::ConnectionNotSent,
                    "no connection of its own within the deadline",
                ));
            }
        };
        let mut state = self.state();
        if state.closed {
            // Closed while connecting: this connection must not outlive the close.
            drop(state);
            mux.close_now();
            return Err(Error::new(ErrorKind::Closed));
        }
        let id = state.next_id;
        state.next_id += 1;
        state.opened += 1;
        state.open.push((id, mux.clone()));
        drop(state);
        Ok(OpenGuard {
            owner: self,
            id,
            mux,
            _permit: permit,
        })
    }
}

/// One open dedicated connection; dropping it (after the call, or when the caller's future is dropped)
/// closes the connection and forgets it.
struct OpenGuard<'a> {
    owner: &'a Dedicated,
    id: u64,
    mux: Multiplexer,
    /// Returned when the guard drops, after the connection is closed and forgotten.
    _permit: OwnedSemaphorePermit,
}

impl Drop for OpenGuard<'_> {
    fn drop(&mut self) {
        let mut state = self.owner.state();
        if let Some(i) = state.open.iter().position(|(id, _)| *id == self.id) {
            state.open.swap_remove(i);
        }
        drop(state);
        self.mux.close_now();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Regression: each blocking call's connection got the shared connections' slot pool (2048 slots,
    /// about 350 KiB), allocated at connect.
    #[tokio::test]
    async fn a_dedicated_connection_has_slots_for_its_call_only() {
        let addr = test_support::shared_server().addr();
        let dedicated = Dedicated::new();
        for commands in [1, 3] {
            let deadline = Instant::now() + Duration::from_secs(5);
            let guard = dedicated
                .open_one(ConnectionConfig::new(addr.clone()), commands, deadline)
                .await
                .expect("connect");
            let config = guard.mux.config();
            assert_eq!((config.max_in_flight, config.max_queued), (commands, 0));
        }
        assert_eq!(dedicated.open(), 0, "each closed when its guard dropped");
    }
}

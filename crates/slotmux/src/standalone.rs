//! The backend of a client of one server: a pool of shared connections, with the same command rules a
//! cluster client applies (blocking commands on a connection of their own, connection-state commands refused).

use cluster_router::{CommandRules, ConnectionUse};
use multiplexer::{ConnectionConfig, Dedicated, Pool};
use resp_codec::{EncodedCommand, Frame};
use tokio::time::Instant;

use crate::client::{from_mux, from_router};
use crate::error::{Error, ErrorKind, Result};
use crate::value::Value;

/// One server behind a pool of multiplexed connections.
///
/// Two pointers, so the client's `Inner` (read on every command) stays as small as it was before the
/// rules were added; the rules and the cold-path settings sit behind the second pointer.
pub(crate) struct Standalone {
    pub(crate) pool: Pool,
    rest: Box<Rest>,
}

struct Rest {
    rules: CommandRules,
    /// The settings of the pool's connections, for a connection opened for one blocking command.
    config: ConnectionConfig,
    /// The connections opened for one blocking command each.
    dedicated: Dedicated,
    multi: EncodedCommand,
    exec: EncodedCommand,
}

impl Standalone {
    pub(crate) fn new(pool: Pool, config: ConnectionConfig, max_blocking: usize) -> Standalone {
        Standalone {
            pool,
            rest: Box::new(Rest {
                rules: CommandRules::builtin(),
                config,
                dedicated: Dedicated::with_limit(max_blocking),
                multi: EncodedCommand::from_args(["MULTI"]),
                exec: EncodedCommand::from_args(["EXEC"]),
            }),
        }
    }

    /// What `cmd` may do to the pool's shared connections.
    #[inline]
    pub(crate) fn connection_use(&self, cmd: &EncodedCommand) -> ConnectionUse {
        self.rest.rules.connection_use(cmd)
    }

    /// The error for a command that would change the shared connections' state.
    pub(crate) fn refusal(cmd: &EncodedCommand) -> Error {
        from_router(CommandRules::refusal(cmd))
    }

    /// `cmd` on a connection opened for it and closed after it, so a `BLPOP` holds no other caller's reply.
    pub(crate) async fn exclusive(&self, cmd: &EncodedCommand, deadline: Instant) -> Result<Frame> {
        self.rest
            .dedicated
            .send(self.rest.config.clone(), cmd, deadline)
            .await
            .map_err(from_mux)
    }

    /// `WAIT` / `WAITAOF` on every connection of the pool, since the caller's writes may have gone out on
    /// any of them; the smallest count is the reply.
    pub(crate) async fn on_every_connection(
        &self,
        cmd: &EncodedCommand,
        deadline: Instant,
    ) -> Result<Frame> {
        cluster_router::send_to_every_connection([&self.pool], cmd, deadline)
            .await
            .map_err(from_router)
    }

    /// Connections open right now for one blocking command each.
    pub(crate) fn blocking_connections(&self) -> usize {
        self.rest.dedicated.open()
    }

    /// Closes the shared connections (commands already accepted still get their replies) and the
    /// blocking commands' own connections (those commands end at once, `Indeterminate` if written).
    pub(crate) fn close(&self) {
        self.pool.close();
        self.rest.dedicated.close();
    }

    /// Every command of a pipeline. The common case (no blocking or connection-state command) is one
    /// pipeline on the pool (`send_pipeline`: one batch, or parts when longer than the slot pool);
    /// otherwise the shared commands still go as one pipeline, then the blocking commands,
    /// each on a connection of its own (so they see what the batch wrote), and the `WAIT`s, on every
    /// connection (so they wait for what the batch wrote); each connection-state command is refused alone.
    pub(crate) async fn pipeline(
        &self,
        cmds: &[EncodedCommand],
        deadline: Instant,
    ) -> Vec<Result<Frame>> {
        if cmds
            .iter()
            .all(|c| self.rest.rules.connection_use(c) == ConnectionUse::Shared)
        {
            return self
                .pool
                .send_pipeline(cmds, deadline)
                .await
                .into_iter()
                .map(|r| r.map_err(from_mux))
                .collect();
        }
        let uses: Vec<ConnectionUse> = cmds
            .iter()
            .map(|c| self.rest.rules.connection_use(c))
            .collect();
        Box::pin(self.mixed_pipeline(cmds, &uses, deadline)).await
    }

    async fn mixed_pipeline(
        &self,
        cmds: &[EncodedCommand],
        uses: &[ConnectionUse],
        deadline: Instant,
    ) -> Vec<Result<Frame>> {
        // The commands of one use, in pipeline order.
        let of = |wanted: ConnectionUse| {
            cmds.iter()
                .zip(uses)
                .filter(move |(_, u)| **u == wanted)
                .map(|(c, _)| c)
        };
        let shared: Vec<&EncodedCommand> = of(ConnectionUse::Shared).collect();
        let batch = async {
            if shared.is_empty() {
                Vec::new()
            } else {
                self.pool.send_pipeline(&shared, deadline).await
            }
        };
        let blocking = futures_util::future::join_all(
            of(ConnectionUse::Exclusive).map(|cmd| self.exclusive(cmd, deadline)),
        );
        let waits = futures_util::future::join_all(
            of(ConnectionUse::EveryConnection).map(|cmd| self.on_every_connection(cmd, deadline)),
        );
        // The batch first: `[LPUSH q x, BLPOP q 1]` must see the push, `[SET k v, WAIT 1 100]` wait for it.
        let batch = batch.await;
        let (blocking, waits) = futures_util::future::join(blocking, waits).await;
        let (mut batch, mut blocking, mut waits) =
            (batch.into_iter(), blocking.into_iter(), waits.into_iter());
        cmds.iter()
            .zip(uses)
            .map(|(cmd, u)| match u {
                ConnectionUse::Shared => match batch.next() {
                    Some(r) => r.map_err(from_mux),
                    None => Err(missing_reply()),
                },
                ConnectionUse::Exclusive => blocking.next().unwrap_or_else(|| Err(missing_reply())),
                ConnectionUse::EveryConnection => {
                    waits.next().unwrap_or_else(|| Err(missing_reply()))
                }
                _ => Err(Standalone::refusal(cmd)),
            })
            .collect()
    }

    /// `MULTI`, the commands and `EXEC` back to back as one batch on one connection; returns `EXEC`'s reply.
    /// A command that would change the connection's state is refused before anything is sent.
    pub(crate) async fn transaction(
        &self,
        cmds: &[EncodedCommand],
        deadline: Instant,
    ) -> Result<Frame> {
        // Inside MULTI neither a blocking command nor a WAIT blocks (the server answers them at once at
        // EXEC), so only connection-state commands are refused.
        if let Some(cmd) = cmds.iter().find(|c| {
            !matches!(
                self.rest.rules.connection_use(c),
                ConnectionUse::Shared | ConnectionUse::Exclusive | ConnectionUse::EveryConnection
            )
        }) {
            return Err(Standalone::refusal(cmd));
        }
        let mut batch: Vec<&EncodedCommand> = Vec::with_capacity(cmds.len() + 2);
        batch.push(&self.rest.multi);
        batch.extend(cmds);
        batch.push(&self.rest.exec);
        let mut replies = self.pool.send_batch(&batch, deadline).await;
        let exec = match replies.pop() {
            Some(exec) => exec.map_err(from_mux)?,
            None => return Err(missing_reply()),
        };
        // Past MULTI's reply: the caller's commands'.
        let queued = replies.iter().skip(1).map(|r| r.as_ref().ok());
        Ok(cluster_router::explain_execabort(exec, queued))
    }
}

fn missing_reply() -> Error {
    Error::with_message(
        ErrorKind::Protocol,
        "a batch returned fewer replies than commands",
    )
}

/// The results of the commands of a transaction from `EXEC`'s reply: one per command, a command the
/// server failed at `EXEC` time (say `INCR` on a string) as its own `Err`. An error reply to `EXEC` itself
/// (`EXECABORT`: a command was rejected while queueing, and nothing ran) is the outer `Err`.
pub(crate) fn exec_results(reply: Frame, expected: usize) -> Result<Vec<Result<Value>>> {
    let items = match Value::from_reply(reply)? {
        Value::Array(items) | Value::Set(items) => items,
        Value::Nil => {
            return Err(Error::with_message(
                ErrorKind::Protocol,
                "EXEC answered nil, which it does only after a failed WATCH",
            ));
        }
        other => {
            return Err(Error::with_message(
                ErrorKind::Protocol,
                format!("EXEC answered {other:?} instead of an array"),
            ));
        }
    };
    if items.len() != expected {
        return Err(Error::with_message(
            ErrorKind::Protocol,
            format!(
                "EXEC answered {} results for {expected} commands",
                items.len()
            ),
        ));
    }
    Ok(items
        .into_iter()
        .map(|v| match v {
            Value::ServerError(text) => Err(Error::server(&text)),
            v => Ok(v),
        })
        .collect())
}

//! [`CommandRules`]: the router's knowledge of what a command does to its connection, for clients of
//! one server that share their connections the same way.

use resp_codec::EncodedCommand;

use crate::command::{CommandTable, Route};
use crate::error::{Error, ErrorKind};

/// What a command needs from the connection it runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionUse {
    /// Runs on a connection shared by every caller (almost every command).
    Shared,
    /// May hold its connection while it waits for data (`BLPOP`, `XREAD ... BLOCK`, `WAIT`, ...): on a
    /// shared connection every other caller's reply would wait behind it, so it needs one of its own.
    Exclusive,
    /// Changes the state of the connection (`MULTI`, `WATCH`, `SELECT`, `SUBSCRIBE`, `CLIENT REPLY`, ...):
    /// on a shared connection it would leak into every other caller's commands, so it is refused.
    ChangesState,
}

/// The built-in command rules the router applies (the static table; the router also learns the rest
/// from the server's `COMMAND` reply), exposed so that a client of one server treats commands exactly
/// as a cluster client does.
#[derive(Clone, Debug, Default)]
pub struct CommandRules {
    table: CommandTable,
}

impl CommandRules {
    /// The built-in rules. Built once per client (a table of a few hundred entries), then read only.
    pub fn builtin() -> CommandRules {
        CommandRules {
            table: CommandTable::builtin(),
        }
    }

    /// How `cmd` may use a connection. A command the rules do not know is [`ConnectionUse::Shared`].
    #[inline]
    pub fn connection_use(&self, cmd: &EncodedCommand) -> ConnectionUse {
        let info = self.table.lookup(cmd);
        if info.route == Route::ConnectionState {
            ConnectionUse::ChangesState
        } else if info.is_blocking(cmd) {
            ConnectionUse::Exclusive
        } else {
            ConnectionUse::Shared
        }
    }

    /// The error for a command that [`ConnectionUse::ChangesState`]: the same one the router returns.
    pub fn refusal(cmd: &EncodedCommand) -> Error {
        connection_state(cmd)
    }
}

/// The error for a command that would change the state of a shared connection.
pub(crate) fn connection_state(cmd: &EncodedCommand) -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        format!(
            "{} changes the state of a connection shared by every caller; use a transaction for \
             MULTI/EXEC and a dedicated connection for the rest",
            String::from_utf8_lossy(cmd.name())
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(args: &[&str], expected: ConnectionUse) {
        let cmd = EncodedCommand::from_args(args.iter().copied());
        assert_eq!(
            CommandRules::builtin().connection_use(&cmd),
            expected,
            "{args:?}"
        );
    }

    #[test]
    fn classifies_commands_by_what_they_do_to_the_connection() {
        use ConnectionUse::*;
        check(&["GET", "k"], Shared);
        check(&["incr", "k"], Shared);
        check(&["XREAD", "STREAMS", "s", "0"], Shared);
        check(&["NO-SUCH-COMMAND"], Shared);
        check(&["CLIENT", "ID"], Shared);
        check(&["BLPOP", "k", "1"], Exclusive);
        check(&["xread", "block", "100", "STREAMS", "s", "$"], Exclusive);
        check(&["WAIT", "1", "0"], Exclusive);
        check(&["MULTI"], ChangesState);
        check(&["exec"], ChangesState);
        check(&["WATCH", "k"], ChangesState);
        check(&["SELECT", "1"], ChangesState);
        check(&["SUBSCRIBE", "ch"], ChangesState);
        check(&["client", "reply", "off"], ChangesState);
    }

    #[test]
    fn refusal_names_the_command() {
        let e = CommandRules::refusal(&EncodedCommand::from_args(["WATCH", "k"]));
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains("WATCH"), "{e}");
    }
}

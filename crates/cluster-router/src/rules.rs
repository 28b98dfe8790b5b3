//! [`CommandRules`]: the router's knowledge of what a command does to its connection, for clients of
//! one server that share their connections the same way.

use resp_codec::EncodedCommand;

use crate::command::{Blocking, CommandTable, Route};
use crate::error::{Error, ErrorKind};

/// What a command needs from the connection it runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionUse {
    /// Runs on a connection shared by every caller (almost every command).
    Shared,
    /// May hold its connection while it waits for data (`BLPOP`, `XREAD ... BLOCK`, ...): on a
    /// shared connection every other caller's reply would wait behind it, so it needs one of its own.
    Exclusive,
    /// Waits for the writes sent before it on the connection it runs on (`WAIT`, `WAITAOF`): a caller's
    /// writes may have gone out on any shared connection, so it runs on every one, with its timeout
    /// bounded by the caller's deadline, and the smallest count is the reply
    /// ([`send_to_every_connection`](crate::send_to_every_connection)).
    EveryConnection,
    /// Changes the state of the connection (`MULTI`, `WATCH`, `SELECT`, `SUBSCRIBE`, `CLIENT REPLY`, ...):
    /// on a shared connection it would leak into every other caller's commands, so it is refused.
    ChangesState,
}

/// The built-in command rules the router applies (the static table; the router also learns the rest
/// from the server's `COMMAND` reply), exposed so that a client of one server treats commands exactly
/// as a cluster client does.
#[derive(Clone, Debug)]
pub struct CommandRules {
    table: CommandTable,
    /// Per first letter (`A`..`Z`), a bit per name length (0..16) that some command needing more than a
    /// shared connection has (or a container whose subcommands might). `GET`, `SET`, `INCR`, `HSET` and the
    /// like match no bit and skip the table lookup (upper-casing the name, hashing it, probing the map),
    /// which a client of one server would otherwise pay on every command for the rare `BLPOP` or `MULTI`.
    maybe_special: [u16; 26],
}

impl Default for CommandRules {
    fn default() -> Self {
        CommandRules::builtin()
    }
}

/// Names of this many bytes or more always go to the table.
const PREFILTER_MAX_LEN: usize = 16;

impl CommandRules {
    /// The built-in rules. Built once per client (a table of a few hundred entries), then read only.
    pub fn builtin() -> CommandRules {
        let table = CommandTable::builtin();
        let mut maybe_special = [0u16; 26];
        for (name, info) in table.entries() {
            let special = matches!(info.route, Route::ConnectionState | Route::EveryConnection)
                || info.blocking != Blocking::No
                || info.container;
            // `NAME|SUB` entries are reached through their container `NAME`, marked as one itself.
            let name = name.split(|&b| b == b'|').next().unwrap_or(name);
            if let (true, Some(letter)) = (special, letter_index(name)) {
                if name.len() < PREFILTER_MAX_LEN {
                    if let Some(mask) = maybe_special.get_mut(letter) {
                        *mask |= 1 << name.len();
                    }
                }
            }
        }
        CommandRules {
            table,
            maybe_special,
        }
    }

    /// How `cmd` may use a connection. A command the rules do not know is [`ConnectionUse::Shared`].
    #[inline]
    pub fn connection_use(&self, cmd: &EncodedCommand) -> ConnectionUse {
        let name = cmd.name();
        if name.len() < PREFILTER_MAX_LEN {
            if let Some(mask) = letter_index(name).and_then(|l| self.maybe_special.get(l)) {
                if mask & (1 << name.len()) == 0 {
                    return ConnectionUse::Shared;
                }
            }
        }
        self.looked_up(cmd)
    }

    /// [`CommandRules::connection_use`] without the prefilter.
    fn looked_up(&self, cmd: &EncodedCommand) -> ConnectionUse {
        let info = self.table.lookup(cmd);
        if info.route == Route::ConnectionState {
            ConnectionUse::ChangesState
        } else if info.route == Route::EveryConnection {
            ConnectionUse::EveryConnection
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

/// `A`/`a` -> 0 ... `Z`/`z` -> 25; `None` for a name that does not start with an ASCII letter.
#[inline]
fn letter_index(name: &[u8]) -> Option<usize> {
    let first = name.first()?;
    first
        .is_ascii_alphabetic()
        .then(|| usize::from(first.to_ascii_uppercase() - b'A'))
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
        check(&["WAIT", "1", "0"], EveryConnection);
        check(&["waitaof", "1", "0", "0"], EveryConnection);
        check(&["SWAPDB", "0", "1"], Shared);
        check(&["SCRIPT", "DEBUG", "YES"], ChangesState);
        check(&["CLIENT", "CACHING", "YES"], ChangesState);
        check(&["MULTI"], ChangesState);
        check(&["exec"], ChangesState);
        check(&["WATCH", "k"], ChangesState);
        check(&["SELECT", "1"], ChangesState);
        check(&["SUBSCRIBE", "ch"], ChangesState);
        check(&["client", "reply", "off"], ChangesState);
    }

    #[test]
    fn the_prefilter_never_hides_a_command_the_table_knows() {
        let rules = CommandRules::builtin();
        let names: Vec<Vec<u8>> = rules.table.entries().map(|(n, _)| n.to_vec()).collect();
        for name in names {
            let parts: Vec<&[u8]> = name.split(|&b| b == b'|').collect();
            // Upper and lower case, with and without arguments that make XREAD block.
            for lower in [false, true] {
                let parts: Vec<Vec<u8>> = parts
                    .iter()
                    .map(|p| {
                        if lower {
                            p.to_ascii_lowercase()
                        } else {
                            p.to_vec()
                        }
                    })
                    .collect();
                for extra in [&[][..], &[&b"BLOCK"[..], b"0", b"STREAMS", b"s", b"$"][..]] {
                    let args: Vec<&[u8]> = parts
                        .iter()
                        .map(Vec::as_slice)
                        .chain(extra.iter().copied())
                        .collect();
                    let cmd = EncodedCommand::from_args(args);
                    assert_eq!(
                        rules.connection_use(&cmd),
                        rules.looked_up(&cmd),
                        "{}",
                        String::from_utf8_lossy(&name)
                    );
                }
            }
        }
        // The common commands take the shortcut.
        for name in ["GET", "SET", "INCR", "HSET", "EXPIRE", "MGET", "ZADD"] {
            let letter = letter_index(name.as_bytes()).unwrap();
            assert_eq!(rules.maybe_special[letter] & (1 << name.len()), 0, "{name}");
        }
    }

    #[test]
    fn refusal_names_the_command() {
        let e = CommandRules::refusal(&EncodedCommand::from_args(["WATCH", "k"]));
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains("WATCH"), "{e}");
    }
}

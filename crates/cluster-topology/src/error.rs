//! The crate's one error type: what was wrong with a reply or an address, and where.

use std::fmt;

/// Why a `CLUSTER SHARDS` / `CLUSTER SLOTS` reply, a node address or a redirect could not be used.
///
/// Every error of this crate comes from data the server (or a configuration file) sent:
/// none of them means that the caller misused the API.
/// The message names the place in the reply (`shard 2, node 1, field "port"`) and what was found there.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: Box<str>,
}

/// The category of an [`Error`], for callers that react differently to each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The reply was an error reply (`-ERR unknown subcommand ...` from a server older than Redis 7
    /// asked for `CLUSTER SHARDS`, `-LOADING`, ...): the router should fall back or ask another node.
    ServerError,
    /// A value had the wrong RESP type, or an aggregate had the wrong number of elements.
    UnexpectedShape,
    /// A field that the reply must contain was absent.
    MissingField,
    /// A field had the right type but a value this crate does not know (an unknown role, non-UTF-8 text).
    InvalidField,
    /// A slot number was above 16383 or negative, or a range started after it ended.
    InvalidSlotRange,
    /// Two ranges of the reply assigned the same slot to different nodes.
    ConflictingSlot,
    /// A port was zero, negative or above 65535, or not a number.
    InvalidPort,
    /// A node address (`host:port`, `[v6]:port`) could not be parsed.
    InvalidAddress,
    /// The reply listed more nodes than a node index can count (65534).
    TooManyNodes,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into().into_boxed_str(),
        }
    }

    /// Returns the category of this error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// True when the node answered with an error reply instead of a topology.
    ///
    /// The usual reason is a server older than Redis 7 asked for `CLUSTER SHARDS`;
    /// the router then asks for `CLUSTER SLOTS`.
    pub fn is_server_error(&self) -> bool {
        self.kind == ErrorKind::ServerError
    }

    /// Prefixes the message with where in the reply the problem was found.
    pub(crate) fn context(mut self, place: fmt::Arguments<'_>) -> Error {
        self.message = format!("{place}: {}", self.message).into_boxed_str();
        self
    }
}

impl ErrorKind {
    fn describe(self) -> &'static str {
        match self {
            ErrorKind::ServerError => "the server answered with an error",
            ErrorKind::UnexpectedShape => "unexpected reply shape",
            ErrorKind::MissingField => "missing field",
            ErrorKind::InvalidField => "invalid field value",
            ErrorKind::InvalidSlotRange => "invalid slot range",
            ErrorKind::ConflictingSlot => "slot assigned twice",
            ErrorKind::InvalidPort => "invalid port",
            ErrorKind::InvalidAddress => "invalid node address",
            ErrorKind::TooManyNodes => "too many nodes",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.describe(), self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .finish()
    }
}

impl std::error::Error for Error {}

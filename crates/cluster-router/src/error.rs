//! The router's one error type: opaque, with a `kind()` and predicates.

use std::fmt;

/// What went wrong with a routed command.
///
/// A server error reply that the router does not handle itself (`-ERR ...`, `-WRONGTYPE ...`,
/// `-CROSSSLOT ...`) is not an `Error`: it comes back as `Ok(Frame::SimpleError(..))`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The command's deadline passed; the command may or may not have run.
    Timeout,
    /// A connection failed and the command provably never reached the server (nothing ran),
    /// and no retry succeeded before the deadline.
    Connection,
    /// A connection failed after the command may have been written: it may have run.
    /// The router does not re-send such a command unless it is idempotent or marked `retry_safe`.
    Indeterminate,
    /// A bound was reached (in-flight or queue limit, or the blocking-connection limit); nothing was
    /// sent.
    Busy,
    /// The caller asked for something that needs one slot (a transaction) with keys in several slots.
    /// Nothing was sent.
    CrossSlot,
    /// The command was redirected more than `max_redirects` times.
    TooManyRedirects,
    /// No node serves the command's slot and none could be found before the deadline.
    NoRoute,
    /// A reply could not be understood (malformed redirect, topology or protocol error).
    Protocol,
    /// The router or the connection was closed.
    Closed,
    /// The command itself is unusable (no name, wrong shape for a split). Nothing was sent.
    InvalidInput,
    /// Connection set-up was refused (wrong password, unknown user, bad database), or no seed could be
    /// reached or none returned a usable topology.
    Setup,
    /// The server answered with an error where the call returns no reply frame to carry it (a step of a
    /// [`ClusterScan`](crate::ClusterScan)); [`Error::server_message`] is the server's text, e.g.
    /// `NOPERM ...` for a user not allowed to run `SCAN`.
    Server,
}

/// An error from the cluster router.
#[derive(Clone, Debug)]
pub struct Error {
    kind: ErrorKind,
    detail: Box<str>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, detail: impl Into<Box<str>>) -> Error {
        Error {
            kind,
            detail: detail.into(),
        }
    }

    /// Maps a multiplexer error onto the router's kinds, keeping its message.
    pub(crate) fn from_mux(err: &multiplexer::Error) -> Error {
        use multiplexer::ErrorKind as M;
        let kind = match err.kind() {
            M::Timeout => ErrorKind::Timeout,
            M::Busy => ErrorKind::Busy,
            M::ConnectionNotSent | M::Connect => ErrorKind::Connection,
            // A refused HELLO/AUTH/SELECT is a configuration problem, not a network one: keep it apart.
            M::Setup => ErrorKind::Setup,
            M::ConnectionIndeterminate => ErrorKind::Indeterminate,
            M::Protocol => ErrorKind::Protocol,
            M::Closed => ErrorKind::Closed,
            _ if !err.may_have_been_sent() => ErrorKind::Connection,
            _ => ErrorKind::Indeterminate,
        };
        Error::new(kind, format!("{err}"))
    }

    /// This failure as [`ErrorKind::Indeterminate`] (a command that may have run and is not re-sent),
    /// keeping what happened as the detail; an error of that kind already is returned as it is, so its
    /// text does not repeat.
    pub(crate) fn into_indeterminate(self) -> Error {
        if self.kind == ErrorKind::Indeterminate {
            self
        } else {
            Error::new(ErrorKind::Indeterminate, self.to_string())
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// For [`ErrorKind::Server`]: the server's error text, without the leading `-`.
    pub fn server_message(&self) -> Option<&str> {
        (self.kind == ErrorKind::Server).then_some(&*self.detail)
    }

    /// True when the deadline passed.
    pub fn is_timeout(&self) -> bool {
        self.kind == ErrorKind::Timeout
    }

    /// True when the command may have run on the server (timeout or indeterminate connection loss).
    /// False means the command certainly did not run.
    pub fn may_have_executed(&self) -> bool {
        matches!(self.kind, ErrorKind::Timeout | ErrorKind::Indeterminate)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ErrorKind::Timeout => "deadline passed",
            ErrorKind::Connection => "connection failed before the command was sent",
            ErrorKind::Indeterminate => "connection failed after the command may have been sent",
            ErrorKind::Busy => "a bound on commands or connections was reached",
            ErrorKind::CrossSlot => "keys belong to different slots",
            ErrorKind::TooManyRedirects => "too many redirects",
            ErrorKind::NoRoute => "no node serves the slot",
            ErrorKind::Protocol => "protocol error",
            ErrorKind::Closed => "closed",
            ErrorKind::InvalidInput => "invalid command",
            ErrorKind::Setup => "connection set-up failed",
            ErrorKind::Server => "server error",
        };
        if self.detail.is_empty() {
            f.write_str(what)
        } else {
            write!(f, "{what}: {}", self.detail)
        }
    }
}

impl std::error::Error for Error {}

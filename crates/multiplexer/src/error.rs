//! The crate's one error type: an opaque [`Error`] with a [`ErrorKind`] and predicates.

use std::fmt;
use std::sync::Arc;

/// What went wrong with a command or a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The command's deadline passed before its reply arrived. It may have executed.
    Timeout,
    /// Every response slot of the connection stayed in use until the deadline (the in-flight + queued
    /// bound), a batch is larger than the whole pool, every dedicated connection stayed in use until
    /// the deadline ([`Dedicated::with_limit`](crate::Dedicated::with_limit)), or the deadline passed
    /// before a later part of a long pipeline could be sent. Never sent.
    Busy,
    /// The connection was down or failed before the command reached the socket. Never sent: safe to re-send.
    ConnectionNotSent,
    /// The connection failed after the command was (or may have been) written. It may have executed.
    ConnectionIndeterminate,
    /// The server sent bytes that are not valid RESP, or a reply nobody asked for; the connection was reset.
    Protocol,
    /// Connection set-up failed (HELLO, AUTH, SELECT, READONLY); the message holds the server's text.
    Setup,
    /// The TCP connection could not be established (refused, unreachable, connect timeout).
    Connect,
    /// The multiplexer was closed.
    Closed,
}

/// The error of every multiplexer operation. Cheap to clone (kind + shared message).
#[derive(Clone)]
pub struct Error {
    kind: ErrorKind,
    message: Option<Arc<str>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Error {
        Error {
            kind,
            message: None,
        }
    }

    pub(crate) fn with_message(kind: ErrorKind, message: impl Into<Arc<str>>) -> Error {
        Error {
            kind,
            message: Some(message.into()),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The detail text (server error text for [`ErrorKind::Setup`], the IO or decode error otherwise).
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The deadline passed.
    pub fn is_timeout(&self) -> bool {
        self.kind == ErrorKind::Timeout
    }

    /// The connection failed or could not be made (either before or after sending).
    pub fn is_connection(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::ConnectionNotSent
                | ErrorKind::ConnectionIndeterminate
                | ErrorKind::Connect
                | ErrorKind::Protocol
        )
    }

    /// False only when the command provably never reached the socket, so re-sending anything
    /// (even INCR) cannot make it run twice.
    pub fn may_have_been_sent(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Timeout | ErrorKind::ConnectionIndeterminate | ErrorKind::Protocol
        )
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind);
        if let Some(message) = &self.message {
            d.field("message", message);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ErrorKind::Timeout => "command timed out",
            ErrorKind::Busy => "connection busy: every response slot in use",
            ErrorKind::ConnectionNotSent => "connection unavailable; command not sent",
            ErrorKind::ConnectionIndeterminate => "connection lost; command may have executed",
            ErrorKind::Protocol => "protocol error",
            ErrorKind::Setup => "connection set-up failed",
            ErrorKind::Connect => "could not connect",
            ErrorKind::Closed => "multiplexer closed",
        };
        match &self.message {
            Some(message) => write!(f, "{what}: {message}"),
            None => f.write_str(what),
        }
    }
}

impl std::error::Error for Error {}

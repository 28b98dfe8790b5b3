//! The facade's one error type: what went wrong, said in terms a caller can act on.

use std::fmt;
use std::sync::Arc;

/// The result type of every fallible slotmux call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of failure an [`Error`] is.
///
/// The kinds separate "the caller misused the API" ([`InvalidInput`](ErrorKind::InvalidInput),
/// [`Type`](ErrorKind::Type), [`CrossSlot`](ErrorKind::CrossSlot)) from "the server or the network failed"
/// (everything else), and, among network failures, "provably not executed" ([`Connection`](ErrorKind::Connection))
/// from "may have executed" ([`Indeterminate`](ErrorKind::Indeterminate)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The deadline passed before the reply came. The command may have executed.
    Timeout,
    /// The connection failed before the command was written: it did not execute, re-sending it is safe.
    Connection,
    /// The connection failed after the command may have been written: it may have executed.
    Indeterminate,
    /// A client-side bound stayed reached until the deadline: commands per connection (in flight plus
    /// queued), or connections for blocking commands (`max_blocking_connections`); or the deadline
    /// passed before a later part of a long pipeline could be sent. Nothing was sent.
    Busy,
    /// The server answered with an error reply; see [`Error::server_code`] and [`Error::server_message`].
    Server,
    /// The server sent bytes that are not valid RESP, or a reply that makes no sense for the command.
    Protocol,
    /// The reply could not be converted into the type the caller asked for (for example text into `i64`).
    Type,
    /// The caller passed something unusable: a bad URL, an empty command, an inconsistent configuration.
    InvalidInput,
    /// The client refused to send a multi-key command or transaction whose keys live in different cluster slots.
    CrossSlot,
    /// The connection handshake (HELLO, AUTH, SELECT, CLIENT SETNAME) was refused by the server.
    Setup,
    /// A cluster command was redirected more often than the configured limit.
    TooManyRedirects,
    /// No cluster node is known to serve the command's slot.
    NoRoute,
    /// The client has been closed.
    Closed,
}

impl ErrorKind {
    fn describe(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timed out waiting for the reply",
            ErrorKind::Connection => "connection failed before the command was sent",
            ErrorKind::Indeterminate => "connection failed after the command may have been sent",
            ErrorKind::Busy => "client is busy: a bound on commands or connections was reached",
            ErrorKind::Server => "server error",
            ErrorKind::Protocol => "protocol error",
            ErrorKind::Type => "reply has an unexpected type",
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::CrossSlot => "keys belong to different cluster slots",
            ErrorKind::Setup => "connection setup failed",
            ErrorKind::TooManyRedirects => "too many cluster redirects",
            ErrorKind::NoRoute => "no cluster node serves the slot",
            ErrorKind::Closed => "client is closed",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// A slotmux error: one opaque type with a [`kind`](Error::kind), predicates, and the server's text for
/// server errors.
///
/// It is one pointer wide, so `Result<Value>` stays small on the hot path, and cheap to clone.
#[derive(Clone)]
pub struct Error {
    inner: Box<Inner>,
}

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    /// For [`ErrorKind::Server`]: the server's error text without the leading `-` or `!`.
    /// For other kinds: an optional detail added by the facade.
    message: Option<String>,
    source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Error {
        Error {
            inner: Box::new(Inner {
                kind,
                message: None,
                source: None,
            }),
        }
    }

    pub(crate) fn with_message(kind: ErrorKind, message: impl Into<String>) -> Error {
        let mut e = Error::new(kind);
        e.inner.message = Some(message.into());
        e
    }

    pub(crate) fn with_source(
        kind: ErrorKind,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        let mut e = Error::new(kind);
        e.inner.source = Some(Arc::new(source));
        e
    }

    /// A server error reply; `text` is what followed the `-` (or the payload of a `!` bulk error).
    pub(crate) fn server(text: &[u8]) -> Error {
        // Error replies are the cold path: one allocation for the text is fine, and callers
        // get a `&str` without re-checking UTF-8 every time they look at it.
        Error::with_message(
            ErrorKind::Server,
            String::from_utf8_lossy(text).into_owned(),
        )
    }

    /// A conversion failure: the reply was `got`, the caller wanted `wanted`.
    pub(crate) fn type_mismatch(wanted: &'static str, got: &crate::Value) -> Error {
        Error::with_message(
            ErrorKind::Type,
            format!("cannot convert {} into {wanted}", got.type_name()),
        )
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// True when the deadline passed before the reply came.
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == ErrorKind::Timeout
    }

    /// True when the connection failed, whether or not the command may have executed
    /// ([`Connection`](ErrorKind::Connection) or [`Indeterminate`](ErrorKind::Indeterminate)).
    pub fn is_connection(&self) -> bool {
        matches!(
            self.inner.kind,
            ErrorKind::Connection | ErrorKind::Indeterminate
        )
    }

    /// True when the server answered with an error reply.
    pub fn is_server(&self) -> bool {
        self.inner.kind == ErrorKind::Server
    }

    /// False only when the command provably never reached the server, so re-sending it cannot run it twice.
    pub fn may_have_executed(&self) -> bool {
        match self.inner.kind {
            // A protocol error resets the connection with commands possibly executed.
            ErrorKind::Timeout | ErrorKind::Indeterminate | ErrorKind::Protocol => true,
            // A server error reply means the server looked at the command; whether it changed
            // anything depends on the command (a failed EXEC, a script error half-way).
            ErrorKind::Server => true,
            _ => false,
        }
    }

    /// For a server error, the error code: the first word of the server's text (`"ERR"`, `"WRONGTYPE"`,
    /// `"NOAUTH"`, `"MOVED"`, ...). `None` for other kinds.
    pub fn server_code(&self) -> Option<&str> {
        let text = self.server_message()?;
        // By convention the code is the first word, in upper case; a message without one
        // (rare, from modules) has its whole first word reported, which is the best guess.
        Some(text.split(' ').next().unwrap_or(text))
    }

    /// For a server error, the server's whole error text, unchanged (for example
    /// `"WRONGTYPE Operation against a key holding the wrong kind of value"`). `None` for other kinds.
    pub fn server_message(&self) -> Option<&str> {
        if self.inner.kind == ErrorKind::Server {
            self.inner.message.as_deref()
        } else {
            None
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind);
        if let Some(m) = &self.inner.message {
            d.field("message", m);
        }
        if let Some(s) = &self.inner.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.inner.kind, &self.inner.message) {
            // The server's own text is the most useful thing to show, e.g. "WRONGTYPE Operation against ...".
            (ErrorKind::Server, Some(m)) => f.write_str(m)?,
            (kind, Some(m)) => write!(f, "{kind}: {m}")?,
            (kind, None) => write!(f, "{kind}")?,
        }
        if let Some(s) = &self.inner.source {
            write!(f, ": {s}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

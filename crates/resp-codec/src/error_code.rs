//! First-byte classification of server error replies, for the router's hot path.

use std::fmt;

/// The class of a server error reply that the cluster router acts on.
///
/// Built from the error text by [`ErrorCode::of`] (or straight from wire bytes by
/// [`peek_error_code`]), which looks at the first byte before comparing any word,
/// so classifying an ordinary `-ERR` costs one comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `MOVED <slot> <host:port>`: the slot lives elsewhere for good; update the slot map.
    Moved,
    /// `ASK <slot> <host:port>`: the slot is migrating; send `ASKING` and the command to the target once.
    Ask,
    /// `TRYAGAIN`: a multi-key command hit a slot mid-migration; retry later.
    TryAgain,
    /// `CLUSTERDOWN`: the cluster cannot serve the slot right now.
    ClusterDown,
    /// `LOADING`: the node is loading its dataset.
    Loading,
    /// `MASTERDOWN`: a replica lost its link to its master.
    MasterDown,
    /// `READONLY`: a write reached a replica (usually after a failover).
    ReadOnly,
    /// `CROSSSLOT`: the keys of one command hash to different slots.
    CrossSlot,
    /// `NOSCRIPT`: `EVALSHA` named a script the node does not have.
    NoScript,
    /// Any other error (`ERR`, `WRONGTYPE`, ...).
    Other,
}

impl ErrorCode {
    /// Classifies an error message: the text after the leading `-` (or a bulk error's payload).
    ///
    /// Only the first word counts, and it must be the whole word:
    /// `MOVED 3999 10.0.0.1:6381` is [`ErrorCode::Moved`], `MOVEDX` is [`ErrorCode::Other`].
    #[inline]
    pub fn of(message: &[u8]) -> ErrorCode {
        // Switch on the first byte so the common `ERR ...` and `WRONGTYPE ...` are settled at once.
        match message.first() {
            Some(b'M') => {
                if is_word(message, b"MOVED") {
                    ErrorCode::Moved
                } else if is_word(message, b"MASTERDOWN") {
                    ErrorCode::MasterDown
                } else {
                    ErrorCode::Other
                }
            }
            Some(b'A') if is_word(message, b"ASK") => ErrorCode::Ask,
            Some(b'T') if is_word(message, b"TRYAGAIN") => ErrorCode::TryAgain,
            Some(b'C') => {
                if is_word(message, b"CLUSTERDOWN") {
                    ErrorCode::ClusterDown
                } else if is_word(message, b"CROSSSLOT") {
                    ErrorCode::CrossSlot
                } else {
                    ErrorCode::Other
                }
            }
            Some(b'L') if is_word(message, b"LOADING") => ErrorCode::Loading,
            Some(b'R') if is_word(message, b"READONLY") => ErrorCode::ReadOnly,
            Some(b'N') if is_word(message, b"NOSCRIPT") => ErrorCode::NoScript,
            _ => ErrorCode::Other,
        }
    }

    /// True for [`ErrorCode::Moved`] and [`ErrorCode::Ask`]: the reply names the node to ask instead.
    #[inline]
    pub fn is_redirect(self) -> bool {
        matches!(self, ErrorCode::Moved | ErrorCode::Ask)
    }

    /// True for errors the server raises before running the command
    /// ([`TryAgain`](ErrorCode::TryAgain), [`ClusterDown`](ErrorCode::ClusterDown),
    /// [`Loading`](ErrorCode::Loading), [`MasterDown`](ErrorCode::MasterDown),
    /// [`ReadOnly`](ErrorCode::ReadOnly)), so re-sending cannot apply it twice.
    #[inline]
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::TryAgain
                | ErrorCode::ClusterDown
                | ErrorCode::Loading
                | ErrorCode::MasterDown
                | ErrorCode::ReadOnly
        )
    }

    fn word(self) -> &'static str {
        match self {
            ErrorCode::Moved => "MOVED",
            ErrorCode::Ask => "ASK",
            ErrorCode::TryAgain => "TRYAGAIN",
            ErrorCode::ClusterDown => "CLUSTERDOWN",
            ErrorCode::Loading => "LOADING",
            ErrorCode::MasterDown => "MASTERDOWN",
            ErrorCode::ReadOnly => "READONLY",
            ErrorCode::CrossSlot => "CROSSSLOT",
            ErrorCode::NoScript => "NOSCRIPT",
            ErrorCode::Other => "other error",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// True when `message` starts with `word` followed by a space, a line end, or nothing.
#[inline]
fn is_word(message: &[u8], word: &[u8]) -> bool {
    match message.strip_prefix(word) {
        Some(rest) => matches!(rest.first(), None | Some(b' ' | b'\r' | b'\n')),
        None => false,
    }
}

/// Classifies the frame starting at `wire[0]` without decoding it.
///
/// Returns `None` unless `wire` starts with a simple error (`-`) or a bulk error (`!`).
/// For an error, returns its [`ErrorCode`], as exact as the bytes given allow:
/// a prefix too short to hold the whole code word gives [`ErrorCode::Other`].
///
/// ```
/// use resp_codec::{peek_error_code, ErrorCode};
///
/// assert_eq!(peek_error_code(b"-MOVED 3999 127.0.0.1:6381\r\n"), Some(ErrorCode::Moved));
/// assert_eq!(peek_error_code(b"!8\r\nLOADING \r\n"), Some(ErrorCode::Loading));
/// assert_eq!(peek_error_code(b"+OK\r\n"), None);
/// ```
#[inline]
pub fn peek_error_code(wire: &[u8]) -> Option<ErrorCode> {
    match wire.split_first() {
        Some((b'-', message)) => Some(ErrorCode::of(message)),
        Some((b'!', rest)) => {
            // Skip the length line; the payload follows its `\n`.
            let message = match rest.iter().position(|&b| b == b'\n') {
                Some(lf) => rest.get(lf + 1..).unwrap_or_default(),
                None => &[],
            };
            Some(ErrorCode::of(message))
        }
        _ => None,
    }
}

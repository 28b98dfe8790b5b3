//! The decoder's error type: what was wrong with the bytes, and where.

use std::fmt;

/// The bytes a server sent are not valid RESP, or break a [`DecodeLimits`](crate::DecodeLimits) bound.
///
/// A decode error means the stream can no longer be trusted to be in sync:
/// the connection that produced it must be closed.
/// [`kind`](DecodeError::kind) says what was wrong,
/// [`offset`](DecodeError::offset) where, counted from the first byte of the frame being decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    kind: DecodeErrorKind,
    offset: usize,
}

impl DecodeError {
    pub(crate) fn new(kind: DecodeErrorKind, offset: usize) -> DecodeError {
        DecodeError { kind, offset }
    }

    /// What was wrong with the input.
    pub fn kind(&self) -> DecodeErrorKind {
        self.kind
    }

    /// The offset of the offending byte (or of the element that broke a limit),
    /// counted from the start of the frame being decoded.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid RESP: {} at byte {} of the frame",
            self.kind, self.offset
        )
    }
}

impl std::error::Error for DecodeError {}

/// The kinds of [`DecodeError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The first byte of an element is not one of the RESP2 or RESP3 type bytes.
    InvalidTypeByte,
    /// A length is empty, not decimal, overflows, or is negative other than a `-1` where RESP2 allows it.
    InvalidLength,
    /// A line or a payload is not followed by `\r\n`.
    MissingCrlf,
    /// An integer (`:`) is empty, not decimal, or does not fit in an `i64`.
    InvalidInteger,
    /// A double (`,`) is not a number, `inf`, `-inf` or `nan`.
    InvalidDouble,
    /// A boolean (`#`) is neither `t` nor `f`.
    InvalidBoolean,
    /// A verbatim string (`=`) lacks its three-byte format and `:`.
    InvalidVerbatim,
    /// A big number (`(`) is not an optionally signed run of decimal digits.
    InvalidBigNumber,
    /// A bulk payload is longer than [`DecodeLimits::max_bulk_len`](crate::DecodeLimits::max_bulk_len).
    BulkTooLong,
    /// An aggregate has more elements than [`DecodeLimits::max_aggregate_len`](crate::DecodeLimits::max_aggregate_len).
    AggregateTooLong,
    /// An aggregate frame spans more bytes than [`DecodeLimits::max_aggregate_bytes`](crate::DecodeLimits::max_aggregate_bytes).
    AggregateTooBig,
    /// Aggregates are nested deeper than [`DecodeLimits::max_depth`](crate::DecodeLimits::max_depth).
    TooDeep,
    /// A simple string, error or big number line is longer than
    /// [`DecodeLimits::max_line_len`](crate::DecodeLimits::max_line_len).
    LineTooLong,
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DecodeErrorKind::InvalidTypeByte => "invalid type byte",
            DecodeErrorKind::InvalidLength => "invalid length",
            DecodeErrorKind::MissingCrlf => "missing CRLF",
            DecodeErrorKind::InvalidInteger => "invalid integer",
            DecodeErrorKind::InvalidDouble => "invalid double",
            DecodeErrorKind::InvalidBoolean => "invalid boolean",
            DecodeErrorKind::InvalidVerbatim => "invalid verbatim string",
            DecodeErrorKind::InvalidBigNumber => "invalid big number",
            DecodeErrorKind::BulkTooLong => "bulk string longer than the limit",
            DecodeErrorKind::AggregateTooLong => "aggregate longer than the limit",
            DecodeErrorKind::AggregateTooBig => "aggregate frame bigger than the limit in bytes",
            DecodeErrorKind::TooDeep => "aggregates nested deeper than the limit",
            DecodeErrorKind::LineTooLong => "line longer than the limit",
        })
    }
}

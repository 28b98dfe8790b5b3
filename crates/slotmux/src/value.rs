//! `Value`: a server reply as the caller sees it, built from a `resp_codec::Frame` without copying payloads.

use bytes::Bytes;
use resp_codec::Frame;

use crate::error::{Error, Result};

/// A reply from the server.
///
/// RESP2 and RESP3 replies map onto one type, so code that reads replies does not care which
/// protocol the connection speaks: the three RESP null encodings are all [`Value::Nil`], RESP3
/// attributes are dropped (the annotated reply is kept), and an error reply at the top level is
/// returned as an [`Error`] of kind [`Server`](crate::ErrorKind::Server), never as a `Value`.
///
/// Payloads are [`Bytes`] slices of the connection's read buffer: converting a reply moves them, it
/// never copies them. The buffer is allocated in blocks of about 64 KiB, and a slice keeps its whole block
/// alive: a value kept for long (in a cache, say) can hold 64 KiB for a few bytes. Convert what you keep
/// to `Vec<u8>` or `String` (one copy), or copy it with `Bytes::copy_from_slice`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// No value: RESP2 `$-1` and `*-1`, RESP3 `_`.
    Nil,
    /// An integer reply (`:`).
    Int(i64),
    /// A bulk string (`$`).
    Bulk(Bytes),
    /// A simple string (`+`), for example `OK` or `PONG`.
    Status(Bytes),
    /// An array (`*`).
    Array(Vec<Value>),
    /// A RESP3 map (`%`), in the order the server sent it.
    Map(Vec<(Value, Value)>),
    /// A RESP3 set (`~`).
    Set(Vec<Value>),
    /// A RESP3 double (`,`).
    Double(f64),
    /// A RESP3 boolean (`#`).
    Bool(bool),
    /// A RESP3 big number (`(`), as the server's decimal digits.
    BigNumber(Bytes),
    /// A RESP3 verbatim string (`=`), for example the reply of `INFO` or `CLIENT INFO`.
    Verbatim {
        /// The three-byte format, `txt` or `mkd`.
        format: [u8; 3],
        /// The text, without the format prefix.
        text: Bytes,
    },
    /// An error reply nested inside an aggregate, for example one failed command inside an `EXEC` reply.
    ///
    /// Holds the server's error text. Converting it with [`FromValue`](crate::FromValue) gives an
    /// [`Error`] of kind [`Server`](crate::ErrorKind::Server); a top-level error reply never becomes a `Value`.
    ServerError(Bytes),
}

impl Value {
    /// A short name of the variant, for error messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Int(_) => "integer",
            Value::Bulk(_) => "bulk string",
            Value::Status(_) => "simple string",
            Value::Array(_) => "array",
            Value::Map(_) => "map",
            Value::Set(_) => "set",
            Value::Double(_) => "double",
            Value::Bool(_) => "boolean",
            Value::BigNumber(_) => "big number",
            Value::Verbatim { .. } => "verbatim string",
            Value::ServerError(_) => "server error",
        }
    }

    /// True for [`Value::Nil`].
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// The bytes of a string-like reply (bulk, simple, verbatim), without copying.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Value::Bulk(b) | Value::Status(b) | Value::Verbatim { text: b, .. } => Some(b),
            _ => None,
        }
    }

    /// Converts a top-level reply frame: an error frame becomes `Err` of kind [`Server`](crate::ErrorKind::Server).
    pub(crate) fn from_reply(frame: Frame) -> Result<Value> {
        match frame {
            Frame::SimpleError(text) | Frame::BulkError(text) => Err(Error::server(&text)),
            Frame::Attribute { frame, .. } => Value::from_reply(*frame),
            other => Ok(Value::from_frame(other)),
        }
    }

    /// Converts a frame inside an aggregate: error frames become [`Value::ServerError`].
    fn from_frame(frame: Frame) -> Value {
        match frame {
            Frame::BulkString(b) => Value::Bulk(b),
            Frame::SimpleString(b) => Value::Status(b),
            Frame::Integer(n) => Value::Int(n),
            Frame::NullBulkString | Frame::NullArray | Frame::Null => Value::Nil,
            Frame::Array(items) => Value::Array(convert_all(items)),
            Frame::Map(pairs) => Value::Map(
                pairs
                    .into_iter()
                    .map(|(k, v)| (Value::from_frame(k), Value::from_frame(v)))
                    .collect(),
            ),
            Frame::Set(items) => Value::Set(convert_all(items)),
            Frame::Double(x) => Value::Double(x),
            Frame::Boolean(b) => Value::Bool(b),
            Frame::BigNumber(b) => Value::BigNumber(b),
            Frame::VerbatimString { format, text } => Value::Verbatim { format, text },
            Frame::SimpleError(text) | Frame::BulkError(text) => Value::ServerError(text),
            Frame::Attribute { frame, .. } => Value::from_frame(*frame),
            // A push frame is never matched to a caller by the multiplexer; if one shows up nested
            // in a reply, its elements are still data, so keep them rather than fail the command.
            Frame::Push(items) => Value::Array(convert_all(items)),
            // `Frame` is non-exhaustive: a frame type this version does not know is not something a
            // caller can use, but it is not worth failing a whole aggregate for. Keep it visible.
            _ => Value::ServerError(Bytes::from_static(
                b"ERR slotmux: reply contains an unsupported frame type",
            )),
        }
    }
}

fn convert_all(items: Vec<Frame>) -> Vec<Value> {
    items.into_iter().map(Value::from_frame).collect()
}

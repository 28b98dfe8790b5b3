//! The `Frame` type (one RESP2 or RESP3 value) and its encoding.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error_code::ErrorCode;

/// One RESP2 or RESP3 value, as a server sends it.
///
/// Byte payloads are [`Bytes`] slices of the buffer they were read into, so decoding copies nothing.
/// The flip side: a payload keeps that whole buffer allocation alive, so a value kept for long
/// should be copied out (`Bytes::copy_from_slice`) rather than held.
/// A server error reply is an ordinary frame ([`Frame::SimpleError`] or [`Frame::BulkError`]):
/// data for the caller to inspect with [`Frame::error_code`], not a Rust error.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Frame {
    /// `+OK\r\n`: a line of text (without the `+` and the CRLF).
    SimpleString(Bytes),
    /// `-ERR unknown command\r\n`: an error line (without the `-` and the CRLF).
    SimpleError(Bytes),
    /// `:42\r\n`: a signed 64-bit integer.
    Integer(i64),
    /// `$5\r\nhello\r\n`: a binary-safe string.
    BulkString(Bytes),
    /// `$-1\r\n`: RESP2's null bulk string (e.g. `GET` of a missing key).
    NullBulkString,
    /// `*2\r\n...`: an ordered list of frames.
    Array(Vec<Frame>),
    /// `*-1\r\n`: RESP2's null array (e.g. a timed-out `BLPOP`).
    NullArray,
    /// `_\r\n`: RESP3's null.
    Null,
    /// `#t\r\n` / `#f\r\n`: a RESP3 boolean.
    Boolean(bool),
    /// `,3.14\r\n`: a RESP3 double, including `inf`, `-inf` and `nan`.
    Double(f64),
    /// `(3492890328409238509324850943850943825024385\r\n`: a RESP3 big number, as its decimal text.
    BigNumber(Bytes),
    /// `!21\r\nSYNTAX invalid syntax\r\n`: a RESP3 binary-safe error.
    BulkError(Bytes),
    /// `=15\r\ntxt:Some string\r\n`: a RESP3 string with a three-byte format such as `txt` or `mkd`.
    VerbatimString {
        /// The format, e.g. `*b"txt"`.
        format: [u8; 3],
        /// The text after `format:`.
        text: Bytes,
    },
    /// `%2\r\n...`: RESP3 key-value pairs, in the order the server sent them.
    Map(Vec<(Frame, Frame)>),
    /// `~2\r\n...`: a RESP3 set, in the order the server sent it.
    Set(Vec<Frame>),
    /// `|1\r\n...`: RESP3 attributes and the reply they annotate.
    Attribute {
        /// The attribute key-value pairs.
        attributes: Vec<(Frame, Frame)>,
        /// The frame that followed the attributes on the wire.
        frame: Box<Frame>,
    },
    /// `>3\r\n...`: a RESP3 out-of-band push (pub/sub message, invalidation, ...), never a reply to a command.
    Push(Vec<Frame>),
}

impl Frame {
    /// Appends this frame's wire form to `dst`.
    ///
    /// The output decodes back to an equal frame, with one exception the caller must avoid:
    /// [`SimpleString`](Frame::SimpleString), [`SimpleError`](Frame::SimpleError) and
    /// [`BigNumber`](Frame::BigNumber) are written as given, so they must not contain `\r` or `\n`.
    /// Encoding recurses once per level of nesting; decoded frames are at most
    /// [`DecodeLimits::max_depth`](crate::DecodeLimits::max_depth) deep.
    pub fn encode(&self, dst: &mut BytesMut) {
        match self {
            Frame::SimpleString(s) => line(dst, b'+', s),
            Frame::SimpleError(s) => line(dst, b'-', s),
            Frame::Integer(n) => {
                let mut buf = itoa::Buffer::new();
                line(dst, b':', buf.format(*n).as_bytes());
            }
            Frame::BulkString(s) => blob(dst, b'$', &[], s),
            Frame::NullBulkString => dst.put_slice(b"$-1\r\n"),
            Frame::Array(items) => sequence(dst, b'*', items),
            Frame::NullArray => dst.put_slice(b"*-1\r\n"),
            Frame::Null => dst.put_slice(b"_\r\n"),
            Frame::Boolean(true) => dst.put_slice(b"#t\r\n"),
            Frame::Boolean(false) => dst.put_slice(b"#f\r\n"),
            Frame::Double(x) => line(dst, b',', F64Text::new(*x).as_bytes()),
            Frame::BigNumber(s) => line(dst, b'(', s),
            Frame::BulkError(s) => blob(dst, b'!', &[], s),
            Frame::VerbatimString { format, text } => {
                let [a, b, c] = *format;
                blob(dst, b'=', &[a, b, c, b':'], text);
            }
            Frame::Map(pairs) => pair_sequence(dst, b'%', pairs),
            Frame::Set(items) => sequence(dst, b'~', items),
            Frame::Attribute { attributes, frame } => {
                pair_sequence(dst, b'|', attributes);
                frame.encode(dst);
            }
            Frame::Push(items) => sequence(dst, b'>', items),
        }
    }

    /// True for a server error reply ([`SimpleError`](Frame::SimpleError) or [`BulkError`](Frame::BulkError)),
    /// looking through any [`Attribute`](Frame::Attribute) in front of it.
    pub fn is_error(&self) -> bool {
        matches!(
            self.unwrap_attributes(),
            Frame::SimpleError(_) | Frame::BulkError(_)
        )
    }

    /// The class of a server error reply, `None` for any other frame.
    ///
    /// Looks through any [`Attribute`](Frame::Attribute) in front of the error.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self.unwrap_attributes() {
            Frame::SimpleError(message) | Frame::BulkError(message) => Some(ErrorCode::of(message)),
            _ => None,
        }
    }

    /// True for a RESP3 [`Push`](Frame::Push) frame (even behind attributes): out-of-band data, not a reply.
    pub fn is_push(&self) -> bool {
        matches!(self.unwrap_attributes(), Frame::Push(_))
    }

    /// The frame an attribute chain annotates (`self` when there is none).
    fn unwrap_attributes(&self) -> &Frame {
        let mut frame = self;
        // A loop rather than recursion: attributes may be chained.
        while let Frame::Attribute { frame: inner, .. } = frame {
            frame = inner;
        }
        frame
    }
}

/// Writes `<ty><text>\r\n`.
fn line(dst: &mut BytesMut, ty: u8, text: &[u8]) {
    dst.reserve(text.len() + 3);
    dst.put_u8(ty);
    dst.put_slice(text);
    dst.put_slice(b"\r\n");
}

/// Writes `<ty><n>\r\n`.
pub(crate) fn header(dst: &mut BytesMut, ty: u8, n: usize) {
    let mut buf = itoa::Buffer::new();
    line(dst, ty, buf.format(n).as_bytes());
}

/// Writes `<ty><len>\r\n<prefix><payload>\r\n`, the form of every length-prefixed string type.
fn blob(dst: &mut BytesMut, ty: u8, prefix: &[u8], payload: &[u8]) {
    let len = prefix.len() + payload.len();
    // 1 type byte + at most 20 digits + 2 CRLFs.
    dst.reserve(len + 25);
    header(dst, ty, len);
    dst.put_slice(prefix);
    dst.put_slice(payload);
    dst.put_slice(b"\r\n");
}

fn sequence(dst: &mut BytesMut, ty: u8, items: &[Frame]) {
    header(dst, ty, items.len());
    for item in items {
        item.encode(dst);
    }
}

fn pair_sequence(dst: &mut BytesMut, ty: u8, pairs: &[(Frame, Frame)]) {
    header(dst, ty, pairs.len());
    for (key, value) in pairs {
        key.encode(dst);
        value.encode(dst);
    }
}

/// A double's text the way Redis reads one: `inf`, `-inf`, `nan`, or the shortest decimal
/// that parses back to the same value (exponent form for very large or small magnitudes,
/// so `1e300` does not become 301 digits). Formatted on the stack: no allocation.
pub(crate) struct F64Text {
    /// The longest text is about 24 bytes (`-2.2250738585072014e-308`); 64 leaves ample room.
    buf: [u8; 64],
    len: usize,
}

impl F64Text {
    pub(crate) fn new(x: f64) -> F64Text {
        use std::fmt::Write;

        let mut text = F64Text {
            buf: [0; 64],
            len: 0,
        };
        let magnitude = x.abs();
        // Cannot fail: every f64 fits in the buffer.
        let _ = if x.is_nan() {
            text.write_str("nan")
        } else if x.is_infinite() {
            text.write_str(if x > 0.0 { "inf" } else { "-inf" })
        } else if magnitude == 0.0 || (1e-5..1e16).contains(&magnitude) {
            write!(text, "{x}")
        } else {
            write!(text, "{x:e}")
        };
        text
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

impl std::fmt::Write for F64Text {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let room = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        room.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

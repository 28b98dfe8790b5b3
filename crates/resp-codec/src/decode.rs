//! The streaming decoder: turns bytes in a `BytesMut` into [`Frame`]s.
//!
//! Decoding is two steps.
//! The *scan* walks the elements of one frame, validating every byte and recording each element
//! as a small [`Token`] on a tape (offsets, not copies).
//! When the frame is incomplete, the scan stops and keeps its place (offset, open aggregates, tape),
//! so the next call continues where it stopped instead of starting over.
//! Once the frame is complete, its bytes are split off the caller's buffer and frozen,
//! and the *build* turns the tape into a [`Frame`] whose payloads are slices of those bytes.
//! A scalar frame at the top level (the usual reply) skips the tape entirely.
//!
//! Neither step recurses, and the only allocations are the tape (reused from frame to frame)
//! and one `Vec` per aggregate, sized by the elements actually present.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::{DecodeError, DecodeErrorKind};
use crate::frame::Frame;

/// The server's own default for `proto-max-bulk-len`: no real server sends a longer string.
const DEFAULT_MAX_BULK_LEN: usize = 512 * 1024 * 1024;

/// The server's own limit on a multibulk request's length (`INT_MAX`).
/// A claimed length allocates nothing until the elements arrive, so a generous bound is safe;
/// it only rejects counts no server can produce.
const DEFAULT_MAX_AGGREGATE_LEN: usize = i32::MAX as usize;

/// Deep enough for any reply a server builds (Lua and module replies nest a handful of levels),
/// shallow enough that the recursive `Drop`, `Clone` and `PartialEq` of `Frame` cannot overflow a stack.
const DEFAULT_MAX_DEPTH: usize = 128;

/// The highest depth [`DecodeLimits::max_depth`] accepts: `Frame`'s derived `Drop`, `Clone`,
/// `PartialEq` and `encode` recurse per level, and 1024 levels stay far inside a 2 MiB thread stack.
const MAX_DEPTH_CEILING: usize = 1024;

/// Twice the longest value the server stores by default (`proto-max-bulk-len`, 512 MiB): room for any
/// real reply (`KEYS` over ten million keys is about 300 MiB), while a server that streams an endless
/// aggregate fails the frame before it takes the client's memory. The scan's tape costs 24 bytes per
/// element on top of the bytes, so the worst case is a few GiB; a client that knows its replies are
/// small sets a lower bound.
const DEFAULT_MAX_AGGREGATE_BYTES: usize = 1024 * 1024 * 1024;

/// Status lines, error messages and big numbers are at most a few KiB in practice;
/// 1 MiB leaves room for long script errors while stopping a server that never sends a CRLF.
const DEFAULT_MAX_LINE_LEN: usize = 1024 * 1024;

/// The longest length or integer line we read: 20 digits and a sign fit any `i64`/`u64`;
/// the slack admits leading zeros.
const MAX_NUMBER_LEN: usize = 32;

/// A double line as Redis writes it (`%.17g`) is at most 24 bytes; this admits any sane spelling.
const MAX_DOUBLE_LEN: usize = 64;

/// A tape this many tokens long or longer is released after its frame, so one huge reply
/// does not pin its memory for the connection's lifetime. 4096 tokens are 96 KiB.
const TAPE_KEEP: usize = 4096;

/// Bounds the decoder enforces, so a broken or hostile server cannot make the client allocate
/// without limit, recurse without limit, or wait forever for an impossible frame.
///
/// Exceeding a bound is a [`DecodeError`]; nothing is allocated for a length before its bytes arrive.
///
/// ```
/// use resp_codec::{DecodeLimits, Decoder};
///
/// let decoder = Decoder::with_limits(DecodeLimits::default().max_bulk_len(64 * 1024 * 1024).max_depth(16));
/// # let _ = decoder;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    max_bulk_len: usize,
    max_aggregate_len: usize,
    max_depth: usize,
    max_line_len: usize,
    max_aggregate_bytes: usize,
}

impl Default for DecodeLimits {
    /// Bulk strings up to 512 MiB (the server's default), aggregates up to 2^31 - 1 elements and
    /// 1 GiB in all, nesting up to 128 levels, lines up to 1 MiB.
    fn default() -> DecodeLimits {
        DecodeLimits {
            max_bulk_len: DEFAULT_MAX_BULK_LEN,
            max_aggregate_len: DEFAULT_MAX_AGGREGATE_LEN,
            max_depth: DEFAULT_MAX_DEPTH,
            max_line_len: DEFAULT_MAX_LINE_LEN,
            max_aggregate_bytes: DEFAULT_MAX_AGGREGATE_BYTES,
        }
    }
}

impl DecodeLimits {
    /// The longest bulk string, bulk error or verbatim string accepted, in bytes.
    pub fn max_bulk_len(mut self, n: usize) -> Self {
        self.max_bulk_len = n;
        self
    }

    /// The most elements one aggregate may declare (pairs, for maps and attributes).
    pub fn max_aggregate_len(mut self, n: usize) -> Self {
        self.max_aggregate_len = n;
        self
    }

    /// How deep aggregates may nest; a top-level array is depth 1. Capped at 1024.
    pub fn max_depth(mut self, n: usize) -> Self {
        self.max_depth = n.min(MAX_DEPTH_CEILING);
        self
    }

    /// The longest simple string, simple error or big number line accepted, in bytes.
    pub fn max_line_len(mut self, n: usize) -> Self {
        self.max_line_len = n;
        self
    }

    /// The most bytes one top-level aggregate frame (array, map, set, push) may span, its elements
    /// and attributes included. Without it, a broken server could send an aggregate that never ends
    /// (a huge declared length, then elements forever) and the read buffer would grow without limit.
    /// A top-level scalar is bounded by its own limits alone.
    pub fn max_aggregate_bytes(mut self, n: usize) -> Self {
        self.max_aggregate_bytes = n;
        self
    }

    /// The current bound on one aggregate frame's bytes.
    pub fn get_max_aggregate_bytes(&self) -> usize {
        self.max_aggregate_bytes
    }

    /// The current bulk length bound.
    pub fn get_max_bulk_len(&self) -> usize {
        self.max_bulk_len
    }

    /// The current aggregate length bound.
    pub fn get_max_aggregate_len(&self) -> usize {
        self.max_aggregate_len
    }

    /// The current depth bound.
    pub fn get_max_depth(&self) -> usize {
        self.max_depth
    }

    /// The current line length bound.
    pub fn get_max_line_len(&self) -> usize {
        self.max_line_len
    }
}

/// A resumable RESP2/RESP3 decoder.
///
/// Feed it the connection's read buffer after every read.
/// It returns each complete frame, removing its bytes from the buffer,
/// or `Ok(None)` when the buffer holds only part of a frame.
/// In that case it consumes nothing but remembers how far it has validated,
/// so a large reply arriving over many reads is scanned once overall.
///
/// Between an `Ok(None)` and the next call the caller may only append to the buffer.
/// After an `Err` the stream is out of sync: close the connection
/// (the decoder itself is reset and may be reused on a fresh stream).
///
/// ```
/// use bytes::BytesMut;
/// use resp_codec::{Decoder, Frame};
///
/// let mut decoder = Decoder::new();
/// let mut buf = BytesMut::from(&b"*2\r\n$3\r\nfoo\r\n:4"[..]);
/// assert_eq!(decoder.decode(&mut buf), Ok(None));
/// buf.extend_from_slice(b"2\r\n+OK\r\n");
/// assert_eq!(
///     decoder.decode(&mut buf),
///     Ok(Some(Frame::Array(vec![Frame::BulkString("foo".into()), Frame::Integer(42)])))
/// );
/// assert_eq!(decoder.decode(&mut buf), Ok(Some(Frame::SimpleString("OK".into()))));
/// assert!(buf.is_empty());
/// ```
#[derive(Debug, Default)]
pub struct Decoder {
    limits: DecodeLimits,
    /// How many bytes at the front of the buffer have been scanned into `tape`.
    /// Zero when no frame is in progress.
    scanned: usize,
    /// For each aggregate open at `scanned`, outermost first: how many elements it still expects.
    open: Vec<usize>,
    /// The elements of the frame in progress, in wire order.
    tape: Vec<Token>,
    /// Where the search for the `\r` of an unfinished line element at `scanned` resumes.
    /// Zero when no line is in progress: every path that completes a frame clears it.
    line_resume: usize,
    /// The build step's stack of aggregates under construction, kept to reuse its allocation.
    building: Vec<Partial>,
}

impl Decoder {
    /// A decoder with [`DecodeLimits::default`].
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// A decoder with the given limits.
    pub fn with_limits(limits: DecodeLimits) -> Decoder {
        Decoder {
            limits,
            ..Decoder::default()
        }
    }

    /// The limits this decoder enforces.
    pub fn limits(&self) -> &DecodeLimits {
        &self.limits
    }

    /// Forgets any partly scanned frame, for reuse on a new stream.
    pub fn reset(&mut self) {
        self.scanned = 0;
        self.line_resume = 0;
        self.open.clear();
        self.tape.clear();
        self.building.clear();
        if self.tape.capacity() >= TAPE_KEEP {
            self.tape = Vec::new();
        }
    }

    /// Decodes the next frame at the front of `buf`.
    ///
    /// `Ok(Some(frame))`: the frame's bytes have been removed from `buf`.
    /// `Ok(None)`: `buf` holds only part of a frame; nothing was removed; call again after the next read.
    /// `Err(_)`: the bytes are not valid RESP or break a limit; the stream cannot be trusted any more.
    #[inline]
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        if self.scanned == 0 {
            if let Some(frame) = fast_scalar(buf, &self.limits) {
                // This frame may be a line that an earlier call began on the general path.
                // Its search offset must not outlive it: the next line's search would start there
                // and step over that line's own `\r`.
                self.line_resume = 0;
                return Ok(Some(frame));
            }
        }
        let result = self.decode_inner(buf);
        if result.is_err() {
            self.reset();
        }
        result
    }

    fn decode_inner(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        if self.scanned > buf.len() || self.line_resume > buf.len() {
            // The caller broke the append-only rule; rescanning from the start is the only safe choice.
            self.reset();
        }
        if self.scanned == 0 {
            // Fast path: a scalar at the top level needs no tape and no second pass.
            let Some((token, end)) = element(buf, 0, &self.limits, &mut self.line_resume)? else {
                return Ok(None);
            };
            if !matches!(token, Token::Aggregate(..)) {
                self.line_resume = 0;
                return Ok(Some(take_scalar(buf, token, end)));
            }
            if self.push(token, end)? {
                return Ok(Some(self.finish(buf)));
            }
        }
        loop {
            // Fast lane for the usual elements of a large reply: complete bulk strings,
            // integers and array headers.
            if let Some((token, end)) = lane(buf, self.scanned, &self.limits) {
                let complete = if let Token::Aggregate(..) = token {
                    self.push(token, end)?
                } else {
                    // A lane never matches an unfinished line, so `line_resume` is already 0.
                    self.check_size(self.scanned, end)?;
                    self.tape.push(token);
                    self.scanned = end;
                    self.complete_one()
                };
                if complete {
                    return Ok(Some(self.finish(buf)));
                }
                continue;
            }
            let Some((token, end)) =
                element(buf, self.scanned, &self.limits, &mut self.line_resume)?
            else {
                return Ok(None);
            };
            if self.push(token, end)? {
                return Ok(Some(self.finish(buf)));
            }
        }
    }

    /// Records one scanned element; returns true when it completes the top-level frame.
    #[inline]
    fn push(&mut self, token: Token, end: usize) -> Result<bool, DecodeError> {
        let start = self.scanned;
        self.check_size(start, end)?;
        self.scanned = end;
        self.line_resume = 0;
        if let Token::Aggregate(kind, count) = token {
            if self.open.len() >= self.limits.max_depth {
                return Err(DecodeError::new(DecodeErrorKind::TooDeep, start));
            }
            self.tape.push(token);
            let elements = kind.elements(count);
            if elements > 0 {
                self.open.push(elements);
                return Ok(false);
            }
        } else {
            self.tape.push(token);
        }
        Ok(self.complete_one())
    }

    /// Fails an aggregate frame whose element at `start..end` takes it past `max_aggregate_bytes`.
    /// Checked per element as it is scanned, so the read buffer of an endless aggregate stops growing
    /// at the bound plus one element.
    #[inline]
    fn check_size(&self, start: usize, end: usize) -> Result<(), DecodeError> {
        if end > self.limits.max_aggregate_bytes {
            return Err(DecodeError::new(DecodeErrorKind::AggregateTooBig, start));
        }
        Ok(())
    }

    /// Counts one complete element against the aggregates it completes;
    /// returns true when that completes the top-level frame.
    #[inline]
    fn complete_one(&mut self) -> bool {
        while let Some(left) = self.open.last_mut() {
            *left -= 1;
            if *left > 0 {
                return false;
            }
            self.open.pop();
        }
        true
    }

    /// Splits the scanned frame off `buf` and builds it from the tape.
    fn finish(&mut self, buf: &mut BytesMut) -> Frame {
        let end = self.scanned.min(buf.len());
        let bytes = buf.split_to(end).freeze();
        let frame = build(&self.tape, &bytes, &mut self.building);
        self.reset();
        frame
    }
}

/// One scanned element: a scalar with its payload's offsets, or an aggregate header.
#[derive(Clone, Copy, Debug)]
enum Token {
    /// A payload at `start..end` of the frame's bytes.
    Text(TextKind, usize, usize),
    Verbatim([u8; 3], usize, usize),
    Integer(i64),
    Double(f64),
    Boolean(bool),
    Null,
    NullBulk,
    NullArray,
    /// An aggregate header with its declared length (pairs for maps and attributes).
    Aggregate(AggKind, usize),
}

#[derive(Clone, Copy, Debug)]
enum TextKind {
    Simple,
    SimpleError,
    BigNumber,
    Bulk,
    BulkError,
}

#[derive(Clone, Copy, Debug)]
enum AggKind {
    Array,
    Set,
    Push,
    Map,
    Attribute,
}

impl AggKind {
    /// How many frames follow a header declaring `count`.
    /// Cannot overflow: `count` was checked against `max_aggregate_len`, and
    /// `element` rejects a count whose frames could not be counted in a `usize`.
    fn elements(self, count: usize) -> usize {
        match self {
            AggKind::Array | AggKind::Set | AggKind::Push => count,
            AggKind::Map => count.saturating_mul(2),
            // The pairs, then the frame they annotate.
            AggKind::Attribute => count.saturating_mul(2).saturating_add(1),
        }
    }
}

fn error(kind: DecodeErrorKind, offset: usize) -> DecodeError {
    DecodeError::new(kind, offset)
}

/// Scans the element starting at `buf[pos]`.
///
/// Returns `Ok(None)` when `buf` ends inside it, or the element's token and the offset just past it.
/// A scalar's payload is scanned too; an aggregate's elements are not.
#[inline]
fn element(
    buf: &[u8],
    pos: usize,
    limits: &DecodeLimits,
    line_resume: &mut usize,
) -> Result<Option<(Token, usize)>, DecodeError> {
    let Some(&ty) = buf.get(pos) else {
        return Ok(None);
    };
    let body = pos + 1;
    let token = match ty {
        b'$' => return blob(buf, pos, TextKind::Bulk, true, limits),
        b'*' => return aggregate(buf, pos, AggKind::Array, true, limits),
        b':' => {
            let Some((n, end)) = integer(buf, body)? else {
                return Ok(None);
            };
            return Ok(Some((Token::Integer(n), end)));
        }
        b'+' => TextKind::Simple,
        b'-' => TextKind::SimpleError,
        b'(' => TextKind::BigNumber,
        b'%' => return aggregate(buf, pos, AggKind::Map, false, limits),
        b'~' => return aggregate(buf, pos, AggKind::Set, false, limits),
        b'>' => return aggregate(buf, pos, AggKind::Push, false, limits),
        b'|' => return aggregate(buf, pos, AggKind::Attribute, false, limits),
        b'!' => return blob(buf, pos, TextKind::BulkError, false, limits),
        b'=' => return verbatim(buf, pos, limits),
        b'_' => {
            return match crlf(buf, body)? {
                Some(end) => Ok(Some((Token::Null, end))),
                None => Ok(None),
            };
        }
        b'#' => {
            let value = match buf.get(body) {
                None => return Ok(None),
                Some(b't') => true,
                Some(b'f') => false,
                Some(_) => return Err(error(DecodeErrorKind::InvalidBoolean, body)),
            };
            return match crlf(buf, body + 1)? {
                Some(end) => Ok(Some((Token::Boolean(value), end))),
                None => Ok(None),
            };
        }
        b',' => return double(buf, body),
        _ => return Err(error(DecodeErrorKind::InvalidTypeByte, pos)),
    };
    // A line of text: `+`, `-` or `(`.
    let Some(cr) = find_cr(buf, body, line_resume, limits.max_line_len)? else {
        return Ok(None);
    };
    let Some(end) = crlf(buf, cr)? else {
        return Ok(None);
    };
    if let TextKind::BigNumber = token {
        big_number(buf, body, cr)?;
    }
    Ok(Some((Token::Text(token, body, cr), end)))
}

/// Checks for `\r\n` at `buf[at]`: `Ok(Some(at + 2))`, `Ok(None)` if `buf` ends first, or `MissingCrlf`.
#[inline]
fn crlf(buf: &[u8], at: usize) -> Result<Option<usize>, DecodeError> {
    match buf.get(at..at + 2) {
        Some(b"\r\n") => Ok(Some(at + 2)),
        Some(_) => Err(error(DecodeErrorKind::MissingCrlf, at)),
        None => match buf.get(at) {
            None | Some(b'\r') => Ok(None),
            Some(_) => Err(error(DecodeErrorKind::MissingCrlf, at)),
        },
    }
}

/// Finds the `\r` ending the line that starts at `start`, resuming after `*resume` when a previous
/// call already searched part of it, so a long line arriving in pieces is searched once.
#[inline]
fn find_cr(
    buf: &[u8],
    start: usize,
    resume: &mut usize,
    max: usize,
) -> Result<Option<usize>, DecodeError> {
    let from = start.max(*resume);
    let rest = buf.get(from..).unwrap_or_default();
    match rest.iter().position(|&b| b == b'\r') {
        Some(i) => {
            let cr = from + i;
            if cr - start > max {
                return Err(error(DecodeErrorKind::LineTooLong, start));
            }
            // Keep the `\r` itself unsearched-past: if its `\n` is missing we come back to it.
            *resume = cr;
            Ok(Some(cr))
        }
        None => {
            if buf.len() - start > max {
                return Err(error(DecodeErrorKind::LineTooLong, start));
            }
            *resume = buf.len();
            Ok(None)
        }
    }
}

/// A run of decimal digits read by [`digits`].
struct Digits {
    /// The number they spell, meaningful only when `overflow` is false.
    value: u64,
    /// How many digits there are (at most `MAX_NUMBER_LEN + 1`).
    count: usize,
    /// The number does not fit in a `u64`.
    overflow: bool,
}

/// Reads the decimal digits at `buf[at..]`, looking at no more than `MAX_NUMBER_LEN + 1` bytes:
/// a longer run is invalid anyway, and the cap keeps a flood of digits from being rescanned on every call.
#[inline(always)]
fn digits(buf: &[u8], at: usize) -> Digits {
    let window = buf.get(at..).unwrap_or_default();
    let window = window.get(..=MAX_NUMBER_LEN).unwrap_or(window);
    let mut value: u64 = 0;
    let mut count = 0;
    for &b in window {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        // Nineteen digits never overflow a u64, so the common case needs no checked arithmetic.
        value = value.wrapping_mul(10).wrapping_add(u64::from(digit));
        count += 1;
    }
    let mut overflow = false;
    if count > 19 {
        // Twenty digits or more (leading zeros, or a hostile length): redo it with checks.
        let checked = window
            .get(..count)
            .unwrap_or_default()
            .iter()
            .try_fold(0u64, |n, b| {
                n.checked_mul(10)?
                    .checked_add(u64::from(b.wrapping_sub(b'0')))
            });
        overflow = checked.is_none();
        value = checked.unwrap_or_default();
    }
    Digits {
        value,
        count,
        overflow,
    }
}

/// Reads the unsigned digits of a number line at `buf[digits_at..]` up to its `\r`:
/// `Ok(None)` while the line may still be incomplete, else the value and the offset of the `\r`.
/// Errors (of `kind`) point at `at`, the start of the number, or at the first byte that is not a digit.
#[inline]
fn digit_line(
    buf: &[u8],
    at: usize,
    digits_at: usize,
    kind: DecodeErrorKind,
) -> Result<Option<(u64, usize)>, DecodeError> {
    let digits = digits(buf, digits_at);
    let i = digits_at + digits.count;
    match buf.get(i) {
        Some(b'\r') => {}
        // Too many digits is wrong whatever follows them, and is reported at the number's start
        // whether or not the byte after them has arrived, so the error does not depend on the reads.
        _ if digits.count > MAX_NUMBER_LEN => return Err(error(kind, at)),
        None => return Ok(None),
        Some(_) => return Err(error(kind, i)),
    }
    if digits.count == 0 || digits.count > MAX_NUMBER_LEN || digits.overflow {
        return Err(error(kind, at));
    }
    Ok(Some((digits.value, i)))
}

/// Reads a length header's digits at `buf[at..]`.
/// Returns `Ok(Some((None, end)))` for `-1` when `allow_null`, `Ok(Some((Some(n), end)))` otherwise.
#[inline]
fn length(
    buf: &[u8],
    at: usize,
    allow_null: bool,
) -> Result<Option<(Option<usize>, usize)>, DecodeError> {
    let invalid = |offset| error(DecodeErrorKind::InvalidLength, offset);
    if let Some(b'-') = buf.get(at) {
        // Only `-1` is a valid negative length, and only for `$` and `*`.
        return match buf.get(at + 1) {
            None => Ok(None),
            Some(b'1') if allow_null => Ok(crlf_or_invalid(buf, at + 2)?.map(|end| (None, end))),
            Some(_) => Err(invalid(at)),
        };
    }
    let Some((value, i)) = digit_line(buf, at, at, DecodeErrorKind::InvalidLength)? else {
        return Ok(None);
    };
    let n = usize::try_from(value).map_err(|_| invalid(at))?;
    Ok(crlf(buf, i)?.map(|end| (Some(n), end)))
}

/// Like [`crlf`], but anything other than `\r` where the line should end is a bad length (`-12`).
fn crlf_or_invalid(buf: &[u8], at: usize) -> Result<Option<usize>, DecodeError> {
    match buf.get(at) {
        None => Ok(None),
        Some(b'\r') => crlf(buf, at),
        Some(_) => Err(error(DecodeErrorKind::InvalidLength, at)),
    }
}

/// Reads an integer line (`[+-]digits`) at `buf[at..]`, rejecting overflow.
#[inline]
fn integer(buf: &[u8], at: usize) -> Result<Option<(i64, usize)>, DecodeError> {
    let invalid = |offset| error(DecodeErrorKind::InvalidInteger, offset);
    let (negative, digits_at) = match buf.get(at) {
        None => return Ok(None),
        Some(b'-') => (true, at + 1),
        Some(b'+') => (false, at + 1),
        Some(_) => (false, at),
    };
    let Some((value, i)) = digit_line(buf, at, digits_at, DecodeErrorKind::InvalidInteger)? else {
        return Ok(None);
    };
    // The magnitude of i64::MIN is one more than i64::MAX, so the bound depends on the sign.
    let n = if negative {
        if value > i64::MIN.unsigned_abs() {
            return Err(invalid(at));
        }
        0i64.wrapping_sub_unsigned(value)
    } else {
        i64::try_from(value).map_err(|_| invalid(at))?
    };
    Ok(crlf(buf, i)?.map(|end| (n, end)))
}

fn double(buf: &[u8], at: usize) -> Result<Option<(Token, usize)>, DecodeError> {
    let invalid = || error(DecodeErrorKind::InvalidDouble, at);
    let rest = buf.get(at..).unwrap_or_default();
    let Some(len) = rest
        .iter()
        .take(MAX_DOUBLE_LEN + 1)
        .position(|&b| b == b'\r')
    else {
        if rest.len() > MAX_DOUBLE_LEN {
            return Err(invalid());
        }
        return Ok(None);
    };
    let Some(end) = crlf(buf, at + len)? else {
        return Ok(None);
    };
    let text = rest.get(..len).unwrap_or_default();
    let value = match text {
        b"inf" | b"+inf" => f64::INFINITY,
        b"-inf" => f64::NEG_INFINITY,
        b"nan" => f64::NAN,
        _ => {
            // Rust's float syntax is a superset of RESP3's, except for spellings like "infinity",
            // which the allowed-bytes check keeps out.
            let numeric = text
                .iter()
                .all(|b| matches!(b, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'));
            if !numeric {
                return Err(invalid());
            }
            std::str::from_utf8(text)
                .ok()
                .and_then(|s| s.parse::<f64>().ok())
                .ok_or_else(invalid)?
        }
    };
    Ok(Some((Token::Double(value), end)))
}

/// Checks a big number's text: an optional sign, then at least one digit.
fn big_number(buf: &[u8], start: usize, cr: usize) -> Result<(), DecodeError> {
    let text = buf.get(start..cr).unwrap_or_default();
    let digits = match text.split_first() {
        Some((b'-' | b'+', digits)) => digits,
        _ => text,
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(error(DecodeErrorKind::InvalidBigNumber, start));
    }
    Ok(())
}

/// Scans a length-prefixed string (`$` or `!`) whose type byte is at `buf[pos]`.
#[inline]
fn blob(
    buf: &[u8],
    pos: usize,
    kind: TextKind,
    allow_null: bool,
    limits: &DecodeLimits,
) -> Result<Option<(Token, usize)>, DecodeError> {
    let Some((len, start)) = length(buf, pos + 1, allow_null)? else {
        return Ok(None);
    };
    let Some(len) = len else {
        return Ok(Some((Token::NullBulk, start)));
    };
    let Some(stop) = payload_end(buf, pos, start, len, limits)? else {
        return Ok(None);
    };
    Ok(crlf(buf, stop)?.map(|end| (Token::Text(kind, start, stop), end)))
}

/// Checks a payload length against the limit; returns where the payload ends once it is all in `buf`.
#[inline]
fn payload_end(
    buf: &[u8],
    pos: usize,
    start: usize,
    len: usize,
    limits: &DecodeLimits,
) -> Result<Option<usize>, DecodeError> {
    if len > limits.max_bulk_len {
        return Err(error(DecodeErrorKind::BulkTooLong, pos));
    }
    let stop = start
        .checked_add(len)
        .ok_or_else(|| error(DecodeErrorKind::BulkTooLong, pos))?;
    // Wait for the payload and its CRLF without looking at the payload.
    if buf.len() < stop {
        return Ok(None);
    }
    Ok(Some(stop))
}

fn verbatim(
    buf: &[u8],
    pos: usize,
    limits: &DecodeLimits,
) -> Result<Option<(Token, usize)>, DecodeError> {
    let Some((len, start)) = length(buf, pos + 1, false)? else {
        return Ok(None);
    };
    let len = len.unwrap_or_default();
    let Some(stop) = payload_end(buf, pos, start, len, limits)? else {
        return Ok(None);
    };
    let Some(end) = crlf(buf, stop)? else {
        return Ok(None);
    };
    match buf.get(start..stop) {
        Some([a, b, c, b':', ..]) => {
            Ok(Some((Token::Verbatim([*a, *b, *c], start + 4, stop), end)))
        }
        _ => Err(error(DecodeErrorKind::InvalidVerbatim, start)),
    }
}

fn aggregate(
    buf: &[u8],
    pos: usize,
    kind: AggKind,
    allow_null: bool,
    limits: &DecodeLimits,
) -> Result<Option<(Token, usize)>, DecodeError> {
    let Some((count, end)) = length(buf, pos + 1, allow_null)? else {
        return Ok(None);
    };
    let Some(count) = count else {
        return Ok(Some((Token::NullArray, end)));
    };
    // The second test keeps `AggKind::elements` exact even when the limit is set to usize::MAX.
    if count > limits.max_aggregate_len || count > usize::MAX / 2 - 1 {
        return Err(error(DecodeErrorKind::AggregateTooLong, pos));
    }
    Ok(Some((Token::Aggregate(kind, count), end)))
}

/// Scans a complete, well-formed bulk string, integer or array header at `buf[pos]`
/// with as little work as possible.
/// Returns `None` for anything else, which [`element`] then scans (and reports, if invalid).
#[inline(always)]
fn lane(buf: &[u8], pos: usize, limits: &DecodeLimits) -> Option<(Token, usize)> {
    let rest = buf.get(pos..)?;
    match rest.split_first()? {
        (b'$', rest) => {
            let (len, header) = short_length(rest)?;
            let len = usize::try_from(len)
                .ok()
                .filter(|&len| len <= limits.max_bulk_len)?;
            let start = pos + 1 + header;
            let stop = start.checked_add(len)?;
            if buf.get(stop..stop.checked_add(2)?)? != b"\r\n" {
                return None;
            }
            Some((Token::Text(TextKind::Bulk, start, stop), stop + 2))
        }
        (b':', _) => {
            let (n, end) = integer(buf, pos + 1).ok()??;
            Some((Token::Integer(n), end))
        }
        (b'*', rest) => {
            let (count, header) = short_length(rest)?;
            // 18 digits stay far below usize::MAX / 2, the bound `aggregate` also enforces.
            let count = usize::try_from(count)
                .ok()
                .filter(|&count| count <= limits.max_aggregate_len)?;
            Some((Token::Aggregate(AggKind::Array, count), pos + 1 + header))
        }
        _ => None,
    }
}

/// Reads a length of at most 18 digits and its CRLF; returns it and how many bytes that took.
/// `None` for anything else (`-1`, longer numbers, incomplete or invalid input).
#[inline(always)]
fn short_length(rest: &[u8]) -> Option<(u64, usize)> {
    let mut len: u64 = 0;
    let mut i = 0;
    loop {
        let digit = rest.get(i)?.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        // At most 18 digits are taken here, so this cannot overflow; longer ones go the general way.
        len = len * 10 + u64::from(digit);
        i += 1;
        if i > 18 {
            return None;
        }
    }
    if i == 0 || rest.get(i..i + 2)? != b"\r\n" {
        return None;
    }
    Some((len, i + 2))
}

/// Looks this far for the end of a simple string or error on the fast path:
/// status replies and error messages are short, and a longer line goes to the general path,
/// whose search resumes where it stopped instead of starting over on every read.
const FAST_LINE_MAX: usize = 128;

/// Decodes the replies that make up most traffic (`$` bulk strings, `:` integers, `+` and `-` lines)
/// in one tight pass when they are complete and well-formed.
/// Returns `None` for anything else (incomplete, another type, invalid, over a limit),
/// which the general path then decodes or reports, so both always agree.
#[inline(always)]
fn fast_scalar(buf: &mut BytesMut, limits: &DecodeLimits) -> Option<Frame> {
    let bytes: &[u8] = buf;
    match *bytes.first()? {
        b'$' => {
            let digits = digits(bytes, 1);
            if digits.count == 0 || digits.count > MAX_NUMBER_LEN || digits.overflow {
                return None;
            }
            let header = 1 + digits.count;
            if bytes.get(header..header + 2)? != b"\r\n" {
                return None;
            }
            let len = usize::try_from(digits.value).ok()?;
            if len > limits.max_bulk_len {
                return None;
            }
            let start = header + 2;
            let stop = start.checked_add(len)?;
            if bytes.get(stop..stop.checked_add(2)?)? != b"\r\n" {
                return None;
            }
            Some(Frame::BulkString(take(buf, start, stop, stop + 2)))
        }
        b':' => {
            let (n, end) = integer(bytes, 1).ok()??;
            buf.advance(end);
            Some(Frame::Integer(n))
        }
        ty @ (b'+' | b'-') => {
            let line = bytes.get(1..).unwrap_or_default();
            let window = line.get(..FAST_LINE_MAX).unwrap_or(line);
            let len = window.iter().position(|&b| b == b'\r')?;
            if line.get(len + 1) != Some(&b'\n') || len > limits.max_line_len {
                return None;
            }
            let text = take(buf, 1, 1 + len, 1 + len + 2);
            Some(if ty == b'+' {
                Frame::SimpleString(text)
            } else {
                Frame::SimpleError(text)
            })
        }
        _ => None,
    }
}

/// Removes the first `end` bytes from `buf` and returns `start..stop` of them, without copying.
/// (One split and one advance: the cheapest way through `BytesMut`'s bookkeeping.)
#[inline(always)]
fn take(buf: &mut BytesMut, start: usize, stop: usize, end: usize) -> Bytes {
    let mut frame = buf.split_to(end.min(buf.len()));
    frame.truncate(stop);
    frame.advance(start.min(frame.len()));
    frame.freeze()
}

/// Removes a top-level scalar's bytes from `buf` and returns it as a frame.
#[inline]
fn take_scalar(buf: &mut BytesMut, token: Token, end: usize) -> Frame {
    let end = end.min(buf.len());
    match token {
        Token::Text(kind, start, stop) => text_frame(kind, take(buf, start, stop, end)),
        Token::Verbatim(format, start, stop) => Frame::VerbatimString {
            format,
            text: take(buf, start, stop, end),
        },
        other => {
            buf.advance(end);
            plain_frame(other)
        }
    }
}

fn text_frame(kind: TextKind, bytes: Bytes) -> Frame {
    match kind {
        TextKind::Simple => Frame::SimpleString(bytes),
        TextKind::SimpleError => Frame::SimpleError(bytes),
        TextKind::BigNumber => Frame::BigNumber(bytes),
        TextKind::Bulk => Frame::BulkString(bytes),
        TextKind::BulkError => Frame::BulkError(bytes),
    }
}

/// Slices `bytes[start..stop]`; the range always lies inside because the scan produced it from these bytes.
fn slice(bytes: &Bytes, start: usize, stop: usize) -> Bytes {
    if start <= stop && stop <= bytes.len() {
        bytes.slice(start..stop)
    } else {
        Bytes::new()
    }
}

/// Turns a non-aggregate token into its frame, slicing payloads out of `bytes`.
#[inline]
fn scalar_frame(token: Token, bytes: &Bytes) -> Frame {
    match token {
        Token::Text(kind, start, stop) => text_frame(kind, slice(bytes, start, stop)),
        Token::Verbatim(format, start, stop) => Frame::VerbatimString {
            format,
            text: slice(bytes, start, stop),
        },
        other => plain_frame(other),
    }
}

/// Turns a token without a payload into its frame.
#[inline]
fn plain_frame(token: Token) -> Frame {
    match token {
        Token::Text(kind, ..) => text_frame(kind, Bytes::new()),
        Token::Verbatim(format, ..) => Frame::VerbatimString {
            format,
            text: Bytes::new(),
        },
        Token::Integer(n) => Frame::Integer(n),
        Token::Double(x) => Frame::Double(x),
        Token::Boolean(b) => Frame::Boolean(b),
        Token::Null => Frame::Null,
        Token::NullBulk => Frame::NullBulkString,
        Token::NullArray => Frame::NullArray,
        // Aggregates are built by `build`; an empty array is the harmless answer should one slip through.
        Token::Aggregate(..) => Frame::Array(Vec::new()),
    }
}

/// An aggregate under construction in `build`.
#[derive(Debug)]
enum Partial {
    Seq {
        kind: AggKind,
        items: Vec<Frame>,
        left: usize,
    },
    /// A map or an attribute: pairs so far, a key waiting for its value, and how many frames are still due.
    Pairs {
        kind: AggKind,
        items: Vec<(Frame, Frame)>,
        key: Option<Frame>,
        left: usize,
    },
}

impl Partial {
    fn new(kind: AggKind, count: usize, tokens_left: usize) -> Partial {
        let elements = kind.elements(count);
        // Never trust the header for the allocation: at most `tokens_left` frames follow it
        // (half as many pairs), however many the header claims.
        match kind {
            AggKind::Array | AggKind::Set | AggKind::Push => Partial::Seq {
                kind,
                items: Vec::with_capacity(count.min(tokens_left)),
                left: elements,
            },
            AggKind::Map | AggKind::Attribute => Partial::Pairs {
                kind,
                items: Vec::with_capacity(count.min(tokens_left / 2)),
                key: None,
                left: elements,
            },
        }
    }

    /// Adds a completed frame; returns the aggregate once its last element arrives.
    fn push(&mut self, frame: Frame) -> Option<Frame> {
        match self {
            Partial::Seq { kind, items, left } => {
                items.push(frame);
                *left = left.saturating_sub(1);
                (*left == 0).then(|| seq_frame(*kind, std::mem::take(items)))
            }
            Partial::Pairs {
                kind: AggKind::Attribute,
                items,
                key,
                left,
            } if *left <= 1 && key.is_none() => {
                *left = 0;
                Some(Frame::Attribute {
                    attributes: std::mem::take(items),
                    frame: Box::new(frame),
                })
            }
            Partial::Pairs {
                kind,
                items,
                key,
                left,
            } => {
                match key.take() {
                    Some(k) => items.push((k, frame)),
                    None => *key = Some(frame),
                }
                *left = left.saturating_sub(1);
                (*left == 0).then(|| pairs_frame(*kind, std::mem::take(items), key.take()))
            }
        }
    }

    /// Closes an aggregate early; only reachable if the tape were inconsistent.
    fn close(self) -> Frame {
        match self {
            Partial::Seq { kind, items, .. } => seq_frame(kind, items),
            Partial::Pairs {
                kind, items, key, ..
            } => pairs_frame(kind, items, key),
        }
    }
}

fn seq_frame(kind: AggKind, items: Vec<Frame>) -> Frame {
    match kind {
        AggKind::Set => Frame::Set(items),
        AggKind::Push => Frame::Push(items),
        _ => Frame::Array(items),
    }
}

fn pairs_frame(kind: AggKind, items: Vec<(Frame, Frame)>, key: Option<Frame>) -> Frame {
    match kind {
        AggKind::Attribute => Frame::Attribute {
            attributes: items,
            frame: Box::new(key.unwrap_or(Frame::Null)),
        },
        _ => Frame::Map(items),
    }
}

/// Builds the frame a complete tape describes, iteratively.
fn build(tape: &[Token], bytes: &Bytes, stack: &mut Vec<Partial>) -> Frame {
    stack.clear();
    for (i, &token) in tape.iter().enumerate() {
        // Fast lane: a scalar that does not complete the innermost array goes straight into it.
        if let Some(Partial::Seq { items, left, .. }) = stack.last_mut() {
            if *left > 1 && !matches!(token, Token::Aggregate(..)) {
                items.push(scalar_frame(token, bytes));
                *left -= 1;
                continue;
            }
        }
        let mut done = match token {
            Token::Aggregate(kind, count) if kind.elements(count) > 0 => {
                stack.push(Partial::new(kind, count, tape.len() - i - 1));
                continue;
            }
            Token::Aggregate(kind, _) => match kind {
                AggKind::Map => Frame::Map(Vec::new()),
                other => seq_frame(other, Vec::new()),
            },
            scalar => scalar_frame(scalar, bytes),
        };
        // Hand the finished frame up through every aggregate it completes.
        loop {
            match stack.last_mut() {
                None => {
                    stack.clear();
                    return done;
                }
                Some(partial) => match partial.push(done) {
                    None => break,
                    Some(finished) => {
                        stack.pop();
                        done = finished;
                    }
                },
            }
        }
    }
    // A consistent tape returns from inside the loop; close whatever is open rather than fail.
    let mut done = None;
    while let Some(partial) = stack.pop() {
        let mut frame = partial.close();
        if let Some(inner) = done.take() {
            frame = match frame {
                Frame::Array(mut items) => {
                    items.push(inner);
                    Frame::Array(items)
                }
                other => other,
            };
        }
        done = Some(frame);
    }
    done.unwrap_or(Frame::Null)
}

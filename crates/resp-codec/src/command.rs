//! Command encoding: `*N\r\n$len\r\narg\r\n...`, written once and reused on retry.

use std::fmt;
use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::frame::F64Text;

/// Room for the longest array header, `*` + 20 digits of a `u64` + CRLF,
/// reserved at the front of a [`CommandBuilder`]'s buffer and filled in by `finish`.
const HEADER_MAX: usize = 1 + 20 + 2;

/// Commands with more arguments than this carry an index of where each argument lies. Smaller ones find
/// an argument by walking the `$len` headers before it (a few bytes each; the router reads the name and
/// the first key or two), which keeps an `EncodedCommand` at 48 bytes: a pipeline of 20 commands fits in
/// a 960-byte vector, under the 1 KiB where glibc's malloc stops serving from its per-thread caches and
/// consolidates, which the profile of a 20-command pipeline showed at about 3.5% of the client's time.
const INDEXED_ARGC: usize = 8;

/// The most a [`CommandBuilder`] reserves up front from its size hint (1 MiB): enough for any ordinary
/// command in one allocation, while a hint of `usize::MAX` does not ask the allocator for the impossible.
const MAX_RESERVE: usize = 1 << 20;

/// Where one argument's bytes lie in the encoded command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
}

/// The argument spans of a command with more than [`INDEXED_ARGC`] arguments (MGET, MSET, DEL with many
/// keys), shared by the command's clones.
#[derive(Debug, PartialEq, Eq)]
struct SpanIndex(Box<[Span]>);

/// Walks the arguments of a well-formed `*N\r\n$len\r\narg\r\n...` buffer, yielding each one's span.
/// Yields `left` items: past a malformed header (which the builder never writes) it yields empty spans.
#[derive(Clone)]
struct ArgWalk<'a> {
    bytes: &'a [u8],
    /// Offset of the next `$`.
    pos: usize,
    left: usize,
}

impl<'a> ArgWalk<'a> {
    fn new(bytes: &'a [u8], argc: usize) -> ArgWalk<'a> {
        // Skip the `*N\r\n` array header.
        let pos = bytes
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |nl| nl + 1);
        ArgWalk {
            bytes,
            pos,
            left: argc,
        }
    }

    /// The span of the argument at `self.pos`, and the offset of the one after it.
    fn step(&self) -> Option<(Span, usize)> {
        let rest = self.bytes.get(self.pos..)?;
        let (&dollar, rest) = rest.split_first()?;
        if dollar != b'$' {
            return None;
        }
        let mut len = 0usize;
        let mut digits = 0;
        for &b in rest {
            if !b.is_ascii_digit() {
                break;
            }
            len = len.checked_mul(10)?.checked_add(usize::from(b - b'0'))?;
            digits += 1;
        }
        // `$`, the digits, CRLF.
        let start = self.pos.checked_add(1 + digits + 2)?;
        let end = start.checked_add(len)?;
        if end > self.bytes.len() {
            return None;
        }
        Some((Span { start, end }, end + 2))
    }
}

impl Iterator for ArgWalk<'_> {
    type Item = Span;

    fn next(&mut self) -> Option<Span> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        match self.step() {
            Some((span, next)) => {
                self.pos = next;
                Some(span)
            }
            None => {
                self.pos = self.bytes.len();
                Some(Span { start: 0, end: 0 })
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for ArgWalk<'_> {}

/// Builds one command's wire form, `*N\r\n$len\r\narg\r\n...`, in a single buffer.
///
/// Arguments are appended as they come; the `*N` header, unknown until the end,
/// goes into room reserved at the front, so [`finish`](CommandBuilder::finish) copies nothing.
///
/// ```
/// use resp_codec::CommandBuilder;
///
/// let mut cmd = CommandBuilder::new("SET");
/// cmd.arg(b"key").arg(b"value").arg(b"EX").arg_u64(10);
/// let cmd = cmd.finish();
/// assert_eq!(&cmd.bytes()[..], &b"*5\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n$2\r\nEX\r\n$2\r\n10\r\n"[..]);
/// assert_eq!(cmd.arg(1), Some(&b"key"[..]));
/// ```
pub struct CommandBuilder {
    buf: BytesMut,
    argc: usize,
}

impl CommandBuilder {
    /// Starts a command whose first word is `name` (e.g. `"GET"`).
    pub fn new(name: impl AsRef<[u8]>) -> CommandBuilder {
        CommandBuilder::with_capacity(name, 64)
    }

    /// Starts a command, reserving room for about `bytes` bytes of arguments.
    pub fn with_capacity(name: impl AsRef<[u8]>, bytes: usize) -> CommandBuilder {
        let name = name.as_ref();
        let mut builder = CommandBuilder::empty(name.len().saturating_add(bytes));
        builder.arg(name);
        builder
    }

    /// A builder with no arguments at all, not even a name.
    fn empty(bytes: usize) -> CommandBuilder {
        // Each argument costs its bytes plus about 8 of framing (`$len\r\n` and `\r\n`). The size is
        // a hint: beyond `MAX_RESERVE` the buffer grows as arguments arrive, so a wild hint cannot fail.
        let mut buf = BytesMut::with_capacity(HEADER_MAX + bytes.min(MAX_RESERVE) + 16);
        buf.put_bytes(0, HEADER_MAX);
        CommandBuilder { buf, argc: 0 }
    }

    /// Appends an argument.
    pub fn arg(&mut self, arg: &[u8]) -> &mut Self {
        let mut len = itoa::Buffer::new();
        let len = len.format(arg.len()).as_bytes();
        self.buf.reserve(1 + len.len() + 2 + arg.len() + 2);
        self.buf.put_u8(b'$');
        self.buf.put_slice(len);
        self.buf.put_slice(b"\r\n");
        self.buf.put_slice(arg);
        self.buf.put_slice(b"\r\n");
        self.argc += 1;
        self
    }

    /// Appends a signed integer argument in decimal, without allocating.
    pub fn arg_i64(&mut self, n: i64) -> &mut Self {
        let mut buf = itoa::Buffer::new();
        self.arg(buf.format(n).as_bytes())
    }

    /// Appends an unsigned integer argument in decimal, without allocating.
    pub fn arg_u64(&mut self, n: u64) -> &mut Self {
        let mut buf = itoa::Buffer::new();
        self.arg(buf.format(n).as_bytes())
    }

    /// Appends a float argument the way Redis parses one: `inf`, `-inf`,
    /// or the shortest decimal that reads back as the same value.
    /// (NaN is written as `nan`, which the server rejects, as it should.)
    pub fn arg_f64(&mut self, x: f64) -> &mut Self {
        self.arg(F64Text::new(x).as_bytes())
    }

    /// The number of arguments so far, the command name included.
    pub fn argc(&self) -> usize {
        self.argc
    }

    /// Writes the `*N` header into the reserved room and returns the finished command.
    pub fn finish(self) -> EncodedCommand {
        let CommandBuilder { mut buf, argc } = self;
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(argc).as_bytes();
        let header_len = 1 + digits.len() + 2;
        // The header sits right-aligned in the reserved room; the unused prefix is skipped, not copied.
        let skip = HEADER_MAX - header_len;
        if let Some(header) = buf.get_mut(skip..HEADER_MAX) {
            if let Some((ty, rest)) = header.split_first_mut() {
                *ty = b'*';
                let (number, crlf) = rest.split_at_mut(digits.len());
                number.copy_from_slice(digits);
                crlf.copy_from_slice(b"\r\n");
            }
        }
        buf.advance(skip);
        let bytes = buf.freeze();
        let index = (argc > INDEXED_ARGC)
            .then(|| Arc::new(SpanIndex(ArgWalk::new(&bytes, argc).collect())));
        EncodedCommand { bytes, argc, index }
    }
}

impl fmt::Debug for CommandBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandBuilder")
            .field("argc", &self.argc())
            .finish_non_exhaustive()
    }
}

/// A fully encoded command: its wire bytes and the number of its arguments.
///
/// Cloning is a reference-count increment, so a retry re-sends the very same bytes
/// and the router can read keys by index without decoding.
///
/// ```
/// use resp_codec::EncodedCommand;
///
/// let cmd = EncodedCommand::from_args(["GET", "user:42"]);
/// assert_eq!(&cmd.bytes()[..], &b"*2\r\n$3\r\nGET\r\n$7\r\nuser:42\r\n"[..]);
/// assert_eq!(cmd.name(), b"GET");
/// assert_eq!(cmd.args().collect::<Vec<_>>(), [&b"GET"[..], &b"user:42"[..]]);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct EncodedCommand {
    bytes: Bytes,
    argc: usize,
    /// Where each argument lies, for commands with more than [`INDEXED_ARGC`] arguments.
    index: Option<Arc<SpanIndex>>,
}

impl EncodedCommand {
    /// Encodes a command from its words, the name first.
    pub fn from_args<I: IntoIterator<Item = A>, A: AsRef<[u8]>>(args: I) -> EncodedCommand {
        let mut builder = CommandBuilder::empty(64);
        for arg in args {
            builder.arg(arg.as_ref());
        }
        builder.finish()
    }

    /// The whole wire form, ready to write to a socket.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The number of arguments, the command name included.
    pub fn argc(&self) -> usize {
        self.argc
    }

    /// Argument `i`; 0 is the command name.
    pub fn arg(&self, i: usize) -> Option<&[u8]> {
        let span = match &self.index {
            Some(index) => *index.0.get(i)?,
            None if i < self.argc => ArgWalk::new(&self.bytes, self.argc).nth(i)?,
            None => return None,
        };
        self.bytes.get(span.start..span.end)
    }

    /// Every argument in order, the command name first.
    pub fn args(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        ArgWalk::new(&self.bytes, self.argc)
            .map(|span| self.bytes.get(span.start..span.end).unwrap_or_default())
    }

    /// The command name (argument 0), empty for a command without arguments.
    pub fn name(&self) -> &[u8] {
        self.arg(0).unwrap_or_default()
    }
}

impl fmt::Debug for EncodedCommand {
    /// Shows the arguments as text where they are UTF-8, e.g. `["GET", "key"]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.args().map(Lossy)).finish()
    }
}

struct Lossy<'a>(&'a [u8]);

impl fmt::Debug for Lossy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(self.0) {
            Ok(text) => fmt::Debug::fmt(text, f),
            Err(_) => write!(f, "b{:?}", self.0.escape_ascii().to_string()),
        }
    }
}

/// Encodes a command from its words straight into `dst`, after whatever `dst` already holds.
///
/// For iterators that know their length (slices, arrays, `Vec`s) this is one pass with no copying.
///
/// ```
/// use bytes::BytesMut;
///
/// let mut out = BytesMut::new();
/// resp_codec::encode_command(&mut out, ["INCRBY", "counter", "5"]);
/// assert_eq!(&out[..], &b"*3\r\n$6\r\nINCRBY\r\n$7\r\ncounter\r\n$1\r\n5\r\n"[..]);
/// ```
pub fn encode_command<I: IntoIterator<Item = A>, A: AsRef<[u8]>>(dst: &mut BytesMut, args: I) {
    let args = args.into_iter();
    let (hint, _) = args.size_hint();
    let header_at = dst.len();
    crate::frame::header(dst, b'*', hint);
    let args_at = dst.len();
    let mut count = 0;
    for arg in args {
        put_bulk(dst, arg.as_ref());
        count += 1;
    }
    if count != hint {
        // The iterator's lower bound was not its length: rewrite the header, moving the arguments if it grew or shrank.
        fix_header(dst, header_at, args_at, count);
    }
}

#[inline]
fn put_bulk(dst: &mut BytesMut, arg: &[u8]) {
    let mut len = itoa::Buffer::new();
    let len = len.format(arg.len()).as_bytes();
    dst.reserve(1 + len.len() + 2 + arg.len() + 2);
    dst.put_u8(b'$');
    dst.put_slice(len);
    dst.put_slice(b"\r\n");
    dst.put_slice(arg);
    dst.put_slice(b"\r\n");
}

/// Replaces the header at `dst[header_at..args_at]` with `*count\r\n`.
fn fix_header(dst: &mut BytesMut, header_at: usize, args_at: usize, count: usize) {
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(count).as_bytes();
    let new_len = 1 + digits.len() + 2;
    let old_len = args_at - header_at;
    let args_len = dst.len() - args_at;
    let new_args_at = header_at + new_len;
    if new_len > old_len {
        dst.put_bytes(0, new_len - old_len);
        dst.copy_within(args_at..args_at + args_len, new_args_at);
    } else if new_len < old_len {
        dst.copy_within(args_at..args_at + args_len, new_args_at);
        dst.truncate(new_args_at + args_len);
    }
    if let Some(header) = dst.get_mut(header_at..new_args_at) {
        if let Some((ty, rest)) = header.split_first_mut() {
            *ty = b'*';
            let (number, crlf) = rest.split_at_mut(digits.len());
            number.copy_from_slice(digits);
            crlf.copy_from_slice(b"\r\n");
        }
    }
}

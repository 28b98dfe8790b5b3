//! `Cmd`, `ToArg` and `Pipeline`: commands encoded once, straight into their wire form.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use resp_codec::{CommandBuilder, EncodedCommand};

/// Where a [`ToArg`] writes its arguments: straight into the command's wire buffer.
///
/// Integers and doubles are formatted in place, without an intermediate `String`.
pub struct ArgWriter<'a> {
    builder: &'a mut CommandBuilder,
}

impl ArgWriter<'_> {
    /// Appends one argument holding these bytes.
    pub fn write_bytes(&mut self, arg: &[u8]) {
        self.builder.arg(arg);
    }

    /// Appends one argument holding the decimal text of `n`.
    pub fn write_i64(&mut self, n: i64) {
        self.builder.arg_i64(n);
    }

    /// Appends one argument holding the decimal text of `n`.
    pub fn write_u64(&mut self, n: u64) {
        self.builder.arg_u64(n);
    }

    /// Appends one argument holding `x` in the syntax Redis parses (`inf` and `-inf` for infinities).
    pub fn write_f64(&mut self, x: f64) {
        self.builder.arg_f64(x);
    }
}

/// Something that can be a command argument, or a sequence of them.
///
/// Strings, byte strings ([`Bytes`], `Vec<u8>`, `&[u8]`, `[u8; N]`), integers and floats write one
/// argument. Slices, arrays and `Vec`s of other argument types write one argument per element, and a
/// tuple writes its fields in order, so `client.del(&["a", "b"])` deletes two keys and
/// `client.mset(&[("k1", "v1"), ("k2", "v2")])` sets two.
///
/// Implement it for your own types (an id, a key type) by writing through the [`ArgWriter`]:
///
/// ```
/// use slotmux::{ArgWriter, ToArg};
///
/// struct UserId(u64);
///
/// impl ToArg for UserId {
///     fn write_args(&self, out: &mut ArgWriter<'_>) {
///         out.write_u64(self.0);
///     }
/// }
/// ```
pub trait ToArg {
    /// Writes this value's arguments, in order.
    fn write_args(&self, out: &mut ArgWriter<'_>);
}

impl<T: ToArg + ?Sized> ToArg for &T {
    fn write_args(&self, out: &mut ArgWriter<'_>) {
        (**self).write_args(out);
    }
}

impl<T: ToArg + ?Sized> ToArg for Box<T> {
    fn write_args(&self, out: &mut ArgWriter<'_>) {
        (**self).write_args(out);
    }
}

impl<T: ToArg + ?Sized> ToArg for Arc<T> {
    fn write_args(&self, out: &mut ArgWriter<'_>) {
        (**self).write_args(out);
    }
}

impl ToArg for str {
    fn write_args(&self, out: &mut ArgWriter<'_>) {
        out.write_bytes(self.as_bytes());
    }
}

impl ToArg for String {
    fn write_args(&self, out: &mut ArgWriter<'_>) {
        out.write_bytes(self.as_bytes());
    }
}

impl ToArg for Cow<'_, str> {
    fn write_args(&self, out: &mut ArgWriter<'_>) {
        out.write_bytes(self.as_bytes());
    }
}

impl ToArg for [u8] {
    fn write_args(&self, out: &mut ArgWriter<'_>) {
        out.write_bytes(self);
    }
}

impl<const N: usize> ToArg for [u8; N] {
    fn write_args(&self, out: &mut ArgWriter<'_>) {
        out.write_bytes(self);
    }
}

impl ToArg for Vec<u8> {
    fn write_args(&self, out: &mut ArgWriter<'_>) {
        out.write_bytes(self);
    }
}

impl ToArg for Cow<'_, [u8]> {
    fn write_args(&self, out: &mut ArgWriter<'_>) {
        out.write_bytes(self);
    }
}

impl ToArg for Bytes {
    fn write_args(&self, out: &mut ArgWriter<'_>) {
        out.write_bytes(self);
    }
}

impl ToArg for BytesMut {
    fn write_args(&self, out: &mut ArgWriter<'_>) {
        out.write_bytes(self);
    }
}

macro_rules! to_arg_signed {
    ($($t:ty),*) => {$(
        impl ToArg for $t {
            fn write_args(&self, out: &mut ArgWriter<'_>) {
                out.write_i64(i64::from(*self));
            }
        }
    )*};
}
to_arg_signed!(i8, i16, i32, i64);

macro_rules! to_arg_unsigned {
    ($($t:ty),*) => {$(
        impl ToArg for $t {
            fn write_args(&self, out: &mut ArgWriter<'_>) {
                out.write_u64(u64::from(*self));
            }
        }
    )*};
}
// No impl for `u8`: it would make `&[u8]` ambiguous between one byte-string argument and a list of numbers.
to_arg_unsigned!(u16, u32, u64);

impl ToArg for usize {
    fn write_args(&self, out: &mut ArgWriter<'_>) {
        // usize is at most 64 bits on every platform Rust supports.
        out.write_u64(*self as u64);
    }
}

impl ToArg for isize {
    fn write_args(&self, out: &mut ArgWriter<'_>) {
        // isize is at most 64 bits on every platform Rust supports.
        out.write_i64(*self as i64);
    }
}

impl ToArg for f64 {
    fn write_args(&self, out: &mut ArgWriter<'_>) {
        out.write_f64(*self);
    }
}

impl ToArg for f32 {
    fn write_args(&self, out: &mut ArgWriter<'_>) {
        out.write_f64(f64::from(*self));
    }
}

impl<T: ToArg> ToArg for [T] {
    fn write_args(&self, out: &mut ArgWriter<'_>) {
        for a in self {
            a.write_args(out);
        }
    }
}

impl<T: ToArg, const N: usize> ToArg for [T; N] {
    fn write_args(&self, out: &mut ArgWriter<'_>) {
        self.as_slice().write_args(out);
    }
}

impl<T: ToArg> ToArg for Vec<T> {
    fn write_args(&self, out: &mut ArgWriter<'_>) {
        self.as_slice().write_args(out);
    }
}

macro_rules! to_arg_tuple {
    ($($t:ident . $i:tt),+) => {
        impl<$($t: ToArg),+> ToArg for ($($t,)+) {
            fn write_args(&self, out: &mut ArgWriter<'_>) {
                $(self.$i.write_args(out);)+
            }
        }
    };
}
to_arg_tuple!(A.0, B.1);
to_arg_tuple!(A.0, B.1, C.2);

/// One command, encoded into its wire form as its arguments are added.
///
/// Build it with [`Cmd::new`] and [`Cmd::arg`], then hand it to [`Client::send`](crate::Client::send),
/// [`Client::query`](crate::Client::query) or a [`Pipeline`].
/// The bytes are written once; sending never re-encodes them, and a retry re-sends the same buffer.
///
/// ```
/// use slotmux::Cmd;
///
/// let cmd = Cmd::new("SET").arg("greeting").arg("hello").arg("EX").arg(60);
/// assert_eq!(cmd.argc(), 5);
/// ```
pub struct Cmd {
    builder: CommandBuilder,
    retry_safe: bool,
    timeout: Option<Duration>,
}

impl Cmd {
    /// Starts a command. `name` may be any command, including a module's.
    pub fn new(name: &str) -> Cmd {
        Cmd {
            builder: CommandBuilder::new(name),
            retry_safe: false,
            timeout: None,
        }
    }

    /// Appends `a`'s arguments (one, or several for slices and tuples, see [`ToArg`]).
    pub fn arg(mut self, a: impl ToArg) -> Cmd {
        self.push_arg(a);
        self
    }

    /// Appends `a`'s arguments in place, for building a command in a loop.
    pub fn push_arg(&mut self, a: impl ToArg) -> &mut Cmd {
        a.write_args(&mut ArgWriter {
            builder: &mut self.builder,
        });
        self
    }

    /// Declares that sending this command twice is harmless (it is idempotent, like `GET` or `SET k v`).
    ///
    /// By default slotmux re-sends a command after a connection failure only when it provably never
    /// left the client. With `retry_safe`, the cluster router may also re-send it when it may have
    /// executed, for example after a connection dropped with the command in flight.
    pub fn retry_safe(mut self) -> Cmd {
        self.retry_safe = true;
        self
    }

    /// This command's deadline, from the call, instead of the client's
    /// [`command_timeout`](crate::ClientBuilder::command_timeout): give a blocking command more than its
    /// block time (`BLPOP q 30` with `timeout(Duration::from_secs(31))`), or a cheap one less.
    /// In a [`Pipeline`] without a timeout of its own, the longest timeout of its commands applies to the
    /// whole pipeline.
    pub fn timeout(mut self, d: Duration) -> Cmd {
        self.timeout = Some(d);
        self
    }

    /// True when [`retry_safe`](Cmd::retry_safe) was called.
    pub fn is_retry_safe(&self) -> bool {
        self.retry_safe
    }

    /// The number of words, the command name included.
    pub fn argc(&self) -> usize {
        self.builder.argc()
    }

    pub(crate) fn into_parts(self) -> (EncodedCommand, bool, Option<Duration>) {
        (self.builder.finish(), self.retry_safe, self.timeout)
    }
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cmd")
            .field("argc", &self.argc())
            .field("retry_safe", &self.retry_safe)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Commands sent together: written back to back in one write (in parts when longer than a connection's
/// slot pool, see [`Client::pipeline`](crate::Client::pipeline)), replies in the same order.
///
/// Build it once and send it as often as you like with [`Client::pipeline`](crate::Client::pipeline):
/// the commands are encoded when they are added, so sending only bumps reference counts.
///
/// ```
/// use slotmux::{Cmd, Pipeline};
///
/// let p = Pipeline::new()
///     .cmd(Cmd::new("INCR").arg("visits"))
///     .cmd(Cmd::new("EXPIRE").arg("visits").arg(3600));
/// assert_eq!(p.len(), 2);
/// ```
#[derive(Clone, Debug)]
pub struct Pipeline {
    cmds: Vec<EncodedCommand>,
    /// Whether every command was marked [`Cmd::retry_safe`]; the cluster router may then re-send any of them.
    all_retry_safe: bool,
    /// Set by [`Pipeline::timeout`].
    timeout: Option<Duration>,
    /// The longest [`Cmd::timeout`] among the commands.
    longest_cmd_timeout: Option<Duration>,
}

impl Default for Pipeline {
    fn default() -> Pipeline {
        Pipeline::new()
    }
}

impl Pipeline {
    /// An empty pipeline.
    pub fn new() -> Pipeline {
        Pipeline::with_capacity(0)
    }

    /// An empty pipeline with room for `n` commands.
    pub fn with_capacity(n: usize) -> Pipeline {
        Pipeline {
            cmds: Vec::with_capacity(n),
            all_retry_safe: true,
            timeout: None,
            longest_cmd_timeout: None,
        }
    }

    /// Adds a command and returns the pipeline, for chaining.
    pub fn cmd(mut self, c: Cmd) -> Pipeline {
        self.push(c);
        self
    }

    /// Adds a command.
    pub fn push(&mut self, c: Cmd) {
        let (encoded, retry_safe, timeout) = c.into_parts();
        self.all_retry_safe &= retry_safe;
        self.longest_cmd_timeout = self.longest_cmd_timeout.max(timeout);
        self.cmds.push(encoded);
    }

    /// The deadline of the whole pipeline (or transaction), from the call, instead of the longest
    /// [`Cmd::timeout`] of its commands or, without any, the client's
    /// [`command_timeout`](crate::ClientBuilder::command_timeout).
    pub fn timeout(mut self, d: Duration) -> Pipeline {
        self.timeout = Some(d);
        self
    }

    /// The number of commands.
    pub fn len(&self) -> usize {
        self.cmds.len()
    }

    /// True when there are no commands.
    pub fn is_empty(&self) -> bool {
        self.cmds.is_empty()
    }

    /// Removes every command, keeping the allocation.
    pub fn clear(&mut self) {
        self.cmds.clear();
        self.all_retry_safe = true;
        self.longest_cmd_timeout = None;
    }

    pub(crate) fn encoded(&self) -> &[EncodedCommand] {
        &self.cmds
    }

    pub(crate) fn is_retry_safe(&self) -> bool {
        self.all_retry_safe
    }

    /// The pipeline's own timeout, else the longest of its commands'.
    pub(crate) fn timeout_override(&self) -> Option<Duration> {
        self.timeout.or(self.longest_cmd_timeout)
    }
}

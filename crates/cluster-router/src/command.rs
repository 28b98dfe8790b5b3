//! What the router needs to know about a command: where its keys are, how to route it,
//! whether it only reads, and whether running it twice is harmless.
//!
//! A static table covers the common commands (including those whose keys move, like `EVAL`);
//! `CommandTable::learn` adds every other command the server reports in its `COMMAND` reply,
//! so an unknown command with keys still routes by its first key.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use resp_codec::{EncodedCommand, Frame};

/// Where a command's keys are, as argument indices (0 is the command name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeySpec {
    /// No keys.
    None,
    /// Keys from `first` to `last` (negative: counted from the end, -1 is the last argument) every `step`.
    Range { first: u8, last: i8, step: u8 },
    /// `numkeys` at index `at`, keys right after it (EVAL, FCALL, ZUNION, LMPOP...);
    /// `dest` adds the key at index 1 before the count (ZUNIONSTORE dest numkeys ...).
    NumKeys { at: u8, dest: bool },
    /// XREAD / XREADGROUP: after the `STREAMS` keyword, the first half of the rest are keys.
    Streams,
}

/// How a command is routed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// By the slot of its keys; a keyless invocation (EVAL with 0 keys) goes to any master.
    Keyed,
    /// Any master (keyless commands such as ECHO, INFO, PUBLISH).
    AnyMaster,
    /// Every master, replies merged.
    FanOut(Merge),
    /// A multi-key command that may be split per slot.
    Split(SplitKind),
    /// Waits for the writes sent before it *on the same connection* (WAIT: until replicas acknowledge
    /// them; WAITAOF: until they are in the AOF). A caller's writes may be on any connection of any
    /// master, so it runs on every one of them, and the smallest count is the reply: the guarantee that
    /// holds for all of them (see `wait.rs`).
    EveryConnection,
    /// Changes the state of the connection it runs on (MULTI, WATCH, SELECT, SUBSCRIBE, ...).
    /// Node connections are shared by every caller, so such a command would leak into other callers'
    /// commands (a stray MULTI would queue them all): refused before sending.
    ConnectionState,
}

/// How the replies of a fan-out are merged into one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Merge {
    /// Every node must answer alike (PING, FLUSHALL, SCRIPT LOAD): the first reply.
    AllEqual,
    /// Integers added up (DBSIZE).
    Sum,
    /// Arrays concatenated (KEYS).
    Concat,
    /// Arrays of 0/1 combined element-wise with AND (SCRIPT EXISTS: loaded everywhere).
    AndArrays,
}

/// How a cross-slot multi-key command is split and merged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SplitKind {
    /// `CMD k1 k2 ...` whose reply is one value per key, in key order (MGET).
    Values,
    /// `CMD k1 v1 k2 v2 ...` whose reply is `+OK` (MSET).
    Pairs,
    /// `CMD k1 k2 ...` whose reply is an integer count to be summed (DEL, UNLINK, EXISTS, TOUCH).
    Sum,
}

/// Whether running a command twice has the same effect and reply as running it once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// Never assumed (INCR, RPUSH, DEL's count, unknown commands, scripts).
    Never,
    /// Always (read-only commands, MSET, SETEX, HMSET, LSET, FLUSHALL...).
    Always,
    /// SET: idempotent unless `NX` (a second run reports "not set") or `GET` (returns the new value).
    Set,
    /// EXPIRE family: idempotent without NX/XX/GT/LT (with them a second run may reply 0).
    /// A relative EXPIRE run twice ends the same as one run that arrived a little later.
    Expire,
}

/// Everything the router knows about one command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CommandInfo {
    pub(crate) keys: KeySpec,
    pub(crate) route: Route,
    /// Read-only: may go to a replica, and is idempotent.
    pub(crate) readonly: bool,
    pub(crate) idempotency: Idempotency,
    /// The real command is `NAME SUBCOMMAND` (SCRIPT LOAD, OBJECT ENCODING): look up `NAME|SUB` first.
    pub(crate) container: bool,
    /// May block the connection until data arrives (BLPOP, XREAD BLOCK).
    pub(crate) blocking: Blocking,
}

/// Whether a command may hold its connection while it waits for data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Blocking {
    /// Never blocks.
    No,
    /// Always may block (BLPOP, BZPOPMIN, ...).
    Always,
    /// Blocks only with a `BLOCK` argument (XREAD, XREADGROUP).
    WithBlockArg,
}

impl CommandInfo {
    /// A command the router knows nothing about: keyless, goes to any master, never re-sent.
    pub(crate) const UNKNOWN: CommandInfo = CommandInfo {
        keys: KeySpec::None,
        route: Route::AnyMaster,
        readonly: false,
        idempotency: Idempotency::Never,
        container: false,
        blocking: Blocking::No,
    };

    /// True when re-sending `cmd` after it may have run cannot change the outcome.
    pub(crate) fn is_idempotent(&self, cmd: &EncodedCommand) -> bool {
        if self.readonly {
            return true;
        }
        match self.idempotency {
            Idempotency::Never => false,
            Idempotency::Always => true,
            Idempotency::Set => !cmd
                .args()
                .skip(3)
                .any(|a| a.eq_ignore_ascii_case(b"NX") || a.eq_ignore_ascii_case(b"GET")),
            Idempotency::Expire => cmd.argc() == 3,
        }
    }

    /// True when `cmd` may hold its connection while it waits (it then gets a connection of its own).
    pub(crate) fn is_blocking(&self, cmd: &EncodedCommand) -> bool {
        match self.blocking {
            Blocking::No => false,
            Blocking::Always => true,
            Blocking::WithBlockArg => cmd.args().skip(1).any(|a| a.eq_ignore_ascii_case(b"BLOCK")),
        }
    }

    /// The argument indices of the keys of `cmd`, in order.
    pub(crate) fn key_indices(&self, cmd: &EncodedCommand) -> KeyIndices {
        let argc = cmd.argc();
        let empty = KeyIndices {
            extra: None,
            next: 1,
            end: 1,
            step: 1,
        };
        match self.keys {
            KeySpec::None => empty,
            KeySpec::Range { first, last, step } => {
                let first = usize::from(first);
                let end = if last < 0 {
                    // -1 means the last argument: end (exclusive) = argc + 1 + last.
                    (argc + 1).saturating_sub(usize::from(last.unsigned_abs()))
                } else {
                    (usize::from(last.unsigned_abs()) + 1).min(argc)
                };
                KeyIndices {
                    extra: None,
                    next: first,
                    end: end.max(first),
                    step: usize::from(step.max(1)),
                }
            }
            KeySpec::NumKeys { at, dest } => {
                let at = usize::from(at);
                let Some(n) = cmd.arg(at).and_then(parse_usize) else {
                    return empty;
                };
                let end = (at + 1).saturating_add(n).min(argc);
                KeyIndices {
                    extra: dest.then_some(1),
                    next: at + 1,
                    end,
                    step: 1,
                }
            }
            KeySpec::Streams => {
                let Some(pos) = cmd.args().position(|a| a.eq_ignore_ascii_case(b"STREAMS")) else {
                    return empty;
                };
                let rest = argc - pos - 1;
                KeyIndices {
                    extra: None,
                    next: pos + 1,
                    end: pos + 1 + rest / 2,
                    step: 1,
                }
            }
        }
    }
}

/// Iterator over key argument indices (see [`CommandInfo::key_indices`]).
#[derive(Clone, Debug)]
pub(crate) struct KeyIndices {
    extra: Option<usize>,
    next: usize,
    end: usize,
    step: usize,
}

impl Iterator for KeyIndices {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        if let Some(i) = self.extra.take() {
            return Some(i);
        }
        if self.next >= self.end {
            return None;
        }
        let i = self.next;
        self.next += self.step;
        Some(i)
    }
}

fn parse_usize(bytes: &[u8]) -> Option<usize> {
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// FNV-1a: command names are short and trusted-ish, so a fast non-keyed hash is fine here;
/// SipHash would cost more than the rest of the lookup.
#[derive(Default)]
pub(crate) struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// Longest command name (or `NAME|SUB`) looked up; longer names are unknown commands.
/// 64 bytes holds every Redis 7 command and subcommand with room to spare.
const MAX_NAME: usize = 64;

/// Upper-cases `parts` joined by `|` into `buf`; `None` if too long.
fn upper<'b>(buf: &'b mut [u8; MAX_NAME], parts: &[&[u8]]) -> Option<&'b [u8]> {
    let mut n = 0;
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            *buf.get_mut(n)? = b'|';
            n += 1;
        }
        let dst = buf.get_mut(n..n + part.len())?;
        for (d, s) in dst.iter_mut().zip(part.iter()) {
            *d = s.to_ascii_uppercase();
        }
        n += part.len();
    }
    buf.get(..n)
}

/// Command name -> [`CommandInfo`]; built once at connect, read-only afterwards.
#[derive(Clone, Debug)]
pub(crate) struct CommandTable {
    map: HashMap<Box<[u8]>, CommandInfo, BuildHasherDefault<Fnv>>,
}

impl Default for CommandTable {
    fn default() -> Self {
        CommandTable::builtin()
    }
}

impl CommandTable {
    /// The static table only.
    pub(crate) fn builtin() -> CommandTable {
        let mut map =
            HashMap::with_capacity_and_hasher(STATIC.len() * 2, BuildHasherDefault::default());
        for (name, info) in STATIC {
            map.insert(Box::<[u8]>::from(name.as_bytes()), *info);
        }
        CommandTable { map }
    }

    /// Looks up `cmd` (case-insensitive, subcommands of containers included). O(1), no allocation.
    pub(crate) fn lookup(&self, cmd: &EncodedCommand) -> CommandInfo {
        let mut buf = [0u8; MAX_NAME];
        let Some(name) = upper(&mut buf, &[cmd.name()]) else {
            return CommandInfo::UNKNOWN;
        };
        let Some(info) = self.map.get(name) else {
            return CommandInfo::UNKNOWN;
        };
        if info.container {
            if let Some(sub) = cmd.arg(1) {
                let mut buf2 = [0u8; MAX_NAME];
                if let Some(full) = upper(&mut buf2, &[cmd.name(), sub]) {
                    if let Some(sub_info) = self.map.get(full) {
                        return *sub_info;
                    }
                }
            }
        }
        *info
    }

    /// Every entry: a name (`NAME` or `NAME|SUB`, upper case) and what the table knows of it.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&[u8], &CommandInfo)> {
        self.map.iter().map(|(name, info)| (&name[..], info))
    }

    /// Adds the commands of a `COMMAND` reply that the static table does not know.
    /// Returns how many were added. Entries the static table has win: they know movable keys.
    pub(crate) fn learn(&mut self, reply: &Frame) -> usize {
        let Some(items) = as_list(reply) else {
            return 0;
        };
        let mut added = 0;
        for item in items {
            added += self.learn_one(item);
        }
        added
    }

    fn learn_one(&mut self, item: &Frame) -> usize {
        let Some(fields) = as_list(item) else {
            return 0;
        };
        let (Some(name), Some(flags), Some(first), Some(last), Some(step)) = (
            fields.first().and_then(as_bytes),
            fields.get(2).and_then(as_list),
            fields.get(3).and_then(as_int),
            fields.get(4).and_then(as_int),
            fields.get(5).and_then(as_int),
        ) else {
            return 0;
        };
        let mut buf = [0u8; MAX_NAME];
        // Subcommands are reported as "object|encoding": already joined.
        let Some(key) = upper(&mut buf, &[name]) else {
            return 0;
        };
        let mut added = 0;
        let has_flag = |f: &[u8]| {
            flags
                .iter()
                .any(|x| as_bytes(x).is_some_and(|b| b.eq_ignore_ascii_case(f)))
        };
        let readonly = has_flag(b"readonly") && !has_flag(b"write");
        let keys = if first > 0
            && first <= 127
            && (-127..=127).contains(&last)
            && (1..=127).contains(&step)
        {
            KeySpec::Range {
                first: first as u8,
                last: last as i8,
                step: step as u8,
            }
        } else {
            KeySpec::None
        };
        let subcommands = fields.get(9).and_then(as_list).filter(|s| !s.is_empty());
        if !self.map.contains_key(key) {
            let info = CommandInfo {
                keys,
                route: if keys == KeySpec::None {
                    Route::AnyMaster
                } else {
                    Route::Keyed
                },
                readonly,
                idempotency: Idempotency::Never,
                container: subcommands.is_some(),
                blocking: if has_flag(b"blocking") {
                    Blocking::Always
                } else {
                    Blocking::No
                },
            };
            self.map.insert(Box::from(key), info);
            added += 1;
        }
        if let Some(subs) = subcommands {
            for sub in subs {
                added += self.learn_one(sub);
            }
        }
        added
    }
}

fn as_list(f: &Frame) -> Option<&[Frame]> {
    match f {
        Frame::Array(v) | Frame::Set(v) | Frame::Push(v) => Some(v),
        Frame::Attribute { frame, .. } => as_list(frame),
        _ => None,
    }
}

fn as_bytes(f: &Frame) -> Option<&[u8]> {
    match f {
        Frame::SimpleString(b) | Frame::BulkString(b) => Some(b),
        _ => None,
    }
}

fn as_int(f: &Frame) -> Option<i64> {
    match f {
        Frame::Integer(n) => Some(*n),
        _ => None,
    }
}

// Short constructors for the static table.
const fn keyed(
    first: u8,
    last: i8,
    step: u8,
    readonly: bool,
    idempotency: Idempotency,
) -> CommandInfo {
    CommandInfo {
        keys: KeySpec::Range { first, last, step },
        route: Route::Keyed,
        readonly,
        idempotency,
        container: false,
        blocking: Blocking::No,
    }
}
const fn ro(first: u8, last: i8, step: u8) -> CommandInfo {
    keyed(first, last, step, true, Idempotency::Always)
}
const fn w(first: u8, last: i8, step: u8) -> CommandInfo {
    keyed(first, last, step, false, Idempotency::Never)
}
const fn wi(first: u8, last: i8, step: u8) -> CommandInfo {
    keyed(first, last, step, false, Idempotency::Always)
}
const fn numkeys(at: u8, dest: bool, readonly: bool) -> CommandInfo {
    CommandInfo {
        keys: KeySpec::NumKeys { at, dest },
        route: Route::Keyed,
        readonly,
        idempotency: if readonly {
            Idempotency::Always
        } else {
            Idempotency::Never
        },
        container: false,
        blocking: Blocking::No,
    }
}
const fn any(readonly: bool) -> CommandInfo {
    CommandInfo {
        keys: KeySpec::None,
        route: Route::AnyMaster,
        readonly,
        idempotency: if readonly {
            Idempotency::Always
        } else {
            Idempotency::Never
        },
        container: false,
        blocking: Blocking::No,
    }
}
const fn fan(merge: Merge, readonly: bool) -> CommandInfo {
    CommandInfo {
        keys: KeySpec::None,
        route: Route::FanOut(merge),
        readonly,
        idempotency: Idempotency::Always,
        container: false,
        blocking: Blocking::No,
    }
}
const fn every_connection() -> CommandInfo {
    CommandInfo {
        keys: KeySpec::None,
        route: Route::EveryConnection,
        readonly: false,
        // Waiting again for writes already acknowledged answers at once, with the same or a higher count.
        idempotency: Idempotency::Always,
        container: false,
        blocking: Blocking::No,
    }
}
const fn split(kind: SplitKind, step: u8, readonly: bool, idempotency: Idempotency) -> CommandInfo {
    CommandInfo {
        keys: KeySpec::Range {
            first: 1,
            last: -1,
            step,
        },
        route: Route::Split(kind),
        readonly,
        idempotency,
        container: false,
        blocking: Blocking::No,
    }
}
const fn stateful() -> CommandInfo {
    CommandInfo {
        keys: KeySpec::None,
        route: Route::ConnectionState,
        readonly: false,
        idempotency: Idempotency::Never,
        container: false,
        blocking: Blocking::No,
    }
}
const fn container(default: CommandInfo) -> CommandInfo {
    CommandInfo {
        container: true,
        ..default
    }
}
const fn blocking(info: CommandInfo) -> CommandInfo {
    CommandInfo {
        blocking: Blocking::Always,
        ..info
    }
}
const fn with(info: CommandInfo, idempotency: Idempotency) -> CommandInfo {
    CommandInfo {
        idempotency,
        ..info
    }
}

use Idempotency as I;

/// The static table: the common commands, every command whose keys move, the split and fan-out commands.
/// Key positions follow the `COMMAND` reply of Redis 7.0.
static STATIC: &[(&str, CommandInfo)] = &[
    // Strings.
    ("GET", ro(1, 1, 1)),
    ("GETRANGE", ro(1, 1, 1)),
    ("SUBSTR", ro(1, 1, 1)),
    ("STRLEN", ro(1, 1, 1)),
    ("SET", with(w(1, 1, 1), I::Set)),
    ("SETNX", w(1, 1, 1)),
    ("SETEX", wi(1, 1, 1)),
    ("PSETEX", wi(1, 1, 1)),
    ("GETSET", w(1, 1, 1)),
    ("GETDEL", w(1, 1, 1)),
    ("GETEX", w(1, 1, 1)),
    ("APPEND", w(1, 1, 1)),
    ("INCR", w(1, 1, 1)),
    ("INCRBY", w(1, 1, 1)),
    ("INCRBYFLOAT", w(1, 1, 1)),
    ("DECR", w(1, 1, 1)),
    ("DECRBY", w(1, 1, 1)),
    ("SETRANGE", w(1, 1, 1)),
    ("LCS", ro(1, 2, 1)),
    ("MGET", split(SplitKind::Values, 1, true, I::Always)),
    ("MSET", split(SplitKind::Pairs, 2, false, I::Always)),
    ("MSETNX", w(1, -1, 2)),
    // Bits.
    ("GETBIT", ro(1, 1, 1)),
    ("SETBIT", w(1, 1, 1)),
    ("BITCOUNT", ro(1, 1, 1)),
    ("BITPOS", ro(1, 1, 1)),
    ("BITFIELD", w(1, 1, 1)),
    ("BITFIELD_RO", ro(1, 1, 1)),
    ("BITOP", w(2, -1, 1)),
    // Generic.
    ("DEL", split(SplitKind::Sum, 1, false, I::Never)),
    ("UNLINK", split(SplitKind::Sum, 1, false, I::Never)),
    ("EXISTS", split(SplitKind::Sum, 1, true, I::Always)),
    ("TOUCH", split(SplitKind::Sum, 1, true, I::Always)),
    ("TYPE", ro(1, 1, 1)),
    ("TTL", ro(1, 1, 1)),
    ("PTTL", ro(1, 1, 1)),
    ("EXPIRETIME", ro(1, 1, 1)),
    ("PEXPIRETIME", ro(1, 1, 1)),
    ("DUMP", ro(1, 1, 1)),
    ("RESTORE", w(1, 1, 1)),
    ("EXPIRE", with(w(1, 1, 1), I::Expire)),
    ("PEXPIRE", with(w(1, 1, 1), I::Expire)),
    ("EXPIREAT", with(w(1, 1, 1), I::Expire)),
    ("PEXPIREAT", with(w(1, 1, 1), I::Expire)),
    ("PERSIST", w(1, 1, 1)),
    ("RENAME", w(1, 2, 1)),
    ("RENAMENX", w(1, 2, 1)),
    ("COPY", w(1, 2, 1)),
    ("SORT", w(1, 1, 1)),
    ("SORT_RO", ro(1, 1, 1)),
    ("OBJECT", container(any(true))),
    ("OBJECT|ENCODING", ro(2, 2, 1)),
    ("OBJECT|FREQ", ro(2, 2, 1)),
    ("OBJECT|IDLETIME", ro(2, 2, 1)),
    ("OBJECT|REFCOUNT", ro(2, 2, 1)),
    ("MEMORY", container(any(true))),
    ("MEMORY|USAGE", ro(2, 2, 1)),
    ("RANDOMKEY", any(true)),
    ("SCAN", any(true)),
    ("KEYS", fan(Merge::Concat, true)),
    ("DBSIZE", fan(Merge::Sum, true)),
    ("FLUSHALL", fan(Merge::AllEqual, false)),
    ("FLUSHDB", fan(Merge::AllEqual, false)),
    // Hashes.
    ("HGET", ro(1, 1, 1)),
    ("HMGET", ro(1, 1, 1)),
    ("HGETALL", ro(1, 1, 1)),
    ("HKEYS", ro(1, 1, 1)),
    ("HVALS", ro(1, 1, 1)),
    ("HLEN", ro(1, 1, 1)),
    ("HEXISTS", ro(1, 1, 1)),
    ("HSTRLEN", ro(1, 1, 1)),
    ("HRANDFIELD", ro(1, 1, 1)),
    ("HSCAN", ro(1, 1, 1)),
    ("HSET", w(1, 1, 1)),
    ("HSETNX", w(1, 1, 1)),
    ("HMSET", wi(1, 1, 1)),
    ("HDEL", w(1, 1, 1)),
    ("HINCRBY", w(1, 1, 1)),
    ("HINCRBYFLOAT", w(1, 1, 1)),
    // Lists.
    ("LLEN", ro(1, 1, 1)),
    ("LINDEX", ro(1, 1, 1)),
    ("LRANGE", ro(1, 1, 1)),
    ("LPOS", ro(1, 1, 1)),
    ("LPUSH", w(1, 1, 1)),
    ("RPUSH", w(1, 1, 1)),
    ("LPUSHX", w(1, 1, 1)),
    ("RPUSHX", w(1, 1, 1)),
    ("LPOP", w(1, 1, 1)),
    ("RPOP", w(1, 1, 1)),
    ("LINSERT", w(1, 1, 1)),
    ("LSET", wi(1, 1, 1)),
    ("LREM", w(1, 1, 1)),
    ("LTRIM", wi(1, 1, 1)),
    ("LMOVE", w(1, 2, 1)),
    ("RPOPLPUSH", w(1, 2, 1)),
    ("BLMOVE", blocking(w(1, 2, 1))),
    ("BRPOPLPUSH", blocking(w(1, 2, 1))),
    ("BLPOP", blocking(w(1, -2, 1))),
    ("BRPOP", blocking(w(1, -2, 1))),
    ("LMPOP", numkeys(1, false, false)),
    ("BLMPOP", blocking(numkeys(2, false, false))),
    // Sets.
    ("SCARD", ro(1, 1, 1)),
    ("SISMEMBER", ro(1, 1, 1)),
    ("SMISMEMBER", ro(1, 1, 1)),
    ("SMEMBERS", ro(1, 1, 1)),
    ("SRANDMEMBER", ro(1, 1, 1)),
    ("SSCAN", ro(1, 1, 1)),
    ("SADD", w(1, 1, 1)),
    ("SREM", w(1, 1, 1)),
    ("SPOP", w(1, 1, 1)),
    ("SMOVE", w(1, 2, 1)),
    ("SDIFF", ro(1, -1, 1)),
    ("SINTER", ro(1, -1, 1)),
    ("SUNION", ro(1, -1, 1)),
    ("SDIFFSTORE", w(1, -1, 1)),
    ("SINTERSTORE", w(1, -1, 1)),
    ("SUNIONSTORE", w(1, -1, 1)),
    ("SINTERCARD", numkeys(1, false, true)),
    // Sorted sets.
    ("ZCARD", ro(1, 1, 1)),
    ("ZCOUNT", ro(1, 1, 1)),
    ("ZLEXCOUNT", ro(1, 1, 1)),
    ("ZRANGE", ro(1, 1, 1)),
    ("ZRANGEBYSCORE", ro(1, 1, 1)),
    ("ZRANGEBYLEX", ro(1, 1, 1)),
    ("ZREVRANGE", ro(1, 1, 1)),
    ("ZREVRANGEBYSCORE", ro(1, 1, 1)),
    ("ZREVRANGEBYLEX", ro(1, 1, 1)),
    ("ZRANK", ro(1, 1, 1)),
    ("ZREVRANK", ro(1, 1, 1)),
    ("ZSCORE", ro(1, 1, 1)),
    ("ZMSCORE", ro(1, 1, 1)),
    ("ZRANDMEMBER", ro(1, 1, 1)),
    ("ZSCAN", ro(1, 1, 1)),
    ("ZADD", w(1, 1, 1)),
    ("ZINCRBY", w(1, 1, 1)),
    ("ZREM", w(1, 1, 1)),
    ("ZREMRANGEBYSCORE", w(1, 1, 1)),
    ("ZREMRANGEBYRANK", w(1, 1, 1)),
    ("ZREMRANGEBYLEX", w(1, 1, 1)),
    ("ZPOPMIN", w(1, 1, 1)),
    ("ZPOPMAX", w(1, 1, 1)),
    ("BZPOPMIN", blocking(w(1, -2, 1))),
    ("BZPOPMAX", blocking(w(1, -2, 1))),
    ("ZRANGESTORE", w(1, 2, 1)),
    ("ZUNION", numkeys(1, false, true)),
    ("ZINTER", numkeys(1, false, true)),
    ("ZDIFF", numkeys(1, false, true)),
    ("ZINTERCARD", numkeys(1, false, true)),
    ("ZUNIONSTORE", numkeys(2, true, false)),
    ("ZINTERSTORE", numkeys(2, true, false)),
    ("ZDIFFSTORE", numkeys(2, true, false)),
    ("ZMPOP", numkeys(1, false, false)),
    ("BZMPOP", blocking(numkeys(2, false, false))),
    // HyperLogLog, geo.
    ("PFADD", w(1, 1, 1)),
    ("PFCOUNT", ro(1, -1, 1)),
    ("PFMERGE", w(1, -1, 1)),
    ("GEOADD", w(1, 1, 1)),
    ("GEOPOS", ro(1, 1, 1)),
    ("GEODIST", ro(1, 1, 1)),
    ("GEOHASH", ro(1, 1, 1)),
    ("GEOSEARCH", ro(1, 1, 1)),
    ("GEOSEARCHSTORE", w(1, 2, 1)),
    ("GEORADIUS", w(1, 1, 1)),
    ("GEORADIUSBYMEMBER", w(1, 1, 1)),
    ("GEORADIUS_RO", ro(1, 1, 1)),
    ("GEORADIUSBYMEMBER_RO", ro(1, 1, 1)),
    // Streams.
    ("XADD", w(1, 1, 1)),
    ("XRANGE", ro(1, 1, 1)),
    ("XREVRANGE", ro(1, 1, 1)),
    ("XLEN", ro(1, 1, 1)),
    ("XDEL", w(1, 1, 1)),
    ("XTRIM", w(1, 1, 1)),
    ("XACK", w(1, 1, 1)),
    ("XCLAIM", w(1, 1, 1)),
    ("XAUTOCLAIM", w(1, 1, 1)),
    ("XPENDING", ro(1, 1, 1)),
    ("XSETID", w(1, 1, 1)),
    (
        "XREAD",
        CommandInfo {
            keys: KeySpec::Streams,
            blocking: Blocking::WithBlockArg,
            ..ro(1, 1, 1)
        },
    ),
    (
        "XREADGROUP",
        CommandInfo {
            keys: KeySpec::Streams,
            blocking: Blocking::WithBlockArg,
            ..w(1, 1, 1)
        },
    ),
    ("XGROUP", container(any(false))),
    ("XGROUP|CREATE", w(2, 2, 1)),
    ("XGROUP|SETID", w(2, 2, 1)),
    ("XGROUP|DESTROY", w(2, 2, 1)),
    ("XGROUP|CREATECONSUMER", w(2, 2, 1)),
    ("XGROUP|DELCONSUMER", w(2, 2, 1)),
    ("XINFO", container(any(true))),
    ("XINFO|STREAM", ro(2, 2, 1)),
    ("XINFO|GROUPS", ro(2, 2, 1)),
    ("XINFO|CONSUMERS", ro(2, 2, 1)),
    // Scripting and functions: keys after numkeys.
    ("EVAL", numkeys(2, false, false)),
    ("EVALSHA", numkeys(2, false, false)),
    ("EVAL_RO", numkeys(2, false, true)),
    ("EVALSHA_RO", numkeys(2, false, true)),
    ("FCALL", numkeys(2, false, false)),
    ("FCALL_RO", numkeys(2, false, true)),
    ("SCRIPT", container(any(false))),
    ("SCRIPT|DEBUG", stateful()),
    ("SCRIPT|LOAD", fan(Merge::AllEqual, false)),
    ("SCRIPT|FLUSH", fan(Merge::AllEqual, false)),
    ("SCRIPT|EXISTS", fan(Merge::AndArrays, true)),
    ("FUNCTION", container(any(true))),
    ("FUNCTION|LOAD", with(fan(Merge::AllEqual, false), I::Never)),
    (
        "FUNCTION|DELETE",
        with(fan(Merge::AllEqual, false), I::Never),
    ),
    ("FUNCTION|FLUSH", fan(Merge::AllEqual, false)),
    // Restores a dump on every master, as LOAD loads a library on every master; a second run fails on
    // the libraries the first one added (the default APPEND policy).
    (
        "FUNCTION|RESTORE",
        with(fan(Merge::AllEqual, false), I::Never),
    ),
    // Keyless.
    ("PING", fan(Merge::AllEqual, true)),
    ("ECHO", any(true)),
    ("TIME", any(true)),
    ("INFO", any(true)),
    ("LASTSAVE", any(true)),
    ("PUBLISH", any(false)),
    ("WAIT", every_connection()),
    ("WAITAOF", every_connection()),
    ("CONFIG", any(false)),
    ("CLIENT", container(any(false))),
    ("CLIENT|REPLY", stateful()),
    ("CLIENT|CACHING", stateful()),
    ("CLIENT|SETNAME", stateful()),
    ("CLIENT|TRACKING", stateful()),
    ("CLIENT|NO-EVICT", stateful()),
    ("CLIENT|NO-TOUCH", stateful()),
    // Connection state: refused on shared connections (use Router::transaction for MULTI/EXEC).
    ("MULTI", stateful()),
    ("EXEC", stateful()),
    ("DISCARD", stateful()),
    ("WATCH", stateful()),
    ("UNWATCH", stateful()),
    ("SELECT", stateful()),
    // Swaps two databases of the whole server and leaves the connection as it was; a cluster (database 0
    // only) refuses it itself.
    ("SWAPDB", any(false)),
    ("AUTH", stateful()),
    ("HELLO", stateful()),
    ("RESET", stateful()),
    ("QUIT", stateful()),
    ("READONLY", stateful()),
    ("READWRITE", stateful()),
    ("ASKING", stateful()),
    ("MONITOR", stateful()),
    ("SUBSCRIBE", stateful()),
    ("PSUBSCRIBE", stateful()),
    ("SSUBSCRIBE", stateful()),
    ("UNSUBSCRIBE", stateful()),
    ("PUNSUBSCRIBE", stateful()),
    ("SUNSUBSCRIBE", stateful()),
    ("SYNC", stateful()),
    ("PSYNC", stateful()),
    // Most CLUSTER subcommands change the node (SETSLOT, ADDSLOTS, FAILOVER, RESET, FORGET...): never
    // re-sent after they may have run. The ones that only read are listed.
    ("CLUSTER", container(any(false))),
    ("CLUSTER|INFO", any(true)),
    ("CLUSTER|NODES", any(true)),
    ("CLUSTER|SHARDS", any(true)),
    ("CLUSTER|SLOTS", any(true)),
    ("CLUSTER|MYID", any(true)),
    ("CLUSTER|MYSHARDID", any(true)),
    ("CLUSTER|KEYSLOT", any(true)),
    ("CLUSTER|COUNTKEYSINSLOT", any(true)),
    ("CLUSTER|GETKEYSINSLOT", any(true)),
    ("CLUSTER|LINKS", any(true)),
    ("CLUSTER|REPLICAS", any(true)),
    ("CLUSTER|SLAVES", any(true)),
    ("CLUSTER|COUNT-FAILURE-REPORTS", any(true)),
    ("COMMAND", any(true)),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn check(args: &[&str], expected_keys: &[&str]) {
        let cmd = EncodedCommand::from_args(args.iter().map(|a| a.as_bytes()));
        let info = CommandTable::builtin().lookup(&cmd);
        let keys: Vec<&str> = info
            .key_indices(&cmd)
            .map(|i| std::str::from_utf8(cmd.arg(i).unwrap_or_default()).unwrap_or("?"))
            .collect();
        assert_eq!(keys, expected_keys, "{args:?}");
    }

    #[test]
    fn key_positions() {
        check(&["GET", "a"], &["a"]);
        check(&["get", "a"], &["a"]);
        check(&["MSET", "a", "1", "b", "2"], &["a", "b"]);
        check(&["EVAL", "return 1", "2", "k1", "k2", "arg"], &["k1", "k2"]);
        check(&["evalsha", "abc", "0", "arg"], &[]);
        check(&["EVAL", "s", "9", "k1"], &["k1"]);
        check(&["EVAL", "s", "x", "k1"], &[]);
        check(&["FCALL_RO", "f", "1", "k", "a"], &["k"]);
        check(
            &["ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"],
            &["d", "a", "b"],
        );
        check(&["BLPOP", "a", "b", "0"], &["a", "b"]);
        check(
            &["XREAD", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0"],
            &["s1", "s2"],
        );
        check(
            &["XREADGROUP", "GROUP", "g", "c", "streams", "s1", "0"],
            &["s1"],
        );
        check(&["OBJECT", "ENCODING", "k"], &["k"]);
        check(&["PING"], &[]);
        check(&["BITOP", "AND", "d", "a", "b"], &["d", "a", "b"]);
        check(&["MSETNX", "a", "1", "b", "2"], &["a", "b"]);
        check(&["NOSUCHCOMMAND", "a"], &[]);
        check(&["SET"], &[]);
    }

    #[test]
    fn routes() {
        let t = CommandTable::builtin();
        let route = |args: &[&str]| {
            t.lookup(&EncodedCommand::from_args(
                args.iter().map(|a| a.as_bytes()),
            ))
            .route
        };
        assert_eq!(route(&["GET", "k"]), Route::Keyed);
        assert_eq!(route(&["ECHO", "x"]), Route::AnyMaster);
        assert_eq!(route(&["DBSIZE"]), Route::FanOut(Merge::Sum));
        assert_eq!(
            route(&["script", "load", "return 1"]),
            Route::FanOut(Merge::AllEqual)
        );
        assert_eq!(
            route(&["SCRIPT", "EXISTS", "a", "b"]),
            Route::FanOut(Merge::AndArrays)
        );
        assert_eq!(route(&["SCRIPT", "KILL"]), Route::AnyMaster);
        assert_eq!(route(&["mget", "a", "b"]), Route::Split(SplitKind::Values));
        assert_eq!(route(&["UNLINK", "a"]), Route::Split(SplitKind::Sum));
        assert_eq!(route(&["KEYS", "*"]), Route::FanOut(Merge::Concat));
        assert_eq!(route(&["wait", "1", "0"]), Route::EveryConnection);
        assert_eq!(route(&["WAITAOF", "1", "0", "0"]), Route::EveryConnection);
        assert_eq!(route(&["multi"]), Route::ConnectionState);
        assert_eq!(route(&["SUBSCRIBE", "ch"]), Route::ConnectionState);
        assert_eq!(route(&["CLIENT", "REPLY", "OFF"]), Route::ConnectionState);
        assert_eq!(route(&["CLIENT", "ID"]), Route::AnyMaster);
        assert_eq!(
            route(&["FUNCTION", "RESTORE", "payload"]),
            Route::FanOut(Merge::AllEqual)
        );
        assert_eq!(route(&["CLUSTER", "NODES"]), Route::AnyMaster);
    }

    #[test]
    fn blocking_commands() {
        let t = CommandTable::builtin();
        let check = |args: &[&str], expected: bool| {
            let cmd = EncodedCommand::from_args(args.iter().map(|a| a.as_bytes()));
            assert_eq!(t.lookup(&cmd).is_blocking(&cmd), expected, "{args:?}");
        };
        check(&["BLPOP", "k", "1"], true);
        check(&["bzpopmin", "k", "0"], true);
        check(&["WAIT", "1", "100"], false);
        check(&["XREAD", "STREAMS", "s", "0"], false);
        check(&["XREAD", "block", "100", "STREAMS", "s", "$"], true);
        check(&["LPOP", "k"], false);
    }

    #[test]
    fn idempotency() {
        let t = CommandTable::builtin();
        let check = |args: &[&str], expected: bool| {
            let cmd = EncodedCommand::from_args(args.iter().map(|a| a.as_bytes()));
            assert_eq!(t.lookup(&cmd).is_idempotent(&cmd), expected, "{args:?}");
        };
        check(&["GET", "k"], true);
        check(&["SET", "k", "v"], true);
        check(&["SET", "k", "v", "EX", "10"], true);
        check(&["SET", "k", "v", "XX"], true);
        check(&["SET", "k", "v", "nx"], false);
        check(&["SET", "k", "v", "GET"], false);
        check(&["INCR", "k"], false);
        check(&["INCRBY", "k", "1"], false);
        check(&["RPUSH", "k", "v"], false);
        check(&["DEL", "k"], false);
        check(&["EXPIRE", "k", "60"], true);
        check(&["EXPIRE", "k", "60", "NX"], false);
        check(&["PEXPIREAT", "k", "1700000000000"], true);
        check(&["MSET", "a", "1"], true);
        check(&["EVAL", "s", "0"], false);
        check(&["EVAL_RO", "s", "0"], true);
        check(&["MGET", "a", "b"], true);
        check(&["UNKNOWNCMD"], false);
        // Regression: every CLUSTER subcommand counted as a read, so a SETSLOT or FAILOVER that may
        // have run was sent again, possibly to another master.
        check(&["CLUSTER", "SETSLOT", "1", "NODE", "id"], false);
        check(&["cluster", "failover"], false);
        check(&["CLUSTER", "RESET"], false);
        check(&["CLUSTER", "INFO"], true);
        check(&["cluster", "shards"], true);
        check(&["CLUSTER", "KEYSLOT", "k"], true);
    }

    #[test]
    fn learns_from_command_reply() {
        use bytes::Bytes;
        let s = |x: &str| Frame::SimpleString(Bytes::copy_from_slice(x.as_bytes()));
        let b = |x: &str| Frame::BulkString(Bytes::copy_from_slice(x.as_bytes()));
        let entry = |name: &str, flags: &[&str], first, last, step| {
            Frame::Array(vec![
                b(name),
                Frame::Integer(-2),
                Frame::Array(flags.iter().map(|f| s(f)).collect()),
                Frame::Integer(first),
                Frame::Integer(last),
                Frame::Integer(step),
            ])
        };
        let reply = Frame::Array(vec![
            entry("get", &["readonly", "fast"], 1, 1, 1),
            entry("newread", &["readonly"], 1, -1, 2),
            entry("newwrite", &["write"], 2, 2, 1),
            entry("newkeyless", &["fast"], 0, 0, 0),
        ]);
        let mut t = CommandTable::builtin();
        assert_eq!(t.learn(&reply), 3);
        let cmd = EncodedCommand::from_args(["NEWREAD", "a", "1", "b", "2"]);
        let info = t.lookup(&cmd);
        assert!(info.readonly);
        assert_eq!(info.route, Route::Keyed);
        assert_eq!(info.key_indices(&cmd).collect::<Vec<_>>(), vec![1, 3]);
        let cmd = EncodedCommand::from_args(["newwrite", "x", "k"]);
        assert_eq!(
            t.lookup(&cmd).key_indices(&cmd).collect::<Vec<_>>(),
            vec![2]
        );
        assert!(!t.lookup(&cmd).readonly);
        assert_eq!(
            t.lookup(&EncodedCommand::from_args(["newkeyless"])).route,
            Route::AnyMaster
        );
    }

    /// Commands are user input and `COMMAND` replies are network input: whatever they hold, key lookup
    /// stays inside the command, and a split covers every key exactly once, each part in one slot.
    mod props {
        use super::*;
        use crate::split::{Plan, plan};
        use bytes::Bytes;
        use hash_slot::Slot;
        use proptest::prelude::*;

        /// Arguments that steer the key rules (numkeys, STREAMS, BLOCK, NX/GET) or make keys share a
        /// slot (hash tags), plus arbitrary short words.
        fn arg() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("STREAMS".to_string()),
                Just("BLOCK".to_string()),
                Just("NX".to_string()),
                Just("GET".to_string()),
                "[0-9]{1,2}",
                "-[0-9]{1,3}",
                "\\{[a-c]\\}[a-z]{0,3}",
                "[a-zA-Z{}|]{0,6}",
            ]
        }

        fn name() -> impl Strategy<Value = String> {
            prop_oneof![
                // The split commands get their own share: they are 6 of about 200 names.
                prop_oneof![
                    Just("MGET"),
                    Just("MSET"),
                    Just("del"),
                    Just("EXISTS"),
                    Just("UNLINK"),
                    Just("TOUCH"),
                ]
                .prop_map(str::to_string),
                // So do the commands whose keys depend on their arguments (numkeys, STREAMS).
                prop_oneof![
                    Just("EVAL"),
                    Just("evalsha"),
                    Just("FCALL"),
                    Just("ZUNIONSTORE"),
                    Just("XREAD"),
                    Just("XREADGROUP"),
                ]
                .prop_map(str::to_string),
                (0..STATIC.len(), proptest::arbitrary::any::<bool>()).prop_map(|(i, lower)| {
                    let n = STATIC.get(i).map_or("GET", |(n, _)| *n);
                    if lower {
                        n.to_ascii_lowercase()
                    } else {
                        n.to_string()
                    }
                }),
                "[a-zA-Z|]{0,8}",
            ]
        }

        fn command() -> impl Strategy<Value = EncodedCommand> {
            (name(), proptest::collection::vec(arg(), 0..10)).prop_map(|(name, args)| {
                EncodedCommand::from_args(std::iter::once(name).chain(args))
            })
        }

        /// A reply shaped like `COMMAND`'s, with any values in any place.
        fn reply() -> impl Strategy<Value = Frame> {
            let int = prop_oneof![
                Just(0i64),
                Just(1),
                Just(-1),
                Just(-2),
                Just(127),
                Just(128),
                Just(-128),
                Just(i64::MAX),
                Just(i64::MIN),
                proptest::arbitrary::any::<i64>(),
            ]
            .prop_map(Frame::Integer);
            let word = prop_oneof![
                Just("readonly"),
                Just("write"),
                Just("blocking"),
                Just("get"),
                Just("newcmd"),
                Just("container|sub"),
                Just(""),
            ]
            .prop_map(|s| Frame::BulkString(Bytes::from_static(s.as_bytes())));
            let leaf = prop_oneof![
                int.clone(),
                word.clone(),
                "[a-z|]{0,70}".prop_map(|s| Frame::SimpleString(Bytes::from(s))),
                Just(Frame::Null),
            ];
            // Mostly the type the parser expects in that place, sometimes anything.
            let int = prop_oneof![4 => int, 1 => leaf.clone()];
            let word = prop_oneof![4 => word, 1 => leaf.clone()];
            let free = leaf.clone().prop_recursive(4, 64, 10, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..11).prop_map(Frame::Array),
                    proptest::collection::vec(inner, 0..4).prop_map(Frame::Set),
                ]
            });
            // Entries shaped as COMMAND's, [name, arity, [flags], first, last, step, ...], with any values,
            // so the parser gets past its shape checks; some carry subcommands in the tenth place.
            let entry = (
                word.clone(),
                proptest::collection::vec(word.clone(), 0..4),
                (int.clone(), int.clone(), int.clone()),
                proptest::option::of(proptest::collection::vec(
                    (word.clone(), proptest::collection::vec(word, 0..3), int),
                    0..3,
                )),
            )
                .prop_map(|(name, flags, (first, last, step), subs)| {
                    let mut fields = vec![
                        name,
                        Frame::Integer(-2),
                        Frame::Array(flags),
                        first,
                        last,
                        step,
                    ];
                    if let Some(subs) = subs {
                        fields.extend([Frame::Null, Frame::Null, Frame::Null]);
                        fields.push(Frame::Array(
                            subs.into_iter()
                                .map(|(n, f, k)| {
                                    Frame::Array(vec![
                                        n,
                                        Frame::Integer(2),
                                        Frame::Array(f),
                                        k.clone(),
                                        k.clone(),
                                        k,
                                    ])
                                })
                                .collect(),
                        ));
                    }
                    Frame::Array(fields)
                });
            prop_oneof![
                free,
                proptest::collection::vec(entry, 0..6).prop_map(Frame::Array),
            ]
        }

        /// The key rules of `table` applied to `cmd`, with everything checked that must hold for any input.
        fn check_keys(table: &CommandTable, cmd: &EncodedCommand) {
            let info = table.lookup(cmd);
            let keys: Vec<usize> = info.key_indices(cmd).collect();
            for (n, i) in keys.iter().enumerate() {
                assert!(*i >= 1 && *i < cmd.argc(), "{cmd:?}: key index {i}");
                assert!(!keys[..n].contains(i), "{cmd:?}: key index {i} twice");
            }
            let _ = (info.is_idempotent(cmd), info.is_blocking(cmd));
            let Route::Split(kind) = info.route else {
                return;
            };
            match plan(cmd, &info, kind) {
                Plan::Whole(_) => {}
                Plan::Split { keys: n, parts, .. } => {
                    let mut seen: Vec<usize> =
                        parts.iter().flat_map(|p| p.positions.clone()).collect();
                    seen.sort_unstable();
                    assert_eq!(seen, (0..n).collect::<Vec<_>>(), "{cmd:?}: every key once");
                    for part in &parts {
                        let part_info = table.lookup(&part.cmd);
                        for i in part_info.key_indices(&part.cmd) {
                            let key = part.cmd.arg(i).unwrap_or_default();
                            assert_eq!(Slot::for_key(key), part.slot, "{cmd:?}: part {part:?}");
                        }
                    }
                }
            }
        }

        proptest! {
            #[test]
            fn key_rules_stay_inside_the_command(cmd in command()) {
                check_keys(&CommandTable::builtin(), &cmd);
            }

            #[test]
            fn learning_any_reply_keeps_key_rules_sound(
                reply in reply(),
                cmds in proptest::collection::vec(command(), 1..8),
            ) {
                let mut table = CommandTable::builtin();
                let before = table.map.len();
                let added = table.learn(&reply);
                prop_assert_eq!(table.map.len(), before + added);
                for cmd in &cmds {
                    check_keys(&table, cmd);
                }
                // Learned names are looked up like any other: "newcmd" with arguments up to 10.
                let learned = EncodedCommand::from_args(["newcmd", "a", "b", "c", "d", "e", "f", "g", "h", "i"]);
                check_keys(&table, &learned);
            }
        }
    }
}

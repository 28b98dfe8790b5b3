//! Workloads: what one request of each kind contains, built once per iteration and handed, identical, to every client.

use bytes::Bytes;
use rand::Rng;
use rand::rngs::SmallRng;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The workloads of the matrix; names match the seeds (`get_single`, ..., `pipeline`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Workload {
    /// GET of a random pre-set key (values of `value_size` bytes).
    GetSingle,
    /// 50% GET, 50% SET of a random key.
    SetGet,
    /// INCRBY + EXPIRE on one key per task, as one pipeline.
    FixedKey,
    /// INCRBY + EXPIRE on a random key, as one pipeline.
    VariableKey,
    /// The rate-limit request over 2 random keys: INCRBY k 1 + EXPIRE k 60 per key, one pipeline.
    Mixed2Keys,
    /// The rate-limit request over 10 random keys, one pipeline.
    Mixed10Keys,
    /// `pipeline_size` random GET / SET / INCR in one pipeline.
    Pipeline,
}

impl Workload {
    /// Every workload, in the order the report lists them.
    pub const ALL: [Workload; 7] = [
        Workload::GetSingle,
        Workload::SetGet,
        Workload::FixedKey,
        Workload::VariableKey,
        Workload::Mixed2Keys,
        Workload::Mixed10Keys,
        Workload::Pipeline,
    ];

    /// The seed name, e.g. `mixed_10keys`.
    pub fn name(self) -> &'static str {
        match self {
            Workload::GetSingle => "get_single",
            Workload::SetGet => "set_get",
            Workload::FixedKey => "fixed_key",
            Workload::VariableKey => "variable_key",
            Workload::Mixed2Keys => "mixed_2keys",
            Workload::Mixed10Keys => "mixed_10keys",
            Workload::Pipeline => "pipeline",
        }
    }

    /// Parses a seed name.
    pub fn parse(name: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == name)
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One command of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `GET key`; the reply must be a value of the configured size.
    Get,
    /// `SET key value` with the request's shared value.
    Set,
    /// `INCR key`.
    Incr,
    /// `INCRBY key n`.
    IncrBy(i64),
    /// `EXPIRE key seconds`.
    Expire(i64),
}

/// A command: operation plus key. Keys are refcounted `Bytes` from the pre-built key tables, so building a request
/// allocates nothing per key.
#[derive(Clone, Debug)]
pub struct Command {
    /// What to do.
    pub op: Op,
    /// The key it acts on.
    pub key: Bytes,
}

/// One request as a caller of a client library would issue it: either one command, or one pipeline.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// The commands, in order.
    pub cmds: Vec<Command>,
    /// True when the commands go out as one pipeline (also for a pipeline of one command group).
    pub pipelined: bool,
    /// The value every SET writes.
    pub value: Bytes,
}

/// The key tables and value shared by every task of a run.
#[derive(Clone, Debug)]
pub struct KeySpace {
    /// `v:<i>` keys, pre-set to `value` before the first cell; GET and SET use them.
    pub value_keys: KeyTable,
    /// `c:<i>` keys, counters only (INCR, INCRBY, EXPIRE), so an INCR never meets a string value.
    pub counter_keys: KeyTable,
    /// The value of `value_size` bytes.
    pub value: Bytes,
}

/// The keys `<prefix>:0` .. `<prefix>:<n-1>`, each in a fixed-width cell of one static buffer.
///
/// Why this shape: picking a random key is then one multiplication and one cache line of key text,
/// and the key is a `Bytes::from_static`, whose clone and drop are copies. A table of refcounted
/// `Bytes` (32 bytes each, 3 MiB for 100k keys) cost a cache miss on the table plus two atomic
/// operations per request: `Generator::fill` and the `Bytes` refcounts were about 15% of the
/// process in perf, load the generator added to every client alike, which blurs the ratios
/// between clients. The buffer is leaked (one per table per run, under 2 MiB).
#[derive(Clone, Copy, Debug)]
pub struct KeyTable {
    text: &'static [u8],
    width: usize,
    prefix_len: usize,
    len: usize,
}

impl KeyTable {
    fn new(prefix: &str, n: usize) -> KeyTable {
        let n = n.max(1);
        let width = prefix.len() + 1 + (n - 1).to_string().len();
        let mut text = Vec::with_capacity(n * width);
        for i in 0..n {
            let key = format!("{prefix}:{i}");
            text.extend_from_slice(key.as_bytes());
            text.resize(text.len() + width - key.len(), b' ');
        }
        KeyTable {
            text: Vec::leak(text),
            width,
            prefix_len: prefix.len() + 1,
            len: n,
        }
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the table has no keys (never: a table has at least one).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Key `i` (empty past the end).
    pub fn get(&self, i: usize) -> Bytes {
        let digits = if i == 0 { 1 } else { i.ilog10() as usize + 1 };
        let start = i * self.width;
        let key = self
            .text
            .get(start..start + self.prefix_len + digits)
            .unwrap_or_default();
        Bytes::from_static(key)
    }

    /// Every key, in order.
    pub fn iter(&self) -> impl Iterator<Item = Bytes> + '_ {
        (0..self.len).map(|i| self.get(i))
    }
}

impl KeySpace {
    /// Builds `keys` value keys and `keys` counter keys with a value of `value_size` bytes.
    /// The value is static too (leaked once per run), so every request's clone of it is a copy
    /// instead of an atomic increment on one cache line shared by both cores.
    pub fn new(keys: usize, value_size: usize) -> KeySpace {
        KeySpace {
            value_keys: KeyTable::new("v", keys),
            counter_keys: KeyTable::new("c", keys),
            value: Bytes::from_static(Vec::leak(vec![b'x'; value_size])),
        }
    }

    fn value_key(&self, rng: &mut SmallRng) -> Bytes {
        self.value_keys
            .get(rng.random_range(0..self.value_keys.len()))
    }

    fn counter_key(&self, rng: &mut SmallRng) -> Bytes {
        self.counter_keys
            .get(rng.random_range(0..self.counter_keys.len()))
    }
}

/// Builds requests of one workload for one task.
#[derive(Debug)]
pub(super) struct Generator {
    workload: Workload,
    keys: KeySpace,
    fixed_key: Bytes,
    pipeline_size: usize,
}

/// The rate-limit TTL in seconds (the Envoy rate-limit service's per-window EXPIRE).
const RATE_LIMIT_TTL: i64 = 60;

impl Generator {
    /// A generator for `task` (the task index picks the fixed key of `fixed_key`).
    pub(super) fn new(
        workload: Workload,
        keys: KeySpace,
        task: usize,
        pipeline_size: usize,
    ) -> Generator {
        Generator {
            workload,
            fixed_key: Bytes::from(format!("f:{task}")),
            keys,
            pipeline_size: pipeline_size.max(1),
        }
    }

    /// Refills `req` with the next request (reusing its buffer).
    pub(super) fn fill(&self, req: &mut Request, rng: &mut SmallRng) {
        req.cmds.clear();
        req.value = self.keys.value.clone();
        let ks = &self.keys;
        match self.workload {
            Workload::GetSingle => {
                req.pipelined = false;
                req.cmds.push(Command {
                    op: Op::Get,
                    key: ks.value_key(rng),
                });
            }
            Workload::SetGet => {
                req.pipelined = false;
                let op = if rng.random_bool(0.5) {
                    Op::Get
                } else {
                    Op::Set
                };
                req.cmds.push(Command {
                    op,
                    key: ks.value_key(rng),
                });
            }
            Workload::FixedKey => {
                req.pipelined = true;
                rate_limit(req, self.fixed_key.clone());
            }
            Workload::VariableKey => {
                req.pipelined = true;
                rate_limit(req, ks.counter_key(rng));
            }
            Workload::Mixed2Keys | Workload::Mixed10Keys => {
                req.pipelined = true;
                let n = if self.workload == Workload::Mixed2Keys {
                    2
                } else {
                    10
                };
                for _ in 0..n {
                    rate_limit(req, ks.counter_key(rng));
                }
            }
            Workload::Pipeline => {
                req.pipelined = true;
                for _ in 0..self.pipeline_size {
                    let cmd = match rng.random_range(0..3u8) {
                        0 => Command {
                            op: Op::Get,
                            key: ks.value_key(rng),
                        },
                        1 => Command {
                            op: Op::Set,
                            key: ks.value_key(rng),
                        },
                        _ => Command {
                            op: Op::Incr,
                            key: ks.counter_key(rng),
                        },
                    };
                    req.cmds.push(cmd);
                }
            }
        }
    }
}

fn rate_limit(req: &mut Request, key: Bytes) {
    req.cmds.push(Command {
        op: Op::IncrBy(1),
        key: key.clone(),
    });
    req.cmds.push(Command {
        op: Op::Expire(RATE_LIMIT_TTL),
        key,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_table_holds_each_key_in_its_cell() {
        let t = KeyTable::new("v", 1001);
        assert_eq!(t.len(), 1001);
        for (i, expected) in [
            (0, "v:0"),
            (9, "v:9"),
            (10, "v:10"),
            (999, "v:999"),
            (1000, "v:1000"),
        ] {
            assert_eq!(t.get(i), Bytes::from(expected), "key {i}");
        }
        assert!(t.get(1001).is_empty());
        let all: Vec<Bytes> = t.iter().collect();
        assert_eq!(all.len(), 1001);
        assert_eq!(all[123], Bytes::from("v:123"));
    }
}

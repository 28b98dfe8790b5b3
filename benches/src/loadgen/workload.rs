//! Workloads: what one request of each kind contains, built once per iteration and handed, identical, to every client.

use bytes::Bytes;
use rand::Rng;
use rand::rngs::SmallRng;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

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
    pub value_keys: Arc<[Bytes]>,
    /// `c:<i>` keys, counters only (INCR, INCRBY, EXPIRE), so an INCR never meets a string value.
    pub counter_keys: Arc<[Bytes]>,
    /// The value of `value_size` bytes.
    pub value: Bytes,
}

/// `<prefix>:0` .. `<prefix>:<n-1>` as static `Bytes` over one leaked buffer.
fn static_keys(prefix: &str, n: usize) -> Arc<[Bytes]> {
    let mut text = String::new();
    let mut ends = Vec::with_capacity(n);
    for i in 0..n {
        text.push_str(&format!("{prefix}:{i}"));
        ends.push(text.len());
    }
    let all: &'static [u8] = String::leak(text).as_bytes();
    let mut start = 0;
    ends.into_iter()
        .map(|end| {
            let key = Bytes::from_static(all.get(start..end).unwrap_or_default());
            start = end;
            key
        })
        .collect()
}

impl KeySpace {
    /// Builds `keys` value keys and `keys` counter keys with a value of `value_size` bytes.
    ///
    /// The keys and the value live in memory leaked for the rest of the process (one run builds one
    /// key space, a few MiB), so that they are `Bytes::from_static`: cloning one per request is a copy
    /// of two words. Refcounted `Bytes` put two atomic operations per request on a cache line that
    /// every task on both cores shares (the value) or that hops between cores (the keys): the first
    /// profile showed `shared_clone` + `shared_drop` at 10% of the process, load the generator added
    /// to every client alike, which blurs the comparison between them.
    pub fn new(keys: usize, value_size: usize) -> KeySpace {
        let keys = keys.max(1);
        KeySpace {
            value_keys: static_keys("v", keys),
            counter_keys: static_keys("c", keys),
            value: Bytes::from_static(Vec::leak(vec![b'x'; value_size])),
        }
    }

    fn value_key(&self, rng: &mut SmallRng) -> Bytes {
        let i = rng.random_range(0..self.value_keys.len());
        self.value_keys.get(i).cloned().unwrap_or_default()
    }

    fn counter_key(&self, rng: &mut SmallRng) -> Bytes {
        let i = rng.random_range(0..self.counter_keys.len());
        self.counter_keys.get(i).cloned().unwrap_or_default()
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

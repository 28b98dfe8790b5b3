//! redis-rs (`redis` crate v1): `MultiplexedConnection` standalone, `cluster_async::ClusterConnection` for a cluster.

use super::{BenchClient, ErrKind, check_value};
use crate::loadgen::workload::{Command, Op, Request};
use futures_util::future::join_all;
use hash_slot::Slot;
use redis::Value;
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster_async::ClusterConnection;

/// redis-rs against one standalone server.
#[derive(Clone)]
pub(crate) struct RedisStandalone {
    conn: MultiplexedConnection,
    value_size: usize,
}

impl RedisStandalone {
    /// Opens `connections` multiplexed connections; task `i` is handed `handles[i % connections]`.
    pub(crate) async fn connect(
        url: &str,
        connections: usize,
        value_size: usize,
    ) -> Result<Vec<RedisStandalone>, String> {
        let client = redis::Client::open(url).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for _ in 0..connections.max(1) {
            let conn = client
                .get_multiplexed_async_connection()
                .await
                .map_err(|e| e.to_string())?;
            out.push(RedisStandalone { conn, value_size });
        }
        Ok(out)
    }
}

impl BenchClient for RedisStandalone {
    async fn request(&mut self, req: &Request) -> Result<usize, ErrKind> {
        run_whole(&mut self.conn, req, self.value_size).await
    }
}

/// redis-rs against a cluster; requests that span several slots are grouped by slot by the caller.
#[derive(Clone)]
pub(crate) struct RedisCluster {
    conn: ClusterConnection,
    value_size: usize,
}

impl RedisCluster {
    /// Opens `connections` cluster connections (each with its own per-node connections).
    pub(crate) async fn connect(
        seeds: &[String],
        connections: usize,
        value_size: usize,
    ) -> Result<Vec<RedisCluster>, String> {
        let client = redis::cluster::ClusterClient::new(seeds.iter().map(String::as_str))
            .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for _ in 0..connections.max(1) {
            let conn = client
                .get_async_connection()
                .await
                .map_err(|e| e.to_string())?;
            out.push(RedisCluster { conn, value_size });
        }
        Ok(out)
    }
}

impl BenchClient for RedisCluster {
    async fn request(&mut self, req: &Request) -> Result<usize, ErrKind> {
        if !req.pipelined || single_slot(&req.cmds) {
            return run_whole(&mut self.conn, req, self.value_size).await;
        }
        // The slot grouping redis-rs users write themselves: one pipeline per slot, the groups concurrently.
        let mut groups: Vec<(Slot, Vec<&Command>)> = Vec::new();
        for cmd in &req.cmds {
            let slot = Slot::for_key(&cmd.key);
            match groups.iter_mut().find(|(s, _)| *s == slot) {
                Some((_, g)) => g.push(cmd),
                None => groups.push((slot, vec![cmd])),
            }
        }
        let value_size = self.value_size;
        let futures = groups.into_iter().map(|(_, cmds)| {
            let mut conn = self.conn.clone();
            let mut pipe = redis::pipe();
            for cmd in &cmds {
                add(&mut pipe, cmd, req);
            }
            async move {
                let replies = pipe
                    .query_async::<Vec<Value>>(&mut conn)
                    .await
                    .map_err(classify)?;
                check_all(cmds.iter().copied(), &replies, value_size)
            }
        });
        let mut done = 0;
        for r in join_all(futures).await {
            done += r?;
        }
        Ok(done)
    }
}

fn single_slot(cmds: &[Command]) -> bool {
    let mut slots = cmds.iter().map(|c| Slot::for_key(&c.key));
    match slots.next() {
        Some(first) => slots.all(|s| s == first),
        None => true,
    }
}

async fn run_whole<C: ConnectionLike + Send>(
    conn: &mut C,
    req: &Request,
    value_size: usize,
) -> Result<usize, ErrKind> {
    if !req.pipelined {
        let Some(cmd) = req.cmds.first() else {
            return Ok(0);
        };
        let reply = match cmd.op {
            Op::Get => {
                redis::cmd("GET")
                    .arg(&cmd.key[..])
                    .query_async::<Value>(conn)
                    .await
            }
            Op::Set => {
                redis::cmd("SET")
                    .arg(&cmd.key[..])
                    .arg(&req.value[..])
                    .query_async::<Value>(conn)
                    .await
            }
            Op::Incr => {
                redis::cmd("INCR")
                    .arg(&cmd.key[..])
                    .query_async::<Value>(conn)
                    .await
            }
            Op::IncrBy(n) => {
                redis::cmd("INCRBY")
                    .arg(&cmd.key[..])
                    .arg(n)
                    .query_async::<Value>(conn)
                    .await
            }
            Op::Expire(s) => {
                redis::cmd("EXPIRE")
                    .arg(&cmd.key[..])
                    .arg(s)
                    .query_async::<Value>(conn)
                    .await
            }
        }
        .map_err(classify)?;
        return check_all(
            std::iter::once(cmd),
            std::slice::from_ref(&reply),
            value_size,
        );
    }
    let mut pipe = redis::pipe();
    for cmd in &req.cmds {
        add(&mut pipe, cmd, req);
    }
    let replies = pipe
        .query_async::<Vec<Value>>(conn)
        .await
        .map_err(classify)?;
    check_all(req.cmds.iter(), &replies, value_size)
}

fn add(pipe: &mut redis::Pipeline, cmd: &Command, req: &Request) {
    match cmd.op {
        Op::Get => pipe.cmd("GET").arg(&cmd.key[..]),
        Op::Set => pipe.cmd("SET").arg(&cmd.key[..]).arg(&req.value[..]),
        Op::Incr => pipe.cmd("INCR").arg(&cmd.key[..]),
        Op::IncrBy(n) => pipe.cmd("INCRBY").arg(&cmd.key[..]).arg(n),
        Op::Expire(s) => pipe.cmd("EXPIRE").arg(&cmd.key[..]).arg(s),
    };
}

fn check_all<'a>(
    cmds: impl Iterator<Item = &'a Command>,
    replies: &[Value],
    value_size: usize,
) -> Result<usize, ErrKind> {
    let mut n = 0;
    for (cmd, reply) in cmds.zip(replies) {
        match reply {
            Value::ServerError(_) => return Err(ErrKind::Server),
            Value::BulkString(v) if cmd.op == Op::Get => check_value(Some(v.len()), value_size)?,
            _ if cmd.op == Op::Get => return Err(ErrKind::Unexpected),
            _ => {}
        }
        n += 1;
    }
    if n == replies.len() {
        Ok(n)
    } else {
        Err(ErrKind::Unexpected)
    }
}

fn classify(e: redis::RedisError) -> ErrKind {
    if e.is_timeout() {
        ErrKind::Timeout
    } else if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() {
        ErrKind::Connection
    } else if matches!(e.kind(), redis::ErrorKind::Server(_)) {
        ErrKind::Server
    } else {
        ErrKind::Other
    }
}

//! The slotmux driver: single commands through the typed helpers, several commands as one `pipeline` call.

use crate::loadgen::clients::{BenchClient, ErrKind, check_value};
use crate::loadgen::workload::{Op, Request};
use slotmux::{Client, Cmd, Pipeline, Value};

/// slotmux, standalone or cluster (the client detects which).
#[derive(Clone)]
pub(crate) struct SlotmuxClient {
    client: Client,
    value_size: usize,
}

impl SlotmuxClient {
    /// One client over `hosts` (host, port) with `connections` connections per node.
    pub(crate) async fn connect(
        hosts: &[(String, u16)],
        cluster: bool,
        connections: usize,
        value_size: usize,
    ) -> Result<Vec<SlotmuxClient>, String> {
        let client = Client::builder()
            .nodes(hosts.iter().map(|(h, p)| format!("{h}:{p}")))
            .connections_per_node(connections.max(1))
            .build()
            .await
            .map_err(|e| e.to_string())?;
        // The client detects the server's mode itself; a mismatch would measure the wrong thing.
        if client.is_cluster() != cluster {
            return Err(format!(
                "slotmux detected cluster={} where the target is cluster={cluster}",
                client.is_cluster()
            ));
        }
        Ok(vec![SlotmuxClient { client, value_size }])
    }
}

fn cmd(op: &Op, key: &bytes::Bytes, value: &bytes::Bytes) -> Cmd {
    match *op {
        Op::Get => Cmd::new("GET").arg(key),
        Op::Set => Cmd::new("SET").arg(key).arg(value),
        Op::Incr => Cmd::new("INCR").arg(key),
        Op::IncrBy(n) => Cmd::new("INCRBY").arg(key).arg(n),
        Op::Expire(s) => Cmd::new("EXPIRE").arg(key).arg(s),
    }
}

impl BenchClient for SlotmuxClient {
    async fn request(&mut self, req: &Request) -> Result<usize, ErrKind> {
        if !req.pipelined {
            let Some(c) = req.cmds.first() else {
                return Ok(0);
            };
            match c.op {
                Op::Get => {
                    let v = self.client.get(&c.key).await.map_err(classify)?;
                    check_value(v.map(|b| b.len()), self.value_size)?;
                }
                Op::Set => {
                    self.client
                        .set(&c.key, &req.value)
                        .await
                        .map_err(classify)?;
                }
                _ => {
                    self.client
                        .send(cmd(&c.op, &c.key, &req.value))
                        .await
                        .map_err(classify)?;
                }
            }
            return Ok(1);
        }
        let mut pipe = Pipeline::with_capacity(req.cmds.len());
        for c in &req.cmds {
            pipe.push(cmd(&c.op, &c.key, &req.value));
        }
        let replies = self.client.pipeline(&pipe).await.map_err(classify)?;
        if replies.len() != req.cmds.len() {
            return Err(ErrKind::Unexpected);
        }
        for (c, reply) in req.cmds.iter().zip(replies) {
            let reply: Value = reply.map_err(classify)?;
            if c.op == Op::Get {
                check_value(reply.as_bytes().map(|b| b.len()), self.value_size)?;
            }
        }
        Ok(req.cmds.len())
    }
}

fn classify(e: slotmux::Error) -> ErrKind {
    if e.is_timeout() {
        ErrKind::Timeout
    } else if e.is_connection() {
        ErrKind::Connection
    } else if e.is_server() {
        ErrKind::Server
    } else {
        ErrKind::Other
    }
}

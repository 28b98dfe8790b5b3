//! fred v10: one client (or a pool when several connections are asked for), its own pipelines.

use super::{BenchClient, ErrKind, check_value};
use crate::loadgen::workload::{Op, Request};
use fred::prelude::*;
use fred::types::config::ServerConfig;

/// fred, standalone or cluster.
#[derive(Clone)]
pub(crate) struct FredClient {
    client: Client,
    value_size: usize,
}

impl FredClient {
    /// Connects to `hosts`; a cluster when `cluster`. Returns one handle per connection (fred's pool members).
    pub(crate) async fn connect(
        hosts: &[(String, u16)],
        cluster: bool,
        connections: usize,
        value_size: usize,
    ) -> Result<Vec<FredClient>, String> {
        let server = if cluster {
            ServerConfig::new_clustered(hosts.to_vec())
        } else {
            let (host, port) = hosts.first().cloned().ok_or("no host")?;
            ServerConfig::new_centralized(host, port)
        };
        let config = Config {
            server,
            ..Default::default()
        };
        let builder = Builder::from_config(config);
        let clients: Vec<Client> = if connections > 1 {
            let pool = builder.build_pool(connections).map_err(|e| e.to_string())?;
            pool.init().await.map_err(|e| e.to_string())?;
            pool.clients().to_vec()
        } else {
            let client = builder.build().map_err(|e| e.to_string())?;
            client.init().await.map_err(|e| e.to_string())?;
            vec![client]
        };
        Ok(clients
            .into_iter()
            .map(|client| FredClient { client, value_size })
            .collect())
    }

    /// Closes the connections.
    pub(crate) async fn quit(&self) {
        let _ = self.client.quit().await;
    }
}

impl BenchClient for FredClient {
    async fn request(&mut self, req: &Request) -> Result<usize, ErrKind> {
        if !req.pipelined {
            let Some(cmd) = req.cmds.first() else {
                return Ok(0);
            };
            let reply: Value = match cmd.op {
                Op::Get => self.client.get(cmd.key.clone()).await,
                Op::Set => {
                    self.client
                        .set(cmd.key.clone(), req.value.clone(), None, None, false)
                        .await
                }
                Op::Incr => self.client.incr(cmd.key.clone()).await,
                Op::IncrBy(n) => self.client.incr_by(cmd.key.clone(), n).await,
                Op::Expire(s) => self.client.expire(cmd.key.clone(), s, None).await,
            }
            .map_err(classify)?;
            check(&cmd.op, &reply, self.value_size)?;
            return Ok(1);
        }
        let pipe = self.client.pipeline();
        for cmd in &req.cmds {
            let queued: Result<(), Error> = match cmd.op {
                Op::Get => pipe.get(cmd.key.clone()).await,
                Op::Set => {
                    pipe.set(cmd.key.clone(), req.value.clone(), None, None, false)
                        .await
                }
                Op::Incr => pipe.incr(cmd.key.clone()).await,
                Op::IncrBy(n) => pipe.incr_by(cmd.key.clone(), n).await,
                Op::Expire(s) => pipe.expire(cmd.key.clone(), s, None).await,
            };
            queued.map_err(classify)?;
        }
        let replies: Vec<Result<Value, Error>> = pipe.try_all().await;
        if replies.len() != req.cmds.len() {
            return Err(ErrKind::Unexpected);
        }
        for (cmd, reply) in req.cmds.iter().zip(replies) {
            check(&cmd.op, &reply.map_err(classify)?, self.value_size)?;
        }
        Ok(req.cmds.len())
    }
}

fn check(op: &Op, reply: &Value, value_size: usize) -> Result<(), ErrKind> {
    if *op != Op::Get {
        return Ok(());
    }
    match reply {
        Value::Bytes(b) => check_value(Some(b.len()), value_size),
        Value::String(s) => check_value(Some(s.len()), value_size),
        _ => Err(ErrKind::Unexpected),
    }
}

fn classify(e: Error) -> ErrKind {
    match e.kind() {
        ErrorKind::Timeout => ErrKind::Timeout,
        ErrorKind::IO | ErrorKind::Canceled => ErrKind::Connection,
        ErrorKind::Routing | ErrorKind::Protocol => ErrKind::Other,
        _ if e.details().starts_with("ERR") || e.details().starts_with("WRONGTYPE") => {
            ErrKind::Server
        }
        _ => ErrKind::Other,
    }
}

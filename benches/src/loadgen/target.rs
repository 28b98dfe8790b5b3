//! The servers a run measures against: a cluster or a standalone server, on loopback only.

use super::workload::KeySpace;
use fred::prelude::*;
use fred::types::config::ServerConfig;

/// One system under test.
#[derive(Clone, Debug)]
pub struct Target {
    /// "cluster" or "standalone".
    pub name: String,
    /// True for a cluster.
    pub cluster: bool,
    /// `redis://host:port` seed URLs (every node for a cluster we discovered).
    pub urls: Vec<String>,
    /// The same as host and port.
    pub hosts: Vec<(String, u16)>,
    /// Process ids of every server, for their CPU time (found with `INFO server`, so also for `--nodes`).
    pub server_pids: Vec<u32>,
}

/// Splits `redis://host:port[/db]` into host and port, accepting only loopback hosts: the instrument never loads a
/// machine it was not started on.
pub fn parse_loopback_url(url: &str) -> Result<(String, u16), String> {
    let rest = url.strip_prefix("redis://").unwrap_or(url);
    let rest = rest.split('/').next().unwrap_or(rest);
    let (host, port) = rest
        .rsplit_once(':')
        .ok_or_else(|| format!("{url}: expected redis://host:port"))?;
    let port: u16 = port.parse().map_err(|_| format!("{url}: bad port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if !matches!(host, "127.0.0.1" | "localhost" | "::1") && !host.starts_with("127.") {
        return Err(format!("{url}: only loopback addresses are allowed"));
    }
    Ok((host.to_string(), port))
}

impl Target {
    /// Describes the servers behind `urls`: asks the first whether it is a cluster, lists every node of a cluster,
    /// and reads each server's process id.
    pub async fn discover(urls: &[String]) -> Result<Target, String> {
        let first = urls.first().ok_or("no node given")?;
        let (host, port) = parse_loopback_url(first)?;
        let mut conn = admin(&host, port).await?;
        let info: String = redis::cmd("INFO")
            .arg("cluster")
            .query_async(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        let cluster = info.contains("cluster_enabled:1");
        let mut hosts = Vec::new();
        if cluster {
            let nodes: String = redis::cmd("CLUSTER")
                .arg("NODES")
                .query_async(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            for line in nodes.lines() {
                // <id> <ip:port@cport[,hostname]> <flags> ...
                let Some(addr) = line.split_whitespace().nth(1) else {
                    continue;
                };
                let addr = addr.split('@').next().unwrap_or(addr);
                let (h, p) = addr
                    .rsplit_once(':')
                    .ok_or_else(|| format!("bad CLUSTER NODES line {line:?}"))?;
                let h = if h.is_empty() {
                    host.clone()
                } else {
                    h.to_string()
                };
                let p: u16 = p.parse().map_err(|_| format!("bad port in {line:?}"))?;
                parse_loopback_url(&format!("{h}:{p}"))?;
                hosts.push((h, p));
            }
        } else {
            for u in urls {
                hosts.push(parse_loopback_url(u)?);
            }
        }
        hosts.sort();
        hosts.dedup();
        let mut server_pids = Vec::new();
        for (h, p) in &hosts {
            let mut c = admin(h, *p).await?;
            let info: String = redis::cmd("INFO")
                .arg("server")
                .query_async(&mut c)
                .await
                .map_err(|e| e.to_string())?;
            if let Some(pid) = info
                .lines()
                .find_map(|l| l.strip_prefix("process_id:"))
                .and_then(|v| v.trim().parse().ok())
            {
                server_pids.push(pid);
            }
        }
        Ok(Target {
            name: if cluster { "cluster" } else { "standalone" }.to_string(),
            cluster,
            urls: hosts
                .iter()
                .map(|(h, p)| format!("redis://{h}:{p}"))
                .collect(),
            hosts,
            server_pids,
        })
    }

    /// Sets every value key to the run's value, so each GET finds a value of the expected size.
    pub async fn preload(&self, keys: &KeySpace) -> Result<(), String> {
        let server = if self.cluster {
            ServerConfig::new_clustered(self.hosts.clone())
        } else {
            let (h, p) = self.hosts.first().cloned().ok_or("no host")?;
            ServerConfig::new_centralized(h, p)
        };
        let client = Builder::from_config(Config {
            server,
            ..Default::default()
        })
        .build()
        .map_err(|e| e.to_string())?;
        client.init().await.map_err(|e| e.to_string())?;
        // 1000 SETs per pipeline: large enough that loading 100k keys takes well under a second.
        let all: Vec<bytes::Bytes> = keys.value_keys.iter().collect();
        for chunk in all.chunks(1000) {
            let pipe = client.pipeline();
            for k in chunk {
                let _: () = pipe
                    .set(k.clone(), keys.value.clone(), None, None, false)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            for r in pipe.try_all::<Value>().await {
                r.map_err(|e| e.to_string())?;
            }
        }
        let _ = client.quit().await;
        Ok(())
    }

    /// The first node's host and port (where redis-benchmark starts).
    pub fn first_host(&self) -> Option<(String, u16)> {
        self.hosts.first().cloned()
    }
}

async fn admin(host: &str, port: u16) -> Result<redis::aio::MultiplexedConnection, String> {
    let client =
        redis::Client::open(format!("redis://{host}:{port}")).map_err(|e| e.to_string())?;
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| e.to_string())?;
    let _: String = redis::cmd("PING")
        .query_async(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    Ok(conn)
}

//! [`Scan`]: every key of the server, or of every master of a cluster, in batches.

use bytes::Bytes;

use crate::client::{Client, from_router};
use crate::cmd::Cmd;
use crate::error::{Error, ErrorKind, Result};
use crate::value::Value;

/// A walk over the keys with `SCAN`, from [`Client::scan`].
///
/// Against one server it follows `SCAN`'s cursor; against a cluster it walks every master in turn (a
/// master that fails over mid-scan is replaced by its successor, scanned from the start). `SCAN`'s
/// guarantee holds: a key present for the whole walk is returned at least once. A key may be returned
/// more than once, and keys added or removed during the walk may or may not be.
///
/// ```no_run
/// # async fn run(client: slotmux::Client) -> slotmux::Result<()> {
/// let mut scan = client.scan(Some("session:*"), Some(500));
/// while let Some(keys) = scan.next_batch().await? {
///     for key in keys {
///         println!("{}", String::from_utf8_lossy(&key));
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Scan {
    walk: Walk,
}

#[derive(Debug)]
enum Walk {
    Standalone {
        client: Client,
        /// `None` once the server has returned cursor 0.
        cursor: Option<Bytes>,
        pattern: Option<Bytes>,
        count: Option<u32>,
    },
    Cluster(cluster_router::ClusterScan),
}

impl Scan {
    pub(crate) fn standalone(client: Client, pattern: Option<Bytes>, count: Option<u32>) -> Scan {
        Scan {
            walk: Walk::Standalone {
                client,
                cursor: Some(Bytes::from_static(b"0")),
                pattern,
                count,
            },
        }
    }

    pub(crate) fn cluster(scan: cluster_router::ClusterScan) -> Scan {
        Scan {
            walk: Walk::Cluster(scan),
        }
    }

    /// The next batch of keys (possibly empty), or `None` when the walk is over.
    /// Each call is one `SCAN` round trip (or a few, against a cluster) and returns within the client's
    /// command timeout.
    pub async fn next_batch(&mut self) -> Result<Option<Vec<Bytes>>> {
        match &mut self.walk {
            Walk::Cluster(scan) => scan.next_batch().await.map_err(from_router),
            Walk::Standalone {
                client,
                cursor,
                pattern,
                count,
            } => {
                let Some(at) = cursor.as_ref() else {
                    return Ok(None);
                };
                let mut cmd = Cmd::new("SCAN").arg(at);
                if let Some(p) = pattern {
                    cmd = cmd.arg("MATCH").arg(&*p);
                }
                if let Some(n) = count {
                    cmd = cmd.arg("COUNT").arg(*n);
                }
                // SCAN reads only: safe to re-send.
                let reply = client.send(cmd.retry_safe()).await?;
                let (next, keys) = parse_scan_reply(reply)?;
                *cursor = (next.as_ref() != b"0").then_some(next);
                Ok(Some(keys))
            }
        }
    }
}

/// `[cursor, [key, ...]]` into the next cursor and the keys.
fn parse_scan_reply(reply: Value) -> Result<(Bytes, Vec<Bytes>)> {
    let bad = |why: &str| Error::with_message(ErrorKind::Protocol, format!("SCAN reply: {why}"));
    let Value::Array(mut parts) = reply else {
        return Err(bad("not an array"));
    };
    if parts.len() != 2 {
        return Err(bad("not two elements"));
    }
    let keys = parts.pop();
    let cursor = parts.pop();
    let cursor = match cursor {
        Some(Value::Bulk(c) | Value::Status(c)) => c,
        _ => return Err(bad("cursor is not a string")),
    };
    let keys = match keys {
        Some(Value::Array(keys) | Value::Set(keys)) => keys,
        _ => return Err(bad("keys are not an array")),
    };
    let keys = keys
        .into_iter()
        .map(|k| match k {
            Value::Bulk(k) | Value::Status(k) => Ok(k),
            _ => Err(bad("a key is not a string")),
        })
        .collect::<Result<Vec<Bytes>>>()?;
    Ok((cursor, keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn reads_scan_replies() {
        let reply = Value::Array(vec![bulk("17"), Value::Array(vec![bulk("a"), bulk("b")])]);
        let (cursor, keys) = parse_scan_reply(reply).unwrap();
        assert_eq!(cursor.as_ref(), b"17");
        assert_eq!(
            keys,
            vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")]
        );
        let end = Value::Array(vec![bulk("0"), Value::Array(vec![])]);
        assert_eq!(parse_scan_reply(end).unwrap().0.as_ref(), b"0");
        for bad in [
            Value::Int(3),
            Value::Array(vec![bulk("0")]),
            Value::Array(vec![Value::Int(0), Value::Array(vec![])]),
            Value::Array(vec![bulk("0"), Value::Array(vec![Value::Int(1)])]),
        ] {
            assert_eq!(
                parse_scan_reply(bad).unwrap_err().kind(),
                ErrorKind::Protocol
            );
        }
    }
}

//! [`Scan`]: every key of the server, or of every master of a cluster, in batches.

use bytes::Bytes;
use resp_codec::Frame;

use crate::client::{Client, from_router};
use crate::error::{Error, Result};

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
                let cmd = cluster_router::scan_command(at, pattern.as_deref(), *count);
                let reply = client.send_to_one_server(&cmd).await?;
                if let Frame::SimpleError(text) | Frame::BulkError(text) = &reply {
                    return Err(Error::server(text));
                }
                // The router's own reading of the reply, which it uses for every master of a cluster.
                let (next, keys) = cluster_router::parse_scan_reply(reply).map_err(from_router)?;
                *cursor = (next.as_ref() != b"0").then_some(next);
                Ok(Some(keys))
            }
        }
    }
}

//! Integration tests of cluster-router against real Redis Cluster processes from `test-support`.
//!
//! Non-destructive tests share one cluster (3 masters + 3 replicas); tests that kill, stop or reshard
//! start their own. Every test runs under a hard timeout so a hang fails instead of stalling CI.

mod alloc;
mod faults;
mod reshard;
mod routing;
mod scale;

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use cluster_router::{Router, RouterConfig};
use resp_codec::{EncodedCommand, Frame};

/// Runs `f` on a fresh 2-worker runtime, failing the test if it takes longer than `limit`.
pub(crate) fn run<F: Future<Output = ()>>(limit: Duration, f: F) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        if tokio::time::timeout(limit, f).await.is_err() {
            panic!("test did not finish within {limit:?}");
        }
    });
}

pub(crate) async fn connect(seeds: Vec<String>) -> Router {
    Router::connect(RouterConfig::new(seeds))
        .await
        .expect("router connects")
}

pub(crate) fn cmd<A: AsRef<[u8]>>(args: impl IntoIterator<Item = A>) -> EncodedCommand {
    EncodedCommand::from_args(args)
}

pub(crate) fn bulk(b: impl Into<Vec<u8>>) -> Frame {
    Frame::BulkString(Bytes::from(b.into()))
}

pub(crate) fn ok() -> Frame {
    Frame::SimpleString(Bytes::from_static(b"OK"))
}

/// A value frame normalised across RESP2/RESP3 (nil is `None`).
pub(crate) fn value(f: &Frame) -> Option<Vec<u8>> {
    match f {
        Frame::BulkString(b) | Frame::SimpleString(b) => Some(b.to_vec()),
        Frame::Integer(n) => Some(n.to_string().into_bytes()),
        _ => None,
    }
}

pub(crate) fn int(f: &Frame) -> i64 {
    match f {
        Frame::Integer(n) => *n,
        other => panic!("expected an integer, got {other:?}"),
    }
}

/// `count` hash tags (`{prefix}0`, `{prefix}1`, ...), each in a different slot that master `master` owns,
/// with their slots: keys `{tag}:...` of them move together when a test migrates the slots.
pub(crate) fn tags_owned_by(
    cluster: &test_support::Cluster,
    master: usize,
    count: usize,
    prefix: &str,
) -> Vec<(String, u16)> {
    let mut tags: Vec<(String, u16)> = Vec::new();
    for i in 0.. {
        if tags.len() == count {
            break;
        }
        let tag = format!("{prefix}{i}");
        let slot = hash_slot::Slot::for_key(tag.as_bytes()).get();
        if !tags.iter().any(|(_, s)| *s == slot)
            && cluster.slot_owner(slot).expect("owner") == master
        {
            tags.push((tag, slot));
        }
    }
    tags
}

/// A unique prefix per call, so tests sharing a cluster never share keys.
pub(crate) fn prefix(name: &str) -> String {
    format!("{name}:{:016x}:", rand::random::<u64>())
}

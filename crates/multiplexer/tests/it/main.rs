//! Integration tests of the multiplexer against a real redis-server and a scripted fake server.

mod alloc;
mod basic;
mod cancel;
mod fair;
mod fake;
mod faults;

use std::future::Future;
use std::time::Duration;

use multiplexer::{ConnectionConfig, Multiplexer};
use resp_codec::{EncodedCommand, Frame};

/// Every test body runs under this bound, so a hang fails the test instead of stalling the run.
pub(crate) async fn bounded<F: Future>(limit: Duration, f: F) -> F::Output {
    match tokio::time::timeout(limit, f).await {
        Ok(out) => out,
        Err(_) => panic!("test exceeded its {limit:?} bound"),
    }
}

/// Waits (up to 5 s) for a condition that becomes true shortly after an event (counters, reconnects).
pub(crate) async fn eventually(mut condition: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "condition not reached within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub(crate) fn cmd<const N: usize>(args: [&str; N]) -> EncodedCommand {
    EncodedCommand::from_args(args)
}

pub(crate) fn bulk(s: &str) -> Frame {
    Frame::BulkString(bytes::Bytes::copy_from_slice(s.as_bytes()))
}

pub(crate) async fn connect_shared() -> Multiplexer {
    let server = test_support::shared_server();
    Multiplexer::connect(ConnectionConfig::new(server.addr()))
        .await
        .expect("connect to the shared server")
}

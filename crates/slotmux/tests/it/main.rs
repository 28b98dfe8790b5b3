//! Integration tests of the slotmux facade against real redis-server processes.
//!
//! Light tests share one server ([`test_support::shared_server`]) and run in parallel.
//! Tests that inject faults start their own server; tests that load the machine or measure time
//! take [`SERIAL`] so they do not skew each other's timings on a small machine.

mod chaos;
mod cluster;
mod commands;
mod config;
mod faults;
mod load;
mod pipeline;
mod transactions;

use std::fmt::Debug;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use slotmux::{Client, Result};

/// Held by tests that load the machine or assert on elapsed time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Runs `f` on a fresh two-worker runtime, failing the test if it takes longer than `limit`.
pub(crate) fn run<F: Future>(limit: Duration, f: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        match tokio::time::timeout(limit, f).await {
            Ok(out) => out,
            Err(_) => panic!("test exceeded its {limit:?} bound"),
        }
    })
}

/// Like [`run`], alone among the tests that hold [`SERIAL`].
pub(crate) fn run_serial<F: Future>(limit: Duration, f: F) -> F::Output {
    // A test that failed while holding the lock poisons it; the next test may still run.
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    run(limit, f)
}

/// A key no other test (or test process) uses.
pub(crate) fn key(name: &str) -> String {
    format!("slotmux-it:{}:{name}", std::process::id())
}

/// A client of the shared server with default settings.
pub(crate) async fn shared_client() -> Client {
    Client::connect(&test_support::shared_server().url())
        .await
        .expect("connect to the shared server")
}

/// Asserts a successful result equal to `expected`, naming `what` on failure.
#[track_caller]
pub(crate) fn check<T: PartialEq + Debug>(what: &str, got: Result<T>, expected: T) {
    match got {
        Ok(got) => assert_eq!(got, expected, "{what}"),
        Err(e) => panic!("{what}: unexpected error {e} ({e:?})"),
    }
}

/// Waits (up to `limit`) for a condition that becomes true shortly after an event.
pub(crate) async fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < limit,
            "condition not reached within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[test]
fn client_is_clone_send_sync() {
    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    assert_traits::<Client>();
    assert_traits::<slotmux::Error>();
    assert_traits::<slotmux::Value>();
    assert_traits::<slotmux::Pipeline>();
}

/// Builders for the shared server and the shared cluster, with their names. Called outside the
/// runtime: the first call starts the servers, which blocks.
pub(crate) fn server_and_cluster() -> [(&'static str, slotmux::ClientBuilder); 2] {
    let standalone = test_support::shared_server().url();
    let seeds = test_support::shared_cluster().seed_addrs();
    [
        ("standalone", Client::builder().url(&standalone)),
        ("cluster", Client::builder().nodes(seeds)),
    ]
}

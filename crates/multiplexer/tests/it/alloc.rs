//! Allocation-free steady state: after warm-up, sequential sends against a real server allocate (almost)
//! nothing per command. Counted by a counting global allocator, per thread, on a current-thread runtime
//! (the connection's writer, reader and sweep tasks then run on the counting thread too).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use multiplexer::{ConnectionConfig, Multiplexer};
use resp_codec::Frame;

use crate::{bounded, bulk, cmd};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; the counter is a const-initialised thread local that
// never allocates itself.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn steady_state_sends_do_not_allocate_per_command() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let addr = test_support::shared_server().addr();
    rt.block_on(bounded(Duration::from_secs(30), async move {
        let mux = Multiplexer::connect(ConnectionConfig::new(addr)).await.unwrap();
        let set = cmd(["SET", "alloc:key", "0123456789"]);
        let get = cmd(["GET", "alloc:key"]);
        const N: u64 = 20_000;
        // Warm-up: the command Bytes are promoted to shared on their first clone, the read and write
        // buffers reach their working size, tokio's structures are built.
        for _ in 0..1_000 {
            mux.send(&set).await.unwrap();
            mux.send(&get).await.unwrap();
        }
        let before = allocations();
        for _ in 0..N {
            let reply = mux.send(&set).await.unwrap();
            assert_eq!(reply, Frame::SimpleString("OK".into()));
        }
        let set_allocs = allocations() - before;
        let expected = bulk("0123456789");
        let before = allocations();
        for _ in 0..N {
            let reply = mux.send(&get).await.unwrap();
            assert_eq!(reply, expected);
        }
        let get_allocs = allocations() - before;
        let per_set = set_allocs as f64 / N as f64;
        let per_get = get_allocs as f64 / N as f64;
        println!("allocations per command: SET {per_set:.4} ({set_allocs} in {N}), GET {per_get:.4} ({get_allocs} in {N})");
        // What remains is the reader's 64 KiB buffer block (one per few thousand replies, shared by the
        // zero-copy reply Bytes) and tokio's occasional bookkeeping; a per-command oneshot or Box would
        // show up here as >= 1.0.
        assert!(per_set < 0.05, "SET: {per_set} allocations per command");
        assert!(per_get < 0.05, "GET: {per_get} allocations per command");
    }));
}

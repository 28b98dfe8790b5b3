//! The router adds no allocation to a routed command: `Router::send` allocates exactly as much as
//! `Multiplexer::send_by` on the owning node's connection (whatever that is), counted per thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use hash_slot::Slot;
use multiplexer::{ConnectionConfig, Multiplexer};
use test_support::shared_cluster;
use tokio::time::Instant;

use crate::{cmd, connect};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; the counter is a const-initialised thread local without a
// destructor, so touching it cannot allocate or recurse.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(Cell::get)
}

#[test]
fn routing_adds_no_allocation_per_command() {
    let cluster = shared_cluster();
    let key = "alloc:{hot}";
    let owner = cluster
        .node(
            cluster
                .slot_owner(Slot::for_key(key.as_bytes()).get())
                .expect("owner"),
        )
        .addr();
    let seeds = cluster.seed_addrs();
    // One thread runs everything (the connections' tasks too), so the thread-local count sees it all.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let router = connect(seeds).await;
        let mux = Multiplexer::connect(ConnectionConfig::new(owner))
            .await
            .expect("mux");
        let set = cmd(["SET", key, "value"]);
        let get = cmd(["GET", key]);
        let opts = router.options();
        router.send(&set, &opts).await.expect("SET");
        const N: u64 = 2000;
        for _ in 0..200 {
            router.send(&get, &opts).await.expect("warm-up");
            mux.send_by(&get, opts.deadline).await.expect("warm-up");
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        let before = allocs();
        for _ in 0..N {
            mux.send_by(&get, deadline).await.expect("GET");
        }
        let direct = allocs() - before;
        let before = allocs();
        for _ in 0..N {
            router.send(&get, &opts).await.expect("GET");
        }
        let routed = allocs() - before;
        // The counter is live: a pipeline of two commands (which does allocate) is seen.
        let before = allocs();
        let _ = router.pipeline(&[get.clone(), get.clone()], &opts).await;
        assert!(
            allocs() > before,
            "the counting allocator sees this thread's allocations"
        );
        eprintln!(
            "allocations per GET: multiplexer {:.2}, router {:.2}",
            direct as f64 / N as f64,
            routed as f64 / N as f64
        );
        // A little slack for the connection's own bookkeeping (buffer growth), none per command.
        assert!(
            routed <= direct + N / 100,
            "router adds allocations: {routed} vs {direct} for {N} commands"
        );
        mux.close();
    });
}

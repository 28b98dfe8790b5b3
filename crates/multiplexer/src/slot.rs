//! The response-slot pool: a preallocated slab of slots and a lock-free free list of their indices.
//!
//! A caller takes a slot instead of allocating a oneshot channel per command. Each slot's life is a small
//! state machine in one atomic, so that a caller that gives up (timeout, dropped future) and the reader that
//! still has to consume that command's reply agree on who returns the slot to the pool:
//!
//! ```text
//!   FREE --acquire--> PENDING --complete--> COMPLETED --caller takes value--> FREE
//!                        |                      |
//!                        |                      +--caller gives up: drops value--> FREE
//!                        +--caller gives up--> ABANDONED --complete drops value / writer skips--> FREE
//! ```
//!
//! Whoever moves the slot to FREE pushes its index back onto the free list; exactly one party does.
//! The value cell is written by the completer only while the state is PENDING (the caller never reads it
//! then) and read by the caller only after it observed COMPLETED.
//!
//! The pool is first-come, first-served: when it is exhausted, callers queue in [`Waiters`], and while
//! anyone is queued a newcomer queues behind instead of taking a freed slot, and freed slots go to the
//! queue in arrival order (see that module). With nobody queued, acquire and release stay lock-free.

use std::task::{Context, Poll};

use crate::atomic_waker::AtomicWaker;
use crate::group::ConnectionGroup;
use crate::loom::{AtomicU64, AtomicUsize, BoundedQueue, Ordering, UnsafeCell};
pub(crate) use crate::waiters::Turn;
use crate::waiters::Waiters;

/// In the free list; nobody references the slot.
pub(crate) const FREE: usize = 0;
/// Owned by a caller that awaits it; the connection will complete it.
pub(crate) const PENDING: usize = 1;
/// The value is in the cell; the caller has not taken it yet.
pub(crate) const COMPLETED: usize = 2;
/// The caller left; the connection side returns the slot when it is done with it.
pub(crate) const ABANDONED: usize = 3;

/// What `complete` did with the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Completion {
    /// The caller will take it.
    Delivered,
    /// The caller had given up; the value was dropped and the slot returned to the pool.
    Discarded,
}

struct Slot<T> {
    state: AtomicUsize,
    waker: AtomicWaker,
    /// The caller's deadline in the connection's clock ticks; read by the timeout sweep as a hint only.
    deadline: AtomicU64,
    value: UnsafeCell<Option<T>>,
}

/// See the module documentation.
pub(crate) struct SlotPool<T> {
    slots: Box<[Slot<T>]>,
    free: BoundedQueue<u32>,
    waiters: Waiters,
    /// Counts completed slots whose caller has not taken the value (see [`ConnectionGroup`]).
    group: ConnectionGroup,
}

// SAFETY: the value cell is handed between threads by the state machine described in the module docs
// (release on the transitions that publish it, acquire on those that read it); T must be Send to move.
unsafe impl<T: Send> Send for SlotPool<T> {}
// SAFETY: see Send; shared access never touches a cell outside the state that grants it.
unsafe impl<T: Send> Sync for SlotPool<T> {}

impl<T> SlotPool<T> {
    /// A pool of `capacity` slots, all free, in a group of its own.
    #[cfg(test)]
    pub(crate) fn new(capacity: usize) -> SlotPool<T> {
        SlotPool::in_group(capacity, ConnectionGroup::new())
    }

    /// A pool of `capacity` slots, all free, counting its woken callers in `group`.
    pub(crate) fn in_group(capacity: usize, group: ConnectionGroup) -> SlotPool<T> {
        let capacity = capacity.clamp(1, u32::MAX as usize);
        let slots = (0..capacity)
            .map(|_| Slot {
                state: AtomicUsize::new(FREE),
                waker: AtomicWaker::new(),
                deadline: AtomicU64::new(0),
                value: UnsafeCell::new(None),
            })
            .collect();
        let free = BoundedQueue::new(capacity);
        for i in 0..capacity {
            // Cannot fail: the free list has room for every slot.
            let _ = free.push(i as u32);
        }
        SlotPool {
            slots,
            free,
            waiters: Waiters::new(),
            group,
        }
    }

    /// Number of slots.
    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// True when a new caller would get a slot at once: nobody waits and the free list is not empty.
    /// A hint (another caller may take the slot first), used to pick a connection of a pool.
    #[inline]
    pub(crate) fn has_free_slot(&self) -> bool {
        !self.waiters.any() && !self.free.is_empty()
    }

    /// Slots currently taken (pending, completed-not-taken, or abandoned-not-returned).
    pub(crate) fn outstanding(&self) -> usize {
        self.capacity().saturating_sub(self.free.len())
    }

    #[inline]
    fn slot(&self, index: u32) -> Option<&Slot<T>> {
        let slot = self.slots.get(index as usize);
        debug_assert!(slot.is_some(), "slot index out of range");
        slot
    }

    /// Takes a free slot for a caller, or None when every slot is in use or others are already waiting
    /// for one (then the caller must [`wait`](Self::wait) behind them).
    #[inline]
    pub(crate) fn acquire(&self, deadline: u64) -> Option<u32> {
        if self.waiters.any() {
            return None;
        }
        let index = self.free.pop()?;
        self.claim(index, deadline);
        Some(index)
    }

    /// Marks a slot taken out of the free list (by `acquire` or handed over by the wait queue) as the
    /// caller's.
    #[inline]
    fn claim(&self, index: u32, deadline: u64) {
        if let Some(slot) = self.slot(index) {
            // Relaxed: only the sweep reads it, as a hint; a stale value costs at most a spurious wake.
            slot.deadline.store(deadline, Ordering::Relaxed);
            // Relaxed: taking the index (free-list pop, or the wait queue's mutex) acquired the release
            // that freed it, and the submit handoff (queue push = release) publishes this store to the
            // completer.
            slot.state.store(PENDING, Ordering::Relaxed);
        }
    }

    /// Acquires `n` slots at once, or none (also none while others wait). Writes them to `out`.
    pub(crate) fn acquire_many(&self, n: usize, deadline: u64, out: &mut Vec<u32>) -> bool {
        out.clear();
        if self.waiters.any() {
            return false;
        }
        for _ in 0..n {
            match self.free.pop() {
                Some(index) => {
                    self.claim(index, deadline);
                    out.push(index);
                }
                None => {
                    for index in out.drain(..) {
                        self.release(index);
                    }
                    return false;
                }
            }
        }
        true
    }

    /// Returns a slot to the free list, and to the head of the wait queue if anyone waits. Only the party
    /// that owns the slot's last reference calls this.
    #[inline]
    fn release(&self, index: u32) {
        if let Some(slot) = self.slot(index) {
            // Relaxed: the free-list push below is a release that publishes it to the next acquirer.
            slot.state.store(FREE, Ordering::Relaxed);
        }
        let pushed = self.free.push(index);
        debug_assert!(
            pushed.is_ok(),
            "free list overflow: a slot was released twice"
        );
        self.waiters.after_release(&self.free);
    }

    /// Queues for `n` slots behind everyone already waiting (after `acquire`/`acquire_many` failed), until
    /// `deadline` (clock ticks; see [`expire_waiters`](Self::expire_waiters)).
    pub(crate) fn wait(&self, n: usize, deadline: u64) -> SlotWait<'_, T> {
        SlotWait {
            pool: self,
            node: self.waiters.enqueue(n, deadline, &self.free),
            deadline,
            done: false,
        }
    }

    /// True while callers wait for slots.
    #[inline]
    pub(crate) fn has_waiters(&self) -> bool {
        self.waiters.any()
    }

    /// Wakes every waiting caller whose deadline is `now` or earlier to give up (the connection's sweep
    /// calls it once per tick).
    pub(crate) fn expire_waiters(&self, now: u64) {
        self.waiters.expire(now);
    }

    /// Wakes every queued caller without giving it a slot, so it re-checks whether it should go on
    /// waiting (connection closing or lost).
    pub(crate) fn wake_waiters(&self) {
        self.waiters.wake_all();
    }

    /// The connection delivers a slot's value (a reply or an error).
    #[inline]
    pub(crate) fn complete(&self, index: u32, value: T) -> Completion {
        let Some(slot) = self.slot(index) else {
            return Completion::Discarded;
        };
        // SAFETY: in PENDING the caller never reads the cell, and in ABANDONED nobody but us touches it.
        slot.value.with_mut(|cell| unsafe { *cell = Some(value) });
        // Counted before the value is published, so the caller's `taken` comes after it.
        self.group.delivering();
        // AcqRel: release publishes the value to the caller's acquire load; acquire (failure included)
        // pairs with abandon's release so we may reclaim the cell.
        match slot
            .state
            .compare_exchange(PENDING, COMPLETED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => {
                slot.waker.wake();
                Completion::Delivered
            }
            Err(_abandoned) => {
                debug_assert_eq!(_abandoned, ABANDONED);
                // SAFETY: the caller left (ABANDONED): the cell is ours alone.
                let value = slot.value.with_mut(|cell| unsafe { (*cell).take() });
                self.group.taken();
                self.release(index);
                drop(value);
                Completion::Discarded
            }
        }
    }

    /// The caller's poll: Ready with the value (and the slot freed) once completed.
    #[inline]
    pub(crate) fn poll_take(&self, index: u32, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if let Some(value) = self.try_take(index) {
            return Poll::Ready(value);
        }
        if let Some(slot) = self.slot(index) {
            slot.waker.register(cx.waker());
        }
        // Checked again after registering, so a completion between the first check and the register is
        // not missed (its wake may have found no waker).
        match self.try_take(index) {
            Some(value) => Poll::Ready(value),
            None => Poll::Pending,
        }
    }

    /// Some(value) when completed (the slot is freed), None while pending.
    /// The inner Option is None only if the value cell was unexpectedly empty (never in a correct program).
    #[inline]
    fn try_take(&self, index: u32) -> Option<Option<T>> {
        let slot = self.slot(index)?;
        // Acquire: pairs with complete's release so the value written before it is visible.
        if slot.state.load(Ordering::Acquire) != COMPLETED {
            return None;
        }
        // SAFETY: COMPLETED and we are the caller: the completer is done with the cell.
        let value = slot.value.with_mut(|cell| unsafe { (*cell).take() });
        self.group.taken();
        self.release(index);
        Some(value)
    }

    /// The caller gives up on a slot it still owns (timeout or dropped future).
    /// Returns true when the slot was already completed (value dropped, slot freed here).
    pub(crate) fn abandon(&self, index: u32) -> bool {
        let Some(slot) = self.slot(index) else {
            return false;
        };
        // Drop our waker first: once ABANDONED is visible the slot may be freed and reused, and a take
        // after that would steal the next owner's waker.
        drop(slot.waker.take());
        // AcqRel: release tells the completer it may reclaim the cell; acquire (on failure, COMPLETED)
        // makes the completed value visible so we can drop it.
        match slot
            .state
            .compare_exchange(PENDING, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => false,
            Err(_) => {
                // COMPLETED: the reply beat us; drop it and free the slot ourselves.
                let value = self.try_take(index);
                debug_assert!(value.is_some());
                true
            }
        }
    }

    /// Used by the writer before writing a lone command: if its caller already gave up, nobody else will
    /// touch the slot (the reader never saw it), so the writer frees it and skips the write.
    #[inline]
    pub(crate) fn release_if_abandoned(&self, index: u32) -> bool {
        let Some(slot) = self.slot(index) else {
            return false;
        };
        // Acquire: pairs with abandon's release (the caller is done with the slot).
        if slot.state.load(Ordering::Acquire) == ABANDONED {
            self.release(index);
            true
        } else {
            false
        }
    }

    /// Wakes every pending caller whose deadline is at or before `now`, so its future sees the timeout.
    /// Returns how many were woken.
    pub(crate) fn wake_expired(&self, now: u64) -> usize {
        let mut woken = 0;
        for slot in self.slots.iter() {
            // Relaxed: a hint; a wrong answer costs a spurious wake or one more tick of waiting.
            if slot.state.load(Ordering::Relaxed) == PENDING
                && slot.deadline.load(Ordering::Relaxed) <= now
            {
                slot.waker.wake();
                woken += 1;
            }
        }
        woken
    }

    /// The slot's current state (tests and assertions).
    #[cfg(test)]
    pub(crate) fn state(&self, index: u32) -> usize {
        self.slot(index)
            .map_or(FREE, |slot| slot.state.load(Ordering::Acquire))
    }

    /// Callers woken and not yet run over the pool's group.
    #[inline]
    pub(crate) fn woken_callers(&self) -> usize {
        self.group.woken_callers()
    }

    /// Free slots (tests).
    #[cfg(test)]
    pub(crate) fn free_len(&self) -> usize {
        self.free.len()
    }

    /// Callers queued for slots (tests).
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.waiters.len()
    }
}

/// A caller's place in the slot queue. Dropping it before [`poll_acquire`](Self::poll_acquire) returned
/// Ready gives back whatever slots it had collected, to the next waiter.
pub(crate) struct SlotWait<'a, T> {
    pool: &'a SlotPool<T>,
    node: usize,
    deadline: u64,
    /// The slots were taken; the node is retired.
    done: bool,
}

impl<T> SlotWait<'_, T> {
    /// [`Turn::Served`] once the caller's turn came and all its slots are there: they are the caller's
    /// now (PENDING, with the wait's deadline) and appended to `out`. [`Turn::Expired`] when the deadline
    /// passed first; the caller gives up by dropping the wait.
    pub(crate) fn poll_acquire(&mut self, out: &mut Vec<u32>, cx: &mut Context<'_>) -> Poll<Turn> {
        if self.done {
            return Poll::Ready(Turn::Served);
        }
        let start = out.len();
        let turn = std::task::ready!(self.pool.waiters.poll_ready(self.node, cx, out));
        if turn == Turn::Served {
            self.done = true;
            for &index in out.iter().skip(start) {
                self.pool.claim(index, self.deadline);
            }
        }
        Poll::Ready(turn)
    }
}

impl<T> Drop for SlotWait<'_, T> {
    fn drop(&mut self) {
        if !self.done {
            self.pool.waiters.cancel(self.node, &self.pool.free);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::task::{Context, Poll, Waker};

    use super::*;

    /// Each transition of the state machine in sequence: who frees the slot in every ending.
    #[test]
    fn state_machine_endings() {
        let pool = SlotPool::<u32>::new(2);
        let mut cx = Context::from_waker(Waker::noop());
        // Reply, then the caller takes it.
        let a = pool.acquire(0).unwrap();
        assert_eq!(pool.state(a), PENDING);
        assert_eq!(pool.poll_take(a, &mut cx), Poll::Pending);
        assert_eq!(pool.complete(a, 1), Completion::Delivered);
        assert_eq!(pool.state(a), COMPLETED);
        assert_eq!(pool.poll_take(a, &mut cx), Poll::Ready(Some(1)));
        assert_eq!((pool.state(a), pool.free_len()), (FREE, 2));
        // Caller gives up first; the reply frees the slot.
        let b = pool.acquire(0).unwrap();
        assert!(!pool.abandon(b));
        assert_eq!(pool.state(b), ABANDONED);
        assert_eq!(pool.complete(b, 2), Completion::Discarded);
        assert_eq!((pool.state(b), pool.free_len()), (FREE, 2));
        // Reply first, then the caller gives up: the caller frees it.
        let c = pool.acquire(0).unwrap();
        assert_eq!(pool.complete(c, 3), Completion::Delivered);
        assert!(pool.abandon(c));
        assert_eq!(pool.free_len(), 2);
        // Abandoned before being written: the writer frees it.
        let d = pool.acquire(0).unwrap();
        assert!(!pool.release_if_abandoned(d));
        pool.abandon(d);
        assert!(pool.release_if_abandoned(d));
        assert_eq!(pool.free_len(), 2);
        // Exhaustion and all-or-nothing acquisition.
        let mut out = Vec::new();
        assert!(pool.acquire_many(2, 0, &mut out));
        assert!(pool.acquire(0).is_none());
        for slot in out.drain(..) {
            pool.abandon(slot);
            pool.complete(slot, 0);
        }
        assert!(!pool.acquire_many(3, 0, &mut out));
        assert_eq!(pool.free_len(), 2);
        // The sweep wakes only expired pending slots.
        let e = pool.acquire(5).unwrap();
        assert_eq!(pool.wake_expired(4), 0);
        assert_eq!(pool.wake_expired(5), 1);
        pool.complete(e, 0);
        assert_eq!(pool.wake_expired(9), 0);
    }

    /// Frees a slot the way a caller does: the reply arrives, the caller takes it.
    fn free(pool: &SlotPool<u32>, index: u32) {
        let mut cx = Context::from_waker(Waker::noop());
        assert_eq!(pool.complete(index, 0), Completion::Delivered);
        assert_eq!(pool.poll_take(index, &mut cx), Poll::Ready(Some(0)));
    }

    /// Fairness: freed slots go to waiters in arrival order, a batch at the head collects slots while
    /// the waiters behind it wait, a newcomer never overtakes a waiter, and a waiter that leaves passes
    /// its slots on (whether it was still collecting or already complete).
    #[test]
    fn waiters_are_served_in_arrival_order() {
        let pool = SlotPool::<u32>::new(3);
        let mut cx = Context::from_waker(Waker::noop());
        let held: Vec<u32> = (0..3).map(|_| pool.acquire(7).unwrap()).collect();
        let mut single = pool.wait(1, 9);
        let mut batch = pool.wait(2, 9);
        let mut behind = pool.wait(1, 9);
        assert_eq!(pool.waiting(), 3);
        let mut got = Vec::new();
        assert!(single.poll_acquire(&mut got, &mut cx).is_pending());

        // The first freed slot goes to the first waiter, and is its caller's (PENDING) once taken.
        free(&pool, held[0]);
        assert_eq!(
            single.poll_acquire(&mut got, &mut cx),
            Poll::Ready(Turn::Served)
        );
        assert_eq!(got, [held[0]]);
        assert_eq!(pool.state(held[0]), PENDING);
        drop(single);

        // The next one goes to the batch, which keeps it while it waits for its second; the single
        // waiter behind it gets nothing, and neither does a newcomer.
        free(&pool, held[1]);
        assert_eq!((pool.free_len(), pool.waiting()), (0, 2));
        let mut later = Vec::new();
        assert!(batch.poll_acquire(&mut later, &mut cx).is_pending());
        assert!(behind.poll_acquire(&mut later, &mut cx).is_pending());
        assert!(pool.acquire(0).is_none());
        assert!(!pool.acquire_many(1, 0, &mut later));

        // The batch gives up: its slot goes straight on to the waiter behind it.
        drop(batch);
        assert_eq!(pool.waiting(), 0);
        assert_eq!(
            behind.poll_acquire(&mut later, &mut cx),
            Poll::Ready(Turn::Served)
        );
        assert_eq!(later, [held[1]]);
        drop(behind);

        // A batch that completes but is dropped before it takes its slots returns them.
        let batch = pool.wait(2, 9);
        free(&pool, held[2]);
        free(&pool, later[0]);
        assert_eq!((pool.free_len(), pool.waiting()), (0, 0));
        drop(batch);
        assert_eq!(pool.free_len(), 2);

        // With nobody waiting the fast path works again.
        let mut both = Vec::new();
        assert!(pool.acquire_many(2, 0, &mut both));
        for index in both.into_iter().chain([got[0]]) {
            free(&pool, index);
        }
        assert_eq!((pool.free_len(), pool.waiting()), (3, 0));
    }

    /// Counts its wakes.
    struct CountingWaker(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for CountingWaker {
        fn wake(self: std::sync::Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &std::sync::Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// The sweep's expiry wakes exactly the waiters whose deadline has passed and tells them to give
    /// up, even one the dispatch served after that; the slot it gives back goes to the waiter behind.
    #[test]
    fn waiters_expire_at_their_deadline_and_leave_their_place() {
        let pool = SlotPool::<u32>::new(1);
        let counter = || std::sync::Arc::new(CountingWaker(Default::default()));
        let (early_waker, late_waker) = (counter(), counter());
        let early_cx_waker = Waker::from(early_waker.clone());
        let late_cx_waker = Waker::from(late_waker.clone());
        let mut early_cx = Context::from_waker(&early_cx_waker);
        let mut late_cx = Context::from_waker(&late_cx_waker);
        let wakes =
            |w: &std::sync::Arc<CountingWaker>| w.0.load(std::sync::atomic::Ordering::Relaxed);
        let held = pool.acquire(7).unwrap();
        let (mut early, mut late) = (pool.wait(1, 10), pool.wait(1, 20));
        let mut got = Vec::new();
        // (sweep time, what each waiter's next poll gives, wakes of each so far)
        let ticks = [
            (9, Poll::Pending, Poll::Pending, (0, 0)),
            (10, Poll::Ready(Turn::Expired), Poll::Pending, (1, 0)),
            (19, Poll::Ready(Turn::Expired), Poll::Pending, (1, 0)),
        ];
        for (now, early_turn, late_turn, woken) in ticks {
            pool.expire_waiters(now);
            assert_eq!(
                (wakes(&early_waker), wakes(&late_waker)),
                woken,
                "wakes at {now}"
            );
            assert_eq!(
                early.poll_acquire(&mut got, &mut early_cx),
                early_turn,
                "early at {now}"
            );
            assert_eq!(
                late.poll_acquire(&mut got, &mut late_cx),
                late_turn,
                "late at {now}"
            );
        }
        // The expired waiter is still first in line: the freed slot completes it, yet it gives up.
        free(&pool, held);
        assert_eq!(
            early.poll_acquire(&mut got, &mut early_cx),
            Poll::Ready(Turn::Expired)
        );
        assert!(got.is_empty());
        drop(early);
        assert_eq!(wakes(&late_waker), 1);
        assert_eq!(
            late.poll_acquire(&mut got, &mut late_cx),
            Poll::Ready(Turn::Served)
        );
        assert_eq!(got, [held]);
        // Served before its deadline: a later sweep changes nothing.
        pool.expire_waiters(30);
        assert_eq!(
            late.poll_acquire(&mut got, &mut late_cx),
            Poll::Ready(Turn::Served)
        );
        drop(late);
        free(&pool, held);
        assert_eq!((pool.free_len(), pool.waiting()), (1, 0));
    }

    /// The group counts completed slots whose caller has not taken the value, in every ending.
    #[test]
    fn group_counts_woken_callers() {
        let group = ConnectionGroup::new();
        let a = SlotPool::<u32>::in_group(2, group.clone());
        let b = SlotPool::<u32>::in_group(2, group.clone());
        let mut cx = Context::from_waker(Waker::noop());
        let (x, y) = (a.acquire(0).unwrap(), b.acquire(0).unwrap());
        a.complete(x, 1);
        b.complete(y, 2);
        assert_eq!(group.woken_callers(), 2);
        assert_eq!(a.poll_take(x, &mut cx), Poll::Ready(Some(1)));
        assert_eq!(group.woken_callers(), 1);
        // A caller that gives up after its reply came drops it: no longer counted.
        assert!(b.abandon(y));
        assert_eq!(group.woken_callers(), 0);
        // A reply for a caller that already left is never counted.
        let z = a.acquire(0).unwrap();
        a.abandon(z);
        assert_eq!(a.complete(z, 3), Completion::Discarded);
        assert_eq!(group.woken_callers(), 0);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use std::future::poll_fn;
    use std::task::{Context, Poll, Waker};

    use loom::future::block_on;
    use loom::sync::Arc;
    use loom::thread;

    use super::*;

    /// Completion races the caller's await: the caller gets the value, the slot is freed once.
    #[test]
    fn loom_complete_races_take() {
        loom::model(|| {
            let pool = Arc::new(SlotPool::<Arc<u32>>::new(1));
            let index = pool.acquire(0).unwrap();
            let completer = {
                let pool = pool.clone();
                thread::spawn(move || pool.complete(index, Arc::new(7)))
            };
            let got = block_on(poll_fn(|cx| pool.poll_take(index, cx))).unwrap();
            assert_eq!(*got, 7);
            assert_eq!(completer.join().unwrap(), Completion::Delivered);
            assert_eq!(pool.free_len(), 1);
            assert_eq!(pool.state(index), FREE);
        });
    }

    /// The cancelled-caller race: the caller polls once (registers), then gives up while the reader
    /// completes. Exactly one side frees the slot, the value is dropped (loom reports a leaked Arc),
    /// and the next owner of the slot gets its own value, not the stale one.
    #[test]
    fn loom_cancelled_caller_races_completion() {
        loom::model(|| {
            let pool = Arc::new(SlotPool::<Arc<u32>>::new(1));
            let index = pool.acquire(0).unwrap();
            let completer = {
                let pool = pool.clone();
                thread::spawn(move || pool.complete(index, Arc::new(1)))
            };
            let mut cx = Context::from_waker(Waker::noop());
            let early = pool.poll_take(index, &mut cx);
            let freed_by_caller = match early {
                Poll::Ready(value) => {
                    assert_eq!(value.as_deref(), Some(&1));
                    true
                }
                Poll::Pending => pool.abandon(index),
            };
            let outcome = completer.join().unwrap();
            // Exactly one party freed it: the completer discards only if the caller had left first.
            assert_eq!(freed_by_caller, outcome == Completion::Delivered);
            assert_eq!(pool.free_len(), 1);

            // Reuse: the next caller sees only its own reply.
            let index = pool.acquire(0).unwrap();
            let completer = {
                let pool = pool.clone();
                thread::spawn(move || pool.complete(index, Arc::new(2)))
            };
            let got = block_on(poll_fn(|cx| pool.poll_take(index, cx))).unwrap();
            assert_eq!(*got, 2);
            completer.join().unwrap();
            assert_eq!(pool.free_len(), 1);
        });
    }

    /// The writer's skip of an abandoned command races the caller's drop: if the writer saw the abandon
    /// it frees the slot, otherwise the reply path (complete) does; never both, never neither.
    #[test]
    fn loom_writer_skip_races_caller_drop() {
        loom::model(|| {
            let pool = Arc::new(SlotPool::<Arc<u32>>::new(1));
            let index = pool.acquire(0).unwrap();
            let writer = {
                let pool = pool.clone();
                thread::spawn(move || {
                    if pool.release_if_abandoned(index) {
                        None
                    } else {
                        // Written; later the reader completes it.
                        Some(pool.complete(index, Arc::new(3)))
                    }
                })
            };
            let freed_by_caller = pool.abandon(index);
            let outcome = writer.join().unwrap();
            match outcome {
                None => assert!(!freed_by_caller),
                Some(Completion::Discarded) => assert!(!freed_by_caller),
                Some(Completion::Delivered) => assert!(freed_by_caller),
            }
            assert_eq!(pool.free_len(), 1);
            assert_eq!(pool.state(index), FREE);
        });
    }

    /// The timeout sweep wakes a waiting caller while the reply races in; the caller ends either with the
    /// value or, after giving up, with the slot freed exactly once.
    #[test]
    fn loom_sweep_wake_races_completion() {
        loom::model(|| {
            let pool = Arc::new(SlotPool::<Arc<u32>>::new(1));
            let index = pool.acquire(0).unwrap();
            let sweeper = {
                let pool = pool.clone();
                thread::spawn(move || {
                    pool.wake_expired(1);
                })
            };
            let completer = {
                let pool = pool.clone();
                thread::spawn(move || pool.complete(index, Arc::new(4)))
            };
            // The caller waits until woken once by anyone, then either has the value or times out.
            let mut polled = false;
            let result = block_on(poll_fn(|cx| {
                match pool.poll_take(index, cx) {
                    Poll::Ready(v) => return Poll::Ready(v),
                    Poll::Pending if polled => {
                        pool.abandon(index);
                        return Poll::Ready(None);
                    }
                    Poll::Pending => {}
                }
                polled = true;
                Poll::Pending
            }));
            sweeper.join().unwrap();
            let outcome = completer.join().unwrap();
            match result {
                Some(v) => {
                    assert_eq!(*v, 4);
                    assert_eq!(outcome, Completion::Delivered);
                }
                None => {}
            }
            assert_eq!(pool.free_len(), 1);
        });
    }

    /// Frees a slot the way its caller does: the reply arrives, the caller takes it.
    fn free(pool: &SlotPool<Arc<u32>>, index: u32) {
        pool.complete(index, Arc::new(0));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(pool.poll_take(index, &mut cx).is_ready());
    }

    /// Polls a wait once and gives up (deadline, connection closed); a slot it got is freed again.
    fn wait_once_then_leave(pool: &SlotPool<Arc<u32>>, n: usize) {
        let mut wait = pool.wait(n, 9);
        let mut got = Vec::new();
        let mut cx = Context::from_waker(Waker::noop());
        if wait.poll_acquire(&mut got, &mut cx).is_ready() {
            for index in got {
                free(pool, index);
            }
        }
    }

    /// A thread that frees `index` of `pool` (held by the model's caller) while the model runs.
    fn freeing(pool: &Arc<SlotPool<Arc<u32>>>, index: u32) -> thread::JoinHandle<()> {
        let pool = pool.clone();
        thread::spawn(move || free(&pool, index))
    }

    /// The handoff race: a slot is freed while a queued caller gives up. Whichever order the release,
    /// the dispatch and the cancellation run in, the slot ends back in the free list with nobody queued.
    #[test]
    fn loom_slot_freed_while_waiter_cancels() {
        loom::model(|| {
            let pool = Arc::new(SlotPool::<Arc<u32>>::new(1));
            let index = pool.acquire(0).unwrap();
            let releaser = freeing(&pool, index);
            wait_once_then_leave(&pool, 1);
            releaser.join().unwrap();
            assert_eq!((pool.free_len(), pool.waiting()), (1, 0));
        });
    }

    /// A waiter that gives up passes the slot on: the other waiter (queued before or after it) always
    /// gets the freed slot; a lost slot or a lost wake-up leaves block_on parked, which loom reports.
    #[test]
    fn loom_cancelled_waiter_passes_slot_on() {
        loom::model(|| {
            let pool = Arc::new(SlotPool::<Arc<u32>>::new(1));
            let index = pool.acquire(0).unwrap();
            let leaver = {
                let pool = pool.clone();
                thread::spawn(move || wait_once_then_leave(&pool, 1))
            };
            let releaser = freeing(&pool, index);
            let mut wait = pool.wait(1, 9);
            let mut got = Vec::new();
            block_on(poll_fn(|cx| wait.poll_acquire(&mut got, cx)));
            assert_eq!(got, [index]);
            free(&pool, index);
            leaver.join().unwrap();
            releaser.join().unwrap();
            assert_eq!((pool.free_len(), pool.waiting()), (1, 0));
        });
    }

    /// A waiter with deadline 5 on a one-slot pool whose slot is held, and a sweep at time 10: with
    /// `release`, the slot is freed meanwhile and the waiter may be served or expire; without it, only
    /// the expiry can end the wait (the sweep runs once the waiter is queued), so a missing wake
    /// leaves `block_on` parked, which loom reports. Either way the slot ends in the free list.
    fn expiry_model(release: bool) {
        let pool = Arc::new(SlotPool::<Arc<u32>>::new(1));
        let index = pool.acquire(0).unwrap();
        let releaser = release.then(|| freeing(&pool, index));
        let sweeper = {
            let pool = pool.clone();
            thread::spawn(move || {
                while !release && pool.waiting() == 0 {
                    thread::yield_now();
                }
                pool.expire_waiters(10);
            })
        };
        let mut wait = pool.wait(1, 5);
        let mut got = Vec::new();
        let turn = block_on(poll_fn(|cx| wait.poll_acquire(&mut got, cx)));
        drop(wait);
        if turn == Turn::Served {
            assert!(release, "served with no slot freed");
            assert_eq!(got, [index]);
        }
        sweeper.join().unwrap();
        match releaser {
            Some(releaser) => releaser.join().unwrap(),
            None => free(&pool, index),
        }
        if turn == Turn::Served {
            free(&pool, index);
        }
        assert_eq!((pool.free_len(), pool.waiting()), (1, 0));
    }

    /// The sweep expires a waiter while its slot is being freed: served or told to give up, never
    /// left parked, and the slot is never stranded.
    #[test]
    fn loom_expiry_races_release() {
        loom::model(|| expiry_model(true));
    }

    /// Nobody frees a slot: the sweep's expiry wakes the waiter.
    #[test]
    fn loom_expiry_wakes_a_parked_waiter() {
        loom::model(|| expiry_model(false));
    }

    /// A batch collecting slots one release at a time gives up halfway: what it collected goes to the
    /// single waiter, which always gets a slot, and both slots end in the free list.
    #[test]
    fn loom_partial_batch_cancel_passes_slots_on() {
        loom::model(|| {
            let pool = Arc::new(SlotPool::<Arc<u32>>::new(2));
            let held = [pool.acquire(0).unwrap(), pool.acquire(0).unwrap()];
            let batch = {
                let pool = pool.clone();
                thread::spawn(move || wait_once_then_leave(&pool, 2))
            };
            let releaser = {
                let pool = pool.clone();
                thread::spawn(move || {
                    for index in held {
                        free(&pool, index);
                    }
                })
            };
            let mut wait = pool.wait(1, 9);
            let mut got = Vec::new();
            block_on(poll_fn(|cx| wait.poll_acquire(&mut got, cx)));
            assert_eq!(got.len(), 1);
            batch.join().unwrap();
            releaser.join().unwrap();
            free(&pool, got[0]);
            assert_eq!((pool.free_len(), pool.waiting()), (2, 0));
        });
    }
}

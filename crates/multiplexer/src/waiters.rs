//! The queue of callers waiting for response slots: what makes the slot pool first-come, first-served.
//!
//! While nobody waits, callers take slots straight from the pool's lock-free free list and give them back
//! there; the only cost of this module on that path is one load of `waiting` on each side.
//!
//! Once the pool is exhausted a caller queues here ([`Waiters::enqueue`]), and until the queue is empty again:
//!
//! - a newcomer does not touch the free list: it sees `waiting > 0` and queues behind the others;
//! - a freed slot still goes to the free list (lock-free), but the releaser then sees `waiting > 0`, takes
//!   the mutex and hands the free slots to the head of the queue ([`Waiters::after_release`]);
//! - the head collects slots until it has all it asked for (a batch may need several); only then is it
//!   woken and removed, so later waiters, single or batch, wait behind it (tokio's `Semaphore` rule);
//! - a waiter that gives up ([`Waiters::cancel`]: deadline, dropped future, connection closed) puts back
//!   whatever it had collected, and the same call passes it on to the next waiter;
//! - deadlines are checked by the connection's sweep ([`Waiters::expire`]), once per tick, not by a timer
//!   per waiter: an overloaded connection has a waiter per command, and arming and clearing a timer in
//!   tokio's wheel for each was 4% of the client's CPU with 10,000 tasks (`docs/benchmarks/profile.md`).
//!
//! **Invariant:** whenever the mutex is released, the queue holds no live waiter or the free list is empty
//! (up to slots pushed concurrently, whose releasers dispatch them as soon as they get the mutex).
//!
//! No slot is stranded by a race between a releaser and an arriving waiter. The waiter increments
//! `waiting` (SeqCst), issues a SeqCst fence and then looks at the free list; the releaser pushes onto
//! the free list (a SeqCst read-modify-write in crossbeam's `ArrayQueue`) and then loads `waiting`
//! (SeqCst). This is Dekker's pattern: either the waiter sees the slot or the releaser sees the waiter.
//! Both then dispatch under the mutex, so the slot reaches the head of the queue either way.

use std::collections::VecDeque;
use std::sync::PoisonError;
use std::task::{Context, Poll, Waker};

use crate::loom::{AtomicU64, AtomicUsize, BoundedQueue, Mutex, MutexGuard, Ordering, fence};

/// Wakers collected under the mutex are woken after it is released (a wake may unpark a worker thread,
/// which should not lengthen the critical section that every releaser goes through under overload).
/// A freed slot completes at most one waiter in the common case; 8 covers bursts without a heap list.
const WAKE_BATCH: usize = 8;

/// Where a queue node is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Not in use; its index is in `spare`.
    Vacant,
    /// In `order`, collecting slots when at the head.
    Queued,
    /// Has all its slots and left `order`; its caller takes them on its next poll.
    Ready,
    /// Its caller gave up while it was queued; still in `order` until it reaches the head.
    Cancelled,
}

struct Node {
    state: State,
    need: usize,
    /// The caller's deadline, in the connection's clock ticks.
    deadline: u64,
    /// Its deadline passed while it was queued; its caller is woken to give up (see `expire`).
    expired: bool,
    /// Slots handed to this waiter: free (state FREE) but out of the free list.
    got: Vec<u32>,
    waker: Option<Waker>,
}

struct Queue {
    /// Node indices in arrival order: the live waiters, and cancelled ones not yet skipped.
    order: VecDeque<usize>,
    /// Node storage, reused through `spare`, so a wait allocates only while the queue is deeper than ever.
    nodes: Vec<Node>,
    spare: Vec<usize>,
}

/// How a wait ended, for a caller that polled its node ([`Waiters::poll_ready`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Turn {
    /// The node has all its slots, now the caller's.
    Served,
    /// The caller's deadline passed first; it gives up with [`Waiters::cancel`].
    Expired,
}

/// See the module documentation.
pub(crate) struct Waiters {
    /// Nodes in the `Queued` state. Changed only under the mutex, read without it.
    waiting: AtomicUsize,
    /// No queued node's deadline is earlier than this (`u64::MAX`: none queued since the last scan).
    /// Lowered by `enqueue` and set by `expire`, both under the mutex; read without it, so a sweep tick
    /// with nobody due costs two loads (one when nobody waits).
    earliest: AtomicU64,
    queue: Mutex<Queue>,
}

impl Waiters {
    pub(crate) fn new() -> Waiters {
        Waiters {
            waiting: AtomicUsize::new(0),
            earliest: AtomicU64::new(u64::MAX),
            queue: Mutex::new(Queue {
                order: VecDeque::new(),
                nodes: Vec::new(),
                spare: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Nothing panics while the lock is held; if something ever did, the queue is still consistent
        // enough to go on (at worst a waiter times out), which beats failing every later caller.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// True while somebody waits: a newcomer must queue instead of taking a free slot.
    #[inline]
    pub(crate) fn any(&self) -> bool {
        // Relaxed: fairness only. A stale 0 lets a caller that raced an arriving waiter take a slot first
        // (it arrived at the same moment); a stale non-zero sends it to `enqueue`, which dispatches
        // whatever is free. Neither can strand a slot.
        self.waiting.load(Ordering::Relaxed) != 0
    }

    /// Live waiters (tests and assertions).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Call after pushing a slot onto the free list: hands it to the head waiter, if there is one.
    #[inline]
    pub(crate) fn after_release(&self, free: &BoundedQueue<u32>) {
        // SeqCst: the releaser's half of the Dekker pattern in the module docs (on x86 a plain load; the
        // push before it was a locked instruction).
        if self.waiting.load(Ordering::SeqCst) != 0 {
            self.dispatch(free);
        }
    }

    #[cold]
    fn dispatch(&self, free: &BoundedQueue<u32>) {
        let queue = self.lock();
        self.dispatch_and_wake(queue, free);
    }

    /// Queues a caller that needs `need` slots by `deadline` (clock ticks) behind everyone already
    /// waiting. Returns its node, to be polled with [`poll_ready`](Self::poll_ready) and, unless that
    /// returned [`Turn::Served`], given up with [`cancel`](Self::cancel).
    pub(crate) fn enqueue(&self, need: usize, deadline: u64, free: &BoundedQueue<u32>) -> usize {
        let mut queue = self.lock();
        let Queue {
            order,
            nodes,
            spare,
        } = &mut *queue;
        let index = match spare.pop() {
            Some(index) => index,
            None => {
                nodes.push(Node {
                    state: State::Vacant,
                    need: 0,
                    deadline: 0,
                    expired: false,
                    got: Vec::new(),
                    waker: None,
                });
                nodes.len() - 1
            }
        };
        if let Some(node) = nodes.get_mut(index) {
            debug_assert_eq!(node.state, State::Vacant);
            node.state = State::Queued;
            node.need = need;
            node.deadline = deadline;
            node.expired = false;
            node.got.clear();
            node.got.reserve(need);
            node.waker = None;
        }
        order.push_back(index);
        // Relaxed: only ever changed under the mutex; the sweep's read is a hint (see `expire`).
        if deadline < self.earliest.load(Ordering::Relaxed) {
            self.earliest.store(deadline, Ordering::Relaxed);
        }
        // SeqCst + fence: the waiter's half of the Dekker pattern (see the module docs); the dispatch
        // below reads the free list only after this.
        self.waiting.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        // Slots may have been freed between the caller's failed fast path and now.
        self.dispatch_and_wake(queue, free);
        index
    }

    /// [`Turn::Served`] (with the slots appended to `out`) once the node has all it asked for; the node
    /// is then retired and must not be used again. [`Turn::Expired`] once its deadline has passed
    /// ([`expire`](Self::expire)) without that. Pending otherwise, with the waker stored for the dispatch.
    pub(crate) fn poll_ready(
        &self,
        node: usize,
        cx: &mut Context<'_>,
        out: &mut Vec<u32>,
    ) -> Poll<Turn> {
        let mut queue = self.lock();
        let Queue { nodes, spare, .. } = &mut *queue;
        let Some(entry) = nodes.get_mut(node) else {
            debug_assert!(false, "unknown wait node");
            return Poll::Ready(Turn::Expired);
        };
        if entry.expired {
            // Also when the dispatch completed the node after its deadline passed: a command sent
            // now would only time out after it was written, where `Busy` says it never was. The
            // caller's `cancel` passes the slots on.
            return Poll::Ready(Turn::Expired);
        }
        if entry.state == State::Ready {
            out.append(&mut entry.got);
            entry.state = State::Vacant;
            entry.waker = None;
            spare.push(node);
            return Poll::Ready(Turn::Served);
        }
        debug_assert_eq!(entry.state, State::Queued);
        match &entry.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => entry.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// The caller leaves without its slots: whatever the node collected goes back to the free list and
    /// on to the next waiter.
    pub(crate) fn cancel(&self, node: usize, free: &BoundedQueue<u32>) {
        let mut queue = self.lock();
        let Queue { nodes, spare, .. } = &mut *queue;
        let Some(entry) = nodes.get_mut(node) else {
            debug_assert!(false, "unknown wait node");
            return;
        };
        match entry.state {
            // Only the head collects slots, so `got` is empty unless this was the head; the node stays in
            // `order` (removing it from the middle would cost a scan) and the dispatch skips it.
            State::Queued => {
                entry.state = State::Cancelled;
                self.waiting.fetch_sub(1, Ordering::Relaxed);
            }
            // Completed but never taken (the caller was dropped or failed between wake and poll).
            State::Ready => {
                entry.state = State::Vacant;
                spare.push(node);
            }
            State::Vacant | State::Cancelled => debug_assert!(false, "wait node cancelled twice"),
        }
        entry.waker = None;
        for index in entry.got.drain(..) {
            let pushed = free.push(index);
            debug_assert!(
                pushed.is_ok(),
                "free list overflow: a slot was returned twice"
            );
        }
        self.dispatch_and_wake(queue, free);
    }

    /// Marks every queued waiter whose deadline is `now` or earlier as expired and wakes it, so its
    /// caller gives up with `Busy`. Called by the connection's sweep once per tick: a waiter learns of
    /// its deadline at most a tick late, as a caller waiting for its reply does.
    pub(crate) fn expire(&self, now: u64) {
        // Acquire on `waiting`, read first: seeing a waiter's increment (a release) makes its lowering
        // of `earliest`, made before it, visible too, so a waiter that is seen is never skipped for a
        // stale `earliest` (loom found that with both loads relaxed). A waiter not seen yet is expired
        // at the next tick.
        if self.waiting.load(Ordering::Acquire) == 0 || self.earliest.load(Ordering::Relaxed) > now
        {
            return;
        }
        let mut queue = self.lock();
        let mut earliest = u64::MAX;
        let wakers = queue.take_wakers(|node| {
            if node.expired {
                false
            } else if node.deadline <= now {
                node.expired = true;
                true
            } else {
                earliest = earliest.min(node.deadline);
                false
            }
        });
        // Under the mutex, so no waiter queued meanwhile has its lowering overwritten.
        self.earliest.store(earliest, Ordering::Relaxed);
        drop(queue);
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Wakes every waiter without giving it anything, so it re-checks the connection (close, loss).
    pub(crate) fn wake_all(&self) {
        let wakers = self.lock().take_wakers(|_| true);
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Dispatches under the lock, wakes the completed waiters after releasing it, and repeats while a
    /// full wake batch cut the dispatch short.
    fn dispatch_and_wake<'a>(&'a self, mut queue: MutexGuard<'a, Queue>, free: &BoundedQueue<u32>) {
        loop {
            let mut wakes = WakeList::new();
            let finished = queue.dispatch(&self.waiting, free, &mut wakes);
            drop(queue);
            wakes.wake_all();
            if finished {
                return;
            }
            queue = self.lock();
        }
    }
}

impl Queue {
    /// The wakers of the queued waiters that `pick` chooses (it may change them), in arrival order,
    /// to be woken once the lock is released. Off the hot path: close, connection loss and expiry.
    fn take_wakers(&mut self, mut pick: impl FnMut(&mut Node) -> bool) -> Vec<Waker> {
        let mut wakers = Vec::new();
        for &index in self.order.iter() {
            if let Some(node) = self.nodes.get_mut(index) {
                if node.state == State::Queued && pick(node) {
                    wakers.extend(node.waker.take());
                }
            }
        }
        wakers
    }

    /// Hands free slots to the waiters in arrival order: the head takes slots until it has all it needs,
    /// and only then does the next one get any. Returns false when it stopped because `wakes` was full
    /// (the caller wakes them and calls again), true when the queue or the free list ran out.
    fn dispatch(
        &mut self,
        waiting: &AtomicUsize,
        free: &BoundedQueue<u32>,
        wakes: &mut WakeList,
    ) -> bool {
        let Queue {
            order,
            nodes,
            spare,
        } = self;
        while let Some(&head) = order.front() {
            let Some(node) = nodes.get_mut(head) else {
                debug_assert!(false, "unknown wait node in the queue");
                order.pop_front();
                continue;
            };
            match node.state {
                State::Queued => {}
                State::Cancelled => {
                    node.state = State::Vacant;
                    order.pop_front();
                    spare.push(head);
                    continue;
                }
                State::Vacant | State::Ready => {
                    debug_assert!(false, "a retired wait node is still queued");
                    order.pop_front();
                    continue;
                }
            }
            if wakes.is_full() {
                return false;
            }
            while node.got.len() < node.need {
                match free.pop() {
                    Some(index) => node.got.push(index),
                    // The head keeps what it has; the next freed slot continues here.
                    None => return true,
                }
            }
            node.state = State::Ready;
            if let Some(waker) = node.waker.take() {
                wakes.push(waker);
            }
            order.pop_front();
            // Relaxed: read as a fairness hint by newcomers; the Dekker pattern needs only the increment.
            waiting.fetch_sub(1, Ordering::Relaxed);
        }
        true
    }
}

/// A few wakers, woken once the lock is released.
struct WakeList {
    wakers: [Option<Waker>; WAKE_BATCH],
    len: usize,
}

impl WakeList {
    fn new() -> WakeList {
        WakeList {
            wakers: [const { None }; WAKE_BATCH],
            len: 0,
        }
    }

    fn is_full(&self) -> bool {
        self.len >= WAKE_BATCH
    }

    fn push(&mut self, waker: Waker) {
        if let Some(cell) = self.wakers.get_mut(self.len) {
            *cell = Some(waker);
            self.len += 1;
        } else {
            // Callers check is_full first; waking in place is still correct, only under the lock.
            waker.wake();
        }
    }

    fn wake_all(&mut self) {
        for waker in self
            .wakers
            .iter_mut()
            .take(self.len)
            .filter_map(Option::take)
        {
            waker.wake();
        }
        self.len = 0;
    }
}

//! The one place where the crate's concurrency primitives come from: loom's under `cfg(loom)`, std's otherwise.
//!
//! Every atomic, `Arc`, `Mutex` and `UnsafeCell` used by the concurrent parts of the crate (slot pool and
//! its wait queue, waker, submit handoff) is imported from here, so `RUSTFLAGS="--cfg loom"` model-checks
//! exactly the code that ships.

#[cfg(loom)]
pub(crate) use loom::sync::{
    Arc, Mutex, MutexGuard,
    atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence},
};
#[cfg(not(loom))]
pub(crate) use std::sync::{
    Arc, Mutex, MutexGuard,
    atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence},
};

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;

/// A hint inside a retry loop that depends on another thread's progress: a CPU pause normally, a yield
/// to loom's scheduler under loom (which otherwise reports the loop as a livelock).
#[inline(always)]
pub(crate) fn spin_hint() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}

/// std's `UnsafeCell` behind loom's closure-based API, so the same code compiles under both.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> UnsafeCell<T> {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a pointer for exclusive access; the caller upholds the aliasing rules.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// A bounded MPMC queue: crossbeam's lock-free `ArrayQueue` in production, a loom mutex around a
/// `VecDeque` under loom (crossbeam is not instrumented for loom; what the models check is our protocol
/// around the queue, whose contract -- FIFO, linearizable push/pop, release on push, acquire on pop -- both meet).
#[cfg(not(loom))]
pub(crate) struct BoundedQueue<T>(crossbeam_queue::ArrayQueue<T>);

#[cfg(not(loom))]
impl<T> BoundedQueue<T> {
    pub(crate) fn new(capacity: usize) -> BoundedQueue<T> {
        BoundedQueue(crossbeam_queue::ArrayQueue::new(capacity.max(1)))
    }
    #[inline]
    pub(crate) fn push(&self, value: T) -> Result<(), T> {
        self.0.push(value)
    }
    #[inline]
    pub(crate) fn pop(&self) -> Option<T> {
        self.0.pop()
    }
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// See the non-loom `BoundedQueue`.
#[cfg(loom)]
pub(crate) struct BoundedQueue<T> {
    inner: loom::sync::Mutex<std::collections::VecDeque<T>>,
    capacity: usize,
}

#[cfg(loom)]
impl<T> BoundedQueue<T> {
    pub(crate) fn new(capacity: usize) -> BoundedQueue<T> {
        BoundedQueue {
            inner: loom::sync::Mutex::new(std::collections::VecDeque::new()),
            capacity: capacity.max(1),
        }
    }
    pub(crate) fn push(&self, value: T) -> Result<(), T> {
        let mut q = self.inner.lock().unwrap();
        if q.len() >= self.capacity {
            return Err(value);
        }
        q.push_back(value);
        Ok(())
    }
    pub(crate) fn pop(&self) -> Option<T> {
        self.inner.lock().unwrap().pop_front()
    }
    pub(crate) fn len(&self) -> usize {
        self.inner.lock().unwrap().len()
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

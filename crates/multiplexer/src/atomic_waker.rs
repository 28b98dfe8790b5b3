//! A single-slot waker cell that one party registers into and any party wakes, without a lock.
//!
//! The algorithm is the well-known one of `futures::task::AtomicWaker`: a two-bit state (`REGISTERING`,
//! `WAKING`) guards the `Option<Waker>`, so register and wake never touch the cell at the same time, and a
//! wake that races a register is never lost (the registering side sees `WAKING` and wakes itself).
//! It is written here on the loom shim so the models check it together with the slot state machine.

use std::task::Waker;

use crate::loom::{AtomicUsize, Ordering, UnsafeCell};

/// Nobody is registering or waking; the cell may be read by whoever sets a bit first.
const WAITING: usize = 0;
/// A register call owns the cell.
const REGISTERING: usize = 0b01;
/// A wake call owns the cell (or is about to), or arrived while a register owned it.
const WAKING: usize = 0b10;

/// See the module documentation.
pub(crate) struct AtomicWaker {
    state: AtomicUsize,
    waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: the `waker` cell is only accessed by the party that moved `state` out of WAITING (register
// moves it to REGISTERING, take moves it to WAKING), so there is never concurrent access to it, and
// `Waker` itself is Send + Sync.
unsafe impl Send for AtomicWaker {}
// SAFETY: see the Send impl.
unsafe impl Sync for AtomicWaker {}

impl AtomicWaker {
    pub(crate) fn new() -> AtomicWaker {
        AtomicWaker {
            state: AtomicUsize::new(WAITING),
            waker: UnsafeCell::new(None),
        }
    }

    /// Stores `waker` to be woken by the next `wake`. Must not be called concurrently with itself.
    pub(crate) fn register(&self, waker: &Waker) {
        // Acquire: see the cell as the last register/take left it.
        match self
            .state
            .compare_exchange(WAITING, REGISTERING, Ordering::Acquire, Ordering::Acquire)
            .unwrap_or_else(|actual| actual)
        {
            WAITING => {
                // SAFETY: state is REGISTERING, which gives this thread exclusive access to the cell.
                self.waker.with_mut(|cell| unsafe {
                    match &*cell {
                        // Re-registering the same task is the common case; skip the refcount clone.
                        Some(old) if old.will_wake(waker) => {}
                        _ => *cell = Some(waker.clone()),
                    }
                });
                // AcqRel: release publishes the new waker to the next take; acquire (on failure) pairs
                // with the concurrent wake's fetch_or so we may take the cell back.
                if let Err(actual) = self.state.compare_exchange(
                    REGISTERING,
                    WAITING,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    // A wake arrived while we held the cell (actual == REGISTERING | WAKING): it could
                    // not take the waker, so we wake it ourselves.
                    debug_assert_eq!(actual, REGISTERING | WAKING);
                    // SAFETY: still exclusive: the waker saw REGISTERING and left the cell alone.
                    let waker = self.waker.with_mut(|cell| unsafe { (*cell).take() });
                    // AcqRel: release the cell (now empty) to the next register/take.
                    self.state.swap(WAITING, Ordering::AcqRel);
                    if let Some(waker) = waker {
                        waker.wake();
                    }
                }
            }
            WAKING => {
                // A wake is in progress right now and may already have taken the old waker:
                // wake the new one directly so the notification is not lost.
                waker.wake_by_ref();
                // The task will be polled again at once; give the waking thread a chance to finish.
                crate::loom::spin_hint();
            }
            _ => {
                // Concurrent register calls are a caller bug; each cell has one registering owner.
                debug_assert!(false, "AtomicWaker::register called concurrently");
            }
        }
    }

    /// Wakes the registered waker, if any.
    #[inline]
    pub(crate) fn wake(&self) {
        if let Some(waker) = self.take() {
            waker.wake();
        }
    }

    /// Removes the registered waker, if any, without waking it.
    pub(crate) fn take(&self) -> Option<Waker> {
        // AcqRel: acquire the waker published by register; release orders whatever the caller did before
        // (e.g. publishing a result) before the register side observes WAKING.
        match self.state.fetch_or(WAKING, Ordering::AcqRel) {
            WAITING => {
                // SAFETY: we moved the state from WAITING to WAKING: exclusive access to the cell.
                let waker = self.waker.with_mut(|cell| unsafe { (*cell).take() });
                // Release: hand the (now empty) cell back to the next register.
                self.state.fetch_and(!WAKING, Ordering::Release);
                waker
            }
            // A register holds the cell and will see WAKING and wake itself, or another wake is already
            // taking the waker: nothing for us to do.
            _ => None,
        }
    }
}

impl std::fmt::Debug for AtomicWaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtomicWaker").finish_non_exhaustive()
    }
}

//! A wake-up flag with one consumer and many producers: how submitters wake the writer loop.
//!
//! A producer makes its condition true (pushes a command), then calls [`Signal::notify`]; the consumer
//! loops "check the condition, then [`Signal::poll_notified`]". Both sides do a read-modify-write on the
//! same flag, so their order is total in the flag's modification order: either the producer's swap comes
//! after the consumer's last swap (it reads `false` and wakes the registered waker) or before it (the
//! consumer's swap reads `true`, acquires the producer's push and checks again). No wake-up is lost, and
//! a producer only pays for a wake when the consumer has run out of work: while the writer is busy the
//! flag stays `true` and a submit costs one uncontended-in-practice swap.

use std::task::{Context, Poll};

use crate::atomic_waker::AtomicWaker;
use crate::loom::{AtomicBool, Ordering};

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct Signal {
    notified: AtomicBool,
    waker: AtomicWaker,
}

impl Signal {
    pub(crate) fn new() -> Signal {
        Signal {
            notified: AtomicBool::new(false),
            waker: AtomicWaker::new(),
        }
    }

    /// Tells the consumer to look again. Call after making the condition true.
    #[inline]
    pub(crate) fn notify(&self) {
        // AcqRel: release publishes the producer's prior writes (the queued command) to the consumer's
        // acquiring swap; the RMW keeps the release sequence intact when the flag was already true.
        if !self.notified.swap(true, Ordering::AcqRel) {
            self.waker.wake();
        }
    }

    /// Ready when a notification arrived since the last Ready; the consumer must then re-check its condition.
    pub(crate) fn poll_notified(&self, cx: &mut Context<'_>) -> Poll<()> {
        // AcqRel: acquire the producers' writes; release is harmless and keeps the RMW chain total.
        if self.notified.swap(false, Ordering::AcqRel) {
            return Poll::Ready(());
        }
        self.waker.register(cx.waker());
        // Checked again after registering: a notify between the first swap and the register may have
        // woken a stale waker (or none), but it left the flag set, which this swap sees.
        if self.notified.swap(false, Ordering::AcqRel) {
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// Registers the consumer's waker without taking a notification: a [`notify`](Self::notify) that
    /// finds the flag set (a notification not taken yet) then costs its producer no wake-up, and only
    /// [`wake`](Self::wake) or a `notify` on a clear flag wakes the consumer. For a consumer that waits
    /// on a condition of its own and re-checks it after registering (the writer holding its queue
    /// until its replies are read).
    pub(crate) fn register(&self, cx: &mut Context<'_>) {
        self.waker.register(cx.waker());
    }

    /// Wakes the consumer unconditionally (state changes such as close, where the flag protocol is not needed).
    pub(crate) fn wake(&self) {
        // Release through the swap, as in notify, then an unconditional wake.
        self.notified.swap(true, Ordering::AcqRel);
        self.waker.wake();
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use std::future::poll_fn;
    use std::task::Poll;

    use loom::future::block_on;
    use loom::sync::Arc;
    use loom::thread;

    use super::*;
    use crate::loom::BoundedQueue;

    /// Two submitters push and notify while the writer drains and parks: the writer always gets both
    /// commands (a lost wake-up would leave block_on parked forever, which loom reports as a deadlock).
    #[test]
    fn loom_submit_queue_wakes_writer() {
        loom::model(|| {
            let queue = Arc::new(BoundedQueue::<u32>::new(4));
            let signal = Arc::new(Signal::new());
            let submitters: Vec<_> = (0..2)
                .map(|i| {
                    let queue = queue.clone();
                    let signal = signal.clone();
                    thread::spawn(move || {
                        queue.push(i).unwrap();
                        signal.notify();
                    })
                })
                .collect();
            let mut seen = 0;
            block_on(poll_fn(|cx| {
                loop {
                    while queue.pop().is_some() {
                        seen += 1;
                    }
                    if seen == 2 {
                        return Poll::Ready(());
                    }
                    if signal.poll_notified(cx).is_pending() {
                        return Poll::Pending;
                    }
                }
            }));
            for s in submitters {
                s.join().unwrap();
            }
        });
    }

    /// A notification that arrives while the writer is busy (flag already set) is not lost either:
    /// the writer consumes the flag on its next check and finds the command.
    #[test]
    fn loom_notify_while_busy() {
        loom::model(|| {
            let queue = Arc::new(BoundedQueue::<u32>::new(4));
            let signal = Arc::new(Signal::new());
            // A stale notification from an earlier, already drained command.
            signal.notify();
            let submitter = {
                let queue = queue.clone();
                let signal = signal.clone();
                thread::spawn(move || {
                    queue.push(1).unwrap();
                    signal.notify();
                })
            };
            block_on(poll_fn(|cx| {
                loop {
                    if queue.pop().is_some() {
                        return Poll::Ready(());
                    }
                    if signal.poll_notified(cx).is_pending() {
                        return Poll::Pending;
                    }
                }
            }));
            submitter.join().unwrap();
        });
    }
}

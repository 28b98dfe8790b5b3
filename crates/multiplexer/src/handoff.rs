//! The writer-to-reader handoff of written slot indices: a single-producer single-consumer ring.
//!
//! The writer appends the indices of a batch with plain stores and publishes them with one release
//! store of `tail` per batch, before the write syscall; the reader reads them in order and publishes
//! its progress with a release store of `head` per index (a plain `mov` on x86, no read-modify-write).
//! This replaced a lock-free MPMC queue here, which cost two contended compare-and-swaps per command
//! for a queue that only ever has one producer and one consumer.
//!
//! The ring never overflows in practice (every index in it is an outstanding slot and it has one place
//! per slot), but the writer still checks the room it has, so a bug elsewhere could only stall the
//! writer, never overwrite an unread index.

use crate::loom::{AtomicUsize, Ordering, UnsafeCell};

/// See the module documentation.
pub(crate) struct Handoff {
    ring: Box<[UnsafeCell<u32>]>,
    /// Next position the reader will read; written by the reader only.
    head: AtomicUsize,
    /// Next position the writer will fill; written by the writer only.
    tail: AtomicUsize,
}

// SAFETY: a ring cell is written by the writer only at positions in [tail, head + capacity), and read by
// the reader only at positions in [head, tail); the release/acquire pairs on head and tail order each
// write before the read of the same position and each read before the next write to that cell.
unsafe impl Send for Handoff {}
// SAFETY: see Send.
unsafe impl Sync for Handoff {}

impl Handoff {
    pub(crate) fn new(capacity: usize) -> Handoff {
        Handoff {
            ring: (0..capacity.max(1)).map(|_| UnsafeCell::new(0)).collect(),
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
        }
    }

    fn cell(&self, position: usize) -> Option<&UnsafeCell<u32>> {
        self.ring.get(position % self.ring.len())
    }

    /// Writer: a cursor to append from, with the room available right now.
    pub(crate) fn writer(&self) -> WriteCursor<'_> {
        // Relaxed: only the writer stores tail.
        let tail = self.tail.load(Ordering::Relaxed);
        // Acquire: the reader's reads of the cells up to head happen before we overwrite them.
        let head = self.head.load(Ordering::Acquire);
        let room = self.ring.len().saturating_sub(tail.wrapping_sub(head));
        WriteCursor {
            handoff: self,
            tail,
            room,
        }
    }

    /// Reader: a cursor to read from, seeing what the writer has published so far.
    pub(crate) fn reader(&self) -> ReadCursor<'_> {
        ReadCursor {
            handoff: self,
            // Relaxed: only the reader (or the driver once the reader is gone) stores head.
            head: self.head.load(Ordering::Relaxed),
            // Acquire: pairs with the writer's publish so the cells up to tail are visible.
            tail: self.tail.load(Ordering::Acquire),
        }
    }
}

/// The writer's view for one batch.
pub(crate) struct WriteCursor<'a> {
    handoff: &'a Handoff,
    tail: usize,
    room: usize,
}

impl WriteCursor<'_> {
    /// How many more indices fit.
    pub(crate) fn room(&self) -> usize {
        self.room
    }

    /// Re-reads the reader's progress: the room can only have grown since the cursor was made.
    /// Every index in the ring and every slot the writer holds is a distinct outstanding slot, so after
    /// a refresh the room always fits what the writer holds.
    pub(crate) fn refresh(&mut self) {
        // Acquire: the reader's reads of the cells up to head happen before we overwrite them.
        let head = self.handoff.head.load(Ordering::Acquire);
        self.room = self
            .handoff
            .ring
            .len()
            .saturating_sub(self.tail.wrapping_sub(head));
    }

    /// Appends one index (not visible to the reader until `publish`). False when the ring is full.
    #[inline]
    pub(crate) fn push(&mut self, index: u32) -> bool {
        if self.room == 0 {
            return false;
        }
        if let Some(cell) = self.handoff.cell(self.tail) {
            // SAFETY: position tail is outside [head, tail): the reader does not read it until published,
            // and room > 0 means the reader is done with its previous use.
            cell.with_mut(|p| unsafe { *p = index });
        }
        self.tail = self.tail.wrapping_add(1);
        self.room -= 1;
        true
    }

    /// Makes every pushed index visible to the reader.
    #[inline]
    pub(crate) fn publish(&self) {
        // Release: the cell writes above happen before the reader's acquire load of tail.
        self.handoff.tail.store(self.tail, Ordering::Release);
    }
}

/// The reader's view; refreshes its copy of tail when it runs out.
pub(crate) struct ReadCursor<'a> {
    handoff: &'a Handoff,
    head: usize,
    tail: usize,
}

impl ReadCursor<'_> {
    /// The next written index in order, or None when nothing more is published.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<u32> {
        if self.head == self.tail {
            // Acquire: see the cells the writer published since our last look.
            self.tail = self.handoff.tail.load(Ordering::Acquire);
            if self.head == self.tail {
                return None;
            }
        }
        let index = self.handoff.cell(self.head).map(|cell| {
            // SAFETY: head is in [head, tail), published by the writer (acquire above or earlier).
            cell.with_mut(|p| unsafe { *p })
        });
        self.head = self.head.wrapping_add(1);
        // Release: our read of the cell happens before the writer reuses it. Published per index (not
        // per read batch) because the slot is completed right after this and may be reused at once.
        self.handoff.head.store(self.head, Ordering::Release);
        index
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn wraps_around_in_order_and_respects_room() {
        let h = Handoff::new(3);
        let mut expected = 0u32;
        let mut next = 0u32;
        for round in 0..10 {
            let mut w = h.writer();
            let n = 1 + round % 3;
            for _ in 0..n {
                if w.push(next) {
                    next += 1;
                }
            }
            w.publish();
            let mut r = h.reader();
            while let Some(i) = r.pop() {
                assert_eq!(i, expected);
                expected += 1;
            }
        }
        assert_eq!(expected, next);
        let mut w = h.writer();
        assert_eq!(w.room(), 3);
        assert!(w.push(1) && w.push(2) && w.push(3) && !w.push(4));
        // The reader frees places while the writer holds a stale cursor: a refresh sees them.
        w.publish();
        let mut r = h.reader();
        assert_eq!((r.pop(), r.pop()), (Some(1), Some(2)));
        assert_eq!(w.room(), 0);
        w.refresh();
        assert_eq!(w.room(), 2);
        assert!(w.push(4) && w.push(5) && !w.push(6));
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use loom::sync::Arc;
    use loom::thread;

    use super::*;

    /// The writer wraps around a 2-cell ring while the reader consumes: every index arrives once, in
    /// order, and no cell is overwritten before it was read (loom checks the cell accesses).
    #[test]
    fn loom_handoff_wraps_without_overwriting() {
        loom::model(|| {
            let h = Arc::new(Handoff::new(2));
            let writer = {
                let h = h.clone();
                thread::spawn(move || {
                    for index in 0..3u32 {
                        loop {
                            let mut w = h.writer();
                            if w.push(index) {
                                w.publish();
                                break;
                            }
                            thread::yield_now();
                        }
                    }
                })
            };
            let mut expected = 0;
            while expected < 3 {
                match h.reader().pop() {
                    Some(index) => {
                        assert_eq!(index, expected);
                        expected += 1;
                    }
                    None => thread::yield_now(),
                }
            }
            writer.join().unwrap();
        });
    }
}

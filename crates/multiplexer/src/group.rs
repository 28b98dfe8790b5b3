//! [`ConnectionGroup`]: connections whose writers wait for the same callers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The connections of one client (every node of a cluster, every connection of a pool), sharing a
/// count of callers that a reply has woken and that have not run yet.
///
/// Why: a closed-loop caller sends its next command right after it takes a reply, often to another
/// connection (another node of a cluster). A writer that sees such callers waiting to run yields to
/// them first, so their commands share its next write; with a count per connection only, the writers
/// of a cluster's other nodes saw nobody coming and wrote one small batch per wake-up, and the send
/// syscall was 40% of the client's CPU in `cargo xtask profile --workload get_single --target cluster`.
///
/// Every [`ConnectionConfig`](crate::ConnectionConfig) starts with a group of its own, and its clones
/// share it: the connections made from one configuration form one group. The count is a scheduling
/// hint only; nothing depends on it for correctness. A reply future that is kept but never polled
/// again (or leaked with `mem::forget`) after its reply arrived stays counted, and until it is polled
/// or dropped every writer of the group yields once per write: a few microseconds, never a hang.
#[derive(Clone, Debug, Default)]
pub struct ConnectionGroup {
    woken: Arc<AtomicUsize>,
}

impl ConnectionGroup {
    /// A group of its own.
    pub fn new() -> ConnectionGroup {
        ConnectionGroup::default()
    }

    /// Callers woken by a reply that have not taken it yet, over the group.
    #[inline]
    pub(crate) fn woken_callers(&self) -> usize {
        // Relaxed: a hint for the writer's yield decision.
        self.woken.load(Ordering::Relaxed)
    }

    /// A reply is about to be handed to a caller. Called before the hand-over is published, so the
    /// caller's `taken` cannot come first (it is ordered after by the slot's release/acquire).
    #[inline]
    pub(crate) fn delivering(&self) {
        self.woken.fetch_add(1, Ordering::Relaxed);
    }

    /// The reply announced by `delivering` was taken by its caller, or dropped.
    #[inline]
    pub(crate) fn taken(&self) {
        self.woken.fetch_sub(1, Ordering::Relaxed);
    }
}

//! Connection counters ([`ConnectionStats`]), kept as relaxed atomics and read as a snapshot.

use crate::loom::{AtomicU64, Ordering};

/// A snapshot of a connection's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionStats {
    /// Successful connects, the first one included.
    pub connects: u64,
    /// Successful reconnects after a lost connection.
    pub reconnects: u64,
    /// Connections lost (EOF, reset, write error, protocol error).
    pub disconnects: u64,
    /// Replies matched to commands.
    pub commands: u64,
    /// Write batches, one write call each (commands / writes is the average batch).
    pub writes: u64,
    /// Reads that returned data (commands / reads is the average number of replies per read).
    pub reads: u64,
    /// Callers whose deadline passed.
    pub timeouts: u64,
    /// Callers that found every slot taken until their deadline.
    pub busy: u64,
    /// RESP3 push frames read and dropped.
    pub push_frames: u64,
    /// Protocol errors (invalid RESP, unsolicited replies).
    pub protocol_errors: u64,
}

/// The live counters. Relaxed everywhere: they are statistics, ordered with nothing.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) connects: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) disconnects: AtomicU64,
    pub(crate) replies: AtomicU64,
    pub(crate) writes: AtomicU64,
    pub(crate) reads: AtomicU64,
    pub(crate) timeouts: AtomicU64,
    pub(crate) busy: AtomicU64,
    pub(crate) push_frames: AtomicU64,
    pub(crate) protocol_errors: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> ConnectionStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ConnectionStats {
            connects: get(&self.connects),
            reconnects: get(&self.reconnects),
            disconnects: get(&self.disconnects),
            commands: get(&self.replies),
            writes: get(&self.writes),
            reads: get(&self.reads),
            timeouts: get(&self.timeouts),
            busy: get(&self.busy),
            push_frames: get(&self.push_frames),
            protocol_errors: get(&self.protocol_errors),
        }
    }
}

impl std::ops::Add for ConnectionStats {
    type Output = ConnectionStats;
    fn add(self, o: ConnectionStats) -> ConnectionStats {
        ConnectionStats {
            connects: self.connects + o.connects,
            reconnects: self.reconnects + o.reconnects,
            disconnects: self.disconnects + o.disconnects,
            commands: self.commands + o.commands,
            writes: self.writes + o.writes,
            reads: self.reads + o.reads,
            timeouts: self.timeouts + o.timeouts,
            busy: self.busy + o.busy,
            push_frames: self.push_frames + o.push_frames,
            protocol_errors: self.protocol_errors + o.protocol_errors,
        }
    }
}

//! What to do with a reply: deliver it, follow a redirect, or retry after a pause.
//! Pure functions, so the policy is tested without a server.

use std::time::Duration;

use cluster_topology::{Redirect, RedirectKind};
use resp_codec::{ErrorCode, Frame};

/// The router's reading of one reply.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A reply for the caller (data or an error the router does not handle).
    Done,
    /// `-MOVED slot host:port`: the slot lives elsewhere now.
    Moved(Redirect),
    /// `-ASK slot host:port`: this key is being migrated; ask the target once.
    Ask(Redirect),
    /// Refused before running (TRYAGAIN, CLUSTERDOWN, LOADING, MASTERDOWN, READONLY): safe to retry.
    Refused { refresh: Refresh },
}

/// What a refusal says about the router's topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refresh {
    /// Nothing (TRYAGAIN, LOADING: the node is right, just not ready).
    No,
    /// Probably stale (CLUSTERDOWN, MASTERDOWN: a failover is under way): ask for a refresh, retry after a pause.
    Request,
    /// Certainly stale (READONLY: the node we took for a master is a replica now): retrying before a
    /// refresh would only hit the replica again, so wait for one, then retry.
    Await,
}

/// Classifies a reply. Only error frames are inspected; the check is one byte on the common path.
pub(crate) fn classify(frame: &Frame) -> Outcome {
    let Some(code) = frame.error_code() else {
        return Outcome::Done;
    };
    let text = match frame {
        Frame::SimpleError(b) | Frame::BulkError(b) => &b[..],
        _ => return Outcome::Done,
    };
    match code {
        ErrorCode::Moved | ErrorCode::Ask => match Redirect::parse(text) {
            Some(r) if r.kind == RedirectKind::Moved => Outcome::Moved(r),
            Some(r) => Outcome::Ask(r),
            None => Outcome::Done,
        },
        ErrorCode::ReadOnly => Outcome::Refused {
            refresh: Refresh::Await,
        },
        ErrorCode::ClusterDown | ErrorCode::MasterDown => Outcome::Refused {
            refresh: Refresh::Request,
        },
        ErrorCode::TryAgain | ErrorCode::Loading => Outcome::Refused {
            refresh: Refresh::No,
        },
        _ => Outcome::Done,
    }
}

/// Capped exponential backoff with jitter, for refused commands and unsent connection failures.
#[derive(Clone, Debug)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max: max.max(min),
            attempt: 0,
        }
    }

    /// The next pause: min * 2^attempt capped at max, then a random point in its upper half,
    /// so that many commands refused at once do not come back at once.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let base = self
            .min
            .saturating_mul(1u32 << self.attempt.min(16))
            .min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let half = base / 2;
        let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        let jitter = if nanos == 0 { 0 } else { random_u64() % nanos };
        half.saturating_add(Duration::from_nanos(jitter))
    }
}

/// A cheap random number (jitter only; not for anything that must be unpredictable).
pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x9e37_79b9_7f4a_7c15);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn check(wire_error: &str, expected: Outcome) {
        let frame = Frame::SimpleError(Bytes::copy_from_slice(wire_error.as_bytes()));
        assert_eq!(classify(&frame), expected, "{wire_error}");
    }

    #[test]
    fn classifies_errors() {
        let r = |text: &str| Redirect::parse(text.as_bytes()).unwrap_or_else(|| panic!("{text}"));
        check(
            "MOVED 3999 127.0.0.1:6381",
            Outcome::Moved(r("MOVED 3999 127.0.0.1:6381")),
        );
        check(
            "ASK 12 10.0.0.1:7000",
            Outcome::Ask(r("ASK 12 10.0.0.1:7000")),
        );
        check("MOVED 1 :7000", Outcome::Moved(r("MOVED 1 :7000")));
        check("MOVED 16384 127.0.0.1:1", Outcome::Done);
        check("MOVED nonsense", Outcome::Done);
        check(
            "TRYAGAIN Multiple keys request during rehashing of slot",
            Outcome::Refused {
                refresh: Refresh::No,
            },
        );
        check(
            "CLUSTERDOWN The cluster is down",
            Outcome::Refused {
                refresh: Refresh::Request,
            },
        );
        check(
            "LOADING Redis is loading the dataset in memory",
            Outcome::Refused {
                refresh: Refresh::No,
            },
        );
        check(
            "MASTERDOWN Link with MASTER is down",
            Outcome::Refused {
                refresh: Refresh::Request,
            },
        );
        check(
            "READONLY You can't write against a read only replica.",
            Outcome::Refused {
                refresh: Refresh::Await,
            },
        );
        check("ERR unknown command", Outcome::Done);
        check(
            "CROSSSLOT Keys in request don't hash to the same slot",
            Outcome::Done,
        );
        assert_eq!(classify(&Frame::Integer(1)), Outcome::Done);
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        let mut b = Backoff::new(Duration::from_millis(10), Duration::from_millis(100));
        let delays: Vec<Duration> = (0..10).map(|_| b.next_delay()).collect();
        for (i, d) in delays.iter().enumerate() {
            let base = Duration::from_millis(10 * (1 << i.min(4))).min(Duration::from_millis(100));
            assert!(
                *d >= base / 2 && *d <= base,
                "attempt {i}: {d:?} outside [{:?}, {base:?}]",
                base / 2
            );
        }
    }
}

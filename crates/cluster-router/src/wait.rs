//! `WAIT` and `WAITAOF` on shared connections.
//!
//! Both wait for the writes sent before them *on the connection they arrive on* (`WAIT`: until that many
//! replicas acknowledged them; `WAITAOF`: until they are in that many AOFs). With connections shared by
//! every caller, a caller's earlier writes went out on some connection of the node that owns their keys,
//! so [`send_to_every_connection`] runs the command on every connection of every master given and answers
//! the smallest count: what holds for all of them, and so for the caller's writes (Redis documents the
//! same rule for cluster clients: `WAIT`'s tips are `request_policy:all_shards`, `response_policy:agg_min`).
//! The count is a lower bound: a master the caller wrote nothing to answers with its own replicas, which
//! may be fewer. What it cannot cover is a write made before its connection was re-established: the
//! server tracks the offset per connection, and a new connection has none.
//!
//! While a `WAIT` blocks, the server holds every later reply of its connection behind it, so its timeout
//! is bounded ([`bounded_by_deadline`]) by the caller's deadline and by the connections' own command
//! timeout, the longest any other caller expects to wait: a `WAIT 1 0` (wait forever) for a replica that
//! is down would otherwise stall the connection's other callers for good.

use std::borrow::Cow;
use std::time::Duration;

use futures_util::future::join_all;
use multiplexer::{Multiplexer, Pool};
use resp_codec::{EncodedCommand, Frame};
use tokio::time::Instant;

use crate::error::{Error, ErrorKind};

/// How long before the deadline a bounded `WAIT` times out on the server, at least: the server notices
/// an expired `WAIT` in its event loop, which an idle server runs at its `hz` timer (10 per second by
/// default, so up to 100 ms late), and the reply still has to travel and be read on a busy machine.
/// With this margin the caller gets the count reached so far instead of a timeout.
const WAIT_REPLY_MARGIN: Duration = Duration::from_millis(250);

/// The margin grows with the time left, in this fraction of it, so a long deadline also absorbs a busy
/// server's slower answer.
const WAIT_MARGIN_DIVISOR: u32 = 10;

/// `cmd` (`WAIT numreplicas timeout`, `WAITAOF numlocal numreplicas timeout`: the timeout is the last
/// argument, in milliseconds, 0 meaning forever) with its timeout lowered to end a margin before
/// `deadline` (see [`WAIT_REPLY_MARGIN`]), and never to 0. A timeout that already fits, or that is not a
/// number (the server will reject it), is kept as it is.
pub(crate) fn bounded_by_deadline(
    cmd: &EncodedCommand,
    deadline: Instant,
) -> Cow<'_, EncodedCommand> {
    let left = deadline.saturating_duration_since(Instant::now());
    let margin = WAIT_REPLY_MARGIN.max(left / WAIT_MARGIN_DIVISOR);
    let cap = left
        .saturating_sub(margin)
        .max(Duration::from_millis(1))
        .as_millis();
    let Some(last) = cmd.argc().checked_sub(1).filter(|&i| i > 0) else {
        return Cow::Borrowed(cmd);
    };
    let timeout = cmd
        .arg(last)
        .and_then(|a| std::str::from_utf8(a).ok())
        .and_then(|a| a.parse::<u128>().ok());
    match timeout {
        Some(ms) if ms == 0 || ms > cap => {
            let cap = cap.to_string();
            let args = cmd.args().take(last).chain(std::iter::once(cap.as_bytes()));
            Cow::Owned(EncodedCommand::from_args(args))
        }
        _ => Cow::Borrowed(cmd),
    }
}

/// The smallest of the replies: integers (`WAIT`) or arrays of integers compared element by element
/// (`WAITAOF`'s `[local, replicas]`). A server error from any connection is the reply.
pub(crate) fn merge_min(replies: Vec<Frame>) -> Result<Frame, Error> {
    if let Some(err) = replies.iter().find(|f| f.is_error()) {
        return Ok(err.clone());
    }
    let mut replies = replies.into_iter();
    let first = replies
        .next()
        .ok_or_else(|| Error::new(ErrorKind::NoRoute, "no connection to wait on"))?;
    replies.try_fold(first, |acc, reply| match (acc, reply) {
        (Frame::Integer(a), Frame::Integer(b)) => Ok(Frame::Integer(a.min(b))),
        (Frame::Array(a), Frame::Array(b)) if a.len() == b.len() => a
            .into_iter()
            .zip(b)
            .map(|pair| match pair {
                (Frame::Integer(x), Frame::Integer(y)) => Ok(Frame::Integer(x.min(y))),
                (x, _) => Err(unexpected(&x)),
            })
            .collect::<Result<Vec<Frame>, Error>>()
            .map(Frame::Array),
        (a, _) => Err(unexpected(&a)),
    })
}

fn unexpected(frame: &Frame) -> Error {
    Error::new(
        ErrorKind::Protocol,
        format!("WAIT/WAITAOF answered {frame:?}, not a count"),
    )
}

/// Sends `cmd` (`WAIT` or `WAITAOF`) on every connection of every pool and answers the smallest count
/// (see the module documentation). Its timeout is bounded by `deadline` and by the connections' command
/// timeout. The first connection error fails the whole call: a count that leaves a connection out would
/// overstate the guarantee.
pub async fn send_to_every_connection<'p>(
    pools: impl IntoIterator<Item = &'p Pool>,
    cmd: &EncodedCommand,
    deadline: Instant,
) -> Result<Frame, Error> {
    let conns: Vec<&Multiplexer> = pools.into_iter().flat_map(Pool::connections).collect();
    let now = Instant::now();
    let held_at_most = conns
        .iter()
        .filter_map(|c| now.checked_add(c.config().command_timeout))
        .fold(deadline, Instant::min);
    let cmd = bounded_by_deadline(cmd, held_at_most);
    let cmd: &EncodedCommand = &cmd;
    let sends = conns.iter().map(|conn| conn.send_by(cmd, deadline));
    let replies = join_all(sends)
        .await
        .into_iter()
        .map(|r| r.map_err(|e| Error::from_mux(&e)))
        .collect::<Result<Vec<Frame>, Error>>()?;
    merge_min(replies)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(args: &[&str]) -> EncodedCommand {
        EncodedCommand::from_args(args.iter().copied())
    }

    #[test]
    fn a_wait_longer_than_the_deadline_is_bounded_by_it() {
        let deadline = Instant::now() + Duration::from_secs(2);
        let bounded = |args: &[&str]| bounded_by_deadline(&cmd(args), deadline).into_owned();
        // Forever and too long end 250 ms before the 2 s left (a few ms may pass while the test runs).
        for args in [&["WAIT", "1", "0"][..], &["WAIT", "1", "60000"]] {
            let got = bounded(args);
            let ms: u64 = std::str::from_utf8(got.arg(2).unwrap())
                .unwrap()
                .parse()
                .unwrap();
            assert!((1650..=1750).contains(&ms), "{args:?} -> {ms}");
        }
        // A long deadline keeps a tenth of it; a huge one does not overflow.
        let far = Instant::now() + Duration::from_secs(60);
        let got = bounded_by_deadline(&cmd(&["WAIT", "1", "0"]), far).into_owned();
        let ms: u64 = std::str::from_utf8(got.arg(2).unwrap())
            .unwrap()
            .parse()
            .unwrap();
        assert!((53_900..=54_000).contains(&ms), "{ms}");
        let century = Instant::now() + Duration::from_secs(100 * 365 * 86_400);
        let short = cmd(&["WAIT", "1", "100"]);
        assert_eq!(bounded_by_deadline(&short, century).into_owned(), short);
        // Only the timeout changes.
        assert_eq!(bounded(&["WAIT", "3", "0"]).arg(1), Some(&b"3"[..]));
        let got = bounded(&["WAITAOF", "1", "2", "0"]);
        assert_eq!(
            &got.bytes()[..31],
            b"*4\r\n$7\r\nWAITAOF\r\n$1\r\n1\r\n$1\r\n2\r\n"
        );
        // Short enough, or not a number: unchanged.
        for args in [&["WAIT", "1", "100"][..], &["WAIT", "1", "soon"], &["WAIT"]] {
            assert_eq!(bounded(args), cmd(args), "{args:?}");
        }
        // A deadline already past still leaves the server a 1 ms timeout, never 0 (forever).
        let past = bounded_by_deadline(&cmd(&["WAIT", "1", "0"]), Instant::now()).into_owned();
        assert_eq!(past, cmd(&["WAIT", "1", "1"]));
    }

    #[test]
    fn the_smallest_count_wins() {
        let i = Frame::Integer;
        assert_eq!(merge_min(vec![i(2), i(0), i(1)]).ok(), Some(i(0)));
        assert_eq!(
            merge_min(vec![
                Frame::Array(vec![i(1), i(2)]),
                Frame::Array(vec![i(0), i(3)]),
            ])
            .ok(),
            Some(Frame::Array(vec![i(0), i(2)]))
        );
        let err = Frame::SimpleError("NOREPLICAS Not enough good replicas".into());
        assert_eq!(merge_min(vec![i(1), err.clone()]).ok(), Some(err));
        assert_eq!(
            merge_min(vec![]).map_err(|e| e.kind()),
            Err(ErrorKind::NoRoute)
        );
        assert_eq!(
            merge_min(vec![i(1), Frame::SimpleString("OK".into())]).map_err(|e| e.kind()),
            Err(ErrorKind::Protocol)
        );
        assert_eq!(
            merge_min(vec![
                Frame::Array(vec![i(1)]),
                Frame::Array(vec![i(1), i(2)])
            ])
            .map_err(|e| e.kind()),
            Err(ErrorKind::Protocol)
        );
    }
}

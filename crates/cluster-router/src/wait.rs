//! `WAIT` and `WAITAOF` on shared connections.
//!
//! Both wait for the writes sent before them *on the connection they arrive on* (`WAIT`: until that many
//! replicas acknowledged them; `WAITAOF`: until they are in that many AOFs). With connections shared by
//! every caller, a caller's earlier writes went out on some connection of the node that owns their keys,
//! so [`send_to_every_connection`] runs the command on every connection of every master given and answers
//! the smallest count: what holds for all of them, and so for the caller's writes. A count from a
//! connection that carried none of those writes can only be higher, never hide a lagging one.
//!
//! While a `WAIT` blocks, the server holds every later reply of its connection behind it, so its timeout
//! is bounded by the caller's deadline ([`bounded_by_deadline`]): a `WAIT 1 0` (wait forever) for a
//! replica that is down would otherwise stall the connection's other callers for good.

use std::borrow::Cow;
use std::time::Duration;

use futures_util::future::join_all;
use multiplexer::Pool;
use resp_codec::{EncodedCommand, Frame};
use tokio::time::Instant;

use crate::error::{Error, ErrorKind};

/// The share of the time left before the caller's deadline that a `WAIT` may block its connection, in
/// tenths: the server answers (with the count reached so far) a little before the caller gives up, so
/// the caller gets that count instead of a timeout, and the connection is free again by then.
const WAIT_SHARE_TENTHS: u32 = 9;

/// `cmd` (`WAIT numreplicas timeout`, `WAITAOF numlocal numreplicas timeout`: the timeout is the last
/// argument, in milliseconds, 0 meaning forever) with its timeout lowered to fit before `deadline`.
/// A timeout that already fits, or that is not a number (the server will reject it), is kept as it is.
pub(crate) fn bounded_by_deadline(
    cmd: &EncodedCommand,
    deadline: Instant,
) -> Cow<'_, EncodedCommand> {
    let left = deadline.saturating_duration_since(Instant::now()) * WAIT_SHARE_TENTHS / 10;
    let cap = left.max(Duration::from_millis(1)).as_millis();
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

/// Sends `cmd` (`WAIT` or `WAITAOF`) on every connection of every pool, its timeout bounded by
/// `deadline`, and answers the smallest count (see the module documentation). The first connection
/// error fails the whole call: a count that leaves a connection out would overstate the guarantee.
pub async fn send_to_every_connection<'p>(
    pools: impl IntoIterator<Item = &'p Pool>,
    cmd: &EncodedCommand,
    deadline: Instant,
) -> Result<Frame, Error> {
    let cmd = bounded_by_deadline(cmd, deadline);
    let cmd: &EncodedCommand = &cmd;
    let sends = pools
        .into_iter()
        .flat_map(Pool::connections)
        .map(|conn| conn.send_by(cmd, deadline));
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
        // Forever and too long become 9/10 of the 2 s left (a few ms may pass while the test runs).
        for args in [&["WAIT", "1", "0"][..], &["WAIT", "1", "60000"]] {
            let got = bounded(args);
            let ms: u64 = std::str::from_utf8(got.arg(2).unwrap())
                .unwrap()
                .parse()
                .unwrap();
            assert!((1700..=1800).contains(&ms), "{args:?} -> {ms}");
            assert_eq!(got.arg(1), Some(&b"1"[..]));
        }
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

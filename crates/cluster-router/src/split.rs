//! The splitting policy for multi-key commands and the merging of split and fan-out replies.
//!
//! Redis 7 refuses a multi-key command whose keys hash to different slots (`-CROSSSLOT`)
//! even when one node owns all of them, so the only split that works is per slot.
//! This module is the one place that decides it: if a server lifts the restriction
//! (Valkey is moving that way), `group_by` is what changes.

use std::collections::HashMap;

use bytes::Bytes;
use hash_slot::Slot;
use resp_codec::{CommandBuilder, EncodedCommand, Frame};

use crate::command::{CommandInfo, Merge, SplitKind};
use crate::error::{Error, ErrorKind};

/// One per-slot piece of a split multi-key command.
#[derive(Clone, Debug)]
pub(crate) struct Part {
    pub(crate) slot: Slot,
    pub(crate) cmd: EncodedCommand,
    /// For each key of this part, its ordinal among the original command's keys.
    pub(crate) positions: Vec<usize>,
}

/// What to do with a splittable command.
#[derive(Debug)]
pub(crate) enum Plan {
    /// Every key is in one slot (or there is no key): send the command unchanged.
    Whole(Option<Slot>),
    /// Keys in several slots: send the parts, then merge.
    Split {
        kind: SplitKind,
        keys: usize,
        parts: Vec<Part>,
    },
}

/// The slot of every key of `cmd`, in key order; `None` when the command has no key.
/// Returns `Err(())` when the keys span several slots.
pub(crate) fn single_slot(cmd: &EncodedCommand, info: &CommandInfo) -> Result<Option<Slot>, ()> {
    let mut slot = None;
    for i in info.key_indices(cmd) {
        let Some(key) = cmd.arg(i) else { continue };
        let s = Slot::for_key(key);
        match slot {
            None => slot = Some(s),
            Some(prev) if prev != s => return Err(()),
            Some(_) => {}
        }
    }
    Ok(slot)
}

/// Decides how to send a [`crate::command::Route::Split`] command.
/// The fast path (one slot) allocates nothing.
pub(crate) fn plan(cmd: &EncodedCommand, info: &CommandInfo, kind: SplitKind) -> Plan {
    if let Ok(slot) = single_slot(cmd, info) {
        return Plan::Whole(slot);
    }
    // MSET with an odd number of arguments is the server's error to report: send it whole.
    let step = if kind == SplitKind::Pairs { 2 } else { 1 };
    if kind == SplitKind::Pairs && (cmd.argc() - 1) % 2 != 0 {
        return Plan::Whole(cmd.arg(1).map(Slot::for_key));
    }
    let mut index: HashMap<u16, usize> = HashMap::new();
    let mut parts: Vec<(Slot, Vec<usize>)> = Vec::new();
    let mut keys = 0;
    for (ordinal, i) in info.key_indices(cmd).enumerate() {
        let Some(key) = cmd.arg(i) else { continue };
        let slot = Slot::for_key(key);
        let at = *index.entry(slot.get()).or_insert_with(|| {
            parts.push((slot, Vec::new()));
            parts.len() - 1
        });
        if let Some((_, args)) = parts.get_mut(at) {
            args.push(i);
        }
        keys = ordinal + 1;
    }
    let parts = parts
        .into_iter()
        .map(|(slot, arg_indices)| {
            let mut b = CommandBuilder::new(cmd.name());
            let mut positions = Vec::with_capacity(arg_indices.len());
            for i in arg_indices {
                for j in i..i + step {
                    b.arg(cmd.arg(j).unwrap_or_default());
                }
                positions.push((i - 1) / step);
            }
            Part {
                slot,
                cmd: b.finish(),
                positions,
            }
        })
        .collect();
    Plan::Split { kind, keys, parts }
}

/// Merges the replies of the parts (in part order) into the reply the whole command would have had.
/// A server error in any part is returned as that error frame.
pub(crate) fn merge_split(
    kind: SplitKind,
    keys: usize,
    parts: &[Part],
    replies: Vec<Frame>,
) -> Result<Frame, Error> {
    if let Some(err) = replies.iter().find(|f| f.is_error()) {
        return Ok(err.clone());
    }
    match kind {
        SplitKind::Values => {
            let mut out: Vec<Frame> = vec![Frame::Null; keys];
            for (part, reply) in parts.iter().zip(replies) {
                let values = match reply {
                    Frame::Array(v) | Frame::Set(v) => v,
                    other => return Err(unexpected(&other)),
                };
                if values.len() != part.positions.len() {
                    return Err(Error::new(
                        ErrorKind::Protocol,
                        "split reply has the wrong length",
                    ));
                }
                for (pos, value) in part.positions.iter().zip(values) {
                    if let Some(slot) = out.get_mut(*pos) {
                        *slot = value;
                    }
                }
            }
            Ok(Frame::Array(out))
        }
        SplitKind::Pairs => Ok(Frame::SimpleString(Bytes::from_static(b"OK"))),
        SplitKind::Sum => sum(replies),
    }
}

fn sum(replies: Vec<Frame>) -> Result<Frame, Error> {
    let mut total: i64 = 0;
    for reply in replies {
        match reply {
            Frame::Integer(n) => total = total.saturating_add(n),
            other => return Err(unexpected(&other)),
        }
    }
    Ok(Frame::Integer(total))
}

fn unexpected(frame: &Frame) -> Error {
    Error::new(
        ErrorKind::Protocol,
        format!("unexpected reply type in a merge: {frame:?}"),
    )
}

/// Merges the replies of a fan-out (one per master). A server error from any node wins.
pub(crate) fn merge_fanout(merge: Merge, replies: Vec<Frame>) -> Result<Frame, Error> {
    if let Some(err) = replies.iter().find(|f| f.is_error()) {
        return Ok(err.clone());
    }
    match merge {
        Merge::AllEqual => replies
            .into_iter()
            .next()
            .ok_or_else(|| Error::new(ErrorKind::NoRoute, "no master to fan out to")),
        Merge::Sum => sum(replies),
        Merge::Concat => {
            let mut out = Vec::new();
            for reply in replies {
                match reply {
                    Frame::Array(v) | Frame::Set(v) => out.extend(v),
                    other => return Err(unexpected(&other)),
                }
            }
            Ok(Frame::Array(out))
        }
        Merge::AndArrays => {
            let mut out: Option<Vec<Frame>> = None;
            for reply in replies {
                let v = match reply {
                    Frame::Array(v) => v,
                    other => return Err(unexpected(&other)),
                };
                out = Some(match out {
                    None => v,
                    Some(acc) => acc
                        .into_iter()
                        .zip(v)
                        .map(|(a, b)| match (a, b) {
                            (Frame::Integer(x), Frame::Integer(y)) => {
                                Frame::Integer(i64::from(x != 0 && y != 0))
                            }
                            (Frame::Boolean(x), Frame::Boolean(y)) => Frame::Boolean(x && y),
                            (a, _) => a,
                        })
                        .collect(),
                });
            }
            Ok(Frame::Array(out.unwrap_or_default()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::CommandTable;

    fn cmd(args: &[&str]) -> EncodedCommand {
        EncodedCommand::from_args(args.iter().map(|a| a.as_bytes()))
    }

    /// Splits `args` and checks the wire bytes of each part (in first-key order).
    fn check(args: &[&str], expected: &[&[u8]]) {
        let c = cmd(args);
        let info = CommandTable::builtin().lookup(&c);
        let crate::command::Route::Split(kind) = info.route else {
            panic!("not splittable: {args:?}")
        };
        let got: Vec<Vec<u8>> = match plan(&c, &info, kind) {
            Plan::Whole(_) => vec![c.bytes().to_vec()],
            Plan::Split { parts, .. } => parts.iter().map(|p| p.cmd.bytes().to_vec()).collect(),
        };
        let expected: Vec<Vec<u8>> = expected.iter().map(|e| e.to_vec()).collect();
        assert_eq!(got, expected, "{args:?}");
    }

    #[test]
    fn splits_per_slot() {
        // {a} and {b} hash to different slots; a tag keeps keys together.
        check(
            &["MGET", "{a}1", "{a}2"],
            &[b"*3\r\n$4\r\nMGET\r\n$4\r\n{a}1\r\n$4\r\n{a}2\r\n"],
        );
        check(
            &["MGET", "{a}1", "{b}1", "{a}2"],
            &[
                b"*3\r\n$4\r\nMGET\r\n$4\r\n{a}1\r\n$4\r\n{a}2\r\n",
                b"*2\r\n$4\r\nMGET\r\n$4\r\n{b}1\r\n",
            ],
        );
        check(
            &["MSET", "{a}1", "x", "{b}1", "y"],
            &[
                b"*3\r\n$4\r\nMSET\r\n$4\r\n{a}1\r\n$1\r\nx\r\n",
                b"*3\r\n$4\r\nMSET\r\n$4\r\n{b}1\r\n$1\r\ny\r\n",
            ],
        );
        // Odd MSET goes whole: the server reports the arity error.
        check(
            &["MSET", "{a}1", "x", "{b}1"],
            &[b"*4\r\n$4\r\nMSET\r\n$4\r\n{a}1\r\n$1\r\nx\r\n$4\r\n{b}1\r\n"],
        );
        check(
            &["del", "{b}1", "{a}1"],
            &[
                b"*2\r\n$3\r\ndel\r\n$4\r\n{b}1\r\n",
                b"*2\r\n$3\r\ndel\r\n$4\r\n{a}1\r\n",
            ],
        );
    }

    #[test]
    fn merges_in_key_order() {
        let c = cmd(&["MGET", "{a}1", "{b}1", "{a}2", "{b}2"]);
        let info = CommandTable::builtin().lookup(&c);
        let Plan::Split { kind, keys, parts } = plan(&c, &info, SplitKind::Values) else {
            panic!("not split")
        };
        let bulk = |s: &'static str| Frame::BulkString(Bytes::from_static(s.as_bytes()));
        let replies = vec![
            Frame::Array(vec![bulk("a1"), Frame::Null]),
            Frame::Array(vec![bulk("b1"), bulk("b2")]),
        ];
        let merged = merge_split(kind, keys, &parts, replies);
        assert_eq!(
            merged.ok(),
            Some(Frame::Array(vec![
                bulk("a1"),
                bulk("b1"),
                Frame::Null,
                bulk("b2")
            ]))
        );
        let sums = merge_split(
            SplitKind::Sum,
            4,
            &parts,
            vec![Frame::Integer(2), Frame::Integer(1)],
        );
        assert_eq!(sums.ok(), Some(Frame::Integer(3)));
        let err = Frame::SimpleError(Bytes::from_static(b"WRONGTYPE x"));
        let merged = merge_split(
            SplitKind::Sum,
            4,
            &parts,
            vec![Frame::Integer(2), err.clone()],
        );
        assert_eq!(merged.ok(), Some(err));
        let short = merge_split(
            kind,
            keys,
            &parts,
            vec![Frame::Array(vec![]), Frame::Array(vec![])],
        );
        assert_eq!(short.map_err(|e| e.kind()).err(), Some(ErrorKind::Protocol));
    }

    #[test]
    fn fanout_merges() {
        let i = Frame::Integer;
        assert_eq!(
            merge_fanout(Merge::Sum, vec![i(1), i(2), i(3)]).ok(),
            Some(i(6))
        );
        let arr = |v: Vec<i64>| Frame::Array(v.into_iter().map(Frame::Integer).collect());
        assert_eq!(
            merge_fanout(
                Merge::AndArrays,
                vec![arr(vec![1, 1, 0]), arr(vec![1, 0, 0])]
            )
            .ok(),
            Some(arr(vec![1, 0, 0]))
        );
        assert_eq!(
            merge_fanout(Merge::Concat, vec![arr(vec![1]), arr(vec![2, 3])]).ok(),
            Some(arr(vec![1, 2, 3]))
        );
        let pong = Frame::SimpleString(Bytes::from_static(b"PONG"));
        assert_eq!(
            merge_fanout(Merge::AllEqual, vec![pong.clone(), pong.clone()]).ok(),
            Some(pong)
        );
    }
}

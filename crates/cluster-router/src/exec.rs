//! `EXEC`'s reply when a transaction was aborted, with the reason the server gave while queueing.

use bytes::BytesMut;
use resp_codec::Frame;

/// True for an `EXECABORT` error reply: a command was rejected while queueing, and nothing ran.
pub(crate) fn is_execabort(frame: &Frame) -> bool {
    match frame {
        Frame::SimpleError(b) | Frame::BulkError(b) => b.starts_with(b"EXECABORT"),
        _ => false,
    }
}

/// `EXEC`'s reply with the reason added to an `EXECABORT`: the server answers only "Transaction
/// discarded because of previous errors", and the error that caused it went to the queued command, which
/// a caller of a transaction never sees. `queued` are the replies to the transaction's commands between
/// `MULTI` and `EXEC`, in order (`None` for one that got no reply); the first error among them is added
/// as `(command i of n: <error>)`. Any other reply is returned as it is.
pub fn explain_execabort<'a>(
    exec: Frame,
    queued: impl IntoIterator<Item = Option<&'a Frame>>,
) -> Frame {
    if !is_execabort(&exec) {
        return exec;
    }
    let mut total = 0;
    let mut cause = None;
    for (i, reply) in queued.into_iter().enumerate() {
        total += 1;
        if let (None, Some(Frame::SimpleError(text) | Frame::BulkError(text))) = (&cause, reply) {
            cause = Some((i + 1, text));
        }
    }
    let (Some((i, text)), Frame::SimpleError(abort) | Frame::BulkError(abort)) = (cause, &exec)
    else {
        return exec;
    };
    let mut out = BytesMut::with_capacity(abort.len() + text.len() + 32);
    out.extend_from_slice(abort);
    out.extend_from_slice(format!(" (command {i} of {total}: ").as_bytes());
    out.extend_from_slice(text);
    out.extend_from_slice(b")");
    Frame::SimpleError(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &'static str) -> Frame {
        Frame::SimpleError(text.into())
    }

    #[test]
    fn an_abort_names_the_command_that_caused_it() {
        let abort = error("EXECABORT Transaction discarded because of previous errors.");
        let queued = error("QUEUED");
        let arity = error("ERR wrong number of arguments for 'get' command");
        let ok = Frame::SimpleString("QUEUED".into());
        assert_eq!(
            explain_execabort(abort.clone(), [Some(&ok), Some(&arity), Some(&queued)]),
            error(
                "EXECABORT Transaction discarded because of previous errors. \
                 (command 2 of 3: ERR wrong number of arguments for 'get' command)"
            )
        );
        // No error among the queued replies (or none received): the abort as it came.
        assert_eq!(explain_execabort(abort.clone(), [Some(&ok), None]), abort);
        // Anything but an abort is left alone, errors included.
        let results = Frame::Array(vec![Frame::Integer(1)]);
        assert_eq!(explain_execabort(results.clone(), [Some(&arity)]), results);
        assert_eq!(explain_execabort(arity.clone(), [Some(&arity)]), arity);
    }
}

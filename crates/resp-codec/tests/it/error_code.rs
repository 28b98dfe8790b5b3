//! Error reply classification, from text and from wire bytes.

use bytes::{Bytes, BytesMut};
use resp_codec::{Decoder, ErrorCode, Frame, peek_error_code};

use ErrorCode::*;

#[track_caller]
fn check(message: &[u8], expected: ErrorCode) {
    assert_eq!(
        ErrorCode::of(message),
        expected,
        "{:?}",
        message.escape_ascii().to_string()
    );
    // The same answer from the wire, as a simple error and as a bulk error, and from the decoded frame.
    let mut simple = b"-".to_vec();
    simple.extend_from_slice(message);
    simple.extend_from_slice(b"\r\n");
    assert_eq!(peek_error_code(&simple), Some(expected));
    let mut bulk = format!("!{}\r\n", message.len()).into_bytes();
    bulk.extend_from_slice(message);
    bulk.extend_from_slice(b"\r\n");
    assert_eq!(peek_error_code(&bulk), Some(expected));
    for wire in [simple, bulk] {
        let frame = Decoder::new()
            .decode(&mut BytesMut::from(&wire[..]))
            .unwrap()
            .unwrap();
        assert!(frame.is_error());
        assert_eq!(frame.error_code(), Some(expected));
    }
}

#[test]
fn cluster_codes() {
    check(b"MOVED 3999 127.0.0.1:6381", Moved);
    check(b"ASK 3999 127.0.0.1:6381", Ask);
    check(
        b"TRYAGAIN Multiple keys request during rehashing of slot",
        TryAgain,
    );
    check(b"CLUSTERDOWN The cluster is down", ClusterDown);
    check(b"LOADING Redis is loading the dataset in memory", Loading);
    check(
        b"MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
        MasterDown,
    );
    check(
        b"READONLY You can't write against a read only replica.",
        ReadOnly,
    );
    check(
        b"CROSSSLOT Keys in request don't hash to the same slot",
        CrossSlot,
    );
    check(b"NOSCRIPT No matching script. Please use EVAL.", NoScript);
    check(b"LOADING", Loading);
}

#[test]
fn other_errors() {
    check(b"ERR unknown command", Other);
    check(
        b"WRONGTYPE Operation against a key holding the wrong kind of value",
        Other,
    );
    check(b"", Other);
    check(b"MOVEDX 1 a:1", Other);
    check(b"ASKING", Other);
    check(b"moved 3999 127.0.0.1:6381", Other);
    check(b"MOV", Other);
    check(b"M", Other);
    check(b"CLUSTER", Other);
    check(b"NOAUTH Authentication required.", Other);
}

#[test]
fn predicates_and_display() {
    let all = [
        Moved,
        Ask,
        TryAgain,
        ClusterDown,
        Loading,
        MasterDown,
        ReadOnly,
        CrossSlot,
        NoScript,
        Other,
    ];
    let redirects: Vec<_> = all.iter().filter(|c| c.is_redirect()).collect();
    assert_eq!(redirects, [&Moved, &Ask]);
    let retryable: Vec<_> = all.iter().filter(|c| c.is_retryable()).collect();
    assert_eq!(
        retryable,
        [&TryAgain, &ClusterDown, &Loading, &MasterDown, &ReadOnly]
    );
    assert_eq!(Moved.to_string(), "MOVED");
    assert_eq!(CrossSlot.to_string(), "CROSSSLOT");
}

#[test]
fn peek_non_errors_and_fragments() {
    assert_eq!(peek_error_code(b"+OK\r\n"), None);
    assert_eq!(peek_error_code(b"$5\r\nMOVED\r\n"), None);
    assert_eq!(peek_error_code(b""), None);
    // Too little to classify: still an error, of an unknown class.
    assert_eq!(peek_error_code(b"-"), Some(Other));
    assert_eq!(peek_error_code(b"-MOV"), Some(Other));
    assert_eq!(peek_error_code(b"!5\r"), Some(Other));
    assert_eq!(peek_error_code(b"-ASK"), Some(Ask));
}

#[test]
fn frames_that_are_not_errors() {
    assert_eq!(
        Frame::SimpleString(Bytes::from_static(b"MOVED")).error_code(),
        None
    );
    assert!(!Frame::Integer(1).is_error());
    assert!(Frame::Push(vec![]).is_push());
    assert!(!Frame::Array(vec![]).is_push());
    // Attributes in front of a reply do not hide what it is.
    let annotated = Frame::Attribute {
        attributes: vec![],
        frame: Box::new(Frame::SimpleError(Bytes::from_static(b"ASK 1 a:1"))),
    };
    assert_eq!(annotated.error_code(), Some(Ask));
    assert!(annotated.is_error());
}

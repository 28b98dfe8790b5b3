//! Every way a frame can be invalid or over a limit, each with its error kind.

use bytes::BytesMut;
use resp_codec::{DecodeErrorKind, DecodeLimits, Decoder, Frame};

use DecodeErrorKind::*;

/// `input` fails with `kind`, and with the same error (kind and offset) whether it arrives at once
/// or a byte at a time.
#[track_caller]
fn check(input: &[u8], kind: DecodeErrorKind) {
    check_with(DecodeLimits::default(), input, kind);
}

#[track_caller]
fn check_with(limits: DecodeLimits, input: &[u8], kind: DecodeErrorKind) {
    let shown = input.escape_ascii().to_string();
    let mut buf = BytesMut::from(input);
    let whole = Decoder::with_limits(limits.clone()).decode(&mut buf);
    assert_eq!(
        whole.clone().map_err(|e| e.kind()),
        Err(kind),
        "input {shown}"
    );

    let mut decoder = Decoder::with_limits(limits);
    let mut buf = BytesMut::new();
    for &byte in input {
        buf.extend_from_slice(&[byte]);
        match decoder.decode(&mut buf) {
            Ok(None) => continue,
            Ok(Some(frame)) => panic!("input {shown} decoded to {frame:?} byte by byte"),
            Err(e) => {
                assert_eq!(Err(e), whole, "input {shown} byte by byte");
                return;
            }
        }
    }
    panic!("input {shown} fed byte by byte never failed");
}

#[test]
fn bad_type_byte() {
    check(b"?\r\n", InvalidTypeByte);
    check(b"hello\r\n", InvalidTypeByte);
    check(b"\r\n", InvalidTypeByte);
    check(b"*1\r\nx\r\n", InvalidTypeByte);
    // RESP3 streamed strings and aggregates are not something a server sends to a client.
    check(b";4\r\nabcd\r\n", InvalidTypeByte);
}

#[test]
fn bad_lengths() {
    check(b"$\r\n", InvalidLength);
    check(b"$abc\r\n", InvalidLength);
    check(b"$+5\r\nhello\r\n", InvalidLength);
    check(b"$ 5\r\n", InvalidLength);
    check(b"$5 \r\n", InvalidLength);
    check(b"$-2\r\n", InvalidLength);
    check(b"$-0\r\n", InvalidLength);
    check(b"$-10\r\n", InvalidLength);
    check(b"*-2\r\n", InvalidLength);
    check(b"*?\r\n", InvalidLength);
    check(b"$?\r\n", InvalidLength);
    check(b"*1.5\r\n", InvalidLength);
    // -1 is RESP2's null, valid only for `$` and `*`.
    check(b"%-1\r\n", InvalidLength);
    check(b"~-1\r\n", InvalidLength);
    check(b">-1\r\n", InvalidLength);
    check(b"|-1\r\n", InvalidLength);
    check(b"!-1\r\n", InvalidLength);
    check(b"=-1\r\n", InvalidLength);
    // usize overflow.
    check(b"$99999999999999999999999\r\n", InvalidLength);
    check(b"*18446744073709551616\r\n", InvalidLength);
    // 33 digits: longer than any number a server writes, even with leading zeros.
    check(
        b"$000000000000000000000000000000003\r\nabc\r\n",
        InvalidLength,
    );
    check(b":000000000000000000000000000000003\r\n", InvalidInteger);
    // An endless run of digits is rejected without waiting for its end.
    check(
        &[b'*'; 1]
            .iter()
            .chain([b'0'; 40].iter())
            .copied()
            .collect::<Vec<_>>(),
        InvalidLength,
    );
}

#[test]
fn missing_crlf() {
    check(b"+OK\rX", MissingCrlf);
    check(b"$3\r\nfooXY", MissingCrlf);
    check(b"$3\r\nfoo\rX", MissingCrlf);
    check(b"$3\rX", MissingCrlf);
    check(b":1\rX", MissingCrlf);
    check(b"_X\r\n", MissingCrlf);
    check(b"#tt\r\n", MissingCrlf);
    check(b"*1\r\n$1\r\nab\r\n", MissingCrlf);
}

#[test]
fn bad_integers() {
    check(b":\r\n", InvalidInteger);
    check(b":-\r\n", InvalidInteger);
    check(b":+\r\n", InvalidInteger);
    check(b":1a\r\n", InvalidInteger);
    check(b":--1\r\n", InvalidInteger);
    check(b":1-\r\n", InvalidInteger);
    check(b":9223372036854775808\r\n", InvalidInteger);
    check(b":-9223372036854775809\r\n", InvalidInteger);
    check(b":99999999999999999999999999\r\n", InvalidInteger);
}

#[test]
fn bad_resp3_scalars() {
    check(b",\r\n", InvalidDouble);
    check(b",abc\r\n", InvalidDouble);
    check(b",infinity\r\n", InvalidDouble);
    check(b",NaN\r\n", InvalidDouble);
    check(b",1.2.3\r\n", InvalidDouble);
    check(b",1e\r\n", InvalidDouble);
    check(b"#x\r\n", InvalidBoolean);
    check(b"#\r\n", InvalidBoolean);
    check(b"=3\r\ntxt\r\n", InvalidVerbatim);
    check(b"=5\r\ntxtxx\r\n", InvalidVerbatim);
    check(b"=0\r\n\r\n", InvalidVerbatim);
    check(b"(\r\n", InvalidBigNumber);
    check(b"(-\r\n", InvalidBigNumber);
    check(b"(12a\r\n", InvalidBigNumber);
    check(b"(1.5\r\n", InvalidBigNumber);
}

#[test]
fn limits() {
    let small = DecodeLimits::default()
        .max_bulk_len(4)
        .max_aggregate_len(3)
        .max_depth(2)
        .max_line_len(8);
    check_with(small.clone(), b"$5\r\nhello\r\n", BulkTooLong);
    check_with(small.clone(), b"!5\r\nhello\r\n", BulkTooLong);
    check_with(small.clone(), b"=9\r\ntxt:hello\r\n", BulkTooLong);
    check_with(small.clone(), b"*4\r\n", AggregateTooLong);
    check_with(small.clone(), b"%4\r\n", AggregateTooLong);
    check_with(small.clone(), b"*1\r\n*1\r\n*1\r\n:1\r\n", TooDeep);
    check_with(small.clone(), b"*1\r\n*1\r\n*0\r\n", TooDeep);
    check_with(small.clone(), b"|0\r\n*1\r\n*0\r\n", TooDeep);
    check_with(small.clone(), b"+123456789\r\n", LineTooLong);
    check_with(small.clone(), b"-123456789\r\n", LineTooLong);
    check_with(small.clone(), b"(123456789\r\n", LineTooLong);
    check_with(DecodeLimits::default().max_depth(0), b"*0\r\n", TooDeep);

    // Exactly at each limit is fine.
    let mut buf = BytesMut::from(&b"*3\r\n*1\r\n$4\r\nabcd\r\n+12345678\r\n:1\r\n"[..]);
    assert!(matches!(
        Decoder::with_limits(small).decode(&mut buf),
        Ok(Some(Frame::Array(_)))
    ));
}

#[test]
fn an_aggregate_bigger_than_its_byte_bound_fails_as_it_arrives() {
    // 31 bytes: exactly at the bound is fine; one more element is not, at that element's offset.
    let at_bound = b"*3\r\n$3\r\nfoo\r\n$3\r\nbar\r\n$3\r\nbaz\r\n";
    let bound = || DecodeLimits::default().max_aggregate_bytes(at_bound.len());
    let mut buf = BytesMut::from(&at_bound[..]);
    assert!(matches!(
        Decoder::with_limits(bound()).decode(&mut buf),
        Ok(Some(Frame::Array(_)))
    ));
    check_with(
        bound(),
        b"*4\r\n$3\r\nfoo\r\n$3\r\nbar\r\n$3\r\nbaz\r\n$3\r\nqux\r\n",
        AggregateTooBig,
    );
    check_with(
        bound(),
        b"%2\r\n+key-one\r\n:1\r\n+key-two\r\n:2\r\n",
        AggregateTooBig,
    );
    // A server that declares a huge array and streams elements forever: the decoder fails once the
    // bytes pass the bound instead of buffering them.
    let mut endless = b"*2147483647\r\n".to_vec();
    endless.extend(b":1\r\n".repeat(100));
    check_with(
        DecodeLimits::default().max_aggregate_bytes(64),
        &endless,
        AggregateTooBig,
    );
    let mut buf = BytesMut::from(&endless[..]);
    let err = Decoder::with_limits(DecodeLimits::default().max_aggregate_bytes(64))
        .decode(&mut buf)
        .expect_err("too big");
    assert_eq!((err.kind(), err.offset()), (AggregateTooBig, 61));
    // A top-level scalar is bounded by its own limit only.
    let mut buf = BytesMut::from(&b"$40\r\n0123456789012345678901234567890123456789\r\n"[..]);
    assert!(matches!(
        Decoder::with_limits(bound()).decode(&mut buf),
        Ok(Some(Frame::BulkString(_)))
    ));
}

#[test]
fn huge_claims_allocate_nothing_up_front() {
    // A header claiming the maximum makes the decoder wait for bytes, not reserve memory.
    let mut buf = BytesMut::from(&b"*2147483647\r\n:1\r\n"[..]);
    assert_eq!(Decoder::new().decode(&mut buf), Ok(None));
    let mut buf = BytesMut::from(&b"$536870912\r\nabc"[..]);
    assert_eq!(Decoder::new().decode(&mut buf), Ok(None));
    assert_eq!(
        buf.capacity(),
        15,
        "the decoder never grows the caller's buffer"
    );
    check(b"*2147483648\r\n", AggregateTooLong);
    check(b"$536870913\r\n", BulkTooLong);
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    // One million nested arrays: the scan is iterative and stops at the limit.
    let input: Vec<u8> = b"*1\r\n".repeat(1_000_000);
    check(&input[..4 * 200], TooDeep);
    let mut buf = BytesMut::from(&input[..]);
    assert_eq!(
        Decoder::new().decode(&mut buf).map_err(|e| e.kind()),
        Err(TooDeep)
    );
    // The ceiling holds even when a caller asks for more.
    let limits = DecodeLimits::default().max_depth(usize::MAX);
    assert_eq!(limits.get_max_depth(), 1024);
    let mut buf = BytesMut::from(&input[..]);
    assert_eq!(
        Decoder::with_limits(limits)
            .decode(&mut buf)
            .map_err(|e| e.kind()),
        Err(TooDeep)
    );
}

#[test]
fn errors_display_kind_and_offset() {
    let mut buf = BytesMut::from(&b"*2\r\n:1\r\n:x\r\n"[..]);
    let Err(error) = Decoder::new().decode(&mut buf) else {
        panic!("expected an error")
    };
    assert_eq!(error.kind(), InvalidInteger);
    assert_eq!(error.offset(), 9);
    assert_eq!(
        error.to_string(),
        "invalid RESP: invalid integer at byte 9 of the frame"
    );
}

#[test]
fn too_many_digits_reported_at_an_offset_that_depended_on_the_reads() {
    // 33 digits were reported at the byte after them if it had arrived, else at the number's start.
    let digits = "0".repeat(33);
    for (input, kind) in [
        (format!("${digits}0\r\n"), InvalidLength),
        (format!("${digits}x\r\n"), InvalidLength),
        (format!("*{digits}"), InvalidLength),
        (format!(":{digits}0\r\n"), InvalidInteger),
        (format!(":-{digits}x"), InvalidInteger),
    ] {
        check(input.as_bytes(), kind);
        let mut buf = BytesMut::from(input.as_bytes());
        let error = Decoder::new().decode(&mut buf).map_err(|e| e.offset());
        assert_eq!(error, Err(1), "input {input}: the number starts at byte 1");
    }
}

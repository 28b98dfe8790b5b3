//! Wire bytes in, frames out: every frame type, and every prefix of each is `Ok(None)`.

use bytes::{Bytes, BytesMut};
use resp_codec::{DecodeError, Decoder, Frame};

use crate::support::{array, bulk, simple};

/// Decodes `input` whole, then every strict prefix (must be `Ok(None)` and consume nothing),
/// then byte by byte through one decoder (must resume to the same frame), with a trailing frame
/// after it each time to prove the decoder stops at the frame's end.
#[track_caller]
fn check(input: &[u8], expected: Frame) {
    let trailer = b"+next\r\n";
    let mut whole = BytesMut::from(input);
    whole.extend_from_slice(trailer);
    let mut decoder = Decoder::new();
    assert_eq!(
        decoder.decode(&mut whole),
        Ok(Some(expected.clone())),
        "input {:?}",
        input.escape_ascii().to_string()
    );
    assert_eq!(
        &whole[..],
        trailer,
        "the frame's bytes, and only those, are consumed"
    );

    for cut in 0..input.len() {
        let mut prefix = BytesMut::from(&input[..cut]);
        assert_eq!(
            Decoder::new().decode(&mut prefix),
            Ok(None),
            "prefix of {cut} bytes"
        );
        assert_eq!(prefix.len(), cut, "an incomplete frame consumes nothing");
    }

    let mut decoder = Decoder::new();
    let mut buf = BytesMut::new();
    for (i, &byte) in input.iter().enumerate() {
        buf.extend_from_slice(&[byte]);
        let result = decoder.decode(&mut buf);
        if i + 1 < input.len() {
            assert_eq!(result, Ok(None), "after {} bytes fed one at a time", i + 1);
        } else {
            assert_eq!(result, Ok(Some(expected.clone())), "fed one byte at a time");
        }
    }
    assert!(buf.is_empty());
}

#[test]
fn resp2_scalars() {
    check(b"+OK\r\n", simple(b"OK"));
    check(b"+\r\n", simple(b""));
    check(b"+hello world\r\n", simple(b"hello world"));
    check(
        b"-ERR unknown command 'FOO'\r\n",
        Frame::SimpleError(Bytes::from_static(b"ERR unknown command 'FOO'")),
    );
    check(b":0\r\n", Frame::Integer(0));
    check(b":42\r\n", Frame::Integer(42));
    check(b":-42\r\n", Frame::Integer(-42));
    check(b":+7\r\n", Frame::Integer(7));
    check(b":007\r\n", Frame::Integer(7));
    check(b":9223372036854775807\r\n", Frame::Integer(i64::MAX));
    check(b":-9223372036854775808\r\n", Frame::Integer(i64::MIN));
    check(b"$5\r\nhello\r\n", bulk(b"hello"));
    check(b"$0\r\n\r\n", bulk(b""));
    check(b"$0003\r\nabc\r\n", bulk(b"abc"));
    check(
        b"$00000000000000000000000000000003\r\nabc\r\n",
        bulk(b"abc"),
    );
    check(b"$4\r\na\r\nb\r\n", bulk(b"a\r\nb"));
    check(b"$3\r\n\x00\xff\x80\r\n", bulk(b"\x00\xff\x80"));
    check(b"$-1\r\n", Frame::NullBulkString);
    check(b"*-1\r\n", Frame::NullArray);
}

#[test]
fn resp2_arrays() {
    check(b"*0\r\n", array(vec![]));
    check(
        b"*2\r\n$3\r\nfoo\r\n$3\r\nbar\r\n",
        array(vec![bulk(b"foo"), bulk(b"bar")]),
    );
    // MGET with a missing key.
    check(
        b"*3\r\n$1\r\na\r\n$-1\r\n$1\r\nc\r\n",
        array(vec![bulk(b"a"), Frame::NullBulkString, bulk(b"c")]),
    );
    check(
        b"*2\r\n*1\r\n:1\r\n*0\r\n",
        array(vec![array(vec![Frame::Integer(1)]), array(vec![])]),
    );
    check(
        b"*2\r\n*-1\r\n+x\r\n",
        array(vec![Frame::NullArray, simple(b"x")]),
    );
    // A CLUSTER SLOTS entry: range, then master and replica.
    check(
        b"*1\r\n*4\r\n:0\r\n:5460\r\n*3\r\n$9\r\n127.0.0.1\r\n:30001\r\n$2\r\nid\r\n*2\r\n$9\r\n127.0.0.1\r\n:30004\r\n",
        array(vec![array(vec![
            Frame::Integer(0),
            Frame::Integer(5460),
            array(vec![bulk(b"127.0.0.1"), Frame::Integer(30001), bulk(b"id")]),
            array(vec![bulk(b"127.0.0.1"), Frame::Integer(30004)]),
        ])]),
    );
}

#[test]
fn resp3_scalars() {
    check(b"_\r\n", Frame::Null);
    check(b"#t\r\n", Frame::Boolean(true));
    check(b"#f\r\n", Frame::Boolean(false));
    check(b",3.25\r\n", Frame::Double(3.25));
    check(b",-0.5\r\n", Frame::Double(-0.5));
    check(b",10\r\n", Frame::Double(10.0));
    check(b",1e300\r\n", Frame::Double(1e300));
    check(b",1.5E-3\r\n", Frame::Double(1.5e-3));
    check(b",inf\r\n", Frame::Double(f64::INFINITY));
    check(b",+inf\r\n", Frame::Double(f64::INFINITY));
    check(b",-inf\r\n", Frame::Double(f64::NEG_INFINITY));
    check(
        b"(3492890328409238509324850943850943825024385\r\n",
        Frame::BigNumber(Bytes::from_static(
            b"3492890328409238509324850943850943825024385",
        )),
    );
    check(b"(-12\r\n", Frame::BigNumber(Bytes::from_static(b"-12")));
    check(
        b"!21\r\nSYNTAX invalid syntax\r\n",
        Frame::BulkError(Bytes::from_static(b"SYNTAX invalid syntax")),
    );
    check(b"!0\r\n\r\n", Frame::BulkError(Bytes::new()));
    check(
        b"=15\r\ntxt:Some string\r\n",
        Frame::VerbatimString {
            format: *b"txt",
            text: Bytes::from_static(b"Some string"),
        },
    );
    check(
        b"=4\r\nmkd:\r\n",
        Frame::VerbatimString {
            format: *b"mkd",
            text: Bytes::new(),
        },
    );
}

#[test]
fn lines_longer_than_the_fast_path_window() {
    // The fast path looks 128 bytes ahead for a line's end; longer lines take the general path.
    let text = vec![b'x'; 300];
    let mut wire = b"+".to_vec();
    wire.extend_from_slice(&text);
    wire.extend_from_slice(b"\r\n");
    check(&wire, simple(&text));
    wire[0] = b'-';
    check(&wire, Frame::SimpleError(Bytes::from(text)));
}

#[test]
fn nan_double() {
    // NaN is not equal to itself, so it cannot go through `check`.
    let mut buf = BytesMut::from(&b",nan\r\n"[..]);
    match Decoder::new().decode(&mut buf) {
        Ok(Some(Frame::Double(x))) => assert!(x.is_nan()),
        other => panic!("expected a NaN double, got {other:?}"),
    }
}

#[test]
fn resp3_aggregates() {
    check(
        b"%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n",
        Frame::Map(vec![
            (simple(b"first"), Frame::Integer(1)),
            (simple(b"second"), Frame::Integer(2)),
        ]),
    );
    check(b"%0\r\n", Frame::Map(vec![]));
    check(
        b"~3\r\n+a\r\n#t\r\n_\r\n",
        Frame::Set(vec![simple(b"a"), Frame::Boolean(true), Frame::Null]),
    );
    check(b"~0\r\n", Frame::Set(vec![]));
    check(
        b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
        Frame::Push(vec![bulk(b"message"), bulk(b"ch"), bulk(b"hi")]),
    );
    check(
        b"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.1923\r\n*2\r\n:2039123\r\n:9543892\r\n",
        Frame::Attribute {
            attributes: vec![(
                simple(b"key-popularity"),
                Frame::Map(vec![(bulk(b"a"), Frame::Double(0.1923))]),
            )],
            frame: Box::new(array(vec![
                Frame::Integer(2039123),
                Frame::Integer(9543892),
            ])),
        },
    );
    check(
        b"|0\r\n:1\r\n",
        Frame::Attribute {
            attributes: vec![],
            frame: Box::new(Frame::Integer(1)),
        },
    );
    // Attributes inside an aggregate annotate the element that follows them.
    check(
        b"*2\r\n|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n:5\r\n",
        array(vec![
            Frame::Attribute {
                attributes: vec![(simple(b"ttl"), Frame::Integer(3))],
                frame: Box::new(bulk(b"v")),
            },
            Frame::Integer(5),
        ]),
    );
    // A map whose keys and values are themselves aggregates, as in CLUSTER SHARDS.
    check(
        b"%1\r\n*1\r\n:1\r\n%1\r\n$5\r\nslots\r\n*0\r\n",
        Frame::Map(vec![(
            array(vec![Frame::Integer(1)]),
            Frame::Map(vec![(bulk(b"slots"), array(vec![]))]),
        )]),
    );
}

#[test]
fn pipelined_replies_come_out_in_order() {
    let mut buf = BytesMut::from(&b"+OK\r\n$1\r\nx\r\n:5\r\n*1\r\n$-1\r\n-ERR no\r\n$2\r\nab"[..]);
    let mut decoder = Decoder::new();
    let mut frames = Vec::new();
    while let Ok(Some(frame)) = decoder.decode(&mut buf) {
        frames.push(frame);
    }
    assert_eq!(
        frames,
        [
            simple(b"OK"),
            bulk(b"x"),
            Frame::Integer(5),
            array(vec![Frame::NullBulkString]),
            Frame::SimpleError(Bytes::from_static(b"ERR no")),
        ]
    );
    assert_eq!(
        &buf[..],
        b"$2\r\nab",
        "the incomplete last reply stays in the buffer"
    );
}

#[test]
fn payloads_share_the_read_buffer() {
    // Zero copy: the bulk payload points into the buffer the bytes were read into.
    let mut buf = BytesMut::with_capacity(64);
    buf.extend_from_slice(b"*1\r\n$5\r\nhello\r\n$5\r\nworld\r\n");
    let base = buf.as_ptr() as usize;
    let mut decoder = Decoder::new();
    let Ok(Some(Frame::Array(items))) = decoder.decode(&mut buf) else {
        panic!("expected an array")
    };
    let [Frame::BulkString(hello)] = &items[..] else {
        panic!("expected one bulk string")
    };
    assert_eq!(hello.as_ptr() as usize, base + 8);
    let Ok(Some(Frame::BulkString(world))) = decoder.decode(&mut buf) else {
        panic!("expected a bulk string")
    };
    assert_eq!(world.as_ptr() as usize, base + 19);
}

#[test]
fn large_array_in_many_reads_resumes() {
    // 10_000 elements fed in 7-byte pieces: each piece is scanned once, and the result is exact.
    let mut wire = BytesMut::new();
    let items: Vec<Frame> = (0..10_000)
        .map(|i| bulk(format!("value-{i}").as_bytes()))
        .collect();
    Frame::Array(items.clone()).encode(&mut wire);
    let mut decoder = Decoder::new();
    let mut buf = BytesMut::new();
    let mut result = None;
    for piece in wire.chunks(7) {
        assert!(result.is_none(), "the frame completed before its last byte");
        buf.extend_from_slice(piece);
        result = decoder.decode(&mut buf).expect("valid input");
    }
    assert_eq!(result, Some(Frame::Array(items)));
}

#[test]
fn decoder_reusable_after_error_and_reset() {
    let mut decoder = Decoder::new();
    let mut bad = BytesMut::from(&b"*2\r\n:1\r\n?\r\n"[..]);
    assert!(decoder.decode(&mut bad).is_err());
    let mut good = BytesMut::from(&b":1\r\n"[..]);
    assert_eq!(decoder.decode(&mut good), Ok(Some(Frame::Integer(1))));

    // A half-scanned frame, then a reset and a fresh stream.
    let mut partial = BytesMut::from(&b"*3\r\n:1\r\n"[..]);
    assert_eq!(decoder.decode(&mut partial), Ok(None));
    decoder.reset();
    let mut fresh = BytesMut::from(&b"+PONG\r\n"[..]);
    assert_eq!(decoder.decode(&mut fresh), Ok(Some(simple(b"PONG"))));
}

#[test]
fn shrunk_buffer_is_rescanned_not_trusted() {
    // The caller broke the append-only rule; the decoder must start over rather than misread.
    let mut decoder = Decoder::new();
    let mut buf = BytesMut::from(&b"*2\r\n$5\r\nhello\r\n"[..]);
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    let mut other = BytesMut::from(&b":9\r\n"[..]);
    assert_eq!(decoder.decode(&mut other), Ok(Some(Frame::Integer(9))));
}

/// Feeds `reads` to one decoder as successive reads, decoding every complete frame after each.
/// Returns the frames, the error that stopped decoding if any, and how many bytes were left over.
fn decode_reads(reads: &[&[u8]]) -> (Vec<Frame>, Option<DecodeError>, usize) {
    let mut decoder = Decoder::new();
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for read in reads {
        buf.extend_from_slice(read);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(e) => return (frames, Some(e), buf.len()),
            }
        }
    }
    (frames, None, buf.len())
}

/// Checks that `reads`, fed one after another, decode to exactly `expected` with nothing left over.
#[track_caller]
fn check_reads(reads: &[&[u8]], expected: &[Frame]) {
    assert_eq!(
        decode_reads(reads),
        (expected.to_vec(), None, 0),
        "reads {:?}",
        reads
            .iter()
            .map(|r| r.escape_ascii().to_string())
            .collect::<Vec<_>>()
    );
}

#[test]
fn line_resume_left_stale_by_the_fast_path() {
    // A line finished by the fast path kept the general path's `\r` search offset for the next frame.
    let big = |s: &'static [u8]| Frame::BigNumber(Bytes::from_static(s));
    check_reads(
        &[b"+OKAY", b"\r\n(1\r\n:7\r\n"],
        &[simple(b"OKAY"), big(b"1"), Frame::Integer(7)],
    );
    // The same with the big number arriving alone: the decoder waited forever for a complete frame.
    check_reads(
        &[b"+OKAY", b"\r\n", b"(12\r\n"],
        &[simple(b"OKAY"), big(b"12")],
    );
    check_reads(
        &[b"-ERR", b" no\r", b"\n(7\r\n"],
        &[Frame::SimpleError(Bytes::from_static(b"ERR no")), big(b"7")],
    );
}

/// One top-level frame of every type, as wire bytes and the frame they decode to.
fn every_type() -> Vec<(&'static [u8], Frame)> {
    let b = Bytes::from_static;
    vec![
        (b"+OK\r\n", simple(b"OK")),
        (b"-ERR no\r\n", Frame::SimpleError(b(b"ERR no"))),
        (b":42\r\n", Frame::Integer(42)),
        (b"$5\r\nhello\r\n", bulk(b"hello")),
        (b"$-1\r\n", Frame::NullBulkString),
        (b"*-1\r\n", Frame::NullArray),
        (b"_\r\n", Frame::Null),
        (b",3.25\r\n", Frame::Double(3.25)),
        (b"#t\r\n", Frame::Boolean(true)),
        (b"(12\r\n", Frame::BigNumber(b(b"12"))),
        (
            b"(-3492890328409238509324850943850943825024385\r\n",
            Frame::BigNumber(b(b"-3492890328409238509324850943850943825024385")),
        ),
        (b"!3\r\nERR\r\n", Frame::BulkError(b(b"ERR"))),
        (
            b"=7\r\ntxt:abc\r\n",
            Frame::VerbatimString {
                format: *b"txt",
                text: b(b"abc"),
            },
        ),
        (
            b"%1\r\n+k\r\n(1\r\n",
            Frame::Map(vec![(simple(b"k"), Frame::BigNumber(b(b"1")))]),
        ),
        (
            b"~2\r\n+a\r\n#f\r\n",
            Frame::Set(vec![simple(b"a"), Frame::Boolean(false)]),
        ),
        (
            b">2\r\n+pubsub\r\n-e\r\n",
            Frame::Push(vec![simple(b"pubsub"), Frame::SimpleError(b(b"e"))]),
        ),
        (
            b"|1\r\n+ttl\r\n:3\r\n(5\r\n",
            Frame::Attribute {
                attributes: vec![(simple(b"ttl"), Frame::Integer(3))],
                frame: Box::new(Frame::BigNumber(b(b"5"))),
            },
        ),
        (b"*0\r\n", array(vec![])),
        (
            b"*2\r\n*1\r\n(9\r\n$1\r\nx\r\n",
            array(vec![array(vec![Frame::BigNumber(b(b"9"))]), bulk(b"x")]),
        ),
    ]
}

#[test]
fn frames_in_a_row_split_anywhere_decode_as_in_one_piece() {
    let frames = every_type();
    // Each frame in turn comes first, so each type follows the line split in the middle below.
    for first in 0..frames.len() {
        let order = frames[first..].iter().chain(&frames[..first]);
        let (wire, expected): (Vec<&[u8]>, Vec<Frame>) = order.cloned().unzip();
        let wire = wire.concat();
        let whole = decode_reads(&[&wire]);
        assert_eq!(whole, (expected.clone(), None, 0), "in one piece");
        let after_line: Vec<Frame> = std::iter::once(simple(b"OKAY")).chain(expected).collect();

        for cut in 0..=wire.len() {
            let (head, tail) = wire.split_at(cut);
            assert_eq!(decode_reads(&[head, tail]), whole, "split at {cut}");

            // A line split in the middle before them, its rest arriving with the head:
            // whatever the decoder kept of that line must not leak into the frames after it.
            let line = b"+OKAY\r\n";
            for mid in 1..line.len() {
                let rest = [&line[mid..], head].concat();
                assert_eq!(
                    decode_reads(&[&line[..mid], &rest, tail]),
                    (after_line.clone(), None, 0),
                    "line split at {mid}, frames split at {cut}"
                );
            }
        }
    }
}

//! Command encoding: exact wire bytes from each entry point, and argument access.

use bytes::BytesMut;
use resp_codec::{CommandBuilder, EncodedCommand, encode_command};

/// All three encoders give `expected` for `args`, and the command reads its arguments back.
#[track_caller]
fn check(args: &[&[u8]], expected: &[u8]) {
    let from_args = EncodedCommand::from_args(args);
    assert_eq!(&from_args.bytes()[..], expected);

    if let Some((name, rest)) = args.split_first() {
        let mut builder = CommandBuilder::new(name);
        for arg in rest {
            builder.arg(arg);
        }
        assert_eq!(builder.argc(), args.len());
        assert_eq!(builder.finish(), from_args);
    }

    let mut dst = BytesMut::from(&b"prefix"[..]);
    encode_command(&mut dst, args);
    assert_eq!(&dst[6..], expected);
    assert_eq!(&dst[..6], b"prefix", "encode_command appends");

    assert_eq!(from_args.argc(), args.len());
    assert_eq!(from_args.args().len(), args.len());
    assert!(from_args.args().eq(args.iter().copied()));
    for (i, arg) in args.iter().enumerate() {
        assert_eq!(from_args.arg(i), Some(*arg));
    }
    assert_eq!(from_args.arg(args.len()), None);
    assert_eq!(from_args.name(), args.first().copied().unwrap_or_default());
}

/// The wire form of `args` written out by hand: `*N`, then `$len` and the bytes of each argument.
fn wire(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[test]
fn wire_forms() {
    check(&[b"PING"], b"*1\r\n$4\r\nPING\r\n");
    check(&[b"GET", b"key"], b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n");
    check(
        &[b"SET", b"k", b""],
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n",
    );
    check(
        &[b"SET", b"k", b"a\r\nb"],
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n",
    );
    check(&[], b"*0\r\n");
}

#[test]
fn many_arguments_spill_and_two_digit_headers() {
    let keys: Vec<Vec<u8>> = (0..12).map(|i| format!("k{i}").into_bytes()).collect();
    let mut args: Vec<&[u8]> = vec![b"MGET"];
    args.extend(keys.iter().map(Vec::as_slice));
    let expected = wire(&args);
    assert!(expected.starts_with(b"*13\r\n$4\r\nMGET\r\n"));
    check(&args, &expected);
}

#[test]
fn commands_stay_small_around_the_indexed_size() {
    // 48 bytes: a 20-command pipeline's vector stays under glibc's 1 KiB per-thread-cache limit.
    let size = std::mem::size_of::<EncodedCommand>();
    assert!(size <= 48, "EncodedCommand grew to {size} bytes");
    // Eight arguments are found by walking the headers, nine or more through an index: both read back.
    for n in [7usize, 8, 9, 10] {
        let words: Vec<Vec<u8>> = (0..n).map(|i| vec![b'a' + i as u8; i + 1]).collect();
        let args: Vec<&[u8]> = words.iter().map(Vec::as_slice).collect();
        check(&args, &wire(&args));
    }
}

#[test]
fn a_wild_size_hint_is_only_a_hint() {
    let mut cmd = CommandBuilder::with_capacity("SET", usize::MAX);
    cmd.arg(b"k").arg(b"v");
    assert_eq!(
        &cmd.finish().bytes()[..],
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
    );
}

#[test]
fn number_arguments() {
    let mut cmd = CommandBuilder::new("ZADD");
    cmd.arg(b"z")
        .arg_f64(1.5)
        .arg(b"a")
        .arg_f64(f64::INFINITY)
        .arg(b"b")
        .arg_f64(f64::NEG_INFINITY)
        .arg(b"c");
    cmd.arg_f64(1e300)
        .arg_f64(-0.0)
        .arg_f64(0.1)
        .arg_i64(i64::MIN)
        .arg_u64(u64::MAX)
        .arg_i64(-7);
    let cmd = cmd.finish();
    let args: Vec<&[u8]> = cmd.args().collect();
    assert_eq!(
        args,
        [
            &b"ZADD"[..],
            b"z",
            b"1.5",
            b"a",
            b"inf",
            b"b",
            b"-inf",
            b"c",
            b"1e300",
            b"-0",
            b"0.1",
            b"-9223372036854775808",
            b"18446744073709551615",
            b"-7",
        ]
    );
}

#[test]
fn float_arguments_read_back_exactly() {
    for x in [
        0.1,
        1.0 / 3.0,
        123456789.125,
        1e-7,
        2.5e-308,
        f64::MAX,
        f64::MIN_POSITIVE,
        9007199254740993.0,
    ] {
        let mut cmd = CommandBuilder::new("X");
        cmd.arg_f64(x);
        let cmd = cmd.finish();
        let text = std::str::from_utf8(cmd.arg(1).unwrap()).unwrap();
        assert_eq!(
            text.parse::<f64>().unwrap().to_bits(),
            x.to_bits(),
            "{x} written as {text}"
        );
    }
}

#[test]
fn encode_command_with_iterators_of_unknown_length() {
    // A filter's size hint is a lower bound of 0: the header must be fixed up after the fact.
    let words = ["DEL", "a", "", "b", "c"];
    let mut dst = BytesMut::from(&b"xy"[..]);
    encode_command(&mut dst, words.iter().filter(|w| !w.is_empty()));
    assert_eq!(
        &dst[..],
        b"xy*4\r\n$3\r\nDEL\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );

    // Growing past nine arguments lengthens the header by a byte.
    let many: Vec<String> = (0..11).map(|i| i.to_string()).collect();
    let mut dst = BytesMut::new();
    encode_command(&mut dst, many.iter().filter(|_| true));
    assert_eq!(dst, EncodedCommand::from_args(&many).bytes()[..]);

    // An iterator whose hint overstates its length: the header shrinks.
    struct Liar(u8);
    impl Iterator for Liar {
        type Item = &'static str;
        fn next(&mut self) -> Option<&'static str> {
            self.0 = self.0.checked_sub(1)?;
            Some("x")
        }
        fn size_hint(&self) -> (usize, Option<usize>) {
            (100, Some(100))
        }
    }
    let mut dst = BytesMut::new();
    encode_command(&mut dst, Liar(2));
    assert_eq!(&dst[..], b"*2\r\n$1\r\nx\r\n$1\r\nx\r\n");
}

#[test]
fn clone_shares_the_bytes() {
    let cmd = EncodedCommand::from_args(["SET", "k", "v"]);
    let retry = cmd.clone();
    assert_eq!(
        retry.bytes().as_ptr(),
        cmd.bytes().as_ptr(),
        "a retry re-sends the same buffer"
    );
    assert_eq!(format!("{cmd:?}"), r#"["SET", "k", "v"]"#);
    assert_eq!(
        format!("{:?}", EncodedCommand::from_args([&b"GET"[..], b"\xff"])),
        r#"["GET", b"\\xff"]"#
    );
}

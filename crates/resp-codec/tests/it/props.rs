//! Property tests: round trips through arbitrary chunking, and arbitrary bytes never panic.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use proptest::sample::Index;
use resp_codec::{CommandBuilder, DecodeLimits, Decoder, EncodedCommand, Frame, encode_command};

use crate::support::{decode_all, depth, encode, largest, same, same_all};

fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

/// Text for line frames: anything but CR and LF, which a line cannot hold.
fn line() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(
        any::<u8>().prop_filter("no CR/LF", |b| *b != b'\r' && *b != b'\n'),
        0..24,
    )
    .prop_map(Bytes::from)
}

fn double() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        (-1_000_000i64..1_000_000).prop_map(|n| n as f64 / 64.0),
    ]
}

fn scalar() -> impl Strategy<Value = Frame> {
    prop_oneof![
        line().prop_map(Frame::SimpleString),
        line().prop_map(Frame::SimpleError),
        any::<i64>().prop_map(Frame::Integer),
        bytes(40).prop_map(Frame::BulkString),
        Just(Frame::NullBulkString),
        Just(Frame::NullArray),
        Just(Frame::Null),
        any::<bool>().prop_map(Frame::Boolean),
        double().prop_map(Frame::Double),
        "-?[0-9]{1,40}".prop_map(|s| Frame::BigNumber(Bytes::from(s))),
        bytes(40).prop_map(Frame::BulkError),
        (any::<[u8; 3]>(), bytes(40))
            .prop_map(|(format, text)| Frame::VerbatimString { format, text }),
    ]
}

fn frame() -> impl Strategy<Value = Frame> {
    scalar().prop_recursive(4, 48, 6, |inner| {
        let pairs = prop::collection::vec((inner.clone(), inner.clone()), 0..4);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Frame::Array),
            prop::collection::vec(inner.clone(), 0..6).prop_map(Frame::Set),
            prop::collection::vec(inner.clone(), 0..6).prop_map(Frame::Push),
            pairs.clone().prop_map(Frame::Map),
            (pairs, inner).prop_map(|(attributes, frame)| Frame::Attribute {
                attributes,
                frame: Box::new(frame)
            }),
        ]
    })
}

/// A top-level reply: mostly scalars, as on a real connection, so that frames in a row often meet
/// the decoder's scalar fast path and its general path one after the other.
fn reply() -> impl Strategy<Value = Frame> {
    prop_oneof![3 => scalar(), 1 => frame()]
}

/// Feeds `wire` to one decoder in pieces cut at `cuts`, collecting every frame.
fn decode_chunked(
    decoder: &mut Decoder,
    wire: &[u8],
    cuts: &[Index],
) -> (Vec<Frame>, Option<resp_codec::DecodeErrorKind>) {
    let points: Vec<usize> = cuts.iter().map(|c| c.index(wire.len() + 1)).collect();
    decode_cut_at(decoder, wire, points)
}

/// Feeds `wire` to one decoder in pieces ending at the byte offsets `points`, then the rest.
fn decode_cut_at(
    decoder: &mut Decoder,
    wire: &[u8],
    mut points: Vec<usize>,
) -> (Vec<Frame>, Option<resp_codec::DecodeErrorKind>) {
    points.push(wire.len());
    points.sort_unstable();
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut fed = 0;
    for point in points {
        buf.extend_from_slice(&wire[fed..point]);
        fed = point;
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(e) => return (frames, Some(e.kind())),
            }
        }
    }
    (frames, None)
}

/// Garbage with structure: valid encodings with bytes flipped, inserted and removed,
/// which reaches the error paths far more often than uniform bytes do.
fn mangled() -> impl Strategy<Value = Vec<u8>> {
    (
        frame(),
        prop::collection::vec((any::<Index>(), any::<u8>(), 0u8..3), 0..4),
    )
        .prop_map(|(frame, edits)| {
            let mut wire = encode(&frame).to_vec();
            for (at, byte, op) in edits {
                let i = at.index(wire.len() + 1);
                match op {
                    0 if i < wire.len() => wire[i] = byte,
                    1 => wire.insert(i, byte),
                    _ if i < wire.len() => {
                        wire.remove(i);
                    }
                    _ => {}
                }
            }
            wire
        })
}

/// Several frames in a row, each valid or mangled, so that whatever one frame leaves behind in the
/// decoder meets the next one.
fn mangled_in_a_row() -> impl Strategy<Value = Vec<u8>> {
    let one = prop_oneof![frame().prop_map(|frame| encode(&frame).to_vec()), mangled()];
    prop::collection::vec(one, 2..5).prop_map(|wires| wires.concat())
}

fn hostile() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        mangled(),
        mangled_in_a_row()
    ]
}

proptest! {
    #[test]
    fn any_frames_round_trip_in_any_chunks(
        frames in prop::collection::vec(reply(), 1..8),
        cuts in prop::collection::vec(any::<Index>(), 0..24),
    ) {
        let mut wire = BytesMut::new();
        for frame in &frames {
            frame.encode(&mut wire);
        }
        let (whole, whole_error, left) = decode_all(&mut Decoder::new(), &wire);
        prop_assert_eq!(whole_error, None);
        prop_assert_eq!(left, 0);
        prop_assert!(same_all(&whole, &frames), "decoded {:?}\nexpected {:?}", whole, frames);
        // Pieces cut anywhere, several frames in a row: the same frames as in one piece.
        let (decoded, error) = decode_chunked(&mut Decoder::new(), &wire, &cuts);
        prop_assert_eq!(error, None);
        prop_assert!(same_all(&decoded, &whole), "chunked {:?}\nwhole {:?}", decoded, whole);
        // Two pieces, cut at every byte: whatever a frame cut in the middle leaves in the decoder
        // meets every frame after it in the same read.
        for cut in 0..=wire.len() {
            let (decoded, error) = decode_cut_at(&mut Decoder::new(), &wire, vec![cut]);
            prop_assert_eq!(error, None, "cut at {}", cut);
            prop_assert!(same_all(&decoded, &whole), "cut at {}: {:?}\nwhole {:?}", cut, decoded, whole);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_respect_limits(input in hostile(), cuts in prop::collection::vec(any::<Index>(), 0..4)) {
        let limits = DecodeLimits::default().max_bulk_len(16).max_aggregate_len(4).max_depth(3).max_line_len(16).max_aggregate_bytes(48);
        let (frames, error, _) = decode_all(&mut Decoder::with_limits(limits.clone()), &input);
        for frame in &frames {
            prop_assert!(depth(frame) <= 3);
            let (bulk, aggregate) = largest(frame);
            prop_assert!(bulk <= 16 && aggregate <= 4);
        }
        // Chunking changes nothing: the same frames, then the same error (or the same wait).
        let (chunked, chunked_error) = decode_chunked(&mut Decoder::with_limits(limits), &input, &cuts);
        prop_assert!(same_all(&frames, &chunked));
        prop_assert_eq!(error.map(|e| e.kind()), chunked_error);
    }

    #[test]
    fn whatever_decodes_re_encodes_and_decodes_the_same(input in hostile()) {
        let (frames, _, _) = decode_all(&mut Decoder::new(), &input);
        for frame in frames {
            let wire = encode(&frame);
            let (again, error, left) = decode_all(&mut Decoder::new(), &wire);
            prop_assert_eq!(error, None);
            prop_assert_eq!(left, 0);
            prop_assert!(again.len() == 1 && same(&again[0], &frame), "{:?} became {:?}", frame, again);
        }
    }

    #[test]
    fn commands_round_trip(args in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..20), 1..20)) {
        let from_args = EncodedCommand::from_args(&args);
        let mut builder = CommandBuilder::new(&args[0]);
        for arg in &args[1..] {
            builder.arg(arg);
        }
        let built = builder.finish();
        let mut direct = BytesMut::new();
        encode_command(&mut direct, &args);
        prop_assert_eq!(&from_args, &built);
        prop_assert_eq!(&from_args.bytes()[..], &direct[..]);
        prop_assert!(from_args.args().eq(args.iter().map(Vec::as_slice)));
        // Random access, on both sides of the argument count above which a command keeps an index.
        for (i, arg) in args.iter().enumerate() {
            prop_assert_eq!(from_args.arg(i), Some(arg.as_slice()));
        }
        prop_assert_eq!(from_args.arg(args.len()), None);

        // The wire form is an array of bulk strings, as the server reads it.
        let (frames, error, _) = decode_all(&mut Decoder::new(), from_args.bytes());
        prop_assert_eq!(error, None);
        let expected = Frame::Array(args.iter().map(|a| Frame::BulkString(Bytes::copy_from_slice(a))).collect());
        prop_assert_eq!(frames, vec![expected]);
    }
}

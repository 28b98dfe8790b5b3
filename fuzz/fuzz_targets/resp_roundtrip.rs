//! Whatever decodes re-encodes to bytes that decode back to an equal frame, in one piece or two.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use resp_codec::{Decoder, Frame};

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    let mut decoder = Decoder::new();
    while let Ok(Some(frame)) = decoder.decode(&mut buf) {
        let mut wire = BytesMut::new();
        frame.encode(&mut wire);
        let len = wire.len();

        let again = Decoder::new().decode(&mut wire);
        match again {
            Ok(Some(ref back)) => assert!(same(&frame, back), "{frame:?} came back as {back:?}"),
            other => panic!("{frame:?} re-encoded does not decode: {other:?}"),
        }
        assert!(wire.is_empty(), "the re-encoding of {frame:?} has trailing bytes");

        // Split in the middle: the resumed decode must agree.
        let mut encoded = BytesMut::new();
        frame.encode(&mut encoded);
        let tail = encoded.split_off(len / 2);
        let mut split = Decoder::new();
        let first = split.decode(&mut encoded);
        let back = if len > 0 && encoded.len() < len {
            assert_eq!(first, Ok(None), "a half frame decoded");
            encoded.unsplit(tail);
            split.decode(&mut encoded)
        } else {
            first
        };
        assert!(matches!(back, Ok(Some(ref b)) if same(&frame, b)), "split decode of {frame:?} gave {back:?}");
    }
});

/// Equality with NaN equal to NaN; doubles otherwise compared by bits.
fn same(a: &Frame, b: &Frame) -> bool {
    match (a, b) {
        (Frame::Double(x), Frame::Double(y)) => (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits(),
        (Frame::Array(x), Frame::Array(y)) | (Frame::Set(x), Frame::Set(y)) | (Frame::Push(x), Frame::Push(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Frame::Map(x), Frame::Map(y)) => same_pairs(x, y),
        (Frame::Attribute { attributes: xa, frame: xf }, Frame::Attribute { attributes: ya, frame: yf }) => {
            same_pairs(xa, ya) && same(xf, yf)
        }
        _ => a == b,
    }
}

fn same_pairs(x: &[(Frame, Frame)], y: &[(Frame, Frame)]) -> bool {
    x.len() == y.len() && x.iter().zip(y).all(|((ak, av), (bk, bv))| same(ak, bk) && same(av, bv))
}

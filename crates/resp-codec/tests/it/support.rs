//! Frame constructors and comparisons shared by the test modules.

use bytes::{Bytes, BytesMut};
use resp_codec::{DecodeError, Decoder, Frame};

pub(crate) fn bulk(s: &[u8]) -> Frame {
    Frame::BulkString(Bytes::copy_from_slice(s))
}

pub(crate) fn simple(s: &[u8]) -> Frame {
    Frame::SimpleString(Bytes::copy_from_slice(s))
}

pub(crate) fn array(items: Vec<Frame>) -> Frame {
    Frame::Array(items)
}

pub(crate) fn encode(frame: &Frame) -> BytesMut {
    let mut out = BytesMut::new();
    frame.encode(&mut out);
    out
}

/// Decodes every frame in `input` at once; stops at the first error or at an incomplete tail.
pub(crate) fn decode_all(
    decoder: &mut Decoder,
    input: &[u8],
) -> (Vec<Frame>, Option<DecodeError>, usize) {
    let mut buf = BytesMut::from(input);
    let mut frames = Vec::new();
    loop {
        match decoder.decode(&mut buf) {
            Ok(Some(frame)) => frames.push(frame),
            Ok(None) => return (frames, None, buf.len()),
            Err(e) => return (frames, Some(e), buf.len()),
        }
    }
}

/// Frame equality where NaN equals NaN (a decoded `,nan` must match the `NaN` that was encoded)
/// and doubles otherwise compare by bits (so `-0.0` and `0.0` stay apart).
pub(crate) fn same(a: &Frame, b: &Frame) -> bool {
    match (a, b) {
        (Frame::Double(x), Frame::Double(y)) => {
            (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits()
        }
        (Frame::Array(x), Frame::Array(y))
        | (Frame::Set(x), Frame::Set(y))
        | (Frame::Push(x), Frame::Push(y)) => same_all(x, y),
        (Frame::Map(x), Frame::Map(y)) => same_pairs(x, y),
        (
            Frame::Attribute {
                attributes: xa,
                frame: xf,
            },
            Frame::Attribute {
                attributes: ya,
                frame: yf,
            },
        ) => same_pairs(xa, ya) && same(xf, yf),
        _ => a == b,
    }
}

pub(crate) fn same_all(x: &[Frame], y: &[Frame]) -> bool {
    x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
}

fn same_pairs(x: &[(Frame, Frame)], y: &[(Frame, Frame)]) -> bool {
    x.len() == y.len()
        && x.iter()
            .zip(y)
            .all(|((ak, av), (bk, bv))| same(ak, bk) && same(av, bv))
}

/// The nesting depth of a frame (a scalar is 0, a flat array 1), iteratively.
pub(crate) fn depth(frame: &Frame) -> usize {
    let mut max = 0;
    let mut stack = vec![(frame, 0)];
    while let Some((frame, d)) = stack.pop() {
        max = max.max(d);
        match frame {
            Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
                stack.extend(items.iter().map(|f| (f, d + 1)));
            }
            Frame::Map(pairs) => {
                stack.extend(pairs.iter().flat_map(|(k, v)| [(k, d + 1), (v, d + 1)]))
            }
            Frame::Attribute { attributes, frame } => {
                stack.extend(
                    attributes
                        .iter()
                        .flat_map(|(k, v)| [(k, d + 1), (v, d + 1)]),
                );
                // The annotated frame is not inside the attribute aggregate, but the decoder opens
                // it as the attribute's last element, so it counts one level deeper.
                stack.push((frame, d + 1));
            }
            _ => {}
        }
    }
    max
}

/// The longest payload and the longest aggregate in a frame.
pub(crate) fn largest(frame: &Frame) -> (usize, usize) {
    let (mut bulk, mut aggregate) = (0, 0);
    let mut stack = vec![frame];
    while let Some(frame) = stack.pop() {
        match frame {
            Frame::BulkString(b) | Frame::BulkError(b) => bulk = bulk.max(b.len()),
            Frame::VerbatimString { text, .. } => bulk = bulk.max(text.len() + 4),
            Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
                aggregate = aggregate.max(items.len());
                stack.extend(items);
            }
            Frame::Map(pairs) => {
                aggregate = aggregate.max(pairs.len());
                stack.extend(pairs.iter().flat_map(|(k, v)| [k, v]));
            }
            Frame::Attribute { attributes, frame } => {
                aggregate = aggregate.max(attributes.len());
                stack.extend(attributes.iter().flat_map(|(k, v)| [k, v]));
                stack.push(frame);
            }
            _ => {}
        }
    }
    (bulk, aggregate)
}

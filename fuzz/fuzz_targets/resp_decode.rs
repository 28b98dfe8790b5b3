//! The decoder never panics on any input, never allocates more than the input justifies,
//! and decodes the same however the input is cut into reads.
//!
//! A counting global allocator records the largest single allocation made while decoding;
//! with small limits, it must stay proportional to the input, whatever lengths the headers claim.
//! The input is then decoded again in one piece, and both passes must agree frame for frame.
#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use resp_codec::{DecodeError, DecodeLimits, Decoder, Frame};

struct Tracking;

/// The largest allocation (or reallocation) requested since the last reset.
static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; we only observe sizes.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // Relaxed: a statistic read on the same thread after decoding, no ordering with other data.
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

const MAX_BULK: usize = 64;
const MAX_AGGREGATE: usize = 16;
const MAX_DEPTH: usize = 8;

fuzz_target!(|data: &[u8]| {
    // The first byte chooses how the rest arrives: in pieces of 1 to 256 bytes.
    let Some((&piece, wire)) = data.split_first() else { return };
    let piece = usize::from(piece) + 1;

    LARGEST.store(0, Ordering::Relaxed);
    let chunked = decode(wire, piece);
    // Frames are at most 48 bytes and a scan token 24 for every 3 input bytes, with Vec doubling on top.
    let bound = 64 * wire.len() + 4096;
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(largest <= bound, "allocated {largest} bytes at once for {} input bytes", wire.len());
    for frame in &chunked.frames {
        check_limits(frame, 0);
    }

    // How the bytes arrive changes nothing: the same frames in the same order, then the same error,
    // or the same incomplete tail. A decoder that carried state from one frame into the next,
    // or resumed a frame at the wrong place, decodes differently once the input is cut in pieces.
    let whole = decode(wire, wire.len().max(1));
    assert!(
        same_all(&chunked.frames, &whole.frames),
        "in pieces of {piece}: {:?}\nin one piece: {:?}",
        chunked.frames,
        whole.frames
    );
    assert_eq!(chunked.error, whole.error, "in pieces of {piece}, then in one piece");
    if whole.error.is_none() {
        assert_eq!(chunked.left, whole.left, "bytes left over in pieces of {piece}, then in one piece");
    }
});

/// What one pass over the input produced.
struct Decoded {
    frames: Vec<Frame>,
    /// The error that ended the pass, if any.
    error: Option<DecodeError>,
    /// The bytes still in the buffer at the end: an incomplete frame, or what followed the error.
    left: usize,
}

/// Decodes `wire` with small limits, fed to one decoder in pieces of `piece` bytes,
/// taking every complete frame after each piece and stopping at the first error.
fn decode(wire: &[u8], piece: usize) -> Decoded {
    let limits = DecodeLimits::default()
        .max_bulk_len(MAX_BULK)
        .max_aggregate_len(MAX_AGGREGATE)
        .max_depth(MAX_DEPTH)
        .max_line_len(MAX_BULK);
    let mut decoder = Decoder::with_limits(limits);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for chunk in wire.chunks(piece) {
        buf.extend_from_slice(chunk);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(error) => return Decoded { frames, error: Some(error), left: buf.len() },
            }
        }
    }
    Decoded { frames, error: None, left: buf.len() }
}

/// Every decoded frame obeys the limits it was decoded under.
fn check_limits(frame: &Frame, depth: usize) {
    match frame {
        Frame::BulkString(b) | Frame::BulkError(b) => assert!(b.len() <= MAX_BULK),
        Frame::SimpleString(b) | Frame::SimpleError(b) | Frame::BigNumber(b) => assert!(b.len() <= MAX_BULK),
        Frame::VerbatimString { text, .. } => assert!(text.len() + 4 <= MAX_BULK),
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
            assert!(depth < MAX_DEPTH && items.len() <= MAX_AGGREGATE);
            items.iter().for_each(|f| check_limits(f, depth + 1));
        }
        Frame::Map(pairs) => {
            assert!(depth < MAX_DEPTH && pairs.len() <= MAX_AGGREGATE);
            pairs.iter().for_each(|(k, v)| {
                check_limits(k, depth + 1);
                check_limits(v, depth + 1);
            });
        }
        Frame::Attribute { attributes, frame } => {
            assert!(depth < MAX_DEPTH && attributes.len() <= MAX_AGGREGATE);
            attributes.iter().for_each(|(k, v)| {
                check_limits(k, depth + 1);
                check_limits(v, depth + 1);
            });
            check_limits(frame, depth + 1);
        }
        _ => {}
    }
}

/// Frame equality where NaN equals NaN (a `,nan` decodes the same both times)
/// and doubles otherwise compare by bits.
fn same(a: &Frame, b: &Frame) -> bool {
    match (a, b) {
        (Frame::Double(x), Frame::Double(y)) => (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits(),
        (Frame::Array(x), Frame::Array(y)) | (Frame::Set(x), Frame::Set(y)) | (Frame::Push(x), Frame::Push(y)) => {
            same_all(x, y)
        }
        (Frame::Map(x), Frame::Map(y)) => same_pairs(x, y),
        (Frame::Attribute { attributes: xa, frame: xf }, Frame::Attribute { attributes: ya, frame: yf }) => {
            same_pairs(xa, ya) && same(xf, yf)
        }
        _ => a == b,
    }
}

fn same_all(x: &[Frame], y: &[Frame]) -> bool {
    x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
}

fn same_pairs(x: &[(Frame, Frame)], y: &[(Frame, Frame)]) -> bool {
    x.len() == y.len() && x.iter().zip(y).all(|((ak, av), (bk, bv))| same(ak, bk) && same(av, bv))
}

//! Reply decoding: resp-codec's `Decoder` against redis-protocol (fred's codec) on the same bytes.
//!
//! Both sides decode zero-copy from a `BytesMut` (redis-protocol through its `decode_bytes_mut`)
//! and keep every frame; building the input and dropping the frames are outside the timing.

use std::hint::black_box;

use bytes::{BufMut, BytesMut};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use redis_protocol::resp2::decode::decode_bytes_mut as resp2_decode;
use redis_protocol::resp3::decode::complete::decode_bytes_mut as resp3_decode;
use resp_codec::{Decoder, Frame};

/// Which of redis-protocol's decoders understands the corpus.
#[derive(Clone, Copy)]
enum Peer {
    Resp2,
    Resp3,
}

struct Corpus {
    name: &'static str,
    wire: Vec<u8>,
    peer: Peer,
}

fn encode(frames: &[Frame]) -> Vec<u8> {
    let mut out = BytesMut::new();
    for frame in frames {
        frame.encode(&mut out);
    }
    out.to_vec()
}

fn bulk(data: Vec<u8>) -> Frame {
    Frame::BulkString(data.into())
}

fn value(len: usize, seed: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + ((i + seed) % 26) as u8).collect()
}

/// Replies a cluster client sees all day, pipelined as a connection's reader would find them.
fn corpora() -> Vec<Corpus> {
    let get_replies: Vec<Frame> = (0..100).map(|i| bulk(value(100, i))).collect();
    let integers: Vec<Frame> = (0..100)
        .map(|i| Frame::Integer(1_000_000 + i * 7919))
        .collect();
    let oks: Vec<Frame> = (0..100).map(|_| Frame::SimpleString("OK".into())).collect();
    let mget = Frame::Array(
        (0..100)
            .map(|i| {
                if i % 10 == 9 {
                    Frame::NullBulkString
                } else {
                    bulk(value(20, i as usize))
                }
            })
            .collect(),
    );
    // CLUSTER SLOTS of 3 masters with one replica each: [start, end, [host, port, id], [host, port, id]].
    let node = |port: i64| {
        Frame::Array(vec![
            bulk(b"10.0.0.1".to_vec()),
            Frame::Integer(port),
            bulk(format!("{port:040x}").into_bytes()),
        ])
    };
    let slots = Frame::Array(
        (0..3)
            .map(|i| {
                Frame::Array(vec![
                    Frame::Integer(i * 5461),
                    Frame::Integer((i + 1) * 5461 - 1),
                    node(7000 + i),
                    node(7003 + i),
                ])
            })
            .collect(),
    );
    let large = bulk(value(1 << 20, 0));
    // HGETALL in RESP3: a map of 50 fields.
    let hgetall = Frame::Map(
        (0..50)
            .map(|i| (bulk(format!("field:{i}").into_bytes()), bulk(value(32, i))))
            .collect(),
    );
    vec![
        Corpus {
            name: "get_100b_x100",
            wire: encode(&get_replies),
            peer: Peer::Resp2,
        },
        Corpus {
            name: "integer_x100",
            wire: encode(&integers),
            peer: Peer::Resp2,
        },
        Corpus {
            name: "ok_x100",
            wire: encode(&oks),
            peer: Peer::Resp2,
        },
        Corpus {
            name: "mget_100",
            wire: encode(&[mget]),
            peer: Peer::Resp2,
        },
        Corpus {
            name: "cluster_slots",
            wire: encode(&[slots]),
            peer: Peer::Resp2,
        },
        Corpus {
            name: "bulk_1mib",
            wire: encode(&[large]),
            peer: Peer::Resp2,
        },
        Corpus {
            name: "resp3_hgetall_50",
            wire: encode(&[hgetall]),
            peer: Peer::Resp3,
        },
    ]
}

/// Decodes every frame in `buf` and returns them with their count: criterion drops a routine's
/// output outside the timing, so freeing the input (1 MiB for `bulk_1mib`) does not swamp the decode.
fn ours(mut buf: BytesMut, decoder: &mut Decoder) -> (Vec<Frame>, usize) {
    let mut frames = Vec::with_capacity(128);
    while let Some(frame) = decoder.decode(&mut buf).expect("valid corpus") {
        frames.push(frame);
    }
    let n = frames.len();
    (frames, n)
}

/// redis-protocol's frames, RESP2 or RESP3, kept the same way.
type PeerFrame =
    Result<redis_protocol::resp2::types::BytesFrame, redis_protocol::resp3::types::BytesFrame>;

fn theirs(mut buf: BytesMut, peer: Peer) -> (Vec<PeerFrame>, usize) {
    let mut frames = Vec::with_capacity(128);
    match peer {
        Peer::Resp2 => {
            while let Some((frame, _, _)) = resp2_decode(&mut buf).expect("valid corpus") {
                frames.push(Ok(frame));
            }
        }
        Peer::Resp3 => {
            while let Some((frame, _, _)) = resp3_decode(&mut buf).expect("valid corpus") {
                frames.push(Err(frame));
            }
        }
    }
    let n = frames.len();
    (frames, n)
}

fn whole_buffer(c: &mut Criterion) {
    let mut group = c.benchmark_group("resp_decode");
    for corpus in corpora() {
        let input = || BytesMut::from(&corpus.wire[..]);
        // Both decoders must see the same number of frames, or the comparison means nothing.
        assert_eq!(
            ours(input(), &mut Decoder::new()).1,
            theirs(input(), corpus.peer).1,
            "{}",
            corpus.name
        );
        group.throughput(Throughput::Bytes(corpus.wire.len() as u64));
        let mut decoder = Decoder::new();
        group.bench_function(BenchmarkId::new("resp-codec", corpus.name), |b| {
            b.iter_batched(input, |buf| ours(buf, &mut decoder), BatchSize::SmallInput)
        });
        group.bench_function(BenchmarkId::new("redis-protocol", corpus.name), |b| {
            b.iter_batched(input, |buf| theirs(buf, corpus.peer), BatchSize::SmallInput)
        });
    }
    group.finish();
}

/// A 1000-element MGET reply (about 108 KiB) arriving in 4 KiB reads, decoded after each read
/// as a connection's reader does: resp-codec resumes its scan, redis-protocol starts over.
fn in_reads(c: &mut Criterion) {
    const READ: usize = 4096;
    let reply = Frame::Array((0..1000).map(|i| bulk(value(100, i))).collect());
    let wire = encode(&[reply]);
    let mut group = c.benchmark_group("resp_decode_in_4k_reads");
    group.throughput(Throughput::Bytes(wire.len() as u64));
    group.bench_function("resp-codec/mget_1000x100b", |b| {
        let mut decoder = Decoder::new();
        b.iter(|| {
            let mut buf = BytesMut::with_capacity(wire.len());
            let mut got = None;
            for read in wire.chunks(READ) {
                buf.put_slice(read);
                got = decoder.decode(&mut buf).expect("valid corpus");
            }
            black_box(got.expect("complete at the last read"))
        })
    });
    group.bench_function("redis-protocol/mget_1000x100b", |b| {
        b.iter(|| {
            let mut buf = BytesMut::with_capacity(wire.len());
            let mut got = None;
            for read in wire.chunks(READ) {
                buf.put_slice(read);
                got = resp2_decode(&mut buf).expect("valid corpus");
            }
            black_box(got.expect("complete at the last read"))
        })
    });
    group.finish();
}

criterion_group!(benches, whole_buffer, in_reads);
criterion_main!(benches);

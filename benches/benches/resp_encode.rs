//! Command encoding: resp-codec's `CommandBuilder` / `encode_command` against redis-protocol's
//! RESP2 encoder, which needs the command as a frame of `Bytes` first (as fred builds it).

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use redis_protocol::resp2::encode::extend_encode;
use redis_protocol::resp2::types::BytesFrame;
use resp_codec::{CommandBuilder, EncodedCommand, encode_command};

fn commands() -> Vec<(&'static str, Vec<Vec<u8>>)> {
    let value: Vec<u8> = (0..100).map(|i| b'a' + (i % 26) as u8).collect();
    let mut mset = vec![b"MSET".to_vec()];
    for i in 0..10 {
        mset.push(format!("{{user:1000}}:field:{i}").into_bytes());
        mset.push(value[..32].to_vec());
    }
    vec![
        ("get", vec![b"GET".to_vec(), b"user:1000:profile".to_vec()]),
        (
            "set_100b_ex",
            vec![
                b"SET".to_vec(),
                b"user:1000:profile".to_vec(),
                value,
                b"EX".to_vec(),
                b"3600".to_vec(),
            ],
        ),
        ("mset_10", mset),
    ]
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("resp_encode");
    for (name, args) in commands() {
        let wire = EncodedCommand::from_args(&args);
        group.throughput(Throughput::Bytes(wire.bytes().len() as u64));

        // What a caller does per command: build an EncodedCommand it can retry (allocates its buffer).
        group.bench_function(BenchmarkId::new("resp-codec CommandBuilder", name), |b| {
            b.iter(|| {
                let mut cmd = CommandBuilder::with_capacity(&args[0], 128);
                for arg in &args[1..] {
                    cmd.arg(arg);
                }
                black_box(cmd.finish())
            })
        });
        // Straight into a reused write buffer.
        let mut out = BytesMut::with_capacity(4096);
        group.bench_function(BenchmarkId::new("resp-codec encode_command", name), |b| {
            b.iter(|| {
                out.clear();
                encode_command(&mut out, black_box(&args));
                black_box(out.len())
            })
        });

        // redis-protocol: build the frame from the arguments, then encode into a reused buffer.
        let frame_of = |args: &[Vec<u8>]| {
            BytesFrame::Array(
                args.iter()
                    .map(|a| BytesFrame::BulkString(Bytes::copy_from_slice(a)))
                    .collect(),
            )
        };
        let mut out = BytesMut::with_capacity(4096);
        group.bench_function(BenchmarkId::new("redis-protocol frame+encode", name), |b| {
            b.iter(|| {
                out.clear();
                let frame = frame_of(black_box(&args));
                extend_encode(&mut out, &frame, false).expect("encodable");
                black_box(out.len())
            })
        });
        // redis-protocol with the frame built once: its encoder alone.
        let frame = frame_of(&args);
        let mut check = BytesMut::new();
        extend_encode(&mut check, &frame, false).expect("encodable");
        assert_eq!(
            &check[..],
            &wire.bytes()[..],
            "both encoders must produce the same bytes"
        );
        let mut out = BytesMut::with_capacity(4096);
        group.bench_function(BenchmarkId::new("redis-protocol encode only", name), |b| {
            b.iter(|| {
                out.clear();
                extend_encode(&mut out, black_box(&frame), false).expect("encodable");
                black_box(out.len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);

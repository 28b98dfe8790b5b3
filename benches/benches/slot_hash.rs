//! Key to slot: `hash_slot::Slot::for_key` (the crc16 crate) against a hand-written
//! 256-entry table CRC16-XMODEM, to learn whether the dependency costs speed.
//! For the tagged key, `Slot::for_key` hashes only the 9-byte tag while the other two hash all 40 bytes.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hash_slot::Slot;

/// CRC16-XMODEM (polynomial 0x1021, initial value 0, no reflection), one table entry per byte value,
/// computed at compile time.
const TABLE: [u16; 256] = {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

fn table_crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in data {
        // The index is a u8, so it is always inside the 256-entry table and needs no bounds check.
        crc = (crc << 8) ^ TABLE[usize::from((crc >> 8) as u8 ^ byte)];
    }
    crc
}

fn crc16_crate(data: &[u8]) -> u16 {
    crc16::State::<crc16::XMODEM>::calculate(data)
}

fn keys() -> Vec<(String, Vec<u8>)> {
    let mut keys: Vec<(String, Vec<u8>)> = [8usize, 16, 32, 64, 256]
        .iter()
        .map(|&len| {
            (
                format!("{len}B"),
                (0..len).map(|i| b'a' + (i % 26) as u8).collect(),
            )
        })
        .collect();
    keys.push((
        "tagged_40B".to_string(),
        b"{user:1000}:profile:settings:theme:v2:en".to_vec(),
    ));
    keys
}

fn slot_hash(c: &mut Criterion) {
    let mut group = c.benchmark_group("slot_hash");
    for (name, key) in keys() {
        assert!(name.ends_with(&format!("_{}B", key.len())) || name == format!("{}B", key.len()));
        assert_eq!(
            table_crc16(&key),
            crc16_crate(&key),
            "the table must agree with the crate"
        );
        assert_eq!(
            Slot::for_key(&key).get(),
            table_crc16(hash_slot::hash_tag(&key)) & 0x3FFF
        );
        group.throughput(Throughput::Bytes(key.len() as u64));
        group.bench_function(BenchmarkId::new("Slot::for_key", &name), |b| {
            b.iter(|| Slot::for_key(black_box(&key)))
        });
        group.bench_function(BenchmarkId::new("crc16 crate", &name), |b| {
            b.iter(|| crc16_crate(black_box(&key)))
        });
        group.bench_function(BenchmarkId::new("table", &name), |b| {
            b.iter(|| table_crc16(black_box(&key)))
        });
    }
    group.finish();
}

criterion_group!(benches, slot_hash);
criterion_main!(benches);

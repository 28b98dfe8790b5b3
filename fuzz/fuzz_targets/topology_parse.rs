//! Parsing what a cluster node answers never panics, and whatever parses is a consistent view.
//!
//! The router parses `CLUSTER SHARDS` / `CLUSTER SLOTS` replies and `MOVED` / `ASK` error texts that come
//! off the network. Random bytes rarely decode into the nested maps and arrays those parsers look into,
//! so the input is read as a recipe for a reply: a free-form frame, or one shaped like either reply whose
//! counts, field names and values the bytes choose (names and values the parsers know, such as `slots`,
//! `nodes`, `role`, `health`, hosts and ports, mixed with raw bytes and edge numbers).
//! The same bytes are also tried as a redirect's error text and as an address.
#![no_main]

use bytes::Bytes;
use cluster_topology::{NodeAddr, Redirect, Topology, choose_view};
use hash_slot::Slot;
use libfuzzer_sys::fuzz_target;
use resp_codec::Frame;

/// Field names and values of the two replies, and hosts of every shape the address rules distinguish.
const WORDS: &[&str] = &[
    "slots",
    "nodes",
    "id",
    "port",
    "tls-port",
    "ip",
    "endpoint",
    "hostname",
    "role",
    "master",
    "primary",
    "replica",
    "slave",
    "health",
    "online",
    "failed",
    "fail",
    "loading",
    "replication-offset",
    "?",
    "",
    "127.0.0.1",
    "::1",
    "localhost",
    "node-a",
    "node-b",
    "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca",
    "30001",
    "-1",
    "16383",
    "16384",
];

/// Integers around the edges the parsers check: slot bounds, port bounds, negatives, extremes.
const NUMBERS: &[i64] = &[
    0,
    1,
    -1,
    16383,
    16384,
    65535,
    65536,
    30001,
    30002,
    i64::MAX,
    i64::MIN,
];

/// Aggregates are kept small and shallow: the parsers look at most four levels deep.
const MAX_DEPTH: usize = 6;
const MAX_ITEMS: usize = 8;

struct Recipe<'a>(&'a [u8]);

impl Recipe<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn word(&mut self) -> Bytes {
        let i = usize::from(self.byte()) % WORDS.len();
        Bytes::from_static(WORDS[i].as_bytes())
    }

    fn raw(&mut self) -> Bytes {
        let len = usize::from(self.byte() % 12).min(self.0.len());
        let (taken, rest) = self.0.split_at(len);
        self.0 = rest;
        Bytes::copy_from_slice(taken)
    }

    fn frame(&mut self, depth: usize) -> Frame {
        let kind = self.byte();
        // Past the depth limit only scalars are made, so the recipe always ends.
        let kind = if depth >= MAX_DEPTH {
            kind % 6
        } else {
            kind % 10
        };
        match kind {
            0 | 1 => Frame::BulkString(self.word()),
            2 => Frame::Integer(NUMBERS[usize::from(self.byte()) % NUMBERS.len()]),
            3 => Frame::Integer(i64::from(u16::from_le_bytes([self.byte(), self.byte()]))),
            4 => Frame::BulkString(self.raw()),
            5 => match self.byte() % 4 {
                0 => Frame::Null,
                1 => Frame::NullBulkString,
                2 => Frame::SimpleString(self.word()),
                _ => Frame::SimpleError(self.raw()),
            },
            6 | 7 => {
                let n = usize::from(self.byte()) % MAX_ITEMS;
                Frame::Array((0..n).map(|_| self.frame(depth + 1)).collect())
            }
            8 => {
                let n = usize::from(self.byte()) % MAX_ITEMS;
                Frame::Map(
                    (0..n)
                        .map(|_| (Frame::BulkString(self.word()), self.frame(depth + 1)))
                        .collect(),
                )
            }
            _ => {
                let n = usize::from(self.byte()) % MAX_ITEMS;
                Frame::Array(
                    (0..n)
                        .flat_map(|_| [Frame::BulkString(self.word()), self.frame(depth + 1)])
                        .collect(),
                )
            }
        }
    }
}

impl Recipe<'_> {
    /// A slot number: mostly in range, sometimes at or past the edges.
    fn slot_number(&mut self) -> Frame {
        if self.byte() % 8 == 0 {
            return self.frame(MAX_DEPTH);
        }
        Frame::Integer(i64::from(
            u16::from_le_bytes([self.byte(), self.byte()]) % 16400,
        ))
    }

    /// A value where a parser expects a host, port, id, role or health: usually a plausible one.
    fn field_value(&mut self) -> Frame {
        match self.byte() % 4 {
            0 => self.frame(MAX_DEPTH),
            1 => Frame::Integer(NUMBERS[usize::from(self.byte()) % NUMBERS.len()]),
            _ => Frame::BulkString(self.word()),
        }
    }

    /// A key-value aggregate, as a RESP3 map or a RESP2 flat array.
    fn fields(&mut self, pairs: Vec<(Frame, Frame)>) -> Frame {
        if self.byte() % 2 == 0 {
            Frame::Map(pairs)
        } else {
            Frame::Array(pairs.into_iter().flat_map(|(k, v)| [k, v]).collect())
        }
    }

    /// A `CLUSTER SLOTS` reply: ranges, each with a master and replicas as `[host, port, id, ...]`.
    fn slots_reply(&mut self) -> Frame {
        let ranges = usize::from(self.byte()) % 5;
        Frame::Array(
            (0..ranges)
                .map(|_| {
                    let mut range = vec![self.slot_number(), self.slot_number()];
                    for _ in 0..1 + usize::from(self.byte()) % 3 {
                        let fields = usize::from(self.byte()) % 5;
                        range.push(Frame::Array(
                            (0..fields).map(|_| self.field_value()).collect(),
                        ));
                    }
                    Frame::Array(range)
                })
                .collect(),
        )
    }

    /// A `CLUSTER SHARDS` reply: shards with `slots` (start, end pairs) and `nodes` (field maps).
    fn shards_reply(&mut self) -> Frame {
        let shards = usize::from(self.byte()) % 4;
        let shards = (0..shards)
            .map(|_| {
                let bounds = 2 * (usize::from(self.byte()) % 3);
                let slots = Frame::Array((0..bounds).map(|_| self.slot_number()).collect());
                let nodes = (0..usize::from(self.byte()) % 3)
                    .map(|_| {
                        let fields = (0..usize::from(self.byte()) % 9)
                            .map(|_| (Frame::BulkString(self.word()), self.field_value()))
                            .collect();
                        self.fields(fields)
                    })
                    .collect();
                let shard = vec![
                    (Frame::BulkString(Bytes::from_static(b"slots")), slots),
                    (
                        Frame::BulkString(Bytes::from_static(b"nodes")),
                        Frame::Array(nodes),
                    ),
                ];
                self.fields(shard)
            })
            .collect();
        Frame::Array(shards)
    }
}

fuzz_target!(|data: &[u8]| {
    if let Some(redirect) = Redirect::parse(data) {
        assert!(Slot::new(redirect.slot.get()).is_some());
        let _ = redirect.addr.with_default_host("seed").to_string();
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(addr) = NodeAddr::parse_with_default_host(text, "seed") {
            // An address that parsed prints as something that parses back to it.
            assert_eq!(NodeAddr::parse(&addr.to_string()).ok(), Some(addr));
        }
    }

    let mut recipe = Recipe(data);
    // Free-form replies find the parsers' error paths; the two templates reach what lies past them.
    let reply = match recipe.byte() % 3 {
        0 => recipe.frame(0),
        1 => recipe.slots_reply(),
        _ => recipe.shards_reply(),
    };
    let moved_slot = Slot::new(u16::from_le_bytes([recipe.byte(), recipe.byte()]) % 16384);
    let views: Vec<Topology> = [
        Topology::from_cluster_shards(&reply, "seed"),
        Topology::from_cluster_slots(&reply, "seed"),
    ]
    .into_iter()
    .filter_map(Result::ok)
    .collect();
    for view in &views {
        check(view);
        if let Some(slot) = moved_slot {
            let to = NodeAddr::new("moved-to", 7);
            let moved = view.with_slot_moved(slot, &to);
            check(&moved);
            let owner = moved.master_for(slot).expect("the moved slot has an owner");
            assert_eq!(moved.node(owner).addr, to);
        }
    }
    if let Some(chosen) = choose_view(&views) {
        assert!(
            views
                .iter()
                .any(|v| v.fingerprint() == chosen.fingerprint())
        );
    }
});

/// Every index the view hands out points at one of its nodes, and the counts agree with the table.
fn check(view: &Topology) {
    let mut covered = 0;
    for n in 0..16384u16 {
        let slot = Slot::new(n).expect("in range");
        if let Some(master) = view.master_for(slot) {
            covered += 1;
            assert!(view.get(master).is_some());
            for replica in view.all_replicas_for(slot) {
                assert!(view.get(*replica).is_some());
            }
        }
    }
    assert_eq!(covered, view.covered_slots());
    let ranged: usize = view
        .slot_ranges()
        .iter()
        .map(|(range, owner)| {
            assert!(view.get(*owner).is_some());
            range.len()
        })
        .sum();
    assert_eq!(ranged, covered);
    for master in view.masters() {
        for replica in view.replicas_of(master) {
            assert!(view.get(*replica).is_some());
        }
    }
}

//! Malformed replies give the right typed error, naming the place, and never panic.

use cluster_topology::{ErrorKind, Topology};

use crate::decode;

enum Command {
    Shards,
    Slots,
}

/// Parses `wire` as the reply to `command` and checks the error kind and that the message mentions `needle`.
fn check(command: Command, wire: &[u8], kind: ErrorKind, needle: &str) {
    let frame = decode(wire);
    let result = match command {
        Command::Shards => Topology::from_cluster_shards(&frame, "seed"),
        Command::Slots => Topology::from_cluster_slots(&frame, "seed"),
    };
    let err = result.expect_err("a malformed reply must be rejected");
    assert_eq!(err.kind(), kind, "{err}");
    let text = err.to_string();
    assert!(
        text.contains(needle),
        "{text:?} does not mention {needle:?}"
    );
}

/// A valid one-shard SHARDS reply with `node` as its only node.
fn shard_with_node(node: &str) -> Vec<u8> {
    format!("*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:16383\r\n$5\r\nnodes\r\n*1\r\n{node}")
        .into_bytes()
}

const ID: &str = "$2\r\nid\r\n$1\r\na\r\n";
const PORT: &str = "$4\r\nport\r\n:7000\r\n";
const ENDPOINT: &str = "$8\r\nendpoint\r\n$1\r\nh\r\n";
const ROLE: &str = "$4\r\nrole\r\n$6\r\nmaster\r\n";

#[test]
fn server_errors() {
    // Redis 6 asked for CLUSTER SHARDS; the router falls back to CLUSTER SLOTS on this kind.
    check(
        Command::Shards,
        b"-ERR unknown subcommand 'SHARDS'\r\n",
        ErrorKind::ServerError,
        "unknown subcommand",
    );
    check(
        Command::Slots,
        b"!9\r\nLOADING x\r\n",
        ErrorKind::ServerError,
        "LOADING",
    );
    let err = Topology::from_cluster_slots(
        &decode(b"-ERR This instance has cluster support disabled\r\n"),
        "s",
    )
    .unwrap_err();
    assert!(err.is_server_error());
}

#[test]
fn wrong_types() {
    check(
        Command::Slots,
        b"$2\r\nno\r\n",
        ErrorKind::UnexpectedShape,
        "expected an array, got a bulk string",
    );
    check(
        Command::Slots,
        b"*-1\r\n",
        ErrorKind::UnexpectedShape,
        "got null",
    );
    check(
        Command::Shards,
        b"_\r\n",
        ErrorKind::UnexpectedShape,
        "got null",
    );
    check(
        Command::Slots,
        b"*1\r\n:5\r\n",
        ErrorKind::UnexpectedShape,
        "entry 0",
    );
    check(
        Command::Slots,
        b"*1\r\n*2\r\n:0\r\n:1\r\n",
        ErrorKind::UnexpectedShape,
        "got 2 elements",
    );
    check(
        Command::Slots,
        b"*1\r\n*3\r\n:0\r\n:1\r\n:7\r\n",
        ErrorKind::UnexpectedShape,
        "master",
    );
    check(
        Command::Slots,
        b"*1\r\n*3\r\n:0\r\n:1\r\n*1\r\n$1\r\nh\r\n",
        ErrorKind::UnexpectedShape,
        "got 1 elements",
    );
    check(
        Command::Slots,
        b"*1\r\n*3\r\n,1.5\r\n:1\r\n*2\r\n$1\r\nh\r\n:1\r\n",
        ErrorKind::UnexpectedShape,
        "a double",
    );
    check(
        Command::Slots,
        b"*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n:1\r\n:1\r\n",
        ErrorKind::UnexpectedShape,
        "endpoint",
    );
    check(
        Command::Slots,
        b"*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$1\r\nh\r\n*0\r\n",
        ErrorKind::UnexpectedShape,
        "port",
    );
    check(
        Command::Slots,
        b"*1\r\n*3\r\n:0\r\n:1\r\n*4\r\n$1\r\nh\r\n:1\r\n$1\r\ni\r\n:9\r\n",
        ErrorKind::UnexpectedShape,
        "map",
    );
    check(
        Command::Shards,
        b"*1\r\n:1\r\n",
        ErrorKind::UnexpectedShape,
        "shard 0",
    );
    check(
        Command::Shards,
        b"*1\r\n*3\r\n$5\r\nslots\r\n*0\r\n$5\r\nnodes\r\n",
        ErrorKind::UnexpectedShape,
        "odd number",
    );
    check(
        Command::Shards,
        b"*1\r\n%2\r\n$5\r\nslots\r\n:1\r\n$5\r\nnodes\r\n*0\r\n",
        ErrorKind::UnexpectedShape,
        "slots",
    );
    check(
        Command::Shards,
        b"*1\r\n%2\r\n$5\r\nslots\r\n*0\r\n$5\r\nnodes\r\n%0\r\n",
        ErrorKind::UnexpectedShape,
        "nodes",
    );
    check(
        Command::Shards,
        b"*1\r\n%2\r\n$5\r\nslots\r\n*1\r\n:1\r\n$5\r\nnodes\r\n*0\r\n",
        ErrorKind::UnexpectedShape,
        "odd",
    );
    let node = format!("*8\r\n{ID}{PORT}$4\r\nrole\r\n:1\r\n{ENDPOINT}");
    check(
        Command::Shards,
        &shard_with_node(&node),
        ErrorKind::UnexpectedShape,
        "shard 0: node 0: role",
    );
    let node = format!("*10\r\n{ID}{PORT}{ROLE}{ENDPOINT}$18\r\nreplication-offset\r\n$1\r\nx\r\n");
    check(
        Command::Shards,
        &shard_with_node(&node),
        ErrorKind::UnexpectedShape,
        "replication-offset",
    );
    let node = format!("*8\r\n$2\r\nid\r\n:1\r\n{PORT}{ROLE}{ENDPOINT}");
    check(
        Command::Shards,
        &shard_with_node(&node),
        ErrorKind::UnexpectedShape,
        "id: expected a string",
    );
}

#[test]
fn missing_fields() {
    check(
        Command::Shards,
        b"*1\r\n%1\r\n$5\r\nnodes\r\n*0\r\n",
        ErrorKind::MissingField,
        "\"slots\"",
    );
    check(
        Command::Shards,
        b"*1\r\n%1\r\n$5\r\nslots\r\n*0\r\n",
        ErrorKind::MissingField,
        "\"nodes\"",
    );
    for (node, field) in [
        (format!("*6\r\n{PORT}{ROLE}{ENDPOINT}"), "\"id\""),
        (format!("*6\r\n{ID}{PORT}{ENDPOINT}"), "\"role\""),
        (format!("*6\r\n{ID}{ROLE}{ENDPOINT}"), "\"port\""),
        (format!("*6\r\n{ID}{PORT}{ROLE}"), "\"endpoint\""),
    ] {
        check(
            Command::Shards,
            &shard_with_node(&node),
            ErrorKind::MissingField,
            field,
        );
    }
}

#[test]
fn invalid_slot_ranges() {
    let slots_with = |start: &str, end: &str| {
        format!("*1\r\n*3\r\n{start}{end}*3\r\n$1\r\nh\r\n:1\r\n$1\r\ni\r\n").into_bytes()
    };
    check(
        Command::Slots,
        &slots_with(":0\r\n", ":16384\r\n"),
        ErrorKind::InvalidSlotRange,
        "slot 16384",
    );
    check(
        Command::Slots,
        &slots_with(":-1\r\n", ":5\r\n"),
        ErrorKind::InvalidSlotRange,
        "slot -1",
    );
    check(
        Command::Slots,
        &slots_with(":9\r\n", ":8\r\n"),
        ErrorKind::InvalidSlotRange,
        "9-8 starts after it ends",
    );
    check(
        Command::Slots,
        &slots_with(":99999999999\r\n", ":8\r\n"),
        ErrorKind::InvalidSlotRange,
        "99999999999",
    );
    check(
        Command::Slots,
        &slots_with("$2\r\n1x\r\n", ":8\r\n"),
        ErrorKind::UnexpectedShape,
        "slot",
    );
    let shard = b"*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:100\r\n:50\r\n$5\r\nnodes\r\n*0\r\n";
    check(
        Command::Shards,
        shard,
        ErrorKind::InvalidSlotRange,
        "shard 0: range 100-50",
    );
}

#[test]
fn conflicting_slots() {
    let wire = b"*2\r\n\
        *3\r\n:0\r\n:100\r\n*3\r\n$1\r\na\r\n:1\r\n$1\r\na\r\n\
        *3\r\n:100\r\n:200\r\n*3\r\n$1\r\nb\r\n:1\r\n$1\r\nb\r\n";
    check(
        Command::Slots,
        wire,
        ErrorKind::ConflictingSlot,
        "entry 1: slot 100",
    );
}

#[test]
fn invalid_ports() {
    for (port, kind, needle) in [
        (":0\r\n", ErrorKind::InvalidPort, "0, outside"),
        (":65536\r\n", ErrorKind::InvalidPort, "65536"),
        (":-7000\r\n", ErrorKind::InvalidPort, "-7000"),
        ("$4\r\nfast\r\n", ErrorKind::InvalidPort, "not a number"),
        ("#t\r\n", ErrorKind::UnexpectedShape, "a boolean"),
    ] {
        let slots = format!("*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$1\r\nh\r\n{port}");
        check(Command::Slots, slots.as_bytes(), kind, needle);
        let node = format!("*8\r\n{ID}$4\r\nport\r\n{port}{ROLE}{ENDPOINT}");
        check(Command::Shards, &shard_with_node(&node), kind, needle);
    }
    let node = format!("*8\r\n{ID}$8\r\ntls-port\r\n:70000\r\n{ROLE}{ENDPOINT}");
    check(
        Command::Shards,
        &shard_with_node(&node),
        ErrorKind::InvalidPort,
        "tls-port",
    );
}

#[test]
fn invalid_fields() {
    let node = format!("*8\r\n{ID}{PORT}$4\r\nrole\r\n$7\r\narbiter\r\n{ENDPOINT}");
    check(
        Command::Shards,
        &shard_with_node(&node),
        ErrorKind::InvalidField,
        "arbiter",
    );
    let mut wire = shard_with_node(&format!("*8\r\n{ID}{PORT}{ROLE}$8\r\nendpoint\r\n$2\r\n"));
    wire.extend_from_slice(b"\xff\xfe\r\n");
    check(Command::Shards, &wire, ErrorKind::InvalidField, "not UTF-8");
}

#[test]
fn every_truncation_and_mutation_of_a_real_reply_is_handled_without_panic() {
    // Flip one byte at a time in a real reply; whatever still decodes must parse to a view or a typed error.
    for wire in [
        crate::captures::SHARDS_RESP2,
        crate::captures::SLOTS_RESP3_HOSTNAMES,
    ] {
        for i in 0..wire.len() {
            for replacement in [b'0', b'*', b'%', b'\xff'] {
                let mut mutated = wire.to_vec();
                mutated[i] = replacement;
                let mut buf = bytes::BytesMut::from(&mutated[..]);
                if let Ok(Some(frame)) = resp_codec::Decoder::new().decode(&mut buf) {
                    let _ = Topology::from_cluster_shards(&frame, "s");
                    let _ = Topology::from_cluster_slots(&frame, "s");
                }
            }
        }
    }
}

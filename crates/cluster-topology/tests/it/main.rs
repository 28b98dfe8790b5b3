//! Integration tests of cluster-topology: real replies captured from a Redis 7.0 cluster, hand-edited
//! malformed replies, addresses and redirects, `MOVED` patches, view selection, and a slot-table property.

mod addr;
mod captures;
mod malformed;
mod moved;
mod parse;
mod prop;
mod views;

use std::fmt::Write as _;

use bytes::BytesMut;
use cluster_topology::{Health, Role, Topology};
use resp_codec::{Decoder, Frame};

/// Decodes exactly one complete frame from `wire`.
pub(crate) fn decode(wire: &[u8]) -> Frame {
    let mut buf = BytesMut::from(wire);
    let frame = Decoder::new()
        .decode(&mut buf)
        .expect("valid RESP")
        .expect("a complete frame");
    assert!(buf.is_empty(), "{} bytes left after the frame", buf.len());
    frame
}

pub(crate) fn shards(wire: &[u8], seed_host: &str) -> Topology {
    Topology::from_cluster_shards(&decode(wire), seed_host).expect("a valid CLUSTER SHARDS reply")
}

pub(crate) fn slots(wire: &[u8], seed_host: &str) -> Topology {
    Topology::from_cluster_slots(&decode(wire), seed_host).expect("a valid CLUSTER SLOTS reply")
}

/// A compact text form of a view, one fact per line, so a test states the whole expected view at once.
pub(crate) fn render(t: &Topology) -> String {
    let mut out = String::new();
    for (range, owner) in t.slot_ranges() {
        writeln!(out, "{range} {}", t.node(owner).addr).unwrap();
    }
    for range in t.uncovered_ranges() {
        writeln!(out, "{range} uncovered").unwrap();
    }
    for node in t.nodes() {
        let role = match node.role {
            Role::Master => "master",
            Role::Replica => "replica",
            _ => "?",
        };
        let health = match node.health {
            Health::Online => "online",
            Health::Failed => "failed",
            Health::Loading => "loading",
            Health::Unknown => "unknown",
            _ => "?",
        };
        write!(out, "{} {role} {health}", node.addr).unwrap();
        if let Some(id) = &node.id {
            write!(out, " id={}", &id[..id.len().min(8)]).unwrap();
        }
        if let Some(master) = node.master {
            write!(out, " of={}", t.node(master).addr).unwrap();
        }
        if !node.reachable {
            write!(out, " unreachable").unwrap();
        }
        if let Some(ip) = node.ip.as_deref().filter(|ip| *ip != node.addr.host()) {
            write!(out, " ip={ip}").unwrap();
        }
        if let Some(hostname) = node.hostname.as_deref().filter(|h| *h != node.addr.host()) {
            write!(out, " hostname={hostname}").unwrap();
        }
        if let Some(tls) = node.tls_port {
            write!(out, " tls={tls}").unwrap();
        }
        if let Some(offset) = node.replication_offset {
            write!(out, " offset={offset}").unwrap();
        }
        out.push('\n');
    }
    out
}

/// Compares a rendered view with the expected text, ignoring indentation and blank lines.
pub(crate) fn assert_view(t: &Topology, expected: &str) {
    let expected: Vec<&str> = expected
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let actual = render(t);
    let actual: Vec<&str> = actual.lines().collect();
    assert_eq!(actual, expected, "\nactual view:\n{}", actual.join("\n"));
}

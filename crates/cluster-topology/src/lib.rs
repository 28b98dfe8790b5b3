//! Redis Cluster topology: `CLUSTER SHARDS` / `CLUSTER SLOTS` parsing and a 16384-entry slot map; no sockets.
//!
//! A [`Topology`] is an immutable view of the cluster: its [`Node`]s (address, [`Role`], [`Health`],
//! replication offset), which replicas follow which master, and a table that gives the owner of each hash slot
//! in one array read. The router keeps the current `Topology` in an `ArcSwap`, reads it on every command,
//! patches it after a `MOVED` ([`Topology::with_slot_moved`], parsed with [`Redirect::parse`]),
//! and replaces it after a refresh, using [`Topology::fingerprint`] and [`choose_view`] when nodes disagree.
//!
//! This crate sits between `resp-codec` (which turns bytes into the [`Frame`](resp_codec::Frame)s parsed here)
//! and `hash-slot` below, and `cluster-router` above. It opens no sockets and spawns nothing.
//!
//! ```
//! use bytes::BytesMut;
//! use cluster_topology::{NodeAddr, Role, Topology};
//! use hash_slot::Slot;
//! use resp_codec::Decoder;
//!
//! // A CLUSTER SLOTS reply (RESP2): slots 0-16383 on 127.0.0.1:30001, one replica on 30004.
//! let mut wire = BytesMut::from(
//!     &b"*1\r\n*4\r\n:0\r\n:16383\r\n\
//!        *3\r\n$9\r\n127.0.0.1\r\n:30001\r\n$2\r\nm1\r\n\
//!        *3\r\n$9\r\n127.0.0.1\r\n:30004\r\n$2\r\nr1\r\n"[..],
//! );
//! let reply = Decoder::new().decode(&mut wire)?.expect("a complete reply");
//! let topology = Topology::from_cluster_slots(&reply, "127.0.0.1")?;
//!
//! let slot = Slot::for_key(b"foo");
//! let master = topology.master_for(slot).expect("every slot is covered");
//! assert_eq!(topology.node(master).addr.to_string(), "127.0.0.1:30001");
//! assert_eq!(topology.node(master).role, Role::Master);
//! assert_eq!(topology.replicas_for(slot).len(), 1);
//!
//! // After `-MOVED 12182 127.0.0.1:30002`, patch the view without a full refresh.
//! let moved = topology.with_slot_moved(slot, &NodeAddr::parse("127.0.0.1:30002")?);
//! assert_eq!(moved.node(moved.master_for(slot).unwrap()).addr.port(), 30002);
//! assert_ne!(moved.fingerprint(), topology.fingerprint());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod addr;
mod error;
mod node;
mod parse;
mod redirect;
mod topology;

pub use crate::{
    addr::NodeAddr,
    error::{Error, ErrorKind},
    node::{Health, Node, NodeIndex, Role, SlotRange},
    redirect::{Redirect, RedirectKind},
    topology::{Topology, choose_view},
};

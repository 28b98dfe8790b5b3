//! Redis Cluster routing: slot lookup, redirects, retries, topology refresh and per-node pipeline splitting.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
#![allow(dead_code)] // TEMP

mod command;
mod error;
mod refresh;
mod retry;
mod split;

pub use crate::error::{Error, ErrorKind};

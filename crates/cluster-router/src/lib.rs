//! Redis Cluster routing: slot lookup, redirects, retries, topology refresh and per-node pipeline splitting.
#![deny(missing_docs)]

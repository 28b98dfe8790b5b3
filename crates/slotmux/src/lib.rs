//! A fast, dependable Redis Cluster and Redis client: multiplexed connections, per-node pipeline splitting, redirects handled inside.
#![deny(missing_docs)]

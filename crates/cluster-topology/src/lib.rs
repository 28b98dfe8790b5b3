//! Redis Cluster topology: CLUSTER SHARDS / SLOTS parsing and a 16384-entry slot map; no sockets.
#![deny(missing_docs)]

//! Test harness: starts real redis-server processes (standalone and cluster) on free loopback ports for integration tests.
#![deny(missing_docs)]

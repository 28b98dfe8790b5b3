//! One Redis connection shared by many tasks: pooled response slots, batched writes, pipelined reads.
#![deny(missing_docs)]

//! RESP2 and RESP3 frames, a streaming decoder and a command encoder; no IO.
#![deny(missing_docs)]

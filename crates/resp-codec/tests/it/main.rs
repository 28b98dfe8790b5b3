//! resp-codec's integration tests: one binary, one module per area.

mod command;
mod decode;
mod error_code;
mod errors;
mod props;
mod support;
#[cfg(feature = "tokio-codec")]
mod tokio_codec;

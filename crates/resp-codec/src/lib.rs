//! RESP2 and RESP3 for slotmux: frames, a streaming decoder and a command encoder. No IO.
//!
//! - [`Frame`] is one value of either protocol version, with payloads as zero-copy [`bytes::Bytes`].
//! - [`Decoder`] turns a connection's read buffer into frames, resuming where it stopped when a frame
//!   arrives in pieces, within [`DecodeLimits`] that keep a broken or hostile server from exhausting memory.
//! - [`ErrorCode`] and [`peek_error_code`] classify error replies (`MOVED`, `ASK`, `TRYAGAIN`, ...)
//!   with a first-byte check, for the router's hot path.
//! - [`CommandBuilder`], [`EncodedCommand`] and [`encode_command`] write commands as
//!   `*N\r\n$len\r\narg\r\n...`; an `EncodedCommand` is encoded once and re-sent as is on retry.
//!
//! This crate sits at the bottom of slotmux, beside `hash-slot`;
//! `multiplexer` drives the decoder over its sockets and `cluster-topology` reads frames.
//! With the `tokio-codec` feature, `RespCodec` plugs the same decoder into `tokio_util::codec::Framed`.
//!
//! ```
//! use bytes::BytesMut;
//! use resp_codec::{CommandBuilder, Decoder, ErrorCode, Frame};
//!
//! // Encode a command once; `cmd.bytes()` is what goes on the wire.
//! let mut cmd = CommandBuilder::new("GET");
//! cmd.arg(b"user:42");
//! let cmd = cmd.finish();
//! assert_eq!(&cmd.bytes()[..], &b"*2\r\n$3\r\nGET\r\n$7\r\nuser:42\r\n"[..]);
//!
//! // Decode replies as they arrive, in any number of pieces.
//! let mut decoder = Decoder::new();
//! let mut buf = BytesMut::from(&b"$5\r\nhel"[..]);
//! assert_eq!(decoder.decode(&mut buf), Ok(None));
//! buf.extend_from_slice(b"lo\r\n-MOVED 3999 127.0.0.1:6381\r\n");
//! assert_eq!(decoder.decode(&mut buf), Ok(Some(Frame::BulkString("hello".into()))));
//! let redirect = decoder.decode(&mut buf).unwrap().unwrap();
//! assert_eq!(redirect.error_code(), Some(ErrorCode::Moved));
//! ```
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

#[cfg(feature = "tokio-codec")]
mod codec;
mod command;
mod decode;
mod error;
mod error_code;
mod frame;

#[cfg(feature = "tokio-codec")]
pub use crate::codec::RespCodec;
pub use crate::{
    command::{CommandBuilder, EncodedCommand, encode_command},
    decode::{DecodeLimits, Decoder},
    error::{DecodeError, DecodeErrorKind},
    error_code::{ErrorCode, peek_error_code},
    frame::Frame,
};

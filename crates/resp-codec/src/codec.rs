//! `tokio_util::codec` adapters, behind the `tokio-codec` feature.

use std::io;

use bytes::BytesMut;

use crate::{DecodeError, Decoder, EncodedCommand, Frame};

/// A [`tokio_util::codec`] decoder of [`Frame`]s and encoder of frames and [`EncodedCommand`]s,
/// for use with `Framed`.
///
/// Errors are [`io::Error`]s of kind [`io::ErrorKind::InvalidData`] wrapping the [`DecodeError`],
/// which `get_ref()` and `downcast_ref` recover.
#[derive(Debug, Default)]
pub struct RespCodec {
    decoder: Decoder,
}

impl RespCodec {
    /// A codec around the given decoder (and its limits).
    pub fn new(decoder: Decoder) -> RespCodec {
        RespCodec { decoder }
    }
}

fn invalid_data(error: DecodeError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}

impl tokio_util::codec::Decoder for RespCodec {
    type Item = Frame;
    type Error = io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, io::Error> {
        self.decoder.decode(src).map_err(invalid_data)
    }
}

impl tokio_util::codec::Encoder<Frame> for RespCodec {
    type Error = io::Error;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), io::Error> {
        frame.encode(dst);
        Ok(())
    }
}

impl tokio_util::codec::Encoder<&Frame> for RespCodec {
    type Error = io::Error;

    fn encode(&mut self, frame: &Frame, dst: &mut BytesMut) -> Result<(), io::Error> {
        frame.encode(dst);
        Ok(())
    }
}

impl tokio_util::codec::Encoder<&EncodedCommand> for RespCodec {
    type Error = io::Error;

    fn encode(&mut self, command: &EncodedCommand, dst: &mut BytesMut) -> Result<(), io::Error> {
        dst.extend_from_slice(command.bytes());
        Ok(())
    }
}

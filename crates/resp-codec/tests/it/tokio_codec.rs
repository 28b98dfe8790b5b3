//! The `tokio-codec` feature's adapter, driven through tokio-util's traits.

use bytes::{Bytes, BytesMut};
use resp_codec::{DecodeError, DecodeErrorKind, EncodedCommand, Frame, RespCodec};
use tokio_util::codec::{Decoder, Encoder};

#[test]
fn decodes_and_encodes_through_tokio_util_traits() {
    let mut codec = RespCodec::default();
    let mut out = BytesMut::new();
    codec
        .encode(Frame::BulkString(Bytes::from_static(b"hi")), &mut out)
        .unwrap();
    codec
        .encode(&EncodedCommand::from_args(["PING"]), &mut out)
        .unwrap();
    assert_eq!(&out[..], b"$2\r\nhi\r\n*1\r\n$4\r\nPING\r\n");

    let mut input = BytesMut::from(&b"+OK\r\n?"[..]);
    assert_eq!(
        codec.decode(&mut input).unwrap(),
        Some(Frame::SimpleString(Bytes::from_static(b"OK")))
    );
    let error = codec.decode(&mut input).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    let inner = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<DecodeError>())
        .unwrap();
    assert_eq!(inner.kind(), DecodeErrorKind::InvalidTypeByte);
}

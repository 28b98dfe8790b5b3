//! A tiny blocking RESP2 client, enough to set up clusters and inspect servers from tests.
//!
//! The harness cannot use the project's own codec and multiplexer: those are what the tests test,
//! and a bug in them must not hide behind a harness that shares it.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// How long a harness command may take before the harness gives up on the server.
///
/// Long enough for `DEBUG SLEEP` of a few seconds and a loaded 2-core machine,
/// short enough that a hung (SIGSTOPped) server fails a test instead of stalling it.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// One reply of a RESP2 server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`: a simple string.
    Status(String),
    /// `-ERR ...`: an error reply, without the leading `-`.
    Error(String),
    /// `:42`: an integer.
    Integer(i64),
    /// `$3\r\nfoo`: a bulk string.
    Bulk(Vec<u8>),
    /// `$-1` or `*-1`: no value.
    Nil,
    /// `*2\r\n...`: an array of replies.
    Array(Vec<Reply>),
}

impl Reply {
    /// The reply as text, for status, bulk and integer replies.
    pub fn text(&self) -> Option<String> {
        match self {
            Reply::Status(s) => Some(s.clone()),
            Reply::Bulk(b) => Some(String::from_utf8_lossy(b).into_owned()),
            Reply::Integer(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// The integer value of an integer reply.
    pub fn integer(&self) -> Option<i64> {
        match self {
            Reply::Integer(n) => Some(*n),
            _ => None,
        }
    }

    /// The elements of an array reply.
    pub fn array(&self) -> Option<&[Reply]> {
        match self {
            Reply::Array(items) => Some(items),
            _ => None,
        }
    }

    /// Turns an error reply into an `Err`, so setup steps can use `?`.
    pub fn ok(self) -> Result<Reply> {
        match self {
            Reply::Error(e) => bail!("server replied with an error: {e}"),
            other => Ok(other),
        }
    }
}

/// A blocking RESP2 connection to one server.
#[derive(Debug)]
pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    out: Vec<u8>,
}

impl Conn {
    /// Connects to `addr` (`host:port`) within `connect_timeout`.
    pub fn connect(addr: &str, connect_timeout: Duration) -> Result<Conn> {
        let sockaddr = addr
            .to_socket_addrs()
            .with_context(|| format!("resolving {addr}"))?
            .next()
            .with_context(|| format!("{addr} resolves to nothing"))?;
        let stream = TcpStream::connect_timeout(&sockaddr, connect_timeout)
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        let writer = stream.try_clone()?;
        let conn = Conn {
            reader: BufReader::with_capacity(64 * 1024, stream),
            writer,
            out: Vec::new(),
        };
        conn.set_timeout(DEFAULT_TIMEOUT)?;
        Ok(conn)
    }

    /// Sets how long a read or write may block.
    pub fn set_timeout(&self, timeout: Duration) -> Result<()> {
        self.writer.set_read_timeout(Some(timeout))?;
        self.writer.set_write_timeout(Some(timeout))?;
        Ok(())
    }

    /// Sends one command and reads its reply. An error reply is `Ok(Reply::Error(..))`.
    pub fn command<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply> {
        self.queue(args);
        self.flush()?;
        self.read_reply()
    }

    /// Encodes a command into the output buffer without sending it (see [`Conn::flush`]), for pipelining.
    pub fn queue<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        encode(&mut self.out, args);
    }

    /// Writes every queued command.
    pub fn flush(&mut self) -> Result<()> {
        self.writer
            .write_all(&self.out)
            .context("writing to the server")?;
        self.out.clear();
        Ok(())
    }

    /// Reads the next reply.
    pub fn read_reply(&mut self) -> Result<Reply> {
        read_reply(&mut self.reader)
    }
}

/// Appends the RESP2 encoding of a command (`*N\r\n$len\r\narg\r\n...`) to `out`.
pub(crate) fn encode<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        let arg = arg.as_ref();
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

fn read_line(reader: &mut impl BufRead) -> Result<Vec<u8>> {
    let mut line = Vec::new();
    reader
        .read_until(b'\n', &mut line)
        .context("reading from the server")?;
    if !line.ends_with(b"\r\n") {
        bail!(
            "connection closed or line without CRLF: {:?}",
            String::from_utf8_lossy(&line)
        );
    }
    line.truncate(line.len() - 2);
    Ok(line)
}

fn parse_int(bytes: &[u8]) -> Result<i64> {
    std::str::from_utf8(bytes)?
        .parse()
        .with_context(|| format!("bad integer {:?}", String::from_utf8_lossy(bytes)))
}

fn read_reply(reader: &mut impl BufRead) -> Result<Reply> {
    let line = read_line(reader)?;
    let Some((&kind, rest)) = line.split_first() else {
        bail!("empty reply line")
    };
    Ok(match kind {
        b'+' => Reply::Status(String::from_utf8_lossy(rest).into_owned()),
        b'-' => Reply::Error(String::from_utf8_lossy(rest).into_owned()),
        b':' => Reply::Integer(parse_int(rest)?),
        b'$' => {
            let Ok(len) = usize::try_from(parse_int(rest)?) else {
                return Ok(Reply::Nil);
            };
            let mut data = vec![0; len + 2];
            reader
                .read_exact(&mut data)
                .context("reading a bulk string")?;
            data.truncate(len);
            Reply::Bulk(data)
        }
        b'*' => {
            let Ok(len) = usize::try_from(parse_int(rest)?) else {
                return Ok(Reply::Nil);
            };
            let mut items = Vec::with_capacity(len.min(1024));
            for _ in 0..len {
                items.push(read_reply(reader)?);
            }
            Reply::Array(items)
        }
        other => bail!("unexpected RESP type byte {:?}", other as char),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(wire: &[u8], expected: Reply) {
        let mut reader = wire;
        assert_eq!(read_reply(&mut reader).unwrap(), expected);
        assert!(reader.is_empty(), "bytes left over: {reader:?}");
    }

    #[test]
    fn decodes_each_reply_type() {
        check(b"+OK\r\n", Reply::Status("OK".into()));
        check(b"-ERR no\r\n", Reply::Error("ERR no".into()));
        check(b":-3\r\n", Reply::Integer(-3));
        check(b"$3\r\na\r\n\r\n", Reply::Bulk(b"a\r\n".to_vec()));
        check(b"$-1\r\n", Reply::Nil);
        check(b"*-1\r\n", Reply::Nil);
        check(
            b"*2\r\n:1\r\n*1\r\n+x\r\n",
            Reply::Array(vec![
                Reply::Integer(1),
                Reply::Array(vec![Reply::Status("x".into())]),
            ]),
        );
    }

    #[test]
    fn encodes_binary_arguments() {
        let mut out = Vec::new();
        encode(&mut out, &[&b"GET"[..], b"\0\xff"]);
        assert_eq!(out, b"*2\r\n$3\r\nGET\r\n$2\r\n\0\xff\r\n");
    }
}

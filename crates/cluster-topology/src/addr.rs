//! `NodeAddr`: the host and port a client connects to, as Redis Cluster spells it.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::error::{Error, ErrorKind};

/// The address of a cluster node: a host (IP address or hostname) and a TCP port.
///
/// The host is kept without brackets, even for IPv6, because that is how the server reports it
/// in `CLUSTER SHARDS` and `CLUSTER SLOTS`; [`Display`](fmt::Display) adds the brackets back.
/// Cloning is a reference-count bump, so a topology can hand addresses out freely.
///
/// The host may be empty only in an address taken from a `MOVED` / `ASK` reply
/// (see [`Redirect`](crate::Redirect)): since Redis 7 an empty host means
/// "the host you are already connected to".
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeAddr {
    host: Arc<str>,
    port: u16,
}

impl NodeAddr {
    /// Builds an address from a host (without brackets) and a port.
    pub fn new(host: impl Into<Arc<str>>, port: u16) -> NodeAddr {
        NodeAddr {
            host: host.into(),
            port,
        }
    }

    /// Parses `host:port`, `[v6]:port`, or an unbracketed IPv6 address followed by `:port`
    /// (the form of `MOVED` replies, which split at the last colon).
    ///
    /// The host must not be empty and the port must be in 1..=65535.
    pub fn parse(s: &str) -> Result<NodeAddr, Error> {
        let (host, port) = split_host_port(s)?;
        if host.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidAddress,
                format!("{s:?} has an empty host"),
            ));
        }
        Ok(NodeAddr::new(host, port))
    }

    /// Parses like [`NodeAddr::parse`], but an empty host (`:6381`, as Redis 7 sends in `MOVED` when the node's
    /// endpoint is unknown) is replaced by `default_host`, normally the host of the connection that got the reply.
    pub fn parse_with_default_host(s: &str, default_host: &str) -> Result<NodeAddr, Error> {
        let (host, port) = split_host_port(s)?;
        let host = if host.is_empty() { default_host } else { host };
        if host.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidAddress,
                format!("{s:?} has an empty host and no default host was given"),
            ));
        }
        Ok(NodeAddr::new(host, port))
    }

    /// Parses an address that may have an empty host, as `MOVED` and `ASK` carry it.
    pub(crate) fn parse_allow_empty_host(s: &str) -> Result<NodeAddr, Error> {
        let (host, port) = split_host_port(s)?;
        Ok(NodeAddr::new(host, port))
    }

    /// The host: an IP address (IPv6 without brackets), a hostname, or empty (see the type's docs).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// True when the host is empty, which only a redirect can produce.
    pub fn has_empty_host(&self) -> bool {
        self.host.is_empty()
    }

    /// Returns this address, or the same port on `default_host` when the host is empty.
    ///
    /// The router calls it on the address of a `MOVED` / `ASK` with the host of the connection that got the reply.
    pub fn with_default_host(&self, default_host: &str) -> NodeAddr {
        if self.host.is_empty() {
            NodeAddr::new(default_host, self.port)
        } else {
            self.clone()
        }
    }
}

/// Splits at the last colon; a bracketed host loses its brackets.
fn split_host_port(s: &str) -> Result<(&str, u16), Error> {
    let Some((host, port)) = s.rsplit_once(':') else {
        return Err(Error::new(
            ErrorKind::InvalidAddress,
            format!("{s:?} has no ':port'"),
        ));
    };
    let host = match host.strip_prefix('[') {
        Some(inner) => inner.strip_suffix(']').ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidAddress,
                format!("{s:?} opens a '[' it does not close"),
            )
        })?,
        None => host,
    };
    if host.contains(['[', ']', ' ', '\r', '\n']) {
        return Err(Error::new(
            ErrorKind::InvalidAddress,
            format!("{s:?} has a malformed host"),
        ));
    }
    let port = parse_port_text(port).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidPort,
            format!("{s:?} has no valid port (1..=65535)"),
        )
    })?;
    Ok((host, port))
}

/// Parses decimal digits only (no sign, no spaces) into a port in 1..=65535.
fn parse_port_text(s: &str) -> Option<u16> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u16>().ok().filter(|&p| p != 0)
}

impl FromStr for NodeAddr {
    type Err = Error;

    fn from_str(s: &str) -> Result<NodeAddr, Error> {
        NodeAddr::parse(s)
    }
}

impl fmt::Display for NodeAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Debug for NodeAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeAddr({self})")
    }
}

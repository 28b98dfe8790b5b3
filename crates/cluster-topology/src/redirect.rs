//! `Redirect`: the slot and node named by a `-MOVED` or `-ASK` error reply.

use hash_slot::Slot;

use crate::addr::NodeAddr;

/// Which redirect the server sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RedirectKind {
    /// `MOVED`: the slot now lives on another node for good; patch the slot map
    /// ([`Topology::with_slot_moved`](crate::Topology::with_slot_moved)) and resend there.
    Moved,
    /// `ASK`: the slot is being migrated and this one key is already on the target;
    /// send `ASKING` and the command there once, without touching the slot map.
    Ask,
}

/// A parsed `MOVED` / `ASK` error reply: `MOVED 3999 127.0.0.1:6381`.
///
/// The address's host is empty when the server does not know its clients' endpoint
/// (`cluster-preferred-endpoint-type unknown-endpoint`, Redis 7+: `MOVED 3999 :6381`);
/// resolve it with [`NodeAddr::with_default_host`] and the host of the connection that got the reply.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Redirect {
    /// `MOVED` or `ASK`.
    pub kind: RedirectKind,
    /// The slot of the key that was redirected.
    pub slot: Slot,
    /// Where to send the command; the host may be empty (see the type's docs).
    pub addr: NodeAddr,
}

impl Redirect {
    /// Parses the text of an error reply, with or without its leading `-` and trailing CRLF.
    ///
    /// Returns `None` for any other error, and for a `MOVED` / `ASK` whose slot or address is malformed
    /// (the router then treats the reply as an ordinary server error rather than following a bad address).
    pub fn parse(error_text: &[u8]) -> Option<Redirect> {
        let text = error_text.strip_prefix(b"-").unwrap_or(error_text);
        let text = text.strip_suffix(b"\r\n").unwrap_or(text);
        let (kind, rest) = if let Some(rest) = text.strip_prefix(b"MOVED ") {
            (RedirectKind::Moved, rest)
        } else if let Some(rest) = text.strip_prefix(b"ASK ") {
            (RedirectKind::Ask, rest)
        } else {
            return None;
        };
        let rest = std::str::from_utf8(rest).ok()?;
        let mut parts = rest.split(' ');
        let slot = parts.next()?;
        let addr = parts.next()?;
        if parts.next().is_some() || slot.is_empty() || !slot.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let slot = Slot::new(slot.parse::<u16>().ok()?)?;
        let addr = NodeAddr::parse_allow_empty_host(addr).ok()?;
        Some(Redirect { kind, slot, addr })
    }
}

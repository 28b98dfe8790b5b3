//! Turning `CLUSTER SHARDS` and `CLUSTER SLOTS` replies (RESP2 or RESP3 frames) into a `Topology`.
//!
//! Both parsers take any `Frame` and never panic: every surprise becomes an [`Error`] naming where it was.
//! Unknown fields and extra elements are ignored, because the server documents that more may be added.

use std::sync::Arc;

use hash_slot::Slot;
use resp_codec::Frame;

use crate::addr::NodeAddr;
use crate::error::{Error, ErrorKind};
use crate::node::{Health, Node, Role, SlotRange};
use crate::topology::{Builder, Topology};

/// At most this many bytes of a server error are copied into our error message; enough to read it,
/// small enough that a hostile reply cannot make the error large.
const MAX_QUOTED_ERROR: usize = 200;

impl Topology {
    /// Parses a `CLUSTER SHARDS` reply (Redis 7+), RESP2 (flat key/value arrays) or RESP3 (maps).
    ///
    /// `seed_host` is the host of the connection that sent the command: the server asks clients to use it
    /// when a node's endpoint is unknown (`cluster-preferred-endpoint-type unknown-endpoint`, which Redis 7.0
    /// sends as an empty `endpoint`, and the documentation as a null one).
    /// A node whose endpoint is `?` (hostnames preferred, none announced) is kept but marked
    /// [`Node::reachable`]` = false`.
    ///
    /// Each shard's master serves the shard's slot ranges; a shard that lists slots but no master leaves them
    /// unassigned (the view then covers fewer slots, see [`choose_view`](crate::choose_view)).
    pub fn from_cluster_shards(reply: &Frame, seed_host: &str) -> Result<Topology, Error> {
        let shards = top_level(reply, "CLUSTER SHARDS")?;
        let mut builder = Builder::new();
        for (i, shard) in shards.iter().enumerate() {
            parse_shard(&mut builder, shard, seed_host)
                .map_err(|e| e.context(format_args!("CLUSTER SHARDS reply, shard {i}")))?;
        }
        Ok(builder.finish())
    }

    /// Parses a `CLUSTER SLOTS` reply, RESP2 or RESP3, from any Redis version since 3.0.
    ///
    /// Each entry is `[start, end, master, replicas...]` and each node `[endpoint, port, id, {metadata}]`;
    /// servers older than Redis 4 send only `[ip, port]`, and the metadata map exists since Redis 7.
    /// A null or empty endpoint means the host of the connection that sent the command, `seed_host`
    /// (null: `unknown-endpoint`; empty: a node that does not know its own IP yet, which is the node we asked).
    /// `?` marks the node unreachable, as in [`Topology::from_cluster_shards`].
    /// The reply has no health: every node gets [`Health::Unknown`] (failed replicas are left out by the server).
    pub fn from_cluster_slots(reply: &Frame, seed_host: &str) -> Result<Topology, Error> {
        let entries = top_level(reply, "CLUSTER SLOTS")?;
        let mut builder = Builder::new();
        for (i, entry) in entries.iter().enumerate() {
            parse_slots_entry(&mut builder, entry, seed_host)
                .map_err(|e| e.context(format_args!("CLUSTER SLOTS reply, entry {i}")))?;
        }
        Ok(builder.finish())
    }
}

fn top_level<'a>(reply: &'a Frame, command: &str) -> Result<&'a [Frame], Error> {
    let reply = strip_attributes(reply);
    if let Some(text) = error_text(reply) {
        let shown = &text[..text.len().min(MAX_QUOTED_ERROR)];
        return Err(Error::new(
            ErrorKind::ServerError,
            format!(
                "{command}: the server answered {:?}",
                String::from_utf8_lossy(shown)
            ),
        ));
    }
    list(reply).ok_or_else(|| unexpected(command, "an array", reply))
}

fn parse_shard(builder: &mut Builder, shard: &Frame, seed_host: &str) -> Result<(), Error> {
    let mut ranges = None;
    let mut nodes = None;
    for (key, value) in fields(shard)? {
        match key {
            b"slots" => ranges = Some(slot_pairs(value)?),
            b"nodes" => {
                nodes = Some(list(value).ok_or_else(|| unexpected("nodes", "an array", value))?)
            }
            _ => {}
        }
    }
    let ranges = ranges.ok_or_else(|| missing("slots"))?;
    let nodes = nodes.ok_or_else(|| missing("nodes"))?;

    let mut indices = Vec::with_capacity(nodes.len());
    for (j, node) in nodes.iter().enumerate() {
        let node =
            parse_shard_node(node, seed_host).map_err(|e| e.context(format_args!("node {j}")))?;
        let role = node.role;
        indices.push((builder.add_node(node)?, role));
    }
    // One master per shard; should a reply ever list two (mid-failover), the first one gets the slots
    // and the other stays a slot-less master.
    let master = indices
        .iter()
        .find(|(_, role)| *role == Role::Master)
        .map(|&(index, _)| index);
    if let Some(master) = master {
        for &(index, role) in &indices {
            if role == Role::Replica {
                if let Some(node) = builder.node_mut(index) {
                    node.master = Some(master);
                }
            }
        }
        for range in ranges {
            builder.assign(range, master)?;
        }
    }
    Ok(())
}

/// What a reply says about where a node is, before the endpoint rules pick the address.
#[derive(Default)]
struct Location<'a> {
    /// `None`: no endpoint field at all; `Some(None)`: a null endpoint; `Some(Some(text))`: text, maybe empty.
    endpoint: Option<Option<&'a str>>,
    ip: Option<&'a str>,
    hostname: Option<&'a str>,
}

fn parse_shard_node(frame: &Frame, seed_host: &str) -> Result<Node, Error> {
    let mut location = Location::default();
    let (mut id, mut port, mut tls_port, mut role, mut offset) = (None, None, None, None, None);
    let mut health = Health::Unknown;
    for (key, value) in fields(frame)? {
        match key {
            b"id" => id = Some(utf8("id", value)?),
            b"port" => port = Some(port_value("port", value)?),
            b"tls-port" => tls_port = Some(port_value("tls-port", value)?),
            b"ip" => location.ip = optional_utf8("ip", value)?,
            b"endpoint" => location.endpoint = Some(optional_utf8("endpoint", value)?),
            b"hostname" => location.hostname = optional_utf8("hostname", value)?,
            b"role" => role = Some(role_value(value)?),
            b"replication-offset" => {
                offset = Some(
                    integer(value)
                        .ok_or_else(|| unexpected("replication-offset", "an integer", value))?,
                )
            }
            b"health" => health = health_value(value)?,
            _ => {}
        }
    }
    let id = id.ok_or_else(|| missing("id"))?;
    let role = role.ok_or_else(|| missing("role"))?;
    // The address uses the plain port when there is one: `CLUSTER SHARDS` lists both and cannot know
    // whether this client speaks TLS; a TLS client reads `tls_port`.
    let addr_port = port.or(tls_port).ok_or_else(|| missing("port"))?;
    let (host, reachable) = resolve_host(&location, seed_host)?;
    Ok(Node {
        id: Some(Arc::from(id)),
        addr: NodeAddr::new(host, addr_port),
        reachable,
        ip: location.ip.filter(|s| !s.is_empty()).map(Arc::from),
        hostname: location.hostname.filter(|s| !s.is_empty()).map(Arc::from),
        port,
        tls_port,
        role,
        health,
        replication_offset: offset,
        master: None,
    })
}

/// Applies the endpoint rules shared by both commands; returns the host and whether it is usable.
fn resolve_host<'a>(location: &Location<'a>, seed_host: &'a str) -> Result<(&'a str, bool), Error> {
    let ip = location.ip.filter(|s| !s.is_empty());
    let hostname = location.hostname.filter(|s| !s.is_empty());
    match location.endpoint {
        // Unknown endpoint: the documented rule is "the host you asked, with this port".
        Some(None) | Some(Some("")) => {
            if seed_host.is_empty() {
                Ok((ip.or(hostname).unwrap_or("?"), false))
            } else {
                Ok((seed_host, true))
            }
        }
        // Hostnames preferred but this node announced none. Its IP identifies it, but the operator chose
        // hostnames (often for TLS SNI), so we do not silently connect by IP.
        Some(Some("?")) => Ok((ip.unwrap_or("?"), false)),
        Some(Some(endpoint)) => Ok((endpoint, true)),
        // No endpoint field at all (not a shape Redis sends): fall back to what the node told us.
        None => ip
            .or(hostname)
            .map(|host| (host, true))
            .ok_or_else(|| missing("endpoint")),
    }
}

fn parse_slots_entry(builder: &mut Builder, entry: &Frame, seed_host: &str) -> Result<(), Error> {
    let items = list(entry).ok_or_else(|| unexpected("slot range entry", "an array", entry))?;
    let [start, end, master, replicas @ ..] = items else {
        return Err(Error::new(
            ErrorKind::UnexpectedShape,
            format!(
                "expected [start, end, master, replicas...], got {} elements",
                items.len()
            ),
        ));
    };
    let range = slot_range(start, end)?;
    let master = parse_slots_node(master, seed_host, Role::Master)
        .map_err(|e| e.context(format_args!("master")))?;
    let master = builder.add_node(master)?;
    for (j, replica) in replicas.iter().enumerate() {
        let replica = parse_slots_node(replica, seed_host, Role::Replica)
            .map_err(|e| e.context(format_args!("replica {j}")))?;
        let replica = builder.add_node(replica)?;
        if let Some(node) = builder.node_mut(replica) {
            node.master = Some(master);
        }
    }
    builder.assign(range, master)
}

fn parse_slots_node(frame: &Frame, seed_host: &str, role: Role) -> Result<Node, Error> {
    let items = list(frame).ok_or_else(|| unexpected("node", "an array", frame))?;
    let [endpoint, port, rest @ ..] = items else {
        return Err(Error::new(
            ErrorKind::UnexpectedShape,
            format!(
                "expected [endpoint, port, id, metadata], got {} elements",
                items.len()
            ),
        ));
    };
    let mut location = Location {
        endpoint: Some(optional_utf8("endpoint", endpoint)?),
        ..Location::default()
    };
    let port = port_value("port", port)?;
    let id = match rest.first() {
        Some(id) => optional_utf8("id", id)?.filter(|s| !s.is_empty()),
        None => None,
    };
    if let Some(metadata) = rest.get(1) {
        for (key, value) in fields(metadata)? {
            match key {
                b"ip" => location.ip = optional_utf8("ip", value)?,
                b"hostname" => location.hostname = optional_utf8("hostname", value)?,
                _ => {}
            }
        }
    }
    // Before Redis 7 the endpoint was always the IP.
    if location.ip.is_none() {
        if let Some(Some(endpoint)) = location.endpoint {
            if endpoint.parse::<std::net::IpAddr>().is_ok() {
                location.ip = Some(endpoint);
            }
        }
    }
    let (host, reachable) = resolve_host(&location, seed_host)?;
    Ok(Node {
        id: id.map(Arc::from),
        addr: NodeAddr::new(host, port),
        reachable,
        ip: location.ip.filter(|s| !s.is_empty()).map(Arc::from),
        hostname: location.hostname.filter(|s| !s.is_empty()).map(Arc::from),
        port: Some(port),
        tls_port: None,
        role,
        health: Health::Unknown,
        replication_offset: None,
        master: None,
    })
}

// Frame helpers. Each accepts every RESP type that can carry the value, so RESP2 and RESP3 replies
// (and a proxy that re-encodes them) parse alike.

/// Skips RESP3 attributes, which annotate a reply without changing it.
fn strip_attributes(mut frame: &Frame) -> &Frame {
    while let Frame::Attribute { frame: inner, .. } = frame {
        frame = inner;
    }
    frame
}

fn error_text(frame: &Frame) -> Option<&[u8]> {
    match frame {
        Frame::SimpleError(text) | Frame::BulkError(text) => Some(text),
        _ => None,
    }
}

fn list(frame: &Frame) -> Option<&[Frame]> {
    match strip_attributes(frame) {
        Frame::Array(items) | Frame::Set(items) => Some(items),
        _ => None,
    }
}

fn text(frame: &Frame) -> Option<&[u8]> {
    match strip_attributes(frame) {
        Frame::BulkString(text) | Frame::SimpleString(text) => Some(text),
        Frame::VerbatimString { text, .. } => Some(text),
        _ => None,
    }
}

fn is_null(frame: &Frame) -> bool {
    matches!(
        strip_attributes(frame),
        Frame::Null | Frame::NullBulkString | Frame::NullArray
    )
}

fn integer(frame: &Frame) -> Option<i64> {
    match strip_attributes(frame) {
        Frame::Integer(n) => Some(*n),
        // Strict decimal only: a proxy may re-encode integers as strings, but "12abc" is not a number.
        other => {
            let digits = text(other)?;
            let unsigned = digits.strip_prefix(b"-").unwrap_or(digits);
            if unsigned.is_empty() || !unsigned.iter().all(u8::is_ascii_digit) {
                return None;
            }
            std::str::from_utf8(digits).ok()?.parse().ok()
        }
    }
}

/// The key/value pairs of a RESP3 map or of a RESP2 flat array `[k1, v1, k2, v2, ...]`.
/// Keys that are not text are skipped like unknown keys.
fn fields(frame: &Frame) -> Result<Vec<(&[u8], &Frame)>, Error> {
    match strip_attributes(frame) {
        Frame::Map(pairs) => Ok(pairs
            .iter()
            .filter_map(|(k, v)| Some((text(k)?, v)))
            .collect()),
        Frame::Array(items) if items.len() % 2 == 0 => Ok(items
            .chunks_exact(2)
            .filter_map(|pair| Some((text(pair.first()?)?, pair.get(1)?)))
            .collect()),
        Frame::Array(items) => Err(Error::new(
            ErrorKind::UnexpectedShape,
            format!(
                "a key/value array has an odd number of elements ({})",
                items.len()
            ),
        )),
        other => Err(unexpected("fields", "a map or a key/value array", other)),
    }
}

fn utf8<'a>(field: &str, frame: &'a Frame) -> Result<&'a str, Error> {
    let bytes = text(frame).ok_or_else(|| unexpected(field, "a string", frame))?;
    std::str::from_utf8(bytes).map_err(|_| {
        Error::new(
            ErrorKind::InvalidField,
            format!("field {field:?} is not UTF-8: {bytes:?}"),
        )
    })
}

fn optional_utf8<'a>(field: &str, frame: &'a Frame) -> Result<Option<&'a str>, Error> {
    if is_null(frame) {
        Ok(None)
    } else {
        utf8(field, frame).map(Some)
    }
}

fn port_value(field: &str, frame: &Frame) -> Result<u16, Error> {
    let Some(n) = integer(frame) else {
        return if text(frame).is_some() {
            Err(Error::new(
                ErrorKind::InvalidPort,
                format!("field {field:?} is not a number"),
            ))
        } else {
            Err(unexpected(field, "an integer", frame))
        };
    };
    u16::try_from(n).ok().filter(|&p| p != 0).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidPort,
            format!("field {field:?} is {n}, outside 1..=65535"),
        )
    })
}

fn role_value(frame: &Frame) -> Result<Role, Error> {
    match text(frame).ok_or_else(|| unexpected("role", "a string", frame))? {
        // Valkey 8 says "primary"; CLUSTER NODES has always said "slave".
        b"master" | b"primary" => Ok(Role::Master),
        b"replica" | b"slave" => Ok(Role::Replica),
        other => Err(Error::new(
            ErrorKind::InvalidField,
            format!(
                "field \"role\" is {:?}, expected master or replica",
                String::from_utf8_lossy(other)
            ),
        )),
    }
}

fn health_value(frame: &Frame) -> Result<Health, Error> {
    Ok(
        match text(frame).ok_or_else(|| unexpected("health", "a string", frame))? {
            b"online" => Health::Online,
            // Redis 7.0 sends "fail"; the documentation says "failed".
            b"failed" | b"fail" => Health::Failed,
            b"loading" => Health::Loading,
            // A state a newer server may add: not a reason to reject the whole view.
            _ => Health::Unknown,
        },
    )
}

fn slot_number(frame: &Frame) -> Result<Slot, Error> {
    let n = integer(frame).ok_or_else(|| unexpected("slot", "an integer", frame))?;
    u16::try_from(n).ok().and_then(Slot::new).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidSlotRange,
            format!("slot {n} is outside 0..=16383"),
        )
    })
}

fn slot_range(start: &Frame, end: &Frame) -> Result<SlotRange, Error> {
    let (start, end) = (slot_number(start)?, slot_number(end)?);
    SlotRange::new(start, end).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidSlotRange,
            format!("range {start}-{end} starts after it ends"),
        )
    })
}

/// The `slots` field of a shard: a flat list `[start1, end1, start2, end2, ...]`.
fn slot_pairs(frame: &Frame) -> Result<Vec<SlotRange>, Error> {
    let items = list(frame).ok_or_else(|| unexpected("slots", "an array", frame))?;
    if items.len() % 2 != 0 {
        return Err(Error::new(
            ErrorKind::UnexpectedShape,
            format!(
                "field \"slots\" has an odd number of elements ({})",
                items.len()
            ),
        ));
    }
    items
        .chunks_exact(2)
        .map(|pair| match pair {
            [start, end] => slot_range(start, end),
            _ => Err(Error::new(
                ErrorKind::UnexpectedShape,
                "field \"slots\" has an odd number of elements",
            )),
        })
        .collect()
}

fn missing(field: &str) -> Error {
    Error::new(
        ErrorKind::MissingField,
        format!("field {field:?} is missing"),
    )
}

fn unexpected(what: &str, expected: &str, got: &Frame) -> Error {
    Error::new(
        ErrorKind::UnexpectedShape,
        format!("{what}: expected {expected}, got {}", type_name(got)),
    )
}

fn type_name(frame: &Frame) -> &'static str {
    match strip_attributes(frame) {
        Frame::SimpleString(_) => "a simple string",
        Frame::SimpleError(_) | Frame::BulkError(_) => "an error",
        Frame::Integer(_) => "an integer",
        Frame::BulkString(_) => "a bulk string",
        Frame::NullBulkString | Frame::NullArray | Frame::Null => "null",
        Frame::Array(_) => "an array",
        Frame::Boolean(_) => "a boolean",
        Frame::Double(_) => "a double",
        Frame::BigNumber(_) => "a big number",
        Frame::VerbatimString { .. } => "a verbatim string",
        Frame::Map(_) => "a map",
        Frame::Set(_) => "a set",
        Frame::Push(_) => "a push",
        _ => "an unknown frame",
    }
}

#[cfg(test)]
mod tests {
    use crate::node::NodeIndex;

    #[test]
    fn node_index_type_is_small() {
        // The slot table stores raw u16 entries; NodeIndex must stay the same size to convert freely.
        assert_eq!(std::mem::size_of::<NodeIndex>(), 2);
    }
}

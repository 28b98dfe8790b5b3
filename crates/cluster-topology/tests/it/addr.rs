//! `NodeAddr` parsing and display, and `Redirect::parse`.

use cluster_topology::{ErrorKind, NodeAddr, Redirect, RedirectKind};

/// Parses `input`; `expected` is `Ok((host, port, display))` or `Err(kind)`.
fn check(input: &str, expected: Result<(&str, u16, &str), ErrorKind>) {
    let actual = NodeAddr::parse(input)
        .map(|a| (a.host().to_owned(), a.port(), a.to_string()))
        .map_err(|e| e.kind());
    let expected = expected.map(|(h, p, d)| (h.to_owned(), p, d.to_owned()));
    assert_eq!(actual, expected, "input {input:?}");
}

#[test]
fn parse_and_display() {
    check("127.0.0.1:6379", Ok(("127.0.0.1", 6379, "127.0.0.1:6379")));
    check(
        "redis-0.example.com:7000",
        Ok(("redis-0.example.com", 7000, "redis-0.example.com:7000")),
    );
    check("[::1]:6380", Ok(("::1", 6380, "[::1]:6380")));
    check(
        "[fe80::1%eth0]:1",
        Ok(("fe80::1%eth0", 1, "[fe80::1%eth0]:1")),
    );
    // MOVED writes IPv6 without brackets; the port is after the last colon.
    check(
        "2001:db8::7:6381",
        Ok(("2001:db8::7", 6381, "[2001:db8::7]:6381")),
    );
    check("h:65535", Ok(("h", 65535, "h:65535")));
    check("no-port", Err(ErrorKind::InvalidAddress));
    check(":6379", Err(ErrorKind::InvalidAddress));
    check("[]:6379", Err(ErrorKind::InvalidAddress));
    check("[::1:6379", Err(ErrorKind::InvalidAddress));
    check("::1]:6379", Err(ErrorKind::InvalidAddress));
    check("a b:1", Err(ErrorKind::InvalidAddress));
    check("h:", Err(ErrorKind::InvalidPort));
    check("h:0", Err(ErrorKind::InvalidPort));
    check("h:65536", Err(ErrorKind::InvalidPort));
    check("h:+1", Err(ErrorKind::InvalidPort));
    check("h:-1", Err(ErrorKind::InvalidPort));
    check("h:1 ", Err(ErrorKind::InvalidPort));
    assert_eq!("h:1".parse::<NodeAddr>().unwrap(), NodeAddr::new("h", 1));
}

#[test]
fn default_host_fills_an_empty_host() {
    let addr = NodeAddr::parse_with_default_host(":6381", "10.1.2.3").unwrap();
    assert_eq!(addr, NodeAddr::new("10.1.2.3", 6381));
    let addr = NodeAddr::parse_with_default_host("10.9.9.9:6381", "10.1.2.3").unwrap();
    assert_eq!(addr, NodeAddr::new("10.9.9.9", 6381));
    assert_eq!(
        NodeAddr::parse_with_default_host(":6381", "")
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidAddress
    );
    assert_eq!(
        NodeAddr::new("", 1).with_default_host("h"),
        NodeAddr::new("h", 1)
    );
    assert_eq!(
        NodeAddr::new("x", 1).with_default_host("h"),
        NodeAddr::new("x", 1)
    );
}

/// Parses `input`; `expected` is `Some((kind, slot, host, port))`.
fn check_redirect(input: &[u8], expected: Option<(RedirectKind, u16, &str, u16)>) {
    let actual = Redirect::parse(input).map(|r| {
        (
            r.kind,
            r.slot.get(),
            r.addr.host().to_owned(),
            r.addr.port(),
        )
    });
    let expected = expected.map(|(k, s, h, p)| (k, s, h.to_owned(), p));
    assert_eq!(
        actual,
        expected,
        "input {:?}",
        String::from_utf8_lossy(input)
    );
}

#[test]
fn redirects() {
    use RedirectKind::{Ask, Moved};
    check_redirect(
        b"MOVED 3999 127.0.0.1:6381",
        Some((Moved, 3999, "127.0.0.1", 6381)),
    );
    check_redirect(
        b"-MOVED 3999 127.0.0.1:6381\r\n",
        Some((Moved, 3999, "127.0.0.1", 6381)),
    );
    check_redirect(
        b"ASK 16383 node-31003.test:31003",
        Some((Ask, 16383, "node-31003.test", 31003)),
    );
    // Captured from Redis 7.0 with `cluster-preferred-endpoint-type unknown-endpoint`.
    check_redirect(b"-MOVED 12182 :31003\r\n", Some((Moved, 12182, "", 31003)));
    check_redirect(b"MOVED 0 ::1:7000", Some((Moved, 0, "::1", 7000)));
    check_redirect(b"MOVED 0 [::1]:7000", Some((Moved, 0, "::1", 7000)));
    check_redirect(b"MOVED 16384 h:1", None);
    check_redirect(b"MOVED -1 h:1", None);
    check_redirect(b"MOVED 1 h:0", None);
    check_redirect(b"MOVED 1 h", None);
    check_redirect(b"MOVED 1", None);
    check_redirect(b"MOVED  1 h:1", None);
    check_redirect(b"MOVED 1 h:1 extra", None);
    check_redirect(b"MOVED x h:1", None);
    check_redirect(b"moved 1 h:1", None);
    check_redirect(b"ASKING", None);
    check_redirect(b"ERR wrong number of arguments", None);
    check_redirect(b"CLUSTERDOWN The cluster is down", None);
    check_redirect(b"MOVED 1 \xff:1", None);
    check_redirect(b"", None);
}

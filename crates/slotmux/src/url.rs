//! Parsing of `redis://[user[:password]@]host[:port][/db]` URLs.

use crate::error::{Error, ErrorKind, Result};

/// The port Redis listens on unless told otherwise.
const DEFAULT_PORT: u16 = 6379;

/// What a connection URL says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ParsedUrl {
    /// `host:port`, with IPv6 hosts in brackets.
    pub(crate) addr: String,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) database: Option<u32>,
}

fn bad(url: &str, why: &str) -> Error {
    // The URL may hold a password: never echo it back in an error message. Masked up to the last '@',
    // as the parser splits there: a password may contain '@' (regression: masking stopped at the first).
    let shown = match url.rfind('@') {
        Some(at) => match url.find("://") {
            Some(scheme) if scheme < at => format!("{}://***{}", &url[..scheme], &url[at..]),
            _ => "***".to_owned(),
        },
        None => url.to_owned(),
    };
    Error::with_message(ErrorKind::InvalidInput, format!("bad URL {shown:?}: {why}"))
}

/// Parses a `redis://` URL.
///
/// Accepted: `redis://host`, `redis://host:port`, `redis://:password@host`, `redis://user:password@host:port/3`,
/// IPv6 hosts in brackets (`redis://[::1]:6379`), percent-encoded user names and passwords.
/// `rediss://` (TLS) and `unix://` are refused: this client speaks plain TCP only.
pub(crate) fn parse(url: &str) -> Result<ParsedUrl> {
    let rest = match url.split_once("://") {
        Some(("redis", rest)) => rest,
        Some(("rediss", _)) => return Err(bad(url, "TLS (rediss://) is not supported")),
        Some((scheme, _)) => {
            return Err(bad(
                url,
                &format!("unsupported scheme {scheme:?}, expected redis://"),
            ));
        }
        None => return Err(bad(url, "missing redis:// scheme")),
    };
    if rest.contains(['?', '#']) {
        return Err(bad(url, "query parameters and fragments are not supported"));
    }
    // The password may contain '@' or '/' only percent-encoded, so the last '@' before the path ends the user info.
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    let (username, password) = match userinfo {
        None => (None, None),
        Some(info) => {
            let (user, pass) = match info.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (info, None),
            };
            let user = percent_decode(user).ok_or_else(|| bad(url, "bad percent-encoding"))?;
            let pass = pass
                .map(|p| percent_decode(p).ok_or_else(|| bad(url, "bad percent-encoding")))
                .transpose()?;
            // `redis://user@host` is how some tools spell a password without a user (redis-py, redis-rs).
            match pass {
                Some(p) => ((!user.is_empty()).then_some(user), Some(p)),
                None if user.is_empty() => (None, None),
                None => (None, Some(user)),
            }
        }
    };
    let (host, port) = split_host_port(hostport).ok_or_else(|| bad(url, "bad host or port"))?;
    let database = match path {
        "" => None,
        db => Some(
            db.parse::<u32>()
                .map_err(|_| bad(url, "database must be a non-negative integer"))?,
        ),
    };
    let addr = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    Ok(ParsedUrl {
        addr,
        username,
        password,
        database,
    })
}

/// Splits `host`, `host:port`, `[v6]` or `[v6]:port`; `None` when empty or malformed.
fn split_host_port(s: &str) -> Option<(&str, u16)> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        match after {
            "" => (host, None),
            p => (host, Some(p.strip_prefix(':')?)),
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    if host.is_empty() || host.contains(['[', ']', ' ', '@']) {
        return None;
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => match p.parse::<u16>().ok()? {
            0 => return None,
            p => p,
        },
    };
    Some((host, port))
}

/// Decodes `%XX` escapes; `None` for a truncated or non-hex escape or a result that is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// addr, user name, password, database; `None` for a URL that must be refused.
    type Expected<'a> = Option<(&'a str, Option<&'a str>, Option<&'a str>, Option<u32>)>;

    fn check(url: &str, expected: Expected<'_>) {
        let got = parse(url).ok();
        let got = got.as_ref().map(|p| {
            (
                p.addr.as_str(),
                p.username.as_deref(),
                p.password.as_deref(),
                p.database,
            )
        });
        assert_eq!(got, expected, "{url}");
    }

    #[test]
    fn urls() {
        check(
            "redis://localhost",
            Some(("localhost:6379", None, None, None)),
        );
        check(
            "redis://127.0.0.1:7000",
            Some(("127.0.0.1:7000", None, None, None)),
        );
        check(
            "redis://127.0.0.1:7000/",
            Some(("127.0.0.1:7000", None, None, None)),
        );
        check("redis://h:1/15", Some(("h:1", None, None, Some(15))));
        check("redis://:pw@h:1", Some(("h:1", None, Some("pw"), None)));
        check("redis://pw@h:1", Some(("h:1", None, Some("pw"), None)));
        check(
            "redis://u:pw@h:1/2",
            Some(("h:1", Some("u"), Some("pw"), Some(2))),
        );
        check(
            "redis://u:p%40ss%2F@h",
            Some(("h:6379", Some("u"), Some("p@ss/"), None)),
        );
        check(
            "redis://u:p@ss@h",
            Some(("h:6379", Some("u"), Some("p@ss"), None)),
        );
        check(
            "redis://[::1]:6380/1",
            Some(("[::1]:6380", None, None, Some(1))),
        );
        check("redis://[::1]", Some(("[::1]:6379", None, None, None)));
        check("localhost:6379", None);
        check("http://h:1", None);
        check("rediss://h:1", None);
        check("redis://", None);
        check("redis://h:0", None);
        check("redis://h:65536", None);
        check("redis://h:x", None);
        check("redis://h:1/db", None);
        check("redis://h:1/-1", None);
        check("redis://h:1?timeout=1", None);
        check("redis://u:p%4@h", None);
        check("redis://[::1", None);
    }

    #[test]
    fn error_hides_password() {
        for url in [
            "redis://u:secret@h:1/x",
            "redis://u:sec@ret@h:bad",
            "redis://:s@e@cret@h:1/-1",
            "redis://u:se/cret@h:1",
        ] {
            let e = parse(url).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains("bad URL"), "{url}: {e}");
            for part in ["sec", "ret", "cret"] {
                assert!(!e.contains(part), "{url}: {e}");
            }
        }
    }
}

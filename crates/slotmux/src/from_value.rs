//! `FromValue`: typed conversions of replies, with a typed error on mismatch.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasher, Hash};

use bytes::Bytes;

use crate::error::{Error, ErrorKind, Result};
use crate::value::Value;

/// Converts a [`Value`] into a Rust type.
///
/// Conversions are strict enough to catch mistakes and lenient where Redis itself is: numbers arrive
/// as integers or as decimal text depending on the command and the protocol (`GET` of a counter is a
/// bulk string, `ZSCORE` is a bulk string in RESP2 and a double in RESP3), so the numeric types accept
/// both. A mismatch is an [`Error`] of kind [`Type`](ErrorKind::Type); an error reply nested in
/// an aggregate ([`Value::ServerError`]) is an [`Error`] of kind [`Server`](crate::ErrorKind::Server).
///
/// | type | accepts |
/// |---|---|
/// | `Value` | anything |
/// | `()` | anything except a nested error |
/// | `Option<T>` | nil as `None`, anything else as `T` |
/// | `Bytes`, `Vec<u8>`, `String` | bulk, simple and verbatim strings, big numbers; integers and doubles as decimal text |
/// | `i64`, `u64`, other integers | integers, and strings holding one (range-checked) |
/// | `f64`, `f32` | doubles, integers, and strings holding one (`inf`, `-inf`, `nan` too) |
/// | `bool` | booleans, integers 0 and 1, the simple string `OK`, strings `"0"` and `"1"` |
/// | `Vec<T>`, `HashSet<T>`, `BTreeSet<T>` | arrays and sets (nil as empty); from a map, each pair as a two-element array |
/// | `HashMap<K, V>`, `BTreeMap<K, V>` | maps, and flat arrays of key, value, key, value ... (nil as empty) |
/// | `(A, B)`, `(A, B, C)`, `(A, B, C, D)` | arrays of exactly that length |
pub trait FromValue: Sized {
    /// Converts `v`, or says why it cannot.
    fn from_value(v: Value) -> Result<Self>;
}

fn nested_error(v: &Value) -> Option<Error> {
    match v {
        Value::ServerError(text) => Some(Error::server(text)),
        _ => None,
    }
}

fn mismatch(wanted: &'static str, v: Value) -> Error {
    nested_error(&v).unwrap_or_else(|| Error::type_mismatch(wanted, &v))
}

impl FromValue for Value {
    fn from_value(v: Value) -> Result<Self> {
        Ok(v)
    }
}

impl FromValue for () {
    fn from_value(v: Value) -> Result<Self> {
        match nested_error(&v) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: Value) -> Result<Self> {
        match v {
            Value::Nil => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// The bytes of a string-like reply; numbers become their decimal text.
fn to_bytes(v: Value, wanted: &'static str) -> Result<Bytes> {
    match v {
        Value::Bulk(b)
        | Value::Status(b)
        | Value::BigNumber(b)
        | Value::Verbatim { text: b, .. } => Ok(b),
        Value::Int(n) => Ok(Bytes::copy_from_slice(
            itoa::Buffer::new().format(n).as_bytes(),
        )),
        Value::Double(x) => Ok(Bytes::from(format_double(x))),
        v => Err(mismatch(wanted, v)),
    }
}

fn format_double(x: f64) -> String {
    // Redis spells infinities this way in replies and accepts them in arguments.
    if x == f64::INFINITY {
        "inf".to_owned()
    } else if x == f64::NEG_INFINITY {
        "-inf".to_owned()
    } else {
        x.to_string()
    }
}

impl FromValue for Bytes {
    fn from_value(v: Value) -> Result<Self> {
        to_bytes(v, "bytes")
    }
}

impl FromValue for Vec<u8> {
    fn from_value(v: Value) -> Result<Self> {
        // The one copy a `Vec<u8>` forces; `Bytes` avoids it.
        to_bytes(v, "Vec<u8>").map(Vec::from)
    }
}

impl FromValue for String {
    fn from_value(v: Value) -> Result<Self> {
        let b = to_bytes(v, "string")?;
        match std::str::from_utf8(&b) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(Error::with_message(
                ErrorKind::Type,
                "cannot convert bulk string into string: not valid UTF-8",
            )),
        }
    }
}

/// Parses the decimal text of a string-like reply as an integer of type `T`.
fn parse_text<T: std::str::FromStr>(b: &[u8]) -> Option<T> {
    std::str::from_utf8(b).ok()?.parse::<T>().ok()
}

/// An integer reply, or a string or whole double holding one.
fn to_i64(v: Value, wanted: &'static str) -> Result<i64> {
    match v {
        Value::Int(n) => Ok(n),
        Value::Bulk(ref b) | Value::Status(ref b) | Value::BigNumber(ref b) => {
            parse_text(b).ok_or_else(|| Error::type_mismatch(wanted, &v))
        }
        // A whole double (RESP3 ZSCORE of an integer score) is an integer; the bound keeps the
        // conversion exact (doubles hold integers exactly up to 2^53).
        Value::Double(x) if x.fract() == 0.0 && x.abs() <= 9_007_199_254_740_992.0 => Ok(x as i64),
        v => Err(mismatch(wanted, v)),
    }
}

impl FromValue for i64 {
    fn from_value(v: Value) -> Result<Self> {
        to_i64(v, "i64")
    }
}

impl FromValue for u64 {
    fn from_value(v: Value) -> Result<Self> {
        match v {
            // Parsed as u64 directly so text above i64::MAX works.
            Value::Bulk(ref b) | Value::Status(ref b) | Value::BigNumber(ref b) => {
                parse_text(b).ok_or_else(|| Error::type_mismatch("u64", &v))
            }
            v => {
                let n = to_i64(v, "u64")?;
                u64::try_from(n).map_err(|_| out_of_range(n, "u64"))
            }
        }
    }
}

fn out_of_range(n: i64, wanted: &'static str) -> Error {
    Error::with_message(
        ErrorKind::Type,
        format!("cannot convert {n} into {wanted}: out of range"),
    )
}

macro_rules! from_value_via_i64 {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: Value) -> Result<Self> {
                let n = to_i64(v, stringify!($t))?;
                <$t>::try_from(n).map_err(|_| out_of_range(n, stringify!($t)))
            }
        }
    )*};
}
from_value_via_i64!(i32, u32, i16, u16, i8, isize, usize);

fn to_f64(v: Value, wanted: &'static str) -> Result<f64> {
    match v {
        Value::Double(x) => Ok(x),
        Value::Int(n) => Ok(n as f64),
        Value::Bulk(ref b) | Value::Status(ref b) | Value::BigNumber(ref b) => {
            parse_double_text(b).ok_or_else(|| Error::type_mismatch(wanted, &v))
        }
        v => Err(mismatch(wanted, v)),
    }
}

fn parse_double_text(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?;
    // Rust parses "inf", "-inf" and "nan" already; Redis may also send "+inf".
    s.strip_prefix('+').unwrap_or(s).parse::<f64>().ok()
}

impl FromValue for f64 {
    fn from_value(v: Value) -> Result<Self> {
        to_f64(v, "f64")
    }
}

impl FromValue for f32 {
    fn from_value(v: Value) -> Result<Self> {
        // Narrowing is the caller's explicit choice of type.
        to_f64(v, "f32").map(|x| x as f32)
    }
}

impl FromValue for bool {
    fn from_value(v: Value) -> Result<Self> {
        match v {
            Value::Bool(b) => Ok(b),
            Value::Int(0) => Ok(false),
            Value::Int(1) => Ok(true),
            Value::Status(ref b) if b.as_ref() == b"OK" => Ok(true),
            Value::Bulk(ref b) if b.as_ref() == b"1" => Ok(true),
            Value::Bulk(ref b) if b.as_ref() == b"0" => Ok(false),
            v => Err(mismatch("boolean", v)),
        }
    }
}

/// The elements of an array-like reply; nil is empty (Redis answers nil for some missing keys).
fn elements(v: Value, wanted: &'static str) -> Result<Vec<Value>> {
    match v {
        Value::Array(items) | Value::Set(items) => Ok(items),
        Value::Nil => Ok(Vec::new()),
        Value::Map(pairs) => Ok(pairs
            .into_iter()
            .map(|(k, v)| Value::Array(vec![k, v]))
            .collect()),
        v => Err(mismatch(wanted, v)),
    }
}

impl<T: FromValue> FromValue for Vec<T> {
    fn from_value(v: Value) -> Result<Self> {
        elements(v, "array")?
            .into_iter()
            .map(T::from_value)
            .collect()
    }
}

impl<T: FromValue + Eq + Hash, S: BuildHasher + Default> FromValue for HashSet<T, S> {
    fn from_value(v: Value) -> Result<Self> {
        elements(v, "set")?.into_iter().map(T::from_value).collect()
    }
}

impl<T: FromValue + Ord> FromValue for BTreeSet<T> {
    fn from_value(v: Value) -> Result<Self> {
        elements(v, "set")?.into_iter().map(T::from_value).collect()
    }
}

/// The key-value pairs of a map reply or of a flat array `k1 v1 k2 v2 ...` (the RESP2 shape of HGETALL).
fn pairs(v: Value) -> Result<Vec<(Value, Value)>> {
    match v {
        Value::Map(pairs) => Ok(pairs),
        Value::Nil => Ok(Vec::new()),
        Value::Array(items) => {
            if items.len() % 2 != 0 {
                return Err(Error::with_message(
                    ErrorKind::Type,
                    format!(
                        "cannot convert array of odd length {} into map",
                        items.len()
                    ),
                ));
            }
            let mut out = Vec::with_capacity(items.len() / 2);
            let mut it = items.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                out.push((k, v));
            }
            Ok(out)
        }
        v => Err(mismatch("map", v)),
    }
}

impl<K, V, S> FromValue for HashMap<K, V, S>
where
    K: FromValue + Eq + Hash,
    V: FromValue,
    S: BuildHasher + Default,
{
    fn from_value(v: Value) -> Result<Self> {
        pairs(v)?
            .into_iter()
            .map(|(k, v)| Ok((K::from_value(k)?, V::from_value(v)?)))
            .collect()
    }
}

impl<K: FromValue + Ord, V: FromValue> FromValue for BTreeMap<K, V> {
    fn from_value(v: Value) -> Result<Self> {
        pairs(v)?
            .into_iter()
            .map(|(k, v)| Ok((K::from_value(k)?, V::from_value(v)?)))
            .collect()
    }
}

macro_rules! from_value_tuple {
    ($len:literal => $($t:ident),+) => {
        impl<$($t: FromValue),+> FromValue for ($($t,)+) {
            fn from_value(v: Value) -> Result<Self> {
                let items = match v {
                    Value::Array(items) | Value::Set(items) if items.len() == $len => items,
                    v => return Err(mismatch(concat!("tuple of ", $len), v)),
                };
                let mut it = items.into_iter();
                Ok(($(
                    $t::from_value(it.next().ok_or_else(|| {
                        Error::with_message(ErrorKind::Type, "tuple too short")
                    })?)?,
                )+))
            }
        }
    };
}
from_value_tuple!(1 => A);
from_value_tuple!(2 => A, B);
from_value_tuple!(3 => A, B, C);
from_value_tuple!(4 => A, B, C, D);

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};
    use std::fmt::Debug;

    use bytes::{Bytes, BytesMut};
    use resp_codec::Decoder;

    use super::FromValue;
    use crate::error::{ErrorKind, Result};
    use crate::value::Value;

    /// Decodes one reply from wire bytes the way the client does, then converts it to `T`.
    fn convert<T: FromValue>(wire: &[u8]) -> Result<T> {
        let mut buf = BytesMut::from(wire);
        let frame = Decoder::new()
            .decode(&mut buf)
            .expect("valid RESP")
            .expect("one complete frame");
        assert!(buf.is_empty(), "trailing bytes in {wire:?}");
        Value::from_reply(frame).and_then(T::from_value)
    }

    fn check<T: FromValue + PartialEq + Debug>(wire: &[u8], expected: T) {
        match convert::<T>(wire) {
            Ok(got) => assert_eq!(got, expected, "{}", String::from_utf8_lossy(wire)),
            Err(e) => panic!("{}: {e}", String::from_utf8_lossy(wire)),
        }
    }

    fn check_err<T: FromValue + Debug>(wire: &[u8], kind: ErrorKind) {
        match convert::<T>(wire) {
            Ok(got) => panic!(
                "{}: expected {kind:?}, got {got:?}",
                String::from_utf8_lossy(wire)
            ),
            Err(e) => assert_eq!(e.kind(), kind, "{}: {e}", String::from_utf8_lossy(wire)),
        }
    }

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn values_from_every_frame_type() {
        check(b"_\r\n", Value::Nil);
        check(b"$-1\r\n", Value::Nil);
        check(b"*-1\r\n", Value::Nil);
        check(b":-7\r\n", Value::Int(-7));
        check(b"$3\r\nabc\r\n", Value::Bulk(b("abc")));
        check(b"+OK\r\n", Value::Status(b("OK")));
        check(b",1.5\r\n", Value::Double(1.5));
        check(b"#t\r\n", Value::Bool(true));
        check(
            b"(123456789012345678901234567890\r\n",
            Value::BigNumber(b("123456789012345678901234567890")),
        );
        check(
            b"=7\r\ntxt:abc\r\n",
            Value::Verbatim {
                format: *b"txt",
                text: b("abc"),
            },
        );
        check(
            b"*3\r\n:1\r\n$-1\r\n-ERR nested\r\n",
            Value::Array(vec![
                Value::Int(1),
                Value::Nil,
                Value::ServerError(b("ERR nested")),
            ]),
        );
        check(
            b"%1\r\n+k\r\n:2\r\n",
            Value::Map(vec![(Value::Status(b("k")), Value::Int(2))]),
        );
        check(b"~1\r\n:2\r\n", Value::Set(vec![Value::Int(2)]));
        // An attribute annotates the reply that follows; the caller sees the reply.
        check(b"|1\r\n+ttl\r\n:3\r\n:42\r\n", Value::Int(42));
    }

    #[test]
    fn top_level_error_replies_are_server_errors() {
        for wire in [
            &b"-WRONGTYPE Operation against a key\r\n"[..],
            b"!33\r\nWRONGTYPE Operation against a key\r\n",
        ] {
            let e = convert::<Value>(wire).expect_err("error reply");
            assert_eq!(e.kind(), ErrorKind::Server);
            assert!(e.is_server());
            assert_eq!(e.server_code(), Some("WRONGTYPE"));
            assert_eq!(
                e.server_message(),
                Some("WRONGTYPE Operation against a key")
            );
            assert_eq!(e.to_string(), "WRONGTYPE Operation against a key");
        }
    }

    #[test]
    fn optional_bytes() {
        check::<Option<Bytes>>(b"$3\r\nabc\r\n", Some(b("abc")));
        check::<Option<Bytes>>(b"$-1\r\n", None);
        check::<Option<Bytes>>(b"_\r\n", None);
        check::<Option<Bytes>>(b"$0\r\n\r\n", Some(Bytes::new()));
        check::<Bytes>(b"+PONG\r\n", b("PONG"));
        check::<Bytes>(b":12\r\n", b("12"));
        check::<Vec<u8>>(b"$2\r\nhi\r\n", b"hi".to_vec());
        check_err::<Bytes>(b"$-1\r\n", ErrorKind::Type);
        check_err::<Bytes>(b"*1\r\n:1\r\n", ErrorKind::Type);
    }

    #[test]
    fn strings() {
        check::<String>(b"$5\r\nhello\r\n", "hello".to_owned());
        check::<String>(b"+OK\r\n", "OK".to_owned());
        check::<String>(b"=9\r\ntxt:hello\r\n", "hello".to_owned());
        check::<String>(b":-3\r\n", "-3".to_owned());
        check::<Option<String>>(b"$-1\r\n", None);
        check_err::<String>(b"$2\r\n\xff\xfe\r\n", ErrorKind::Type);
        check_err::<String>(b"_\r\n", ErrorKind::Type);
        check_err::<String>(b"#f\r\n", ErrorKind::Type);
    }

    #[test]
    fn integers() {
        check::<i64>(b":42\r\n", 42);
        check::<i64>(b":-9223372036854775808\r\n", i64::MIN);
        check::<i64>(b"$3\r\n-17\r\n", -17);
        check::<i64>(b",3\r\n", 3);
        check::<u64>(b"$20\r\n18446744073709551615\r\n", u64::MAX);
        check::<u64>(b":7\r\n", 7);
        check::<i32>(b":-5\r\n", -5);
        check::<usize>(b":5\r\n", 5);
        check::<Option<i64>>(b"$-1\r\n", None);
        check_err::<i64>(b"$3\r\nabc\r\n", ErrorKind::Type);
        check_err::<i64>(b"$-1\r\n", ErrorKind::Type);
        check_err::<i64>(b",1.5\r\n", ErrorKind::Type);
        check_err::<i64>(b"*0\r\n", ErrorKind::Type);
        check_err::<u64>(b":-1\r\n", ErrorKind::Type);
        check_err::<i32>(b":4294967296\r\n", ErrorKind::Type);
        check_err::<i8>(b":200\r\n", ErrorKind::Type);
    }

    #[test]
    fn doubles() {
        check::<f64>(b",2.5\r\n", 2.5);
        check::<f64>(b":2\r\n", 2.0);
        check::<f64>(b"$4\r\n-1.5\r\n", -1.5);
        check::<f64>(b"$3\r\ninf\r\n", f64::INFINITY);
        check::<f64>(b"$4\r\n-inf\r\n", f64::NEG_INFINITY);
        check::<f64>(b",inf\r\n", f64::INFINITY);
        check_err::<f64>(b"$1\r\nx\r\n", ErrorKind::Type);
    }

    #[test]
    fn booleans() {
        check::<bool>(b":1\r\n", true);
        check::<bool>(b":0\r\n", false);
        check::<bool>(b"#t\r\n", true);
        check::<bool>(b"#f\r\n", false);
        check::<bool>(b"+OK\r\n", true);
        check::<Option<bool>>(b"_\r\n", None);
        check_err::<bool>(b":2\r\n", ErrorKind::Type);
        check_err::<bool>(b"+QUEUED\r\n", ErrorKind::Type);
        check_err::<bool>(b"_\r\n", ErrorKind::Type);
    }

    #[test]
    fn vectors_and_tuples() {
        check::<Vec<i64>>(b"*3\r\n:1\r\n:2\r\n$1\r\n3\r\n", vec![1, 2, 3]);
        check::<Vec<Option<Bytes>>>(b"*2\r\n$1\r\na\r\n$-1\r\n", vec![Some(b("a")), None]);
        check::<Vec<i64>>(b"*0\r\n", vec![]);
        check::<Vec<i64>>(b"*-1\r\n", vec![]);
        check::<Vec<String>>(b"~2\r\n+a\r\n+b\r\n", vec!["a".to_owned(), "b".to_owned()]);
        check::<Vec<(String, i64)>>(b"%1\r\n+a\r\n:1\r\n", vec![("a".to_owned(), 1)]);
        check::<(String, i64)>(b"*2\r\n$1\r\nx\r\n:9\r\n", ("x".to_owned(), 9));
        check::<Vec<Vec<i64>>>(b"*2\r\n*1\r\n:1\r\n*0\r\n", vec![vec![1], vec![]]);
        check_err::<Vec<i64>>(b"*2\r\n:1\r\n$1\r\nx\r\n", ErrorKind::Type);
        check_err::<Vec<i64>>(b":1\r\n", ErrorKind::Type);
        check_err::<(i64, i64)>(b"*3\r\n:1\r\n:2\r\n:3\r\n", ErrorKind::Type);
        // An error nested in an array (an EXEC reply) surfaces as that server error.
        check_err::<Vec<i64>>(
            b"*2\r\n:1\r\n-ERR value is not an integer\r\n",
            ErrorKind::Server,
        );
        check::<Vec<Value>>(
            b"*2\r\n:1\r\n-ERR no\r\n",
            vec![Value::Int(1), Value::ServerError(b("ERR no"))],
        );
    }

    #[test]
    fn maps() {
        let expected: HashMap<Bytes, Bytes> = [(b("f1"), b("v1")), (b("f2"), b("v2"))]
            .into_iter()
            .collect();
        // RESP2 HGETALL: a flat array.
        check(
            b"*4\r\n$2\r\nf1\r\n$2\r\nv1\r\n$2\r\nf2\r\n$2\r\nv2\r\n",
            expected.clone(),
        );
        // RESP3 HGETALL: a map.
        check(
            b"%2\r\n$2\r\nf1\r\n$2\r\nv1\r\n$2\r\nf2\r\n$2\r\nv2\r\n",
            expected,
        );
        check::<HashMap<String, i64>>(b"*0\r\n", HashMap::new());
        check::<BTreeMap<String, i64>>(
            b"%2\r\n+b\r\n:2\r\n+a\r\n$1\r\n1\r\n",
            [("a".to_owned(), 1), ("b".to_owned(), 2)]
                .into_iter()
                .collect(),
        );
        check_err::<HashMap<String, String>>(b"*3\r\n+a\r\n+b\r\n+c\r\n", ErrorKind::Type);
        check_err::<HashMap<String, i64>>(b"%1\r\n+a\r\n+b\r\n", ErrorKind::Type);
        check_err::<HashMap<String, i64>>(b":1\r\n", ErrorKind::Type);
    }

    #[test]
    fn unit_accepts_any_reply_but_errors() {
        check::<()>(b"+OK\r\n", ());
        check::<()>(b"$-1\r\n", ());
        check::<()>(b"*1\r\n:1\r\n", ());
        check_err::<()>(b"-ERR syntax error\r\n", ErrorKind::Server);
    }

    #[test]
    fn type_error_says_what_was_wanted() {
        let e = convert::<i64>(b"$3\r\nabc\r\n").expect_err("not a number");
        assert_eq!(e.kind(), ErrorKind::Type);
        assert_eq!(e.server_code(), None);
        let text = e.to_string();
        assert!(
            text.contains("bulk string") && text.contains("i64"),
            "{text}"
        );
    }
}

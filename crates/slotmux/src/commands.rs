//! Typed helpers for the most common commands: each builds a `Cmd` and converts the reply.
//!
//! They are thin on purpose: anything not here is one [`Client::query`] away, with the same
//! conversions ([`FromValue`](crate::FromValue)).

use std::collections::HashMap;

use bytes::Bytes;

use crate::client::Client;
use crate::cmd::{Cmd, ToArg};
use crate::error::Result;
use crate::value::Value;

/// Options of [`Client::set_with`]: expiry and condition.
///
/// ```
/// use slotmux::SetOptions;
///
/// // SET key value EX 60 NX
/// let opts = SetOptions::new().ex(60).nx();
/// # let _ = opts;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetOptions {
    expiry: Option<Expiry>,
    condition: Option<Condition>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expiry {
    Ex(u64),
    Px(u64),
    ExAt(u64),
    PxAt(u64),
    KeepTtl,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Condition {
    Nx,
    Xx,
}

impl SetOptions {
    /// No expiry, no condition: a plain `SET`.
    pub fn new() -> SetOptions {
        SetOptions::default()
    }

    /// Expire after `secs` seconds (`EX`). Replaces any expiry set before.
    pub fn ex(mut self, secs: u64) -> SetOptions {
        self.expiry = Some(Expiry::Ex(secs));
        self
    }

    /// Expire after `ms` milliseconds (`PX`). Replaces any expiry set before.
    pub fn px(mut self, ms: u64) -> SetOptions {
        self.expiry = Some(Expiry::Px(ms));
        self
    }

    /// Expire at the Unix time `secs` (`EXAT`). Replaces any expiry set before.
    pub fn exat(mut self, secs: u64) -> SetOptions {
        self.expiry = Some(Expiry::ExAt(secs));
        self
    }

    /// Expire at the Unix time `ms` in milliseconds (`PXAT`). Replaces any expiry set before.
    pub fn pxat(mut self, ms: u64) -> SetOptions {
        self.expiry = Some(Expiry::PxAt(ms));
        self
    }

    /// Keep the key's current time to live (`KEEPTTL`). Replaces any expiry set before.
    pub fn keep_ttl(mut self) -> SetOptions {
        self.expiry = Some(Expiry::KeepTtl);
        self
    }

    /// Set only if the key does not exist (`NX`). Replaces `xx`.
    pub fn nx(mut self) -> SetOptions {
        self.condition = Some(Condition::Nx);
        self
    }

    /// Set only if the key exists (`XX`). Replaces `nx`.
    pub fn xx(mut self) -> SetOptions {
        self.condition = Some(Condition::Xx);
        self
    }

    fn apply(self, cmd: &mut Cmd) {
        match self.expiry {
            None => {}
            Some(Expiry::Ex(n)) => {
                cmd.push_arg("EX").push_arg(n);
            }
            Some(Expiry::Px(n)) => {
                cmd.push_arg("PX").push_arg(n);
            }
            Some(Expiry::ExAt(n)) => {
                cmd.push_arg("EXAT").push_arg(n);
            }
            Some(Expiry::PxAt(n)) => {
                cmd.push_arg("PXAT").push_arg(n);
            }
            Some(Expiry::KeepTtl) => {
                cmd.push_arg("KEEPTTL");
            }
        }
        match self.condition {
            None => {}
            Some(Condition::Nx) => {
                cmd.push_arg("NX");
            }
            Some(Condition::Xx) => {
                cmd.push_arg("XX");
            }
        }
    }
}

/// Typed helpers. Keys, fields and values are anything [`ToArg`]; where a helper takes `keys`,
/// one key or a slice, array or `Vec` of keys works.
// The one-line helpers return `query`'s future instead of being `async fn`s: an async wrapper would hold
// that ~1 KB future in its own state and copy it once more on every call. They encode the command when
// called, not when first polled.
impl Client {
    /// `GET key`: the value, or `None` when the key does not exist.
    pub fn get(&self, key: impl ToArg) -> impl Future<Output = Result<Option<Bytes>>> {
        self.query(Cmd::new("GET").arg(key))
    }

    /// `SET key value`.
    pub fn set(&self, key: impl ToArg, value: impl ToArg) -> impl Future<Output = Result<()>> {
        self.query(Cmd::new("SET").arg(key).arg(value))
    }

    /// `SET key value [EX|PX|EXAT|PXAT|KEEPTTL] [NX|XX]`: false when the `NX` or `XX` condition was not met.
    pub async fn set_with(
        &self,
        key: impl ToArg,
        value: impl ToArg,
        opts: SetOptions,
    ) -> Result<bool> {
        let mut cmd = Cmd::new("SET").arg(key).arg(value);
        opts.apply(&mut cmd);
        // `+OK` when set, nil when the condition stopped it.
        let reply: Option<Value> = self.query(cmd).await?;
        Ok(reply.is_some())
    }

    /// `DEL keys...`: how many of the keys existed and were removed.
    pub fn del(&self, keys: impl ToArg) -> impl Future<Output = Result<i64>> {
        self.query(Cmd::new("DEL").arg(keys))
    }

    /// `EXISTS keys...`: how many of the keys exist (a key given twice counts twice).
    pub fn exists(&self, keys: impl ToArg) -> impl Future<Output = Result<i64>> {
        self.query(Cmd::new("EXISTS").arg(keys))
    }

    /// `EXPIRE key seconds`: false when the key does not exist.
    pub fn expire(&self, key: impl ToArg, secs: i64) -> impl Future<Output = Result<bool>> {
        self.query(Cmd::new("EXPIRE").arg(key).arg(secs))
    }

    /// `TTL key`: seconds to live; -1 when the key has no expiry, -2 when it does not exist.
    pub fn ttl(&self, key: impl ToArg) -> impl Future<Output = Result<i64>> {
        self.query(Cmd::new("TTL").arg(key))
    }

    /// `INCR key`: the value after the increment.
    pub fn incr(&self, key: impl ToArg) -> impl Future<Output = Result<i64>> {
        self.query(Cmd::new("INCR").arg(key))
    }

    /// `INCRBY key delta`: the value after the increment.
    pub fn incr_by(&self, key: impl ToArg, delta: i64) -> impl Future<Output = Result<i64>> {
        self.query(Cmd::new("INCRBY").arg(key).arg(delta))
    }

    /// `MGET keys...`: one entry per key, `None` for keys that do not exist.
    pub fn mget(&self, keys: impl ToArg) -> impl Future<Output = Result<Vec<Option<Bytes>>>> {
        self.query(Cmd::new("MGET").arg(keys))
    }

    /// `MSET key value [key value ...]`, from pairs such as `&[("k1", "v1"), ("k2", "v2")]`.
    pub fn mset(&self, pairs: impl ToArg) -> impl Future<Output = Result<()>> {
        self.query(Cmd::new("MSET").arg(pairs))
    }

    /// `HGET key field`: the field's value, or `None`.
    pub fn hget(
        &self,
        key: impl ToArg,
        field: impl ToArg,
    ) -> impl Future<Output = Result<Option<Bytes>>> {
        self.query(Cmd::new("HGET").arg(key).arg(field))
    }

    /// `HSET key field value`: 1 when the field is new, 0 when it was updated.
    pub fn hset(
        &self,
        key: impl ToArg,
        field: impl ToArg,
        value: impl ToArg,
    ) -> impl Future<Output = Result<i64>> {
        self.query(Cmd::new("HSET").arg(key).arg(field).arg(value))
    }

    /// `HSET key field value [field value ...]` from pairs: how many fields were new.
    pub fn hset_multiple(
        &self,
        key: impl ToArg,
        pairs: impl ToArg,
    ) -> impl Future<Output = Result<i64>> {
        self.query(Cmd::new("HSET").arg(key).arg(pairs))
    }

    /// `HGETALL key`: every field and value (empty when the key does not exist).
    ///
    /// For other types, `client.query::<HashMap<String, i64>>(Cmd::new("HGETALL").arg(key))`.
    pub fn hgetall(&self, key: impl ToArg) -> impl Future<Output = Result<HashMap<Bytes, Bytes>>> {
        self.query(Cmd::new("HGETALL").arg(key))
    }

    /// `LPUSH key values...`: the list's length afterwards.
    pub fn lpush(&self, key: impl ToArg, values: impl ToArg) -> impl Future<Output = Result<i64>> {
        self.query(Cmd::new("LPUSH").arg(key).arg(values))
    }

    /// `RPOP key`: the last element, or `None` when the list is empty or missing.
    pub fn rpop(&self, key: impl ToArg) -> impl Future<Output = Result<Option<Bytes>>> {
        self.query(Cmd::new("RPOP").arg(key))
    }

    /// `ZADD key score member`: 1 when the member is new, 0 when its score was updated.
    pub fn zadd(
        &self,
        key: impl ToArg,
        score: f64,
        member: impl ToArg,
    ) -> impl Future<Output = Result<i64>> {
        self.query(Cmd::new("ZADD").arg(key).arg(score).arg(member))
    }

    /// `ZRANGE key start stop`: the members by rank, inclusive, negative indices counting from the end.
    pub fn zrange(
        &self,
        key: impl ToArg,
        start: i64,
        stop: i64,
    ) -> impl Future<Output = Result<Vec<Bytes>>> {
        self.query(Cmd::new("ZRANGE").arg(key).arg(start).arg(stop))
    }

    /// `PING`.
    pub async fn ping(&self) -> Result<()> {
        let reply: Value = self.query(Cmd::new("PING")).await?;
        match reply {
            Value::Status(ref s) | Value::Bulk(ref s) if s.as_ref() == b"PONG" => Ok(()),
            other => Err(crate::error::Error::type_mismatch("PONG", &other)),
        }
    }
}

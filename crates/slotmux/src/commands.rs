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
impl Client {
    /// `GET key`: the value, or `None` when the key does not exist.
    pub async fn get(&self, key: impl ToArg) -> Result<Option<Bytes>> {
        self.query(Cmd::new("GET").arg(key)).await
    }

    /// `SET key value`.
    pub async fn set(&self, key: impl ToArg, value: impl ToArg) -> Result<()> {
        self.query(Cmd::new("SET").arg(key).arg(value)).await
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
    pub async fn del(&self, keys: impl ToArg) -> Result<i64> {
        self.query(Cmd::new("DEL").arg(keys)).await
    }

    /// `EXISTS keys...`: how many of the keys exist (a key given twice counts twice).
    pub async fn exists(&self, keys: impl ToArg) -> Result<i64> {
        self.query(Cmd::new("EXISTS").arg(keys)).await
    }

    /// `EXPIRE key seconds`: false when the key does not exist.
    pub async fn expire(&self, key: impl ToArg, secs: i64) -> Result<bool> {
        self.query(Cmd::new("EXPIRE").arg(key).arg(secs)).await
    }

    /// `TTL key`: seconds to live; -1 when the key has no expiry, -2 when it does not exist.
    pub async fn ttl(&self, key: impl ToArg) -> Result<i64> {
        self.query(Cmd::new("TTL").arg(key)).await
    }

    /// `INCR key`: the value after the increment.
    pub async fn incr(&self, key: impl ToArg) -> Result<i64> {
        self.query(Cmd::new("INCR").arg(key)).await
    }

    /// `INCRBY key delta`: the value after the increment.
    pub async fn incr_by(&self, key: impl ToArg, delta: i64) -> Result<i64> {
        self.query(Cmd::new("INCRBY").arg(key).arg(delta)).await
    }

    /// `MGET keys...`: one entry per key, `None` for keys that do not exist.
    pub async fn mget(&self, keys: impl ToArg) -> Result<Vec<Option<Bytes>>> {
        self.query(Cmd::new("MGET").arg(keys)).await
    }

    /// `MSET key value [key value ...]`, from pairs such as `&[("k1", "v1"), ("k2", "v2")]`.
    pub async fn mset(&self, pairs: impl ToArg) -> Result<()> {
        self.query(Cmd::new("MSET").arg(pairs)).await
    }

    /// `HGET key field`: the field's value, or `None`.
    pub async fn hget(&self, key: impl ToArg, field: impl ToArg) -> Result<Option<Bytes>> {
        self.query(Cmd::new("HGET").arg(key).arg(field)).await
    }

    /// `HSET key field value`: 1 when the field is new, 0 when it was updated.
    pub async fn hset(&self, key: impl ToArg, field: impl ToArg, value: impl ToArg) -> Result<i64> {
        self.query(Cmd::new("HSET").arg(key).arg(field).arg(value))
            .await
    }

    /// `HSET key field value [field value ...]` from pairs: how many fields were new.
    pub async fn hset_multiple(&self, key: impl ToArg, pairs: impl ToArg) -> Result<i64> {
        self.query(Cmd::new("HSET").arg(key).arg(pairs)).await
    }

    /// `HGETALL key`: every field and value (empty when the key does not exist).
    ///
    /// For other types, `client.query::<HashMap<String, i64>>(Cmd::new("HGETALL").arg(key))`.
    pub async fn hgetall(&self, key: impl ToArg) -> Result<HashMap<Bytes, Bytes>> {
        self.query(Cmd::new("HGETALL").arg(key)).await
    }

    /// `LPUSH key values...`: the list's length afterwards.
    pub async fn lpush(&self, key: impl ToArg, values: impl ToArg) -> Result<i64> {
        self.query(Cmd::new("LPUSH").arg(key).arg(values)).await
    }

    /// `RPOP key`: the last element, or `None` when the list is empty or missing.
    pub async fn rpop(&self, key: impl ToArg) -> Result<Option<Bytes>> {
        self.query(Cmd::new("RPOP").arg(key)).await
    }

    /// `ZADD key score member`: 1 when the member is new, 0 when its score was updated.
    pub async fn zadd(&self, key: impl ToArg, score: f64, member: impl ToArg) -> Result<i64> {
        self.query(Cmd::new("ZADD").arg(key).arg(score).arg(member))
            .await
    }

    /// `ZRANGE key start stop`: the members by rank, inclusive, negative indices counting from the end.
    pub async fn zrange(&self, key: impl ToArg, start: i64, stop: i64) -> Result<Vec<Bytes>> {
        self.query(Cmd::new("ZRANGE").arg(key).arg(start).arg(stop))
            .await
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

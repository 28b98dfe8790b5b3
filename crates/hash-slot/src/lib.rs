//! Redis Cluster hash slots.
//!
//! Every key of a Redis Cluster lives in one of 16384 hash slots.
//! [`Slot::for_key`] computes it the way the server does: CRC16-XMODEM of the key,
//! or of its hash tag (the part between the first `{` and the next `}`, when that part is not empty),
//! modulo 16384.
//!
//! This crate sits at the bottom of slotmux beside `resp-codec`;
//! `cluster-topology` maps slots to nodes and `cluster-router` routes commands with them.
//!
//! ```
//! use hash_slot::Slot;
//!
//! assert_eq!(Slot::for_key(b"foo").get(), 12182);
//! // Keys that share a hash tag share a slot, so multi-key commands may use them together.
//! assert_eq!(Slot::for_key(b"{user1000}.following"), Slot::for_key(b"{user1000}.followers"));
//! ```
#![deny(missing_docs)]

use std::fmt;

/// One of the 16384 hash slots of a Redis Cluster.
///
/// The value is always below [`Slot::COUNT`]: the only ways to build one check it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Slot(u16);

impl Slot {
    /// The number of hash slots in a Redis Cluster, fixed by the cluster specification.
    pub const COUNT: u16 = 16384;

    /// Returns the slot with number `n`, or `None` when `n` is not below [`Slot::COUNT`].
    pub const fn new(n: u16) -> Option<Slot> {
        if n < Self::COUNT { Some(Slot(n)) } else { None }
    }

    /// Returns the slot a key belongs to, honouring hash tags.
    ///
    /// The rules are the server's: if the key has a `{`, and a `}` follows it with at least one byte
    /// between them, only the bytes between the first `{` and the first `}` after it are hashed.
    /// Otherwise the whole key is hashed. Keys are arbitrary bytes.
    pub fn for_key(key: &[u8]) -> Slot {
        // COUNT is a power of two, so the mask keeps the value in range without a check.
        Slot(crc16_xmodem(hash_tag(key)) & (Self::COUNT - 1))
    }

    /// The slot number, below [`Slot::COUNT`].
    pub const fn get(self) -> u16 {
        self.0
    }

    /// The slot number as an index into a table of [`Slot::COUNT`] entries.
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// Iterates over every slot in ascending order.
    pub fn all() -> impl ExactSizeIterator<Item = Slot> + DoubleEndedIterator {
        (0..Self::COUNT).map(Slot)
    }
}

impl TryFrom<u16> for Slot {
    type Error = SlotOutOfRange;

    fn try_from(n: u16) -> Result<Slot, SlotOutOfRange> {
        Slot::new(n).ok_or(SlotOutOfRange(n))
    }
}

impl From<Slot> for u16 {
    fn from(slot: Slot) -> u16 {
        slot.0
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The error of [`Slot::try_from`]: the number is not below [`Slot::COUNT`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SlotOutOfRange(pub u16);

impl fmt::Display for SlotOutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hash slot {} is out of range 0..{}", self.0, Slot::COUNT)
    }
}

impl std::error::Error for SlotOutOfRange {}

/// Returns the part of `key` that is hashed: its hash tag if it has a non-empty one, else the whole key.
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        let rest = &key[open + 1..];
        if let Some(close) = rest.iter().position(|&b| b == b'}') {
            if close > 0 {
                return &rest[..close];
            }
        }
    }
    key
}

/// CRC16-XMODEM (polynomial 0x1021, initial value 0), the checksum Redis Cluster hashes keys with.
pub fn crc16_xmodem(data: &[u8]) -> u16 {
    crc16::State::<crc16::XMODEM>::calculate(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_matches_the_specification_vector() {
        assert_eq!(crc16_xmodem(b"123456789"), 0x31C3);
    }

    #[test]
    fn slot_new_rejects_out_of_range() {
        assert_eq!(Slot::new(16383).map(Slot::get), Some(16383));
        assert_eq!(Slot::new(16384), None);
        assert_eq!(Slot::try_from(u16::MAX), Err(SlotOutOfRange(u16::MAX)));
    }
}

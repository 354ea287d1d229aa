//! Redis Cluster hash slots, and where they sit on the Chord circle.
//!
//! A key's slot is Redis Cluster's: CRC16 (XMODEM) of the key, or of its `{hash tag}`, modulo
//! 16384. Slot `s` owns the arc of the ring whose top 14 bits are `s`. Inside that arc the
//! lower half (bit 145 clear) holds keys and the upper half (bit 145 set) holds vnode ids:
//!
//! ```text
//!   bits 159..146   bit 145   bits 144..0
//!   slot            0 = key   0, SipHash-1-3-128(key), 16 zero bits
//!                   1 = vnode low bits of SHA-1(host ‖ index)
//! ```
//!
//! Keys are spread over their half-arc by SipHash-1-3 with a fixed, public key
//! ([`POSITION_HASH_KEY`]) rather than SHA-1: hashing was the largest single cost of a
//! pipelined `GET` after the kernel (SHA-1 of a short key ~8 % of the node's CPU, SipHash a
//! fraction of it). Nothing needs a cryptographic hash here: the position only orders keys
//! inside their slot and spreads them over the store's chunks. What matters is that nobody can
//! cheaply make many keys share a position prefix (they would pile into one chunk that cannot
//! split): with SipHash, as with SHA-1, that takes brute force, where a fast unkeyed hash such
//! as xxHash can be inverted for short inputs.
//!
//! So a vnode placed by [`Slot::vnode_id`] sits after every key of its slot and before every
//! key of the next: each vnode owns whole slots, and every slot belongs to exactly one vnode at
//! a time, whatever ids other vnodes chose (two of ours in one slot: the first owns the slot,
//! the second an arc with no keys). A vnode whose id was made otherwise (a Go peer's SHA-1 of
//! host and index) may fall inside a slot's key half and split it; docs/design.md says what
//! happens then.

use std::hash::Hasher;

use dendrite::Id;
use siphasher::sip128::{Hasher128, SipHasher13};

/// The SipHash key of key positions (the bytes of `"dendrite-keypos1"`). Every node of a
/// cluster must use the same one, so it is a constant of the wire format (docs/wire.md §2).
pub const POSITION_HASH_KEY: [u8; 16] = *b"dendrite-keypos1";

/// Number of hash slots, as in Redis Cluster.
pub const SLOT_COUNT: u16 = 16384;

/// Bits of a ring id that hold the slot.
const SLOT_BITS: u32 = 14;

/// One of the 16384 hash slots.
///
/// ```
/// use dtable::Slot;
/// assert_eq!(Slot::of_key(b"foo").number(), 12182);
/// assert_eq!(Slot::of_key(b"{user1000}.following"), Slot::of_key(b"user1000"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot(u16);

/// A slot number outside `0..16384`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("slot {0} is out of range: Redis Cluster slots are 0..=16383")]
pub struct SlotRangeError(pub i64);

impl Slot {
    /// The slot numbered `number`, if it is one.
    pub fn new(number: i64) -> Result<Slot, SlotRangeError> {
        u16::try_from(number)
            .ok()
            .filter(|n| *n < SLOT_COUNT)
            .map(Slot)
            .ok_or(SlotRangeError(number))
    }

    /// The slot of `key`: CRC16 of its hash tag (the bytes between the first `{` and the next
    /// `}`, when that is not empty) or of the whole key, modulo 16384.
    pub fn of_key(key: &[u8]) -> Slot {
        Slot(crc16(hash_tag(key)) % SLOT_COUNT)
    }

    /// The slot whose arc holds ring position `id`.
    pub fn of_id(id: &Id) -> Slot {
        let bytes = id.as_bytes();
        Slot((u16::from(bytes[0]) << 6) | (u16::from(bytes[1]) >> 2))
    }

    /// Every slot, in order.
    pub fn all() -> impl DoubleEndedIterator<Item = Slot> + ExactSizeIterator {
        (0..SLOT_COUNT).map(Slot)
    }

    /// The slot's number, `0..16384`.
    pub fn number(self) -> u16 {
        self.0
    }

    /// The first position of the slot's arc (its first possible key position).
    pub fn start(self) -> Id {
        self.with_low(0x00, 0x00)
    }

    /// The last position a key of this slot can have: the owner of this point owns the slot.
    pub fn last_key(self) -> Id {
        self.with_low(0x01, 0xff)
    }

    /// The last position of the slot's arc.
    pub fn end(self) -> Id {
        self.with_low(0x03, 0xff)
    }

    /// The ring position of `key`, which must be in this slot: the slot's arc (bit 145 clear:
    /// the key half) with SipHash-1-3-128 of the key in bits 143..16 (bit 144 and the lowest 16
    /// bits clear).
    pub fn key_position(self, key: &[u8]) -> Id {
        let mut hasher = SipHasher13::new_with_key(&POSITION_HASH_KEY);
        hasher.write(key);
        let mut low = [0u8; 20];
        low[2..18].copy_from_slice(&hasher.finish128().as_u128().to_be_bytes());
        self.place(&low, 0x00)
    }

    /// A vnode id inside this slot's arc, after every key of the slot: the slot's arc with bit
    /// 145 set and the low 145 bits of `hashed` (for example SHA-1 of host and index, so that
    /// two hosts choosing the same slot still get distinct ids).
    pub fn vnode_id(self, hashed: &Id) -> Id {
        self.place(hashed.as_bytes(), 0x02)
    }

    fn place(self, low: &[u8; 20], half: u8) -> Id {
        let mut bytes = *low;
        let [high, next] = self.high_bytes();
        bytes[0] = high;
        bytes[1] = next | half | (bytes[1] & 0x01);
        Id::new(bytes)
    }

    /// The slot's arc with `bits` in bits 145..144 and every lower byte `fill`.
    fn with_low(self, bits: u8, fill: u8) -> Id {
        let mut bytes = [fill; 20];
        let [high, next] = self.high_bytes();
        bytes[0] = high;
        bytes[1] = next | bits;
        Id::new(bytes)
    }

    /// The slot number as the top 14 bits of two bytes.
    fn high_bytes(self) -> [u8; 2] {
        (self.0 << (16 - SLOT_BITS)).to_be_bytes()
    }
}

/// Ids for the `count` vnodes of the node at `host`, each after the keys of the slot its Go id
/// (SHA-1 of host and index, docs/wire.md §2) falls in: the same ids at every restart on the
/// same address, and every vnode owns whole slots.
pub fn vnode_ids(host: &str, count: u16) -> Vec<Id> {
    (0..count)
        .map(|index| {
            let hashed = Id::of_vnode(host, index);
            Slot::of_id(&hashed).vnode_id(&hashed)
        })
        .collect()
}

/// The part of `key` Redis Cluster hashes: the bytes between the first `{` and the first `}`
/// after it, when there are any; otherwise the whole key (`{}` hashes the whole key).
pub fn hash_tag(key: &[u8]) -> &[u8] {
    let Some(open) = key.iter().position(|b| *b == b'{') else {
        return key;
    };
    let after = &key[open + 1..];
    match after.iter().position(|b| *b == b'}') {
        Some(0) | None => key,
        Some(close) => &after[..close],
    }
}

/// CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), the checksum of Redis Cluster's
/// key hashing.
///
/// Eight bytes at a time from eight 256-entry tables (built at compile time, 4 KiB), then a byte
/// at a time: a byte-wise table (Redis's `crc16.c`) makes every step wait for the one before, 20
/// ns for a 20-byte key here; eight independent lookups per step do not.
pub fn crc16(bytes: &[u8]) -> u16 {
    let mut blocks = bytes.chunks_exact(8);
    let mut crc = 0u16;
    for block in &mut blocks {
        // The CRC so far folds into the block's first two bytes; each byte's share is its
        // table entry advanced by the bytes after it.
        let [high, low] = crc.to_be_bytes();
        crc = CRC16_TABLES[7][usize::from(block[0] ^ high)]
            ^ CRC16_TABLES[6][usize::from(block[1] ^ low)]
            ^ CRC16_TABLES[5][usize::from(block[2])]
            ^ CRC16_TABLES[4][usize::from(block[3])]
            ^ CRC16_TABLES[3][usize::from(block[4])]
            ^ CRC16_TABLES[2][usize::from(block[5])]
            ^ CRC16_TABLES[1][usize::from(block[6])]
            ^ CRC16_TABLES[0][usize::from(block[7])];
    }
    blocks.remainder().iter().fold(crc, |crc, byte| {
        (crc << 8) ^ CRC16_TABLES[0][usize::from((crc >> 8) as u8 ^ *byte)]
    })
}

/// `CRC16_TABLES[k][b]`: the CRC of byte `b` followed by `k` zero bytes. Row 0 is the byte-wise
/// table (one byte's step); each next row feeds one more zero byte through it.
const CRC16_TABLES: [[u16; 256]; 8] = {
    let mut tables = [[0u16; 256]; 8];
    let mut byte = 0;
    while byte < 256 {
        let mut crc = (byte as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        tables[0][byte] = crc;
        byte += 1;
    }
    let mut row = 1;
    while row < 8 {
        let mut byte = 0;
        while byte < 256 {
            let previous = tables[row - 1][byte];
            tables[row][byte] = (previous << 8) ^ tables[0][(previous >> 8) as usize];
            byte += 1;
        }
        row += 1;
    }
    tables
};

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn crc16_matches_the_redis_cluster_spec() {
        // The spec's test vector.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(crc16(b""), 0);
    }

    /// The polynomial applied bit by bit, as the spec writes it: the reference for the table.
    fn crc16_bitwise(bytes: &[u8]) -> u16 {
        bytes.iter().fold(0u16, |crc, byte| {
            let mut crc = crc ^ (u16::from(*byte) << 8);
            for _ in 0..8 {
                crc = if crc & 0x8000 != 0 {
                    (crc << 1) ^ 0x1021
                } else {
                    crc << 1
                };
            }
            crc
        })
    }

    proptest! {
        #[test]
        fn the_sliced_crc_is_the_bitwise_crc(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(crc16(&bytes), crc16_bitwise(&bytes));
        }
    }

    #[test]
    fn slots_match_redis() {
        // Values from `CLUSTER KEYSLOT` on Redis 7.
        assert_eq!(Slot::of_key(b"foo").number(), 12182);
        assert_eq!(Slot::of_key(b"bar").number(), 5061);
        assert_eq!(Slot::of_key(b"").number(), 0);
        assert_eq!(Slot::of_key(b"somekey").number(), 11058);
        assert_eq!(Slot::of_key(b"{user1000}.following").number(), 3443);
        assert_eq!(Slot::of_key(b"foo{}{bar}"), Slot::of_key(b"foo{}{bar}"));
    }

    #[test]
    fn hash_tags_follow_the_spec() {
        assert_eq!(hash_tag(b"{user1000}.following"), b"user1000");
        assert_eq!(hash_tag(b"foo{}{bar}"), b"foo{}{bar}");
        assert_eq!(hash_tag(b"foo{{bar}}zap"), b"{bar");
        assert_eq!(hash_tag(b"foo{bar}{zap}"), b"bar");
        assert_eq!(hash_tag(b"{"), b"{");
        assert_eq!(hash_tag(b"no tag"), b"no tag");
    }

    #[test]
    fn bad_slot_numbers_are_refused() {
        assert_eq!(Slot::new(-1), Err(SlotRangeError(-1)));
        assert_eq!(Slot::new(16384), Err(SlotRangeError(16384)));
        assert_eq!(Slot::new(16383).map(Slot::number), Ok(16383));
    }

    #[test]
    fn arcs_tile_the_ring_in_order() {
        assert_eq!(Slot(0).start(), Id::ZERO);
        assert_eq!(Slot(SLOT_COUNT - 1).end(), Id::MAX);
        for s in [0u16, 1, 77, 8191, 16382] {
            let slot = Slot(s);
            assert_eq!(slot.end().add_pow2(0), Slot(s + 1).start());
            assert!(slot.start() < slot.last_key() && slot.last_key() < slot.end());
            assert_eq!(Slot::of_id(&slot.start()), slot);
            assert_eq!(Slot::of_id(&slot.end()), slot);
        }
    }

    /// A key's position is part of the wire format (ranges, scan cursors): it must never change
    /// from one build to the next.
    #[test]
    fn key_positions_are_pinned() {
        assert_eq!(
            Slot::of_key(b"foo").key_position(b"foo").to_string(),
            "be589db2510d3a03c452c9f0b84748230c760000"
        );
    }

    proptest! {
        #[test]
        fn keys_sit_in_their_slots_key_half(key in prop::collection::vec(any::<u8>(), 0..40)) {
            let slot = Slot::of_key(&key);
            let position = slot.key_position(&key);
            prop_assert_eq!(Slot::of_id(&position), slot);
            prop_assert!(slot.start() <= position && position <= slot.last_key());
        }

        #[test]
        fn vnodes_sit_after_their_slots_keys(bytes in any::<[u8; 20]>(), s in 0u16..SLOT_COUNT) {
            let slot = Slot(s);
            let id = slot.vnode_id(&Id::new(bytes));
            prop_assert_eq!(Slot::of_id(&id), slot);
            prop_assert!(slot.last_key() < id && id <= slot.end());
        }
    }
}

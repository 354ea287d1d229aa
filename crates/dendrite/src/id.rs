//! 160-bit ring identifiers and the arithmetic of the Chord circle.
//!
//! Ids are SHA-1 sized, compared as big-endian unsigned integers, and all arithmetic is modulo
//! 2^160 (docs/wire.md §2). Intervals follow the Chord convention: `(a, a)` is the whole ring except
//! `a` and `(a, a]` is the whole ring, so that a ring of one vnode owns every key. (The Go original
//! treats `(a, a)` as empty; that only matters on a one-vnode ring, where ours is the useful answer.)

use std::fmt;

use sha1::{Digest, Sha1};

/// Number of bits in a ring id (and so the number of fingers per vnode).
pub const ID_BITS: usize = 160;
/// Number of bytes in a ring id.
pub const ID_BYTES: usize = ID_BITS / 8;

/// A position on the Chord ring: a 160-bit unsigned integer, big-endian.
///
/// An `Id` is always exactly 20 bytes; raw byte strings become ids only through
/// [`Id::from_slice`], which rejects any other length.
///
/// Ordering and arithmetic work on two machine words (the top 32 bits and the low 128), not
/// byte by byte: ids are compared and subtracted at every hop of every lookup, and the byte-wise
/// versions (a `memcmp` per comparison) were the simulator's largest cost (docs/simulation.md,
/// *Speed*). Both give the same results as big-endian byte order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Id([u8; ID_BYTES]);

/// A byte string that cannot be a ring id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a ring id is {ID_BYTES} bytes, got {0}: the sender is not speaking Dendrite's wire format"
)]
pub struct IdLengthError(pub usize);

impl Id {
    /// The id 0.
    pub const ZERO: Id = Id([0; ID_BYTES]);
    /// The largest id, 2^160 - 1.
    pub const MAX: Id = Id([0xff; ID_BYTES]);

    /// Wraps 20 raw bytes.
    pub const fn new(bytes: [u8; ID_BYTES]) -> Id {
        Id(bytes)
    }

    /// The id whose first byte is `top` and every other byte zero: `top / 256` of the way round
    /// the ring. For placing vnodes by hand (tests, examples) where only their order matters.
    ///
    /// ```
    /// use dendrite::Id;
    /// assert!(Id::at_top_byte(0x40) < Id::at_top_byte(0x41));
    /// assert_eq!(Id::at_top_byte(0), Id::ZERO);
    /// ```
    pub const fn at_top_byte(top: u8) -> Id {
        let mut bytes = [0; ID_BYTES];
        bytes[0] = top;
        Id(bytes)
    }

    /// Reads an id from a slice that must be exactly 20 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Id, IdLengthError> {
        let array: [u8; ID_BYTES] = bytes.try_into().map_err(|_| IdLengthError(bytes.len()))?;
        Ok(Id(array))
    }

    /// The ring position of a key: SHA-1 of its bytes.
    ///
    /// ```
    /// let position = dendrite::Id::of_key(b"testkey");
    /// assert_eq!(position, dendrite::Id::of_key(b"testkey"));
    /// ```
    pub fn of_key(key: &[u8]) -> Id {
        Id(Sha1::digest(key).into())
    }

    /// The id of virtual node `index` of the node at `host`: SHA-1(host ‖ index as u16 big-endian).
    pub fn of_vnode(host: &str, index: u16) -> Id {
        let mut hasher = Sha1::new();
        hasher.update(host.as_bytes());
        hasher.update(index.to_be_bytes());
        Id(hasher.finalize().into())
    }

    /// The raw big-endian bytes.
    pub const fn as_bytes(&self) -> &[u8; ID_BYTES] {
        &self.0
    }

    /// `self + other` modulo 2^160.
    pub fn wrapping_add(&self, other: &Id) -> Id {
        let (a_high, a_low) = self.words();
        let (b_high, b_low) = other.words();
        let (low, carry) = a_low.overflowing_add(b_low);
        Id::from_words(
            a_high.wrapping_add(b_high).wrapping_add(u32::from(carry)),
            low,
        )
    }

    /// `self - other` modulo 2^160.
    pub fn wrapping_sub(&self, other: &Id) -> Id {
        let (a_high, a_low) = self.words();
        let (b_high, b_low) = other.words();
        let (low, borrow) = a_low.overflowing_sub(b_low);
        Id::from_words(
            a_high.wrapping_sub(b_high).wrapping_sub(u32::from(borrow)),
            low,
        )
    }

    /// The id as two big-endian integers: the top 32 bits and the low 128.
    fn words(&self) -> (u32, u128) {
        let mut high = [0u8; 4];
        let mut low = [0u8; 16];
        high.copy_from_slice(&self.0[..4]);
        low.copy_from_slice(&self.0[4..]);
        (u32::from_be_bytes(high), u128::from_be_bytes(low))
    }

    /// The inverse of [`words`](Self::words).
    fn from_words(high: u32, low: u128) -> Id {
        let mut out = [0u8; ID_BYTES];
        out[..4].copy_from_slice(&high.to_be_bytes());
        out[4..].copy_from_slice(&low.to_be_bytes());
        Id(out)
    }

    /// 2^`exponent`, for `exponent` in `0..160` (wraps to 0 past that, as arithmetic mod 2^160).
    pub fn pow2(exponent: usize) -> Id {
        let mut out = [0u8; ID_BYTES];
        if exponent < ID_BITS {
            out[ID_BYTES - 1 - exponent / 8] = 1 << (exponent % 8);
        }
        Id(out)
    }

    /// `self + 2^exponent` modulo 2^160: the start of finger `exponent` of a vnode at `self`.
    pub fn add_pow2(&self, exponent: usize) -> Id {
        self.wrapping_add(&Id::pow2(exponent))
    }

    /// Clockwise distance from `self` to `to`: `(to - self)` modulo 2^160.
    pub fn distance_to(&self, to: &Id) -> Id {
        to.wrapping_sub(self)
    }

    /// Is `self` in the open interval `(from, to)` going clockwise? `(a, a)` is the ring minus `a`.
    ///
    /// Decided by comparisons alone (no 160-bit subtraction): every write checks its keys'
    /// ownership with this, several times per key.
    pub fn is_between(&self, from: &Id, to: &Id) -> bool {
        words_between(self.words(), from.words(), to.words())
    }

    /// Is `self` in the half-open interval `(from, to]` going clockwise? `(a, a]` is the whole ring.
    pub fn is_between_right_incl(&self, from: &Id, to: &Id) -> bool {
        Id::between_right_incl(from, to)(self)
    }

    /// [`is_between_right_incl`](Id::is_between_right_incl) for many ids and one interval
    /// `(from, to]`: the bounds are read once, each id then costs two or three integer
    /// compares (a write checks every key of its batch against its vnode's range).
    pub fn between_right_incl(from: &Id, to: &Id) -> impl Fn(&Id) -> bool {
        let (from, to) = (from.words(), to.words());
        move |id| {
            let x = id.words();
            x == to || words_between(x, from, to)
        }
    }

    /// The top 64 bits as an integer: handy for ownership fractions and plots.
    pub fn high_u64(&self) -> u64 {
        let mut top = [0u8; 8];
        top.copy_from_slice(&self.0[..8]);
        u64::from_be_bytes(top)
    }

    /// A short hex prefix for logs and spans.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..4])
    }
}

/// [`Id::is_between`] on ids as [`Id::words`] (which order like the ids).
fn words_between(x: (u32, u128), from: (u32, u128), to: (u32, u128)) -> bool {
    match from.cmp(&to) {
        std::cmp::Ordering::Less => from < x && x < to,
        // The interval wraps past zero.
        std::cmp::Ordering::Greater => from < x || x < to,
        std::cmp::Ordering::Equal => x != from,
    }
}

impl Ord for Id {
    /// Big-endian unsigned order, the same as comparing the bytes.
    fn cmp(&self, other: &Id) -> std::cmp::Ordering {
        self.words().cmp(&other.words())
    }
}

impl PartialOrd for Id {
    fn partial_cmp(&self, other: &Id) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.short())
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl From<[u8; ID_BYTES]> for Id {
    fn from(bytes: [u8; ID_BYTES]) -> Id {
        Id(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id_from_u128(v: u128) -> Id {
        let mut b = [0u8; ID_BYTES];
        b[4..].copy_from_slice(&v.to_be_bytes());
        Id(b)
    }

    fn any_id() -> impl Strategy<Value = Id> {
        prop::array::uniform20(any::<u8>()).prop_map(Id)
    }

    #[test]
    fn vnode_id_is_sha1_of_host_and_index() {
        let mut input = b"127.0.0.1:5000".to_vec();
        input.extend_from_slice(&2u16.to_be_bytes());
        assert_eq!(Id::of_vnode("127.0.0.1:5000", 2), Id::of_key(&input));
        assert_ne!(
            Id::of_vnode("127.0.0.1:5000", 0),
            Id::of_vnode("127.0.0.1:5000", 1)
        );
    }

    #[test]
    fn key_position_is_known_sha1() {
        // SHA-1("abc") from FIPS 180-1.
        assert_eq!(
            Id::of_key(b"abc").to_string(),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }

    #[test]
    fn wraps_at_two_to_the_160() {
        assert_eq!(Id::MAX.wrapping_add(&Id::pow2(0)), Id::ZERO);
        assert_eq!(Id::ZERO.wrapping_sub(&Id::pow2(0)), Id::MAX);
        assert_eq!(Id::MAX.add_pow2(159).add_pow2(159), Id::MAX);
        assert_eq!(Id::pow2(160), Id::ZERO);
        assert!(Id::ZERO.is_between(&Id::MAX, &Id::pow2(3)));
        assert!(!Id::MAX.is_between(&Id::MAX, &Id::pow2(3)));
        assert!(Id::pow2(3).is_between_right_incl(&Id::MAX, &Id::pow2(3)));
    }

    #[test]
    fn degenerate_intervals_cover_the_ring() {
        let a = id_from_u128(7);
        assert!(!a.is_between(&a, &a));
        assert!(a.is_between_right_incl(&a, &a));
        assert!(id_from_u128(8).is_between(&a, &a));
    }

    proptest! {
        #[test]
        fn add_then_sub_is_identity(a in any_id(), b in any_id()) {
            prop_assert_eq!(a.wrapping_add(&b).wrapping_sub(&b), a);
        }

        #[test]
        fn addition_commutes(a in any_id(), b in any_id()) {
            prop_assert_eq!(a.wrapping_add(&b), b.wrapping_add(&a));
        }

        #[test]
        fn small_values_match_u128(x in any::<u64>(), y in any::<u64>()) {
            let sum = u128::from(x) + u128::from(y);
            prop_assert_eq!(id_from_u128(x.into()).wrapping_add(&id_from_u128(y.into())), id_from_u128(sum));
        }

        #[test]
        fn distance_is_consistent(a in any_id(), b in any_id()) {
            prop_assert_eq!(a.wrapping_add(&a.distance_to(&b)), b);
            if a != b {
                // Going around the ring both ways adds up to 2^160, i.e. 0.
                prop_assert_eq!(a.distance_to(&b).wrapping_add(&b.distance_to(&a)), Id::ZERO);
            }
        }

        #[test]
        fn between_partitions_the_ring(a in any_id(), b in any_id(), x in any_id()) {
            prop_assume!(a != b && x != a && x != b);
            // Every other point is on exactly one side of the chord a-b.
            prop_assert!(x.is_between(&a, &b) ^ x.is_between(&b, &a));
        }

        #[test]
        fn endpoints_are_excluded(a in any_id(), b in any_id()) {
            prop_assert!(!a.is_between(&a, &b));
            prop_assert!(!b.is_between(&a, &b));
            prop_assert!(b.is_between_right_incl(&a, &b));
        }

        #[test]
        fn between_agrees_with_distance(a in any_id(), b in any_id(), x in any_id()) {
            let inside = x.is_between(&a, &b);
            let by_distance = a.distance_to(&x) > Id::ZERO
                && (a == b || a.distance_to(&x) < a.distance_to(&b));
            prop_assert_eq!(inside, by_distance);
        }

        #[test]
        fn between_agrees_with_distance_on_a_small_ring(a in 0u128..6, b in 0u128..6, x in 0u128..6) {
            // Few distinct ids, so that endpoints coincide often.
            let (a, b, x) = (id_from_u128(a), id_from_u128(b), id_from_u128(x));
            let by_distance = a.distance_to(&x) > Id::ZERO
                && (a == b || a.distance_to(&x) < a.distance_to(&b));
            prop_assert_eq!(x.is_between(&a, &b), by_distance);
            prop_assert_eq!(x.is_between_right_incl(&a, &b), x == b || by_distance);
        }

        #[test]
        fn finger_starts_wrap(a in any_id(), i in 0usize..160) {
            let start = a.add_pow2(i);
            prop_assert_eq!(a.distance_to(&start), Id::pow2(i));
        }

        #[test]
        fn word_arithmetic_matches_bytes(a in any_id(), b in any_id()) {
            // The byte-wise definitions the word versions replaced.
            prop_assert_eq!(a.cmp(&b), a.0.cmp(&b.0));
            let mut sum = [0u8; ID_BYTES];
            let mut difference = [0u8; ID_BYTES];
            let (mut carry, mut borrow) = (0u16, 0i16);
            for i in (0..ID_BYTES).rev() {
                let s = u16::from(a.0[i]) + u16::from(b.0[i]) + carry;
                sum[i] = s as u8;
                carry = s >> 8;
                let d = i16::from(a.0[i]) - i16::from(b.0[i]) - borrow;
                borrow = i16::from(d < 0);
                difference[i] = d.rem_euclid(256) as u8;
            }
            prop_assert_eq!(a.wrapping_add(&b), Id(sum));
            prop_assert_eq!(a.wrapping_sub(&b), Id(difference));
        }

        #[test]
        fn from_slice_rejects_other_lengths(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let parsed = Id::from_slice(&bytes);
            prop_assert_eq!(parsed.is_ok(), bytes.len() == ID_BYTES);
        }
    }
}

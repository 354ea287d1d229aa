//! Intervals of the ring, `(from, to]` with wrap-around, and their division into digest buckets.
//!
//! A vnode owns the keys in `(predecessor, self]`, so every range the table scans, hands off or
//! compares has that shape. `from == to` is the whole ring (a ring of one vnode owns everything),
//! matching [`Id::is_between_right_incl`]. An empty range cannot be expressed, on purpose: nothing
//! in the table needs one, and it would be ambiguous with the whole ring.

use dendrite::Id;

/// The most buckets a range can be divided into for digests (bounds the size of a digest reply).
pub const MAX_BUCKETS: usize = 4096;

/// The ring interval `(from, to]`, going clockwise; `from == to` is the whole ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IdRange {
    /// Exclusive start (typically the predecessor of the owning vnode).
    pub from: Id,
    /// Inclusive end (typically the owning vnode's id).
    pub to: Id,
}

impl IdRange {
    /// The interval `(from, to]`.
    pub fn new(from: Id, to: Id) -> IdRange {
        IdRange { from, to }
    }

    /// The whole ring, scanned starting just after `start`.
    pub fn whole_ring(start: Id) -> IdRange {
        IdRange {
            from: start,
            to: start,
        }
    }

    /// Is this the whole ring?
    pub fn is_whole_ring(&self) -> bool {
        self.from == self.to
    }

    /// Does the range contain `id`?
    pub fn contains(&self, id: &Id) -> bool {
        id.is_between_right_incl(&self.from, &self.to)
    }

    /// Does the range contain every one of `ids`? ([`contains`](Self::contains) with the
    /// bounds read once.)
    pub fn contains_all(&self, ids: impl IntoIterator<Item = Id>) -> bool {
        let contains = Id::between_right_incl(&self.from, &self.to);
        ids.into_iter().all(|id| contains(&id))
    }

    /// Number of ids in the range, minus one (so the whole ring, 2^160 ids, fits in an [`Id`]).
    fn span_minus_one(&self) -> Id {
        self.from.distance_to(&self.to).wrapping_sub(&ONE)
    }

    /// Rank of a contained `id` in ring order from the start of the range: 0 for the first id.
    fn position(&self, id: &Id) -> Id {
        self.from.distance_to(id).wrapping_sub(&ONE)
    }

    /// The range as at most two inclusive linear segments `[lo, hi]`, in ring order.
    pub(crate) fn segments(&self) -> Vec<(Id, Id)> {
        let first = self.from.wrapping_add(&ONE);
        if self.from == Id::MAX {
            // The range starts at 0 and does not wrap.
            let end = if self.is_whole_ring() {
                Id::MAX
            } else {
                self.to
            };
            return vec![(Id::ZERO, end)];
        }
        if self.from < self.to {
            vec![(first, self.to)]
        } else {
            // Wraps (or is the whole ring): up to the top, then from zero to `to`.
            vec![(first, Id::MAX), (Id::ZERO, self.to)]
        }
    }

    /// Divides the range into `count` contiguous buckets of (nearly) equal width, in ring order.
    ///
    /// `count` is clamped to `1..=MAX_BUCKETS`. Both ends of an anti-entropy comparison divide
    /// the same range the same way, so bucket `i` means the same ids on both.
    pub fn buckets(&self, count: usize) -> Buckets {
        let count = count.clamp(1, MAX_BUCKETS);
        let n = count as u64;
        // span = s + 1, possibly 2^160; compute q, r with span = q * n + r without representing it.
        let s = self.span_minus_one();
        let (q0, r0) = divmod_small(&s, n);
        let (q, r) = if r0 + 1 == n {
            (q0.wrapping_add(&ONE), 0)
        } else {
            (q0, r0 + 1)
        };
        // Offset of the start of bucket i: floor(span * i / n) = q*i + floor(r*i/n).
        let starts = (0..count as u64)
            .map(|i| {
                let extra = u64::try_from(u128::from(r) * u128::from(i) / u128::from(n))
                    .unwrap_or(u64::MAX);
                mul_small(&q, i).wrapping_add(&from_u64(extra))
            })
            .collect();
        Buckets {
            range: *self,
            starts,
        }
    }
}

/// A range divided into buckets (see [`IdRange::buckets`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Buckets {
    range: IdRange,
    /// `starts[i]`: position (rank in the range) of the first id of bucket `i`; `starts[0] == 0`.
    starts: Vec<Id>,
}

impl Buckets {
    /// Number of buckets.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Always false: a division has at least one bucket.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// The range that was divided.
    pub fn range(&self) -> IdRange {
        self.range
    }

    /// The bucket holding `id`, or `None` if the range does not contain `id`.
    pub fn bucket_of(&self, id: &Id) -> Option<usize> {
        if !self.range.contains(id) {
            return None;
        }
        let position = self.range.position(id);
        Some(self.starts.partition_point(|start| *start <= position) - 1)
    }

    /// The ids of bucket `index` as a range, or `None` if the index is out of bounds or the
    /// bucket is empty (a range narrower than its bucket count).
    pub fn bucket_range(&self, index: usize) -> Option<IdRange> {
        let start = self.starts.get(index)?;
        let from = self.range.from.wrapping_add(start);
        let to = match self.starts.get(index + 1) {
            Some(next) if next == start => return None,
            Some(next) => self.range.from.wrapping_add(next),
            // The last bucket is never empty: it ends where the range ends.
            None => self.range.to,
        };
        Some(IdRange { from, to })
    }
}

const ONE: Id = {
    let mut bytes = [0u8; dendrite::id::ID_BYTES];
    bytes[dendrite::id::ID_BYTES - 1] = 1;
    Id::new(bytes)
};

fn from_u64(value: u64) -> Id {
    let mut bytes = [0u8; dendrite::id::ID_BYTES];
    bytes[dendrite::id::ID_BYTES - 8..].copy_from_slice(&value.to_be_bytes());
    Id::new(bytes)
}

/// `(x / d, x % d)` for a 160-bit `x` and a nonzero small divisor.
fn divmod_small(x: &Id, d: u64) -> (Id, u64) {
    let d = u128::from(d.max(1));
    let mut quotient = [0u8; dendrite::id::ID_BYTES];
    let mut remainder: u128 = 0;
    for (i, byte) in x.as_bytes().iter().enumerate() {
        let current = (remainder << 8) | u128::from(*byte);
        // current < d * 256, so the digit fits in a byte.
        quotient[i] = u8::try_from(current / d).unwrap_or(u8::MAX);
        remainder = current % d;
    }
    (Id::new(quotient), u64::try_from(remainder).unwrap_or(0))
}

/// `x * m` modulo 2^160.
fn mul_small(x: &Id, m: u64) -> Id {
    let mut product = [0u8; dendrite::id::ID_BYTES];
    let mut carry: u128 = 0;
    for i in (0..dendrite::id::ID_BYTES).rev() {
        let current = u128::from(x.as_bytes()[i]) * u128::from(m) + carry;
        product[i] = (current & 0xff) as u8;
        carry = current >> 8;
    }
    Id::new(product)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(v: u64) -> Id {
        from_u64(v)
    }

    fn any_id() -> impl Strategy<Value = Id> {
        prop::array::uniform20(any::<u8>()).prop_map(Id::new)
    }

    #[test]
    fn segments_cover_plain_wrapping_and_whole_ranges() {
        assert_eq!(IdRange::new(id(1), id(5)).segments(), vec![(id(2), id(5))]);
        assert_eq!(
            IdRange::new(id(5), id(1)).segments(),
            vec![(id(6), Id::MAX), (Id::ZERO, id(1))]
        );
        assert_eq!(
            IdRange::whole_ring(id(5)).segments(),
            vec![(id(6), Id::MAX), (Id::ZERO, id(5))]
        );
        assert_eq!(
            IdRange::whole_ring(Id::MAX).segments(),
            vec![(Id::ZERO, Id::MAX)]
        );
        assert_eq!(
            IdRange::new(Id::MAX, id(3)).segments(),
            vec![(Id::ZERO, id(3))]
        );
        assert_eq!(
            IdRange::new(id(3), Id::MAX).segments(),
            vec![(id(4), Id::MAX)]
        );
    }

    #[test]
    fn small_range_buckets_are_exact() {
        // (10, 20]: ten ids split into 4 buckets of widths 2, 3, 2, 3.
        let buckets = IdRange::new(id(10), id(20)).buckets(4);
        let ranges: Vec<_> = (0..4).map(|i| buckets.bucket_range(i)).collect();
        assert_eq!(
            ranges,
            vec![
                Some(IdRange::new(id(10), id(12))),
                Some(IdRange::new(id(12), id(15))),
                Some(IdRange::new(id(15), id(17))),
                Some(IdRange::new(id(17), id(20))),
            ]
        );
        assert_eq!(buckets.bucket_of(&id(11)), Some(0));
        assert_eq!(buckets.bucket_of(&id(13)), Some(1));
        assert_eq!(buckets.bucket_of(&id(20)), Some(3));
        assert_eq!(buckets.bucket_of(&id(10)), None);
        assert_eq!(buckets.bucket_range(4), None);
    }

    #[test]
    fn narrow_range_has_empty_buckets_not_whole_ring_ones() {
        let buckets = IdRange::new(id(10), id(12)).buckets(4);
        let present: Vec<_> = (0..4).filter_map(|i| buckets.bucket_range(i)).collect();
        assert_eq!(present.len(), 2);
        assert!(present.iter().all(|r| !r.is_whole_ring()));
    }

    #[test]
    fn whole_ring_single_bucket_is_the_whole_ring() {
        let buckets = IdRange::whole_ring(id(7)).buckets(1);
        assert_eq!(buckets.bucket_range(0), Some(IdRange::whole_ring(id(7))));
        assert_eq!(buckets.bucket_of(&id(7)), Some(0));
    }

    #[test]
    fn whole_ring_halves_meet_at_the_opposite_point() {
        let buckets = IdRange::whole_ring(Id::ZERO).buckets(2);
        let half = Id::pow2(159);
        assert_eq!(buckets.bucket_range(0), Some(IdRange::new(Id::ZERO, half)));
        assert_eq!(buckets.bucket_range(1), Some(IdRange::new(half, Id::ZERO)));
    }

    #[test]
    fn arithmetic_helpers_agree_with_u128() {
        let x = id(1_000_003);
        assert_eq!(divmod_small(&x, 7), (id(1_000_003 / 7), 1_000_003 % 7));
        assert_eq!(mul_small(&x, 13), id(13_000_039));
    }

    proptest! {
        /// `contains_all` answers as `contains` on each id, endpoints and whole ring included.
        #[test]
        fn contains_all_is_contains_on_each(
            from in any_id(),
            to in any_id(),
            whole in any::<bool>(),
            ids in proptest::collection::vec(any_id(), 0..6),
            endpoints in any::<u8>(),
        ) {
            let to = if whole { from } else { to };
            let range = IdRange::new(from, to);
            let mut ids = ids;
            if endpoints & 1 != 0 {
                ids.push(from);
            }
            if endpoints & 2 != 0 {
                ids.push(to);
            }
            let expected = ids.iter().all(|id| range.contains(id));
            prop_assert_eq!(range.contains_all(ids.iter().copied()), expected);
            for id in &ids {
                prop_assert_eq!(range.contains_all([*id]), range.contains(id));
            }
        }

        #[test]
        fn buckets_partition_the_range(from in any_id(), to in any_id(), count in 1usize..80, probe in any_id()) {
            let range = IdRange::new(from, to);
            let buckets = range.buckets(count);
            prop_assert_eq!(buckets.len(), count);
            // The non-empty buckets tile the range: each starts where the previous ended.
            let tiles: Vec<IdRange> = (0..count).filter_map(|i| buckets.bucket_range(i)).collect();
            prop_assert_eq!(tiles.first().map(|t| t.from), Some(from));
            prop_assert_eq!(tiles.last().map(|t| t.to), Some(to));
            for pair in tiles.windows(2) {
                prop_assert_eq!(pair[0].to, pair[1].from);
            }
            // Any id is in the bucket whose range contains it.
            match buckets.bucket_of(&probe) {
                None => prop_assert!(!range.contains(&probe)),
                Some(i) => {
                    let tile = buckets.bucket_range(i);
                    prop_assert!(tile.is_some());
                    prop_assert!(tile.is_some_and(|t| t.contains(&probe)));
                }
            }
        }

        #[test]
        fn segments_agree_with_contains(from in any_id(), to in any_id(), probe in any_id()) {
            let range = IdRange::new(from, to);
            let in_segment = range.segments().iter().any(|(lo, hi)| *lo <= probe && probe <= *hi);
            prop_assert_eq!(in_segment, range.contains(&probe));
        }
    }
}

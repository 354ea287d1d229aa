//! The owner of a key on a sorted ring, found by a search among the few vnodes that share the
//! key's top bits rather than the whole ring.
//!
//! At 10^5 nodes a binary search over the whole ring missed the cache at nearly every level; it
//! was most of load-balance's run time at 10^7 keys and the largest symbol of path-length's
//! correctness check (docs/simulation.md, *Speed*). The owner found is the same as
//! `dendrite::chord::successor_of`'s.

use dendrite::{Id, Vnode};

/// Where the vnodes whose ids start with each `bits`-bit prefix begin in a sorted ring.
pub struct OwnerIndex {
    bits: u32,
    /// `starts[p]`: index of the first vnode whose prefix is `p` or more; one extra entry at the
    /// end holds the number of vnodes.
    starts: Vec<usize>,
}

impl OwnerIndex {
    /// The index of `sorted` (sorted by id): about one prefix per vnode, at most 2^22.
    pub fn new(sorted: &[Vnode]) -> OwnerIndex {
        let bits = sorted
            .len()
            .next_power_of_two()
            .trailing_zeros()
            .clamp(1, 22);
        let mut starts = Vec::with_capacity((1 << bits) + 1);
        let mut at = 0;
        for prefix in 0..=(1u64 << bits) {
            while sorted
                .get(at)
                .is_some_and(|v| OwnerIndex::prefix(bits, &v.id) < prefix)
            {
                at += 1;
            }
            starts.push(at);
        }
        OwnerIndex { bits, starts }
    }

    fn prefix(bits: u32, id: &Id) -> u64 {
        id.high_u64() >> (64 - bits)
    }

    /// Position in `sorted` (the ring this index was built from) of the first vnode at or after
    /// `key`, wrapping to 0 past the last.
    pub fn position(&self, sorted: &[Vnode], key: &Id) -> usize {
        // Every vnode before the key's prefix range is below the key, every one after is above.
        let p = usize::try_from(OwnerIndex::prefix(self.bits, key)).unwrap_or(usize::MAX);
        let (lo, hi) = match (self.starts.get(p), self.starts.get(p.saturating_add(1))) {
            (Some(&lo), Some(&hi)) => (lo, hi),
            _ => (0, sorted.len()),
        };
        let at = lo
            + sorted
                .get(lo..hi)
                .map_or(0, |range| range.partition_point(|v| v.id < *key));
        if at >= sorted.len() {
            0
        } else {
            at
        }
    }

    /// The first vnode at or after `key` in `sorted`, as `dendrite::chord::successor_of`.
    pub fn successor<'a>(&self, sorted: &'a [Vnode], key: &Id) -> Option<&'a Vnode> {
        sorted.get(self.position(sorted, key))
    }
}

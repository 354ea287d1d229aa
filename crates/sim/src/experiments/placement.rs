//! Where keys land: the vnode ids of a seeded set of hosts, and the owner of a key by Chord's
//! rule (the first vnode at or after it). The static experiments (load balance, virtual nodes,
//! replicas) need nothing more than this, so they skip the network.

use dendrite::{Id, Vnode};
use rand::Rng;

use crate::naming;

/// Every vnode of `nodes` hosts, sorted by id, with the index of the host each belongs to.
pub struct Placement {
    vnodes: Vec<Vnode>,
    hosts: Vec<usize>,
    nodes: usize,
    buckets: Buckets,
}

/// Where the vnodes whose ids start with each `bits`-bit prefix begin in the sorted list: a key
/// then needs a search among the few vnodes of its own prefix only, not of the whole ring.
/// At 10^5 nodes and 10^7 keys the whole-ring search missed the cache at every level and was
/// most of the run (docs/simulation.md, *Speed*); the owner found is the same.
struct Buckets {
    bits: u32,
    /// `starts[p]`: index of the first vnode whose prefix is `p` or more; one extra entry at the
    /// end holds the number of vnodes.
    starts: Vec<usize>,
}

impl Buckets {
    /// About one prefix per vnode, at most 2^22 of them.
    fn new(sorted: &[Vnode]) -> Buckets {
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
                .is_some_and(|v| Buckets::prefix(bits, &v.id) < prefix)
            {
                at += 1;
            }
            starts.push(at);
        }
        Buckets { bits, starts }
    }

    fn prefix(bits: u32, id: &Id) -> u64 {
        id.high_u64() >> (64 - bits)
    }

    /// The range of vnodes that share `key`'s prefix.
    fn around(&self, key: &Id) -> (usize, usize) {
        let p = usize::try_from(Buckets::prefix(self.bits, key)).unwrap_or(usize::MAX);
        match (self.starts.get(p), self.starts.get(p.saturating_add(1))) {
            (Some(&lo), Some(&hi)) => (lo, hi),
            _ => (0, self.starts.last().copied().unwrap_or(0)),
        }
    }
}

impl Placement {
    /// The vnodes of hosts `0..nodes` named under `seed`, `per_node` vnodes each, with ids as
    /// the ring computes them (`Vnode::local`).
    pub fn new(seed: u64, nodes: usize, per_node: u16) -> Placement {
        let mut all: Vec<(Vnode, usize)> = (0..nodes)
            .flat_map(|n| {
                let host = naming::host(seed, n);
                (0..per_node).map(move |i| (Vnode::local(&host, i), n))
            })
            .collect();
        all.sort_by_key(|(v, _)| v.id);
        let (vnodes, hosts): (Vec<Vnode>, Vec<usize>) = all.into_iter().unzip();
        let buckets = Buckets::new(&vnodes);
        Placement {
            vnodes,
            hosts,
            nodes,
            buckets,
        }
    }

    /// Number of hosts.
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// The vnodes, sorted by id.
    pub fn vnodes(&self) -> &[Vnode] {
        &self.vnodes
    }

    /// Position in [`vnodes`](Self::vnodes) of the vnode that owns `key`, the same vnode as
    /// `dendrite::chord::successor_of`.
    pub fn owner_position(&self, key: &Id) -> usize {
        // Every vnode before the key's prefix range is below the key, every one after is above.
        let (lo, hi) = self.buckets.around(key);
        let at = lo
            + self
                .vnodes
                .get(lo..hi)
                .map_or(0, |range| range.partition_point(|v| v.id < *key));
        if at == self.vnodes.len() {
            0
        } else {
            at
        }
    }

    /// The host index of the vnode at `position`.
    pub fn host_at(&self, position: usize) -> usize {
        self.hosts.get(position).copied().unwrap_or(0)
    }

    /// Keys per host for `keys` random keys.
    pub fn keys_per_host(&self, rng: &mut impl Rng, keys: usize) -> Vec<u32> {
        let mut counts = vec![0u32; self.nodes];
        for _ in 0..keys {
            let key = random_id(rng);
            if let Some(c) = counts.get_mut(self.host_at(self.owner_position(&key))) {
                *c += 1;
            }
        }
        counts
    }
}

/// A uniformly random ring position.
pub fn random_id(rng: &mut impl Rng) -> Id {
    Id::new(rng.gen())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dendrite::chord::successor_of;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    #[test]
    fn owners_agree_with_the_ring_rule() {
        let p = Placement::new(3, 50, 3);
        assert_eq!(p.vnodes().len(), 150);
        let mut rng = SmallRng::seed_from_u64(1);
        let mut keys: Vec<Id> = (0..1000).map(|_| random_id(&mut rng)).collect();
        // The edges of the prefix ranges, and every vnode's id and its neighbours.
        keys.extend([Id::ZERO, Id::MAX]);
        for v in p.vnodes() {
            keys.extend([v.id, v.id.add_pow2(0), v.id.wrapping_sub(&Id::pow2(0))]);
        }
        for key in keys {
            let owner = &p.vnodes()[p.owner_position(&key)];
            assert_eq!(owner, &successor_of(p.vnodes(), &key));
        }
        // One vnode: one prefix range holds it, the others are empty.
        let one = Placement::new(4, 1, 1);
        for _ in 0..100 {
            assert_eq!(one.owner_position(&random_id(&mut rng)), 0);
        }
        assert_eq!(p.keys_per_host(&mut rng, 999).iter().sum::<u32>(), 999);
    }
}

//! Where keys land: the vnode ids of a seeded set of hosts, and the owner of a key by Chord's
//! rule (the first vnode at or after it). The static experiments (load balance, virtual nodes,
//! replicas) need nothing more than this, so they skip the network.

use dendrite::{Id, Vnode};
use rand::Rng;

use super::owner_index::OwnerIndex;
use crate::naming;

/// Every vnode of `nodes` hosts, sorted by id, with the index of the host each belongs to.
pub struct Placement {
    vnodes: Vec<Vnode>,
    hosts: Vec<usize>,
    nodes: usize,
    owners: OwnerIndex,
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
        let owners = OwnerIndex::new(&vnodes);
        Placement {
            vnodes,
            hosts,
            nodes,
            owners,
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
        self.owners.position(&self.vnodes, key)
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

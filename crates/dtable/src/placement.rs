//! Where the copies of a key live: its primary and its replicas on distinct hosts.
//!
//! A node runs several vnodes, so the vnodes following a key's primary often belong to the same
//! machine. Copies on one machine die together; replicas are therefore chosen as the next vnodes
//! whose *host* differs from the primary's and from each other's.

use std::collections::HashSet;

use dendrite::Vnode;

/// The copies of one key: the vnode that owns it and the vnodes that hold its replicas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The vnode succeeding the key: it orders and acknowledges writes, and serves reads.
    pub primary: Vnode,
    /// Replica holders in ring order, each on a host of its own (never the primary's).
    pub replicas: Vec<Vnode>,
}

/// A placement could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    /// The successor list was empty.
    #[error("no successors to place the key on: the ring has no live vnode yet (wait for join)")]
    NoSuccessors,
}

impl Placement {
    /// Places a key given the vnodes that succeed it, in ring order (the answer of a
    /// find-successors lookup): the first is the primary; replicas are the following vnodes on
    /// hosts not yet used, up to `replicas` of them (fewer if the list has too few hosts; ask
    /// for more successors than replicas so that co-hosted vnodes can be skipped).
    pub fn from_successors(
        successors: &[Vnode],
        replicas: usize,
    ) -> Result<Placement, PlacementError> {
        let (primary, rest) = successors
            .split_first()
            .ok_or(PlacementError::NoSuccessors)?;
        let mut hosts: HashSet<&str> = HashSet::from([primary.host.as_ref()]);
        let chosen = rest
            .iter()
            .filter(|vnode| hosts.insert(vnode.host.as_ref()))
            .take(replicas)
            .cloned()
            .collect();
        Ok(Placement {
            primary: primary.clone(),
            replicas: chosen,
        })
    }

    /// Every copy holder: the primary, then the replicas.
    pub fn copies(&self) -> impl Iterator<Item = &Vnode> {
        std::iter::once(&self.primary).chain(&self.replicas)
    }

    /// Number of copies this placement can hold (`1 + replicas.len()`): the highest write or
    /// read consistency it can satisfy right now.
    pub fn copy_count(&self) -> usize {
        1 + self.replicas.len()
    }

    /// Is `vnode` one of the copy holders?
    pub fn holds(&self, vnode: &Vnode) -> bool {
        self.copies().any(|copy| copy == vnode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn vn(host: &str, index: u16) -> Vnode {
        Vnode::local(host, index)
    }

    #[test]
    fn replicas_skip_the_primarys_host_and_repeats() {
        let successors = vec![
            vn("a:1", 0),
            vn("a:1", 1),
            vn("b:1", 0),
            vn("b:1", 1),
            vn("a:1", 2),
            vn("c:1", 0),
            vn("d:1", 0),
        ];
        let placement = Placement::from_successors(&successors, 2).unwrap();
        assert_eq!(placement.primary, vn("a:1", 0));
        assert_eq!(placement.replicas, vec![vn("b:1", 0), vn("c:1", 0)]);
        assert_eq!(placement.copy_count(), 3);
        assert!(placement.holds(&vn("c:1", 0)));
        assert!(!placement.holds(&vn("d:1", 0)));
    }

    #[test]
    fn too_few_hosts_gives_fewer_replicas() {
        let successors = vec![vn("a:1", 0), vn("a:1", 1), vn("b:1", 0)];
        let placement = Placement::from_successors(&successors, 3).unwrap();
        assert_eq!(placement.replicas, vec![vn("b:1", 0)]);
        let alone = Placement::from_successors(&successors[..2], 3).unwrap();
        assert!(alone.replicas.is_empty());
        assert_eq!(alone.copies().count(), 1);
    }

    #[test]
    fn zero_replicas_and_empty_lists() {
        let placement = Placement::from_successors(&[vn("a:1", 0), vn("b:1", 0)], 0).unwrap();
        assert!(placement.replicas.is_empty());
        assert_eq!(
            Placement::from_successors(&[], 2),
            Err(PlacementError::NoSuccessors)
        );
    }

    proptest! {
        #[test]
        fn copies_are_on_distinct_hosts(hosts in prop::collection::vec(0u8..6, 1..30), replicas in 0usize..5) {
            let successors: Vec<Vnode> = hosts.iter().enumerate()
                .map(|(i, h)| vn(&format!("h{h}:1"), i as u16))
                .collect();
            let placement = Placement::from_successors(&successors, replicas).unwrap();
            let copy_hosts: Vec<&str> = placement.copies().map(|v| v.host.as_ref()).collect();
            let distinct: HashSet<&str> = copy_hosts.iter().copied().collect();
            prop_assert_eq!(distinct.len(), copy_hosts.len());
            let available = hosts.iter().collect::<HashSet<_>>().len() - 1;
            prop_assert_eq!(placement.replicas.len(), replicas.min(available));
            // Replicas keep ring order.
            let positions: Vec<usize> = placement.replicas.iter()
                .map(|r| successors.iter().position(|s| s == r).unwrap())
                .collect();
            prop_assert!(positions.windows(2).all(|w| w[0] < w[1]));
        }
    }
}

//! Which local ranges are complete, and which lack copies: the ledger of anti-entropy rounds.
//!
//! A vnode that has just taken a range over (after a failure, a join, a heal) holds only what
//! it held before: a key missing from its store may still live on the previous holders. So a
//! vnode is **authoritative** for a key — its "not found" means absent — only once a round of
//! anti-entropy with its replica set has completed for the key's range *and* nothing changed
//! since that could have put writes elsewhere:
//!
//! - the range the vnode owns now is inside the range it synchronised (a predecessor that
//!   joined in between shrinks it; one that left grows the range past what was synchronised);
//! - the replica set is the one it synchronised with (a changed set may be a healed partition
//!   whose other side took writes);
//! - no replica restarted since (a node that restarts on the same address comes back with the
//!   same vnode ids and an empty store: the ring alone cannot tell; its *incarnation* can).
//!
//! The same facts say when a range lacks copies ([`Ledger::underreplicated`]): the gauge that
//! tells an operator when the durability guarantee holds again after a failure, and the list of
//! ranges the table re-replicates first.

use std::collections::HashMap;

use dendrite::{Id, Vnode};

use crate::position::KeyPosition;
use crate::range::IdRange;

/// A completed anti-entropy round of one local vnode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Round {
    /// The range the round synchronised, `(predecessor, vnode]`; only ever shrinks afterwards.
    pub(crate) range: IdRange,
    /// The replicas it synchronised with, and the incarnation each was running.
    pub(crate) replicas: Vec<(Vnode, u64)>,
}

/// What one local vnode's ring state is now, as the ledger needs it.
#[derive(Clone, Debug)]
pub(crate) struct Current {
    /// The range the vnode owns, `(predecessor, vnode]`; `None` while it knows no predecessor
    /// (a vnode alone on the ring owns the whole ring).
    pub(crate) range: Option<IdRange>,
    /// The replica set.
    pub(crate) replicas: Vec<Vnode>,
}

/// The rounds of every local vnode and the last known incarnation of every peer node.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    rounds: HashMap<Id, Round>,
    /// Peer host -> its incarnation at the last probe, `None` when the probe failed.
    peers: HashMap<String, Option<u64>>,
    /// How often each vnode's round was forgotten, and (`all_forgotten`) every vnode's at once:
    /// a round notes the sum when it starts and counts only if it is unchanged at the end.
    forgotten: HashMap<Id, u64>,
    all_forgotten: u64,
}

impl Ledger {
    /// Where `vnode` stands in forgetting: note it when a round starts, hand it to
    /// [`complete`](Self::complete) at the end.
    pub(crate) fn generation(&self, vnode: &Vnode) -> u64 {
        self.all_forgotten + self.forgotten.get(&vnode.id).copied().unwrap_or(0)
    }

    /// Records a round of `vnode` that synchronised `range` with every one of `replicas`,
    /// unless the vnode's round was forgotten since the round began (`generation`, from
    /// [`generation`](Self::generation)): what it pulled may predate the change that made the
    /// ledger forget. Returns whether it was recorded.
    pub(crate) fn complete(
        &mut self,
        vnode: &Vnode,
        generation: u64,
        range: IdRange,
        replicas: Vec<(Vnode, u64)>,
    ) -> bool {
        if self.generation(vnode) != generation {
            return false;
        }
        for (replica, incarnation) in &replicas {
            self.peers
                .insert(replica.host.to_string(), Some(*incarnation));
        }
        self.rounds.insert(vnode.id, Round { range, replicas });
        true
    }

    /// Forgets `vnode`'s round: its replica set changed. Comparing the set with the round's
    /// later is not enough: a set that changes and changes back (a vnode cut off from its
    /// replicas, then healed) looks unchanged, yet while it was cut off another vnode served
    /// its range and took writes (docs/reliability.md, "Since the last long run", fix 7).
    pub(crate) fn forget(&mut self, vnode: &Vnode) {
        self.rounds.remove(&vnode.id);
        *self.forgotten.entry(vnode.id).or_default() += 1;
    }

    /// Forgets every round: no local vnode is authoritative until it has run a new one (after
    /// this process was stalled, when ranges may have moved without a ring event here, or
    /// when ring events were missed).
    pub(crate) fn forget_rounds(&mut self) {
        self.rounds.clear();
        self.all_forgotten += 1;
    }

    /// `vnode` now owns `now` (`(predecessor, vnode]`): keeps the synchronised range to what it
    /// still owns. A predecessor that joined takes part of the range; if it later leaves, that
    /// part comes back *not* synchronised (writes went to the joiner meanwhile).
    pub(crate) fn shrink(&mut self, vnode: &Vnode, now: IdRange) {
        let Some(round) = self.rounds.get_mut(&vnode.id) else {
            return;
        };
        if span(&now) < span(&round.range) {
            round.range = now;
        }
    }

    /// Records the incarnation a probe of `host` found (`None`: the probe failed). Returns
    /// whether it differs from the incarnation known before (a restart, or news of the host).
    pub(crate) fn probed(&mut self, host: &str, incarnation: Option<u64>) -> bool {
        let before = self.peers.insert(host.to_string(), incarnation);
        incarnation.is_some() && before.flatten() != incarnation
    }

    /// Is `vnode`, in state `current`, authoritative for every key at `positions`?
    pub(crate) fn authoritative(
        &self,
        vnode: &Vnode,
        current: &Current,
        positions: &[KeyPosition],
    ) -> bool {
        let Some(round) = self.settled_round(vnode, current) else {
            return false;
        };
        round
            .range
            .contains_all(positions.iter().map(KeyPosition::id))
    }

    /// Must `vnode` run a round before it is trusted again (see the module docs)?
    pub(crate) fn needs_round(&self, vnode: &Vnode, current: &Current) -> bool {
        self.settled_round(vnode, current).is_none()
    }

    /// Does `vnode` lack copies: it needs a round, a replica did not answer its last probe, or
    /// the ring has fewer other hosts than `replicas` (nothing can be done then but it is true).
    pub(crate) fn underreplicated(
        &self,
        vnode: &Vnode,
        current: &Current,
        replicas: usize,
    ) -> bool {
        if current.replicas.len() < replicas || self.needs_round(vnode, current) {
            return true;
        }
        current
            .replicas
            .iter()
            .any(|r| matches!(self.peers.get(r.host.as_ref()), Some(None)))
    }

    /// The round that still vouches for `vnode`'s copy in state `current`, if any.
    fn settled_round(&self, vnode: &Vnode, current: &Current) -> Option<&Round> {
        let round = self.rounds.get(&vnode.id)?;
        let owned = current.range?;
        if span(&owned) > span(&round.range) {
            return None;
        }
        if round.replicas.len() != current.replicas.len()
            || round
                .replicas
                .iter()
                .zip(&current.replicas)
                .any(|((synced, _), now)| synced != now)
        {
            return None;
        }
        let restarted = round.replicas.iter().any(|(replica, incarnation)| {
            matches!(
                self.peers.get(replica.host.as_ref()),
                Some(Some(seen)) if seen != incarnation
            )
        });
        (!restarted).then_some(round)
    }
}

/// How much of the ring a range ending at a vnode covers, for comparing two ranges with the same
/// end: the whole ring (`from == to`) is the largest.
fn span(range: &IdRange) -> Span {
    if range.is_whole_ring() {
        Span::Whole
    } else {
        Span::Part(range.from.distance_to(&range.to))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Span {
    Part(Id),
    Whole,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vnode(byte: u8, host: &str) -> Vnode {
        let mut id = [0u8; 20];
        id[0] = byte;
        Vnode::new(Id::new(id), host)
    }

    fn id(byte: u8) -> Id {
        let mut id = [0u8; 20];
        id[0] = byte;
        Id::new(id)
    }

    /// A key's position at `id(byte)`.
    fn at(byte: u8) -> KeyPosition {
        KeyPosition::at(id(byte))
    }

    /// The state of the vnode at 0x80 (every test's `me`) with predecessor `pred`.
    fn current(pred: &Vnode, replicas: &[Vnode]) -> Current {
        Current {
            range: Some(IdRange::new(pred.id, id(0x80))),
            replicas: replicas.to_vec(),
        }
    }

    /// me = 0x80 on host a, predecessor 0x40, replicas on b and c.
    fn synced() -> (Ledger, Vnode, Vnode, Vec<Vnode>) {
        let me = vnode(0x80, "a:1");
        let pred = vnode(0x40, "b:1");
        let replicas = vec![vnode(0x90, "b:1"), vnode(0xa0, "c:1")];
        let mut ledger = Ledger::default();
        assert!(ledger.complete(
            &me,
            0,
            IdRange::new(pred.id, me.id),
            replicas.iter().map(|r| (r.clone(), 1)).collect(),
        ));
        (ledger, me, pred, replicas)
    }

    #[test]
    fn a_vnode_without_a_round_is_not_authoritative() {
        let ledger = Ledger::default();
        let me = vnode(0x80, "a:1");
        let now = current(&vnode(0x40, "b:1"), &[]);
        assert!(!ledger.authoritative(&me, &now, &[at(0x50)]));
        assert!(ledger.needs_round(&me, &now));
        assert!(ledger.underreplicated(&me, &now, 0));
    }

    #[test]
    fn a_synchronised_vnode_is_authoritative_for_its_range_only() {
        let (ledger, me, pred, replicas) = synced();
        let now = current(&pred, &replicas);
        assert!(ledger.authoritative(&me, &now, &[at(0x50), at(0x80)]));
        assert!(!ledger.authoritative(&me, &now, &[at(0x50), at(0x30)]));
        assert!(!ledger.underreplicated(&me, &now, 2));
        assert!(
            ledger.underreplicated(&me, &now, 3),
            "fewer hosts than replicas"
        );
    }

    #[test]
    fn a_range_that_grows_is_not_authoritative_until_the_next_round() {
        let (ledger, me, _, replicas) = synced();
        let grown = current(&vnode(0x20, "c:1"), &replicas);
        assert!(!ledger.authoritative(&me, &grown, &[at(0x50)]));
        assert!(ledger.needs_round(&me, &grown));
    }

    #[test]
    fn a_joiner_shrinks_the_synchronised_range_for_good() {
        let (mut ledger, me, pred, replicas) = synced();
        let joiner = vnode(0x60, "d:1");
        ledger.shrink(&me, IdRange::new(joiner.id, me.id));
        assert!(ledger.authoritative(&me, &current(&joiner, &replicas), &[at(0x70)]));
        // The joiner leaves again: the part it owned meanwhile is not vouched for.
        let back = current(&pred, &replicas);
        assert!(!ledger.authoritative(&me, &back, &[at(0x50)]));
        assert!(ledger.needs_round(&me, &back));
    }

    #[test]
    fn a_changed_replica_set_or_a_restarted_replica_needs_a_round() {
        let (mut ledger, me, pred, replicas) = synced();
        let other = vec![replicas[0].clone(), vnode(0xb0, "d:1")];
        assert!(ledger.needs_round(&me, &current(&pred, &other)));
        let now = current(&pred, &replicas);
        ledger.probed("c:1", Some(1));
        assert!(!ledger.needs_round(&me, &now));
        ledger.probed("c:1", None);
        assert!(
            !ledger.needs_round(&me, &now),
            "unreachable is not restarted"
        );
        assert!(ledger.underreplicated(&me, &now, 2), "but it lacks a copy");
        ledger.probed("c:1", Some(2));
        assert!(ledger.needs_round(&me, &now), "restarted: its copy is gone");
    }

    #[test]
    fn a_whole_ring_round_covers_every_later_range() {
        let me = vnode(0x80, "a:1");
        let mut ledger = Ledger::default();
        assert!(ledger.complete(&me, 0, IdRange::whole_ring(me.id), Vec::new()));
        let now = current(&vnode(0x40, "b:1"), &[]);
        assert!(ledger.authoritative(&me, &now, &[at(0x50)]));
        // Alone on the ring: its predecessor is itself, the whole ring.
        assert!(ledger.authoritative(&me, &current(&me, &[]), &[at(0x10)]));
    }

    #[test]
    fn a_replica_set_that_changed_and_changed_back_needs_a_round() {
        let (mut ledger, me, pred, replicas) = synced();
        // Cut off: the set changes (the ring raises ReplicasChanged), then heals back.
        ledger.forget(&me);
        let now = current(&pred, &replicas);
        assert!(!ledger.authoritative(&me, &now, &[at(0x50)]));
        assert!(ledger.needs_round(&me, &now));
    }

    #[test]
    fn a_round_that_spans_a_forget_vouches_for_nothing() {
        let (mut ledger, me, pred, replicas) = synced();
        let began = ledger.generation(&me);
        ledger.forget(&me);
        let synced_with = replicas.iter().map(|r| (r.clone(), 1)).collect();
        assert!(!ledger.complete(&me, began, IdRange::new(pred.id, me.id), synced_with));
        assert!(ledger.needs_round(&me, &current(&pred, &replicas)));
        // The same after every round was forgotten (a stall, missed events).
        let began = ledger.generation(&me);
        ledger.forget_rounds();
        let synced_with = replicas.iter().map(|r| (r.clone(), 1)).collect();
        assert!(!ledger.complete(&me, began, IdRange::new(pred.id, me.id), synced_with));
        // A round that starts after the forget counts.
        let began = ledger.generation(&me);
        let synced_with = replicas.iter().map(|r| (r.clone(), 1)).collect();
        assert!(ledger.complete(&me, began, IdRange::new(pred.id, me.id), synced_with));
        assert!(!ledger.needs_round(&me, &current(&pred, &replicas)));
    }
}

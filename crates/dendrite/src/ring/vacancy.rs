//! What a vnode without a predecessor takes for one when notified (docs/reliability.md,
//! fix 18).
//!
//! Chord's notify rule adopts any notifier while a vnode has no predecessor. That is where a
//! restarted vnode could slip in front of a live vnode it had not met yet: its successor
//! had just forgotten its dead predecessor, took the newcomer, and named it as predecessor
//! when the newcomer asked whether its range was handed over, although a live vnode (the
//! one that held the range's only remaining copy) sat between the two (table simulation,
//! seed 2534). The successor's host often knows that vnode already, from its other vnodes'
//! successor lists and fingers. So a vnode with no predecessor takes the nearest live vnode
//! before it that its host knows of, between the notifier and itself, instead of the
//! notifier: the notifier then learns it as its successor on its next round, and a later
//! notify from a nearer vnode corrects the choice as Chord's rule always does.
//!
//! A vnode this host merely suspects counts too, although lookups route around it, if its host
//! answered within the last two call timeouts: one call to it went unanswered, which one lost
//! message also causes. Taking it for predecessor only makes the vacant vnode claim less,
//! until its predecessor check finds it dead. Passed over, a live vnode's range went to a
//! restarted vnode's sibling while the live vnode went on serving it: two primaries, an `INCR`
//! answered twice (clock seed 462, fix 21). A host silent for longer is cut off or down: its
//! vnodes, taken for predecessors, would be handed on to the vnodes before ours as successors
//! and keep coming back into the successor lists of a partition's side.

use super::{lock, Ring};
use crate::vnode::Vnode;

impl Ring {
    /// The predecessor local vnode `dest`, which has none, takes when `notifier` notifies it:
    /// the nearest vnode before `dest` in `(notifier, dest)` among those this host knows (its
    /// vnodes, their predecessors, successor lists and fingers, and the vnodes it suspects on
    /// hosts heard from lately) and does not hold for dead, else `notifier`.
    pub(super) fn predecessor_for_vacancy(&self, dest: &Vnode, notifier: &Vnode) -> Vnode {
        let now = self.since_start();
        let dead = lock(&self.dead);
        let mut best = notifier.clone();
        let local_host = self.local_host();
        // A vnode of this host that is not one of ours is a ghost of the host's earlier run.
        let ghost = |candidate: &Vnode| {
            *candidate.host == *local_host && !self.vnodes.iter().any(|(v, _)| v.id == candidate.id)
        };
        let mut consider = |candidate: &Vnode| {
            if candidate.id.is_between(&best.id, &dest.id)
                && !dead.is_dead(candidate, now)
                && !ghost(candidate)
            {
                best = candidate.clone();
            }
        };
        for (vnode, state) in &self.vnodes {
            consider(vnode);
            let s = lock(state);
            s.predecessor().into_iter().for_each(&mut consider);
            s.successors().iter().for_each(&mut consider);
            s.fingers().iter().flatten().for_each(&mut consider);
        }
        let lately = now.saturating_sub(self.config.rpc_timeout.saturating_mul(2));
        for suspect in dead.suspects(now) {
            if suspect.id.is_between(&best.id, &dest.id)
                && !ghost(&suspect)
                && self.heard_since(&suspect.host, lately)
            {
                best = suspect;
            }
        }
        best
    }
}

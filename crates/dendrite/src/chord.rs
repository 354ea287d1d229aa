//! The rules of Chord for one vnode, as a plain state machine with no I/O.
//!
//! [`VnodeState`] holds what a vnode knows (predecessor, successor list, fingers) and answers
//! the questions the protocol asks of it: where does a lookup go next, should a notifier become
//! the predecessor, what does a successor list look like after merging a successor's list. The
//! async shell in [`crate::ring`] does the calls and feeds the answers back; tests drive these
//! functions directly (as foca's tests drive its state machine).

use crate::event::RingEvent;
use crate::id::{Id, ID_BITS};
use crate::vnode::Vnode;

pub use crate::dead_vnodes::DeadVnodes;

/// Where a lookup for a key goes from this vnode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The key's successors, nearest first: the lookup is over.
    Successors(Vec<Vnode>),
    /// Ask this vnode next.
    Forward(Vnode),
}

/// What one vnode knows of the ring.
#[derive(Debug, Clone)]
pub struct VnodeState {
    me: Vnode,
    predecessor: Option<Vnode>,
    successors: Vec<Vnode>,
    fingers: Vec<Option<Vnode>>,
    next_finger: usize,
    num_successors: usize,
    replicas: usize,
    replica_set: Vec<Vnode>,
}

impl VnodeState {
    /// A vnode that knows nothing yet.
    pub fn new(me: Vnode, num_successors: usize, replicas: usize) -> VnodeState {
        VnodeState {
            me,
            predecessor: None,
            successors: Vec::new(),
            fingers: vec![None; ID_BITS],
            next_finger: 0,
            num_successors,
            replicas,
            replica_set: Vec::new(),
        }
    }

    /// The vnode this state belongs to.
    pub fn me(&self) -> &Vnode {
        &self.me
    }

    /// The current predecessor, when known.
    pub fn predecessor(&self) -> Option<&Vnode> {
        self.predecessor.as_ref()
    }

    /// The successor list, nearest first; never contains `me`.
    pub fn successors(&self) -> &[Vnode] {
        &self.successors
    }

    /// The finger table: entry `i` is the successor of `me + 2^i`, when known.
    pub fn fingers(&self) -> &[Option<Vnode>] {
        &self.fingers
    }

    /// The vnodes holding replicas of this vnode's range: the first `replicas` successors on
    /// hosts other than ours and each other's.
    pub fn replica_set(&self) -> &[Vnode] {
        &self.replica_set
    }

    /// Replaces everything this vnode knows (simulation bootstrap; see `Ring::install_pointers`,
    /// behind the same `simulation` feature).
    #[cfg(feature = "simulation")]
    pub fn install(
        &mut self,
        predecessor: Option<Vnode>,
        successors: Vec<Vnode>,
        fingers: Vec<Vnode>,
    ) {
        self.predecessor = predecessor.filter(|p| p.id != self.me.id);
        self.set_successors(successors);
        self.fingers = fingers.into_iter().map(Some).collect();
        self.fingers.resize(ID_BITS, None);
    }

    /// Routes a lookup for `key` wanting `n` successors.
    ///
    /// The answer is final when the key falls between us and our successor (our successor list
    /// is its answer) or between our predecessor and us (we are its successor); otherwise the
    /// lookup goes on at the closest vnode we know that precedes the key.
    ///
    /// `n` comes from whoever asks (a peer's `FindSuccessors.limit` reaches up to 2^31-1), so it
    /// is clamped to `1..=num_successors`: we never know more successors than that, and a
    /// stranger's number must not size our allocations.
    pub fn route(&self, key: &Id, n: usize) -> Route {
        let n = n.clamp(1, self.num_successors.max(1));
        let Some(first) = self.successors.first() else {
            return Route::Successors(vec![self.me.clone()]);
        };
        if key.is_between_right_incl(&self.me.id, &first.id) {
            return Route::Successors(self.successors.iter().take(n).cloned().collect());
        }
        if let Some(pred) = &self.predecessor {
            if key.is_between_right_incl(&pred.id, &self.me.id) {
                let mut out = Vec::with_capacity(n);
                out.push(self.me.clone());
                out.extend(self.successors.iter().take(n - 1).cloned());
                return Route::Successors(out);
            }
        }
        Route::Forward(self.closest_preceding(key).unwrap_or_else(|| first.clone()))
    }

    /// The known vnode strictly between us and `key` that is closest to `key`.
    ///
    /// Scans from the far end (the paper's `closest_preceding_finger`): fingers are ordered by
    /// distance, as is the successor list, so the first match from the top of each is the best
    /// of each; only those two are compared. This is the hot loop of every lookup.
    pub fn closest_preceding(&self, key: &Id) -> Option<Vnode> {
        let me = &self.me.id;
        let finger = self
            .fingers
            .iter()
            .rev()
            .flatten()
            .find(|v| v.id.is_between(me, key));
        let successor = self
            .successors
            .iter()
            .rev()
            .find(|v| v.id.is_between(me, key));
        match (finger, successor) {
            (Some(f), Some(s)) if me.distance_to(&s.id) > me.distance_to(&f.id) => Some(s.clone()),
            (Some(f), _) => Some(f.clone()),
            (None, s) => s.cloned(),
        }
    }

    /// A vnode claims to be our predecessor. Adopts it when we have none or it sits between the
    /// current one and us; returns the event to raise.
    pub fn notify(&mut self, candidate: &Vnode) -> Option<RingEvent> {
        if candidate.id == self.me.id {
            return None;
        }
        let adopt = match &self.predecessor {
            None => true,
            Some(p) => candidate.id.is_between(&p.id, &self.me.id),
        };
        if !adopt {
            return None;
        }
        let old = self.predecessor.replace(candidate.clone());
        Some(RingEvent::PredecessorJoined {
            vnode: self.me.clone(),
            old,
            new: candidate.clone(),
        })
    }

    /// Our predecessor stopped answering or left: forget it.
    pub fn predecessor_gone(&mut self, gone: &Vnode) -> Option<RingEvent> {
        if self.predecessor.as_ref() != Some(gone) {
            return None;
        }
        self.predecessor = None;
        Some(RingEvent::PredecessorLeft {
            vnode: self.me.clone(),
            old: gone.clone(),
            new: None,
        })
    }

    /// Replaces the successor list with `candidates`, sorted clockwise from us, without us or
    /// duplicates, cut to the configured length.
    pub fn set_successors(&mut self, candidates: impl IntoIterator<Item = Vnode>) {
        let mut list: Vec<Vnode> = candidates
            .into_iter()
            .filter(|v| v.id != self.me.id)
            .collect();
        list.sort_by_key(|v| self.me.id.distance_to(&v.id));
        list.dedup_by(|a, b| a.id == b.id);
        list.truncate(self.num_successors);
        self.successors = list;
    }

    /// Our successor told us its successor list: ours is it, behind the successor itself.
    ///
    /// The merged list stops where it would wrap past us, so on a small ring it holds every other
    /// vnode once.
    pub fn merge_successor_list(&mut self, successor: &Vnode, theirs: &[Vnode]) {
        let mut list = Vec::with_capacity(self.num_successors);
        list.push(successor.clone());
        for v in theirs {
            if v.id == self.me.id || list.len() >= self.num_successors {
                break;
            }
            if list.iter().all(|s| s.id != v.id) {
                list.push(v.clone());
            }
        }
        self.successors = list;
    }

    /// Our successor's predecessor is `candidate`: if it sits between us and the successor it is
    /// our new first successor. Returns whether the list changed.
    pub fn consider_successor(&mut self, candidate: &Vnode) -> bool {
        let Some(first) = self.successors.first() else {
            if candidate.id != self.me.id {
                self.successors.push(candidate.clone());
                return true;
            }
            return false;
        };
        if candidate.id.is_between(&self.me.id, &first.id) {
            self.successors.insert(0, candidate.clone());
            self.successors.truncate(self.num_successors);
            return true;
        }
        false
    }

    /// Our successor `leaver` leaves the ring and handed us its successor list `theirs` (Chord's
    /// voluntary leave): the leaver's place in our list goes to its successors, so we point
    /// past it at once instead of after stabilization rounds. Returns whether `leaver` was in
    /// our list (nothing changes otherwise: then `theirs` says nothing about our part of the
    /// ring). An empty `theirs` (a Go peer's `Leave`) just drops the leaver.
    pub fn successor_left(&mut self, leaver: &Vnode, theirs: &[Vnode]) -> bool {
        let Some(at) = self.successors.iter().position(|v| v.id == leaver.id) else {
            return false;
        };
        let mut merged: Vec<Vnode> =
            Vec::with_capacity(self.successors.len() + self.num_successors);
        merged.extend(self.successors.iter().take(at).cloned());
        // A peer's list: never more of it than a successor list holds.
        merged.extend(
            theirs
                .iter()
                .filter(|v| v.id != leaver.id && v.id != self.me.id)
                .take(self.num_successors)
                .cloned(),
        );
        merged.extend(self.successors.iter().skip(at + 1).cloned());
        // Clockwise from us, without us or duplicates, cut to length: the list is in ring
        // order whatever the leaver sent.
        self.set_successors(merged);
        true
    }

    /// Our predecessor `leaver` leaves the ring and named its own predecessor `theirs`
    /// (Chord's voluntary leave): that vnode is our predecessor now. A `theirs` that is not
    /// between our current predecessor and us is ignored, as by [`notify`](Self::notify); when
    /// `leaver` was our predecessor and names none (a Go peer's `Leave`), we have none until
    /// someone notifies. Returns the event to raise.
    pub fn predecessor_left(
        &mut self,
        leaver: &Vnode,
        theirs: Option<&Vnode>,
    ) -> Option<RingEvent> {
        let theirs = theirs.filter(|v| v.id != self.me.id && v.id != leaver.id);
        if self.predecessor.as_ref().map(|p| p.id) != Some(leaver.id) {
            return theirs.and_then(|v| self.notify(v));
        }
        let old = self.predecessor.take()?;
        self.predecessor = theirs.cloned();
        Some(RingEvent::PredecessorLeft {
            vnode: self.me.clone(),
            old,
            new: self.predecessor.clone(),
        })
    }

    /// Forgets `dead` wherever it appears: successor list, fingers, predecessor (the latter with
    /// an event).
    pub fn forget(&mut self, dead: &Vnode) -> Option<RingEvent> {
        self.forget_route(dead);
        self.predecessor_gone(dead)
    }

    /// Drops a vnode suspected dead from the successor list and the fingers, but keeps it as
    /// the predecessor: a call that went unanswered once routes around it, while the range it
    /// bounds changes only when the predecessor check confirms the death (see
    /// `Ring::note_suspect`).
    pub fn forget_route(&mut self, dead: &Vnode) {
        self.successors.retain(|v| v.id != dead.id);
        for f in &mut self.fingers {
            if f.as_ref().is_some_and(|v| v.id == dead.id) {
                *f = None;
            }
        }
    }

    /// The finger to fix next and the ring position it should point after.
    pub fn next_finger(&self) -> (usize, Id) {
        (self.next_finger, self.me.id.add_pow2(self.next_finger))
    }

    /// Records that finger `index` points at `target`, and fills the following fingers whose
    /// start also falls before `target` (they have the same successor), so a round skips them.
    /// Returns the index the next round fixes.
    pub fn set_finger(&mut self, index: usize, target: Vnode) -> usize {
        let mut i = index;
        loop {
            if let Some(slot) = self.fingers.get_mut(i) {
                *slot = Some(target.clone());
            }
            let next = i + 1;
            if next >= ID_BITS {
                self.next_finger = 0;
                return 0;
            }
            let start = self.me.id.add_pow2(next);
            if !start.is_between_right_incl(&self.me.id, &target.id) {
                self.next_finger = next;
                return next;
            }
            i = next;
        }
    }

    /// Recomputes the replica set; returns the event when it changed.
    pub fn refresh_replicas(&mut self) -> Option<RingEvent> {
        let now = replica_set(&self.me, &self.successors, self.replicas);
        if now == self.replica_set {
            return None;
        }
        let old = std::mem::replace(&mut self.replica_set, now.clone());
        Some(RingEvent::ReplicasChanged {
            vnode: self.me.clone(),
            old,
            new: now,
        })
    }
}

/// A lookup's answer without the vnodes `is_dead` knows to be dead, the others in their order:
/// the first entry is then the first successor not known dead (docs/simulation.md, failures).
pub fn live_successors(found: Vec<Vnode>, is_dead: impl Fn(&Vnode) -> bool) -> Vec<Vnode> {
    found.into_iter().filter(|v| !is_dead(v)).collect()
}

/// The first `replicas` vnodes of `successors` on distinct hosts other than `owner`'s.
pub fn replica_set(owner: &Vnode, successors: &[Vnode], replicas: usize) -> Vec<Vnode> {
    let mut out: Vec<Vnode> = Vec::with_capacity(replicas);
    for v in successors {
        if out.len() >= replicas {
            break;
        }
        if v.host != owner.host && out.iter().all(|o| o.host != v.host) {
            out.push(v.clone());
        }
    }
    out
}

/// What a converged ring looks like from `me`, given every vnode on it: the truth that tests and
/// the simulator compare a live vnode's state with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdealState {
    /// The vnode just before `me`.
    pub predecessor: Vnode,
    /// The next vnodes after `me`, at most `num_successors`, never `me`.
    pub successors: Vec<Vnode>,
    /// Successor of `me + 2^i` for every `i`.
    pub fingers: Vec<Vnode>,
}

/// Computes [`IdealState`] for `me` on a ring made of `all` (any order, `me` included).
pub fn ideal_state(me: &Vnode, all: &[Vnode], num_successors: usize) -> IdealState {
    let mut sorted: Vec<Vnode> = all.to_vec();
    sorted.sort_by_key(|v| v.id);
    sorted.dedup_by(|a, b| a.id == b.id);
    ideal_state_sorted(me, &sorted, num_successors)
}

/// [`ideal_state`] for a ring already sorted by id without duplicates: O(log N) per pointer,
/// so that simulations can set up rings of many thousands of vnodes.
pub fn ideal_state_sorted(me: &Vnode, sorted: &[Vnode], num_successors: usize) -> IdealState {
    let len = sorted.len();
    let at = sorted.partition_point(|v| v.id < me.id);
    let others = |offset: usize| sorted.get((at + offset) % len.max(1));
    // Walk clockwise from just after `me`, skipping `me` itself.
    let mut successors = Vec::with_capacity(num_successors);
    for step in 0..len {
        if successors.len() >= num_successors {
            break;
        }
        if let Some(v) = others(step) {
            if v.id != me.id {
                successors.push(v.clone());
            }
        }
    }
    let predecessor = (1..=len)
        .filter_map(|back| sorted.get((at + len - back) % len.max(1)))
        .find(|v| v.id != me.id)
        .cloned()
        .unwrap_or_else(|| me.clone());
    // Finger starts move clockwise away from `me`, so most share the finger before them (in a
    // ring of N vnodes all but about log2(N) do): search the ring only when a start has passed
    // the previous finger. Same result as `successor_of` for each start, at a tenth of the cost.
    let mut fingers: Vec<Vnode> = Vec::with_capacity(ID_BITS);
    for i in 0..ID_BITS {
        let start = me.id.add_pow2(i);
        let finger = match fingers.last() {
            Some(last) if start.is_between_right_incl(&me.id, &last.id) && last.id != me.id => {
                last.clone()
            }
            _ => successor_of(sorted, &start),
        };
        fingers.push(finger);
    }
    IdealState {
        predecessor,
        successors,
        fingers,
    }
}

/// The first vnode at or after `key` in `sorted` (sorted by id, non-empty), wrapping around.
pub fn successor_of(sorted: &[Vnode], key: &Id) -> Vnode {
    let at = sorted.partition_point(|v| v.id < *key);
    match sorted.get(at).or_else(|| sorted.first()) {
        Some(v) => v.clone(),
        None => Vnode::new(*key, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vnode(top: u8, host: &str) -> Vnode {
        let mut b = [0u8; 20];
        b[0] = top;
        Vnode::new(Id::new(b), host)
    }

    fn key(top: u8) -> Id {
        let mut b = [0u8; 20];
        b[0] = top;
        Id::new(b)
    }

    fn state(me: &Vnode, all: &[Vnode]) -> VnodeState {
        let ideal = ideal_state(me, all, 3);
        let mut s = VnodeState::new(me.clone(), 3, 2);
        s.set_successors(ideal.successors);
        s.notify(&ideal.predecessor);
        for (i, f) in ideal.fingers.into_iter().enumerate() {
            s.fingers[i] = Some(f);
        }
        s
    }

    #[test]
    fn route_answers_for_keys_up_to_the_successor_and_forwards_beyond() {
        let all: Vec<Vnode> = [10, 50, 90, 130, 200]
            .iter()
            .map(|&t| vnode(t, &format!("h{t}:1")))
            .collect();
        let s = state(&all[0], &all);
        assert_eq!(
            s.route(&key(30), 2),
            Route::Successors(vec![all[1].clone(), all[2].clone()])
        );
        // Exactly the successor's id is still the successor's.
        assert_eq!(
            s.route(&key(50), 1),
            Route::Successors(vec![all[1].clone()])
        );
        // Between predecessor and us: we answer with ourselves first.
        assert_eq!(
            s.route(&key(5), 2),
            Route::Successors(vec![all[0].clone(), all[1].clone()])
        );
        // Far away: forwarded to the closest preceding finger.
        assert_eq!(s.route(&key(150), 1), Route::Forward(all[3].clone()));
    }

    #[test]
    fn a_huge_wanted_count_is_answered_with_at_most_num_successors() {
        let all: Vec<Vnode> = (1..=20u8)
            .map(|t| vnode(t * 10, &format!("h{t}:1")))
            .collect();
        let s = state(&all[1], &all);
        // Between predecessor and us: the answer is us plus our successors, sized by `n`.
        for n in [4, 10_000, usize::MAX] {
            let Route::Successors(found) = s.route(&key(15), n) else {
                panic!("vnode 20 answers for key 15");
            };
            assert_eq!(found.len(), 3, "n = {n}");
            assert!(
                found.capacity() <= 3,
                "n = {n}: capacity {}",
                found.capacity()
            );
        }
        // Between us and our successor: our successor list.
        let Route::Successors(found) = s.route(&key(25), 10_000) else {
            panic!("vnode 20 answers for key 25");
        };
        assert_eq!(found.len(), 3);
        // Zero still gets one answer.
        assert!(matches!(s.route(&key(15), 0), Route::Successors(v) if v.len() == 1));
    }

    #[test]
    fn a_lone_vnode_answers_every_lookup_itself() {
        let me = vnode(1, "a:1");
        let s = VnodeState::new(me.clone(), 8, 2);
        assert_eq!(s.route(&key(200), 3), Route::Successors(vec![me]));
    }

    #[test]
    fn notify_adopts_only_closer_predecessors() {
        let me = vnode(100, "a:1");
        let mut s = VnodeState::new(me.clone(), 8, 2);
        let far = vnode(10, "b:1");
        let near = vnode(90, "c:1");
        assert!(matches!(
            s.notify(&far),
            Some(RingEvent::PredecessorJoined { old: None, .. })
        ));
        assert!(
            matches!(s.notify(&near), Some(RingEvent::PredecessorJoined { old: Some(o), .. }) if o == far)
        );
        assert_eq!(s.notify(&far), None);
        assert_eq!(s.notify(&me), None);
        assert_eq!(s.predecessor(), Some(&near));
    }

    #[test]
    fn a_suspect_leaves_the_routes_but_stays_the_predecessor() {
        let all: Vec<Vnode> = [10, 50, 90, 130, 200]
            .iter()
            .map(|&t| vnode(t, &format!("h{t}:1")))
            .collect();
        let mut s = state(&all[2], &all);
        assert_eq!(s.predecessor(), Some(&all[1]));
        s.forget_route(&all[1]);
        s.forget_route(&all[3]);
        assert!(s.successors().iter().all(|v| v.id != all[3].id));
        assert!(s
            .fingers()
            .iter()
            .flatten()
            .all(|v| v.id != all[1].id && v.id != all[3].id));
        // The range (50, 90] is still this vnode's to share with 50, not to take over.
        assert_eq!(s.predecessor(), Some(&all[1]));
    }

    #[test]
    fn forget_drops_a_dead_vnode_everywhere_and_reports_a_lost_predecessor() {
        let all: Vec<Vnode> = [10, 50, 90, 130, 200]
            .iter()
            .map(|&t| vnode(t, &format!("h{t}:1")))
            .collect();
        let mut s = state(&all[2], &all);
        assert!(s.forget(&all[3]).is_none());
        assert!(s.successors().iter().all(|v| v.id != all[3].id));
        assert!(s.fingers().iter().flatten().all(|v| v.id != all[3].id));
        let ev = s.forget(&all[1]);
        assert!(matches!(ev, Some(RingEvent::PredecessorLeft { old, .. }) if old == all[1]));
        assert_eq!(s.predecessor(), None);
    }

    #[test]
    fn merged_successor_list_stops_before_wrapping_to_us() {
        let all: Vec<Vnode> = [10, 50, 90].iter().map(|&t| vnode(t, "h:1")).collect();
        let mut s = VnodeState::new(all[0].clone(), 8, 2);
        s.merge_successor_list(&all[1], &[all[2].clone(), all[0].clone(), all[1].clone()]);
        assert_eq!(s.successors(), &[all[1].clone(), all[2].clone()]);
    }

    #[test]
    fn a_leaving_successor_is_replaced_by_its_successors_in_ring_order() {
        let all: Vec<Vnode> = [10, 50, 90, 130, 200]
            .iter()
            .map(|&t| vnode(t, &format!("h{t}:1")))
            .collect();
        // Vnode 10 lists 50, 90, 130 (3 successors); 50 leaves and hands over 90, 130, 200.
        let mut s = state(&all[0], &all);
        assert_eq!(s.successors(), &all[1..4]);
        let theirs = [all[2].clone(), all[3].clone(), all[4].clone()];
        assert!(s.successor_left(&all[1], &theirs));
        assert_eq!(s.successors(), &all[2..5]);
        // A leaver we do not list changes nothing.
        assert!(!s.successor_left(&vnode(60, "x:1"), &[vnode(70, "y:1")]));
        assert_eq!(s.successors(), &all[2..5]);
        // A Go peer's Leave carries no list: the leaver is just dropped.
        assert!(s.successor_left(&all[2], &[]));
        assert_eq!(s.successors(), &all[3..5]);
        // A huge list is cut to our length.
        let flood: Vec<Vnode> = (0..10_000u16).map(|i| Vnode::local("flood:1", i)).collect();
        assert!(s.successor_left(&all[3], &flood));
        assert_eq!(s.successors().len(), 3);
    }

    #[test]
    fn a_leavers_list_never_puts_us_or_the_leaver_back_nor_breaks_ring_order() {
        let all: Vec<Vnode> = [10, 50, 90, 130, 200]
            .iter()
            .map(|&t| vnode(t, &format!("h{t}:1")))
            .collect();
        let mut s = state(&all[3], &all);
        assert_eq!(
            s.successors(),
            &[all[4].clone(), all[0].clone(), all[1].clone()]
        );
        // 200 leaves; its list wraps past us and names itself and us, out of order.
        let theirs = [
            all[3].clone(),
            all[1].clone(),
            all[4].clone(),
            all[0].clone(),
            all[2].clone(),
        ];
        assert!(s.successor_left(&all[4], &theirs));
        assert_eq!(
            s.successors(),
            &[all[0].clone(), all[1].clone(), all[2].clone()]
        );
    }

    #[test]
    fn a_leaving_predecessor_hands_over_its_own_predecessor() {
        let all: Vec<Vnode> = [10, 50, 90, 130, 200]
            .iter()
            .map(|&t| vnode(t, &format!("h{t}:1")))
            .collect();
        let mut s = state(&all[2], &all);
        // 50 (our predecessor) leaves, naming 10.
        let event = s.predecessor_left(&all[1], Some(&all[0]));
        assert_eq!(
            event,
            Some(RingEvent::PredecessorLeft {
                vnode: all[2].clone(),
                old: all[1].clone(),
                new: Some(all[0].clone()),
            })
        );
        assert_eq!(s.predecessor(), Some(&all[0]));
        // A Go peer's Leave names nobody: no predecessor until a notify.
        let mut s = state(&all[2], &all);
        assert!(matches!(
            s.predecessor_left(&all[1], None),
            Some(RingEvent::PredecessorLeft { new: None, .. })
        ));
        assert_eq!(s.predecessor(), None);
        // Not our predecessor: its predecessor is adopted only if closer than ours.
        let mut s = state(&all[2], &all);
        assert_eq!(s.predecessor_left(&all[4], Some(&all[3])), None);
        assert_eq!(s.predecessor(), Some(&all[1]));
        // It never names us or itself into place.
        let mut s = state(&all[2], &all);
        assert!(matches!(
            s.predecessor_left(&all[1], Some(&all[2])),
            Some(RingEvent::PredecessorLeft { new: None, .. })
        ));
    }

    #[test]
    fn dead_vnodes_are_skipped_until_they_answer_or_expire() {
        use std::time::Duration;
        let all: Vec<Vnode> = [10, 50, 90]
            .iter()
            .map(|&t| vnode(t, &format!("h{t}:1")))
            .collect();
        let mut dead = DeadVnodes::new(Duration::from_secs(10), 2);
        let at = Duration::from_secs;
        dead.note(&all[0], at(1));
        assert!(dead.is_dead(&all[0], at(5)));
        assert!(!dead.is_dead(&all[1], at(5)));
        assert_eq!(
            live_successors(all.clone(), |v| dead.is_dead(v, at(5))),
            &all[1..]
        );
        // Expired.
        assert!(!dead.is_dead(&all[0], at(11)));
        // Its host answered.
        dead.note(&all[0], at(20));
        dead.host_answered("h10:1", at(21));
        assert!(!dead.is_dead(&all[0], at(21)));
        // It talked to us.
        dead.note(&all[1], at(22));
        dead.alive(&all[1]);
        assert!(!dead.is_dead(&all[1], at(22)));
        // Bounded: the oldest goes.
        dead.note(&all[0], at(30));
        dead.note(&all[1], at(31));
        dead.note(&all[2], at(32));
        assert!(!dead.is_dead(&all[0], at(33)));
        assert!(dead.is_dead(&all[1], at(33)) && dead.is_dead(&all[2], at(33)));
    }

    #[test]
    fn replicas_sit_on_distinct_hosts_other_than_ours() {
        let owner = vnode(0, "a:1");
        let succ = vec![
            vnode(1, "a:1"),
            vnode(2, "b:1"),
            vnode(3, "b:1"),
            vnode(4, "c:1"),
            vnode(5, "d:1"),
        ];
        let set = replica_set(&owner, &succ, 2);
        assert_eq!(set, vec![succ[1].clone(), succ[3].clone()]);
    }

    #[test]
    fn set_finger_skips_fingers_with_the_same_successor() {
        let me = vnode(0, "a:1");
        let mut s = VnodeState::new(me, 8, 2);
        // Target at 2^159 (top byte 0x80) covers fingers 0..=159.
        let next = s.set_finger(0, vnode(0x80, "b:1"));
        assert_eq!(next, 0);
        assert!(s.fingers().iter().all(Option::is_some));
        // Target at top byte 0x01 covers fingers up to 2^152 only.
        let mut s = VnodeState::new(vnode(0, "a:1"), 8, 2);
        assert_eq!(s.set_finger(0, vnode(0x01, "b:1")), 153);
    }

    #[test]
    fn ideal_state_wraps_around() {
        let all: Vec<Vnode> = [10, 50, 90].iter().map(|&t| vnode(t, "h:1")).collect();
        let ideal = ideal_state(&all[2], &all, 8);
        assert_eq!(ideal.predecessor, all[1]);
        assert_eq!(ideal.successors, vec![all[0].clone(), all[1].clone()]);
        assert_eq!(successor_of(&all, &key(95)), all[0]);
    }
}

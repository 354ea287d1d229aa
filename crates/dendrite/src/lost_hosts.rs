//! Hosts that dropped out of view, and when to look for them again: what lets two rings that a
//! partition split find each other after it heals.
//!
//! A partition longer than failure detection leaves each side a ring of its own: every vnode
//! forgets the vnodes across the cut, and nothing in Chord's stabilization ever asks about them
//! again. Shafaat, Ghodsi and Haridi ("Dealing with network partitions in structured overlay
//! networks", 2009) keep the failed nodes in a *passive list*, probe them now and then, and
//! merge the rings through the first that answers. [`LostHosts`] is that list, as a plain state
//! machine: the ring's async shell (`ring/reunion.rs`) notes hosts as they die, asks
//! [`LostHosts::due`] which to probe, and reports what the probe found. docs/design.md,
//! "Partitions", says how the merge goes on from there.

use std::collections::BTreeMap;
use std::time::Duration;

/// First wait between a host's loss and its first probe, doubled after every probe it does not
/// answer, up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);

/// Longest wait between two probes of the same host: after a heal, the rings start merging
/// within about this long (plus one probe tick). Nothing else crosses a healed cut, so the
/// wait is the merge's delay and every second of it is a second in which both sides act as
/// owners of the ranges the other side took over. Cheap to keep short: the probe task makes at
/// most one call per tick (`stabilize_max`) however many hosts are lost.
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// A host not heard from for this long is forgotten: a partition lasting longer needs an
/// operator (or a restart with `--join`) to bring the sides together.
pub const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);

/// When a lost host is probed next, and how long the wait after that will be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Probe {
    lost_at: Duration,
    next: Duration,
    backoff: Duration,
    /// A call to it succeeded since: reachable again, waiting for the probe that merges.
    answered: bool,
    /// Listed when rejoining began and not probed since: rejoining ends only after its probe
    /// (each far host's own vnodes go into the merge; docs/reliability.md, fix 33).
    recheck: bool,
}

/// Hosts found unreachable, each with its next probe time (times are durations on the owner's
/// clock, so tests and the simulator drive it in virtual time).
#[derive(Debug, Clone)]
pub struct LostHosts {
    capacity: usize,
    hosts: BTreeMap<String, Probe>,
    /// Odd while this node is *rejoining*: it was on the small side of a partition (it reached
    /// at most half of the hosts it had seen), has heard from the far side again, and has not
    /// yet merged through every host that answered. Even otherwise. It moves by one at each
    /// edge, so a reader that saw one value knows whether anything happened since.
    rejoin_epoch: u64,
}

impl LostHosts {
    /// An empty list holding at most `capacity` (at least 1) hosts; beyond it the host lost
    /// longest ago is dropped.
    pub fn new(capacity: usize) -> LostHosts {
        LostHosts {
            capacity: capacity.max(1),
            hosts: BTreeMap::new(),
            rejoin_epoch: 0,
        }
    }

    /// `host` stopped answering at `now`. A host already in the list keeps its schedule (its
    /// vnodes die one by one; the first one started the clock).
    pub fn note(&mut self, host: &str, now: Duration) {
        if self.hosts.contains_key(host) {
            return;
        }
        self.hosts.insert(
            host.to_string(),
            Probe {
                lost_at: now,
                next: now.saturating_add(FIRST_BACKOFF),
                backoff: FIRST_BACKOFF,
                answered: false,
                recheck: false,
            },
        );
        while self.hosts.len() > self.capacity {
            let oldest = self
                .hosts
                .iter()
                .min_by_key(|(_, p)| p.lost_at)
                .map(|(h, _)| h.clone());
            match oldest {
                Some(h) => self.hosts.remove(&h),
                None => break,
            };
        }
    }

    /// The host to probe now, if one is due: the one waiting longest past its probe time (ties
    /// by name, so a seed replays the same choice). Drops hosts lost longer than
    /// [`FORGET_AFTER`].
    pub fn due(&mut self, now: Duration) -> Option<String> {
        self.all_due(now).into_iter().next()
    }

    /// Every host due at `now`, the one waiting longest first (ties by name). Drops hosts lost
    /// longer than [`FORGET_AFTER`].
    pub fn all_due(&mut self, now: Duration) -> Vec<String> {
        self.hosts
            .retain(|_, p| now.saturating_sub(p.lost_at) < FORGET_AFTER);
        let mut due: Vec<(Duration, String)> = self
            .hosts
            .iter()
            .filter(|(_, p)| p.next <= now)
            .map(|(h, p)| (p.next, h.clone()))
            .collect();
        due.sort();
        due.into_iter().map(|(_, h)| h).collect()
    }

    /// The probe of `host` at `now` went unanswered: wait twice as long before the next one.
    /// A host that had answered a call since it was lost counts as unreachable again.
    pub fn unanswered(&mut self, host: &str, now: Duration) {
        if let Some(p) = self.hosts.get_mut(host) {
            p.backoff = p.backoff.saturating_mul(2).min(MAX_BACKOFF);
            p.next = now.saturating_add(p.backoff);
            p.answered = false;
            p.recheck = false;
        }
    }

    /// `host` answered a probe: it is no longer lost (if it dies again, [`note`](Self::note)
    /// starts over). `seen` is [`Reach::seen`] before the change. The caller merges through it,
    /// then calls [`merged`](Self::merged).
    pub fn found(&mut self, host: &str, seen: usize) {
        let was_minority = self.reach(seen).in_minority();
        self.hosts.remove(host);
        self.note_rejoin(was_minority, seen);
    }

    /// A call to `host` succeeded at `now` outside a probe: it is reachable again. It stays
    /// listed, due at once, so that the next probe still looks for a ring to merge through it.
    /// `seen` is [`Reach::seen`] before the change.
    pub fn answered(&mut self, host: &str, now: Duration, seen: usize) {
        let was_minority = self.reach(seen).in_minority();
        if let Some(p) = self.hosts.get_mut(host) {
            p.answered = true;
            p.next = p.next.min(now);
        }
        self.note_rejoin(was_minority, seen);
    }

    /// A probe's merge is done, or the probe went unanswered: if every host listed when
    /// rejoining began has been probed since, and no host that answered a call is still waiting
    /// for its probe, this node is no longer rejoining (see [`rejoining`](Self::rejoining)).
    pub fn merged(&mut self) {
        if self.rejoining() && !self.hosts.values().any(|p| p.answered || p.recheck) {
            self.rejoin_epoch += 1;
        }
    }

    /// Is this node rejoining: it was on the small side of a partition, has heard from the far
    /// side again, and has not yet merged its ring with the far side's through every host that
    /// answered? Until it has, its copies may lack what the far side wrote meanwhile, though
    /// it no longer looks cut off (docs/design.md, "Partitions").
    pub fn rejoining(&self) -> bool {
        self.rejoin_epoch % 2 == 1
    }

    /// Moves by one when rejoining begins and again when it ends: an anti-entropy round that
    /// saw it move vouches for nothing.
    pub fn rejoin_epoch(&self) -> u64 {
        self.rejoin_epoch
    }

    /// Begins rejoining if this node was in a minority and is not any more: every listed host
    /// is due at once and must be probed before rejoining ends. Merging through the first host
    /// that answers is not enough: its ring may be half merged already (its lookups can end at
    /// a vnode of this side that still lacks the far side), and each far host's own vnodes are
    /// what a probe adds for sure.
    fn note_rejoin(&mut self, was_minority: bool, seen: usize) {
        if was_minority && !self.reach(seen).in_minority() && !self.rejoining() {
            self.rejoin_epoch += 1;
            for p in self.hosts.values_mut() {
                p.recheck = true;
                p.next = Duration::ZERO;
            }
        }
    }

    fn reach(&self, seen: usize) -> Reach {
        Reach {
            seen,
            unreachable: self.unreachable(),
        }
    }

    /// How many listed hosts have not answered any call since they were lost.
    pub fn unreachable(&self) -> usize {
        self.hosts.values().filter(|p| !p.answered).count()
    }

    /// Is `host` listed?
    pub fn contains(&self, host: &str) -> bool {
        self.hosts.contains_key(host)
    }

    /// How many hosts are waiting to be found.
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// Is no host lost?
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }
}

/// Hosts this node has seen on the ring (itself included), and how many of them it cannot
/// reach now (see `Ring::reach`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reach {
    /// Hosts seen: this one, the others met in successor lists or as seeds, and the lost ones.
    pub seen: usize,
    /// Hosts lost from view that have not answered since.
    pub unreachable: usize,
}

impl Reach {
    /// Can this node reach at most half of the hosts it has seen? Then it may be on the
    /// minority side of a partition (or most of the cluster is down): the other side may be
    /// taking writes it cannot see. A node that never saw another host is not in a minority.
    pub fn in_minority(&self) -> bool {
        self.unreachable > 0 && (self.seen - self.unreachable.min(self.seen)) * 2 <= self.seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn a_lost_host_is_due_after_the_first_backoff_then_ever_less_often() {
        let mut lost = LostHosts::new(8);
        lost.note("b:1", S * 10);
        assert_eq!(lost.due(S * 10), None);
        assert_eq!(lost.due(S * 11).as_deref(), Some("b:1"));
        lost.unanswered("b:1", S * 11);
        assert_eq!(lost.due(S * 12), None);
        assert_eq!(lost.due(S * 13).as_deref(), Some("b:1"));
        let mut now = S * 13;
        for _ in 0..20 {
            lost.unanswered("b:1", now);
            now += MAX_BACKOFF;
            assert_eq!(lost.due(now).as_deref(), Some("b:1"), "backoff capped");
        }
        // Noting it again while lost keeps the schedule.
        lost.note("b:1", now);
        assert_eq!(lost.due(now).as_deref(), Some("b:1"));
    }

    #[test]
    fn a_found_host_leaves_the_list_and_starts_over_when_lost_again() {
        let mut lost = LostHosts::new(8);
        lost.note("b:1", S);
        lost.found("b:1", 2);
        assert!(lost.is_empty());
        assert_eq!(lost.due(S * 100), None);
        lost.note("b:1", S * 100);
        assert_eq!(lost.due(S * 101).as_deref(), Some("b:1"));
    }

    #[test]
    fn an_answering_host_is_reachable_and_due_at_once() {
        let mut lost = LostHosts::new(8);
        lost.note("b:1", S);
        lost.note("c:1", S);
        assert_eq!(lost.unreachable(), 2);
        lost.unanswered("b:1", S * 2);
        lost.unanswered("c:1", S * 2);
        lost.answered("b:1", S * 3, 3);
        assert_eq!(lost.unreachable(), 1);
        assert!(lost.contains("b:1"));
        assert_eq!(lost.due(S * 3).as_deref(), Some("b:1"));
        lost.answered("z:1", S * 3, 3);
        assert!(!lost.contains("z:1"));
    }

    #[test]
    fn a_node_back_from_a_minority_rejoins_until_every_lost_host_was_probed() {
        // Seven hosts seen, five of them lost: this node is on the small side.
        let mut lost = LostHosts::new(8);
        for host in ["c:1", "d:1", "e:1", "f:1", "g:1"] {
            lost.note(host, S);
        }
        assert!(!lost.rejoining());
        lost.answered("c:1", S * 2, 7);
        assert!(!lost.rejoining(), "3 of 7 reached: still on the small side");
        let before = lost.rejoin_epoch();
        lost.answered("d:1", S * 2, 7);
        assert!(lost.rejoining(), "4 of 7 reached: the far side is back");
        assert_eq!(lost.rejoin_epoch(), before + 1);
        lost.answered("e:1", S * 2, 7);
        assert_eq!(lost.rejoin_epoch(), before + 1, "one edge per rejoining");
        // A merge through one host ends nothing while others wait for their probe.
        lost.found("c:1", 7);
        lost.merged();
        assert!(lost.rejoining());
        lost.found("d:1", 7);
        lost.merged();
        assert!(lost.rejoining());
        lost.found("e:1", 7);
        lost.merged();
        assert!(
            lost.rejoining(),
            "every host that answered was merged through, but f and g were never probed"
        );
        // Every host listed when rejoining began is due at once.
        assert_eq!(lost.all_due(S * 2), ["f:1", "g:1"]);
        assert_eq!(lost.due(S * 2).as_deref(), Some("f:1"));
        lost.unanswered("f:1", S * 2);
        lost.merged();
        assert!(lost.rejoining(), "g was never probed");
        assert_eq!(lost.due(S * 2).as_deref(), Some("g:1"));
        lost.unanswered("g:1", S * 2);
        lost.merged();
        assert!(
            !lost.rejoining(),
            "every host that answered was merged through, the silent ones were probed"
        );
        assert_eq!(lost.rejoin_epoch(), before + 2);
        // A host lost afterwards does not hold a later rejoining up.
        lost.note("h:1", S * 3);
        assert!(!lost.rejoining());
    }

    #[test]
    fn a_node_of_the_large_side_never_rejoins() {
        let mut lost = LostHosts::new(8);
        lost.note("d:1", S);
        lost.note("e:1", S);
        lost.answered("d:1", S * 2, 5);
        lost.found("e:1", 5);
        lost.merged();
        assert_eq!(lost.rejoin_epoch(), 0);
    }

    #[test]
    fn rejoining_ends_when_the_host_that_answered_goes_silent_again() {
        let mut lost = LostHosts::new(8);
        lost.note("b:1", S);
        lost.answered("b:1", S * 2, 2);
        assert!(lost.rejoining(), "either side of a 1-1 split is a minority");
        lost.unanswered("b:1", S * 3);
        assert_eq!(lost.unreachable(), 1, "unreachable again");
        lost.merged();
        assert!(!lost.rejoining());
        assert_eq!(lost.rejoin_epoch(), 2);
    }

    #[test]
    fn the_longest_overdue_host_goes_first_and_ties_go_by_name() {
        let mut lost = LostHosts::new(8);
        lost.note("c:1", S);
        lost.note("b:1", S);
        lost.note("a:1", S * 2);
        assert_eq!(lost.due(S * 5).as_deref(), Some("b:1"));
        lost.unanswered("b:1", S * 5);
        assert_eq!(lost.due(S * 5).as_deref(), Some("c:1"));
        lost.unanswered("c:1", S * 5);
        assert_eq!(lost.due(S * 5).as_deref(), Some("a:1"));
    }

    #[test]
    fn a_node_reaching_at_most_half_of_the_hosts_it_saw_is_in_a_minority() {
        let reach = |seen, unreachable| Reach { seen, unreachable };
        assert!(!reach(1, 0).in_minority(), "alone from the start");
        assert!(!reach(5, 0).in_minority());
        assert!(!reach(3, 1).in_minority(), "2 of 3");
        assert!(!reach(5, 2).in_minority(), "3 of 5");
        assert!(reach(5, 3).in_minority(), "2 of 5");
        assert!(reach(5, 4).in_minority(), "1 of 5");
        assert!(
            reach(2, 1).in_minority(),
            "1 of 2: either side of a 1-1 split"
        );
        assert!(reach(4, 2).in_minority(), "2 of 4");
    }

    #[test]
    fn capacity_drops_the_host_lost_longest_ago_and_old_hosts_are_forgotten() {
        let mut lost = LostHosts::new(2);
        lost.note("a:1", S);
        lost.note("b:1", S * 2);
        lost.note("c:1", S * 3);
        assert_eq!(lost.len(), 2);
        lost.unanswered("b:1", S * 3);
        assert_eq!(lost.due(S * 4).as_deref(), Some("c:1"));
        assert_eq!(lost.due(S * 3 + FORGET_AFTER), None);
        assert!(lost.is_empty());
    }
}

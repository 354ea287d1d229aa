//! The vnodes a node found dead, remembered for a while (see [`DeadVnodes`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::id::Id;
use crate::vnode::Vnode;

/// Vnodes this node found dead (a call to them failed, or they left), remembered for a while so
/// that lookups skip them even when another vnode, which has not noticed yet, still lists them.
///
/// Plain state without a clock: the caller passes the time (`now`, since any fixed start) to
/// every method. An entry ends when its host answers a call again
/// ([`host_answered`](Self::host_answered)) unless the host disowned the vnode, when the vnode
/// itself talks to us ([`alive`](Self::alive)), or `ttl` after it was noted: by then
/// stabilization has removed it from the successor lists that held it. At most `capacity`
/// vnodes are kept (the oldest go).
#[derive(Debug, Clone)]
pub struct DeadVnodes {
    ttl: Duration,
    capacity: usize,
    noted: BTreeMap<Id, Noted>,
}

/// One dead vnode's entry.
#[derive(Debug, Clone)]
struct Noted {
    host: Arc<str>,
    /// When it was noted last (a failed call notes it again).
    at: Duration,
    /// When it was first noted, of the notes since it was last alive: how long this node has
    /// held it for gone.
    since: Duration,
    /// Its host answered that it runs no such vnode: the host's other answers say nothing of
    /// this one.
    disowned: bool,
    /// Only a call to it went unanswered (one lost message looks the same): routed around, but
    /// not known gone.
    suspect: bool,
}

impl DeadVnodes {
    /// An empty set whose entries last `ttl`, holding at most `capacity` (at least 1) vnodes.
    pub fn new(ttl: Duration, capacity: usize) -> DeadVnodes {
        DeadVnodes {
            ttl,
            capacity: capacity.max(1),
            noted: BTreeMap::new(),
        }
    }

    /// `vnode` did not answer (or left) at `now`. One its host disowned stays disowned.
    pub fn note(&mut self, vnode: &Vnode, now: Duration) {
        let disowned = self.noted.get(&vnode.id).is_some_and(|n| n.disowned);
        self.insert(vnode, now, disowned, false);
    }

    /// A call to `vnode` went unanswered at `now`: skipped like a dead one, but listed by
    /// [`suspects`](Self::suspects) until it is found dead or alive. One already known dead
    /// stays dead.
    pub fn note_suspect(&mut self, vnode: &Vnode, now: Duration) {
        let (disowned, suspect) = match self.noted.get(&vnode.id) {
            Some(n) => (n.disowned, n.suspect),
            None => (false, true),
        };
        self.insert(vnode, now, disowned, suspect && !disowned);
    }

    /// The vnodes noted only as suspects (see [`note_suspect`](Self::note_suspect)) and not
    /// expired at `now`: perhaps alive, so a vnode deciding which range it owns must not
    /// reach past them (docs/reliability.md, fix 21).
    pub fn suspects(&self, now: Duration) -> impl Iterator<Item = Vnode> + '_ {
        self.noted
            .iter()
            .filter(move |(_, n)| n.suspect && now.saturating_sub(n.at) < self.ttl)
            .map(|(id, n)| Vnode::new(*id, n.host.clone()))
    }

    /// `vnode`'s host answered at `now` that it runs no such vnode (the node restarted with
    /// other ids, or the vnode left). Unlike [`note`](Self::note), the host's later answers to
    /// other calls do not clear it: they are no sign that this vnode lives, and a lookup answer
    /// that still names it must not bring it back.
    pub fn note_disowned(&mut self, vnode: &Vnode, now: Duration) {
        self.insert(vnode, now, true, false);
    }

    fn insert(&mut self, vnode: &Vnode, now: Duration, disowned: bool, suspect: bool) {
        let since = self.unexpired(vnode, now).map_or(now, |n| n.since);
        let entry = Noted {
            host: vnode.host.clone(),
            at: now,
            since,
            disowned,
            suspect,
        };
        self.noted.insert(vnode.id, entry);
        while self.noted.len() > self.capacity {
            let oldest = self
                .noted
                .iter()
                .min_by_key(|(_, n)| n.at)
                .map(|(id, _)| *id);
            match oldest {
                Some(id) => self.noted.remove(&id),
                None => break,
            };
        }
    }

    /// Is `vnode` known dead at `now`?
    pub fn is_dead(&self, vnode: &Vnode, now: Duration) -> bool {
        self.unexpired(vnode, now).is_some()
    }

    /// How long `vnode` has been held for dead at `now` (since the first of the notes that
    /// followed its last sign of life), or `None` when it is not known dead.
    pub fn dead_for(&self, vnode: &Vnode, now: Duration) -> Option<Duration> {
        self.unexpired(vnode, now)
            .map(|n| now.saturating_sub(n.since))
    }

    /// `vnode`'s entry, unless it expired by `now`.
    fn unexpired(&self, vnode: &Vnode, now: Duration) -> Option<&Noted> {
        self.noted
            .get(&vnode.id)
            .filter(|n| now.saturating_sub(n.at) < self.ttl)
    }

    /// `vnode` talked to us: it is alive.
    pub fn alive(&mut self, vnode: &Vnode) {
        self.noted.remove(&vnode.id);
    }

    /// A call to `host` succeeded: its vnodes are alive, but for those it disowned. Also drops
    /// expired entries.
    pub fn host_answered(&mut self, host: &str, now: Duration) {
        let ttl = self.ttl;
        self.noted
            .retain(|_, n| (n.disowned || &*n.host != host) && now.saturating_sub(n.at) < ttl);
    }

    /// Is nothing noted? (Lets hot paths skip the set.)
    pub fn is_empty(&self) -> bool {
        self.noted.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vnode(top: u8, host: &str) -> Vnode {
        let mut id = [0u8; 20];
        id[0] = top;
        Vnode::new(Id::new(id), host)
    }

    #[test]
    fn a_vnode_its_host_disowned_stays_dead_while_the_host_answers() {
        let ghost = vnode(10, "h:1");
        let other = vnode(11, "h:1");
        let mut dead = DeadVnodes::new(Duration::from_secs(10), 4);
        let at = Duration::from_secs;
        dead.note_disowned(&ghost, at(1));
        dead.note(&other, at(1));
        dead.host_answered("h:1", at(2));
        assert!(dead.is_dead(&ghost, at(2)));
        assert!(
            !dead.is_dead(&other, at(2)),
            "a merely unanswered vnode is cleared"
        );
        // Noted again as merely unanswered, it stays disowned.
        dead.note(&ghost, at(3));
        dead.host_answered("h:1", at(4));
        assert!(dead.is_dead(&ghost, at(4)));
        // It still expires.
        assert!(!dead.is_dead(&ghost, at(14)));
    }

    #[test]
    fn a_suspect_is_skipped_as_dead_and_listed_until_found_dead() {
        let (a, b) = (vnode(10, "a:1"), vnode(20, "b:1"));
        let mut dead = DeadVnodes::new(Duration::from_secs(10), 4);
        let at = Duration::from_secs;
        dead.note_suspect(&a, at(1));
        dead.note(&b, at(1));
        assert!(dead.is_dead(&a, at(2)) && dead.is_dead(&b, at(2)));
        assert_eq!(dead.suspects(at(2)).collect::<Vec<_>>(), vec![a.clone()]);
        // Found dead after all, it is no suspect any more, even if a call fails again.
        dead.note(&a, at(3));
        dead.note_suspect(&a, at(4));
        assert!(dead.is_dead(&a, at(4)));
        assert_eq!(dead.suspects(at(4)).count(), 0);
        // A dead vnode's failed call does not make it a suspect; an expired suspect is gone.
        dead.note_suspect(&b, at(4));
        let c = vnode(30, "c:1");
        dead.note_suspect(&c, at(4));
        assert_eq!(dead.suspects(at(5)).collect::<Vec<_>>(), vec![c]);
        assert_eq!(dead.suspects(at(14)).count(), 0);
    }

    #[test]
    fn dead_for_counts_from_the_first_note_since_the_vnode_last_lived() {
        let a = vnode(10, "a:1");
        let mut dead = DeadVnodes::new(Duration::from_secs(10), 4);
        let at = Duration::from_secs;
        assert_eq!(dead.dead_for(&a, at(1)), None);
        dead.note_suspect(&a, at(1));
        // Every failed call during a long partition notes it again: the count goes on.
        for t in 2..=8 {
            dead.note(&a, at(t));
        }
        assert_eq!(dead.dead_for(&a, at(9)), Some(at(8)));
        // Alive again, then noted: counted afresh.
        dead.alive(&a);
        assert_eq!(dead.dead_for(&a, at(9)), None);
        dead.note(&a, at(10));
        assert_eq!(dead.dead_for(&a, at(11)), Some(at(1)));
        // An expired entry noted again starts over too.
        dead.note(&a, at(25));
        assert_eq!(dead.dead_for(&a, at(26)), Some(at(1)));
        // And a host that answers ends it (unless it disowned the vnode).
        dead.host_answered("a:1", at(27));
        assert_eq!(dead.dead_for(&a, at(27)), None);
    }
}

//! What an application learned about the ring from its own traffic: a vnode another node saw
//! acting as a range's owner, closer to the range than a local vnode that believes it owns it.
//!
//! Chord repairs a ring lazily: a vnode that joins between two others, or comes back after a
//! restart, is known to its neighbours only after their next stabilization rounds. Meanwhile a
//! local vnode may take a predecessor too far back (the one that notified it first) and serve a
//! live vnode's range beside it. Replicas shared by both primaries see writes for the same keys
//! from both, and can tell which of the two is closer to the keys (dtable, docs/design.md,
//! "Witnessed owners"). This module lets that news correct the ring at once.

use std::time::Duration;

use super::{lock, Ring};
use crate::ring::NotLocal;
use crate::vnode::Vnode;

impl Ring {
    /// Does this node hold `vnode` for gone (it failed a call or the predecessor check, or
    /// left), as far as it knows now? An application that hears of `vnode` acting as an owner
    /// asks this first: news of a vnode this node saw go is older than what it knows.
    pub fn knows_gone(&self, vnode: &Vnode) -> bool {
        self.known_dead(vnode)
    }

    /// For how long this node has held `vnode` for gone, without a sign of life since; `None`
    /// when it does not. Lets an application weigh news of `vnode` by its age: a vnode seen
    /// acting as an owner *after* this node took it for gone is back (a partition healed, a
    /// paused process resumed), not gone.
    pub fn gone_for(&self, vnode: &Vnode) -> Option<Duration> {
        let dead = lock(&self.dead);
        if dead.is_empty() {
            return None;
        }
        dead.dead_for(vnode, self.since_start())
    }

    /// Another node saw `candidate` act as the owner of keys that local `vnode` believes it
    /// owns, and `candidate` sits between `vnode`'s predecessor and `vnode`: take it for
    /// `vnode`'s predecessor (as if it had notified), so that `vnode` stops serving its range.
    /// Returns whether the predecessor changed. A candidate this node holds for gone is not
    /// taken, nor a vnode of this host that is not one of ours (a ghost of an earlier run).
    pub fn offer_predecessor(&self, vnode: &Vnode, candidate: &Vnode) -> Result<bool, NotLocal> {
        let state = self.local_state(vnode)?;
        let ghost = *candidate.host == *self.local_host() && self.state(candidate).is_none();
        if ghost || self.known_dead(candidate) {
            return Ok(false);
        }
        let event = lock(state).notify(candidate);
        let changed = event.is_some();
        self.emit(event);
        Ok(changed)
    }
}

//! Forgetting vnodes found dead or suspect, in every local vnode (docs/reliability.md, fix 10).

use tracing::debug;

use super::{lock, Ring};
use crate::vnode::Vnode;

impl Ring {
    /// `dead` is gone for sure (it left, said it is gone, or failed the predecessor check):
    /// forget it in every local vnode, as predecessor too, and remember it so lookups skip it
    /// where others still list it.
    pub(super) fn note_dead(&self, dead: &Vnode) {
        self.forget_vnode(dead, true);
    }

    /// A call to `dead` went unanswered: route around it (successor lists, fingers, lookups)
    /// but keep it as a predecessor until that vnode's own predecessor check confirms it.
    ///
    /// Forgetting a predecessor moves its range to us: on one lost message that made two
    /// vnodes serve one range as primary at once (docs/reliability.md, fix 10).
    pub(super) fn note_suspect(&self, dead: &Vnode) {
        self.forget_vnode(dead, false);
    }

    fn forget_vnode(&self, dead: &Vnode, confirmed: bool) {
        if *dead.host == *self.transport.local_host() {
            return;
        }
        debug!(%dead, confirmed, "forgetting an unreachable vnode");
        lock(&self.dead).note(dead, self.since_start());
        lock(&self.lost_hosts).note(&dead.host, self.since_start());
        for (_, state) in &self.vnodes {
            let (left, replicas) = {
                let mut s = lock(state);
                let left = if confirmed {
                    s.forget(dead)
                } else {
                    s.forget_route(dead);
                    None
                };
                (left, s.refresh_replicas())
            };
            self.emit(left);
            self.emit(replicas);
        }
    }
}

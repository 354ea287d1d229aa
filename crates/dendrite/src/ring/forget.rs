//! Forgetting vnodes found dead or suspect, in every local vnode (docs/reliability.md, fix 10).

use std::time::Duration;

use tracing::debug;

use super::{lock, Ring};
use crate::vnode::Vnode;

/// What a ring knows of a vnode it forgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// A call to it went unanswered: routed around, kept as a predecessor.
    Suspect,
    /// Gone for sure: forgotten as predecessor too.
    Dead,
    /// Its host said it runs no such vnode: gone for sure, and its host's other answers do not
    /// bring it back.
    Disowned,
}

impl Ring {
    /// `dead` is gone for sure (it left, said it is gone, or failed the predecessor check):
    /// forget it in every local vnode, as predecessor too, and remember it so lookups skip it
    /// where others still list it.
    pub(super) fn note_dead(&self, dead: &Vnode) {
        self.forget_vnode(dead, Verdict::Dead);
    }

    /// A call to `dead` went unanswered: route around it (successor lists, fingers, lookups)
    /// but keep it as a predecessor until that vnode's own predecessor check confirms it.
    ///
    /// Forgetting a predecessor moves its range to us: on one lost message that made two
    /// vnodes serve one range as primary at once (docs/reliability.md, fix 10).
    pub(super) fn note_suspect(&self, dead: &Vnode) {
        self.forget_vnode(dead, Verdict::Suspect);
    }

    /// `dead`'s host answered that it runs no such vnode: gone for sure, and remembered so
    /// even while its host answers other calls (a restarted node runs other vnode ids; a
    /// lookup answer still naming an old id must not bring it back).
    pub(super) fn note_disowned(&self, dead: &Vnode) {
        self.forget_vnode(dead, Verdict::Disowned);
    }

    fn forget_vnode(&self, dead: &Vnode, verdict: Verdict) {
        // One of our own vnodes is never dead to us. A vnode of our host that is not one of
        // ours is a ghost of this host's earlier run (a restart with other ids): forgotten.
        if self.vnodes.iter().any(|(v, _)| v.id == dead.id) {
            return;
        }
        debug!(%dead, ?verdict, "forgetting an unreachable vnode");
        let now = self.since_start();
        {
            let mut set = lock(&self.dead);
            match verdict {
                Verdict::Suspect => set.note_suspect(dead, now),
                Verdict::Dead => set.note(dead, now),
                Verdict::Disowned => set.note_disowned(dead, now),
            }
        }
        lock(&self.lost_hosts).note(&dead.host, now);
        for (_, state) in &self.vnodes {
            let (left, replicas) = {
                let mut s = lock(state);
                let left = if verdict == Verdict::Suspect {
                    s.forget_route(dead);
                    None
                } else {
                    s.forget(dead)
                };
                (left, s.refresh_replicas())
            };
            self.emit(left);
            self.emit(replicas);
        }
    }

    /// `host` answered a call or notified one of our vnodes just now.
    pub(super) fn heard_from_host(&self, host: &str) {
        let now = self.since_start();
        let mut heard = lock(&self.last_heard);
        match heard.get_mut(host) {
            Some(at) => *at = now,
            None => {
                if heard.len() >= MAX_HEARD_HOSTS {
                    // Hosts not heard from for a long time are of no use to a verdict now.
                    heard.retain(|_, at| now.saturating_sub(*at) < HEARD_MEMORY);
                }
                heard.insert(host.into(), now);
            }
        }
    }

    /// Has `host` answered a call or notified one of our vnodes at or after `since`?
    pub(super) fn heard_since(&self, host: &str, since: Duration) -> bool {
        lock(&self.last_heard)
            .get(host)
            .is_some_and(|at| *at >= since)
    }
}

/// Hosts whose last answer is remembered before old ones are dropped.
const MAX_HEARD_HOSTS: usize = 1024;

/// How long a host's last answer stays of interest once [`MAX_HEARD_HOSTS`] is reached.
const HEARD_MEMORY: Duration = Duration::from_secs(600);

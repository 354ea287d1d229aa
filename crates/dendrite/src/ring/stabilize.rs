//! One stabilization round of a vnode: new-successor check, notify, one finger, predecessor
//! check (Chord §4.3, with successor lists as in §5.3 of the SIGCOMM paper).

use rand::seq::SliceRandom;
use tracing::{debug, warn, Instrument};

use super::{lock, Ring};
use crate::message::{Message, PROTOCOL_VERSION};
use crate::vnode::Vnode;

/// Other nodes remembered for finding the ring again after a partition.
const MAX_KNOWN_HOSTS: usize = 256;

impl Ring {
    /// Runs one round for local vnode `index`.
    pub(super) async fn stabilize(&self, index: usize) {
        let Some((me, _)) = self.vnodes.get(index) else {
            return;
        };
        let span = tracing::debug_span!("stabilize", vnode = %me);
        async {
            self.rejoin_if_isolated(index).await;
            self.check_new_successor(index).await;
            self.notify_successor(index).await;
            self.fix_finger(index).await;
            self.check_predecessor(index).await;
        }
        .instrument(span)
        .await;
    }

    /// Asks the first live successor for its predecessor; one that sits between us and it is
    /// our new successor. Dead successors are dropped as they are found.
    async fn check_new_successor(&self, index: usize) {
        let Some((me, state)) = self.vnodes.get(index) else {
            return;
        };
        for _ in 0..=self.config.num_successors {
            let Some(succ) = self.first_successor(index) else {
                warn!(vnode = %me, "no live successor left; waiting for a notify");
                return;
            };
            let ask = Message::GetPredecessor { dest: succ.clone() };
            match self.call(&succ.host, &ask).await {
                Ok(Message::Vnode(pred)) => {
                    let event = {
                        let mut s = lock(state);
                        if s.consider_successor(&pred) {
                            debug!(vnode = %me, successor = %pred, "new successor");
                            None
                        } else if s.predecessor().is_none()
                            && pred.id != me.id
                            && pred.id != succ.id
                        {
                            // Our successor's predecessor precedes us: it is ours too, at least
                            // until someone closer notifies. A joining vnode learns its range at
                            // once this way instead of waiting for its predecessor's next round.
                            // A successor without a predecessor names itself (docs/wire.md §4):
                            // that says nothing about our range, and taking it for our
                            // predecessor would make us believe we own almost the whole ring.
                            s.notify(&pred)
                        } else {
                            None
                        }
                    };
                    self.emit(event);
                    return;
                }
                // A Go peer without a predecessor answers Err: it is alive, nothing to learn.
                Err(super::RingError::Remote { .. }) => return,
                Ok(_) => return,
                Err(e) => {
                    debug!(vnode = %me, successor = %succ, error = %e, "successor unreachable");
                    if e.is_vnode_gone() {
                        // Its host answered that it runs no such vnode (it restarted with new
                        // ones, or the vnode left): gone for sure, as predecessor too. A ping
                        // of the host would still succeed, so the predecessor check could not
                        // tell.
                        self.note_disowned(&succ);
                    } else {
                        self.note_suspect(&succ);
                    }
                }
            }
        }
    }

    /// A vnode whose successors are all local (every remote vnode was forgotten, as after a
    /// partition) looks for the ring again through the other nodes it has known. Without this a
    /// node cut off for longer than failure detection would stay a ring of its own after the
    /// partition heals.
    async fn rejoin_if_isolated(&self, index: usize) {
        let Some((me, state)) = self.vnodes.get(index) else {
            return;
        };
        let local = self.local_host().to_string();
        let (isolated, seen): (bool, Vec<String>) = {
            let s = lock(state);
            let seen = s
                .successors()
                .iter()
                .filter(|v| *v.host != *local)
                .map(|v| v.host.to_string())
                .collect::<Vec<_>>();
            (seen.is_empty(), seen)
        };
        let candidates: Vec<String> = {
            let mut known = lock(&self.known_hosts);
            known.extend(seen);
            while known.len() > MAX_KNOWN_HOSTS {
                known.pop_first();
            }
            let all: Vec<String> = known.iter().cloned().collect();
            let mut rng = lock(&self.rng);
            all.choose_multiple(&mut *rng, 3).cloned().collect()
        };
        if !isolated || candidates.is_empty() {
            return;
        }
        for host in candidates {
            let Ok(Message::ListVnodesResp { vnodes }) =
                self.call(&host, &Message::ListVnodes).await
            else {
                continue;
            };
            let Some(start) = vnodes.into_iter().find(|v| *v.host != *local) else {
                continue;
            };
            if let Ok(found) = self
                .lookup_from(start, me.id, self.config.num_successors)
                .await
            {
                let mut s = lock(state);
                let current = s.successors().to_vec();
                s.set_successors(found.into_iter().chain(current));
                debug!(vnode = %me, via = %host, "found the ring again");
                return;
            }
        }
    }

    /// The first successor of vnode `index`; when the list ran dry, the closest other local
    /// vnode or finger, so that a vnode never stays cut off.
    fn first_successor(&self, index: usize) -> Option<Vnode> {
        let (me, state) = self.vnodes.get(index)?;
        let mut s = lock(state);
        if let Some(first) = s.successors().first() {
            return Some(first.clone());
        }
        let fallback: Vec<Vnode> = s
            .fingers()
            .iter()
            .flatten()
            .cloned()
            .chain(self.vnodes.iter().map(|(v, _)| v.clone()))
            .filter(|v| v.id != me.id)
            .collect();
        s.set_successors(fallback);
        s.successors().first().cloned()
    }

    /// Tells the first successor we might be its predecessor, and takes its successor list.
    pub(super) async fn notify_successor(&self, index: usize) {
        let Some((me, state)) = self.vnodes.get(index) else {
            return;
        };
        let Some(succ) = lock(state).successors().first().cloned() else {
            return;
        };
        let notify = Message::Notify {
            dest: succ.clone(),
            vnode: me.clone(),
        };
        match self.call(&succ.host, &notify).await {
            Ok(Message::ListVnodesResp { vnodes }) => {
                let event = {
                    let mut s = lock(state);
                    // Only merge if the successor did not change meanwhile.
                    if s.successors().first().map(|v| v.id) == Some(succ.id) {
                        s.merge_successor_list(&succ, &vnodes);
                    }
                    s.refresh_replicas()
                };
                self.emit(event);
            }
            Err(e) if e.is_vnode_gone() => self.note_disowned(&succ),
            Ok(_) | Err(super::RingError::Remote { .. }) => {}
            Err(_) => self.note_suspect(&succ),
        }
    }

    /// Looks up the next finger's target and records it (plus the fingers it also covers).
    async fn fix_finger(&self, index: usize) {
        let Some((me, state)) = self.vnodes.get(index) else {
            return;
        };
        let (finger, start) = lock(state).next_finger();
        match self.lookup_from(me.clone(), start, 1).await {
            Ok(found) => {
                if let Some(target) = found.into_iter().next() {
                    lock(state).set_finger(finger, target);
                }
            }
            Err(e) => debug!(vnode = %me, finger, error = %e, "finger lookup failed"),
        }
    }

    /// Pings the predecessor; one that does not answer twice in a row, while its host answers
    /// nothing else either, is forgotten (a predecessor-left event).
    ///
    /// Twice, because forgetting a live predecessor is not harmless: the vnode then serves the
    /// predecessor's range as its own while the predecessor still does too, until the next
    /// notify, and an application that acts as the range's primary (dtable) briefly has two.
    /// One lost ping or reply must not do that; a dead predecessor fails the second ping as
    /// fast as the first (refused), a paused or cut-off one after one more call timeout.
    async fn check_predecessor(&self, index: usize) {
        let Some((_, state)) = self.vnodes.get(index) else {
            return;
        };
        let Some(pred) = lock(state).predecessor().cloned() else {
            return;
        };
        if *pred.host == *self.local_host() {
            return;
        }
        let ping = Message::Ping {
            version: PROTOCOL_VERSION,
        };
        let asked_at = self.since_start();
        for _ in 0..PREDECESSOR_PINGS {
            match self.call(&pred.host, &ping).await {
                Err(e) if e.is_unreachable() => continue,
                _ => return,
            }
        }
        // A ping that timed out was sent a call timeout ago: if the host answered anything
        // since the first ping went out (a partition healed while a ping was lost), the
        // verdict is stale and the predecessor lives (docs/reliability.md, fix 13).
        if self.heard_since(&pred.host, asked_at) {
            debug!(vnode = %pred, "predecessor pings timed out, but its host answered since");
            return;
        }
        self.note_dead(&pred);
    }
}

/// Pings in a row a predecessor must fail to be forgotten (see `check_predecessor`).
const PREDECESSOR_PINGS: usize = 2;

impl Ring {
    /// Does the first successor of local vnode `vnode` name `vnode` as its predecessor? Only
    /// then has the vnode that owned `vnode`'s range before (the successor, until `vnode`
    /// joined or came back) stopped serving it as its own: an application that hands a range's
    /// authority over (dtable) asks this before the new owner acts alone, so that two vnodes
    /// never both act as the range's primary. When the successor does not, the vnode runs the
    /// first half of a stabilization round at once (a closer successor it names is adopted,
    /// then notified) and asks again. A vnode with no successor (alone on the ring) owns its
    /// range unchallenged.
    pub async fn hand_over_confirmed(&self, vnode: &Vnode) -> bool {
        let Some(index) = self.vnodes.iter().position(|(v, _)| v.id == vnode.id) else {
            return false;
        };
        for attempt in 0..2 {
            let Some(succ) = self.first_successor(index) else {
                return true;
            };
            if succ.id == vnode.id {
                return true;
            }
            let ask = Message::GetPredecessor { dest: succ.clone() };
            match self.call(&succ.host, &ask).await {
                Ok(Message::Vnode(pred)) if pred.id == vnode.id => return true,
                Ok(Message::Vnode(_)) if attempt == 0 => {
                    self.check_new_successor(index).await;
                    self.notify_successor(index).await;
                }
                _ => return false,
            }
        }
        false
    }
}

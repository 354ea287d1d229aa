//! Merging rings that a partition split: probe the hosts lost from view, and when one answers,
//! look each local vnode up through its ring and adopt a closer successor found there or among
//! the host's own vnodes, and a closer predecessor among the host's own vnodes
//! (docs/design.md, "Partitions"). Stabilization does the rest, as after a join: the new
//! successor hears our notify, and the vnode before us learns of us from its successor.

use futures::future::join_all;
use tracing::{debug, info, Instrument};

use super::{lock, Ring};
use crate::message::Message;
use crate::vnode::Vnode;

impl Ring {
    /// One probe: if a lost host is due, ask it for its vnodes; if it answers, try to merge
    /// through it. While rejoining, every due host at once (rejoining lasts until each host lost
    /// when it began was probed, and a dead one costs a whole call timeout). Does nothing (no
    /// call, no random draw) while no host is lost, so a ring without failures runs exactly as
    /// it would without this.
    pub(super) async fn probe_lost_host(&self) {
        let now = self.since_start();
        let hosts = {
            let mut lost = lock(&self.lost_hosts);
            if lost.rejoining() {
                lost.all_due(now)
            } else {
                lost.due(now).into_iter().collect()
            }
        };
        if hosts.is_empty() {
            return;
        }
        let answers = join_all(
            hosts
                .iter()
                .map(|host| self.call(host, &Message::ListVnodes)),
        )
        .await;
        for (host, answer) in hosts.into_iter().zip(answers) {
            let span = tracing::debug_span!("reunion", %host);
            async {
                let vnodes = match answer {
                    Ok(Message::ListVnodesResp { vnodes }) => vnodes,
                    Ok(_) | Err(_) => {
                        lock(&self.lost_hosts).unanswered(&host, self.since_start());
                        self.lost_hosts_merged();
                        return;
                    }
                };
                self.lost_host_found(&host, false);
                self.merge_through(vnodes).await;
                self.lost_hosts_merged();
            }
            .instrument(span)
            .await;
        }
    }

    /// Looks each local vnode up through the first of `vnodes` (the vnodes of a host that
    /// answered a probe) on another host, and adopts a closer successor found there or among
    /// `vnodes` themselves.
    ///
    /// Both: the lookup walks a ring that may be half merged already and can end at a vnode of
    /// this side whose list still lacks the far side (a node then stopped rejoining with a
    /// replica set that skipped the vnodes that served its range during the cut); the host's
    /// own vnodes are the far side's for sure. A probe of every lost host that answers thus
    /// puts every far vnode in reach before rejoining ends (docs/reliability.md, fix 33).
    async fn merge_through(&self, vnodes: Vec<Vnode>) {
        let local = self.local_host().to_string();
        let theirs: Vec<Vnode> = vnodes.into_iter().filter(|v| *v.host != *local).collect();
        let Some(start) = theirs.first().cloned() else {
            return;
        };
        let mut adopted = 0;
        for (me, state) in &self.vnodes {
            self.adopt_closer_predecessor(me, &theirs);
            let found = self
                .lookup_from(start.clone(), me.id, self.config.num_successors)
                .await
                .unwrap_or_default();
            // The far side may know this vnode already (it notified one of theirs): a lookup of
            // its own id then answers with the vnode itself first, which is no successor.
            let mut candidates: Vec<Vnode> = found
                .into_iter()
                .chain(theirs.iter().cloned())
                .filter(|v| v.id != me.id)
                .collect();
            candidates.sort_by_key(|v| me.id.distance_to(&v.id));
            let Some(closest) = candidates.first() else {
                continue;
            };
            let event = {
                let mut s = lock(state);
                let closer = match s.successors().first() {
                    None => true,
                    Some(first) => closest.id.is_between(&me.id, &first.id),
                };
                if !closer {
                    continue;
                }
                let current = s.successors().to_vec();
                s.set_successors(candidates.into_iter().chain(current));
                s.refresh_replicas()
            };
            adopted += 1;
            debug!(vnode = %me, "closer successor found across a healed partition");
            self.emit(event);
        }
        if adopted > 0 {
            info!(
                vnodes = adopted,
                "found vnodes lost from view again; merging the rings"
            );
        }
    }

    /// Takes the closest of `theirs` (the vnodes of a host that just answered a probe) before
    /// local vnode `me` for its predecessor, if it lies between the predecessor `me` knows and
    /// `me`.
    ///
    /// Each side of a partition closed its ring over the gap: a vnode's predecessor is the
    /// closest vnode *of its side* before it. Chord corrects that only when the far vnode
    /// notifies, after its own stabilization has found this one — a round or two after the
    /// merge. Meanwhile this vnode takes the keys between the two for its own and acts as their
    /// primary beside their owner, whose copies its writes never reach (a `SET` acknowledged
    /// at consistency 3 through the cut-off node, then read back nil through the others for
    /// 0.7 s: docs/reliability.md, fix 35). A host that answers is alive, and so are the vnodes
    /// it lists.
    fn adopt_closer_predecessor(&self, me: &Vnode, theirs: &[Vnode]) {
        let Some(before) = theirs
            .iter()
            .filter(|v| v.id != me.id && !self.known_dead(v))
            .min_by_key(|v| v.id.distance_to(&me.id))
        else {
            return;
        };
        // As if `before` had notified.
        if self.offer_predecessor(me, before).unwrap_or(false) {
            debug!(vnode = %me, predecessor = %before, "closer predecessor found across a healed partition");
        }
    }
}

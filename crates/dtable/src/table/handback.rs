//! Hand back, then drop: copies of ranges this node is neither primary nor replica for.
//!
//! Membership changes leave records behind: after a join the old holders keep the part of
//! the range the joiner took; after a partition heals, the side that served a range during the
//! cut holds writes that the range's real copies never saw. Nobody reads those copies (reads
//! go to the current placement), so a newer version there is invisible, and memory grows with
//! every change. As Dynamo's hinted hand-off does, this node walks what it stores outside its
//! responsibility (by a lookup, confirmed by the range's primary itself, whose successor list
//! decides where its writes go), pushes it to the copies that are responsible now (newest version wins on
//! their side), and drops a record only after every responsible copy acknowledged it — an
//! acknowledged replica write means the copy holds that version or a newer one — and only if
//! it did not change here meanwhile.
//!
//! It runs when the ring is quiet: after the heal loop made every local range whole again
//! and no ring event came for `handback_delay`, and after each routine repair round.

use std::sync::Arc;

use dendrite::Vnode;
use futures::future::join_all;
use tracing::{debug, info};

use super::{TableInner, TableStats};
use crate::error::TableError;
use crate::placement::Placement;
use crate::position::KeyPosition;
use crate::range::IdRange;
use crate::wire::{Reply, Request, WriteRole};

/// At most this many placements are looked up in one walk (bounds a walk on a ring in flux).
const MAX_SEGMENTS: usize = 4096;

impl TableInner {
    /// Walks the ring once and hands back every segment this node holds records of but is no
    /// copy holder for. Gives up quietly (to retry at the next quiet moment) when a lookup or a
    /// copy fails, or when a local range is not whole: the placement may be about to change.
    /// Returns whether the walk went all the way round.
    pub(super) async fn hand_back(self: &Arc<Self>) -> bool {
        let vnodes = self.ring.local_vnodes();
        let Some(start) = vnodes.first().map(|v| v.id) else {
            return true;
        };
        let replicas = self.ring.config().replicas;
        let mut owned = Vec::with_capacity(vnodes.len());
        {
            let ledger = self.ledger.lock();
            for v in &vnodes {
                match self.current(v) {
                    Some(now) if !ledger.needs_round(v, &now) => owned.extend(now.range),
                    _ => return false,
                }
            }
        }
        let local_host = self.ring.local_host().to_string();
        let wanted = self.ring.config().num_successors;
        let mut pos = start;
        for _ in 0..MAX_SEGMENTS {
            // The rest of the walk: `(pos, start]`, the whole ring on the first step.
            let rest = IdRange::new(pos, start);
            let first = self.store.scan(rest, None, 1);
            let Some((key, _)) = first.first() else {
                return true;
            };
            let id = KeyPosition::of(key).id();
            let mut placement = match self.ring.find_successors(id, wanted).await {
                Ok(successors) => match Placement::from_successors(&successors, replicas) {
                    Ok(p) => p,
                    Err(_) => return false,
                },
                Err(e) => {
                    debug!(error = %e, "hand-back lookup failed; next time");
                    return false;
                }
            };
            // Every record from `id` to the primary's id belongs to this placement.
            let owner = placement.primary.id;
            let mut end = if !rest.contains(&owner) || owner == start {
                start
            } else {
                owner
            };
            // ... unless a local vnode's range begins before it: a lookup answered by a vnode
            // that has not heard of one of ours yet (it just came back from a pause) names a
            // primary past it, and the segment would swallow that vnode's keys (failover
            // scenario D: a resumed vnode's counters handed back and dropped right after it
            // became their authority, then restarted from nothing). The walk goes on from there.
            if let Some(cut) = owned
                .iter()
                .map(|r| r.from)
                .filter(|from| from.is_between(&pos, &end))
                .min_by_key(|from| pos.distance_to(from))
            {
                end = cut;
            }
            let segment = IdRange::new(pos, end);
            // A lookup is answered from the successor list of the key's predecessor, which may
            // not know of us yet (every vnode stabilizes on its own time): the primary itself
            // says who its copies are. Never hand back a key of a range we own.
            let ours = |p: &Placement| p.copies().any(|c| *c.host == *local_host);
            let mut stray = !ours(&placement) && owned.iter().all(|r| !r.contains(&id));
            if stray {
                let by_owner = match self.ring.successors_of(&placement.primary, wanted).await {
                    Ok(Some(list)) => Placement::from_successors(&list, replicas).ok(),
                    _ => None,
                };
                match by_owner {
                    Some(own) if !ours(&own) => placement = own,
                    _ => stray = false,
                }
            }
            if stray {
                if let Err(e) = self.hand_back_segment(segment, &placement).await {
                    debug!(error = %e, "hand-back failed; the records stay here");
                    return false;
                }
            }
            if end == start {
                return true;
            }
            pos = end;
        }
        false
    }

    /// Pushes every record of `segment` to every copy of `placement`, then drops each one that
    /// did not change meanwhile.
    async fn hand_back_segment(
        self: &Arc<Self>,
        segment: IdRange,
        placement: &Placement,
    ) -> Result<(), TableError> {
        let copies: Vec<Vnode> = placement.copies().cloned().collect();
        let mut dropped = 0u64;
        loop {
            // Always from the start: what was handed back is gone, what stayed (changed
            // meanwhile) is pushed again, which is harmless.
            let batch = self.store.scan(segment, None, self.config.batch_size);
            if batch.is_empty() {
                break;
            }
            let acks = join_all(copies.iter().map(|copy| {
                self.call(Request::Write {
                    dest: copy.clone(),
                    items: batch.clone(),
                    role: WriteRole::Replica,
                    origin: None,
                })
            }))
            .await;
            for (copy, ack) in copies.iter().zip(acks) {
                match ack? {
                    Reply::WriteAck { error: None, .. } => {}
                    other => return Err(super::repair::unexpected(copy, &other)),
                }
            }
            let before = dropped;
            for (key, record) in &batch {
                // Never a key a local vnode owns now (ownership may have moved during the push).
                if self.ring.owns_locally(&KeyPosition::of(key).id()) {
                    continue;
                }
                if self.store.remove_if(key, record.version) {
                    dropped += 1;
                }
            }
            if dropped == before {
                // Every record changed under us: a write is landing here, so this node is a
                // copy holder again; stop.
                break;
            }
        }
        if dropped > 0 {
            TableStats::bump(&self.stats.handed_back, dropped);
            info!(
                records = dropped,
                to = %placement.primary,
                "handed back records of a range this node no longer serves"
            );
        }
        Ok(())
    }
}

//! The primary's part of a read-modify-write (INCR, APPEND, SETNX... see [`Modify`]): the
//! change computed from the record held and stored as one step under the key's lock, with a
//! fresh version, then replicated like a write.

use std::sync::Arc;

use bytes::Bytes;
use dendrite::Vnode;

use super::serve::{Unready, HAND_OVER_BUDGET, HAND_OVER_FRESH};
use super::TableInner;
use crate::modify::{Change, Current, Modify};
use crate::position::KeyPosition;
use crate::record::{HeldRecord, Record};
use crate::version::Version;
use crate::wire::ModifyAnswer;

impl TableInner {
    /// Applies `op` to `key` as one step of the store ([`Store::update_at`]): reads what is
    /// held, computes the change at `now` and stores it with a fresh version. The operation's
    /// answer (`Done` or `Refused`), the record stored (`None` when refused or nothing changed)
    /// and the version it replaced. The caller holds the key's lock.
    pub(super) fn modify_in_store(
        &self,
        position: KeyPosition,
        key: &[u8],
        op: Modify,
        now: u64,
    ) -> (ModifyAnswer, Option<Record>, Option<Version>) {
        let mut answer = None;
        let mut held_version = None;
        let (_, stored) = self.store.update_at(position, key, |held| {
            held_version = held.map(|r| r.version);
            let (done, change) = self.modify_held(held, op, now);
            answer = Some(done);
            change
        });
        let answer = answer.unwrap_or_else(|| {
            ModifyAnswer::Failed("internal error: an operation was not applied".into())
        });
        (answer, stored, held_version)
    }

    /// What `op` makes of the record `held` at `now`: its answer, and the record to store
    /// (stamped with a fresh version), if any.
    pub(super) fn modify_held(
        &self,
        held: Option<HeldRecord<'_>>,
        op: Modify,
        now: u64,
    ) -> (ModifyAnswer, Option<Record>) {
        let current = held.and_then(|r| Current::of(r, now));
        match op.apply(current, now, self.config.max_value_len) {
            Err(refused) => (ModifyAnswer::Refused(refused), None),
            Ok((change, done)) => {
                let record = match change {
                    Change::Keep => None,
                    // `now` was read from this clock: stamped without reading it again.
                    Change::Put { value, expires } => {
                        Some(Record::expiring(self.clock.tick_at(now), value, expires))
                    }
                    Change::Delete => Some(Record::tombstone(self.clock.tick_at(now))),
                };
                (ModifyAnswer::Done(done), record)
            }
        }
    }

    /// The primary's part of a read-modify-write: as one step under the key's write lock, read
    /// the value, apply `op`, stamp and store the result; then replicate it like a write and
    /// answer once `min_acks` copies hold it. An operation that changes nothing (SET NX on a
    /// present key) writes and replicates nothing.
    pub(super) async fn modify_as_primary(
        self: Arc<Self>,
        dest: Vnode,
        key: Bytes,
        position: KeyPosition,
        op: Modify,
        min_acks: u32,
    ) -> ModifyAnswer {
        let (replicas, wanted) = match self
            .prepare_read_modify_write(&dest, &[position], || vec![key.clone()], min_acks)
            .await
        {
            Ok(ready) => ready,
            Err(Unready::Moved(owner)) => return ModifyAnswer::Moved(owner),
            Err(Unready::Failed(reason)) => return ModifyAnswer::Failed(reason),
        };
        let (record, answer) = {
            let _one_writer = self.key_lock(&position);
            // Again under the key's lock: a vnode that joined in front of this one may have
            // taken the key over since the check above, and its catch-up reads this copy under
            // the same lock (`read_at`). Either this operation is applied before that read sees
            // the copy, or it is sent on, never both (docs/reliability.md, fix 9).
            if let Some(owner) = self.owner_if_not(&dest, &[position]) {
                return ModifyAnswer::Moved(owner);
            }
            let now = self.clock.now_millis();
            let (outcome, stored, held_version) = self.modify_in_store(position, &key, op, now);
            let (Some(record), ModifyAnswer::Done(answer)) = (stored, &outcome) else {
                // Refused, or nothing to write (`Keep`): answered without replication.
                return outcome;
            };
            tracing::debug!(
                vnode = %dest,
                key = %String::from_utf8_lossy(&key),
                held = ?held_version,
                stamped = %record.version,
                replicas = ?replicas,
                "read-modify-write applied as primary"
            );
            (record, answer.clone())
        };
        let mark = self.log_mark();
        let versioned = [(key, record)];
        let (replicated, durable) = futures::join!(
            self.replicate_and_wait(&dest, &replicas, &versioned, wanted),
            self.durable(mark)
        );
        match replicated.and(durable) {
            Ok(()) => ModifyAnswer::Done(answer),
            Err(reason) => ModifyAnswer::Failed(reason),
        }
    }

    /// [`prepare_primary`](Self::prepare_primary) for an operation that computes its result
    /// from the value held (INCR, APPEND, SET NX, RENAME...), refused while this node may be on
    /// the minority side of a partition. A plain write there is fine: its value does not depend
    /// on what was there, and the newest version wins when the sides merge. A read-modify-write
    /// there would start from a value the other side has long replaced, and its newer version
    /// would then replace the other side's acknowledged results: a counter would go back by
    /// every increment the majority made (docs/reliability.md, finding 3).
    pub(super) async fn prepare_read_modify_write(
        self: &Arc<Self>,
        dest: &Vnode,
        positions: &[KeyPosition],
        keys: impl FnOnce() -> Vec<Bytes>,
        min_acks: u32,
    ) -> Result<(Vec<Vnode>, usize), Unready> {
        let reach = self.ring.reach();
        if reach.in_minority() {
            return Err(Unready::Failed(format!(
                "this node cannot reach {} of the {} nodes it has seen (a partition, or most of \
                 the cluster down): read-modify-writes are refused here, not applied, so that \
                 they cannot undo what the other side acknowledged; plain writes and reads are \
                 still served; retry through another node or when the nodes are reachable again",
                reach.unreachable, reach.seen
            )));
        }
        if self.ring.rejoining() {
            // Back in touch with the far side, not merged yet: its copies may lack the far
            // side's results, as in a minority.
            return Err(Unready::Failed(
                "this node is merging its ring with the far side of a partition that healed: \
                 read-modify-writes are refused until it has, so that they cannot undo what the \
                 other side acknowledged; retry in a moment"
                    .to_string(),
            ));
        }
        // A key this vnode does not own is sent on at once, not after waiting for the hand-over
        // of a range that does not hold it (prepare_primary checks again after the wait).
        if let Some(owner) = self.owner_if_not(dest, positions) {
            return Err(Unready::Moved(owner));
        }
        // A primary confirmed once may have been displaced since without hearing of it (a
        // vnode joined between it and its successor), while a vnode that does not know it took
        // its range: both would apply the operation, each to its own copy (an INCR answered
        // twice; docs/reliability.md, fix 22). So the hand-over is confirmed again when the
        // last confirmation is older than HAND_OVER_FRESH; the question also moves a displaced
        // vnode on to its new successor at once.
        if !self.ring.hand_over_confirmed_within(dest, HAND_OVER_FRESH)
            && !self.wait_for_hand_over(dest).await
        {
            return Err(Unready::Failed(format!(
                "{dest} could not confirm that it still owns its range (its successor names \
                 another vnode as its predecessor) within {HAND_OVER_BUDGET:?}; retry in a \
                 moment"
            )));
        }
        self.prepare_primary(dest, positions, keys, min_acks).await
    }
}

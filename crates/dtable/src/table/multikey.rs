//! Read-modify-writes of several keys (MSETNX, RENAME, COPY, BITOP: see
//! [`ModifyMany`]) run as one step on the node that is primary for all of them, like
//! single-key ones (`Query::modify`), under every key's write lock; the keys may belong to
//! several of that node's vnodes, each replicating its own keys. Keys whose primaries are on
//! different nodes are refused before anything is sent ([`TableError::CrossSlot`]): a
//! piecewise operation would not be atomic. Keys sharing a Redis hash tag share a primary; on a
//! one-node cluster every key does.

use std::ops::ControlFlow;
use std::sync::Arc;

use bytes::Bytes;
use dendrite::Vnode;
use futures::future::join_all;

use super::serve::Unready;
use super::{Query, TableInner};
use crate::error::TableError;
use crate::modify::{Change, Current, Modified, ModifyMany};
use crate::position::KeyPosition;
use crate::record::Record;
use crate::wire::{ModifyAnswer, Reply, Request};

/// `moved` redirects a multi-key operation follows while ownership changes.
const REDIRECTS: usize = 16;

impl Query<'_> {
    /// Applies `op` to `keys` at their primary as one step, at this query's write
    /// consistency; the operation's answer. Every key's primary must be on one node, else
    /// [`TableError::CrossSlot`] and nothing is done. Like [`modify`](Query::modify), an
    /// operation whose primary does not answer is not sent again.
    pub async fn modify_many(
        &self,
        keys: Vec<Bytes>,
        op: ModifyMany,
    ) -> Result<Modified, TableError> {
        for key in &keys {
            self.check_key(key)?;
        }
        self.check_consistency(self.write)?;
        let result = self.modify_many_at_primary(keys, op).await;
        self.count_write(&result);
        result
    }

    async fn modify_many_at_primary(
        &self,
        keys: Vec<Bytes>,
        op: ModifyMany,
    ) -> Result<Modified, TableError> {
        let min_acks = u32::try_from(self.write).unwrap_or(u32::MAX);
        let mut primary = self.common_primary(&keys).await?;
        for _ in 0..=REDIRECTS {
            let answer = if self.inner.is_local(&primary) {
                self.inner
                    .clone()
                    .modify_many_as_primary(primary.clone(), keys.clone(), op.clone(), min_acks)
                    .await
            } else {
                let request = Request::ModifyMany {
                    dest: primary.clone(),
                    keys: keys.clone(),
                    op: op.clone(),
                    min_acks,
                };
                self.call_modify(&primary, request).await?
            };
            match self.settle(answer) {
                ControlFlow::Break(result) => return result,
                // Not applied: the keys moved. Place them again (they may have parted).
                ControlFlow::Continue(_) => primary = self.common_primary(&keys).await?,
            }
        }
        Err(TableError::Unavailable(format!(
            "ownership of the keys is moving: still redirected after {REDIRECTS} hops"
        )))
    }

    /// The first key's primary, when every key's primary is on its node (by the view or a
    /// lookup of each); `CrossSlot` if they are on several nodes.
    async fn common_primary(&self, keys: &[Bytes]) -> Result<Vnode, TableError> {
        let mut primary: Option<Vnode> = None;
        for key in keys {
            let owner = self.primary_of(KeyPosition::of(key).id()).await?;
            match &primary {
                Some(first) if first.host != owner.host => return Err(TableError::CrossSlot),
                Some(_) => {}
                None => primary = Some(owner),
            }
        }
        primary.ok_or(TableError::EmptyKey)
    }
}

impl TableInner {
    /// The primary's part of a multi-key read-modify-write, on the node `dest` is on: each
    /// key's local owner prepared as for a write; then, as one step under every key's write
    /// lock, read the values, apply `op`, stamp and store the changes; then each owner
    /// replicates its keys' changes, and the answer waits for `min_acks` copies of all.
    pub(super) async fn modify_many_as_primary(
        self: Arc<Self>,
        dest: Vnode,
        keys: Vec<Bytes>,
        op: ModifyMany,
        min_acks: u32,
    ) -> ModifyAnswer {
        let positions: Vec<KeyPosition> = keys.iter().map(|key| KeyPosition::of(key)).collect();
        // The local vnode owning each key, as an index into `owners`.
        let ranges = self.local_primaries();
        let mut owners: Vec<Vnode> = Vec::new();
        let mut owner_of = Vec::with_capacity(keys.len());
        for position in &positions {
            let Some((vnode, _)) = ranges.iter().find(|(_, r)| r.contains(&position.id())) else {
                // Not ours (any more): the coordinator places the keys again.
                let owner = self.owner_if_not(&dest, &[*position]);
                return ModifyAnswer::Moved(owner.unwrap_or(dest));
            };
            let index = match owners.iter().position(|o| o == vnode) {
                Some(index) => index,
                None => {
                    owners.push(vnode.clone());
                    owners.len() - 1
                }
            };
            owner_of.push(index);
        }
        let mut groups = Vec::with_capacity(owners.len());
        for (index, owner) in owners.iter().enumerate() {
            let mine = |i: &usize| owner_of[*i] == index;
            let group_positions: Vec<KeyPosition> =
                (0..keys.len()).filter(mine).map(|i| positions[i]).collect();
            let group_keys = || {
                (0..keys.len())
                    .filter(mine)
                    .map(|i| keys[i].clone())
                    .collect()
            };
            match self
                .prepare_read_modify_write(owner, &group_positions, group_keys, min_acks)
                .await
            {
                Ok(ready) => groups.push(ready),
                Err(Unready::Moved(owner)) => return ModifyAnswer::Moved(owner),
                Err(Unready::Failed(reason)) => return ModifyAnswer::Failed(reason),
            }
        }
        let mut records: Vec<Vec<(Bytes, Record)>> = vec![Vec::new(); owners.len()];
        let answer = {
            let _writers = self.key_locks(&positions);
            let held: Vec<Option<Record>> = keys
                .iter()
                .zip(&positions)
                .map(|(key, position)| self.store.get_at(position, key))
                .collect();
            let now = self.clock.now_millis();
            let current: Vec<Option<Current<'_>>> = held
                .iter()
                .map(|record| record.as_ref().and_then(|r| Current::of(r.held(), now)))
                .collect();
            let (changes, answer) = match op.apply(&keys, &current, self.config.max_value_len) {
                Ok(done) => done,
                Err(refused) => return ModifyAnswer::Refused(refused),
            };
            for (i, change) in changes.into_iter().enumerate() {
                let record = match change {
                    Change::Keep => continue,
                    Change::Put { value, expires } => {
                        Record::expiring(self.clock.tick_at(now), value, expires)
                    }
                    Change::Delete => Record::tombstone(self.clock.tick_at(now)),
                };
                self.store.apply_at(positions[i], &keys[i], &record);
                records[owner_of[i]].push((keys[i].clone(), record));
            }
            answer
        };
        // With `--fsync always`, the answer also waits for this node's log to hold the changes.
        let mark = self.log_mark();
        let (replicated, durable) = futures::join!(
            join_all(
                groups
                    .iter()
                    .zip(&owners)
                    .zip(&records)
                    .filter(|(_, records)| !records.is_empty())
                    .map(|(((replicas, wanted), owner), records)| {
                        self.replicate_and_wait(owner, replicas, records, *wanted)
                    }),
            ),
            self.durable(mark)
        );
        match replicated
            .into_iter()
            .find_map(Result::err)
            .map_or(durable, Err)
        {
            Ok(()) => ModifyAnswer::Done(answer),
            Err(reason) => ModifyAnswer::Failed(reason),
        }
    }
}

/// The answer of a remote primary to a read-modify-write, or why there is none.
impl Query<'_> {
    pub(super) async fn call_modify(
        &self,
        primary: &Vnode,
        request: Request,
    ) -> Result<ModifyAnswer, TableError> {
        match self.inner.call(request).await {
            Ok(Reply::ModifyResp(answer)) => Ok(answer),
            Ok(other) => Err(TableError::Protocol {
                host: primary.host.to_string(),
                reason: format!("unexpected reply 0x{:02x} to a modify", other.kind()),
            }),
            Err(e) => {
                self.inner.view.lock().forget(primary);
                Err(TableError::Unavailable(format!(
                    "the key's primary {primary} did not answer ({e}); the operation may or may \
                     not have been applied"
                )))
            }
        }
    }
}

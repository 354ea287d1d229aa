//! Read-modify-writes of several keys (MSETNX, RENAME, COPY, BITOP: see
//! [`ModifyMany`]) run as one step at their one primary, like single-key ones
//! (`Query::modify`), under every key's write lock. Keys placed on different primaries are
//! refused before anything is sent ([`TableError::CrossSlot`]): a piecewise operation would not
//! be atomic. Keys sharing a Redis hash tag share a primary.

use std::sync::Arc;

use bytes::Bytes;
use dendrite::Vnode;

use super::serve::Unready;
use super::{Query, TableInner, TableStats};
use crate::error::TableError;
use crate::modify::{Change, Current, Modified, ModifyMany};
use crate::position::KeyPosition;
use crate::record::Record;
use crate::wire::{ModifyAnswer, Reply, Request};

/// `moved` redirects a multi-key operation follows while ownership changes.
const REDIRECTS: usize = 16;

impl Query<'_> {
    /// Applies `op` to `keys` at their primary as one step, at this query's write
    /// consistency; the operation's answer. All keys must have the same primary, else
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
        let counter = if result.is_ok() {
            &self.inner.stats.writes
        } else {
            &self.inner.stats.write_errors
        };
        TableStats::bump(counter, 1);
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
            match answer {
                ModifyAnswer::Done(done) => return Ok(done),
                ModifyAnswer::Refused(refused) => return Err(refused.into()),
                ModifyAnswer::Failed(reason) => {
                    return Err(TableError::ConsistencyNotReached {
                        wanted: self.write,
                        reason,
                    })
                }
                // Not applied: the keys moved. Place them again (they may have parted).
                ModifyAnswer::Moved(_) => primary = self.common_primary(&keys).await?,
            }
        }
        Err(TableError::Unavailable(format!(
            "ownership of the keys is moving: still redirected after {REDIRECTS} hops"
        )))
    }

    /// The one primary of every key, by a fresh lookup of each; `CrossSlot` if they differ.
    async fn common_primary(&self, keys: &[Bytes]) -> Result<Vnode, TableError> {
        let mut primary: Option<Vnode> = None;
        for key in keys {
            let owner = self.primary_of(KeyPosition::of(key).id()).await?;
            match &primary {
                Some(first) if *first != owner => return Err(TableError::CrossSlot),
                Some(_) => {}
                None => primary = Some(owner),
            }
        }
        primary.ok_or(TableError::EmptyKey)
    }
}

impl TableInner {
    /// The primary's part of a multi-key read-modify-write: as one step under every key's
    /// write lock, read the values, apply `op`, stamp and store the changes; then replicate
    /// them like a write and answer once `min_acks` copies hold them.
    pub(super) async fn modify_many_as_primary(
        self: Arc<Self>,
        dest: Vnode,
        keys: Vec<Bytes>,
        op: ModifyMany,
        min_acks: u32,
    ) -> ModifyAnswer {
        let positions: Vec<KeyPosition> = keys.iter().map(|key| KeyPosition::of(key)).collect();
        let (replicas, wanted) = match self
            .prepare_primary(&dest, &positions, || keys.clone(), min_acks)
            .await
        {
            Ok(ready) => ready,
            Err(Unready::Moved(owner)) => return ModifyAnswer::Moved(owner),
            Err(Unready::Failed(reason)) => return ModifyAnswer::Failed(reason),
        };
        let (records, answer) = {
            let _writers = self.key_locks(&positions);
            let held: Vec<Option<Record>> = keys
                .iter()
                .zip(&positions)
                .map(|(key, position)| self.store.get_at(position, key))
                .collect();
            let now = self.clock.now_millis();
            let current: Vec<Option<Current<'_>>> = held
                .iter()
                .map(|record| record.as_ref().and_then(|r| Current::of(r, now)))
                .collect();
            let (changes, answer) = match op.apply(&keys, &current, self.config.max_value_len) {
                Ok(done) => done,
                Err(refused) => return ModifyAnswer::Refused(refused),
            };
            let mut records = Vec::new();
            for ((key, position), change) in keys.iter().zip(&positions).zip(changes) {
                let record = match change {
                    Change::Keep => continue,
                    Change::Put { value, expires } => {
                        Record::expiring(self.clock.tick(), value, expires)
                    }
                    Change::Delete => Record::tombstone(self.clock.tick()),
                };
                self.store.apply_at(*position, key, &record);
                records.push((key.clone(), record));
            }
            (records, answer)
        };
        if records.is_empty() {
            return ModifyAnswer::Done(answer);
        }
        match self.replicate_and_wait(&replicas, &records, wanted).await {
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

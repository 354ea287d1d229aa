//! A run of read-modify-writes (a client's pipelined `INCR`s) answered together: each key's
//! primary applies its share of the run as one step, under the keys' write locks, in the
//! order the client sent them, and replicates every change in one message per replica.
//!
//! Each operation keeps its own answer, as if it had run alone: one on a value that is not a
//! number is refused while the others go ahead. What is shared is the cost: one ownership
//! check, one catch-up while a range is taken over, one lock pass, one clock read and one
//! replication round trip per primary instead of one per operation. A run whose keys are on
//! another node, or moved while it was sent, runs one operation at a time, in order, as
//! [`Query::modify`] does (a run sent twice would apply an `INCR` twice).

use std::sync::Arc;

use bytes::Bytes;
use dendrite::Vnode;
use futures::future::join_all;

use super::serve::Unready;
use super::{Query, TableInner};
use crate::error::TableError;
use crate::modify::{Modified, Modify};
use crate::position::KeyPosition;
use crate::wire::ModifyAnswer;

impl Query<'_> {
    /// Applies each `(key, op)` at its key's primary, at this query's write consistency, in
    /// order for each key; one result per operation, in the order given. Like
    /// [`modify`](Query::modify), an operation whose primary does not answer is not sent again.
    ///
    /// ```
    /// # async fn example(table: &dtable::Table) {
    /// use dtable::{Modified, Modify};
    /// let run = vec![("a".into(), Modify::IncrBy(1)), ("a".into(), Modify::IncrBy(2))];
    /// let answers = table.query().modify_each(run).await;
    /// assert_eq!(answers.len(), 2);
    /// # }
    /// ```
    pub async fn modify_each(
        &self,
        items: Vec<(Bytes, Modify)>,
    ) -> Vec<Result<Modified, TableError>> {
        let count = items.len();
        let mut answers: Vec<Option<Result<Modified, TableError>>> = Vec::new();
        answers.resize_with(count, || None);
        let mut valid = Vec::with_capacity(count);
        for (index, (key, op)) in items.into_iter().enumerate() {
            match self.check_modify(&key, &op) {
                Ok(()) => valid.push((index, key, op)),
                Err(refused) => answers[index] = Some(Err(refused)),
            }
        }
        match self.group(valid.into_iter()).await {
            Ok(groups) => {
                // Boxed, as in `Query::write_records`: a group's future is 4.5 KiB.
                let outcomes = join_all(
                    groups
                        .into_iter()
                        .map(|(primary, items)| Box::pin(self.modify_group(primary, items))),
                )
                .await;
                for (index, outcome) in outcomes.into_iter().flatten() {
                    self.count_write(&outcome);
                    answers[index] = Some(outcome);
                }
            }
            Err(unplaced) => {
                // No primary could be found for some key: nothing was sent.
                for answer in answers.iter_mut().filter(|a| a.is_none()) {
                    *answer = Some(Err(unplaced.clone()));
                }
            }
        }
        answers
            .into_iter()
            .map(|answer| {
                answer.unwrap_or_else(|| {
                    Err(TableError::Unavailable(
                        "internal error: an operation of the run got no answer".into(),
                    ))
                })
            })
            .collect()
    }

    /// One primary's share of a run: `(index in the run, key, op)` with each key's position.
    /// Applied in place when the primary is on this node; otherwise, or when the keys moved
    /// before anything was applied, one operation at a time.
    async fn modify_group(
        &self,
        primary: Vnode,
        items: Vec<((usize, Bytes, Modify), KeyPosition)>,
    ) -> Vec<(usize, Result<Modified, TableError>)> {
        if items.len() > 1 && self.inner.is_local(&primary) {
            let min_acks = u32::try_from(self.write).unwrap_or(u32::MAX);
            let (run, positions): (Vec<(Bytes, Modify)>, Vec<KeyPosition>) = items
                .iter()
                .map(|((_, key, op), position)| ((key.clone(), op.clone()), *position))
                .unzip();
            match self
                .inner
                .clone()
                .modify_run_as_primary(primary, run, positions, min_acks)
                .await
            {
                Ok(answers) => {
                    return items
                        .into_iter()
                        .zip(answers)
                        .map(|(((index, _, _), _), answer)| (index, self.settled(answer)))
                        .collect();
                }
                Err(Unready::Failed(reason)) => {
                    let failed = TableError::ConsistencyNotReached {
                        wanted: self.write,
                        reason,
                    };
                    return items
                        .into_iter()
                        .map(|((index, _, _), _)| (index, Err(failed.clone())))
                        .collect();
                }
                // Nothing applied: place each operation again, one at a time.
                Err(Unready::Moved(_)) => {}
            }
        }
        let mut answers = Vec::with_capacity(items.len());
        for ((index, key, op), _) in items {
            answers.push((index, self.modify_at_primary(key, op).await));
        }
        answers
    }

    /// The result of one operation of a run its primary applied.
    fn settled(&self, answer: ModifyAnswer) -> Result<Modified, TableError> {
        match self.settle(answer) {
            std::ops::ControlFlow::Break(result) => result,
            std::ops::ControlFlow::Continue(owner) => Err(TableError::Unavailable(format!(
                "internal error: one operation of an applied run was sent on to {owner}"
            ))),
        }
    }
}

impl TableInner {
    /// The primary's part of a run of read-modify-writes on local vnode `dest`: prepared once
    /// for all the keys (`positions`, one per operation), then, as one step under their write
    /// locks, each operation reads what the ones before it left and stores its change; then
    /// every change is replicated at once. One answer per operation; `Err` when none was
    /// applied (`Moved`: the keys are not all `dest`'s).
    pub(super) async fn modify_run_as_primary(
        self: Arc<Self>,
        dest: Vnode,
        run: Vec<(Bytes, Modify)>,
        positions: Vec<KeyPosition>,
        min_acks: u32,
    ) -> Result<Vec<ModifyAnswer>, Unready> {
        let (replicas, wanted) = self
            .prepare_read_modify_write(
                &dest,
                &positions,
                || run.iter().map(|(key, _)| key.clone()).collect(),
                min_acks,
            )
            .await?;
        self.store.prefetch(&positions);
        let mut answers = Vec::with_capacity(run.len());
        // Which answers wait for the changes to be replicated.
        let mut wrote = Vec::with_capacity(run.len());
        let mut versioned = Vec::with_capacity(run.len());
        {
            let _writers = self.key_locks(&positions);
            // Again under the keys' locks, as in `modify_as_primary` (docs/reliability.md, fix 9).
            if let Some(owner) = self.owner_if_not(&dest, &positions) {
                return Err(Unready::Moved(owner));
            }
            let now = self.clock.now_millis();
            for ((key, op), position) in run.into_iter().zip(&positions) {
                let (answer, stored, held_version) = self.modify_in_store(*position, &key, op, now);
                answers.push(answer);
                wrote.push(stored.is_some());
                if let Some(record) = stored {
                    tracing::debug!(
                        vnode = %dest,
                        key = %String::from_utf8_lossy(&key),
                        held = ?held_version,
                        stamped = %record.version,
                        "read-modify-write of a run applied as primary"
                    );
                    versioned.push((key, record));
                }
            }
        }
        if versioned.is_empty() {
            return Ok(answers);
        }
        let mark = self.log_mark();
        let (replicated, durable) = futures::join!(
            self.replicate_and_wait(&dest, &replicas, &versioned, wanted),
            self.durable(mark)
        );
        if let Err(reason) = replicated.and(durable) {
            for (answer, wrote) in answers.iter_mut().zip(wrote) {
                if wrote {
                    *answer = ModifyAnswer::Failed(reason.clone());
                }
            }
        }
        Ok(answers)
    }
}

//! The read path of a query: the primary first, every copy when the primary cannot answer alone
//! (it is taking its range over, or silent), waiting for an authoritative answer rather than
//! answering nil without one (docs/design.md, "Reads").

use bytes::Bytes;
use dendrite::Vnode;
use futures::future::join_all;
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::time::Instant;

use super::query::{backoff, REDIRECTS};
use super::{Query, TableStats};
use crate::error::TableError;
use crate::placement::Placement;
use crate::position::KeyPosition;
use crate::record::Record;
use crate::wire::{Reply, Request};

impl Query<'_> {
    /// Reads one key at this query's read consistency; `None` when it is absent (said by a
    /// copy with authority, see the module docs).
    pub(super) async fn read_one(&self, key: Bytes) -> Result<Option<Record>, TableError> {
        if self.read == 1 {
            return self.read_settled(key).await;
        }
        // `read` copies answer, and the primary says whether it holds every acknowledged write
        // of the key's range (authoritative). The copies this node's view names may not be the
        // copies the writer's view named (a stale view after a join, a copy still handing back a
        // range it no longer serves): `read` of them can all miss a write acknowledged by
        // every copy of the writer's set. The authoritative primary cannot.
        let placement = self.placement(&key).await?;
        let position = KeyPosition::of(&key);
        let (quorum, asked) = futures::future::join(
            self.read_quorum(key.clone(), placement),
            self.ask_primary(&key, position),
        )
        .await;
        let quorum = quorum?;
        let settled = match asked.answer {
            Ok((record, true)) => record,
            // No authoritative answer yet: wait for one as a consistency-1 read does.
            _ => self.read_settled(key).await?,
        };
        Ok([quorum, settled]
            .into_iter()
            .flatten()
            .max_by_key(|r| r.version))
    }

    /// Reads one key from its primary; when the primary cannot answer alone (it is taking the
    /// range over, or does not answer), from every copy that can be found, newest first. Waits
    /// for an authoritative "not found" up to `read_settle_timeout`, then fails.
    pub(super) async fn read_settled(&self, key: Bytes) -> Result<Option<Record>, TableError> {
        let position = KeyPosition::of(&key);
        let deadline = Instant::now() + self.inner.config.read_settle_timeout;
        let mut attempt = 0;
        loop {
            let asked = self.ask_primary(&key, position).await;
            let held = match &asked.answer {
                Ok((record, true)) => {
                    if record.is_none() {
                        tracing::debug!(key = ?key, primary = ?asked.primary, "absent, said the primary with authority");
                    }
                    return Ok(record.clone());
                }
                Ok((record, false)) => record.clone(),
                Err(_) => None,
            };
            TableStats::bump(&self.inner.stats.unsettled_reads, 1);
            let found = self.read_other_copies(&key, asked.primary.as_ref()).await;
            let newest = [held.clone(), found]
                .into_iter()
                .flatten()
                .max_by_key(|r| r.version);
            if let Some(record) = newest {
                if let (Some(primary), Ok(_)) = (&asked.primary, &asked.answer) {
                    if held.as_ref().is_none_or(|h| h.version < record.version) {
                        // The primary is taking the range over: give it the key now.
                        self.inner.clone().repair_copy(
                            primary.clone(),
                            key.clone(),
                            record.clone(),
                        );
                    }
                }
                return Ok(Some(record));
            }
            let now = Instant::now();
            if now >= deadline {
                let why = match asked.answer {
                    Err(e) => format!("its primary did not answer ({e})"),
                    Ok(_) => "its primary is still taking the range over".to_string(),
                };
                return Err(TableError::Unavailable(format!(
                    "no copy of the key answered with it and no copy can yet say it is absent: \
                     {why}; retry in a few seconds"
                )));
            }
            if let (Some(primary), Err(_)) = (&asked.primary, &asked.answer) {
                self.inner.view.lock().forget(primary);
            }
            attempt += 1;
            tokio::time::sleep(backoff(attempt).min(deadline - now)).await;
        }
    }

    /// Asks `key`'s primary (following `moved`): what it holds and whether it is
    /// authoritative, or why it did not answer.
    async fn ask_primary(&self, key: &Bytes, position: KeyPosition) -> PrimaryRead {
        let known = self.fresh_view().primary(&position.id());
        let mut primary = match known {
            Some(primary) => primary,
            None => match self.lookup_primary(position.id()).await {
                Ok(primary) => primary,
                Err(e) => {
                    return PrimaryRead {
                        primary: None,
                        answer: Err(e),
                    }
                }
            },
        };
        for _ in 0..REDIRECTS {
            let reply = if self.inner.is_local(&primary) {
                // Our own vnode: read the store directly, with the position already hashed.
                Ok(self
                    .inner
                    .read_at(&primary, vec![key.clone()], &[position], true))
            } else {
                let request = Request::Read {
                    dest: primary.clone(),
                    keys: vec![key.clone()],
                    primary: true,
                };
                self.inner.call(request).await
            };
            let answer = match reply {
                Ok(Reply::ReadResp {
                    moved: Some(owner), ..
                }) => {
                    primary = owner;
                    continue;
                }
                Ok(Reply::ReadResp {
                    mut items,
                    authoritative,
                    ..
                }) => Ok((items.pop().and_then(|i| i.record), authoritative)),
                Ok(other) => Err(TableError::Protocol {
                    host: primary.host.to_string(),
                    reason: format!("unexpected reply 0x{:02x} to a read", other.kind()),
                }),
                Err(e) => Err(e),
            };
            return PrimaryRead {
                primary: Some(primary),
                answer,
            };
        }
        PrimaryRead {
            answer: Err(TableError::Unavailable(format!(
                "ownership of the key is moving: still redirected after {REDIRECTS} hops"
            ))),
            primary: Some(primary),
        }
    }

    /// The newest record of `key` on every copy other than `asked` that the cached view places
    /// it on, and on the copies a fresh lookup places it on, and one host further (the view may
    /// still hold vnodes that died, or miss ones that joined).
    ///
    /// Both, even when the view's copies found one: the writer's replica set may not be the one
    /// this node's view names (the writer skipped a vnode it could not reach), and the view's
    /// copies can then hold an older record than the copies the write reached (table
    /// simulation, seed 165: the view's copies answered 105 after an `INCR` acknowledged 106
    /// by a copy only the lookup named).
    async fn read_other_copies(&self, key: &Bytes, asked: Option<&Vnode>) -> Option<Record> {
        let mut tried: Vec<Vnode> = asked.into_iter().cloned().collect();
        let mut newest: Option<Record> = None;
        for source in [Source::View, Source::Lookup] {
            let placement = match source {
                Source::View => self.placement(key).await,
                // One host further than the key's placement: the writer's replica set may have
                // skipped a live vnode its successor list did not hold yet (a node back from a
                // restart), and put the newest copy on the host after (table simulation, clock
                // seed 1961: a `DEL` at consistency 3 on the primary and the hosts of the first
                // and third vnodes after it; the primary and the first crashed, and a read
                // settled on the second's older copy; docs/reliability.md, fix 36).
                Source::Lookup => {
                    let replicas = self.inner.ring.config().replicas;
                    self.lookup_copies(KeyPosition::of(key).id(), replicas + 1)
                        .await
                }
            };
            let Ok(placement) = placement else {
                continue;
            };
            let copies: Vec<Vnode> = placement
                .copies()
                .filter(|c| tried.iter().all(|t| t.id != c.id))
                .cloned()
                .collect();
            tried.extend(copies.iter().cloned());
            let answers = self.read_from(key, &copies).await;
            tracing::debug!(
                key = %String::from_utf8_lossy(key),
                ?asked,
                answers = ?copies
                    .iter()
                    .zip(&answers)
                    .map(|(copy, answer)| (copy.to_string(), answer.as_ref().map(|r| r.as_ref().map(|r| r.version))))
                    .collect::<Vec<_>>(),
                "read from other copies"
            );
            let found = answers
                .into_iter()
                .filter_map(Result::ok)
                .flatten()
                .max_by_key(|r| r.version);
            newest = [newest, found]
                .into_iter()
                .flatten()
                .max_by_key(|r| r.version);
        }
        newest
    }

    /// Reads `self.read` copies, returns the newest and repairs the stale ones.
    async fn read_quorum(
        &self,
        key: Bytes,
        placement: Placement,
    ) -> Result<Option<Record>, TableError> {
        let copies: Vec<Vnode> = std::iter::once(placement.primary)
            .chain(placement.replicas)
            .collect();
        let mut pending: FuturesUnordered<_> = copies
            .iter()
            .map(|vnode| {
                let key = key.clone();
                async move {
                    (
                        vnode.clone(),
                        self.read_from(&key, std::slice::from_ref(vnode)).await,
                    )
                }
            })
            .collect();
        let mut answers: Vec<(Vnode, Option<Record>)> = Vec::new();
        while answers.len() < self.read {
            let Some((vnode, mut result)) = pending.next().await else {
                break;
            };
            if let Some(Ok(record)) = result.pop() {
                answers.push((vnode, record));
            }
        }
        if answers.len() < self.read {
            return Err(TableError::Unavailable(format!(
                "only {} of the {} copies asked for answered",
                answers.len(),
                self.read
            )));
        }
        let newest = answers
            .iter()
            .filter_map(|(_, r)| r.clone())
            .max_by_key(|r| r.version);
        if let Some(newest) = &newest {
            for (vnode, held) in &answers {
                if held.as_ref().is_none_or(|h| h.version < newest.version) {
                    self.inner
                        .clone()
                        .repair_copy(vnode.clone(), key.clone(), newest.clone());
                }
            }
        }
        Ok(newest)
    }

    /// Reads `key` from each of `vnodes` (not as owner), in parallel.
    pub(super) async fn read_from(
        &self,
        key: &Bytes,
        vnodes: &[Vnode],
    ) -> Vec<Result<Option<Record>, TableError>> {
        join_all(vnodes.iter().map(|v| async move {
            let request = Request::Read {
                dest: v.clone(),
                keys: vec![key.clone()],
                primary: false,
            };
            match self.inner.call(request).await? {
                Reply::ReadResp { mut items, .. } => Ok(items.pop().and_then(|i| i.record)),
                other => Err(TableError::Protocol {
                    host: v.host.to_string(),
                    reason: format!("unexpected reply 0x{:02x} to a read", other.kind()),
                }),
            }
        }))
        .await
    }
}

/// What a key's primary answered to a read.
struct PrimaryRead {
    /// The primary asked last (after redirects); `None` when none could be found.
    primary: Option<Vnode>,
    /// Its record, if any, and whether it is authoritative; or why it did not answer.
    answer: Result<(Option<Record>, bool), TableError>,
}

/// Where [`Query::read_other_copies`] places a key.
#[derive(Clone, Copy)]
enum Source {
    View,
    Lookup,
}

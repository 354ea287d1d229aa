//! The client side of the table: any node coordinates any key.
//!
//! A write looks up the key's successors, sends the write to the primary (which versions,
//! replicates and acknowledges after the asked-for copies), and follows `moved` answers while
//! ownership is changing. A read asks the primary. The primary's answer is final only when it
//! is *authoritative* for the key (it has completed taking its range over, see
//! [`super::ledger`]); otherwise — or when it does not answer — every copy the coordinator can
//! find decides, newest version winning, and "not found" is answered only once an
//! authoritative copy says so: until then the read waits (up to `read_settle_timeout`) and then
//! fails with [`TableError::Unavailable`]. A read never answers nil for a key that a copy it
//! could not reach may hold. Multi-key operations group keys by primary: one request per
//! primary, all in parallel.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use dendrite::{Id, Vnode};
use futures::future::join_all;

use super::serve::write_ack;
use super::{TableInner, TableStats};
use crate::error::TableError;
use crate::modify::{Modified, Modify, ModifyError};
use crate::placement::Placement;
use crate::position::KeyPosition;
use crate::record::Record;
use crate::version::Version;
use crate::wire::{ModifyAnswer, Reply, Request, WriteRole};
use crate::write::Write;

/// How many times a request retries after an unreachable primary.
const ATTEMPTS: usize = 6;

/// How many `moved` redirects a request follows (each is one cheap call, one vnode closer).
pub(super) const REDIRECTS: usize = 64;

/// Settings for one or more operations; build with [`Table::query`](super::Table::query).
///
/// ```
/// # async fn example(table: &dtable::Table) -> Result<(), dtable::TableError> {
/// table.query().consistency(3).set("k", "v").await?;   // acknowledged by 3 copies
/// let v = table.query().read_consistency(2).get("k").await?; // newest of 2 copies
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Query<'a> {
    pub(super) inner: &'a Arc<TableInner>,
    pub(super) write: usize,
    pub(super) read: usize,
}

impl<'a> Query<'a> {
    pub(super) fn new(inner: &'a Arc<TableInner>) -> Query<'a> {
        Query {
            inner,
            write: inner.config.default_consistency,
            read: 1,
        }
    }

    /// Copies that must hold a write before it is acknowledged: `1..=replicas + 1`.
    pub fn consistency(mut self, copies: usize) -> Query<'a> {
        self.write = copies;
        self
    }

    /// Copies a read consults (newest wins, stale ones are repaired): `1..=replicas + 1`.
    pub fn read_consistency(mut self, copies: usize) -> Query<'a> {
        self.read = copies;
        self
    }

    /// The value of `key`, or `None` when it is absent or deleted.
    pub async fn get(&self, key: impl Into<Bytes>) -> Result<Option<Bytes>, TableError> {
        Ok(self.get_expiring(key).await?.map(|(value, _)| value))
    }

    /// The value of `key` and its deadline (Unix ms, `None`: it never expires), or `None` when
    /// the key is absent, deleted or expired: what TTL and PTTL read.
    pub async fn get_expiring(
        &self,
        key: impl Into<Bytes>,
    ) -> Result<Option<(Bytes, Option<u64>)>, TableError> {
        let key = key.into();
        self.check_key(&key)?;
        self.check_consistency(self.read)?;
        let result = self.read_one(key).await;
        self.count_read(&result);
        let now = self.now();
        Ok(result?.and_then(|r| {
            let expires = r.expires;
            r.into_live_value(now).map(|value| (value, expires))
        }))
    }

    /// The physical time now (Unix ms) by this node's clock: what deadlines are compared with.
    pub(super) fn now(&self) -> u64 {
        self.inner.clock.now_millis()
    }

    /// Stores `value` under `key`.
    pub async fn set(
        &self,
        key: impl Into<Bytes>,
        value: impl Into<Bytes>,
    ) -> Result<(), TableError> {
        self.set_multi(vec![(key.into(), value.into())]).await
    }

    /// Stores `value` under `key` until `expires` (Unix ms), when it disappears from every
    /// copy at once (Redis's `SET key value PXAT expires`; docs/design.md, "Expiry").
    pub async fn set_expiring(
        &self,
        key: impl Into<Bytes>,
        value: impl Into<Bytes>,
        expires: u64,
    ) -> Result<(), TableError> {
        self.set_many(vec![Write {
            key: key.into(),
            value: value.into(),
            expires: Some(expires),
        }])
        .await
    }

    /// Deletes `key` (a tombstone that beats every older value, see the crate docs).
    pub async fn delete(&self, key: impl Into<Bytes>) -> Result<(), TableError> {
        self.delete_multi(vec![key.into()]).await
    }

    /// Values of several keys, in the order asked.
    pub async fn get_multi(&self, keys: Vec<Bytes>) -> Result<Vec<Option<Bytes>>, TableError> {
        for k in &keys {
            self.check_key(k)?;
        }
        self.check_consistency(self.read)?;
        if self.read > 1 {
            let all = join_all(keys.into_iter().map(|k| self.read_one(k))).await;
            let now = self.now();
            return all
                .into_iter()
                .map(|r| Ok(r?.and_then(|r| r.into_live_value(now))))
                .collect();
        }
        let groups = self.group(keys.iter().enumerate()).await?;
        let mut out: Vec<Option<Record>> = vec![None; keys.len()];
        // Keys whose primary could not answer alone (taking its range over, or no answer).
        let mut fallback = Vec::new();
        // Boxed, as in `write_records`: a group's future holds a whole request's round trip.
        let answers = join_all(groups.into_iter().map(|(primary, members)| {
            Box::pin(async move {
                let (members, positions): (Vec<(usize, &Bytes)>, Vec<KeyPosition>) =
                    members.into_iter().unzip();
                let wanted: Vec<Bytes> = members.iter().map(|(_, k)| Bytes::clone(k)).collect();
                if self.inner.is_local(&primary) {
                    // Our own vnode: read the store directly, with the positions already hashed.
                    return (
                        members,
                        Ok(self.inner.read_at(&primary, wanted, &positions, true)),
                    );
                }
                let request = Request::Read {
                    dest: primary,
                    keys: wanted,
                    primary: true,
                };
                (members, self.inner.call(request).await)
            })
        }))
        .await;
        for (members, answer) in answers {
            match answer {
                Ok(Reply::ReadResp {
                    items,
                    moved: None,
                    authoritative: true,
                }) if items.len() == members.len() => {
                    for ((index, _), item) in members.into_iter().zip(items) {
                        out[index] = item.record;
                    }
                }
                _ => fallback.extend(members),
            }
        }
        let retried = join_all(
            fallback
                .into_iter()
                .map(|(index, key)| async move { (index, self.read_settled(key.clone()).await) }),
        )
        .await;
        for (index, result) in retried {
            out[index] = result?;
        }
        TableStats::bump(&self.inner.stats.reads, out.len() as u64);
        let now = self.now();
        Ok(out
            .into_iter()
            .map(|r| r.and_then(|r| r.into_live_value(now)))
            .collect())
    }

    /// Stores several keys: one write per primary, all in parallel, each at this query's
    /// consistency. Fails if any key fails (the others may have been written).
    pub async fn set_multi(&self, pairs: Vec<(Bytes, Bytes)>) -> Result<(), TableError> {
        let writes = pairs
            .into_iter()
            .map(|(key, value)| Write::lasting(key, value))
            .collect();
        self.set_many(writes).await
    }

    /// [`set_multi`](Self::set_multi) of values that may have deadlines (pipelined `SET ...
    /// EX`, `SETEX`).
    pub async fn set_many(&self, writes: Vec<Write>) -> Result<(), TableError> {
        for write in &writes {
            self.check_pair(&write.key, &write.value)?;
        }
        let records = writes
            .into_iter()
            .map(|w| (w.key, Record::expiring(Version::ZERO, w.value, w.expires)))
            .collect();
        self.write_records(records).await
    }

    /// Refuses an empty or too long key and a too long value.
    fn check_pair(&self, key: &[u8], value: &[u8]) -> Result<(), TableError> {
        self.check_key(key)?;
        if value.len() > self.inner.config.max_value_len {
            return Err(TableError::ValueTooLarge {
                len: value.len(),
                max: self.inner.config.max_value_len,
            });
        }
        Ok(())
    }

    /// Applies `op` to `key` at the key's primary as one step (no update is lost to a
    /// concurrent one), at this query's write consistency; the operation's answer.
    ///
    /// Unlike a plain write, a read-modify-write whose primary does not answer is not sent
    /// again: it may have been applied, and applying an INCR twice is wrong. The error says so;
    /// the client decides.
    ///
    /// ```
    /// # async fn example(table: &dtable::Table) -> Result<(), dtable::TableError> {
    /// use dtable::{Modified, Modify};
    /// let n = table.query().consistency(2).modify("visits", Modify::IncrBy(1)).await?;
    /// assert!(matches!(n, Modified::Integer(_)));
    /// # Ok(()) }
    /// ```
    pub async fn modify(&self, key: impl Into<Bytes>, op: Modify) -> Result<Modified, TableError> {
        let key = key.into();
        self.check_modify(&key, &op)?;
        let result = self.modify_at_primary(key, op).await;
        self.count_write(&result);
        result
    }

    /// Refuses a read-modify-write before it is sent: a bad key, a consistency out of range, a
    /// value it would write that is already too long.
    pub(super) fn check_modify(&self, key: &[u8], op: &Modify) -> Result<(), TableError> {
        self.check_key(key)?;
        self.check_consistency(self.write)?;
        if let Modify::Append(tail)
        | Modify::Set { value: tail, .. }
        | Modify::SetRange { value: tail, .. } = op
        {
            if tail.len() > self.inner.config.max_value_len {
                return Err(ModifyError::TooLarge.into());
            }
        }
        Ok(())
    }

    pub(super) async fn modify_at_primary(
        &self,
        key: Bytes,
        op: Modify,
    ) -> Result<Modified, TableError> {
        let position = KeyPosition::of(&key);
        let id = position.id();
        let min_acks = u32::try_from(self.write).unwrap_or(u32::MAX);
        let mut primary = self.primary_of(id).await?;
        for _ in 0..=REDIRECTS {
            let answer = if self.inner.is_local(&primary) {
                self.inner
                    .clone()
                    .modify_as_primary(primary.clone(), key.clone(), position, op.clone(), min_acks)
                    .await
            } else {
                let request = Request::Modify {
                    dest: primary.clone(),
                    key: key.clone(),
                    op: op.clone(),
                    min_acks,
                };
                self.call_modify(&primary, request).await?
            };
            match self.settle(answer) {
                ControlFlow::Break(result) => return result,
                // Not applied: safe to follow.
                ControlFlow::Continue(owner) => primary = owner,
            }
        }
        Err(TableError::Unavailable(format!(
            "ownership of the key is moving: still redirected after {REDIRECTS} hops"
        )))
    }

    /// What a coordinator makes of a primary's answer to a read-modify-write: the result
    /// (`Break`), or the vnode the keys moved to, nothing applied (`Continue`).
    pub(super) fn settle(
        &self,
        answer: ModifyAnswer,
    ) -> ControlFlow<Result<Modified, TableError>, Vnode> {
        ControlFlow::Break(match answer {
            ModifyAnswer::Done(done) => Ok(done),
            ModifyAnswer::Refused(refused) => Err(refused.into()),
            ModifyAnswer::Failed(reason) => Err(TableError::ConsistencyNotReached {
                wanted: self.write,
                reason,
            }),
            ModifyAnswer::Moved(owner) => return ControlFlow::Continue(owner),
        })
    }

    /// Deletes several keys, grouped per primary like [`set_multi`](Self::set_multi).
    pub async fn delete_multi(&self, keys: Vec<Bytes>) -> Result<(), TableError> {
        for k in &keys {
            self.check_key(k)?;
        }
        let records = keys
            .into_iter()
            .map(|k| (k, Record::tombstone(Version::ZERO)))
            .collect();
        self.write_records(records).await
    }

    async fn write_records(&self, mut records: Vec<(Bytes, Record)>) -> Result<(), TableError> {
        self.check_consistency(self.write)?;
        let count = records.len() as u64;
        let result = async {
            if records.len() == 1 {
                // One key (a client's unpipelined SET): placed without the grouping's map
                // node and vectors, allocated per SET at -P 1 (the profile's largest callers
                // of malloc).
                if let Some((key, record)) = records.pop() {
                    let position = KeyPosition::of(&key);
                    let primary = self.primary_of(position.id()).await?;
                    return self
                        .write_group(primary, vec![(key, record)], vec![position])
                        .await;
                }
            }
            let mut groups = self.group(records.into_iter()).await?;
            let unhashed = |items: Vec<((Bytes, Record), KeyPosition)>| -> (Vec<_>, Vec<_>) {
                last_write_wins(items).into_iter().unzip()
            };
            if groups.len() == 1 {
                // The common case (one key, or keys of one primary): no join machinery.
                if let Some((primary, items)) = groups.pop_first() {
                    let (items, positions) = unhashed(items);
                    return self.write_group(primary, items, positions).await;
                }
            }
            // Each group's future boxed: they are kilobytes each (every path a write may take,
            // catch-up and replication included), and `join_all` moves them and their slots
            // around; moving a pointer instead cut the node's time per pipelined write.
            let outcomes = join_all(groups.into_iter().map(|(primary, items)| {
                let (items, positions) = unhashed(items);
                Box::pin(self.write_group(primary, items, positions))
            }))
            .await;
            outcomes.into_iter().collect::<Result<(), TableError>>()
        }
        .await;
        match &result {
            Ok(()) => TableStats::bump(&self.inner.stats.writes, count),
            Err(_) => TableStats::bump(&self.inner.stats.write_errors, count),
        }
        result
    }

    /// Sends one primary its keys (`positions`: their ring positions, one per item), following
    /// `moved` and retrying an unreachable primary after a fresh lookup. A primary on this node
    /// is served in place, without a request.
    async fn write_group(
        &self,
        mut primary: Vnode,
        mut items: Vec<(Bytes, Record)>,
        mut positions: Vec<KeyPosition>,
    ) -> Result<(), TableError> {
        let min_acks = u32::try_from(self.write).unwrap_or(u32::MAX);
        let mut last = TableError::Unavailable("no attempt made".into());
        let mut redirects = 0;
        let mut attempt = 0;
        while attempt < ATTEMPTS && redirects <= REDIRECTS {
            let counter = if attempt == 0 && redirects == 0 {
                &self.inner.stats.direct_routes
            } else {
                &self.inner.stats.rerouted
            };
            TableStats::bump(counter, 1);
            let reply = if self.inner.is_local(&primary) {
                // The batch is handed over, not copied: it comes back untouched if the vnode
                // does not own its keys, the only case that needs it again (every other local
                // reply ends the loop).
                let inner = self.inner.clone();
                let batch = (std::mem::take(&mut items), std::mem::take(&mut positions));
                match inner
                    .write_owned(primary.clone(), batch.0, batch.1, min_acks)
                    .await
                {
                    Ok(reply) => Ok(reply),
                    Err(moved) => {
                        (items, positions) = (moved.items, moved.positions);
                        Ok(write_ack(0, None, Some(moved.owner)))
                    }
                }
            } else {
                let request = Request::Write {
                    dest: primary.clone(),
                    items: items.clone(),
                    role: WriteRole::Primary { min_acks },
                    origin: None,
                };
                self.inner.call(request).await
            };
            match reply {
                Ok(Reply::WriteAck {
                    error: None,
                    moved: None,
                    ..
                }) => return Ok(()),
                Ok(Reply::WriteAck {
                    moved: Some(owner), ..
                }) => {
                    if items.len() > 1 {
                        // The keys of this batch do not all belong to one vnode (our view of
                        // the ring was incomplete): place each key by a lookup instead.
                        return self.write_each(items).await;
                    }
                    last = TableError::Unavailable(format!(
                        "ownership of the key is moving: {primary} sent us on to {owner}"
                    ));
                    primary = owner;
                    redirects += 1;
                    continue;
                }
                Ok(Reply::WriteAck {
                    error: Some(reason),
                    ..
                }) => {
                    return Err(TableError::ConsistencyNotReached {
                        wanted: self.write,
                        reason,
                    })
                }
                Ok(other) => {
                    return Err(TableError::Protocol {
                        host: primary.host.to_string(),
                        reason: format!("unexpected reply 0x{:02x} to a write", other.kind()),
                    })
                }
                Err(e) => last = e,
            }
            attempt += 1;
            // The primary did not answer: the ring may be repairing. Look again after a pause.
            self.inner.view.lock().forget(&primary);
            tokio::time::sleep(backoff(attempt)).await;
            if let Some(position) = positions.first() {
                primary = self.lookup_primary(position.id()).await?;
            }
        }
        Err(last)
    }

    /// Writes every item on its own, each placed by a lookup.
    async fn write_each(&self, items: Vec<(Bytes, Record)>) -> Result<(), TableError> {
        let outcomes = join_all(items.into_iter().map(|item| async move {
            let position = KeyPosition::of(&item.0);
            let primary = self.lookup_primary(position.id()).await?;
            Box::pin(self.write_group(primary, vec![item], vec![position])).await
        }))
        .await;
        outcomes.into_iter().collect()
    }

    /// Where `key` lives, from the cached ring view (see [`super::view`]); a lookup when the
    /// view is empty.
    pub(super) async fn placement(&self, key: &[u8]) -> Result<Placement, TableError> {
        let id = KeyPosition::of(key).id();
        match self.inner.view_placement(id) {
            Some(placement) => Ok(placement),
            None => self.lookup_placement(id).await,
        }
    }

    /// The cached ring view, rebuilt first when it is too old (held only for in-memory work).
    pub(super) fn fresh_view(&self) -> parking_lot::MutexGuard<'_, super::view::RingView> {
        let mut view = self.inner.view.lock();
        if view.is_stale() {
            view.rebuild(&self.inner.ring);
        }
        view
    }

    /// Where the key at ring position `id` lives, by an iterative lookup on the ring.
    pub(super) async fn lookup_placement(&self, id: Id) -> Result<Placement, TableError> {
        self.lookup_copies(id, self.inner.ring.config().replicas)
            .await
    }

    /// The vnode at or after ring position `id` and the next `replicas` vnodes on distinct
    /// other hosts, by an iterative lookup on the ring.
    pub(super) async fn lookup_copies(
        &self,
        id: Id,
        replicas: usize,
    ) -> Result<Placement, TableError> {
        let ring = &self.inner.ring;
        let successors = ring
            .find_successors(id, ring.config().num_successors)
            .await?;
        Placement::from_successors(&successors, replicas)
            .map_err(|e| TableError::Unavailable(e.to_string()))
    }

    /// The primary of the key at ring position `id`: from the cached view, else by a lookup.
    pub(super) async fn primary_of(&self, id: Id) -> Result<Vnode, TableError> {
        let known = self.fresh_view().primary(&id);
        match known {
            Some(primary) => Ok(primary),
            None => self.lookup_primary(id).await,
        }
    }

    /// The primary of the key at ring position `id`, by an iterative lookup on the ring.
    pub(super) async fn lookup_primary(&self, id: Id) -> Result<Vnode, TableError> {
        Ok(self.lookup_placement(id).await?.primary)
    }

    /// Groups items by their primary (lookups in parallel), each with its key's ring position.
    pub(super) async fn group<T>(
        &self,
        mut items: impl Iterator<Item = T>,
    ) -> Result<BTreeMap<Vnode, Vec<(T, KeyPosition)>>, TableError>
    where
        T: KeyOf,
    {
        let mut groups: BTreeMap<Vnode, Vec<(T, KeyPosition)>> = BTreeMap::new();
        let mut unplaced = Vec::new();
        {
            let view = self.fresh_view();
            while let Some(item) = items.next() {
                let position = KeyPosition::of(item.key());
                match view.primary(&position.id()) {
                    // A new group has room for every item left, so that it never grows (each
                    // growth a reallocation and a copy; they showed in pipelined profiles).
                    Some(primary) => groups
                        .entry(primary)
                        .or_insert_with(|| Vec::with_capacity(items.size_hint().0 + 1))
                        .push((item, position)),
                    None => unplaced.push((item, position)),
                }
            }
        }
        // The view knows no vnode yet: place these by lookups, in parallel.
        let placements = join_all(
            unplaced
                .iter()
                .map(|(_, position)| self.lookup_primary(position.id())),
        )
        .await;
        for (item, placement) in unplaced.into_iter().zip(placements) {
            groups.entry(placement?).or_default().push(item);
        }
        Ok(groups)
    }

    pub(super) fn check_key(&self, key: &[u8]) -> Result<(), TableError> {
        if key.is_empty() {
            return Err(TableError::EmptyKey);
        }
        let max = self.inner.config.max_key_len;
        if key.len() > max {
            return Err(TableError::KeyTooLarge {
                len: key.len(),
                max,
            });
        }
        Ok(())
    }

    pub(super) fn check_consistency(&self, copies: usize) -> Result<(), TableError> {
        let max = self.inner.ring.config().replicas + 1;
        if copies == 0 || copies > max {
            return Err(TableError::InvalidConsistency {
                wanted: copies,
                max,
            });
        }
        Ok(())
    }

    /// Counts one read-modify-write as a write or a write error.
    pub(super) fn count_write<T>(&self, result: &Result<T, TableError>) {
        let counter = if result.is_ok() {
            &self.inner.stats.writes
        } else {
            &self.inner.stats.write_errors
        };
        TableStats::bump(counter, 1);
    }

    pub(super) fn count_read<T>(&self, result: &Result<T, TableError>) {
        let counter = if result.is_ok() {
            &self.inner.stats.reads
        } else {
            &self.inner.stats.read_errors
        };
        TableStats::bump(counter, 1);
    }
}

/// Things grouped by the primary of their key.
/// One primary's share of a batch, in position order, each key once: the last write of a key
/// in the batch wins, as if the writes ran in order.
///
/// A stable sort by position (then key, should two keys share one) puts a key's writes next to
/// each other in batch order; of each such run only the last is kept. Sorting integers-first
/// ids is cheaper than the map of key bytes this replaced (its `memcmp`s and node allocations
/// showed in profiles of pipelined `SET`s), and position order walks the store's chunks in
/// order.
fn last_write_wins<T: KeyOf>(mut items: Vec<(T, KeyPosition)>) -> Vec<(T, KeyPosition)> {
    if items.len() < 2 {
        return items;
    }
    items.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.key().cmp(b.0.key())));
    // `later` follows `kept`; when both are one key, the later write takes the kept slot and the
    // earlier is dropped.
    items.dedup_by(|later, kept| {
        let same = later.1 == kept.1 && later.0.key() == kept.0.key();
        if same {
            std::mem::swap(later, kept);
        }
        same
    });
    items
}

pub(super) trait KeyOf {
    fn key(&self) -> &[u8];
}

impl KeyOf for (usize, &Bytes) {
    fn key(&self) -> &[u8] {
        self.1
    }
}

impl KeyOf for (Bytes, Record) {
    fn key(&self) -> &[u8] {
        &self.0
    }
}

impl KeyOf for (usize, Bytes, crate::modify::Modify) {
    fn key(&self) -> &[u8] {
        &self.1
    }
}

pub(super) fn backoff(attempt: usize) -> Duration {
    Duration::from_millis(100 << attempt.min(5))
}

//! The local store of one node: every record it holds, primary or replica, in ring order.
//!
//! Entries are ordered by (ring position of the key, key bytes), so a vnode's range can be
//! scanned, handed off, or digested in id order. Records are packed into byte chunks (see
//! `Shard`) to keep the memory per key small; reads copy keys and values out. The store is split into shards, each a contiguous id
//! range behind its own `RwLock`, so writers to different parts of the ring do not contend. All
//! methods are synchronous and hold a shard lock only for the in-memory work they do; callers in
//! async code never hold one across an `.await` because they never get one.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use dendrite::Id;
use parking_lot::RwLock;

use crate::position::KeyPosition;
use crate::range::IdRange;
use crate::record::{HeldRecord, Record};
use crate::version::Version;
use chunk::Chunk;
pub use error::StoreError;

/// Callback run after each change the store makes to a key (see [`Store::set_observer`]).
pub type Observer = dyn Fn(&[u8], Change<'_>) + Send + Sync;

/// A change [`Store`] made to one key, as its observer sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change<'a> {
    /// The store accepted this record (inserted or replaced; tombstones included).
    Stored(&'a Record),
    /// The store dropped the key's copy at this version ([`Store::remove_if`]).
    Removed(Version),
}

/// Digest of a bucket holding no entries.
pub const EMPTY_DIGEST: u64 = 0;

/// What [`Store::apply`] did with a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Applied {
    /// The key was not held before; it now is.
    Inserted,
    /// The record replaced an older version of the key.
    Replaced,
    /// The store already held this version or a newer one; nothing changed.
    Stale,
    /// The record is too large for the store to hold (see [`StoreError`]); nothing changed.
    /// The table's `max_value_len` (16 MiB by default) keeps values far below this.
    Refused,
}

impl Applied {
    /// Did the store change?
    pub fn changed(self) -> bool {
        matches!(self, Applied::Inserted | Applied::Replaced)
    }
}

mod chunk;
mod chunk_map;
mod deadlines;
mod error;
mod packed;
mod shard;

use shard::Shard;

/// The records one node holds, sharded by ring position.
pub struct Store {
    shards: Vec<RwLock<Shard>>,
    observer: RwLock<Option<Arc<Observer>>>,
    /// Is an observer set? Read on every write so that, without an observer (the usual case),
    /// a write does not touch the `observer` lock, whose word every core would otherwise write.
    observed: AtomicBool,
}

impl Store {
    /// An empty store with `shards` shards (at least one; a few per core is plenty).
    pub fn new(shards: usize) -> Store {
        Store {
            shards: (0..shards.max(1))
                .map(|_| RwLock::new(Shard::default()))
                .collect(),
            observer: RwLock::new(None),
            observed: AtomicBool::new(false),
        }
    }

    /// Runs `observer` after every record the store accepts (inserted or replaced, tombstones
    /// included; not for stale ones) and every copy [`remove_if`](Store::remove_if) drops; not
    /// for purged tombstones nor [`remove_range`](Store::remove_range). The durable log writes
    /// both kinds; the Go original's ItemHook sees the first.
    ///
    /// It runs on the writer's thread after the shard lock is released, so it may read the
    /// store; two concurrent writes of one key may reach it in either order, so an observer that
    /// mirrors the store must itself keep the newer version. Replaces any previous observer.
    pub fn set_observer(&self, observer: Box<Observer>) {
        let mut slot = self.observer.write();
        *slot = Some(Arc::from(observer));
        self.observed.store(true, Ordering::Release);
    }

    /// Removes the observer, if any.
    pub fn clear_observer(&self) {
        let mut slot = self.observer.write();
        *slot = None;
        self.observed.store(false, Ordering::Release);
    }

    /// Index of the shard holding `id`: shards split the ring into equal contiguous id ranges.
    fn shard_index(&self, id: &Id) -> usize {
        let scaled = (u128::from(id.high_u64()) * self.shards.len() as u128) >> 64;
        usize::try_from(scaled).unwrap_or(self.shards.len() - 1)
    }

    /// The record held for `key` (a tombstone if it was deleted), or `None` if never seen.
    pub fn get(&self, key: &[u8]) -> Option<Record> {
        self.get_at(&KeyPosition::of(key), key)
    }

    /// Starts loading what looking up or writing each of `positions` will read, without
    /// waiting, so that a batch's cache misses overlap instead of following one another
    /// (a pipelined client's `GET`s and `SET`s, grouped). Changes nothing; harmless if the
    /// store changes before the batch runs. A single position is left alone: nothing to
    /// overlap with.
    pub fn prefetch(&self, positions: &[KeyPosition]) {
        if positions.len() < 2 {
            return;
        }
        // First every chunk's index, then (the indexes arriving meanwhile) every record.
        for position in positions {
            let id = position.id();
            self.shards[self.shard_index(&id)]
                .read()
                .chunk(&id)
                .prefetch_index();
        }
        for position in positions {
            let id = position.id();
            self.shards[self.shard_index(&id)]
                .read()
                .chunk(&id)
                .prefetch_record(&id);
        }
    }

    /// [`get_at`](Store::get_at) of a batch (a pipelined client's `GET`s, a multi-key read):
    /// the record held for each of `keys` at its position, in order.
    ///
    /// Each key's chunk is searched for once, under one read lock per shard the batch touches,
    /// and the batch's cache misses overlap as in [`prefetch`](Store::prefetch) (which, followed
    /// by a `get_at` per key, searched the chunk map three times per key and took as many locks).
    ///
    /// Lock order: the batch holds several shards' read locks at once, taken in ascending shard
    /// order; every other method holds at most one shard lock at a time. `parking_lot` makes a
    /// reader wait behind a waiting writer, so two batches taking locks in different orders could
    /// each wait for a writer queued behind the other; one order rules that out.
    pub fn get_many_at<K: AsRef<[u8]>>(
        &self,
        positions: &[KeyPosition],
        keys: &[K],
    ) -> Vec<Option<Record>> {
        let (shard_of, guards) = self.lock_touched(positions, |shard| shard.read());
        let chunks: Vec<Option<&Chunk>> = positions
            .iter()
            .zip(&shard_of)
            .map(|(position, &index)| Some(guards[index].as_ref()?.chunk(&position.id())))
            .collect();
        if positions.len() > 1 {
            // First every chunk's index, then (the indexes arriving meanwhile) every record.
            for chunk in chunks.iter().flatten() {
                chunk.prefetch_index();
            }
            for (chunk, position) in chunks.iter().zip(positions) {
                if let Some(chunk) = chunk {
                    chunk.prefetch_record(&position.id());
                }
            }
        }
        chunks
            .iter()
            .zip(positions)
            .zip(keys)
            .map(|((chunk, position), key)| {
                let (_, entry) = chunk.as_ref()?.find(&position.id(), key.as_ref()).ok()?;
                Some(entry.to_record())
            })
            .collect()
    }

    /// The shard of each of `positions`, and a guard (`lock`, taken in ascending shard order:
    /// see [`get_many_at`](Store::get_many_at)) on each shard they touch, `None` for the others.
    fn lock_touched<'s, G>(
        &'s self,
        positions: &[KeyPosition],
        lock: impl Fn(&'s RwLock<Shard>) -> G,
    ) -> (Vec<usize>, Vec<Option<G>>) {
        let shard_of: Vec<usize> = positions
            .iter()
            .map(|position| self.shard_index(&position.id()))
            .collect();
        let mut touched = vec![false; self.shards.len()];
        for &index in &shard_of {
            touched[index] = true;
        }
        let guards = self
            .shards
            .iter()
            .zip(touched)
            .map(|(shard, touched)| touched.then(|| lock(shard)))
            .collect();
        (shard_of, guards)
    }

    /// [`get`](Store::get) for a caller that already hashed the key: `position` must be `key`'s
    /// (the type guarantees it is some key's), or the record is looked for in the wrong place.
    pub fn get_at(&self, position: &KeyPosition, key: &[u8]) -> Option<Record> {
        let id = position.id();
        self.shards[self.shard_index(&id)].read().get(&id, key)
    }

    /// Stores `record` for `key` if it is newer than what the store holds.
    ///
    /// Applying the same set of records in any order leaves the same state, and applying one
    /// twice is harmless: that is what makes replication, retries and repair safe. A record too
    /// large for the store (~4 GiB, see [`StoreError`]) is [`Applied::Refused`] and logged.
    pub fn apply(&self, key: Bytes, record: Record) -> Applied {
        self.apply_at(KeyPosition::of(&key), &key, &record)
    }

    /// [`apply`](Store::apply) for a caller that already hashed the key (the table does, to
    /// route it): `position` must be `key`'s. A record stored under any other position is
    /// invisible to [`get`](Store::get) and scanned in the wrong range; taking a
    /// [`KeyPosition`] rather than an [`Id`] means only a hashed key can get here.
    /// The store keeps its own packed copy: `key` and `record` are only read, so a caller that
    /// still needs them (to replicate) does not have to clone them.
    pub fn apply_at(&self, position: KeyPosition, key: &[u8], record: &Record) -> Applied {
        let id = position.id();
        let applied = self.shards[self.shard_index(&id)]
            .write()
            .apply(id, key, record);
        let outcome = Self::updated(&id, applied);
        if outcome.changed() {
            self.tell_observer(key, Change::Stored(record));
        }
        tracing::trace!(key = %id.short(), ?outcome, "applied record");
        outcome
    }

    /// Reads and writes `key` as one step under its shard's write lock: `change` gets the record
    /// held, borrowed in place (`None`: never seen) and returns the record to store, or `None` to store nothing;
    /// stored if newer than the one held, as [`apply_at`](Store::apply_at) would. Returns the
    /// record `change` made and whether it was stored. For a read-modify-write whose caller
    /// already excludes other writers of the key: one search instead of a `get_at` and an
    /// `apply_at`'s two. `change` runs under the shard lock: it must not touch the store.
    pub fn update_at(
        &self,
        position: KeyPosition,
        key: &[u8],
        change: impl FnOnce(Option<HeldRecord<'_>>) -> Option<Record>,
    ) -> (Applied, Option<Record>) {
        let id = position.id();
        let (updated, record) =
            self.shards[self.shard_index(&id)]
                .write()
                .update(id, key, |held| change(held.map(packed::Entry::held)));
        let outcome = Self::updated(&id, updated);
        if let (true, Some(record)) = (outcome.changed(), &record) {
            self.tell_observer(key, Change::Stored(record));
        }
        (outcome, record)
    }

    /// The outcome of a shard's update: a refusal is logged and reported as
    /// [`Applied::Refused`].
    fn updated(id: &Id, updated: Result<Applied, StoreError>) -> Applied {
        updated.unwrap_or_else(|refusal| {
            tracing::error!(key = %id.short(), error = %refusal, "refused record");
            Applied::Refused
        })
    }

    /// Number of keys holding a value (tombstones not counted).
    pub fn len_live(&self) -> usize {
        self.shards.iter().map(|s| s.read().live).sum()
    }

    /// Number of values with a deadline, expired or not yet reclaimed included (INFO's
    /// `expires=`).
    pub fn len_expiring(&self) -> usize {
        self.shards.iter().map(|s| s.read().expiring).sum()
    }

    /// The values whose deadline is at or before `now` (Unix ms), up to `limit` of them, for
    /// the expiry sweep: each as its key and the record held now (a value past its deadline).
    ///
    /// Each is handed out once: a caller that cannot reclaim one yet (it is not the key's
    /// primary) puts it back with [`defer_deadline`](Store::defer_deadline). Entries the
    /// store no longer matches (the key was written again since, deleted, or handed away) are
    /// dropped on the way.
    pub fn take_expired(&self, now: u64, limit: usize) -> Vec<(Bytes, Record)> {
        let mut expired = Vec::new();
        for shard in &self.shards {
            if expired.len() >= limit {
                break;
            }
            let mut shard = shard.write();
            let due = shard.deadlines.take_due(now, limit - expired.len());
            for (deadline, id, key) in due {
                if let Some(record) = shard.get(&id, &key) {
                    // A later entry than the record's deadline is a deferred one; an earlier
                    // one is stale (the deadline was moved later since).
                    if record.value.is_some() && record.expires.is_some_and(|d| d <= deadline) {
                        expired.push((Bytes::from(key), record));
                    }
                }
            }
        }
        expired
    }

    /// Hands an expired record of `key` back to the sweep, to be offered again at `retry_at`
    /// (Unix ms): a replica's copy waits for its primary's tombstone, and is reclaimed by this
    /// node if it becomes the primary meanwhile.
    pub fn defer_deadline(&self, key: &[u8], retry_at: u64) {
        let id = KeyPosition::of(key).id();
        self.shards[self.shard_index(&id)]
            .write()
            .deadlines
            .insert(retry_at, id, key);
    }

    /// Number of records, tombstones included.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.read().total).sum()
    }

    /// Number of records (tombstones included) in `range`, without copying any: what a
    /// console shows as the keys a vnode holds (tombstones are few and purged after the grace
    /// period). Costs one step per chunk of the range.
    pub fn count_in(&self, range: IdRange) -> usize {
        range
            .segments()
            .into_iter()
            .map(|(lo, hi)| {
                (self.shard_index(&lo)..=self.shard_index(&hi))
                    .map(|index| self.shards[index].read().count_in(&lo, &hi))
                    .sum::<usize>()
            })
            .sum()
    }

    /// Does the store hold no record at all (not even a tombstone)?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every key holding a value, in ring order. Copies every key out of the store.
    pub fn keys(&self) -> Vec<Bytes> {
        let mut keys = Vec::with_capacity(self.len_live());
        for shard in &self.shards {
            let _ = shard.read().for_each_in(&Id::ZERO, &Id::MAX, |entry| {
                if !entry.is_tombstone() {
                    keys.push(Bytes::copy_from_slice(entry.key));
                }
                ControlFlow::Continue(())
            });
        }
        keys
    }

    /// Up to `limit` records of `range` (tombstones included) in ring order, starting strictly
    /// after the cursor `after` = (position, key) of the last record of the previous batch.
    ///
    /// Call with `after = None` first, then with the last entry returned, until a batch is
    /// shorter than `limit`. Batches are consistent per entry, not a snapshot: a record written
    /// during the scan behind the cursor is not seen (the write path delivers it instead). A
    /// cursor outside `range` yields an empty batch.
    pub fn scan(
        &self,
        range: IdRange,
        after: Option<(Id, Bytes)>,
        limit: usize,
    ) -> Vec<(Bytes, Record)> {
        let mut batch = Vec::new();
        if limit == 0 {
            return batch;
        }
        let mut cursor = after;
        for (lo, hi) in range.segments() {
            let start = match &cursor {
                None => lo,
                Some((id, _)) if lo <= *id && *id <= hi => *id,
                // The cursor is in a later segment (or outside the range): skip this one.
                Some(_) => continue,
            };
            for index in self.shard_index(&start)..=self.shard_index(&hi) {
                let shard = self.shards[index].read();
                let full = shard.for_each_in(&start, &hi, |entry| {
                    if let Some((after_id, after_key)) = &cursor {
                        if entry.id == *after_id && entry.key <= after_key.as_ref() {
                            return ControlFlow::Continue(());
                        }
                    }
                    batch.push((Bytes::copy_from_slice(entry.key), entry.to_record()));
                    if batch.len() == limit {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                });
                if full.is_break() {
                    return batch;
                }
            }
            // Past the segment holding the cursor, later segments are read from their start.
            cursor = None;
        }
        batch
    }

    /// Drops every record in `range` (after the range was handed off to its new owner).
    /// Returns how many were dropped.
    pub fn remove_range(&self, range: IdRange) -> usize {
        let mut removed = 0;
        for (lo, hi) in range.segments() {
            for index in self.shard_index(&lo)..=self.shard_index(&hi) {
                removed += self.shards[index]
                    .write()
                    .remove_where(&lo, &hi, |entry| lo <= entry.id && entry.id <= hi);
            }
        }
        removed
    }

    /// Drops the record of `key` if its version is still exactly `version`: what a node does
    /// with a copy it handed back, so that a newer write that arrived meanwhile stays. Returns
    /// whether it was dropped; the observer hears of a drop ([`Change::Removed`]), so that the
    /// durable log does not bring the copy back at the next start.
    pub fn remove_if(&self, key: &[u8], version: Version) -> bool {
        let id = KeyPosition::of(key).id();
        let removed = self.shards[self.shard_index(&id)]
            .write()
            .remove_where(&id, &id, |entry| {
                entry.id == id && entry.key == key && entry.version == version
            });
        if removed > 0 {
            self.tell_observer(key, Change::Removed(version));
        }
        removed > 0
    }

    /// Runs the observer, if one is set, on `change` to `key` (after the shard lock is
    /// released; see [`set_observer`](Store::set_observer)).
    fn tell_observer(&self, key: &[u8], change: Change<'_>) {
        if self.observed.load(Ordering::Acquire) {
            let observer = self.observer.read().clone();
            if let Some(observer) = observer {
                observer(key, change);
            }
        }
    }

    /// Drops tombstones whose delete time (`version.millis`) is before `older_than_millis`, in
    /// the whole store. The table itself purges per range ([`Store::purge_tombstones_in`]).
    ///
    /// The caller chooses the cut-off: only purge once every replica holds the tombstone and
    /// the grace period has passed, or a replica that missed the delete could resurrect the key.
    pub fn purge_tombstones(&self, older_than_millis: u64) -> usize {
        let mut purged = 0;
        for shard in &self.shards {
            purged += shard.write().remove_where(&Id::ZERO, &Id::MAX, |entry| {
                entry.is_tombstone() && entry.version.millis < older_than_millis
            });
        }
        purged
    }

    /// [`purge_tombstones`](Store::purge_tombstones) limited to `range`: what a range's primary
    /// does once every replica of the range holds its tombstones.
    pub fn purge_tombstones_in(&self, range: IdRange, older_than_millis: u64) -> usize {
        let mut purged = 0;
        for (lo, hi) in range.segments() {
            for index in self.shard_index(&lo)..=self.shard_index(&hi) {
                purged += self.shards[index].write().remove_where(&lo, &hi, |entry| {
                    lo <= entry.id
                        && entry.id <= hi
                        && entry.is_tombstone()
                        && entry.version.millis < older_than_millis
                });
            }
        }
        purged
    }

    /// One digest of every record in `range`: equal on two stores that hold the same records.
    pub fn digest(&self, range: IdRange) -> u64 {
        self.digest_buckets(range, 1)[0]
    }

    /// Digests of `buckets` equal-width buckets of `range` (see [`IdRange::buckets`]), for
    /// anti-entropy: two replicas compare bucket by bucket and exchange only the records of the
    /// buckets that differ ([`Buckets::bucket_range`](crate::range::Buckets::bucket_range) then
    /// [`scan`](Store::scan)). Each digest hashes (position, key, version, tombstone flag, deadline if any) of
    /// its records in ring order; an empty bucket is [`EMPTY_DIGEST`]. Costs a pass over the range.
    pub fn digest_buckets(&self, range: IdRange, buckets: usize) -> Vec<u64> {
        let division = range.buckets(buckets);
        let mut states: Vec<Option<Fnv>> = vec![None; division.len()];
        for (lo, hi) in range.segments() {
            for index in self.shard_index(&lo)..=self.shard_index(&hi) {
                let _ = self.shards[index].read().for_each_in(&lo, &hi, |entry| {
                    if let Some(bucket) = division.bucket_of(&entry.id) {
                        let state = states[bucket].get_or_insert_with(Fnv::new);
                        state.write(entry.id.as_bytes());
                        state.write(&(entry.key.len() as u64).to_be_bytes());
                        state.write(entry.key);
                        state.write(&entry.version.millis.to_be_bytes());
                        state.write(&entry.version.logical.to_be_bytes());
                        state.write(&entry.version.node.to_be_bytes());
                        state.write(&[u8::from(entry.is_tombstone())]);
                        if let Some(deadline) = entry.expires {
                            state.write(&deadline.to_be_bytes());
                        }
                    }
                    ControlFlow::Continue(())
                });
            }
        }
        states
            .into_iter()
            .map(|state| state.map_or(EMPTY_DIGEST, |s| s.finish()))
            .collect()
    }
}

impl Default for Store {
    /// A store with 16 shards.
    fn default() -> Store {
        Store::new(16)
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("shards", &self.shards.len())
            .field("records", &self.len())
            .field("live", &self.len_live())
            .finish()
    }
}

/// 64-bit FNV-1a with a final avalanche: stable across processes, builds and Rust versions
/// (unlike `std`'s hasher), which digests compared between nodes require.
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(self) -> u64 {
        // splitmix64 finaliser; never returns EMPTY_DIGEST for a non-empty bucket.
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        if z == EMPTY_DIGEST {
            1
        } else {
            z
        }
    }
}

#[cfg(test)]
mod tests;

//! One shard of the [`Store`](super::Store): a contiguous id range of the ring, its records
//! packed into ordered chunks.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use dendrite::Id;

use super::chunk::{self, Chunk};
use super::deadlines::Deadlines;
use super::packed;
use super::{Applied, StoreError};
use crate::record::Record;

/// A chunk grows past this many bytes only by one entry before it is split in two.
///
/// Only the records count, not the chunk's index (see [`chunk`]). Smaller chunks make inserts
/// (a `memmove` within the chunk) and splits cheaper and keep the index search within a cache
/// line or two; larger ones spread the per-chunk cost (a B-tree slot and an allocation, ~80 bytes) over more
/// keys. At 2 KiB a chunk holds ~15-30 small records, so that cost is a few bytes per key.
pub(super) const MAX_CHUNK_BYTES: usize = 2048;

/// Chunks grow their allocation in steps of this many bytes, not by doubling (which would leave
/// a quarter of every chunk empty on average) nor exactly (which would reallocate on every insert).
pub(super) const CHUNK_GROWTH_BYTES: usize = 128;

/// One shard: a contiguous id range of the ring.
///
/// Records are packed back to back into chunks (see [`packed`]), each chunk a sorted run of
/// (position, key) and the chunks themselves ordered: the chunk stored under `k` holds only
/// positions whose 8-byte prefix is in `[k, next chunk's k)`. Each chunk starts with an index
/// of its records (see [`chunk`]) so a lookup touches one record, not every record before it.
/// This costs ~48 bytes per record (8 of them the index) on top of its key and value, where one B-tree slot, one `Vec` and three `Bytes` per key cost ~470: no per-key
/// allocation, no pointers, a 15-byte version, and every byte copied out of the buffer it
/// arrived in, so a stored record never pins a whole receive buffer.
pub(super) struct Shard {
    /// Chunks by the lowest position prefix (see [`packed::prefix`]) they may hold; the chunk
    /// under 0 always exists (possibly empty), so every position has a chunk.
    ///
    /// Keyed by the 8-byte prefix rather than the whole position so that searching the map
    /// compares integers (no `memcmp`) in nodes a third the size. The price: all records sharing
    /// a prefix stay in one chunk, which only keys crafted to collide in 64 bits of SHA-1 share.
    pub(super) chunks: BTreeMap<u64, Chunk>,
    /// Number of records that are values (not tombstones).
    pub(super) live: usize,
    /// Number of records, tombstones included.
    pub(super) total: usize,
    /// Number of values with a deadline (Redis's `expires=` in INFO keyspace).
    pub(super) expiring: usize,
    /// The deadlines of the expiring values, soonest first (stale entries included).
    pub(super) deadlines: Deadlines,
    /// Where [`Shard::apply`] encodes a record before placing it in its chunk (reused, so a
    /// write allocates nothing unless its chunk grows).
    pub(super) scratch: Vec<u8>,
    /// Largest byte length a chunk may reach ([`chunk::OFFSET_LIMIT`]; smaller in tests, which
    /// cannot allocate 4 GiB records): a write that would grow a chunk past it is refused.
    pub(super) max_chunk_len: usize,
}

impl Default for Shard {
    fn default() -> Shard {
        Shard {
            chunks: BTreeMap::from([(0, Chunk::default())]),
            live: 0,
            total: 0,
            expiring: 0,
            deadlines: Deadlines::default(),
            scratch: Vec::new(),
            max_chunk_len: chunk::OFFSET_LIMIT,
        }
    }
}

impl Shard {
    /// The key of the chunk that holds (or would hold) position `id`.
    pub(super) fn chunk_key(&self, id: &Id) -> u64 {
        self.chunks
            .range(..=packed::prefix(id))
            .next_back()
            .map_or(0, |(key, _)| *key)
    }

    /// The chunk that holds (or would hold) position `id`: one search of the chunk map.
    pub(super) fn chunk(&self, id: &Id) -> Option<&Chunk> {
        self.chunks
            .range(..=packed::prefix(id))
            .next_back()
            .map(|(_, chunk)| chunk)
    }

    pub(super) fn apply(
        &mut self,
        id: Id,
        key: &[u8],
        record: &Record,
    ) -> Result<Applied, StoreError> {
        self.update(id, key, |_| Some(record)).0
    }

    /// Stores what `change` makes of the record held for (`id`, `key`) (`None`: nothing held),
    /// if it returns one and it is newer than the one held: [`apply`](Shard::apply) after a read,
    /// for one search of the chunk map and the chunk instead of two. What `change` returned
    /// comes back with the outcome ([`Applied::Stale`] with `None` when it returned none; a
    /// refusal with the record refused)
    pub(super) fn update<R: std::borrow::Borrow<Record>>(
        &mut self,
        id: Id,
        key: &[u8],
        change: impl FnOnce(Option<&packed::Entry<'_>>) -> Option<R>,
    ) -> (Result<Applied, StoreError>, Option<R>) {
        let Some((&chunk_key, chunk)) = self.chunks.range_mut(..=packed::prefix(&id)).next_back()
        else {
            // Unreachable while the chunk under `0` exists; restore it and retry.
            self.chunks.insert(0, Chunk::default());
            return self.update(id, key, change);
        };
        let found = chunk.find(&id, key);
        let Some(changed) = change(found.as_ref().ok().map(|(_, held)| held)) else {
            return (Ok(Applied::Stale), None);
        };
        let record = changed.borrow();
        let (rank, replaced_tombstone, replaced_deadline) = match found {
            Ok((rank, held)) => {
                if !packed::wins_over(record, &held) {
                    return (Ok(Applied::Stale), Some(changed));
                }
                (rank, Some(held.is_tombstone()), held.expires.is_some())
            }
            Err(rank) => (rank, None, false),
        };
        let encoded = &mut self.scratch;
        encoded.clear();
        packed::encode(encoded, &id, key, record);
        let replacing = replaced_tombstone.is_some();
        if chunk
            .len_after(rank, replacing, encoded.len(), self.max_chunk_len)
            .is_none()
        {
            let refusal = StoreError::ChunkTooLarge {
                record_len: encoded.len(),
                chunk_len: chunk.len(),
                limit: self.max_chunk_len,
            };
            return (Err(refusal), Some(changed));
        }
        chunk.put(rank, replacing, &id, encoded, CHUNK_GROWTH_BYTES);
        let outcome = match replaced_tombstone {
            Some(was_tombstone) => {
                if !was_tombstone {
                    self.live -= 1;
                }
                Applied::Replaced
            }
            None => {
                self.total += 1;
                Applied::Inserted
            }
        };
        if !record.is_tombstone() {
            self.live += 1;
        }
        if replaced_deadline {
            self.expiring -= 1;
        }
        if let Some(deadline) = record.expires {
            self.expiring += 1;
            self.deadlines.insert(deadline, id, key);
        }
        if chunk.len() > MAX_CHUNK_BYTES {
            self.split(chunk_key);
        }
        (Ok(outcome), Some(changed))
    }

    /// Splits an oversized chunk at the record boundary nearest its middle (never between two
    /// records sharing a position prefix, so the chunk ranges stay disjoint).
    pub(super) fn split(&mut self, chunk_key: u64) {
        let Some(chunk) = self.chunks.get_mut(&chunk_key) else {
            return;
        };
        if let Some((first_prefix, tail)) = chunk.split_off_half() {
            self.chunks.insert(first_prefix, tail);
        }
    }

    pub(super) fn get(&self, id: &Id, key: &[u8]) -> Option<Record> {
        self.chunk(id)?
            .find(id, key)
            .ok()
            .map(|(_, entry)| entry.to_record())
    }

    /// Calls `visit` on every record with a position in `[lo, hi]`, in ring order, until it
    /// returns `Break`.
    pub(super) fn for_each_in<'a>(
        &'a self,
        lo: &Id,
        hi: &Id,
        mut visit: impl FnMut(&packed::Entry<'a>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        if lo > hi {
            return ControlFlow::Continue(());
        }
        let range = self.chunk_key(lo)..=packed::prefix(hi);
        for chunk in self.chunks.range(range).map(|(_, c)| c) {
            for entry in chunk.entries() {
                if entry.id < *lo {
                    continue;
                }
                if entry.id > *hi {
                    return ControlFlow::Continue(());
                }
                visit(&entry)?;
            }
        }
        ControlFlow::Continue(())
    }

    /// Number of records (tombstones included) with a position in `[lo, hi]`: whole chunks are
    /// counted by their index, only the two chunks at the ends are walked, so a count costs one
    /// step per chunk (~30 records each), not per record.
    pub(super) fn count_in(&self, lo: &Id, hi: &Id) -> usize {
        if lo > hi {
            return 0;
        }
        let chunks: Vec<&Chunk> = self
            .chunks
            .range(self.chunk_key(lo)..=packed::prefix(hi))
            .map(|(_, chunk)| chunk)
            .collect();
        let last = chunks.len().saturating_sub(1);
        chunks
            .iter()
            .enumerate()
            .map(|(at, chunk)| {
                if at == 0 || at == last {
                    // Only the first chunk may hold positions below `lo` and only the last
                    // positions above `hi` (see the chunk map's invariant above).
                    chunk
                        .entries()
                        .filter(|entry| *lo <= entry.id && entry.id <= *hi)
                        .count()
                } else {
                    chunk.count()
                }
            })
            .sum()
    }

    /// Drops the records for which `drop` says so, from the chunks that may hold positions in
    /// `[lo, hi]`; returns how many were dropped. Emptied chunks are released.
    pub(super) fn remove_where(
        &mut self,
        lo: &Id,
        hi: &Id,
        mut drop: impl FnMut(&packed::Entry<'_>) -> bool,
    ) -> usize {
        if lo > hi {
            return 0;
        }
        let keys: Vec<u64> = self
            .chunks
            .range(self.chunk_key(lo)..=packed::prefix(hi))
            .map(|(key, _)| *key)
            .collect();
        let mut removed = 0;
        for chunk_key in keys {
            let Some(chunk) = self.chunks.get_mut(&chunk_key) else {
                continue;
            };
            let (live, expiring) = (&mut self.live, &mut self.expiring);
            let dropped = chunk.retain(
                |entry| !drop(entry),
                |entry| {
                    if !entry.is_tombstone() {
                        *live -= 1;
                    }
                    if entry.expires.is_some() {
                        *expiring -= 1;
                    }
                },
            );
            if dropped == 0 {
                continue;
            }
            removed += dropped;
            if chunk.is_empty() && chunk_key != 0 {
                self.chunks.remove(&chunk_key);
            }
        }
        self.total -= removed;
        removed
    }

    /// Checks every chunk's index against its records (see [`Chunk::check_index`]).
    #[cfg(test)]
    pub(super) fn check_index(&self) {
        for chunk in self.chunks.values() {
            chunk.check_index();
        }
    }
}

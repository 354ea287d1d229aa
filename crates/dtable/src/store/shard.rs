//! One shard of the [`Store`](super::Store): a contiguous id range of the ring, its records
//! packed into ordered chunks.

use std::ops::{ControlFlow, Range};

use dendrite::Id;

use super::chunk::{self, Chunk};
use super::chunk_map::ChunkMap;
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
    /// starting at 0 always exists (possibly empty), so every position has a chunk.
    ///
    /// Keyed by the 8-byte prefix rather than the whole position so that searching the map
    /// compares integers (no `memcmp`). The price: all records sharing a prefix stay in one
    /// chunk, which only keys crafted to collide in 48 bits of their position hash share
    /// (brute force, see `crate::slot`).
    pub(super) chunks: ChunkMap,
    /// Number of records that are values (not tombstones).
    pub(super) live: usize,
    /// Number of records, tombstones included.
    pub(super) total: usize,
    /// Number of values with a deadline (Redis's `expires=` in INFO keyspace).
    pub(super) expiring: usize,
    /// The deadlines of the expiring values, soonest first (stale entries included).
    pub(super) deadlines: Deadlines,
    /// Largest byte length a chunk may reach ([`chunk::OFFSET_LIMIT`]; smaller in tests, which
    /// cannot allocate 4 GiB records): a write that would grow a chunk past it is refused.
    pub(super) max_chunk_len: usize,
}

impl Default for Shard {
    fn default() -> Shard {
        Shard {
            chunks: ChunkMap::default(),
            live: 0,
            total: 0,
            expiring: 0,
            deadlines: Deadlines::default(),
            max_chunk_len: chunk::OFFSET_LIMIT,
        }
    }
}

impl Shard {
    /// The chunk that holds (or would hold) position `id`: one search of the chunk map.
    pub(super) fn chunk(&self, id: &Id) -> &Chunk {
        self.chunks.chunk(id)
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
        let rank = self.chunks.rank_of(&id);
        let chunk = self.chunks.at_mut(rank);
        let found = chunk.find(&id, key);
        let Some(changed) = change(found.as_ref().ok().map(|(_, held)| held)) else {
            return (Ok(Applied::Stale), None);
        };
        let record = changed.borrow();
        let (at, replaced_tombstone, replaced_deadline) = match found {
            Ok((at, held)) => {
                if !packed::wins_over(record, &held) {
                    return (Ok(Applied::Stale), Some(changed));
                }
                (at, Some(held.is_tombstone()), held.expires.is_some())
            }
            Err(at) => (at, None, false),
        };
        let encoded_len = packed::encoded_len(key, record);
        let replacing = replaced_tombstone.is_some();
        if chunk
            .len_after(at, replacing, encoded_len, self.max_chunk_len)
            .is_none()
        {
            let refusal = StoreError::ChunkTooLarge {
                record_len: encoded_len,
                chunk_len: chunk.len(),
                limit: self.max_chunk_len,
            };
            return (Err(refusal), Some(changed));
        }
        chunk.put(
            at,
            replacing,
            &id,
            encoded_len,
            CHUNK_GROWTH_BYTES,
            |slot| packed::encode_into(slot, &id, key, record),
        );
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
            self.split(rank);
        }
        (Ok(outcome), Some(changed))
    }

    /// Splits an oversized chunk at the record boundary nearest its middle (never between two
    /// records sharing a position prefix, so the chunk ranges stay disjoint).
    fn split(&mut self, rank: usize) {
        if let Some((first_prefix, tail)) = self.chunks.at_mut(rank).split_off_half() {
            self.chunks.insert_after(rank, first_prefix, tail);
        }
    }

    pub(super) fn get(&self, id: &Id, key: &[u8]) -> Option<Record> {
        self.chunk(id)
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
        for rank in self.chunks.ranks_between(lo, hi) {
            let chunk = self.chunks.at(rank);
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
        let ranks = self.chunks.ranks_between(lo, hi);
        let (first, last) = (ranks.start, ranks.end - 1);
        ranks
            .map(|rank| {
                let chunk = self.chunks.at(rank);
                if rank == first || rank == last {
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
        let Range { start, mut end } = self.chunks.ranks_between(lo, hi);
        let mut removed = 0;
        let mut rank = start;
        while rank < end {
            let chunk = self.chunks.at_mut(rank);
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
            removed += dropped;
            if dropped > 0 && chunk.is_empty() && self.chunks.remove(rank) {
                // The next chunk now has this rank.
                end -= 1;
            } else {
                rank += 1;
            }
        }
        self.total -= removed;
        removed
    }

    /// Checks every chunk's index against its records (see [`Chunk::check_index`]).
    #[cfg(test)]
    pub(super) fn check_index(&self) {
        for (_, chunk) in self.chunks.iter() {
            chunk.check_index();
        }
    }
}

//! A chunk of packed records (see [`packed`]) with an index of where each record starts.
//!
//! A lookup used to walk the records one by one: each step reads a record's length to find the
//! next, so every record walked was a dependent cache miss (~7 per lookup at 2 KiB chunks). The
//! index keeps, per record in order, the first 4 bytes of its position and its offset, 8 bytes a
//! record in one dense array: a lookup binary-searches that array (1-3 cache lines) and then
//! touches only the records whose 4-byte prefix equals the target's, almost always exactly one.
//!
//! Offsets are `u32`: a chunk's bytes never exceed [`OFFSET_LIMIT`] (an edit that would grow a
//! chunk past it is refused, see [`Chunk::fits`]), so every record start fits.

use std::cmp::Ordering;

use dendrite::Id;

use super::packed::{self, Entry};

/// Largest byte length a chunk may reach: every record offset then fits in a `u32`.
pub(super) const OFFSET_LIMIT: usize = u32::MAX as usize;

/// The index is grown in steps of this many slots, not by doubling (which would leave a quarter
/// of every index empty on average, ~2 bytes per key).
const SLOT_GROWTH: usize = 4;

/// One record in the index: what a lookup compares first, and where the record starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    /// The first 4 bytes of the record's position, big-endian (orders like the bytes do).
    prefix: u32,
    /// Offset of the record's first byte in [`Chunk::bytes`].
    offset: u32,
}

/// Packed records in (position, key) order, and one [`Slot`] per record in the same order.
#[derive(Debug, Default)]
pub(super) struct Chunk {
    bytes: Vec<u8>,
    slots: Vec<Slot>,
}

/// The first 4 bytes of a position as a big-endian integer.
fn short_prefix(id: &Id) -> u32 {
    (packed::prefix(id) >> 32) as u32
}

impl Chunk {
    /// Does the chunk hold no record?
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The records, in order.
    pub fn entries(&self) -> impl Iterator<Item = Entry<'_>> {
        packed::entries(&self.bytes)
    }

    /// The record for (`id`, `key`) and its rank in the chunk, or the rank where it would be
    /// inserted.
    ///
    /// Binary-searches the 4-byte prefixes, then compares (whole position, key) only against
    /// the records sharing the target's 4-byte prefix, in order.
    pub fn find(&self, id: &Id, key: &[u8]) -> Result<(usize, Entry<'_>), usize> {
        let target = short_prefix(id);
        let mut rank = self.slots.partition_point(|slot| slot.prefix < target);
        while let Some(slot) = self.slots.get(rank) {
            if slot.prefix != target {
                break;
            }
            let start = slot.offset as usize;
            match packed::compare_at(&self.bytes, start, id, key) {
                Ordering::Less => rank += 1,
                Ordering::Equal => return Ok((rank, packed::decode(&self.bytes, start))),
                Ordering::Greater => break,
            }
        }
        Err(rank)
    }

    /// Byte length the chunk would have if a record of `encoded_len` bytes replaced the one at
    /// `rank` (if `replacing`) or were inserted there; `None` if that exceeds `limit` (or
    /// [`OFFSET_LIMIT`], whichever is smaller).
    pub fn len_after(
        &self,
        rank: usize,
        replacing: bool,
        encoded_len: usize,
        limit: usize,
    ) -> Option<usize> {
        let removed = if replacing {
            self.record_end(rank) - self.record_start(rank)
        } else {
            0
        };
        let len = (self.bytes.len() - removed).checked_add(encoded_len)?;
        (len <= limit.min(OFFSET_LIMIT)).then_some(len)
    }

    /// Byte length of the packed records.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    fn record_start(&self, rank: usize) -> usize {
        self.slots
            .get(rank)
            .map_or(self.bytes.len(), |slot| slot.offset as usize)
    }

    fn record_end(&self, rank: usize) -> usize {
        self.record_start(rank + 1)
    }

    /// Puts the packed record `encoded` (position `id`) at `rank`, replacing the record there
    /// if `replacing`, and shifts the offsets of the records after it by the size difference.
    ///
    /// The caller checked with [`Chunk::len_after`] that the result fits; the allocation grows
    /// in steps of `growth` bytes.
    pub fn put(&mut self, rank: usize, replacing: bool, id: &Id, encoded: &[u8], growth: usize) {
        let start = self.record_start(rank);
        let end = if replacing {
            self.record_end(rank)
        } else {
            start
        };
        let needed = self.bytes.len() - (end - start) + encoded.len();
        if needed > self.bytes.capacity() {
            let target = needed.div_ceil(growth) * growth;
            self.bytes.reserve_exact(target - self.bytes.len());
        }
        packed::replace_range(&mut self.bytes, start, end, encoded);
        let first_after = if replacing {
            rank + 1
        } else {
            if self.slots.len() == self.slots.capacity() {
                self.slots.reserve_exact(SLOT_GROWTH);
            }
            self.slots.insert(
                rank,
                Slot {
                    prefix: short_prefix(id),
                    offset: start as u32,
                },
            );
            rank + 1
        };
        let (grown, shrunk) = if encoded.len() >= end - start {
            ((encoded.len() - (end - start)) as u32, 0)
        } else {
            (0, (end - start - encoded.len()) as u32)
        };
        for slot in &mut self.slots[first_after..] {
            slot.offset = slot.offset + grown - shrunk;
        }
    }

    /// Splits off the records from the one nearest the middle on, returning them as a new chunk
    /// with the 8-byte prefix of its first record; `None` if no record boundary qualifies.
    ///
    /// Never cuts between two records sharing their 8-byte prefix (the chunk map's key), so the
    /// chunks' prefix ranges stay disjoint.
    pub fn split_off_half(&mut self) -> Option<(u64, Chunk)> {
        let half = self.bytes.len() / 2;
        let first = self
            .slots
            .partition_point(|slot| (slot.offset as usize) < half);
        let mut cut = None;
        for rank in first.max(1)..self.slots.len() {
            let prefix = packed::prefix_at(&self.bytes, self.slots[rank].offset as usize);
            let previous = packed::prefix_at(&self.bytes, self.slots[rank - 1].offset as usize);
            if prefix != previous {
                cut = Some((rank, prefix));
                break;
            }
        }
        let (rank, prefix) = cut?;
        let at = self.slots[rank].offset;
        let tail = Chunk {
            bytes: self.bytes[at as usize..].to_vec(),
            slots: self.slots[rank..]
                .iter()
                .map(|slot| Slot {
                    prefix: slot.prefix,
                    offset: slot.offset - at,
                })
                .collect(),
        };
        self.bytes.truncate(at as usize);
        self.bytes.shrink_to_fit();
        self.slots.truncate(rank);
        self.slots.shrink_to_fit();
        Some((prefix, tail))
    }

    /// Keeps only the records for which `keep` says so; returns how many were dropped.
    /// `on_drop` sees each dropped record.
    pub fn retain(
        &mut self,
        mut keep: impl FnMut(&Entry<'_>) -> bool,
        mut on_drop: impl FnMut(&Entry<'_>),
    ) -> usize {
        let mut kept = Chunk::default();
        let mut dropped = 0;
        for entry in packed::entries(&self.bytes) {
            if keep(&entry) {
                kept.slots.push(Slot {
                    prefix: short_prefix(&entry.id),
                    offset: kept.bytes.len() as u32,
                });
                kept.bytes
                    .extend_from_slice(&self.bytes[entry.start..entry.end]);
            } else {
                on_drop(&entry);
                dropped += 1;
            }
        }
        if dropped > 0 {
            kept.bytes.shrink_to_fit();
            kept.slots.shrink_to_fit();
            *self = kept;
        }
        dropped
    }

    /// Checks that the index describes the records exactly: one slot per record, in order,
    /// with its offset and 4-byte prefix. For tests; panics with what differs.
    #[cfg(test)]
    pub fn check_index(&self) {
        let expected: Vec<Slot> = packed::entries(&self.bytes)
            .map(|entry| Slot {
                prefix: short_prefix(&entry.id),
                offset: u32::try_from(entry.start).expect("offset fits in u32"),
            })
            .collect();
        assert_eq!(
            self.slots, expected,
            "chunk index out of sync with its records"
        );
    }

    /// A chunk holding `bytes`, packed records, with their index built by walking them.
    #[cfg(test)]
    pub fn from_packed(bytes: Vec<u8>) -> Chunk {
        let mut chunk = Chunk {
            bytes,
            slots: Vec::new(),
        };
        chunk.slots = packed::entries(&chunk.bytes)
            .map(|entry| Slot {
                prefix: short_prefix(&entry.id),
                offset: entry.start as u32,
            })
            .collect();
        chunk
    }
}

//! A chunk of packed records (see [`packed`]) with an index of where each record starts.
//!
//! A lookup used to walk the records one by one: each step reads a record's length to find the
//! next, so every record walked was a dependent load (~7 per lookup at 2 KiB chunks). The index
//! keeps, per record in order, the first 4 bytes of its position and its offset: a lookup
//! binary-searches the dense prefix array (1-2 cache lines) and then touches only the records
//! whose 4-byte prefix equals the target's, almost always exactly one.
//!
//! The index lives in the same allocation as the records, in front of them:
//!
//! `count (u32) | prefixes (count × u32) | offsets (count × u32) | records`
//!
//! so a chunk costs one `Vec` (as before the index) and 8 bytes per record, with no second
//! allocation, header or growth slack. Prefixes and offsets are native-endian (they never leave
//! memory); offsets count from the start of the records. An empty chunk is an empty buffer.
//!
//! Offsets are `u32`: a chunk's records never exceed [`OFFSET_LIMIT`] bytes (an edit that would
//! grow them past it is refused, see [`Chunk::len_after`]), so every record start fits.

use std::cmp::Ordering;

use dendrite::Id;

use super::packed::{self, Entry};

/// Largest byte length a chunk's records may reach: every record offset then fits in a `u32`.
pub(super) const OFFSET_LIMIT: usize = u32::MAX as usize;

/// Bytes of the record count in front of the index.
const COUNT_LEN: usize = 4;

/// Bytes of one prefix and of one offset in the index.
const WORD: usize = 4;

/// Packed records in (position, key) order behind their index (see the module doc).
#[derive(Debug, Default)]
pub(super) struct Chunk {
    buf: Vec<u8>,
}

/// Bytes in a cache line (x86-64, and most ARM cores).
const CACHE_LINE: usize = 64;

/// Asks the CPU to start loading the cache line holding `address`, and returns at once.
///
/// A pipelined batch of lookups spends most of its time waiting for memory, one miss after
/// another (the chunk's index, then the record); started together, the batch's misses overlap.
/// `address` may point anywhere: it is never dereferenced.
#[inline(always)]
fn prefetch(address: *const u8) {
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    // SAFETY: `_mm_prefetch` is a hint that never faults, whatever the address, and changes
    // nothing the program can observe; it is `unsafe` only as a `target_feature(enable =
    // "sse")` intrinsic, and SSE is part of the x86-64 baseline every build targets.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(address.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}

/// The first 4 bytes of a position as a big-endian integer (orders like the bytes do).
fn short_prefix(id: &Id) -> u32 {
    (packed::prefix(id) >> 32) as u32
}

fn read_word(buf: &[u8], at: usize) -> u32 {
    let mut word = [0u8; WORD];
    word.copy_from_slice(&buf[at..at + WORD]);
    u32::from_ne_bytes(word)
}

fn write_word(buf: &mut [u8], at: usize, word: u32) {
    buf[at..at + WORD].copy_from_slice(&word.to_ne_bytes());
}

impl Chunk {
    /// Number of records.
    pub fn count(&self) -> usize {
        if self.buf.is_empty() {
            0
        } else {
            read_word(&self.buf, 0) as usize
        }
    }

    /// Offset in the buffer of the first offset word.
    fn offsets_base(&self) -> usize {
        COUNT_LEN + WORD * self.count()
    }

    /// Offset in the buffer of the first record byte.
    fn records_base(&self) -> usize {
        if self.buf.is_empty() {
            0
        } else {
            COUNT_LEN + 2 * WORD * self.count()
        }
    }

    fn prefix_of(&self, rank: usize) -> u32 {
        read_word(&self.buf, COUNT_LEN + WORD * rank)
    }

    fn offset_of(&self, rank: usize) -> usize {
        read_word(&self.buf, self.offsets_base() + WORD * rank) as usize
    }

    /// The packed records.
    fn records(&self) -> &[u8] {
        &self.buf[self.records_base()..]
    }

    /// Does the chunk hold no record?
    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// Byte length of the packed records (the index not counted: splitting on it keeps as many
    /// records per chunk as without an index).
    pub fn len(&self) -> usize {
        self.buf.len() - self.records_base()
    }

    /// The records, in order.
    pub fn entries(&self) -> impl Iterator<Item = Entry<'_>> {
        packed::entries(self.records())
    }

    /// Starts loading the chunk's record count and prefix array, without waiting: the first
    /// half of [`prefetch_record`](Chunk::prefetch_record)'s work, for a batch of lookups.
    pub fn prefetch_index(&self) {
        let base = self.buf.as_ptr();
        prefetch(base);
        if self.buf.len() > CACHE_LINE {
            prefetch(base.wrapping_add(CACHE_LINE));
        }
    }

    /// Starts loading the first record [`find`](Chunk::find) would compare for `id`, without
    /// waiting (the index must be in cache by now, or this waits for it).
    pub fn prefetch_record(&self, id: &Id) {
        let rank = self.first_rank_at_or_after(short_prefix(id));
        if rank < self.count() {
            let at = self.records_base() + self.offset_of(rank);
            prefetch(self.buf.as_ptr().wrapping_add(at));
        }
    }

    /// The first rank whose 4-byte prefix is not below `target`.
    fn first_rank_at_or_after(&self, target: u32) -> usize {
        let (mut low, mut high) = (0, self.count());
        while low < high {
            let middle = (low + high) / 2;
            if self.prefix_of(middle) < target {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        low
    }

    /// The record for (`id`, `key`) and its rank in the chunk, or the rank where it would be
    /// inserted.
    ///
    /// Binary-searches the 4-byte prefixes, then compares (whole position, key) only against
    /// the records sharing the target's 4-byte prefix, in order.
    pub fn find(&self, id: &Id, key: &[u8]) -> Result<(usize, Entry<'_>), usize> {
        let target = short_prefix(id);
        let count = self.count();
        let mut rank = self.first_rank_at_or_after(target);
        while rank < count && self.prefix_of(rank) == target {
            let start = self.offset_of(rank);
            match packed::compare_at(self.records(), start, id, key) {
                Ordering::Less => rank += 1,
                Ordering::Equal => return Ok((rank, packed::decode(self.records(), start))),
                Ordering::Greater => break,
            }
        }
        Err(rank)
    }

    fn record_start(&self, rank: usize) -> usize {
        if rank < self.count() {
            self.offset_of(rank)
        } else {
            self.len()
        }
    }

    /// Byte length the records would have if a record of `encoded_len` bytes replaced the one
    /// at `rank` (if `replacing`) or were inserted there; `None` if that exceeds `limit` (or
    /// [`OFFSET_LIMIT`], whichever is smaller).
    pub fn len_after(
        &self,
        rank: usize,
        replacing: bool,
        encoded_len: usize,
        limit: usize,
    ) -> Option<usize> {
        let removed = if replacing {
            self.record_start(rank + 1) - self.record_start(rank)
        } else {
            0
        };
        let len = (self.len() - removed).checked_add(encoded_len)?;
        (len <= limit.min(OFFSET_LIMIT)).then_some(len)
    }

    /// Puts a record of `encoded_len` bytes (position `id`) at `rank`, replacing the record
    /// there if `replacing`, and shifts the offsets of the records after it by the size
    /// difference; `encode` fills the record's slot (exactly `encoded_len` bytes, see
    /// [`packed::encode_into`]) where it lies.
    ///
    /// The caller checked with [`Chunk::len_after`] that the result fits; the allocation grows
    /// in steps of `growth` bytes.
    pub fn put(
        &mut self,
        rank: usize,
        replacing: bool,
        id: &Id,
        encoded_len: usize,
        growth: usize,
        encode: impl FnOnce(&mut [u8]),
    ) {
        if self.buf.is_empty() {
            self.buf.extend_from_slice(&0u32.to_ne_bytes());
        }
        let count = self.count();
        let start = self.record_start(rank);
        let end = if replacing {
            self.record_start(rank + 1)
        } else {
            start
        };
        let slot_bytes = if replacing { 0 } else { 2 * WORD };
        let needed = self.buf.len() + slot_bytes + encoded_len - (end - start);
        if needed > self.buf.capacity() {
            let target = needed.div_ceil(growth) * growth;
            self.buf.reserve_exact(target - self.buf.len());
        }
        let base = self.records_base();
        if replacing {
            encode(packed::resize_range(
                &mut self.buf,
                base + start,
                base + end,
                encoded_len,
            ));
        } else {
            // Old: count | P[..rank] P[rank..] | O[..rank] O[rank..] | R[..start] R[start..]
            // New: count | P[..rank] p P[rank..] | O[..rank] o O[rank..] | R[..start] e R[start..]
            // Every part moves right, so moving them from the back never overwrites one unread.
            let old_len = self.buf.len();
            let offsets = self.offsets_base();
            self.buf.resize(needed, 0);
            let tail_to = base + start + slot_bytes + encoded_len;
            self.buf.copy_within(base + start..old_len, tail_to);
            let moved = offsets + WORD * rank..base + start;
            self.buf
                .copy_within(moved, offsets + WORD * rank + 2 * WORD);
            let record_at = base + slot_bytes + start;
            encode(&mut self.buf[record_at..record_at + encoded_len]);
            write_word(&mut self.buf, offsets + WORD * rank + WORD, start as u32);
            let moved = COUNT_LEN + WORD * rank..offsets + WORD * rank;
            self.buf.copy_within(moved, COUNT_LEN + WORD * rank + WORD);
            write_word(&mut self.buf, COUNT_LEN + WORD * rank, short_prefix(id));
            write_word(&mut self.buf, 0, (count + 1) as u32);
        }
        if encoded_len == end - start {
            // Rewritten in place (an overwrite of a same-sized value): no offset moves.
            return;
        }
        // Offsets wrap like the `u32`s they are; every result fits (see `len_after`).
        let delta = (encoded_len as u32).wrapping_sub((end - start) as u32);
        let (offsets, count) = (self.offsets_base(), self.count());
        let after = &mut self.buf[offsets + WORD * (rank + 1)..offsets + WORD * count];
        for word in after.chunks_exact_mut(WORD) {
            let offset = u32::from_ne_bytes([word[0], word[1], word[2], word[3]]);
            word.copy_from_slice(&offset.wrapping_add(delta).to_ne_bytes());
        }
    }

    /// A chunk of the records `records[..]` at `offsets` (relative to `records`), with the
    /// 4-byte `prefixes`, allocated to fit exactly.
    fn assemble(prefixes: &[u32], offsets: &[u32], records: &[u8]) -> Chunk {
        if prefixes.is_empty() {
            return Chunk::default();
        }
        let mut buf = Vec::with_capacity(COUNT_LEN + 2 * WORD * prefixes.len() + records.len());
        buf.extend_from_slice(&(prefixes.len() as u32).to_ne_bytes());
        for word in prefixes.iter().chain(offsets) {
            buf.extend_from_slice(&word.to_ne_bytes());
        }
        buf.extend_from_slice(records);
        Chunk { buf }
    }

    /// Splits off the records from the one nearest the middle on, returning them as a new chunk
    /// with the 8-byte prefix of its first record; `None` if no record boundary qualifies.
    ///
    /// Never cuts between two records sharing their 8-byte prefix (the chunk map's key), so the
    /// chunks' prefix ranges stay disjoint.
    pub fn split_off_half(&mut self) -> Option<(u64, Chunk)> {
        let half = self.len() / 2;
        let count = self.count();
        let records = self.records();
        let mut cut = None;
        for rank in 1..count {
            let start = self.offset_of(rank);
            if start < half {
                continue;
            }
            let prefix = packed::prefix_at(records, start);
            if prefix != packed::prefix_at(records, self.offset_of(rank - 1)) {
                cut = Some((rank, prefix));
                break;
            }
        }
        let (rank, prefix) = cut?;
        let at = self.offset_of(rank);
        let prefixes: Vec<u32> = (rank..count).map(|r| self.prefix_of(r)).collect();
        let tail_offsets: Vec<u32> = (rank..count)
            .map(|r| (self.offset_of(r) - at) as u32)
            .collect();
        let tail = Chunk::assemble(&prefixes, &tail_offsets, &records[at..]);
        // The head shrinks in place (its prefixes are already there; its offsets, then its
        // records, move left), so its allocation shrinks where it is instead of being copied.
        let (offsets_from, records_from) = (self.offsets_base(), self.records_base());
        let offsets_to = COUNT_LEN + WORD * rank;
        self.buf
            .copy_within(offsets_from..offsets_from + WORD * rank, offsets_to);
        let records_to = offsets_to + WORD * rank;
        self.buf
            .copy_within(records_from..records_from + at, records_to);
        self.buf.truncate(records_to + at);
        self.buf.shrink_to_fit();
        write_word(&mut self.buf, 0, rank as u32);
        Some((prefix, tail))
    }

    /// Keeps only the records for which `keep` says so; returns how many were dropped.
    /// `on_drop` sees each dropped record.
    pub fn retain(
        &mut self,
        mut keep: impl FnMut(&Entry<'_>) -> bool,
        mut on_drop: impl FnMut(&Entry<'_>),
    ) -> usize {
        let mut prefixes = Vec::new();
        let mut offsets = Vec::new();
        let mut kept = Vec::new();
        let mut dropped = 0;
        for entry in self.entries() {
            if keep(&entry) {
                prefixes.push(short_prefix(&entry.id));
                offsets.push(kept.len() as u32);
                kept.extend_from_slice(&self.records()[entry.start..entry.end]);
            } else {
                on_drop(&entry);
                dropped += 1;
            }
        }
        if dropped > 0 {
            *self = Chunk::assemble(&prefixes, &offsets, &kept);
        }
        dropped
    }

    /// Checks that the index describes the records exactly: one slot per record, in order,
    /// with its 4-byte prefix and offset. For tests; panics with what differs.
    #[cfg(test)]
    pub fn check_index(&self) {
        let expected: Vec<(u32, usize)> = self
            .entries()
            .map(|entry| (short_prefix(&entry.id), entry.start))
            .collect();
        let indexed: Vec<(u32, usize)> = (0..self.count())
            .map(|rank| (self.prefix_of(rank), self.offset_of(rank)))
            .collect();
        assert_eq!(
            indexed, expected,
            "chunk index out of sync with its records"
        );
        assert!(self.len() <= OFFSET_LIMIT);
        assert_eq!(
            self.buf.is_empty(),
            self.count() == 0,
            "an empty chunk holds no buffer"
        );
    }

    /// A chunk holding `records`, packed records, with their index built by walking them.
    #[cfg(test)]
    pub fn from_packed(records: Vec<u8>) -> Chunk {
        let (prefixes, offsets): (Vec<u32>, Vec<u32>) = packed::entries(&records)
            .map(|entry| (short_prefix(&entry.id), entry.start as u32))
            .unzip();
        Chunk::assemble(&prefixes, &offsets, &records)
    }
}

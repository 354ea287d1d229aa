//! A shard's chunks, ordered by the lowest position prefix each may hold.
//!
//! Two parallel sorted vectors rather than a `BTreeMap<u64, Chunk>`: a lookup binary-searches
//! one dense array of 8-byte starts (a shard of 100 000 small keys has a few hundred chunks, a
//! few kilobytes of starts that stay in cache) where the B-tree walked three levels of ~450-byte
//! nodes, keys and chunks interleaved — 5 % of a pipelined `GET`'s CPU. Inserting or removing a
//! chunk moves the tail of both vectors, which happens once per ~15 record inserts (a split)
//! and costs less than the B-tree's own node shuffling at these sizes.
//!
//! The map is never empty: the chunk starting at 0 always exists, so every position has a chunk
//! and a lookup cannot fail.

use std::ops::Range;

use dendrite::Id;

use super::chunk::Chunk;
use super::packed;

/// Chunks by their start (see the module doc). Rank `r` is the `r`-th chunk in ring order; the
/// chunk at rank `r` holds only positions whose prefix is in `[start(r), start(r + 1))`.
#[derive(Debug)]
pub(super) struct ChunkMap {
    /// Strictly increasing; `starts[0] == 0`.
    starts: Vec<u64>,
    /// `chunks[r]` starts at `starts[r]`.
    chunks: Vec<Chunk>,
}

impl Default for ChunkMap {
    fn default() -> ChunkMap {
        ChunkMap {
            starts: vec![0],
            chunks: vec![Chunk::default()],
        }
    }
}

impl ChunkMap {
    /// The rank of the chunk that holds (or would hold) positions with prefix `prefix`.
    fn rank_of_prefix(&self, prefix: u64) -> usize {
        // `starts[0] == 0 <= prefix`, so at least one start qualifies.
        self.starts
            .partition_point(|start| *start <= prefix)
            .saturating_sub(1)
    }

    /// The rank of the chunk that holds (or would hold) position `id`.
    pub fn rank_of(&self, id: &Id) -> usize {
        self.rank_of_prefix(packed::prefix(id))
    }

    /// The chunk that holds (or would hold) position `id`.
    pub fn chunk(&self, id: &Id) -> &Chunk {
        &self.chunks[self.rank_of(id)]
    }

    /// The chunk at `rank` (one of [`rank_of`](Self::rank_of), [`ranks_between`](Self::ranks_between)).
    pub fn at(&self, rank: usize) -> &Chunk {
        &self.chunks[rank]
    }

    /// The chunk at `rank`, to change it.
    pub fn at_mut(&mut self, rank: usize) -> &mut Chunk {
        &mut self.chunks[rank]
    }

    /// The ranks of the chunks that may hold positions in `[lo, hi]` (`lo <= hi`).
    pub fn ranks_between(&self, lo: &Id, hi: &Id) -> Range<usize> {
        let first = self.rank_of(lo);
        let end = self
            .starts
            .partition_point(|start| *start <= packed::prefix(hi));
        first..end.max(first + 1)
    }

    /// Files `chunk`, split off the end of the chunk at `rank`, right after it: it starts at
    /// `start`, which must lie strictly between the two chunks' neighbours' starts.
    pub fn insert_after(&mut self, rank: usize, start: u64, chunk: Chunk) {
        debug_assert!(self.starts[rank] < start);
        debug_assert!(self.starts.get(rank + 1).is_none_or(|next| start < *next));
        self.starts.insert(rank + 1, start);
        self.chunks.insert(rank + 1, chunk);
    }

    /// Drops the chunk at `rank`, unless it is the first (which always stays, possibly empty).
    /// True if it was dropped: every later rank is then one less.
    pub fn remove(&mut self, rank: usize) -> bool {
        if rank == 0 || rank >= self.chunks.len() {
            return false;
        }
        self.starts.remove(rank);
        self.chunks.remove(rank);
        true
    }

    /// The chunks in ring order, each with its start (for tests' invariant checks).
    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = (u64, &Chunk)> {
        self.starts.iter().copied().zip(&self.chunks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id_with_prefix(prefix: u64) -> Id {
        let mut bytes = [0u8; 20];
        bytes[..8].copy_from_slice(&prefix.to_be_bytes());
        Id::new(bytes)
    }

    #[test]
    fn every_position_has_a_chunk_and_the_first_stays() {
        let mut map = ChunkMap::default();
        assert_eq!(map.rank_of(&Id::MAX), 0);
        map.insert_after(0, 100, Chunk::default());
        map.insert_after(1, 200, Chunk::default());
        assert_eq!(map.rank_of(&id_with_prefix(99)), 0);
        assert_eq!(map.rank_of(&id_with_prefix(100)), 1);
        assert_eq!(map.rank_of(&id_with_prefix(199)), 1);
        assert_eq!(map.rank_of(&Id::MAX), 2);
        assert_eq!(
            map.ranks_between(&id_with_prefix(50), &id_with_prefix(150)),
            0..2
        );
        assert_eq!(
            map.ranks_between(&id_with_prefix(150), &id_with_prefix(160)),
            1..2
        );
        assert!(!map.remove(0));
        assert!(map.remove(1));
        assert_eq!(map.rank_of(&id_with_prefix(150)), 0);
        assert_eq!(
            map.iter().map(|(start, _)| start).collect::<Vec<_>>(),
            [0, 200]
        );
    }
}

//! What the store refuses to hold.

/// Why [`Store`](super::Store) refused a record (reported as [`Applied::Refused`](super::Applied::Refused)
/// and logged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Placing the record would grow its chunk past the largest length whose record offsets
    /// fit the chunk index's 32 bits (4 GiB); only a record near that size can do it.
    #[error(
        "record of {record_len} bytes would grow its {chunk_len}-byte chunk past the \
         {limit}-byte limit; refuse values this large before the store (max_value_len)"
    )]
    ChunkTooLarge {
        /// Bytes of the packed record.
        record_len: usize,
        /// Bytes of the chunk before the write.
        chunk_len: usize,
        /// Largest byte length a chunk may reach.
        limit: usize,
    },
}

//! What can go wrong with a table operation, and what to do about it.

use dendrite::RingError;

/// Why a table operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// Keys must have at least one byte.
    #[error("empty key: keys need at least one byte")]
    EmptyKey,
    /// A multi-key operation's keys have different primaries, so it cannot run as one step:
    /// give them a common `{hash tag}` so that they live together.
    #[error(
        "the keys of the operation live on different primaries; give them a common {{hash tag}}"
    )]
    CrossSlot,
    /// The key is longer than `TableConfig::max_key_len`.
    #[error("key of {len} bytes exceeds the {max}-byte limit")]
    KeyTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The value is longer than `TableConfig::max_value_len`.
    #[error("value of {len} bytes exceeds the {max}-byte limit (max_value_len)")]
    ValueTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A consistency level outside `1..=replicas + 1`.
    #[error("consistency {wanted} is outside 1..={max} (1 + the configured replicas)")]
    InvalidConsistency {
        /// Asked for.
        wanted: usize,
        /// The most this table can offer.
        max: usize,
    },
    /// The write did not reach the copies it asked for. It may still take effect later on the
    /// copies it did reach (as with any replicated store); a value that was there before is never
    /// deleted because of it.
    #[error("write did not reach the {wanted} copies it needed: {reason}")]
    ConsistencyNotReached {
        /// Copies asked for.
        wanted: usize,
        /// What the primary reported.
        reason: String,
    },
    /// No copy of the key answered.
    #[error("no copy of the key answered: {0}; the ring may be repairing, retry shortly")]
    Unavailable(String),
    /// The ring failed underneath (lookup, join, leave).
    #[error(transparent)]
    Ring(#[from] RingError),
    /// A peer answered with something that makes no sense.
    #[error("protocol error talking to {host}: {reason}")]
    Protocol {
        /// The peer.
        host: String,
        /// What was wrong.
        reason: String,
    },
    /// A read-modify-write does not apply to the key's value (Redis's error text).
    #[error(transparent)]
    Modify(#[from] crate::modify::ModifyError),
    /// The table was stopped on this node.
    #[error("the table has been shut down on this node")]
    Shutdown,
}

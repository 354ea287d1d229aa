//! The storage the client front ends talk to.
//!
//! The RESP and HTTP servers only ever see [`Backend`]; the binary plugs in the
//! distributed table (`crate::table_backend`), and tests of the front ends use
//! [`MemoryBackend`]. Keeping the front ends behind a trait lets them be tested
//! over real sockets without a ring.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use dtable::Slot;
use futures::future::BoxFuture;

use crate::node_status::NodeStatus;
use crate::slot_map::SlotMap;

mod memory;
mod replica;
pub use memory::MemoryBackend;
pub use replica::ReplicaReads;

/// A value and its deadline (Unix ms; `None`: it never expires).
pub type Expiring = (Bytes, Option<u64>);

/// How many replicas must answer a read or acknowledge a write.
///
/// Always at least 1 and at most the backend's [`Backend::max_consistency`]
/// (replicas + 1); construct it with [`Consistency::new`] so that holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Consistency(u8);

impl Consistency {
    /// One replica: the fastest and weakest level, valid on every backend.
    pub const ONE: Consistency = Consistency(1);

    /// Validates `level` against `max` (the backend's replicas + 1).
    pub fn new(level: u8, max: u8) -> Result<Consistency, BackendError> {
        if level == 0 || level > max {
            return Err(BackendError::Consistency { wanted: level, max });
        }
        Ok(Consistency(level))
    }

    /// The number of replicas this level asks for.
    pub fn level(self) -> u8 {
        self.0
    }
}

impl Default for Consistency {
    fn default() -> Self {
        Consistency::ONE
    }
}

impl fmt::Display for Consistency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Why a backend operation failed; each variant maps to one RESP error reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// Not enough of the ring is reachable to serve the request right now.
    #[error("cluster unavailable: {reason}; retry when the ring has stabilized")]
    Unavailable {
        /// What is missing (for example "no successor for key").
        reason: String,
    },
    /// The requested consistency level cannot be met by this cluster.
    #[error("consistency {wanted} is out of range: this cluster allows 1..={max} (replicas + 1)")]
    Consistency {
        /// The level the client asked for.
        wanted: u8,
        /// The highest level this cluster supports.
        max: u8,
    },
    /// Replicas did not answer in time; the write may or may not have applied.
    #[error("timed out waiting for replicas; retry or lower the consistency level")]
    Timeout,
    /// The request itself is invalid (empty key, value too large, ...).
    #[error("{0}")]
    Invalid(String),
    /// A bug or unexpected state inside the backend.
    #[error("internal error: {0}")]
    Internal(String),
    /// A multi-key operation's keys live on different primaries (Redis Cluster's CROSSSLOT):
    /// nothing was done.
    #[error("Keys in request don't hash to the same slot")]
    CrossSlot,
    /// A node's log cannot be written (a full disk, a failing device): the text says which
    /// node, whether the write was applied, and what to do.
    #[error("{0}")]
    Disk(String),
    /// A read-modify-write does not apply to the key's value; nothing changed. The text is
    /// Redis's.
    #[error(transparent)]
    Refused(#[from] dtable::ModifyError),
}

/// The key/value operations the client front ends need.
///
/// Futures are boxed and `'static` so the trait stays object safe
/// (`Arc<dyn Backend>`) and implementations can hand work to other tasks.
pub trait Backend: Send + Sync + 'static {
    /// Reads one key.
    fn get(
        &self,
        key: Bytes,
        read: Consistency,
    ) -> BoxFuture<'static, Result<Option<Bytes>, BackendError>>;
    /// Writes one key.
    fn set(
        &self,
        key: Bytes,
        value: Bytes,
        write: Consistency,
    ) -> BoxFuture<'static, Result<(), BackendError>>;
    /// Writes one key with a deadline (Unix ms), after which it is gone.
    fn set_expiring(
        &self,
        key: Bytes,
        value: Bytes,
        expires: u64,
        write: Consistency,
    ) -> BoxFuture<'static, Result<(), BackendError>>;
    /// Reads one key with its deadline (Unix ms; `None`: it never expires).
    fn get_expiring(
        &self,
        key: Bytes,
        read: Consistency,
    ) -> BoxFuture<'static, Result<Option<Expiring>, BackendError>>;
    /// Deletes keys; resolves to how many of them existed.
    fn delete(
        &self,
        keys: Vec<Bytes>,
        write: Consistency,
    ) -> BoxFuture<'static, Result<usize, BackendError>>;
    /// Reads many keys; the result has one entry per key, in order.
    fn get_many(
        &self,
        keys: Vec<Bytes>,
        read: Consistency,
    ) -> BoxFuture<'static, Result<Vec<Option<Bytes>>, BackendError>>;
    /// Writes many keys (each with its deadline, if any); later writes win over earlier ones
    /// of the same key.
    fn set_many(
        &self,
        writes: Vec<dtable::Write>,
        write: Consistency,
    ) -> BoxFuture<'static, Result<(), BackendError>>;
    /// Applies a read-modify-write to several keys with one primary as one step (MSETNX,
    /// RENAME, COPY, BITOP); [`BackendError::CrossSlot`] when their primaries differ.
    fn modify_many(
        &self,
        keys: Vec<Bytes>,
        op: dtable::ModifyMany,
        write: Consistency,
    ) -> BoxFuture<'static, Result<dtable::Modified, BackendError>>;
    /// Applies a read-modify-write to one key as one step (INCR, APPEND, SET NX/XX/GET...).
    fn modify(
        &self,
        key: Bytes,
        op: dtable::Modify,
        write: Consistency,
    ) -> BoxFuture<'static, Result<dtable::Modified, BackendError>>;
    /// Applies read-modify-writes (a client's pipelined `INCR`s) in order for each key, each
    /// with its own outcome, in the order given. The default runs them one at a time; a backend
    /// may apply a run of one primary's keys as one step (see dtable's `modify_each`).
    fn modify_each(
        &self,
        items: Vec<(Bytes, dtable::Modify)>,
        write: Consistency,
    ) -> BoxFuture<'static, Vec<Result<dtable::Modified, BackendError>>> {
        let each: Vec<_> = items
            .into_iter()
            .map(|(key, op)| self.modify(key, op, write))
            .collect();
        Box::pin(async move {
            let mut outcomes = Vec::with_capacity(each.len());
            for outcome in each {
                outcomes.push(outcome.await);
            }
            outcomes
        })
    }
    /// One page of the whole keyspace: keys holding a value from `cursor` on (0: the start),
    /// about `count` of them, and the cursor of the next page (0: the end). Redis's SCAN
    /// guarantee: a key present for the whole walk comes at least once.
    fn scan(
        &self,
        cursor: u64,
        count: usize,
    ) -> BoxFuture<'static, Result<(u64, Vec<Bytes>), BackendError>>;
    /// Keys stored on this node (what DBSIZE reports).
    fn local_len(&self) -> usize;
    /// Keys with a deadline stored on this node (INFO keyspace's `expires=`).
    fn local_expiring(&self) -> usize;
    /// What this node says about itself: served at `/status`, read by `INFO`.
    fn status(&self) -> NodeStatus;
    /// The highest consistency level accepted: replicas + 1.
    fn max_consistency(&self) -> u8;
    /// Which node serves which hash slot, as this node last saw the ring; `None` for a
    /// backend without a ring (the RESP server then describes itself as the only node).
    fn slot_map(&self) -> Option<Arc<SlotMap>> {
        None
    }
    /// The value of `key` and its deadline in this node's own copy, as a replica reads it for
    /// a `READONLY` client (it may lag the primary, as a Redis replica does); `None` when this
    /// copy has no live value.
    fn replica_read(&self, _key: &[u8]) -> Option<Expiring> {
        None
    }
    /// Is the primary of `key` on this node? A backend without a ring holds every key.
    fn is_primary_here(&self, _key: &[u8]) -> bool {
        true
    }

    /// Up to `count` keys of `slot` stored on this node (`CLUSTER GETKEYSINSLOT`); none for a
    /// backend that keeps no keys of its own.
    fn local_keys_in_slot(&self, _slot: Slot, _count: usize) -> Vec<Bytes> {
        Vec::new()
    }
    /// The node's durable log (`SAVE`, `BGSAVE`, `LASTSAVE`); `None` when it keeps its data
    /// in memory only (started without `--data-dir`).
    fn log(&self) -> Option<Arc<dtable::durable::Log>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consistency_is_validated() {
        assert_eq!(Consistency::new(2, 3).map(Consistency::level), Ok(2));
        assert_eq!(
            Consistency::new(0, 3),
            Err(BackendError::Consistency { wanted: 0, max: 3 })
        );
        assert_eq!(
            Consistency::new(4, 3),
            Err(BackendError::Consistency { wanted: 4, max: 3 })
        );
    }
}

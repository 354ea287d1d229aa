//! The storage the client front ends talk to.
//!
//! The RESP and HTTP servers only ever see [`Backend`]; the binary plugs in the
//! distributed table (`crate::table_backend`), and tests of the front ends use
//! [`MemoryBackend`]. Keeping the front ends behind a trait lets them be tested
//! over real sockets without a ring.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use dtable::Slot;
use futures::future::{self, BoxFuture, FutureExt};

use crate::slot_map::SlotMap;

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
    /// Writes many keys; later pairs win over earlier ones with the same key.
    fn set_many(
        &self,
        pairs: Vec<(Bytes, Bytes)>,
        write: Consistency,
    ) -> BoxFuture<'static, Result<(), BackendError>>;
    /// Applies a read-modify-write to one key as one step (INCR, APPEND, SET NX/XX/GET...).
    fn modify(
        &self,
        key: Bytes,
        op: dtable::Modify,
        write: Consistency,
    ) -> BoxFuture<'static, Result<dtable::Modified, BackendError>>;
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
    /// A JSON document describing this node, served at `/status`.
    fn status(&self) -> serde_json::Value;
    /// The highest consistency level accepted: replicas + 1.
    fn max_consistency(&self) -> u8;
    /// Which node serves which hash slot, as this node last saw the ring; `None` for a
    /// backend without a ring (the RESP server then describes itself as the only node).
    fn slot_map(&self) -> Option<Arc<SlotMap>> {
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
}

/// A single-process backend: a `HashMap` behind a `Mutex`.
///
/// Used by the front ends' tests, which need no ring. Every
/// consistency level up to `max_consistency` is accepted and trivially met,
/// since there is exactly one copy.
#[derive(Debug)]
pub struct MemoryBackend {
    entries: Mutex<HashMap<Bytes, Bytes>>,
    max_consistency: u8,
}

impl MemoryBackend {
    /// An empty store that accepts consistency levels 1..=`max_consistency`
    /// (values below 1 are raised to 1).
    pub fn new(max_consistency: u8) -> MemoryBackend {
        MemoryBackend {
            entries: Mutex::new(HashMap::new()),
            max_consistency: max_consistency.max(1),
        }
    }

    /// Runs `op` on the map; a poisoned lock becomes an internal error
    /// instead of a panic on the connection task.
    fn with_entries<T>(
        &self,
        op: impl FnOnce(&mut HashMap<Bytes, Bytes>) -> T,
    ) -> Result<T, BackendError> {
        let mut entries = self
            .entries
            .lock()
            .map_err(|_| BackendError::Internal("memory store lock poisoned".into()))?;
        Ok(op(&mut entries))
    }

    fn check(&self, level: Consistency) -> Result<(), BackendError> {
        Consistency::new(level.level(), self.max_consistency).map(|_| ())
    }
}

impl Default for MemoryBackend {
    fn default() -> Self {
        MemoryBackend::new(1)
    }
}

impl Backend for MemoryBackend {
    fn get(
        &self,
        key: Bytes,
        read: Consistency,
    ) -> BoxFuture<'static, Result<Option<Bytes>, BackendError>> {
        let outcome = self
            .check(read)
            .and_then(|()| self.with_entries(|entries| entries.get(&key).cloned()));
        future::ready(outcome).boxed()
    }

    fn set(
        &self,
        key: Bytes,
        value: Bytes,
        write: Consistency,
    ) -> BoxFuture<'static, Result<(), BackendError>> {
        let outcome = self.check(write).and_then(|()| {
            self.with_entries(|entries| {
                entries.insert(key, value);
            })
        });
        future::ready(outcome).boxed()
    }

    fn delete(
        &self,
        keys: Vec<Bytes>,
        write: Consistency,
    ) -> BoxFuture<'static, Result<usize, BackendError>> {
        let outcome = self.check(write).and_then(|()| {
            self.with_entries(|entries| {
                keys.iter()
                    .filter(|key| entries.remove(*key).is_some())
                    .count()
            })
        });
        future::ready(outcome).boxed()
    }

    fn get_many(
        &self,
        keys: Vec<Bytes>,
        read: Consistency,
    ) -> BoxFuture<'static, Result<Vec<Option<Bytes>>, BackendError>> {
        let outcome = self.check(read).and_then(|()| {
            self.with_entries(|entries| keys.iter().map(|key| entries.get(key).cloned()).collect())
        });
        future::ready(outcome).boxed()
    }

    fn set_many(
        &self,
        pairs: Vec<(Bytes, Bytes)>,
        write: Consistency,
    ) -> BoxFuture<'static, Result<(), BackendError>> {
        let outcome = self
            .check(write)
            .and_then(|()| self.with_entries(|entries| entries.extend(pairs)));
        future::ready(outcome).boxed()
    }

    fn modify(
        &self,
        key: Bytes,
        op: dtable::Modify,
        write: Consistency,
    ) -> BoxFuture<'static, Result<dtable::Modified, BackendError>> {
        let outcome = self.check(write).and_then(|()| {
            self.with_entries(|entries| {
                let current = entries.get(&key).map(|v| v.as_ref());
                let (change, answer) = op.apply(current, usize::MAX)?;
                match change {
                    dtable::modify::Change::Keep => {}
                    dtable::modify::Change::Put(value) => {
                        entries.insert(key, value);
                    }
                    dtable::modify::Change::Delete => {
                        entries.remove(&key);
                    }
                }
                Ok::<_, dtable::ModifyError>(answer)
            })
        });
        let outcome = outcome.and_then(|applied| applied.map_err(BackendError::from));
        future::ready(outcome).boxed()
    }

    fn scan(
        &self,
        cursor: u64,
        count: usize,
    ) -> BoxFuture<'static, Result<(u64, Vec<Bytes>), BackendError>> {
        // Keys in byte order; the cursor is how many were returned before.
        let outcome = self.with_entries(|entries| {
            let mut keys: Vec<Bytes> = entries.keys().cloned().collect();
            keys.sort();
            let start = usize::try_from(cursor)
                .unwrap_or(usize::MAX)
                .min(keys.len());
            let end = start.saturating_add(count.max(1)).min(keys.len());
            let next = if end == keys.len() { 0 } else { end as u64 };
            (next, keys[start..end].to_vec())
        });
        future::ready(outcome).boxed()
    }

    fn local_len(&self) -> usize {
        self.with_entries(|entries| entries.len()).unwrap_or(0)
    }

    fn status(&self) -> serde_json::Value {
        serde_json::json!({
            "backend": "memory",
            "keys": self.local_len(),
            "max_consistency": self.max_consistency,
        })
    }

    fn max_consistency(&self) -> u8 {
        self.max_consistency
    }

    fn local_keys_in_slot(&self, slot: Slot, count: usize) -> Vec<Bytes> {
        let mut keys = self
            .with_entries(|entries| {
                entries
                    .keys()
                    .filter(|key| Slot::of_key(key) == slot)
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        keys.sort();
        keys.truncate(count);
        keys
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

    #[tokio::test]
    async fn memory_backend_round_trip() {
        let store = MemoryBackend::new(2);
        let one = Consistency::ONE;
        store.set("a".into(), "1".into(), one).await.unwrap();
        assert_eq!(store.get("a".into(), one).await.unwrap(), Some("1".into()));
        assert_eq!(store.local_len(), 1);
        let deleted = store
            .delete(vec!["a".into(), "a".into(), "b".into()], one)
            .await
            .unwrap();
        assert_eq!(deleted, 1);
        let too_strong = Consistency::new(3, 3).unwrap();
        assert_eq!(
            store.get("a".into(), too_strong).await,
            Err(BackendError::Consistency { wanted: 3, max: 2 })
        );
    }
}

//! [`MemoryBackend`]: one process, one copy, for the front ends' tests and the differential
//! suite against redis-server (so it follows Redis's expiry rules too).

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use dtable::modify::{Change, Current};
use dtable::time::system_millis;
use dtable::Slot;
use futures::future::{self, BoxFuture, FutureExt};

use super::{Backend, BackendError, Consistency};
use crate::node_status::NodeStatus;

/// One key's value and deadline (Unix ms).
#[derive(Debug, Clone)]
struct Stored {
    value: Bytes,
    expires: Option<u64>,
}

/// The map behind the lock, with Redis's lazy expiry: a key past its deadline is dropped when
/// it is next touched.
#[derive(Debug, Default)]
struct Entries {
    map: HashMap<Bytes, Stored>,
}

impl Entries {
    /// The key's live entry at `now`, dropping it if it has expired.
    fn live(&mut self, key: &[u8], now: u64) -> Option<&Stored> {
        if self
            .map
            .get(key)
            .is_some_and(|s| s.expires.is_some_and(|at| at <= now))
        {
            self.map.remove(key);
        }
        self.map.get(key)
    }

    fn value(&mut self, key: &[u8], now: u64) -> Option<Bytes> {
        self.live(key, now).map(|s| s.value.clone())
    }

    /// Drops every expired key (before walking them all).
    fn drop_expired(&mut self, now: u64) {
        self.map.retain(|_, s| s.expires.is_none_or(|at| at > now));
    }
}

/// A single-process backend: a `HashMap` behind a `Mutex`.
///
/// Used by the front ends' tests, which need no ring. Every
/// consistency level up to `max_consistency` is accepted and trivially met,
/// since there is exactly one copy.
#[derive(Debug)]
pub struct MemoryBackend {
    entries: Mutex<Entries>,
    max_consistency: u8,
}

impl MemoryBackend {
    /// An empty store that accepts consistency levels 1..=`max_consistency`
    /// (values below 1 are raised to 1).
    pub fn new(max_consistency: u8) -> MemoryBackend {
        MemoryBackend {
            entries: Mutex::new(Entries::default()),
            max_consistency: max_consistency.max(1),
        }
    }

    /// Runs `op` on the map at the time now; a poisoned lock becomes an internal error
    /// instead of a panic on the connection task.
    fn with_entries<T>(&self, op: impl FnOnce(&mut Entries, u64) -> T) -> Result<T, BackendError> {
        let mut entries = self
            .entries
            .lock()
            .map_err(|_| BackendError::Internal("memory store lock poisoned".into()))?;
        Ok(op(&mut entries, system_millis()))
    }

    fn check(&self, level: Consistency) -> Result<(), BackendError> {
        Consistency::new(level.level(), self.max_consistency).map(|_| ())
    }

    fn checked<T>(
        &self,
        level: Consistency,
        op: impl FnOnce(&mut Entries, u64) -> T,
    ) -> BoxFuture<'static, Result<T, BackendError>>
    where
        T: Send + 'static,
    {
        let outcome = self.check(level).and_then(|()| self.with_entries(op));
        future::ready(outcome).boxed()
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
        self.checked(read, |entries, now| entries.value(&key, now))
    }

    fn set(
        &self,
        key: Bytes,
        value: Bytes,
        write: Consistency,
    ) -> BoxFuture<'static, Result<(), BackendError>> {
        self.set_many(vec![dtable::Write::lasting(key, value)], write)
    }

    fn set_expiring(
        &self,
        key: Bytes,
        value: Bytes,
        expires: u64,
        write: Consistency,
    ) -> BoxFuture<'static, Result<(), BackendError>> {
        let write_one = dtable::Write {
            key,
            value,
            expires: Some(expires),
        };
        self.set_many(vec![write_one], write)
    }

    fn get_expiring(
        &self,
        key: Bytes,
        read: Consistency,
    ) -> BoxFuture<'static, Result<Option<crate::backend::Expiring>, BackendError>> {
        self.checked(read, |entries, now| {
            entries
                .live(&key, now)
                .map(|s| (s.value.clone(), s.expires))
        })
    }

    fn delete(
        &self,
        keys: Vec<Bytes>,
        write: Consistency,
    ) -> BoxFuture<'static, Result<usize, BackendError>> {
        self.checked(write, |entries, now| {
            keys.iter()
                .filter(|key| {
                    let present = entries.live(key, now).is_some();
                    entries.map.remove(*key);
                    present
                })
                .count()
        })
    }

    fn get_many(
        &self,
        keys: Vec<Bytes>,
        read: Consistency,
    ) -> BoxFuture<'static, Result<Vec<Option<Bytes>>, BackendError>> {
        self.checked(read, |entries, now| {
            keys.iter().map(|key| entries.value(key, now)).collect()
        })
    }

    fn set_many(
        &self,
        writes: Vec<dtable::Write>,
        write: Consistency,
    ) -> BoxFuture<'static, Result<(), BackendError>> {
        self.checked(write, |entries, _| {
            for w in writes {
                entries.map.insert(
                    w.key,
                    Stored {
                        value: w.value,
                        expires: w.expires,
                    },
                );
            }
        })
    }

    fn modify(
        &self,
        key: Bytes,
        op: dtable::Modify,
        write: Consistency,
    ) -> BoxFuture<'static, Result<dtable::Modified, BackendError>> {
        let outcome = self.checked(write, |entries, now| {
            let current = entries.live(&key, now).map(|s| Current {
                value: &s.value,
                expires: s.expires,
            });
            let (change, answer) = op.apply(current, now, usize::MAX)?;
            match change {
                Change::Keep => {}
                Change::Put { value, expires } => {
                    entries.map.insert(key, Stored { value, expires });
                }
                Change::Delete => {
                    entries.map.remove(&key);
                }
            }
            Ok::<_, dtable::ModifyError>(answer)
        });
        outcome
            .map(|outcome| outcome.and_then(|applied| applied.map_err(BackendError::from)))
            .boxed()
    }

    fn modify_many(
        &self,
        keys: Vec<Bytes>,
        op: dtable::ModifyMany,
        write: Consistency,
    ) -> BoxFuture<'static, Result<dtable::Modified, BackendError>> {
        let outcome = self.checked(write, |entries, now| {
            for key in &keys {
                entries.live(key, now);
            }
            let current: Vec<Option<Current<'_>>> = keys
                .iter()
                .map(|key| {
                    entries.map.get(key).map(|s| Current {
                        value: &s.value,
                        expires: s.expires,
                    })
                })
                .collect();
            let (changes, answer) = op.apply(&keys, &current, usize::MAX)?;
            for (key, change) in keys.iter().zip(changes) {
                match change {
                    Change::Keep => {}
                    Change::Put { value, expires } => {
                        entries.map.insert(key.clone(), Stored { value, expires });
                    }
                    Change::Delete => {
                        entries.map.remove(key);
                    }
                }
            }
            Ok::<_, dtable::ModifyError>(answer)
        });
        outcome
            .map(|outcome| outcome.and_then(|applied| applied.map_err(BackendError::from)))
            .boxed()
    }

    fn scan(
        &self,
        cursor: u64,
        count: usize,
    ) -> BoxFuture<'static, Result<(u64, Vec<Bytes>), BackendError>> {
        // Keys in byte order; the cursor is how many were returned before.
        let outcome = self.with_entries(|entries, now| {
            entries.drop_expired(now);
            let mut keys: Vec<Bytes> = entries.map.keys().cloned().collect();
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
        self.with_entries(|entries, _| entries.map.len())
            .unwrap_or(0)
    }

    fn local_expiring(&self) -> usize {
        self.with_entries(|entries, _| entries.map.values().filter(|s| s.expires.is_some()).count())
            .unwrap_or(0)
    }

    fn status(&self) -> NodeStatus {
        NodeStatus::without_ring("memory", self.local_len(), self.max_consistency)
    }

    fn max_consistency(&self) -> u8 {
        self.max_consistency
    }

    fn local_keys_in_slot(&self, slot: Slot, count: usize) -> Vec<Bytes> {
        let mut keys = self
            .with_entries(|entries, now| {
                entries
                    .map
                    .iter()
                    .filter(|(key, stored)| {
                        Slot::of_key(key) == slot && stored.expires.is_none_or(|at| at > now)
                    })
                    .map(|(key, _)| key.clone())
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

    #[tokio::test]
    async fn expired_keys_are_gone_at_their_deadline() {
        let store = MemoryBackend::new(1);
        let one = Consistency::ONE;
        let past = system_millis() - 1;
        store
            .set_expiring("gone".into(), "x".into(), past, one)
            .await
            .unwrap();
        store
            .set_expiring("later".into(), "y".into(), past + 3_600_000, one)
            .await
            .unwrap();
        assert_eq!(store.get("gone".into(), one).await.unwrap(), None);
        assert_eq!(
            store.get_expiring("later".into(), one).await.unwrap(),
            Some(("y".into(), Some(past + 3_600_000)))
        );
        assert_eq!(store.scan(0, 10).await.unwrap(), (0, vec!["later".into()]));
        assert_eq!(store.local_expiring(), 1);
    }
}

//! Reads answered from this node's own copies: what a `READONLY` cluster client gets for a
//! slot this node is a replica of, as from a Redis replica (docs/redis-compat.md, *Redis
//! Cluster*).

use std::sync::Arc;

use bytes::Bytes;
use dtable::Slot;
use futures::future::BoxFuture;

use super::{Backend, BackendError, Consistency, Expiring};
use crate::slot_map::SlotMap;

/// A [`Backend`] whose reads (`get`, `get_expiring`, `get_many`) come from the local copy
/// ([`Backend::replica_read`]) and whose every other operation is the wrapped backend's.
///
/// Every read-only command reads through those three methods, so running a command against
/// this backend serves all of them (`GET`, `MGET`, `EXISTS`, `STRLEN`, `TTL`, `LCS`...) from
/// the replica, without a command knowing where it runs. The copy may lag the primary by the
/// replication delay: a key not replicated yet reads as absent, as on a Redis replica.
pub struct ReplicaReads(pub Arc<dyn Backend>);

impl ReplicaReads {
    fn value(&self, key: &[u8]) -> Option<Bytes> {
        self.0.replica_read(key).map(|(value, _)| value)
    }
}

impl Backend for ReplicaReads {
    fn get(
        &self,
        key: Bytes,
        _read: Consistency,
    ) -> BoxFuture<'static, Result<Option<Bytes>, BackendError>> {
        let value = self.value(&key);
        Box::pin(async move { Ok(value) })
    }

    fn set(
        &self,
        key: Bytes,
        value: Bytes,
        write: Consistency,
    ) -> BoxFuture<'static, Result<(), BackendError>> {
        self.0.set(key, value, write)
    }

    fn set_expiring(
        &self,
        key: Bytes,
        value: Bytes,
        expires: u64,
        write: Consistency,
    ) -> BoxFuture<'static, Result<(), BackendError>> {
        self.0.set_expiring(key, value, expires, write)
    }

    fn get_expiring(
        &self,
        key: Bytes,
        _read: Consistency,
    ) -> BoxFuture<'static, Result<Option<Expiring>, BackendError>> {
        let found = self.0.replica_read(&key);
        Box::pin(async move { Ok(found) })
    }

    fn delete(
        &self,
        keys: Vec<Bytes>,
        write: Consistency,
    ) -> BoxFuture<'static, Result<usize, BackendError>> {
        self.0.delete(keys, write)
    }

    fn get_many(
        &self,
        keys: Vec<Bytes>,
        _read: Consistency,
    ) -> BoxFuture<'static, Result<Vec<Option<Bytes>>, BackendError>> {
        let values = keys.iter().map(|key| self.value(key)).collect();
        Box::pin(async move { Ok(values) })
    }

    fn set_many(
        &self,
        writes: Vec<dtable::Write>,
        write: Consistency,
    ) -> BoxFuture<'static, Result<(), BackendError>> {
        self.0.set_many(writes, write)
    }

    fn modify_each(
        &self,
        items: Vec<(Bytes, dtable::Modify)>,
        write: Consistency,
    ) -> BoxFuture<'static, Vec<Result<dtable::Modified, BackendError>>> {
        self.0.modify_each(items, write)
    }

    fn modify_many(
        &self,
        keys: Vec<Bytes>,
        op: dtable::ModifyMany,
        write: Consistency,
    ) -> BoxFuture<'static, Result<dtable::Modified, BackendError>> {
        self.0.modify_many(keys, op, write)
    }

    fn modify(
        &self,
        key: Bytes,
        op: dtable::Modify,
        write: Consistency,
    ) -> BoxFuture<'static, Result<dtable::Modified, BackendError>> {
        self.0.modify(key, op, write)
    }

    fn scan(
        &self,
        cursor: u64,
        count: usize,
    ) -> BoxFuture<'static, Result<(u64, Vec<Bytes>), BackendError>> {
        self.0.scan(cursor, count)
    }

    fn local_len(&self) -> usize {
        self.0.local_len()
    }

    fn local_expiring(&self) -> usize {
        self.0.local_expiring()
    }

    fn status(&self) -> crate::node_status::NodeStatus {
        self.0.status()
    }

    fn max_consistency(&self) -> u8 {
        self.0.max_consistency()
    }

    fn slot_map(&self) -> Option<Arc<SlotMap>> {
        self.0.slot_map()
    }

    fn replica_read(&self, key: &[u8]) -> Option<Expiring> {
        self.0.replica_read(key)
    }

    fn is_primary_here(&self, key: &[u8]) -> bool {
        self.0.is_primary_here(key)
    }

    fn local_keys_in_slot(&self, slot: Slot, count: usize) -> Vec<Bytes> {
        self.0.local_keys_in_slot(slot, count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::MemoryBackend;

    #[tokio::test]
    async fn reads_come_from_the_copy_and_writes_pass_through() {
        let memory = Arc::new(MemoryBackend::new(1));
        let reads = ReplicaReads(memory.clone());
        reads
            .set(Bytes::from("k"), Bytes::from("v"), Consistency::ONE)
            .await
            .expect("write passes through");
        // The memory backend keeps no replica copies: the write landed, yet the replica
        // read sees nothing.
        assert_eq!(
            memory.get(Bytes::from("k"), Consistency::ONE).await,
            Ok(Some(Bytes::from("v")))
        );
        assert_eq!(
            reads.get(Bytes::from("k"), Consistency::ONE).await,
            Ok(None)
        );
        assert_eq!(
            reads
                .get_many(vec![Bytes::from("k"), Bytes::from("x")], Consistency::ONE)
                .await,
            Ok(vec![None, None])
        );
    }
}

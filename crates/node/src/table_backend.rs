//! The distributed table behind the client fronts: [`Backend`] over a [`dtable::Table`].

use bytes::Bytes;
use dtable::{Table, TableError};
use futures::future::BoxFuture;
use serde_json::json;

use crate::backend::{Backend, BackendError, Consistency};

/// Serves RESP and HTTP from this node's share of the ring.
#[derive(Clone)]
pub struct TableBackend {
    table: Table,
}

impl TableBackend {
    /// Wraps a running table.
    pub fn new(table: Table) -> TableBackend {
        TableBackend { table }
    }

    /// The table, for the binary's own use (leave, metrics).
    pub fn table(&self) -> &Table {
        &self.table
    }
}

fn level(c: Consistency) -> usize {
    usize::from(c.level())
}

fn convert(error: TableError) -> BackendError {
    match error {
        TableError::InvalidConsistency { wanted, max } => BackendError::Consistency {
            wanted: u8::try_from(wanted).unwrap_or(u8::MAX),
            max: u8::try_from(max).unwrap_or(u8::MAX),
        },
        e @ (TableError::EmptyKey
        | TableError::KeyTooLarge { .. }
        | TableError::ValueTooLarge { .. }) => BackendError::Invalid(e.to_string()),
        e @ (TableError::ConsistencyNotReached { .. }
        | TableError::Unavailable(_)
        | TableError::Ring(_)
        | TableError::Shutdown) => BackendError::Unavailable {
            reason: e.to_string(),
        },
        e @ TableError::Protocol { .. } => BackendError::Internal(e.to_string()),
    }
}

impl Backend for TableBackend {
    fn get(
        &self,
        key: Bytes,
        read: Consistency,
    ) -> BoxFuture<'static, Result<Option<Bytes>, BackendError>> {
        let table = self.table.clone();
        Box::pin(async move {
            table
                .query()
                .read_consistency(level(read))
                .get(key)
                .await
                .map_err(convert)
        })
    }

    fn set(
        &self,
        key: Bytes,
        value: Bytes,
        write: Consistency,
    ) -> BoxFuture<'static, Result<(), BackendError>> {
        let table = self.table.clone();
        Box::pin(async move {
            table
                .query()
                .consistency(level(write))
                .set(key, value)
                .await
                .map_err(convert)
        })
    }

    fn delete(
        &self,
        keys: Vec<Bytes>,
        write: Consistency,
    ) -> BoxFuture<'static, Result<usize, BackendError>> {
        let table = self.table.clone();
        Box::pin(async move {
            // DEL answers how many keys existed: read them first (one batch per primary).
            let existing = table
                .query()
                .get_multi(keys.clone())
                .await
                .map_err(convert)?;
            let present: Vec<Bytes> = keys
                .into_iter()
                .zip(existing)
                .filter_map(|(k, v)| v.map(|_| k))
                .collect();
            let count = present.len();
            if count > 0 {
                table
                    .query()
                    .consistency(level(write))
                    .delete_multi(present)
                    .await
                    .map_err(convert)?;
            }
            Ok(count)
        })
    }

    fn get_many(
        &self,
        keys: Vec<Bytes>,
        read: Consistency,
    ) -> BoxFuture<'static, Result<Vec<Option<Bytes>>, BackendError>> {
        let table = self.table.clone();
        Box::pin(async move {
            table
                .query()
                .read_consistency(level(read))
                .get_multi(keys)
                .await
                .map_err(convert)
        })
    }

    fn set_many(
        &self,
        pairs: Vec<(Bytes, Bytes)>,
        write: Consistency,
    ) -> BoxFuture<'static, Result<(), BackendError>> {
        let table = self.table.clone();
        Box::pin(async move {
            table
                .query()
                .consistency(level(write))
                .set_multi(pairs)
                .await
                .map_err(convert)
        })
    }

    fn local_len(&self) -> usize {
        self.table.local_len()
    }

    fn status(&self) -> serde_json::Value {
        let ring = self.table.ring();
        let vnodes: Vec<serde_json::Value> = ring
            .snapshot()
            .into_iter()
            .map(|s| {
                let distinct: std::collections::BTreeSet<_> =
                    s.fingers.iter().flatten().map(|f| f.id).collect();
                json!({
                    "id": s.vnode.id.to_string(),
                    "predecessor": s.predecessor.as_ref().map(|p| json!({"id": p.id.to_string(), "host": &*p.host})),
                    "successors": s.successors.iter().map(|v| json!({"id": v.id.to_string(), "host": &*v.host})).collect::<Vec<_>>(),
                    "replicas": s.replicas.iter().map(|v| &*v.host).collect::<Vec<_>>(),
                    "fingers": {
                        "known": s.fingers.iter().flatten().count(),
                        "distinct": distinct.len(),
                    },
                    // Share of the ring this vnode owns, from its predecessor to itself.
                    "ownership": s.predecessor.as_ref().map(|p| {
                        let span = p.id.distance_to(&s.vnode.id).high_u64() as f64;
                        if p.id == s.vnode.id { 1.0 } else { span / 2f64.powi(64) }
                    }),
                })
            })
            .collect();
        let stats = self.table.stats();
        let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        json!({
            "host": ring.local_host(),
            "running": ring.is_running(),
            "keys": self.table.local_len(),
            "replicas": ring.config().replicas,
            "max_consistency": ring.config().replicas + 1,
            "vnodes": vnodes,
            "table": {
                "writes": load(&stats.writes),
                "write_errors": load(&stats.write_errors),
                "reads": load(&stats.reads),
                "read_errors": load(&stats.read_errors),
                "replication_backlog": load(&stats.replication_backlog),
                "replication_failures": load(&stats.replication_failures),
                "repaired_in": load(&stats.repaired_in),
                "repaired_out": load(&stats.repaired_out),
                "repair_rounds": load(&stats.repair_rounds),
                "direct_routes": load(&stats.direct_routes),
                "rerouted": load(&stats.rerouted),
            },
        })
    }

    fn max_consistency(&self) -> u8 {
        u8::try_from(self.table.ring().config().replicas + 1).unwrap_or(u8::MAX)
    }
}

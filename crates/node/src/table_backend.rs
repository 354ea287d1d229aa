//! The distributed table behind the client fronts: [`Backend`] over a [`dtable::Table`].

use std::sync::Arc;

use bytes::Bytes;
use dtable::{Table, TableError};
use futures::future::BoxFuture;

use crate::backend::{Backend, BackendError, Consistency};
use crate::node_status::{
    CatchUp, FingerCounts, Neighbour, NodeStatus, RingHost, TableCounters, VnodeStatus,
};
use crate::slot_map::SlotMap;
use crate::slot_watch::SlotWatch;

/// Serves RESP and HTTP from this node's share of the ring.
#[derive(Clone)]
pub struct TableBackend {
    table: Table,
    slots: Arc<SlotWatch>,
}

impl TableBackend {
    /// Wraps a running table. Its slot map is empty until [`watch_slots`](Self::watch_slots)
    /// starts keeping it.
    pub fn new(table: Table) -> TableBackend {
        TableBackend {
            table,
            slots: Arc::new(SlotWatch::default()),
        }
    }

    /// Builds the slot map now, then keeps it current in the background (for as long as the
    /// ring runs). A first build that fails is retried by the background task.
    pub async fn watch_slots(&self) -> tokio::task::JoinHandle<()> {
        if let Err(error) = self.slots.refresh(&self.table, true).await {
            tracing::warn!(%error, "first slot map not built; retrying in the background");
        }
        self.slots.spawn(self.table.clone())
    }

    /// The table, for the binary's own use (leave, metrics).
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// The slot map and ring walk this node keeps (the console reads the walk).
    pub fn slot_watch(&self) -> &Arc<SlotWatch> {
        &self.slots
    }
}

/// The ring position a SCAN cursor resumes after (exclusive): the cursor `c` is the high 64
/// bits of the first position of the page, so the walk goes on from position `c << 96`. 0 is
/// the start of the ring.
fn scan_position(cursor: u64) -> Option<dendrite::Id> {
    if cursor == 0 {
        return None;
    }
    let mut bytes = [0xffu8; 20];
    bytes[..8].copy_from_slice(&(cursor - 1).to_be_bytes());
    Some(dendrite::Id::new(bytes))
}

/// Most table pages (each the rest of one primary's range) one SCAN call joins: bounds the
/// time one call takes on a large ring with a sparse keyspace.
const SCAN_PAGES: usize = 64;

fn level(c: Consistency) -> usize {
    usize::from(c.level())
}

fn convert(error: TableError) -> BackendError {
    match error {
        TableError::InvalidConsistency { wanted, max } => BackendError::Consistency {
            wanted: u8::try_from(wanted).unwrap_or(u8::MAX),
            max: u8::try_from(max).unwrap_or(u8::MAX),
        },
        // A log that cannot be written (here or on the node that refused): Redis's MISCONF.
        TableError::ConsistencyNotReached { reason, .. }
            if reason.contains(dtable::durable::DISK_FAILURE) =>
        {
            BackendError::Disk(reason)
        }
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
        TableError::Modify(refused) => BackendError::Refused(refused),
        TableError::CrossSlot => BackendError::CrossSlot,
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

    fn scan(
        &self,
        cursor: u64,
        count: usize,
    ) -> BoxFuture<'static, Result<(u64, Vec<Bytes>), BackendError>> {
        let table = self.table.clone();
        Box::pin(async move {
            let mut position = scan_position(cursor);
            let mut keys = Vec::new();
            let mut pages = 0;
            loop {
                let wanted = count.saturating_sub(keys.len()).max(1);
                let page = table
                    .query()
                    .scan(position, wanted)
                    .await
                    .map_err(convert)?;
                keys.extend(page.keys);
                pages += 1;
                let Some(next) = page.next else {
                    return Ok((0, keys));
                };
                // The next cursor resumes at the start of `next`'s 2^96-wide slice of the
                // ring (at or before where this page ended: no key is missed, a few may come
                // again). Within the slice this page started in, that would be no progress:
                // go on from exactly where the page ended instead. A page ends where a
                // primary's range does, so pages are joined (up to SCAN_PAGES) until `count`
                // keys are found: a small keyspace comes whole in one call, as from Redis.
                let resume = next.high_u64();
                if resume > cursor && (keys.len() >= count || pages >= SCAN_PAGES) {
                    return Ok((resume, keys));
                }
                position = Some(next);
            }
        })
    }

    fn set_expiring(
        &self,
        key: Bytes,
        value: Bytes,
        expires: u64,
        write: Consistency,
    ) -> BoxFuture<'static, Result<(), BackendError>> {
        let table = self.table.clone();
        Box::pin(async move {
            table
                .query()
                .consistency(level(write))
                .set_expiring(key, value, expires)
                .await
                .map_err(convert)
        })
    }

    fn get_expiring(
        &self,
        key: Bytes,
        read: Consistency,
    ) -> BoxFuture<'static, Result<Option<crate::backend::Expiring>, BackendError>> {
        let table = self.table.clone();
        Box::pin(async move {
            table
                .query()
                .read_consistency(level(read))
                .get_expiring(key)
                .await
                .map_err(convert)
        })
    }

    fn modify(
        &self,
        key: Bytes,
        op: dtable::Modify,
        write: Consistency,
    ) -> BoxFuture<'static, Result<dtable::Modified, BackendError>> {
        let table = self.table.clone();
        Box::pin(async move {
            table
                .query()
                .consistency(level(write))
                .modify(key, op)
                .await
                .map_err(convert)
        })
    }

    fn modify_each(
        &self,
        items: Vec<(Bytes, dtable::Modify)>,
        write: Consistency,
    ) -> BoxFuture<'static, Vec<Result<dtable::Modified, BackendError>>> {
        let table = self.table.clone();
        Box::pin(async move {
            let outcomes = table
                .query()
                .consistency(level(write))
                .modify_each(items)
                .await;
            outcomes
                .into_iter()
                .map(|outcome| outcome.map_err(convert))
                .collect()
        })
    }

    fn modify_many(
        &self,
        keys: Vec<Bytes>,
        op: dtable::ModifyMany,
        write: Consistency,
    ) -> BoxFuture<'static, Result<dtable::Modified, BackendError>> {
        let table = self.table.clone();
        Box::pin(async move {
            table
                .query()
                .consistency(level(write))
                .modify_many(keys, op)
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
            // DEL answers how many keys existed: read them first (one batch per primary),
            // each once (`DEL k k` counts k once, as in Redis).
            let mut seen = std::collections::HashSet::new();
            let keys: Vec<Bytes> = keys
                .into_iter()
                .filter(|k| seen.insert(k.clone()))
                .collect();
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
        writes: Vec<dtable::Write>,
        write: Consistency,
    ) -> BoxFuture<'static, Result<(), BackendError>> {
        let table = self.table.clone();
        Box::pin(async move {
            table
                .query()
                .consistency(level(write))
                .set_many(writes)
                .await
                .map_err(convert)
        })
    }

    fn local_expiring(&self) -> usize {
        self.table.local_expiring()
    }

    fn local_len(&self) -> usize {
        self.table.local_len()
    }

    fn slot_map(&self) -> Option<Arc<SlotMap>> {
        self.slots.current()
    }

    fn replica_read(&self, key: &[u8]) -> Option<crate::backend::Expiring> {
        let record = self.table.local_record(key)?;
        let expires = record.expires;
        record
            .into_live_value(dtable::time::system_millis())
            .map(|value| (value, expires))
    }

    fn is_primary_here(&self, key: &[u8]) -> bool {
        self.table.is_primary_here(key)
    }

    fn local_keys_in_slot(&self, slot: dtable::Slot, count: usize) -> Vec<Bytes> {
        self.table.local_keys_in_slot(slot, count)
    }

    fn log(&self) -> Option<Arc<dtable::durable::Log>> {
        self.table.log().cloned()
    }

    fn status(&self) -> NodeStatus {
        let ring = self.table.ring();
        let neighbour = |v: &dendrite::Vnode| Neighbour {
            host: v.host.to_string(),
            id: v.id.to_string(),
        };
        let vnodes = ring
            .snapshot()
            .into_iter()
            .map(|s| {
                let distinct: std::collections::BTreeSet<_> =
                    s.fingers.iter().flatten().map(|f| f.id).collect();
                VnodeStatus {
                    fingers: FingerCounts {
                        distinct: distinct.len() as u64,
                        known: s.fingers.iter().flatten().count() as u64,
                    },
                    id: s.vnode.id.to_string(),
                    // Share of the ring this vnode owns, from its predecessor to itself.
                    ownership: s
                        .predecessor
                        .as_ref()
                        .map(|p| arc_share(&p.id, &s.vnode.id)),
                    predecessor: s.predecessor.as_ref().map(neighbour),
                    replicas: s.replicas.iter().map(|v| v.host.to_string()).collect(),
                    successors: s.successors.iter().map(neighbour).collect(),
                }
            })
            .collect();
        let stats = self.table.stats();
        let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        let ring_hosts = ring_summary(&known_vnodes(ring))
            .into_iter()
            .map(|(host, vnodes, ownership)| RingHost {
                host,
                ownership,
                vnodes: vnodes as u64,
            })
            .collect();
        let replicas = ring.config().replicas as u64;
        NodeStatus {
            backend: None,
            host: Some(ring.local_host().to_string()),
            keys: self.table.local_len() as u64,
            max_consistency: replicas + 1,
            persistence: Some(crate::persistence::status(
                self.table.log(),
                CatchUp {
                    records: load(&stats.caught_up_records),
                    bytes: load(&stats.caught_up_bytes),
                },
            )),
            replicas: Some(replicas),
            ring: Some(ring_hosts),
            running: Some(ring.is_running()),
            table: Some(TableCounters {
                writes: load(&stats.writes),
                write_errors: load(&stats.write_errors),
                reads: load(&stats.reads),
                read_errors: load(&stats.read_errors),
                replication_backlog: load(&stats.replication_backlog),
                replication_failures: load(&stats.replication_failures),
                repaired_in: load(&stats.repaired_in),
                repaired_out: load(&stats.repaired_out),
                repair_rounds: load(&stats.repair_rounds),
                handed_back: load(&stats.handed_back),
                expired: load(&stats.expired),
                unsettled_reads: load(&stats.unsettled_reads),
                direct_routes: load(&stats.direct_routes),
                rerouted: load(&stats.rerouted),
            }),
            // Local ranges lacking copies (0: every key this node is primary for has
            // replicas + 1 copies; see dtable's Table::underreplicated_ranges).
            underreplicated_ranges: Some(self.table.underreplicated_ranges() as u64),
            vnodes: Some(vnodes),
        }
    }

    fn max_consistency(&self) -> u8 {
        u8::try_from(self.table.ring().config().replicas + 1).unwrap_or(u8::MAX)
    }
}

/// Every vnode this node knows of: its own, and their predecessors, successors and fingers.
fn known_vnodes(ring: &dendrite::Ring) -> Vec<dendrite::Vnode> {
    let mut all = Vec::new();
    for snap in ring.snapshot() {
        all.push(snap.vnode);
        all.extend(snap.predecessor);
        all.extend(snap.successors);
        all.extend(snap.fingers.into_iter().flatten());
    }
    all
}

/// The share of the ring (0..=1) in the arc `(from, to]`: the whole ring when they are the
/// same vnode (alone on the ring).
pub fn arc_share(from: &dendrite::Id, to: &dendrite::Id) -> f64 {
    if from == to {
        1.0
    } else {
        from.distance_to(to).high_u64() as f64 / 2f64.powi(64)
    }
}

/// Per host: how many of `vnodes` it runs and the share of the ring they own (each vnode owns
/// the arc from the previous vnode to itself). On a small ring a node knows every vnode, so
/// this is the whole ring; on a large one it is this node's view of it.
pub fn ring_summary(vnodes: &[dendrite::Vnode]) -> Vec<(String, usize, f64)> {
    let mut sorted: Vec<&dendrite::Vnode> = vnodes.iter().collect();
    sorted.sort_by_key(|v| v.id);
    sorted.dedup_by_key(|v| v.id);
    let mut hosts: std::collections::BTreeMap<String, (usize, f64)> = Default::default();
    for (i, vnode) in sorted.iter().enumerate() {
        let before = sorted[(i + sorted.len() - 1) % sorted.len()];
        let share = arc_share(&before.id, &vnode.id);
        let entry = hosts.entry(vnode.host.to_string()).or_default();
        entry.0 += 1;
        entry.1 += share;
    }
    hosts.into_iter().map(|(h, (n, s))| (h, n, s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_summary_adds_up_each_hosts_arcs() {
        let at = |top: u8, host: &str| {
            let mut id = [0u8; 20];
            id[0] = top;
            dendrite::Vnode::new(dendrite::Id::new(id), host)
        };
        // a owns (0xc0, 0x40] = half the ring, b owns (0x40, 0x80] and (0x80, 0xc0].
        let vnodes = [at(0x40, "a"), at(0x80, "b"), at(0xc0, "b"), at(0x80, "b")];
        let summary = ring_summary(&vnodes);
        assert_eq!(summary.len(), 2);
        assert_eq!((summary[0].0.as_str(), summary[0].1), ("a", 1));
        assert!((summary[0].2 - 0.5).abs() < 1e-9);
        assert_eq!((summary[1].0.as_str(), summary[1].1), ("b", 2));
        assert!((summary[1].2 - 0.5).abs() < 1e-9);
        assert_eq!(
            ring_summary(&[at(1, "solo")]),
            vec![("solo".to_string(), 1, 1.0)]
        );
    }
}

//! Anti-entropy: a primary and each of its replicas compare bucketed digests of the primary's
//! range and exchange the records of the buckets that differ, both ways, newest version winning.
//!
//! The same exchange moves data on membership changes, so there is one mechanism to get right:
//! - a joining vnode runs a round at once and pulls its new range from its replicas, which
//!   include the range's previous owner (its successor on another host);
//! - after a failure, the successor that took the range over pushes it to its new replica set,
//!   re-creating the lost copies;
//! - every ring event about a local vnode schedules a round for it, and a timer runs one every
//!   `repair_interval` in any case, so missed writes converge without a client touching them;
//! - a round in which every replica exchanged successfully ends with the purge of the range's
//!   tombstones older than `tombstone_grace`, here and on the replicas: a tombstone is only
//!   dropped once every replica holds it and the grace period has passed.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use dendrite::{Id, RingEvent, Vnode};
use tokio::sync::broadcast::error::RecvError;
use tracing::{debug, Instrument};

use super::{Refusals, TableInner, TableStats};
use crate::range::IdRange;
use crate::record::Record;
use crate::wire::{Reply, Request, WriteRole};

impl TableInner {
    /// Starts the event listener and the periodic repair and tombstone collection.
    pub(super) fn spawn_maintenance(self: &Arc<Self>) {
        let mut events = self.ring.subscribe();
        let weak = Arc::downgrade(self);
        let on_events = tokio::spawn(async move {
            loop {
                let vnode = match events.recv().await {
                    Ok(event) => Some(event_vnode(&event)),
                    // Missed events: repair everything.
                    Err(RecvError::Lagged(_)) => None,
                    Err(RecvError::Closed) => return,
                };
                let Some(inner) = weak.upgrade() else { return };
                match vnode {
                    Some(v) => inner.repair_vnode(&v).await,
                    None => {
                        for v in inner.ring.local_vnodes() {
                            inner.repair_vnode(&v).await;
                        }
                    }
                }
            }
        });
        let weak = Arc::downgrade(self);
        let interval = self.config.repair_interval;
        let periodic = tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(inner) = weak.upgrade() else { return };
                for v in inner.ring.local_vnodes() {
                    inner.repair_vnode(&v).await;
                }
            }
        });
        self.tasks.lock().extend([on_events, periodic]);
    }

    /// One anti-entropy round for local vnode `vnode` with each of its replicas.
    pub(super) async fn repair_vnode(self: &Arc<Self>, vnode: &Vnode) {
        let Some((Some(pred), _, replicas)) = self.ring.neighbours(vnode) else {
            return;
        };
        let range = IdRange::new(pred.id, vnode.id);
        let span = tracing::debug_span!("repair", vnode = %vnode);
        async {
            // Tombstones older than the grace period, as of the round's start: every replica
            // holds them once every exchange below has succeeded.
            let cutoff =
                now_millis().saturating_sub(self.config.tombstone_grace.as_millis() as u64);
            let mut every_replica_synced = true;
            for replica in &replicas {
                if let Err(e) = self.exchange(replica, range).await {
                    debug!(%replica, error = %e, "repair exchange failed");
                    every_replica_synced = false;
                }
            }
            if every_replica_synced {
                self.purge(range, cutoff, &replicas).await;
            }
        }
        .instrument(span)
        .await;
        TableStats::bump(&self.stats.repair_rounds, 1);
    }

    /// Drops the range's tombstones deleted before `cutoff` here and on every replica.
    async fn purge(self: &Arc<Self>, range: IdRange, cutoff: u64, replicas: &[Vnode]) {
        let purged = self.store.purge_tombstones_in(range, cutoff);
        TableStats::bump(&self.stats.tombstones_purged, purged as u64);
        for replica in replicas {
            let request = Request::Purge {
                dest: replica.clone(),
                range,
                before_millis: cutoff,
            };
            // A replica that misses it keeps its tombstones; the next round pulls them back
            // here and purges again.
            if let Err(e) = self.call(request).await {
                debug!(%replica, error = %e, "purge request failed");
            }
        }
    }

    /// Compares `range` with `peer` and exchanges the buckets that differ.
    async fn exchange(
        self: &Arc<Self>,
        peer: &Vnode,
        range: IdRange,
    ) -> Result<(), crate::error::TableError> {
        let buckets = self.config.digest_buckets.max(1);
        let request = Request::Digest {
            dest: peer.clone(),
            range,
            buckets,
        };
        let theirs = match self.call(request).await? {
            Reply::DigestResp { buckets } => buckets,
            other => return Err(unexpected(peer, &other)),
        };
        let ours = self.store.digest_buckets(range, buckets as usize);
        let division = range.buckets(buckets as usize);
        for (index, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            if a == b {
                continue;
            }
            let Some(bucket) = division.bucket_range(index) else {
                continue;
            };
            self.pull(peer, bucket).await?;
            // After the pull we hold everything the peer had; push only if we hold more.
            if self.store.digest(bucket) != *b {
                self.push(peer, bucket).await?;
            }
        }
        Ok(())
    }

    /// Takes every record of `range` that `peer` holds (newer ones win locally).
    async fn pull(
        self: &Arc<Self>,
        peer: &Vnode,
        range: IdRange,
    ) -> Result<(), crate::error::TableError> {
        let mut after: Option<Bytes> = None;
        loop {
            let request = Request::Scan {
                dest: peer.clone(),
                range,
                after: after.clone(),
                limit: u32::try_from(self.config.batch_size).unwrap_or(u32::MAX),
            };
            let (items, more) = match self.call(request).await? {
                Reply::ScanResp { items, more } => (items, more),
                other => return Err(unexpected(peer, &other)),
            };
            after = items.last().map(|(k, _)| k.clone());
            let mut applied = 0;
            let mut refusals = Refusals::default();
            for (key, record) in items {
                if !refusals.admit(&self.clock, &record.version) {
                    continue;
                }
                if self.store.apply(key, record).changed() {
                    applied += 1;
                }
            }
            TableStats::bump(&self.stats.repaired_in, applied);
            // The rest of the range is still worth pulling: refused records are reported, not
            // an error of the exchange.
            let _ = refusals.report(&self.stats, || format!("anti-entropy from {peer}"));
            if !more || after.is_none() {
                return Ok(());
            }
        }
    }

    /// Sends every record of `range` we hold to `peer`, in batches.
    async fn push(
        self: &Arc<Self>,
        peer: &Vnode,
        range: IdRange,
    ) -> Result<(), crate::error::TableError> {
        let mut cursor: Option<(Id, Bytes)> = None;
        loop {
            let batch = self
                .store
                .scan(range, cursor.clone(), self.config.batch_size);
            let Some((last, _)) = batch.last() else {
                return Ok(());
            };
            cursor = Some((Id::of_key(last), last.clone()));
            let full = batch.len() == self.config.batch_size;
            let count = batch.len() as u64;
            let request = Request::Write {
                dest: peer.clone(),
                items: batch,
                role: WriteRole::Replica,
            };
            match self.call(request).await? {
                Reply::WriteAck { error: None, .. } => {
                    TableStats::bump(&self.stats.repaired_out, count)
                }
                other => return Err(unexpected(peer, &other)),
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// Before leaving: every range we own goes to the first successor on another node.
    pub(super) async fn hand_off(self: &Arc<Self>) {
        for vnode in self.ring.local_vnodes() {
            let Some((Some(pred), successors, _)) = self.ring.neighbours(&vnode) else {
                continue;
            };
            let Some(heir) = successors
                .iter()
                .find(|s| *s.host != *self.ring.local_host())
            else {
                continue;
            };
            let range = IdRange::new(pred.id, vnode.id);
            if let Err(e) = self.push(heir, range).await {
                tracing::warn!(%vnode, %heir, error = %e, "hand-off failed; replicas keep the data");
            }
        }
    }

    /// Writes `record` to one stale copy in the background (read repair).
    pub(super) fn repair_copy(self: Arc<Self>, vnode: Vnode, key: Bytes, record: Record) {
        tokio::spawn(async move {
            let request = Request::Write {
                dest: vnode,
                items: vec![(key, record)],
                role: WriteRole::Replica,
            };
            if self.call(request).await.is_ok() {
                TableStats::bump(&self.stats.repaired_out, 1);
            }
        });
    }
}

/// Milliseconds since the Unix epoch, the clock tombstone versions carry.
fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn event_vnode(event: &RingEvent) -> Vnode {
    event.vnode().clone()
}

fn unexpected(peer: &Vnode, reply: &Reply) -> crate::error::TableError {
    crate::error::TableError::Protocol {
        host: peer.host.to_string(),
        reason: format!("unexpected reply 0x{:02x}", reply.kind()),
    }
}

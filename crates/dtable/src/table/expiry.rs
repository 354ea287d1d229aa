//! The expiry sweep: values past their deadline are reclaimed in the background, each as a
//! tombstone written by the key's primary (docs/design.md, "Expiry").
//!
//! Reads never need the sweep: an expired value is invisible on every copy the moment its
//! deadline passes (the deadline travels with the record). The sweep only gives the memory
//! back. It must not undo a later write, so only the key's primary reclaims a key, under the
//! key's write lock, and only while the record it holds is still the expired one; the
//! tombstone gets a fresh version, newer than the expired write, and replicates like any
//! delete, so anti-entropy carries it to every copy instead of bringing the value back.
//!
//! Like Redis's active expiry it runs in short slices (at most [`SLICE`] every [`EVERY`]) so
//! that a million keys expiring together do not stall the node's clients.

use std::sync::Arc;
use std::time::Duration;

// tokio's clock, not std's: under a paused clock (simulations) the slice then depends on
// virtual time only, never on how loaded the machine is, and a seed replays the same way.
use tokio::time::Instant;

use bytes::Bytes;
use dendrite::Vnode;
use tokio::task::JoinHandle;

use super::{TableInner, TableStats};
use crate::position::KeyPosition;
use crate::record::Record;

/// How often the sweep looks for expired values (Redis's `hz` 10).
const EVERY: Duration = Duration::from_millis(100);

/// Longest time one look spends reclaiming: a quarter of [`EVERY`], Redis's 25 % budget.
const SLICE: Duration = Duration::from_millis(25);

/// Expired values taken from the store at a time.
const BATCH: usize = 256;

/// When a copy that this node cannot reclaim (it is not the key's primary, or the primary is
/// still taking its range over) is looked at again, in milliseconds: by then the primary's
/// tombstone has normally replaced it.
const RECHECK_MILLIS: u64 = 1_000;

impl TableInner {
    /// Starts the sweep; it ends with the table.
    pub(super) fn spawn_expiry_sweep(self: &Arc<Self>) -> JoinHandle<()> {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(EVERY).await;
                let Some(inner) = weak.upgrade() else { return };
                if !inner.ring.is_running() {
                    return;
                }
                inner.sweep_expired().await;
            }
        })
    }

    /// One look: reclaims expired values until none is left or the slice is used up. Returns
    /// how many were reclaimed.
    pub(super) async fn sweep_expired(self: &Arc<Self>) -> usize {
        let started = Instant::now();
        let mut reclaimed = 0;
        loop {
            let now = self.clock.now_millis();
            let due = self.store.take_expired(now, BATCH);
            if due.is_empty() {
                break;
            }
            // Which local vnode is primary for what, once per batch.
            let owned = self.local_primaries();
            for (key, _) in due {
                let position = KeyPosition::of(&key);
                let primary = owned
                    .iter()
                    .find(|(_, range)| range.contains(&position.id()))
                    .map(|(v, _)| v);
                let done = match primary {
                    Some(primary) => self.reclaim(primary, &key, position),
                    None => false,
                };
                if done {
                    reclaimed += 1;
                } else {
                    self.store.defer_deadline(&key, now + RECHECK_MILLIS);
                }
            }
            if started.elapsed() >= SLICE {
                break;
            }
            tokio::task::yield_now().await;
        }
        TableStats::bump(&self.stats.expired, reclaimed as u64);
        reclaimed
    }

    /// Replaces `key`'s expired value by a tombstone, as its primary `primary`, and sends the
    /// tombstone to the replicas. False when this vnode cannot do it yet: it is still taking
    /// the range over (it may not hold the key's latest write) or is gone.
    fn reclaim(self: &Arc<Self>, primary: &Vnode, key: &Bytes, position: KeyPosition) -> bool {
        if !self.is_authoritative(primary, &[position]) {
            return false;
        }
        let Ok(replicas) = self.ring.replicas(primary) else {
            return false;
        };
        let tombstone = {
            let _one_writer = self.key_lock(&position);
            let now = self.clock.now_millis();
            match self.store.get_at(&position, key) {
                Some(held) if held.value.is_some() && held.is_expired(now) => {}
                // Written again, deleted or reclaimed meanwhile: nothing to do.
                _ => return true,
            }
            let tombstone = Record::tombstone(self.clock.tick());
            self.store.apply_at(position, key, &tombstone);
            tombstone
        };
        let versioned = [(key.clone(), tombstone)];
        for replica in &replicas {
            self.replicate(primary, replica, &versioned, false);
        }
        true
    }
}

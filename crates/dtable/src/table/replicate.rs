//! Replica writes, coalesced per replica.
//!
//! A primary does not send one request per write per replica: it appends the write to that
//! replica's queue, and one drain task per replica sends everything queued since its last
//! request as one `Write` (in `batch_size` chunks). Under load a request carries as many writes
//! as arrived while the previous one was in flight; when idle it carries one, with no added
//! delay. A write that needs a replica's acknowledgement (consistency > 1) waits on a one-shot
//! that resolves when the request carrying it is acknowledged or fails.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use dendrite::Vnode;
use tokio::sync::{oneshot, Notify};
use tracing::{debug, warn};

use super::{TableInner, TableStats};
use crate::record::Record;
use crate::wire::{Reply, Request, WriteRole};

/// What the drain task reports to a waiting write: `Err` carries the reason.
pub(super) type Delivery = Result<(), String>;

/// Writes waiting for one replica.
#[derive(Default)]
pub(super) struct ReplicaQueue {
    items: Vec<(Bytes, Record)>,
    waiters: Vec<oneshot::Sender<Delivery>>,
    draining: bool,
    /// Wakes the drain task out of its linger when a write starts waiting for this replica.
    urgent: Arc<Notify>,
}

/// Every replica's queue.
pub(super) type Queues = parking_lot::Mutex<HashMap<Vnode, ReplicaQueue>>;

impl TableInner {
    /// Queues `items` for `replica`. With `want_ack`, the receiver resolves once a request
    /// carrying them has been acknowledged (or has failed).
    pub(super) fn replicate(
        self: &Arc<Self>,
        replica: &Vnode,
        items: &[(Bytes, Record)],
        want_ack: bool,
    ) -> Option<oneshot::Receiver<Delivery>> {
        let mut queues = self.queues.lock();
        let queue = queues.entry(replica.clone()).or_default();
        queue.items.extend(items.iter().cloned());
        TableStats::bump(&self.stats.replication_backlog, items.len() as u64);
        let receiver = want_ack.then(|| {
            let (sender, receiver) = oneshot::channel();
            queue.waiters.push(sender);
            queue.urgent.notify_one();
            receiver
        });
        if !queue.draining {
            queue.draining = true;
            tokio::spawn(self.clone().drain(replica.clone()));
        }
        receiver
    }

    /// Sends `replica`'s queue until it is empty.
    async fn drain(self: Arc<Self>, replica: Vnode) {
        loop {
            self.linger(&replica).await;
            let (items, waiters) = {
                let mut queues = self.queues.lock();
                let Some(queue) = queues.get_mut(&replica) else {
                    return;
                };
                if queue.items.is_empty() {
                    queue.draining = false;
                    // Forget idle replicas so departed vnodes do not accumulate.
                    queues.remove(&replica);
                    return;
                }
                (
                    std::mem::take(&mut queue.items),
                    std::mem::take(&mut queue.waiters),
                )
            };
            let count = items.len() as u64;
            let mut outcome: Delivery = Ok(());
            for chunk in items.chunks(self.config.batch_size.max(1)) {
                let request = Request::Write {
                    dest: replica.clone(),
                    items: chunk.to_vec(),
                    role: WriteRole::Replica,
                };
                match self.call(request).await {
                    Ok(Reply::WriteAck { error: None, .. }) => {}
                    Ok(Reply::WriteAck { error: Some(e), .. }) => outcome = Err(e),
                    Ok(other) => outcome = Err(format!("unexpected reply 0x{:02x}", other.kind())),
                    Err(e) => outcome = Err(e.to_string()),
                }
                if outcome.is_err() {
                    break;
                }
            }
            self.stats
                .replication_backlog
                .fetch_sub(count, Ordering::Relaxed);
            if outcome.is_err() {
                // Keep trying in the background; anti-entropy is the last resort.
                let request = Request::Write {
                    dest: replica.clone(),
                    items,
                    role: WriteRole::Replica,
                };
                self.clone().retry_in_background(replica.clone(), request);
            }
            for waiter in waiters {
                // A write that stopped waiting (its client went away) is fine.
                let _ = waiter.send(outcome.clone());
            }
        }
    }

    /// Lets writes for `replica` gather for [`replication_linger`](super::TableConfig), unless
    /// one of the queued writes waits for an acknowledgement (or one starts to meanwhile).
    async fn linger(&self, replica: &Vnode) {
        let linger = self.config.replication_linger;
        if linger.is_zero() {
            return;
        }
        let urgent = {
            let queues = self.queues.lock();
            match queues.get(replica) {
                Some(queue) if queue.waiters.is_empty() => queue.urgent.clone(),
                _ => return,
            }
        };
        tokio::select! {
            // Polled in order, not at random: a seeded simulation replays exactly.
            biased;
            () = tokio::time::sleep(linger) => {}
            () = urgent.notified() => {}
        }
    }

    /// Keeps delivering a replica write that failed, with backoff; gives up to anti-entropy.
    pub(super) fn retry_in_background(self: Arc<Self>, replica: Vnode, request: Request) {
        TableStats::bump(&self.stats.replication_backlog, 1);
        tokio::spawn(async move {
            let mut pause = std::time::Duration::from_millis(100);
            let mut delivered = false;
            for _ in 0..self.config.replication_attempts {
                tokio::time::sleep(pause).await;
                pause *= 2;
                if !self.ring.is_running() {
                    break;
                }
                if let Ok(Reply::WriteAck { error: None, .. }) = self.call(request.clone()).await {
                    delivered = true;
                    break;
                }
            }
            self.stats
                .replication_backlog
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            if delivered {
                debug!(%replica, "late replica write delivered");
            } else {
                TableStats::bump(&self.stats.replication_failures, 1);
                warn!(%replica, "replica write abandoned; anti-entropy will repair it");
            }
        });
    }
}

//! Replica writes, coalesced per replica.
//!
//! A primary does not send one request per write per replica: it appends the write to that
//! replica's queue, and one drain task per replica sends everything queued since its last
//! request as one `Write` (in `batch_size` chunks). Under load a request carries as many writes
//! as arrived while the previous one was in flight; when idle it carries one, with no added
//! delay. A write that needs a replica's acknowledgement (consistency > 1) waits on a one-shot
//! that resolves when the request carrying it is acknowledged or fails.
//!
//! Queues are per primary and replica: each request names the primary that sent it, so that a
//! replica that saw a closer vnode act as the keys' owner can refuse it (`witness.rs`). A
//! refused primary takes that vnode for its predecessor and undoes its copies of the keys
//! (`TableInner::displaced`), unless it knows the vnode gone: then it sends the write again
//! without naming itself.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use dendrite::Vnode;
use tokio::sync::{oneshot, Notify};
use tracing::{debug, warn};

use super::witness::WINDOW;
use super::{TableInner, TableStats};
use crate::record::Record;
use crate::wire::{Reply, Request, WriteRole};

/// What the drain task reports to a waiting write: `Err` carries the reason.
pub(super) type Delivery = Result<(), String>;

/// What became of one replica write.
enum Sent {
    /// The replica holds it.
    Stored,
    /// It did not get there, or the replica failed to store it.
    Failed(String),
    /// The replica saw this vnode act as the keys' owner lately, closer to them than the
    /// primary that sent the write (`witness.rs`).
    Closer(Vnode),
}

/// Writes waiting for one replica.
#[derive(Default)]
pub(super) struct ReplicaQueue {
    items: Vec<(Bytes, Record)>,
    waiters: Vec<oneshot::Sender<Delivery>>,
    draining: bool,
    /// Wakes the drain task out of its linger when a write starts waiting for this replica.
    urgent: Arc<Notify>,
}

/// Where a queue's writes go: from which local primary to which replica.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Link {
    primary: Vnode,
    replica: Vnode,
}

/// Every replica's queue.
pub(super) type Queues = parking_lot::Mutex<HashMap<Link, ReplicaQueue>>;

impl TableInner {
    /// Queues `items`, written by local `primary`, for `replica`. With `want_ack`, the receiver
    /// resolves once a request carrying them has been acknowledged (or has failed).
    pub(super) fn replicate(
        self: &Arc<Self>,
        primary: &Vnode,
        replica: &Vnode,
        items: &[(Bytes, Record)],
        want_ack: bool,
    ) -> Option<oneshot::Receiver<Delivery>> {
        let link = || Link {
            primary: primary.clone(),
            replica: replica.clone(),
        };
        let mut queues = self.queues.lock();
        let queue = queues.entry(link()).or_default();
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
            // The key again only when a drain task starts, not on every write.
            tokio::spawn(self.clone().drain(link()));
        }
        receiver
    }

    /// Sends `link`'s queue until it is empty.
    async fn drain(self: Arc<Self>, link: Link) {
        let replica = &link.replica;
        loop {
            self.linger(&link).await;
            let (items, waiters) = {
                let mut queues = self.queues.lock();
                let Some(queue) = queues.get_mut(&link) else {
                    return;
                };
                if queue.items.is_empty() {
                    queue.draining = false;
                    // Forget idle replicas so departed vnodes do not accumulate.
                    queues.remove(&link);
                    return;
                }
                (
                    std::mem::take(&mut queue.items),
                    std::mem::take(&mut queue.waiters),
                )
            };
            let count = items.len() as u64;
            let mut outcome: Delivery = Ok(());
            let mut closer = None;
            for chunk in items.chunks(self.config.batch_size.max(1)) {
                match self.send_replica_write(&link, chunk).await {
                    Sent::Stored => {}
                    Sent::Failed(e) => outcome = Err(e),
                    Sent::Closer(owner) => {
                        outcome = Err(format!(
                            "{replica} saw {owner} act as the primary of these keys a moment \
                             ago: {} is not their owner (it may have applied the write; retry)",
                            link.primary
                        ));
                        closer = Some(owner);
                    }
                }
                if outcome.is_err() {
                    break;
                }
            }
            self.stats
                .replication_backlog
                .fetch_sub(count, Ordering::Relaxed);
            let retry = match closer {
                Some(owner) => self.displaced(&link.primary, &owner, items),
                None if outcome.is_err() => items,
                None => Vec::new(),
            };
            if !retry.is_empty() {
                // Keep trying in the background; anti-entropy is the last resort.
                let request = Request::Write {
                    dest: replica.clone(),
                    items: retry,
                    role: WriteRole::Replica,
                    origin: None,
                };
                self.clone().retry_in_background(replica.clone(), request);
            }
            for waiter in waiters {
                // A write that stopped waiting (its client went away) is fine.
                let _ = waiter.send(outcome.clone());
            }
        }
    }

    /// Sends one chunk of `link`'s writes, naming the primary. A replica that names a closer
    /// owner the primary found gone a moment ago gets the chunk again without the name: the
    /// news is older than what the primary knows (the owner left, or crashed and was found
    /// dead). See [`news_is_stale`].
    async fn send_replica_write(self: &Arc<Self>, link: &Link, chunk: &[(Bytes, Record)]) -> Sent {
        let mut origin = Some(link.primary.clone());
        loop {
            let request = Request::Write {
                dest: link.replica.clone(),
                items: chunk.to_vec(),
                role: WriteRole::Replica,
                origin: origin.take(),
            };
            let named = matches!(
                request,
                Request::Write {
                    origin: Some(_),
                    ..
                }
            );
            return match self.call(request).await {
                Ok(Reply::WriteAck { error: None, .. }) => Sent::Stored,
                Ok(Reply::WriteAck {
                    moved: Some(owner), ..
                }) if named => {
                    if news_is_stale(self.ring.gone_for(&owner)) {
                        continue;
                    }
                    Sent::Closer(owner)
                }
                Ok(Reply::WriteAck { error: Some(e), .. }) => Sent::Failed(e),
                Ok(other) => Sent::Failed(format!("unexpected reply 0x{:02x}", other.kind())),
                Err(e) => Sent::Failed(e.to_string()),
            };
        }
    }

    /// Lets writes for `link` gather for [`replication_linger`](super::TableConfig), unless
    /// one of the queued writes waits for an acknowledgement (or one starts to meanwhile).
    async fn linger(&self, link: &Link) {
        let linger = self.config.replication_linger;
        if linger.is_zero() {
            return;
        }
        let urgent = {
            let queues = self.queues.lock();
            match queues.get(link) {
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

/// Is a replica's news that `owner` acted as the keys' primary (within [`WINDOW`] before the
/// refusal) older than this node's knowledge that `owner` is gone, held for `gone_for`?
///
/// Only when this node took `owner` for gone less than two windows ago: the replica may then
/// have heard from it before it crashed or left. Held for gone longer, the owner acted as
/// primary *after* this node had given it up: it is back — a partition healed or a paused
/// process resumed, and this node has not heard from it yet. Resending then would make two
/// primaries of one range write it at once, each from its own copy: two `INCR`s acknowledged
/// with the same value, a write replaced by an older one's successor (docs/reliability.md,
/// fix 34). The write fails instead, and this vnode steps back for the keys
/// (`TableInner::displaced`).
fn news_is_stale(gone_for: Option<std::time::Duration>) -> bool {
    gone_for.is_some_and(|gone| gone < WINDOW * 2)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn only_news_from_before_the_owner_was_found_gone_is_stale() {
        // Not known gone: the replica's news stands.
        assert!(!news_is_stale(None));
        // Found gone a moment ago (it left, or crashed just after its last write): the
        // replica heard from it before that.
        assert!(news_is_stale(Some(Duration::ZERO)));
        assert!(news_is_stale(Some(WINDOW)));
        // Held for gone longer than the replica's memory and a round trip: it has acted as
        // primary since, so it is back.
        assert!(!news_is_stale(Some(WINDOW * 2)));
        assert!(!news_is_stale(Some(Duration::from_secs(15))));
    }
}

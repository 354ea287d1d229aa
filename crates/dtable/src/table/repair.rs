//! Anti-entropy: a primary and its replicas compare bucketed digests of the primary's range and
//! exchange the records of the buckets that differ, newest version winning. A round first
//! *pulls* from every replica, then *pushes* to every replica what it lacks, so that at its end
//! every copy holds the union (pushing right after each pull would leave the first replica
//! without what the later ones held: after a kill and restart, that was the one live copy).
//!
//! The same exchange moves data on membership changes, so there is one mechanism to get right:
//! - a joining vnode runs a round at once and pulls its new range from its replicas, which
//!   include the range's previous owner (its successor on another host);
//! - after a failure, the successor that took the range over pushes it to its new replica set,
//!   re-creating the lost copies;
//! - the *heal loop* watches every local vnode: one whose range grew, whose replica set changed
//!   or one of whose replicas restarted (a new incarnation, see [`super::ledger`]) runs a round
//!   at once, ahead of the routine ones; ring events wake the loop, and it also looks every
//!   `heal_interval` (events can be missed, restarts raise none). Until that round completes the
//!   vnode counts as under-replicated and is not authoritative for reads;
//! - a timer runs a routine round every `repair_interval` in any case, so missed writes
//!   converge without a client touching them;
//! - a round in which every replica exchanged successfully ends with the purge of the range's
//!   tombstones older than `tombstone_grace`, here and on the replicas: a tombstone is only
//!   dropped once every replica holds it and the grace period has passed.

use std::sync::Arc;

use bytes::Bytes;
use dendrite::{Id, Neighbours, RingEvent, Vnode};
use futures::future::join_all;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;
use tracing::{debug, Instrument};

use super::{Refusals, TableInner, TableStats};
use crate::error::TableError;
use crate::position::KeyPosition;
use crate::range::IdRange;
use crate::record::Record;
use crate::store::EMPTY_DIGEST;
use crate::wire::{Reply, Request, WriteRole};

impl TableInner {
    /// Starts the event listener, the heal loop and the periodic repair and tombstone
    /// collection.
    pub(super) fn spawn_maintenance(self: &Arc<Self>) {
        let mut events = self.ring.subscribe();
        let weak = Arc::downgrade(self);
        let on_events = tokio::spawn(async move {
            loop {
                let event = match events.recv().await {
                    Ok(event) => Some(event),
                    // Missed events: one of them may have been a replica set that changed
                    // and changed back; forget every round (the heal loop runs new ones).
                    Err(RecvError::Lagged(_)) => None,
                    Err(RecvError::Closed) => return,
                };
                let Some(inner) = weak.upgrade() else { return };
                match &event {
                    Some(RingEvent::PredecessorJoined { vnode, new, .. }) => {
                        // At once, not at the next look: a joiner takes writes for part of our
                        // range from now on.
                        inner
                            .ledger
                            .lock()
                            .shrink(vnode, IdRange::new(new.id, vnode.id));
                    }
                    Some(RingEvent::ReplicasChanged { vnode, .. }) => {
                        inner.ledger.lock().forget(vnode);
                    }
                    Some(RingEvent::PredecessorLeft { .. }) => {}
                    None => inner.ledger.lock().forget_rounds(),
                }
                *inner.last_ring_change.lock() = Instant::now();
                inner.heal.notify_one();
            }
        });
        let weak = Arc::downgrade(self);
        let heal = tokio::spawn(async move {
            let mut handback_due = false;
            loop {
                let (wake, every) = {
                    let Some(inner) = weak.upgrade() else { return };
                    (inner.heal.clone(), inner.config.heal_interval)
                };
                tokio::select! {
                    // Polled in order, not at random: a seeded simulation replays exactly.
                    biased;
                    () = tokio::time::sleep(every) => {}
                    () = wake.notified() => {}
                }
                let Some(inner) = weak.upgrade() else { return };
                if !inner.ring.is_running() {
                    return;
                }
                if inner.heal_once().await > 0 {
                    handback_due = true;
                } else if handback_due
                    && inner.last_ring_change.lock().elapsed() >= inner.config.handback_delay
                {
                    // Membership changed and every range is whole again: copies of ranges
                    // this node no longer serves go back to their holders (again at the next
                    // look if the walk gave up half way).
                    handback_due = !inner.hand_back().await;
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
                let _ = inner.hand_back().await;
            }
        });
        let sweep = self.spawn_expiry_sweep();
        let stall = self.spawn_stall_watch();
        self.tasks
            .lock()
            .extend([on_events, heal, periodic, sweep, stall]);
    }

    /// One look of the heal loop: probes the replicas' nodes for restarts, then runs a round,
    /// in parallel, for every local vnode that needs one. Returns how many needed one.
    pub(super) async fn heal_once(self: &Arc<Self>) -> usize {
        let vnodes = self.ring.local_vnodes();
        let mut hosts: Vec<Vnode> = Vec::new();
        for vnode in &vnodes {
            for replica in self.ring.replicas(vnode).unwrap_or_default() {
                if hosts.iter().all(|h| h.host != replica.host) {
                    hosts.push(replica);
                }
            }
        }
        let probes = join_all(hosts.iter().map(|peer| async move {
            let incarnation = match self.call(self.probe(peer)).await {
                Ok(Reply::ProbeResp { incarnation, .. }) => Some(incarnation),
                _ => None,
            };
            (peer, incarnation)
        }))
        .await;
        {
            let mut ledger = self.ledger.lock();
            for (peer, incarnation) in probes {
                ledger.probed(&peer.host, incarnation);
            }
        }
        let mut due: Vec<Vnode> = Vec::new();
        for v in vnodes {
            let Some(now) = self.current(&v) else {
                continue;
            };
            let mut ledger = self.ledger.lock();
            if let Some(range) = now.range {
                // Also here, not only on the event: events can be missed (a lagging listener).
                ledger.shrink(&v, range);
            }
            if ledger.needs_round(&v, &now) {
                due.push(v);
            }
        }
        join_all(due.iter().map(|v| self.repair_vnode(v))).await;
        due.len()
    }

    /// A probe of `peer`'s node that also tells it who we are.
    fn probe(&self, peer: &Vnode) -> Request {
        Request::Probe {
            dest: peer.clone(),
            sender: Some((self.ring.local_host().to_string(), self.incarnation)),
        }
    }

    /// Tells every node this one knows of that it (re)started, before it serves: a peer whose
    /// replica it is sees the new incarnation, counts the range as lacking copies and refills it
    /// at once, instead of after its next probe.
    pub(super) async fn announce(self: &Arc<Self>) {
        let mut hosts: Vec<Vnode> = Vec::new();
        for snap in self.ring.snapshot() {
            let known = snap
                .predecessor
                .into_iter()
                .chain(snap.successors)
                .chain(snap.fingers.into_iter().flatten());
            for vnode in known {
                if *vnode.host != *self.ring.local_host()
                    && hosts.iter().all(|h| h.host != vnode.host)
                {
                    hosts.push(vnode);
                }
            }
        }
        join_all(hosts.iter().map(|peer| self.call(self.probe(peer)))).await;
    }

    /// A peer said it runs `incarnation`: if that is news, the heal loop looks at once.
    pub(super) fn peer_announced(&self, host: &str, incarnation: u64) {
        if self.ledger.lock().probed(host, Some(incarnation)) {
            self.heal.notify_one();
        }
    }

    /// One anti-entropy round for local vnode `vnode` with its replicas: pull from each, then
    /// push to each. A round in which every exchange succeeded is entered in the ledger (the
    /// vnode is then authoritative for its range) and purges old tombstones.
    pub(super) async fn repair_vnode(self: &Arc<Self>, vnode: &Vnode) {
        let lock = self.round_lock(vnode);
        let _one_round_at_a_time = lock.lock().await;
        let Some(now) = self.current(vnode) else {
            return;
        };
        let Some(range) = now.range else {
            return;
        };
        let replicas = now.replicas;
        let span = tracing::debug_span!("repair", vnode = %vnode);
        async {
            // Tombstones older than the grace period, as of the round's start: every replica
            // holds them once every exchange below has succeeded.
            let cutoff = self
                .clock
                .now_millis()
                .saturating_sub(self.config.tombstone_grace.as_millis() as u64);
            // The range's previous owner (our successor) must have stopped serving it as its
            // own before this round can vouch for it; pulled after that, nothing it accepted is
            // missed (docs/design.md, "Hand-over").
            let epoch = self.stall.epoch();
            let rejoin = self.ring.rejoin_epoch();
            let generation = self.ledger.lock().generation(vnode);
            let handed_over = self.ring.hand_over_confirmed(vnode).await;
            let mut pulled = Vec::with_capacity(replicas.len());
            let mut every_replica_synced = true;
            for replica in &replicas {
                match self.pull_differences(replica, range).await {
                    Ok((theirs, incarnation)) => pulled.push((replica, theirs, incarnation)),
                    Err(e) => {
                        debug!(%replica, error = %e, "repair pull failed");
                        every_replica_synced = false;
                    }
                }
            }
            let mut synced = Vec::with_capacity(pulled.len());
            for (replica, theirs, incarnation) in pulled {
                match self.push_differences(replica, range, &theirs).await {
                    Ok(()) => synced.push((replica.clone(), incarnation)),
                    Err(e) => {
                        debug!(%replica, error = %e, "repair push failed");
                        every_replica_synced = false;
                    }
                }
            }
            // And it must still hold at the end: a vnode that rejoined between this one and its
            // successor while the round ran has taken the successor's predecessor and holds
            // copies the pulls above missed (clock seed 180, docs/reliability.md, fix 28).
            let still_handed_over =
                handed_over && every_replica_synced && self.ring.hand_over_confirmed(vnode).await;
            if !handed_over {
                debug!("the successor does not name this vnode its predecessor yet: no authority");
            } else if every_replica_synced && !still_handed_over {
                debug!(
                    "the successor named another predecessor by the end of the round: no authority"
                );
            } else if replicas.len() < self.replicas_expected() {
                // A vnode that has just joined may know no other host's vnodes as successors
                // yet: a round with nobody vouches for nothing while other hosts are reachable.
                debug!("the replica set is short of the reachable hosts: no authority");
            } else if every_replica_synced {
                let completed = {
                    let mut ledger = self.ledger.lock();
                    // A stall during the round (SIGSTOP mid-pull): what it pulled may be
                    // behind writes taken elsewhere meanwhile, so it vouches for nothing.
                    // Rejoining after a partition (begun, ended, or going on) likewise: the
                    // round may predate what the far side wrote.
                    let rejoin_now = self.ring.rejoin_epoch();
                    let stalled = self.stall.epoch() != epoch
                        || rejoin_now != rejoin
                        || self.stall.in_doubt(rejoin_now);
                    // And a replica set that changed during the round (forgotten): the same.
                    !stalled && ledger.complete(vnode, generation, range, synced)
                };
                if completed {
                    debug!(
                        ?range,
                        ?replicas,
                        "round complete: authoritative for the range"
                    );
                    self.purge(range, cutoff, &replicas).await;
                } else {
                    debug!("stalled, or the replica set changed, during the round: no authority");
                }
            }
        }
        .instrument(span)
        .await;
        TableStats::bump(&self.stats.repair_rounds, 1);
    }

    /// The lock that keeps two rounds of `vnode` from running at once (the join, the heal loop,
    /// the timer and operators all start rounds).
    fn round_lock(&self, vnode: &Vnode) -> Arc<tokio::sync::Mutex<()>> {
        self.round_locks.lock().entry(vnode.id).or_default().clone()
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

    /// `peer`'s digests of `range` divided in `buckets`, and its incarnation.
    async fn peer_digests(
        self: &Arc<Self>,
        peer: &Vnode,
        range: IdRange,
        buckets: u32,
    ) -> Result<(Vec<u64>, u64), TableError> {
        let request = Request::Digest {
            dest: peer.clone(),
            range,
            buckets,
        };
        match self.call(request).await? {
            Reply::DigestResp {
                buckets: digests,
                incarnation,
            } if digests.len() == range.buckets(buckets as usize).len() => {
                Ok((digests, incarnation))
            }
            Reply::DigestResp {
                buckets: digests, ..
            } => Err(TableError::Protocol {
                host: peer.host.to_string(),
                reason: format!("{} digests for {buckets} buckets", digests.len()),
            }),
            other => Err(unexpected(peer, &other)),
        }
    }

    /// The parts of `range` (divided as `theirs`, `peer`'s digests, was) where what we hold
    /// differs from what `peer` holds. A bucket that differs while both sides hold records in
    /// it is divided once more, with the peer's digests of it asked afresh: records then move
    /// by 1/4096th of a range (with 64 buckets), so a node back from a restart takes about what
    /// changed while it was away rather than whole buckets (docs/design.md, "Durability").
    async fn differing_parts(
        self: &Arc<Self>,
        peer: &Vnode,
        range: IdRange,
        theirs: &[u64],
    ) -> Result<Vec<IdRange>, TableError> {
        let ours = self.store.digest_buckets(range, theirs.len());
        let division = range.buckets(theirs.len());
        let mut parts = Vec::new();
        for (index, (a, b)) in ours.iter().zip(theirs).enumerate() {
            let Some(bucket) = division.bucket_range(index) else {
                continue;
            };
            if a == b {
                continue;
            }
            if *a == EMPTY_DIGEST || *b == EMPTY_DIGEST {
                // One side holds nothing there (a joining node): the whole bucket moves.
                parts.push(bucket);
                continue;
            }
            let buckets = self.config.digest_buckets.max(1);
            let (sub_theirs, _) = self.peer_digests(peer, bucket, buckets).await?;
            let sub_ours = self.store.digest_buckets(bucket, sub_theirs.len());
            let sub_division = bucket.buckets(sub_theirs.len());
            for (sub, (x, y)) in sub_ours.iter().zip(&sub_theirs).enumerate() {
                if x != y {
                    parts.extend(sub_division.bucket_range(sub));
                }
            }
        }
        Ok(parts)
    }

    /// Compares `range` with `peer` and takes the records of the parts that differ. Returns
    /// the peer's bucket digests (from before the pull) and its incarnation.
    async fn pull_differences(
        self: &Arc<Self>,
        peer: &Vnode,
        range: IdRange,
    ) -> Result<(Vec<u64>, u64), TableError> {
        let buckets = self.config.digest_buckets.max(1);
        let (theirs, incarnation) = self.peer_digests(peer, range, buckets).await?;
        for part in self.differing_parts(peer, range, &theirs).await? {
            self.pull(peer, part).await?;
        }
        Ok((theirs, incarnation))
    }

    /// Sends `peer` the parts of `range` where what we hold now differs from what it holds,
    /// starting from its digests `theirs` (we hold everything it had: the pull phase came
    /// first).
    async fn push_differences(
        self: &Arc<Self>,
        peer: &Vnode,
        range: IdRange,
        theirs: &[u64],
    ) -> Result<(), TableError> {
        for part in self.differing_parts(peer, range, theirs).await? {
            self.push(peer, part).await?;
        }
        Ok(())
    }

    /// Counts the records of `items` (received from another copy) stamped before this node
    /// started: what it catches up on after a restart. Writes replicated to it since carry
    /// newer versions and are not counted.
    pub(super) fn count_catch_up(&self, items: &[(Bytes, Record)]) {
        let (mut records, mut bytes) = (0, 0);
        for (key, record) in items {
            if record.version.millis < self.started_millis {
                records += 1;
                bytes += (key.len() + record.value.as_ref().map_or(0, Bytes::len)) as u64;
            }
        }
        if records > 0 {
            TableStats::bump(&self.stats.caught_up_records, records);
            TableStats::bump(&self.stats.caught_up_bytes, bytes);
        }
    }

    /// Takes every record of `range` that `peer` holds (newer ones win locally).
    async fn pull(self: &Arc<Self>, peer: &Vnode, range: IdRange) -> Result<(), TableError> {
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
            self.count_catch_up(&items);
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
    pub(super) async fn push(
        self: &Arc<Self>,
        peer: &Vnode,
        range: IdRange,
    ) -> Result<(), TableError> {
        let mut cursor: Option<(Id, Bytes)> = None;
        loop {
            let batch = self
                .store
                .scan(range, cursor.clone(), self.config.batch_size);
            let Some((last, _)) = batch.last() else {
                return Ok(());
            };
            cursor = Some((KeyPosition::of(last).id(), last.clone()));
            let full = batch.len() == self.config.batch_size;
            let count = batch.len() as u64;
            let request = Request::Write {
                dest: peer.clone(),
                items: batch,
                role: WriteRole::Replica,
                origin: None,
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
            let Ok(Neighbours {
                predecessor: Some(pred),
                successors,
                ..
            }) = self.ring.neighbours(&vnode)
            else {
                continue;
            };
            let Some(heir) = heir_in(&successors, self.ring.local_host()) else {
                continue;
            };
            let range = IdRange::new(pred.id, vnode.id);
            if let Err(e) = self.push(heir, range).await {
                tracing::warn!(%vnode, %heir, error = %e, "hand-off failed; replicas keep the data");
            }
        }
    }

    /// The vnode that serves local `vnode`'s range once this node has left the ring: its first
    /// successor on another node.
    pub(super) fn heir(&self, vnode: &Vnode) -> Option<Vnode> {
        let neighbours = self.ring.neighbours(vnode).ok()?;
        heir_in(&neighbours.successors, self.ring.local_host()).cloned()
    }

    /// Writes `record` to one stale copy in the background (read repair).
    pub(super) fn repair_copy(self: Arc<Self>, vnode: Vnode, key: Bytes, record: Record) {
        tokio::spawn(async move {
            let request = Request::Write {
                dest: vnode,
                items: vec![(key, record)],
                role: WriteRole::Replica,
                origin: None,
            };
            if self.call(request).await.is_ok() {
                TableStats::bump(&self.stats.repaired_out, 1);
            }
        });
    }
}

/// The first of `successors` on another host than `local`.
fn heir_in<'a>(successors: &'a [Vnode], local: &str) -> Option<&'a Vnode> {
    successors.iter().find(|s| *s.host != *local)
}

pub(super) fn unexpected(peer: &Vnode, reply: &Reply) -> TableError {
    TableError::Protocol {
        host: peer.host.to_string(),
        reason: format!("unexpected reply 0x{:02x}", reply.kind()),
    }
}

//! What a node does with the dtable requests of other nodes (and of itself).

use std::sync::Arc;

use bytes::Bytes;
use dendrite::{ExtensionHandler, HandlerError, Vnode};
use futures::future::{join_all, BoxFuture};
use futures::stream::{FuturesUnordered, StreamExt};

use super::{LateHandler, Refusals, TableInner, TableStats};
use crate::position::KeyPosition;
use crate::range::IdRange;
use crate::record::Record;
use crate::wire::{ReadItem, Reply, Request, WriteRole};

impl ExtensionHandler for LateHandler {
    fn handle(&self, kind: u8, payload: Bytes) -> BoxFuture<'static, Result<Bytes, HandlerError>> {
        let table = self.table.get().and_then(std::sync::Weak::upgrade);
        Box::pin(async move {
            let Some(table) = table else {
                return Err(HandlerError(
                    "the table on this node is starting or stopped".into(),
                ));
            };
            let request = Request::decode_payload(kind, payload)?;
            Ok(table.serve(request).await.encode())
        })
    }
}

impl TableInner {
    /// Answers one request. Boxed with an explicit `Send` bound: serving a primary write calls
    /// replicas, which may be served in place, so the future type is recursive.
    pub(super) fn serve(self: Arc<Self>, request: Request) -> BoxFuture<'static, Reply> {
        Box::pin(async move { self.answer(request).await })
    }

    async fn answer(self: Arc<Self>, request: Request) -> Reply {
        match request {
            Request::Status { .. } => Reply::Response {
                ok: true,
                error: None,
            },
            Request::Modify {
                dest,
                key,
                op,
                min_acks,
            } => {
                let position = KeyPosition::of(&key);
                Reply::ModifyResp(
                    self.modify_as_primary(dest, key, position, op, min_acks)
                        .await,
                )
            }
            Request::ModifyMany {
                dest,
                keys,
                op,
                min_acks,
            } => Reply::ModifyResp(self.modify_many_as_primary(dest, keys, op, min_acks).await),
            Request::Write {
                dest,
                items,
                role,
                origin,
            } => match role {
                WriteRole::Primary { min_acks } => {
                    let positions = items.iter().map(|(key, _)| KeyPosition::of(key)).collect();
                    self.write_as_primary(dest, items, positions, min_acks)
                        .await
                }
                WriteRole::Replica => {
                    // Hashed once, for the witness and the store.
                    let positions = positions_of(&items);
                    match origin.and_then(|o| self.witness(o, &positions)) {
                        Some(refusal) => refusal,
                        None => self.apply_durably(&dest, items, &positions).await,
                    }
                }
            },
            Request::Transfer { dest, items, .. } => {
                let positions = positions_of(&items);
                self.apply_durably(&dest, items, &positions).await
            }
            Request::Read {
                dest,
                keys,
                primary,
            } => {
                let positions: Vec<KeyPosition> =
                    keys.iter().map(|key| KeyPosition::of(key)).collect();
                let mut reply = self.read_at(&dest, keys, &positions, primary);
                // This node may be on the small side of a partition, its authority from rounds
                // with the copies its side has left: its own clients get that side's view (reads
                // and plain writes go on there), but a peer that reaches it may be the other
                // side after the heal, before the rings have merged, and must not take its "not
                // found" or its copy as final (docs/reliability.md, fix 27).
                if let Reply::ReadResp { authoritative, .. } = &mut reply {
                    if *authoritative && self.ring.in_minority() {
                        *authoritative = false;
                    }
                }
                reply
            }
            Request::Digest { range, buckets, .. } => Reply::DigestResp {
                buckets: self.store.digest_buckets(range, buckets as usize),
                incarnation: self.incarnation,
            },
            Request::Probe { sender, .. } => {
                if let Some((host, incarnation)) = sender {
                    self.peer_announced(&host, incarnation);
                }
                Reply::ProbeResp {
                    incarnation: self.incarnation,
                    client_address: self.config.client_address.clone(),
                    console_address: self.config.console_address.clone(),
                }
            }
            Request::Scan {
                range,
                after,
                limit,
                ..
            } => {
                let limit = (limit as usize).min(self.config.batch_size.max(1));
                let cursor = after.map(|k| (KeyPosition::of(&k).id(), k));
                let items = self.store.scan(range, cursor, limit);
                let more = items.len() == limit;
                Reply::ScanResp { items, more }
            }
            Request::Purge {
                range,
                before_millis,
                ..
            } => {
                let purged = self.store.purge_tombstones_in(range, before_millis);
                TableStats::bump(&self.stats.tombstones_purged, purged as u64);
                Reply::WriteAck {
                    applied: u32::try_from(purged).unwrap_or(u32::MAX),
                    error: None,
                    moved: None,
                }
            }
            other => Reply::refused(format!(
                "message type 0x{:02x} (the Go original's unversioned protocol) is not served; \
                 upgrade the peer",
                other.kind()
            )),
        }
    }

    /// Reads `keys` (at `positions`, one per key) on local vnode `dest`; `as_primary`
    /// first checks that `dest` owns them all and answers `moved` otherwise, and says whether
    /// `dest` is authoritative for them (its "not found" is final; see [`super::ledger`]).
    /// Serves other nodes' reads and, without a request, this node's own (see
    /// `Query::get_multi`).
    pub(super) fn read_at(
        &self,
        dest: &Vnode,
        keys: Vec<Bytes>,
        positions: &[KeyPosition],
        as_primary: bool,
    ) -> Reply {
        if as_primary {
            if let Some(owner) = self.owner_if_not(dest, positions) {
                return Reply::ReadResp {
                    items: Vec::new(),
                    moved: Some(owner),
                    authoritative: false,
                };
            }
        }
        let authoritative = as_primary && self.is_authoritative(dest, positions);
        if as_primary && tracing::enabled!(tracing::Level::DEBUG) {
            if let (Some(key), Some(position)) = (keys.first(), positions.first()) {
                tracing::debug!(
                    vnode = %dest,
                    key = %String::from_utf8_lossy(key),
                    held = ?self.store.get_at(position, key).map(|r| r.version),
                    authoritative,
                    "read as primary"
                );
            }
        }
        // A copy read for someone else (a catch-up, a quorum) waits for a read-modify-write in
        // progress on the same keys: see `modify_as_primary`.
        let _no_writer = (!as_primary).then(|| self.key_locks(positions));
        let records = self.store.get_many_at(positions, &keys);
        let items = keys
            .into_iter()
            .zip(records)
            .map(|(key, record)| ReadItem { record, key })
            .collect();
        Reply::ReadResp {
            items,
            moved: None,
            authoritative,
        }
    }

    /// Applies records as they come (replica writes, transfers to `dest`): newest version
    /// wins. Records whose version is too far ahead of our clock are not stored, and the reply
    /// says so (see `TableConfig::max_clock_skew`).
    fn apply_all(
        &self,
        dest: &Vnode,
        items: Vec<(Bytes, Record)>,
        positions: &[KeyPosition],
    ) -> Reply {
        let mut applied = 0;
        let mut refusals = Refusals::default();
        for ((key, record), position) in items.into_iter().zip(positions) {
            if !refusals.admit(&self.clock, &record.version) {
                continue;
            }
            if self.store.apply_at(*position, &key, &record).changed() {
                applied += 1;
            }
        }
        // Refused versions are reported with the issuer's node id, which is in the version.
        let error = refusals.report(&self.stats, || format!("a replica write to {dest}"));
        Reply::WriteAck {
            applied,
            error,
            moved: None,
        }
    }

    /// [`apply_all`](TableInner::apply_all), acknowledged once the log holds the records on
    /// disk when its policy is `always` (a replica copy counts for the consistency level only
    /// once it is durable).
    async fn apply_durably(
        &self,
        dest: &Vnode,
        items: Vec<(Bytes, Record)>,
        positions: &[KeyPosition],
    ) -> Reply {
        if let Err(reason) = self.writable() {
            return write_ack(0, Some(reason), None);
        }
        self.count_catch_up(&items);
        let reply = self.apply_all(dest, items, positions);
        let mark = self.log_mark();
        match (self.durable(mark).await, reply) {
            (Err(reason), Reply::WriteAck { applied, .. }) => {
                write_ack(applied, Some(reason), None)
            }
            (_, reply) => reply,
        }
    }

    /// Does local vnode `dest` know the range it owns (a predecessor, or no other vnode at
    /// all)? The ledger's view of it, [`TableInner::current`], says so.
    fn knows_its_range(&self, dest: &Vnode) -> bool {
        self.current(dest).is_some_and(|now| now.range.is_some())
    }

    /// When `dest` does not own every key at `positions` (its predecessor moved past them), the
    /// vnode that does, as far as `dest` knows: its predecessor. Once this node has left the
    /// ring, `dest` owns nothing: its range is its heir's (the first successor on another
    /// node), and a stale route that still reaches it must not find a second primary there
    /// (docs/reliability.md, fix 14).
    pub(super) fn owner_if_not(&self, dest: &Vnode, positions: &[KeyPosition]) -> Option<Vnode> {
        if !self.ring.is_running() {
            return self.heir(dest);
        }
        let pred = self.ring.predecessor(dest).ok()??;
        let range = IdRange::new(pred.id, dest.id);
        (!range.contains_all(positions.iter().map(KeyPosition::id))).then_some(pred)
    }

    /// The primary's part of a write: version, apply, replicate, acknowledge after `min_acks`
    /// copies. Replicas not needed for the acknowledgement are finished in the background.
    ///
    /// `positions` are the items' ring positions, one per item: hashed once, by whoever has the keys
    /// first, for the ownership check and the store. Serves other nodes' writes and, without a
    /// request, this node's own (see `Query::write_group`).
    pub(super) async fn write_as_primary(
        self: Arc<Self>,
        dest: Vnode,
        items: Vec<(Bytes, Record)>,
        positions: Vec<KeyPosition>,
        min_acks: u32,
    ) -> Reply {
        match self.write_owned(dest, items, positions, min_acks).await {
            Ok(reply) => reply,
            Err(moved) => write_ack(0, None, Some(moved.owner)),
        }
    }

    /// [`write_as_primary`](Self::write_as_primary) that hands the items back, untouched,
    /// when `dest` does not own their keys (the only outcome a reply says `moved` for; every
    /// `Ok` reply has `moved: None`): a local write then goes on to the owner without having
    /// copied its batch first just in case.
    pub(super) async fn write_owned(
        self: Arc<Self>,
        dest: Vnode,
        items: Vec<(Bytes, Record)>,
        positions: Vec<KeyPosition>,
        min_acks: u32,
    ) -> Result<Reply, NotOwner> {
        let (replicas, wanted) = match self
            .prepare_primary(
                &dest,
                &positions,
                || items.iter().map(|(key, _)| key.clone()).collect(),
                min_acks,
            )
            .await
        {
            Ok(ready) => ready,
            Err(Unready::Moved(owner)) => {
                return Err(NotOwner {
                    owner,
                    items,
                    positions,
                })
            }
            Err(Unready::Failed(reason)) => return Ok(write_ack(0, Some(reason), None)),
        };
        self.store.prefetch(&positions);
        // The primary orders writes to its keys: each gets a fresh version of its clock.
        let mut versioned = Vec::with_capacity(items.len());
        let mut applied = 0;
        let mut refusals = Refusals::default();
        {
            let _writers = self.key_locks(&positions);
            // Again under the keys' locks, as in `modify_as_primary`: a vnode that joined in
            // front of this one may have taken the keys over since the check above, and its
            // catch-up reads this copy under the same locks. Either the write is applied
            // before that read sees the copy, or it is sent on to the new owner; else the
            // newcomer would answer for the keys without it (docs/reliability.md, fix 15).
            if let Some(owner) = self.owner_if_not(&dest, &positions) {
                return Err(NotOwner {
                    owner,
                    items,
                    positions,
                });
            }
            // Every version observed first (the indexes of those the clock refuses noted,
            // usually none), then one fresh version for each admitted item, in order: one
            // pass over the batch, which is not moved into a vector of the admitted first.
            let mut refused = Vec::new();
            for (index, (_, record)) in items.iter().enumerate() {
                if !refusals.admit(&self.clock, &record.version) {
                    refused.push(index);
                }
            }
            let mut stamps = self.clock.ticks(items.len() - refused.len()).into_iter();
            let mut refused = refused.into_iter().peekable();
            for (index, ((key, record), position)) in items.into_iter().zip(positions).enumerate() {
                if refused.next_if_eq(&index).is_some() {
                    continue;
                }
                // As many stamps as admitted items.
                let Some(version) = stamps.next() else { break };
                let record = Record { version, ..record };
                if self.store.apply_at(position, &key, &record).changed() {
                    applied += 1;
                }
                tracing::trace!(vnode = %dest, key = ?key, version = %record.version, tombstone = record.value.is_none(), "write applied as primary");
                versioned.push((key, record));
            }
        }
        let refused = refusals.report(&self.stats, || format!("a primary write to {dest}"));
        let mark = self.log_mark();
        let (replicated, durable) = futures::join!(
            self.replicate_and_wait(&dest, &replicas, &versioned, wanted),
            self.durable(mark)
        );
        Ok(match replicated.and(durable) {
            Ok(()) => write_ack(applied, refused, None),
            Err(reason) => write_ack(applied, Some(reason), None),
        })
    }

    /// What every primary operation checks first: `dest` owns the keys at `ids` (else
    /// `Moved`), its log can be written (else nothing is applied: a full disk), enough distinct
    /// hosts exist for `min_acks`, and — while `dest` is taking its
    /// range over — the keys' latest records have been fetched from the replicas, so that the
    /// operation sees the current value and is stamped above every version acknowledged
    /// before it. Returns the replica set and the copies to wait for.
    pub(super) async fn prepare_primary(
        self: &Arc<Self>,
        dest: &Vnode,
        positions: &[KeyPosition],
        // The keys, only listed when they must be fetched (not on every write).
        keys: impl FnOnce() -> Vec<Bytes>,
        min_acks: u32,
    ) -> Result<(Vec<Vnode>, usize), Unready> {
        if let Some(owner) = self.owner_if_not(dest, positions) {
            return Err(Unready::Moved(owner));
        }
        self.writable().map_err(Unready::Failed)?;
        let Ok(mut replicas) = self.ring.replicas(dest) else {
            return Err(Unready::Failed(format!("no vnode {dest} on this node")));
        };
        let wanted = min_acks.max(1) as usize;
        if wanted > replicas.len() + 1 {
            return Err(Unready::Failed(format!(
                "consistency {wanted} needs {wanted} copies on distinct hosts, but only {} are \
                 available now",
                replicas.len() + 1
            )));
        }
        let epoch = self.stall.epoch();
        if !self.is_authoritative(dest, positions) {
            // Right after a join the vnode may not know other hosts' vnodes as its successors
            // yet: with no copies to ask, the catch-up below would vouch for an empty store.
            replicas = self.wait_for_replicas(dest, replicas).await?;
            // Taking the range over: the vnode that served it before (our successor) must
            // have stopped first, or both would act as its primary (docs/design.md,
            // "Hand-over").
            // Right after a join the successor may still name an older predecessor until a
            // stabilization round or two have run: wait for it here, within a budget, rather
            // than refuse the first writes of a fresh cluster.
            if !self.wait_for_hand_over(dest).await {
                return Err(Unready::Failed(format!(
                    "{dest} is taking its range over and the vnode that served it before has \
                     not handed it over within {HAND_OVER_BUDGET:?}; retry in a moment"
                )));
            }
            // The predecessor it waited for may place the keys before its range.
            if let Some(owner) = self.owner_if_not(dest, positions) {
                return Err(Unready::Moved(owner));
            }
            // This vnode cannot know the keys' latest versions by itself: every other copy
            // must answer first. One is not enough: after two nodes restarted together, the
            // one that answers may be the other empty newcomer while the only copy that holds
            // the keys has not answered yet (docs/reliability.md, finding 1). Right after a
            // join the copies may not answer yet (connections being set up): ask again a few
            // times, for under a second in all, before refusing rather than acknowledging what
            // an older write may override.
            let keys = keys();
            let began = tokio::time::Instant::now();
            let mut answered = self.catch_up(&replicas, &keys).await;
            let mut pause = CATCH_UP_PAUSE;
            // A copy that times out (paused, cut off) has used the whole budget by itself.
            while answered < replicas.len()
                && pause <= CATCH_UP_PAUSE * 8
                && began.elapsed() < CATCH_UP_BUDGET
            {
                tokio::time::sleep(pause).await;
                pause *= 2;
                answered = self.catch_up(&replicas, &keys).await;
            }
            if answered < replicas.len() {
                return Err(Unready::Failed(format!(
                    "{dest} is taking the range over and only {answered} of its other {} copies \
                     answered, so it cannot know the latest versions of these keys; retry \
                     when the ring has settled",
                    replicas.len()
                )));
            }
            if self.stall.epoch() != epoch || self.stall.in_doubt(self.ring.rejoin_epoch()) {
                // Stopped (or back from a partition) while catching up: what it fetched may be
                // behind writes taken elsewhere meanwhile.
                return Err(Unready::Failed(format!(
                    "{dest}'s node was stalled, or heard from the far side of a partition, \
                     while it caught up; retry"
                )));
            }
        }
        Ok((replicas, wanted))
    }

    /// `replicas` (`dest`'s replica set now) if it is as large as the reachable hosts allow;
    /// else the set once it is, asking the ring again with pauses for up to
    /// [`CATCH_UP_BUDGET`], then a retryable refusal.
    async fn wait_for_replicas(
        &self,
        dest: &Vnode,
        mut replicas: Vec<Vnode>,
    ) -> Result<Vec<Vnode>, Unready> {
        let began = tokio::time::Instant::now();
        let mut pause = CATCH_UP_PAUSE;
        while replicas.len() < self.replicas_expected() {
            if began.elapsed() + pause > CATCH_UP_BUDGET {
                return Err(Unready::Failed(format!(
                    "{dest} is taking its range over but knows only {} of the {} copies it \
                     should have; retry when the ring has settled",
                    replicas.len(),
                    self.replicas_expected()
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(CATCH_UP_PAUSE * 8);
            replicas = self.ring.replicas(dest).unwrap_or_default();
        }
        Ok(replicas)
    }

    /// How many replicas a vnode's set should have: as many as the fullest set among this
    /// node's vnodes. Every set holds the configured count when that many other hosts are in
    /// view, and fewer in a small cluster or on a partition's small side, where all of them
    /// shrink together; a vnode whose set is shorter than its siblings' has just joined and does
    /// not know the other hosts' vnodes as successors yet.
    pub(super) fn replicas_expected(&self) -> usize {
        self.ring
            .local_vnodes()
            .iter()
            .filter_map(|v| self.ring.replicas(v).ok())
            .map(|set| set.len())
            .max()
            .unwrap_or(0)
    }

    /// Asks until `dest`'s successor names `dest` as its predecessor (each question notifies
    /// the successor when it does not), pausing between questions, for at most
    /// [`HAND_OVER_BUDGET`]. `false` when the budget ran out.
    ///
    /// A vnode that knows no predecessor yet, though it is not alone on the ring, cannot tell
    /// what it owns: the first vnode to notify it may not be the one just before it (the one
    /// between has not stabilized yet), and serving everything up to that notifier would make
    /// it a second primary of the range between (table simulation, seed 609: a restarted node's
    /// vnode took a `SET` for a live vnode's key, whose `DEL`'s tombstone then answered a read;
    /// docs/reliability.md, fix 15). It waits for a predecessor too.
    pub(super) async fn wait_for_hand_over(&self, dest: &Vnode) -> bool {
        let began = tokio::time::Instant::now();
        let mut pause = CATCH_UP_PAUSE;
        loop {
            if self.knows_its_range(dest) && self.ring.hand_over_confirmed(dest).await {
                return true;
            }
            if began.elapsed() + pause > HAND_OVER_BUDGET {
                return false;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(CATCH_UP_PAUSE * 8);
        }
    }

    /// Sends `versioned`, written by local `primary`, to every replica through the per-replica
    /// queues (see `replicate`) and waits until `wanted` copies (this one included) hold it; the
    /// others finish in the background. `Err` says how many acknowledged.
    pub(super) async fn replicate_and_wait(
        self: &Arc<Self>,
        primary: &Vnode,
        replicas: &[Vnode],
        versioned: &[(Bytes, Record)],
        wanted: usize,
    ) -> Result<(), String> {
        if wanted == 1 {
            for replica in replicas {
                self.replicate(primary, replica, versioned, false);
            }
            return Ok(());
        }
        let mut pending: FuturesUnordered<_> = replicas
            .iter()
            .filter_map(|replica| self.replicate(primary, replica, versioned, true))
            .collect();
        let mut acks = 1;
        let mut last_error = String::new();
        while acks < wanted {
            match pending.next().await {
                Some(Ok(Ok(()))) => acks += 1,
                Some(Ok(Err(e))) => last_error = e,
                Some(Err(_)) => last_error = "replication stopped".to_string(),
                None => break,
            }
        }
        if acks < wanted {
            return Err(format!(
                "consistency not reached: {acks} of {wanted} copies acknowledged ({last_error})"
            ));
        }
        Ok(())
    }
}

/// The first pause before a primary taking its range over asks its silent copies again (then
/// doubling: 50, 100, 200, 400 ms).
const CATCH_UP_PAUSE: std::time::Duration = std::time::Duration::from_millis(50);

/// How long a primary taking its range over keeps asking silent copies before it refuses.
const CATCH_UP_BUDGET: std::time::Duration = std::time::Duration::from_secs(1);

/// How long a primary taking its range over waits for the vnode that served the range before
/// to hand it over (docs/design.md, "Hand-over") before it refuses. A stabilization round of a
/// fresh ring, with its notify, fits several times over.
pub(super) const HAND_OVER_BUDGET: std::time::Duration = std::time::Duration::from_secs(3);

/// How old the last confirmation of a primary's hand-over may be before a read-modify-write
/// confirms it again: one question to the successor per vnode and quarter second at most,
/// under any load.
pub(super) const HAND_OVER_FRESH: std::time::Duration = std::time::Duration::from_millis(250);

/// Why a primary operation cannot go ahead.
pub(super) enum Unready {
    /// The vnode does not own the keys: ask this one.
    Moved(Vnode),
    /// Anything else: the reason.
    Failed(String),
}

impl TableInner {
    /// Reads `keys` from every one of `replicas` (not as owner) and stores what they hold
    /// (newest version wins, as in an anti-entropy round; a version too far ahead is refused
    /// and counted), so that this primary, taking its range over, works on the keys' latest
    /// records and stamps after them. Returns how many replicas answered.
    pub(super) async fn catch_up(self: &Arc<Self>, replicas: &[Vnode], keys: &[Bytes]) -> usize {
        let answers = join_all(replicas.iter().map(|replica| {
            self.call(Request::Read {
                dest: replica.clone(),
                keys: keys.to_vec(),
                primary: false,
            })
        }))
        .await;
        let mut answered = 0;
        let mut refusals = Refusals::default();
        for answer in answers {
            if let Ok(Reply::ReadResp { items, .. }) = answer {
                answered += 1;
                for item in items {
                    let Some(record) = item.record else { continue };
                    if refusals.admit(&self.clock, &record.version) {
                        self.store.apply(item.key, record);
                    }
                }
            }
        }
        let _ = refusals.report(&self.stats, || "a primary catching up".to_string());
        answered
    }
}

/// A primary write this vnode refused because it does not own the keys: who does, by its
/// ring, and the batch, untouched, to send there (see [`TableInner::write_owned`]).
pub(super) struct NotOwner {
    pub owner: Vnode,
    pub items: Vec<(Bytes, Record)>,
    pub positions: Vec<KeyPosition>,
}

pub(super) fn write_ack(applied: u32, error: Option<String>, moved: Option<Vnode>) -> Reply {
    Reply::WriteAck {
        applied,
        error,
        moved,
    }
}

/// Where each item's key lies on the ring.
fn positions_of(items: &[(Bytes, Record)]) -> Vec<KeyPosition> {
    items.iter().map(|(key, _)| KeyPosition::of(key)).collect()
}

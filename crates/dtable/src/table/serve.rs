//! What a node does with the dtable requests of other nodes (and of itself).

use std::sync::Arc;

use bytes::Bytes;
use dendrite::{ExtensionHandler, HandlerError, Id, Vnode};
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
            Request::Write { dest, items, role } => match role {
                WriteRole::Primary { min_acks } => {
                    let positions = items.iter().map(|(key, _)| KeyPosition::of(key)).collect();
                    self.write_as_primary(dest, items, positions, min_acks)
                        .await
                }
                WriteRole::Replica => self.apply_all(&dest, items),
            },
            Request::Transfer { dest, items, .. } => self.apply_all(&dest, items),
            Request::Read {
                dest,
                keys,
                primary,
            } => {
                let positions: Vec<KeyPosition> =
                    keys.iter().map(|key| KeyPosition::of(key)).collect();
                self.read_at(&dest, keys, &positions, primary)
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
                }
            }
            Request::Scan {
                range,
                after,
                limit,
                ..
            } => {
                let limit = (limit as usize).min(self.config.batch_size.max(1));
                let cursor = after.map(|k| (Id::of_key(&k), k));
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
        let items = keys
            .into_iter()
            .zip(positions)
            .map(|(key, position)| ReadItem {
                record: self.store.get_at(position, &key),
                key,
            })
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
    fn apply_all(&self, dest: &Vnode, items: Vec<(Bytes, Record)>) -> Reply {
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
        // The request does not name its sender: the issuer's node id is in the version.
        let error = refusals.report(&self.stats, || format!("a replica write to {dest}"));
        Reply::WriteAck {
            applied,
            error,
            moved: None,
        }
    }

    /// When `dest` does not own every key at `positions` (its predecessor moved past them), the
    /// vnode that does, as far as `dest` knows: its predecessor.
    fn owner_if_not(&self, dest: &Vnode, positions: &[KeyPosition]) -> Option<Vnode> {
        let pred = self.ring.predecessor(dest).ok()??;
        let range = IdRange::new(pred.id, dest.id);
        positions
            .iter()
            .any(|position| !range.contains(&position.id()))
            .then_some(pred)
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
        if let Some(owner) = self.owner_if_not(&dest, &positions) {
            return write_ack(0, None, Some(owner));
        }
        let Ok(replicas) = self.ring.replicas(&dest) else {
            return write_ack(0, Some(format!("no vnode {dest} on this node")), None);
        };
        let wanted = min_acks.max(1) as usize;
        if wanted > replicas.len() + 1 {
            return write_ack(
                0,
                Some(format!(
                    "consistency {wanted} needs {wanted} copies on distinct hosts, but only {} are \
                     available now",
                    replicas.len() + 1
                )),
                None,
            );
        }
        if !self.is_authoritative(&dest, &positions) {
            // Taking the range over: the latest versions of these keys may live only on the
            // previous holders. Learn them first, so that this write is stamped above every
            // write acknowledged before it. If no other copy answers, it cannot know them:
            // refuse rather than acknowledge a write that an older one may override.
            let answered = self.learn_versions(&replicas, &items).await;
            if answered == 0 && !replicas.is_empty() {
                return write_ack(
                    0,
                    Some(format!(
                        "{dest} is taking the range over and none of its other {} copies \
                         answered, so it cannot know the latest versions of these keys; retry \
                         when the ring has settled",
                        replicas.len()
                    )),
                    None,
                );
            }
        }
        // The primary orders writes to its keys: each gets a fresh version of its clock.
        let mut versioned = Vec::with_capacity(items.len());
        let mut applied = 0;
        let mut refusals = Refusals::default();
        for ((key, record), position) in items.into_iter().zip(positions) {
            if !refusals.admit(&self.clock, &record.version) {
                continue;
            }
            let record = Record {
                version: self.clock.tick(),
                value: record.value,
            };
            if self.store.apply_at(position, &key, &record).changed() {
                applied += 1;
            }
            versioned.push((key, record));
        }
        let refused = refusals.report(&self.stats, || format!("a primary write to {dest}"));
        // Replica writes go through the per-replica queues (see `replicate`); only the ones
        // this write's consistency needs are waited for.
        if wanted == 1 {
            for replica in &replicas {
                self.replicate(replica, &versioned, false);
            }
            return write_ack(applied, refused, None);
        }
        let mut pending: FuturesUnordered<_> = replicas
            .iter()
            .filter_map(|replica| self.replicate(replica, &versioned, true))
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
            return write_ack(
                applied,
                Some(format!(
                    "consistency not reached: {acks} of {wanted} copies acknowledged ({last_error})"
                )),
                None,
            );
        }
        write_ack(applied, refused, None)
    }
}

impl TableInner {
    /// Reads `items`' keys from every one of `replicas` (not as owner) and observes the
    /// versions found, so that the next versions this node issues order after them. Returns
    /// how many replicas answered.
    async fn learn_versions(
        self: &Arc<Self>,
        replicas: &[Vnode],
        items: &[(Bytes, Record)],
    ) -> usize {
        let keys: Vec<Bytes> = items.iter().map(|(key, _)| key.clone()).collect();
        let answers = join_all(replicas.iter().map(|replica| {
            self.call(Request::Read {
                dest: replica.clone(),
                keys: keys.clone(),
                primary: false,
            })
        }))
        .await;
        let mut answered = 0;
        for answer in answers {
            if let Ok(Reply::ReadResp { items, .. }) = answer {
                answered += 1;
                for record in items.into_iter().filter_map(|item| item.record) {
                    // A version too far ahead is refused here as everywhere (and counted where
                    // records are stored); this read only learns what is acceptable.
                    let _ = self.clock.observe(&record.version);
                }
            }
        }
        answered
    }
}

fn write_ack(applied: u32, error: Option<String>, moved: Option<Vnode>) -> Reply {
    Reply::WriteAck {
        applied,
        error,
        moved,
    }
}

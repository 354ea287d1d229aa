//! Who is on the ring: every vnode (a walk along successor lists), where clients reach each
//! node, and whether a key's primary is on this node. The Redis Cluster front end builds its
//! slot map from these.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use dendrite::{Id, Vnode};

use super::{Table, TableInner};
use crate::error::TableError;
use crate::position::KeyPosition;
use crate::range::IdRange;
use crate::slot::Slot;
use crate::wire::{Reply, Request};

/// Where clients and operators reach one node (`host:port` each), as it announces them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeAddresses {
    /// Its RESP endpoint, when it serves clients.
    pub client: Option<String>,
    /// Its HTTP console, when it serves one.
    pub console: Option<String>,
}

/// Most lookups one walk makes: a ring of 4096 vnodes with successor lists of 8 fits 8 times.
const MAX_WALK_STEPS: usize = 4096;

impl Table {
    /// Every vnode of the ring, sorted by id: a walk from position 0 along the successor lists
    /// lookups return, until it wraps. A vnode that joined or left during the walk may be
    /// missing or still listed; walk again for a fresher picture.
    pub async fn members(&self) -> Result<Vec<Vnode>, TableError> {
        let ring = &self.inner.ring;
        let wanted = ring.config().num_successors.max(1);
        let mut found: BTreeMap<Id, Vnode> = ring
            .local_vnodes()
            .into_iter()
            .map(|vnode| (vnode.id, vnode))
            .collect();
        let mut at = Id::ZERO;
        for _ in 0..MAX_WALK_STEPS {
            let successors = ring.find_successors(at, wanted).await?;
            let mut last = None;
            for vnode in successors {
                if vnode.id < at {
                    // Wrapped past the top of the ring: the walk is complete.
                    return Ok(found.into_values().collect());
                }
                last = Some(vnode.id);
                found.insert(vnode.id, vnode);
            }
            match last {
                Some(id) if id != Id::MAX => at = id.add_pow2(0),
                _ => break,
            }
        }
        Ok(found.into_values().collect())
    }

    /// Where clients reach the node running `vnode` (its RESP endpoint), as that node says
    /// (docs/wire.md §6.3); `None` when it serves no clients or is too old to say.
    pub async fn client_address(&self, vnode: &Vnode) -> Result<Option<String>, TableError> {
        Ok(self.node_addresses(vnode).await?.client)
    }

    /// Where clients and operators reach the node running `vnode`, as that node says
    /// (docs/wire.md §6.3): one Probe answers both.
    pub async fn node_addresses(&self, vnode: &Vnode) -> Result<NodeAddresses, TableError> {
        if self.inner.is_local(vnode) {
            return Ok(NodeAddresses {
                client: self.inner.config.client_address.clone(),
                console: self.inner.config.console_address.clone(),
            });
        }
        self.inner.addresses_of(vnode).await
    }

    /// Up to `count` keys of `slot` holding a value in this node's store (as a primary or a
    /// replica), in ring order: Redis's `CLUSTER GETKEYSINSLOT` and `COUNTKEYSINSLOT`.
    pub fn local_keys_in_slot(&self, slot: Slot, count: usize) -> Vec<Bytes> {
        let range = IdRange::new(slot.start().wrapping_sub(&Id::pow2(0)), slot.last_key());
        let batch = self.inner.config.batch_size.max(1);
        let mut keys = Vec::new();
        let mut cursor = None;
        while keys.len() < count {
            let records = self.inner.store.scan(range, cursor.take(), batch);
            let full = records.len() == batch;
            if let Some((last, _)) = records.last() {
                cursor = Some((KeyPosition::of(last).id(), last.clone()));
            }
            keys.extend(
                records
                    .into_iter()
                    .filter(|(_, record)| record.value.is_some())
                    .map(|(key, _)| key),
            );
            if !full {
                break;
            }
        }
        keys.truncate(count);
        keys
    }

    /// Is the primary of `key` one of this node's vnodes, as far as they know (the key is in
    /// the range `(predecessor, self]` of one of them)? `false` while a vnode knows no
    /// predecessor.
    pub fn is_primary_here(&self, key: &[u8]) -> bool {
        self.inner.ring.owns_locally(&KeyPosition::of(key).id())
    }
}

impl TableInner {
    async fn addresses_of(self: &Arc<Self>, vnode: &Vnode) -> Result<NodeAddresses, TableError> {
        let request = Request::Probe {
            dest: vnode.clone(),
            // No incarnation: this is a question, not an announcement of a restart.
            sender: None,
        };
        match self.call(request).await? {
            Reply::ProbeResp {
                client_address,
                console_address,
                ..
            } => Ok(NodeAddresses {
                client: client_address,
                console: console_address,
            }),
            other => Err(super::repair::unexpected(vnode, &other)),
        }
    }
}

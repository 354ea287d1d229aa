//! Looking at the table without changing it, for an operator's console: what each copy of a
//! key holds (read as a replica reads, so nothing is repaired or rewritten) and how many records
//! each local vnode holds (counted from the store's chunk index, not by reading the records).

use dendrite::Vnode;

use super::{Query, Table};
use crate::error::TableError;
use crate::position::KeyPosition;
use crate::record::Record;

/// What one copy holder of a key answered to [`Table::inspect_copies`].
#[derive(Debug)]
pub struct CopyRead {
    /// The vnode asked.
    pub vnode: Vnode,
    /// Is it the key's primary (else one of its replicas)?
    pub primary: bool,
    /// What it holds for the key (a value or a tombstone, with its version), nothing, or why it
    /// did not answer.
    pub held: Result<Option<Record>, TableError>,
}

/// The records one of this node's vnodes holds for the range it is primary of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VnodeRecords {
    /// The vnode.
    pub vnode: Vnode,
    /// Records (tombstones included) in `(predecessor, vnode]`; `None` while it knows no
    /// predecessor.
    pub primary: Option<usize>,
}

impl Table {
    /// Every copy holder of `key` (its primary, then its replicas, placed by a fresh lookup on
    /// the ring) and what each holds, asked in parallel with the read that serves replica reads
    /// (docs/wire.md, `Read` with `primary` false): no copy is repaired or written, whatever
    /// they answer.
    pub async fn inspect_copies(&self, key: &[u8]) -> Result<Vec<CopyRead>, TableError> {
        let query = Query::new(&self.inner);
        let placement = query.lookup_placement(KeyPosition::of(key).id()).await?;
        let copies: Vec<Vnode> = placement.copies().cloned().collect();
        let key = bytes::Bytes::copy_from_slice(key);
        let answers = query.read_from(&key, &copies).await;
        Ok(copies
            .into_iter()
            .zip(answers)
            .enumerate()
            .map(|(at, (vnode, held))| CopyRead {
                vnode,
                primary: at == 0,
                held,
            })
            .collect())
    }

    /// For each local vnode, the records it holds as primary. Counted from the store's chunk
    /// index (one step per ~30 records), so it stays cheap with millions of keys.
    pub fn vnode_records(&self) -> Vec<VnodeRecords> {
        self.inner
            .ring
            .local_vnodes()
            .into_iter()
            .map(|vnode| {
                let primary = self
                    .inner
                    .current(&vnode)
                    .and_then(|now| now.range)
                    .map(|range| self.inner.store.count_in(range));
                VnodeRecords { vnode, primary }
            })
            .collect()
    }
}

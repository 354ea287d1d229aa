//! The whole keyspace, page by page: a cursor that is a ring position, so a scan survives
//! nodes joining and leaving (Redis's SCAN guarantee: every key present for the whole scan is
//! returned at least once; a key may come twice).
//!
//! A page covers the ring from just after the cursor up to the end of one primary's range.
//! Every copy of that range is read (primary and replicas, newest version per key wins,
//! tombstones dropped), so a primary still taking its range over cannot hide a key; the page
//! ends where the shortest copy's batch ended.

use bytes::Bytes;
use dendrite::Id;
use futures::future::join_all;

use super::Query;
use crate::error::TableError;
use crate::position::KeyPosition;
use crate::range::IdRange;
use crate::record::Record;
use crate::wire::{Reply, Request};

/// One page of [`Query::scan`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanPage {
    /// Keys holding a value, in ring order.
    pub keys: Vec<Bytes>,
    /// Where the next page starts (exclusive), or `None` when the walk reached the end of the
    /// ring (position `Id::MAX`).
    pub next: Option<Id>,
}

impl Query<'_> {
    /// Up to about `count` keys holding a value, from just after ring position `after` (from
    /// the start of the ring when `None`) to at most the end of the next primary's range.
    ///
    /// ```
    /// # async fn example(table: &dtable::Table) -> Result<(), dtable::TableError> {
    /// let mut cursor = None;
    /// loop {
    ///     let page = table.query().scan(cursor, 100).await?;
    ///     for key in &page.keys { println!("{key:?}"); }
    ///     match page.next { Some(next) => cursor = Some(next), None => break }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn scan(&self, after: Option<Id>, count: usize) -> Result<ScanPage, TableError> {
        let limit = count.clamp(1, self.inner.config.batch_size.max(1));
        // The first position of the page, and the exclusive start of its range.
        let (first, from) = match after {
            None => (Id::ZERO, Id::MAX),
            Some(at) if at == Id::MAX => {
                return Ok(ScanPage {
                    keys: Vec::new(),
                    next: None,
                })
            }
            Some(at) => (at.add_pow2(0), at),
        };
        let placement = self.lookup_placement(first).await?;
        // Up to the primary's id, or to the end of the ring if its range wraps past it.
        let end = if placement.primary.id >= first {
            placement.primary.id
        } else {
            Id::MAX
        };
        let range = IdRange::new(from, end);
        let copies: Vec<_> = placement.copies().cloned().collect();
        let answers = join_all(copies.iter().map(|copy| {
            self.inner.call(Request::Scan {
                dest: copy.clone(),
                range,
                after: None,
                limit: u32::try_from(limit).unwrap_or(u32::MAX),
            })
        }))
        .await;
        let mut merged: Vec<(Id, Bytes, Record)> = Vec::new();
        let mut reached = 0;
        // The page is complete up to the last position of the shortest full batch.
        let mut complete_to = end;
        for (copy, answer) in copies.iter().zip(answers) {
            let (items, more) = match answer {
                Ok(Reply::ScanResp { items, more }) => (items, more),
                Ok(other) => return Err(super::repair::unexpected(copy, &other)),
                // A silent copy is covered by the others (the primary or a replica).
                Err(_) => continue,
            };
            reached += 1;
            if more {
                if let Some((last, _)) = items.last() {
                    complete_to = complete_to.min(KeyPosition::of(last).id());
                }
            }
            merged.extend(
                items
                    .into_iter()
                    .map(|(key, record)| (KeyPosition::of(&key).id(), key, record)),
            );
        }
        if reached == 0 {
            return Err(TableError::Unavailable(format!(
                "no copy of the range ending at {} answered a scan",
                placement.primary
            )));
        }
        merged.sort_by(|a, b| {
            (a.0, &a.1)
                .cmp(&(b.0, &b.1))
                .then(b.2.version.cmp(&a.2.version))
        });
        merged.dedup_by(|later, earlier| later.0 == earlier.0 && later.1 == earlier.1);
        let now = self.now();
        let keys = merged
            .into_iter()
            .filter(|(id, _, record)| *id <= complete_to && record.live_value(now).is_some())
            .map(|(_, key, _)| key)
            .collect();
        let next = (complete_to != Id::MAX).then_some(complete_to);
        Ok(ScanPage { keys, next })
    }
}

//! Witnessed owners: a replica that sees two vnodes act as primary for the same keys tells the
//! farther one that it is not their owner (docs/design.md, "Witnessed owners").
//!
//! Chord repairs a ring lazily. A vnode that comes back (a restart, a join) is known to its
//! neighbours only after their next stabilization rounds, and meanwhile a vnode after it can
//! take a predecessor too far back and act as primary for the keys of the live vnode between:
//! two primaries of one range, each writing with its own versions, one answering reads from a
//! copy that misses the other's writes (table simulation, clock seed 1456: a nil read after an
//! acknowledged `SET`). Ownership is not a matter of opinion, though: a key belongs to the
//! first live vnode at or after it. So when a replica receives a primary's writes from `S`
//! while `P`, which lies between the keys and `S`, sent it writes as their primary a moment
//! ago, `P` is alive and closer: `S` is wrong. The replica refuses `S`'s write and names `P`;
//! `S` takes `P` for its predecessor, stops serving the range, and undoes its copies.
//!
//! Only recent writes count: [`WINDOW`] is shorter than the time the ring takes to find a
//! crashed vnode dead, so a vnode that took a range over from one that crashed is not refused
//! for the dead one's last writes. A vnode that left or was found dead is known so to the
//! refused primary, which then sends again without naming itself (see `replicate.rs`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use dendrite::{Id, Vnode};
use tokio::time::Instant;

use super::TableInner;
use crate::position::KeyPosition;
use crate::record::Record;
use crate::wire::Reply;

/// How long a primary's replica write keeps it "alive and acting as owner" in a replica's eyes.
/// Below the ring's failure detection (two predecessor pings a stabilization round apart; with
/// the default 1-3 s rounds, well over a second), above the few hundred milliseconds a
/// displaced vnode takes to learn of the vnode that displaced it.
pub(crate) const WINDOW: Duration = Duration::from_millis(1_000);

/// At most this many primaries are remembered: a replica hears from its predecessors' few
/// vnodes, and an entry older than [`WINDOW`] is worth nothing.
const CAPACITY: usize = 256;

/// The primaries that sent this node replica writes lately, and when each last did.
#[derive(Debug, Default)]
pub(crate) struct RecentPrimaries {
    heard: HashMap<Id, (Vnode, Instant)>,
}

impl RecentPrimaries {
    /// `primary` sent a replica write at `now`, and it was accepted.
    pub(crate) fn note(&mut self, primary: &Vnode, now: Instant) {
        if self.heard.len() >= CAPACITY && !self.heard.contains_key(&primary.id) {
            self.heard
                .retain(|_, (_, at)| now.saturating_duration_since(*at) < WINDOW);
            if self.heard.len() >= CAPACITY {
                return;
            }
        }
        self.heard.insert(primary.id, (primary.clone(), now));
    }

    /// A live primary closer to one of `keys` than `sender`, which sends writes for them as
    /// their primary at `now`: one heard within [`WINDOW`] that lies in `[key, sender)` for some
    /// key. Of several, the closest to `sender` (the one `sender` should take for predecessor).
    pub(crate) fn closer_than(
        &self,
        sender: &Vnode,
        keys: impl IntoIterator<Item = Id>,
        now: Instant,
    ) -> Option<Vnode> {
        // The recent primaries other than the sender, closest before it first.
        let mut before: Vec<&Vnode> = self
            .heard
            .values()
            .filter(|(v, at)| v.id != sender.id && now.saturating_duration_since(*at) < WINDOW)
            .map(|(v, _)| v)
            .collect();
        if before.is_empty() {
            return None;
        }
        before.sort_by_key(|v| v.id.distance_to(&sender.id));
        // A primary in `[key, sender)` for some key: the closest one before the sender is in
        // that arc whenever any is, so it is the only one to test.
        let closest = before[0];
        keys.into_iter()
            .any(|key| lies_in(&closest.id, &key, &sender.id))
            .then(|| closest.clone())
    }
}

/// Does `vnode` lie in `[key, primary)`: at or after the key, before its primary? Then it is
/// closer to the key than the primary (nothing lies in the empty arc of a key at the primary).
fn lies_in(vnode: &Id, key: &Id, primary: &Id) -> bool {
    key != primary && (vnode == key || vnode.is_between(key, primary))
}

impl TableInner {
    /// A replica write from primary `origin` for the keys at `positions`: `None` when it may be
    /// stored (and `origin` is noted as acting owner), else the refusal naming the closer owner.
    pub(super) fn witness(&self, origin: Vnode, positions: &[KeyPosition]) -> Option<Reply> {
        let now = Instant::now();
        let mut primaries = self.primaries.lock();
        let keys = positions.iter().map(KeyPosition::id);
        match primaries.closer_than(&origin, keys, now) {
            Some(owner) => {
                tracing::debug!(primary = %origin, %owner, "replica write refused: a closer vnode acts as the keys' owner");
                Some(Reply::WriteAck {
                    applied: 0,
                    error: Some(format!(
                        "{owner} acted as the primary of these keys within {WINDOW:?}, closer to \
                         them than {origin}"
                    )),
                    moved: Some(owner),
                })
            }
            None => {
                primaries.note(&origin, now);
                None
            }
        }
    }

    /// A replica refused `items`, written by local `primary`, because `owner` acts as the
    /// owner of some of them and lies closer to them: `primary` takes `owner` for its
    /// predecessor, is no longer trusted for its range until a new anti-entropy round, and
    /// drops its copies of the keys `owner` holds, fetching `owner`'s instead (a copy stamped by
    /// the wrong primary could otherwise win over the owner's later writes by its version).
    /// Returns the items `primary` still owns: they go on to the replica.
    pub(super) fn displaced(
        self: &Arc<Self>,
        primary: &Vnode,
        owner: &Vnode,
        items: Vec<(Bytes, Record)>,
    ) -> Vec<(Bytes, Record)> {
        let took = self.ring.offer_predecessor(primary, owner).unwrap_or(false);
        tracing::warn!(
            vnode = %primary,
            %owner,
            predecessor_changed = took,
            "a replica saw a closer vnode act as owner of keys this vnode served as primary: \
             stepping back"
        );
        self.ledger.lock().forget(primary);
        self.heal.notify_one();
        let mut still_ours = Vec::new();
        let mut undone = Vec::new();
        for (key, record) in items {
            let at = KeyPosition::of(&key).id();
            if lies_in(&owner.id, &at, &primary.id) {
                if self.store.remove_if(&key, record.version) {
                    undone.push(key);
                }
            } else {
                still_ours.push((key, record));
            }
        }
        if !undone.is_empty() {
            let inner = self.clone();
            let owner = owner.clone();
            tokio::spawn(async move {
                inner.catch_up(&[owner], &undone).await;
            });
        }
        still_ours
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(top: u8) -> Id {
        Id::at_top_byte(top)
    }

    fn vnode(top: u8, host: &str) -> Vnode {
        Vnode::new(id(top), host)
    }

    #[test]
    fn a_recent_primary_between_the_key_and_the_sender_is_closer() {
        let start = Instant::now();
        let mut recent = RecentPrimaries::default();
        let near = vnode(0x30, "a:1");
        let far = vnode(0x50, "b:1");
        recent.note(&near, start);
        let now = start + Duration::from_millis(300);
        // A key at 0x20 belongs to 0x30 while it lives: 0x50 writing it is refused.
        assert_eq!(
            recent.closer_than(&far, [id(0x20)], now),
            Some(near.clone())
        );
        // A key exactly at the closer vnode's id is its own.
        assert_eq!(
            recent.closer_than(&far, [id(0x30)], now),
            Some(near.clone())
        );
        // A key between the two is the sender's.
        assert_eq!(recent.closer_than(&far, [id(0x40)], now), None);
        // The closer vnode writing its own keys is never refused for the farther one's writes.
        recent.note(&far, now);
        assert_eq!(recent.closer_than(&near, [id(0x20)], now), None);
        // Nor is a sender refused for its own earlier writes.
        assert_eq!(recent.closer_than(&near, [id(0x30)], now), None);
    }

    #[test]
    fn a_primary_heard_longer_ago_than_the_window_counts_for_nothing() {
        let start = Instant::now();
        let mut recent = RecentPrimaries::default();
        let near = vnode(0x30, "a:1");
        let far = vnode(0x50, "b:1");
        recent.note(&near, start);
        assert!(recent
            .closer_than(&far, [id(0x20)], start + WINDOW - Duration::from_millis(1))
            .is_some());
        assert_eq!(recent.closer_than(&far, [id(0x20)], start + WINDOW), None);
    }

    #[test]
    fn of_several_closer_primaries_the_one_nearest_the_sender_is_named() {
        let start = Instant::now();
        let mut recent = RecentPrimaries::default();
        let far = vnode(0x50, "b:1");
        recent.note(&vnode(0x10, "a:1"), start);
        recent.note(&vnode(0x40, "c:1"), start);
        recent.note(&vnode(0x30, "d:1"), start);
        let named = recent.closer_than(&far, [id(0x05), id(0x45)], start);
        assert_eq!(named.map(|v| v.id), Some(id(0x40)));
        // Around the top of the circle: the sender at 0x05 after a key at 0xf0.
        let wrapped = vnode(0x05, "e:1");
        let named = recent.closer_than(&wrapped, [id(0xf0)], start);
        assert_eq!(named, None, "0x10..0x40 are past the sender, not before it");
        recent.note(&vnode(0xf8, "f:1"), start);
        let named = recent.closer_than(&wrapped, [id(0xf0)], start);
        assert_eq!(named.map(|v| v.id), Some(id(0xf8)));
    }
}

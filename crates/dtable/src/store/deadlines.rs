//! The deadlines of a shard's expiring records, soonest first: what the expiry sweep walks
//! (docs/design.md, "Expiry").
//!
//! Redis samples its expires dictionary at random; an ordered index instead finds exactly the
//! records that are due, so a sweep never spends its budget on keys that are not. Entries are
//! only added, on every write of a record with a deadline: one made stale by a later write (a
//! new deadline, PERSIST, a delete, a range handed away) stays until its time comes, and the
//! sweep then finds the record no longer matches and drops it. So the index holds at most one
//! entry per write of a deadline still in the future.

use std::collections::BTreeSet;

use dendrite::Id;

/// One shard's index of (deadline, position, key).
#[derive(Default)]
pub(super) struct Deadlines {
    due: BTreeSet<(u64, Id, Box<[u8]>)>,
}

impl Deadlines {
    /// Notes that the record of `key` at `id` expires at `deadline` (Unix ms).
    pub fn insert(&mut self, deadline: u64, id: Id, key: &[u8]) {
        self.due.insert((deadline, id, key.into()));
    }

    /// Takes up to `limit` entries due at `now` (deadline at or before it), soonest first.
    pub fn take_due(&mut self, now: u64, limit: usize) -> Vec<(u64, Id, Box<[u8]>)> {
        let mut taken = Vec::new();
        while taken.len() < limit {
            match self.due.first() {
                Some((deadline, _, _)) if *deadline <= now => {}
                _ => break,
            }
            if let Some(entry) = self.due.pop_first() {
                taken.push(entry);
            }
        }
        taken
    }

    /// Entries held, stale ones included.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.due.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_what_is_due_soonest_first_within_the_limit() {
        let mut index = Deadlines::default();
        index.insert(30, Id::of_key(b"c"), b"c");
        index.insert(10, Id::of_key(b"a"), b"a");
        index.insert(20, Id::of_key(b"b"), b"b");
        index.insert(99, Id::of_key(b"later"), b"later");
        let first = index.take_due(50, 2);
        let keys: Vec<&[u8]> = first.iter().map(|(_, _, k)| k.as_ref()).collect();
        assert_eq!(keys, vec![b"a".as_ref(), b"b".as_ref()]);
        let rest = index.take_due(50, 10);
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].0, 30);
        assert!(index.take_due(50, 10).is_empty(), "99 is not due at 50");
        assert_eq!(index.len(), 1);
    }
}

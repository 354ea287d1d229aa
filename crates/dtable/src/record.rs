//! What the table holds for one key: a value or a tombstone, stamped with its version.

use bytes::Bytes;

use crate::version::Version;

/// The state of one key at one [`Version`]: a value, or a tombstone saying it was deleted.
///
/// Deletes are records too. A replica that missed a delete and later offers its old value loses
/// to the tombstone's newer version instead of resurrecting the key; tombstones are only purged
/// once every replica holds them and a grace period has passed (see
/// [`Store::purge_tombstones`](crate::store::Store::purge_tombstones)).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Record {
    /// When (in hybrid logical time) and by which node the write happened. For a tombstone,
    /// `version.millis` is the delete time that the purge grace period counts from.
    pub version: Version,
    /// The value; `None` is a tombstone.
    pub value: Option<Bytes>,
}

impl Record {
    /// A record holding `value`, written at `version`.
    pub fn value(version: Version, value: Bytes) -> Record {
        Record {
            version,
            value: Some(value),
        }
    }

    /// A tombstone: the key was deleted at `version`.
    pub fn tombstone(version: Version) -> Record {
        Record {
            version,
            value: None,
        }
    }

    /// Is this a delete marker rather than a value?
    pub fn is_tombstone(&self) -> bool {
        self.value.is_none()
    }

    /// Should `self` replace `other` as the state of the same key?
    ///
    /// The newer version wins. Two different writes never share a version (the node id is part
    /// of it), but if a misconfigured cluster produced such a pair anyway, the tie is broken by
    /// the content (a value beats a tombstone, then the greater bytes win), so every replica
    /// still settles on the same record whatever order it receives them in. A record does not
    /// win over an equal one: re-applying a write is a no-op.
    pub fn wins_over(&self, other: &Record) -> bool {
        match self.version.cmp(&other.version) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Equal => self.value > other.value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(millis: u64, node: u64) -> Version {
        Version {
            millis,
            logical: 0,
            node,
        }
    }

    #[test]
    fn newer_version_wins() {
        let old = Record::value(v(1, 1), Bytes::from_static(b"old"));
        let new = Record::value(v(2, 1), Bytes::from_static(b"new"));
        assert!(new.wins_over(&old));
        assert!(!old.wins_over(&new));
    }

    #[test]
    fn newer_tombstone_beats_older_value() {
        let value = Record::value(v(5, 2), Bytes::from_static(b"x"));
        let deleted = Record::tombstone(v(6, 1));
        assert!(deleted.is_tombstone());
        assert!(deleted.wins_over(&value));
        assert!(!value.wins_over(&deleted));
    }

    #[test]
    fn node_id_breaks_ties_between_nodes() {
        let a = Record::value(v(5, 1), Bytes::from_static(b"a"));
        let b = Record::value(v(5, 2), Bytes::from_static(b"b"));
        assert!(b.wins_over(&a));
    }

    #[test]
    fn equal_records_do_not_win() {
        let a = Record::value(v(5, 1), Bytes::from_static(b"a"));
        assert!(!a.wins_over(&a.clone()));
    }

    #[test]
    fn same_version_conflict_is_settled_by_content() {
        let a = Record::value(v(5, 1), Bytes::from_static(b"a"));
        let b = Record::value(v(5, 1), Bytes::from_static(b"b"));
        let t = Record::tombstone(v(5, 1));
        assert!(b.wins_over(&a) && !a.wins_over(&b));
        assert!(a.wins_over(&t) && !t.wins_over(&a));
    }
}

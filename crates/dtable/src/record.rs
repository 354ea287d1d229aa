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
    /// When the value expires: an absolute deadline in milliseconds since the Unix epoch, or
    /// `None` for never (always `None` on a tombstone).
    ///
    /// The deadline is part of the write: a version names one (value, deadline) pair, so every
    /// copy of a record agrees on when it expires, and changing a deadline (EXPIRE, PERSIST) is
    /// a new write with a new version. A record past its deadline still wins over older ones
    /// (it stays a record, so nothing older comes back through a replica); it is only invisible
    /// to reads ([`live_value`](Record::live_value)) until the primary reclaims it as a tombstone
    /// (docs/design.md, "Expiry").
    pub expires: Option<u64>,
}

impl Record {
    /// A record holding `value`, written at `version`.
    pub fn value(version: Version, value: Bytes) -> Record {
        Record {
            version,
            value: Some(value),
            expires: None,
        }
    }

    /// A record holding `value` until `expires` (Unix milliseconds; `None`: for ever).
    pub fn expiring(version: Version, value: Bytes, expires: Option<u64>) -> Record {
        Record {
            version,
            value: Some(value),
            expires,
        }
    }

    /// A record from its parts as they travel: a value (or `None`, a tombstone) and a deadline,
    /// which a tombstone never has (one that arrives with a tombstone is dropped).
    pub fn with_deadline(version: Version, value: Option<Bytes>, expires: Option<u64>) -> Record {
        Record {
            version,
            expires: expires.filter(|_| value.is_some()),
            value,
        }
    }

    /// A tombstone: the key was deleted at `version`.
    pub fn tombstone(version: Version) -> Record {
        Record {
            version,
            value: None,
            expires: None,
        }
    }

    /// Is this a delete marker rather than a value?
    pub fn is_tombstone(&self) -> bool {
        self.value.is_none()
    }

    /// Has the value expired at `now` (Unix milliseconds)? Redis's rule: a key whose deadline
    /// is `now` or earlier is gone.
    pub fn is_expired(&self, now: u64) -> bool {
        is_past(self.expires, now)
    }

    /// The record borrowed as a [`HeldRecord`].
    pub fn held(&self) -> HeldRecord<'_> {
        HeldRecord {
            version: self.version,
            value: self.value.as_deref(),
            expires: self.expires,
        }
    }

    /// The value as a reader at `now` sees it: `None` for a tombstone or an expired value.
    pub fn live_value(&self, now: u64) -> Option<&Bytes> {
        self.value.as_ref().filter(|_| !self.is_expired(now))
    }

    /// [`live_value`](Record::live_value), consuming the record.
    pub fn into_live_value(self, now: u64) -> Option<Bytes> {
        if self.is_expired(now) {
            None
        } else {
            self.value
        }
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
            std::cmp::Ordering::Equal => {
                (&self.value, self.expires) > (&other.value, other.expires)
            }
        }
    }
}

/// Is a value with deadline `expires` gone at `now`? Redis's rule: at its deadline or later.
fn is_past(expires: Option<u64>, now: u64) -> bool {
    expires.is_some_and(|deadline| deadline <= now)
}

/// A [`Record`] read where it is stored, not copied out: what a read-modify-write sees of the
/// key it is about to change ([`Store::update_at`](crate::store::Store::update_at)). An `INCR`
/// only parses the value and writes a new one; copying the old value into a `Bytes` first was
/// an allocation and a copy per operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeldRecord<'a> {
    /// Its version.
    pub version: Version,
    /// The value; `None` is a tombstone.
    pub value: Option<&'a [u8]>,
    /// The value's deadline (Unix ms), if it expires.
    pub expires: Option<u64>,
}

impl<'a> HeldRecord<'a> {
    /// The value as a reader at `now` sees it: `None` for a tombstone or an expired value (the
    /// rule of [`Record::is_expired`]).
    pub fn live_value(&self, now: u64) -> Option<&'a [u8]> {
        self.value.filter(|_| !is_past(self.expires, now))
    }

    /// The record, its value copied out.
    pub fn to_record(&self) -> Record {
        Record {
            version: self.version,
            value: self.value.map(Bytes::copy_from_slice),
            expires: self.expires,
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
    fn expired_values_are_invisible_but_still_records() {
        let r = Record::expiring(v(5, 1), Bytes::from_static(b"x"), Some(100));
        assert_eq!(r.live_value(99), Some(&Bytes::from_static(b"x")));
        assert_eq!(r.live_value(100), None, "the deadline itself is past");
        assert!(!r.is_tombstone());
        let older = Record::value(v(4, 1), Bytes::from_static(b"older"));
        assert!(
            r.wins_over(&older),
            "an expired record still beats older ones"
        );
        assert_eq!(r.clone().into_live_value(100), None);
        assert_eq!(r.into_live_value(0), Some(Bytes::from_static(b"x")));
    }

    #[test]
    fn tombstones_carry_no_deadline() {
        let t = Record::with_deadline(v(5, 1), None, Some(100));
        assert_eq!(t.expires, None);
        let kept = Record::with_deadline(v(5, 1), Some(Bytes::new()), Some(100));
        assert_eq!(kept.expires, Some(100));
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

//! A key's ring position, as a type that only a key can produce.
//!
//! The store files every record under SHA-1 of its key. Hashing is the dominant cost of a small
//! request, so the table hashes each key once (to route it) and hands the position on to the
//! ownership check and the store. A bare [`Id`] would let any id reach the store, where a record
//! filed under the wrong position is invisible to reads and scanned in the wrong range; a
//! [`KeyPosition`] can only be made by hashing a key.

use dendrite::Id;

/// The ring position of a key: SHA-1 of its bytes, computed once.
///
/// ```
/// use dtable::KeyPosition;
/// let position = KeyPosition::of(b"user:1");
/// assert_eq!(position.id(), dendrite::Id::of_key(b"user:1"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyPosition(Id);

impl KeyPosition {
    /// Hashes `key` to its position.
    pub fn of(key: &[u8]) -> KeyPosition {
        KeyPosition(Id::of_key(key))
    }

    /// The position as a ring id (for routing and range checks).
    pub fn id(&self) -> Id {
        self.0
    }
}

#[cfg(test)]
impl KeyPosition {
    /// A position at `id` with no key behind it: unit tests put keys at chosen points of the
    /// ring (a real caller must hash a key).
    pub(crate) fn at(id: Id) -> KeyPosition {
        KeyPosition(id)
    }
}

//! A key's ring position, as a type that only a key can produce.
//!
//! The store files every record under its key's position: the key's hash slot's arc, with the
//! low bits of SHA-1 of the key (`crate::slot`). Hashing is the dominant cost of a small
//! request, so the table hashes each key once (to route it) and hands the position on to the
//! ownership check and the store. A bare [`Id`] would let any id reach the store, where a record
//! filed under the wrong position is invisible to reads and scanned in the wrong range; a
//! [`KeyPosition`] can only be made by hashing a key.

use dendrite::Id;

use crate::slot::Slot;

/// The ring position of a key, computed once: inside the arc of its hash slot.
///
/// ```
/// use dtable::{KeyPosition, Slot};
/// let position = KeyPosition::of(b"user:1");
/// assert_eq!(Slot::of_id(&position.id()), Slot::of_key(b"user:1"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyPosition(Id);

impl KeyPosition {
    /// Hashes `key` to its position.
    pub fn of(key: &[u8]) -> KeyPosition {
        KeyPosition(Slot::of_key(key).key_position(key))
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

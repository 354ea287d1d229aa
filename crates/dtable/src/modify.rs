//! Read-modify-write operations that a key's primary applies as one step (Redis's INCR,
//! APPEND, SET NX/XX/GET, GETSET, GETDEL...): the pure rule of each, with no I/O.
//!
//! A client that reads, computes and writes back loses updates when two of them race. These
//! operations travel to the key's primary instead, which holds the key's write lock while it
//! reads its current value, computes the new one with [`Modify::apply`], stamps and stores it;
//! the result then replicates like any write (`Table::query().modify(...)`). Their errors are
//! Redis's, word for word, so a RESP front can pass them on.

use bytes::Bytes;

/// What to do to one key's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Modify {
    /// Add to the integer the value holds (an absent key counts as 0): INCR, INCRBY, DECR...
    IncrBy(i64),
    /// Append bytes (an absent key counts as empty): APPEND.
    Append(Bytes),
    /// Store `value` if `when` holds, and say what was there before when `get` (SET's NX, XX
    /// and GET options, SETNX, GETSET).
    Set {
        /// The new value.
        value: Bytes,
        /// When to store it.
        when: SetCondition,
        /// Return the old value.
        get: bool,
    },
    /// Delete the key and return what it held: GETDEL.
    GetDel,
    /// Overwrite the value from byte `offset` on with `value`, padding with zero bytes
    /// (SETRANGE); an empty `value` changes nothing.
    SetRange {
        /// Where `value` goes.
        offset: u64,
        /// The bytes written there.
        value: Bytes,
    },
    /// Set or clear bit `offset` (bit 0 is the high bit of byte 0), padding with zero bytes
    /// (SETBIT); answers the bit before.
    SetBit {
        /// Which bit.
        offset: u64,
        /// Its new value.
        bit: bool,
    },
}

/// When [`Modify::Set`] stores its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SetCondition {
    /// Always (plain SET).
    Always,
    /// Only if the key holds no value (NX).
    IfAbsent,
    /// Only if the key holds a value (XX).
    IfPresent,
}

/// What a [`Modify`] answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Modified {
    /// The integer after [`Modify::IncrBy`].
    Integer(i64),
    /// The length after [`Modify::Append`].
    Length(u64),
    /// [`Modify::Set`]: whether it stored its value, and the old value when asked for.
    Set {
        /// The condition held and the value was stored.
        stored: bool,
        /// The value before (only when `get` was asked).
        old: Option<Bytes>,
    },
    /// [`Modify::GetDel`]: the value before.
    Old(Option<Bytes>),
}

/// What a [`Modify`] does to the stored value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Nothing changes (e.g. SET NX on a present key): no write, nothing to replicate.
    Keep,
    /// The key now holds this value.
    Put(Bytes),
    /// The key is deleted (a tombstone).
    Delete,
}

/// Why a [`Modify`] was refused; nothing was stored. The texts are Redis's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ModifyError {
    /// The value is not a decimal integer Redis would accept (`SET k 007; INCR k`).
    #[error("value is not an integer or out of range")]
    NotAnInteger,
    /// The result would not fit in a signed 64-bit integer.
    #[error("increment or decrement would overflow")]
    Overflow,
    /// The result would be longer than the table's largest value.
    #[error("string exceeds maximum allowed size")]
    TooLarge,
}

impl Modify {
    /// Applies the operation to the key's current value (`None`: absent or deleted), for values
    /// of at most `max_len` bytes.
    ///
    /// ```
    /// use dtable::modify::{Change, Modified, Modify};
    /// let (change, answer) = Modify::IncrBy(5).apply(Some(b"10"), 1024).unwrap();
    /// assert_eq!(change, Change::Put("15".into()));
    /// assert_eq!(answer, Modified::Integer(15));
    /// ```
    pub fn apply(
        &self,
        current: Option<&[u8]>,
        max_len: usize,
    ) -> Result<(Change, Modified), ModifyError> {
        match self {
            Modify::IncrBy(delta) => {
                let now = match current {
                    None => 0,
                    Some(text) => parse_integer(text).ok_or(ModifyError::NotAnInteger)?,
                };
                let next = now.checked_add(*delta).ok_or(ModifyError::Overflow)?;
                Ok((
                    Change::Put(Bytes::from(next.to_string())),
                    Modified::Integer(next),
                ))
            }
            Modify::Append(tail) => {
                let head = current.unwrap_or_default();
                let len = head.len() + tail.len();
                if len > max_len {
                    return Err(ModifyError::TooLarge);
                }
                let mut joined = Vec::with_capacity(len);
                joined.extend_from_slice(head);
                joined.extend_from_slice(tail);
                Ok((
                    Change::Put(Bytes::from(joined)),
                    Modified::Length(len as u64),
                ))
            }
            Modify::Set { value, when, get } => {
                if value.len() > max_len {
                    return Err(ModifyError::TooLarge);
                }
                let store = match when {
                    SetCondition::Always => true,
                    SetCondition::IfAbsent => current.is_none(),
                    SetCondition::IfPresent => current.is_some(),
                };
                let old = get.then(|| current.map(Bytes::copy_from_slice)).flatten();
                let change = if store {
                    Change::Put(value.clone())
                } else {
                    Change::Keep
                };
                Ok((change, Modified::Set { stored: store, old }))
            }
            Modify::SetRange { offset, value } => {
                let len = current.map_or(0, <[u8]>::len);
                if value.is_empty() {
                    return Ok((Change::Keep, Modified::Length(len as u64)));
                }
                let start = usize::try_from(*offset).map_err(|_| ModifyError::TooLarge)?;
                let needed = start
                    .checked_add(value.len())
                    .ok_or(ModifyError::TooLarge)?;
                if needed > max_len {
                    return Err(ModifyError::TooLarge);
                }
                let mut joined = current.unwrap_or_default().to_vec();
                joined.resize(len.max(needed), 0);
                joined[start..needed].copy_from_slice(value);
                let len = joined.len() as u64;
                Ok((Change::Put(Bytes::from(joined)), Modified::Length(len)))
            }
            Modify::SetBit { offset, bit } => {
                let byte = usize::try_from(offset / 8).map_err(|_| ModifyError::TooLarge)?;
                if byte >= max_len {
                    return Err(ModifyError::TooLarge);
                }
                let mask = 0x80u8 >> (offset % 8);
                let mut bytes = current.unwrap_or_default().to_vec();
                if bytes.len() <= byte {
                    bytes.resize(byte + 1, 0);
                }
                let was = bytes[byte] & mask != 0;
                if *bit {
                    bytes[byte] |= mask;
                } else {
                    bytes[byte] &= !mask;
                }
                Ok((
                    Change::Put(Bytes::from(bytes)),
                    Modified::Integer(i64::from(was)),
                ))
            }
            Modify::GetDel => match current {
                None => Ok((Change::Keep, Modified::Old(None))),
                Some(old) => Ok((
                    Change::Delete,
                    Modified::Old(Some(Bytes::copy_from_slice(old))),
                )),
            },
        }
    }
}

/// A decimal integer as Redis's `string2ll` accepts it: an optional `-`, then digits without
/// leading zeros ("0" alone is fine, "-0", "+1", " 1" and "01" are not), within `i64`.
pub fn parse_integer(text: &[u8]) -> Option<i64> {
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    let first = *digits.first()?;
    if digits.len() > 20 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if first == b'0' && (digits.len() > 1 || digits.len() != text.len()) {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(text: &str) -> Change {
        Change::Put(Bytes::copy_from_slice(text.as_bytes()))
    }

    #[test]
    fn integers_are_parsed_as_redis_does() {
        for (text, want) in [
            ("0", Some(0)),
            ("7", Some(7)),
            ("-7", Some(-7)),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775808", None),
            ("-0", None),
            ("007", None),
            ("+1", None),
            (" 1", None),
            ("1 ", None),
            ("", None),
            ("-", None),
            ("1.5", None),
            ("abc", None),
        ] {
            assert_eq!(parse_integer(text.as_bytes()), want, "{text:?}");
        }
    }

    #[test]
    fn incrby_counts_from_zero_and_refuses_non_integers_and_overflow() {
        assert_eq!(
            Modify::IncrBy(1).apply(None, 10),
            Ok((put("1"), Modified::Integer(1)))
        );
        assert_eq!(
            Modify::IncrBy(-3).apply(Some(b"1"), 10),
            Ok((put("-2"), Modified::Integer(-2)))
        );
        assert_eq!(
            Modify::IncrBy(1).apply(Some(b"x"), 10),
            Err(ModifyError::NotAnInteger)
        );
        assert_eq!(
            Modify::IncrBy(1).apply(Some(b"9223372036854775807"), 10),
            Err(ModifyError::Overflow)
        );
        assert_eq!(
            Modify::IncrBy(i64::MIN).apply(Some(b"-1"), 10),
            Err(ModifyError::Overflow)
        );
    }

    #[test]
    fn append_joins_and_respects_the_size_limit() {
        assert_eq!(
            Modify::Append("lo".into()).apply(Some(b"hel"), 10),
            Ok((put("hello"), Modified::Length(5)))
        );
        assert_eq!(
            Modify::Append("ab".into()).apply(None, 10),
            Ok((put("ab"), Modified::Length(2)))
        );
        assert_eq!(
            Modify::Append("abc".into()).apply(Some(b"12345678"), 10),
            Err(ModifyError::TooLarge)
        );
    }

    #[test]
    fn set_conditions_and_get() {
        let set = |when, get| Modify::Set {
            value: "new".into(),
            when,
            get,
        };
        assert_eq!(
            set(SetCondition::IfAbsent, false).apply(Some(b"old"), 10),
            Ok((
                Change::Keep,
                Modified::Set {
                    stored: false,
                    old: None
                }
            ))
        );
        assert_eq!(
            set(SetCondition::IfAbsent, true).apply(None, 10),
            Ok((
                put("new"),
                Modified::Set {
                    stored: true,
                    old: None
                }
            ))
        );
        assert_eq!(
            set(SetCondition::IfPresent, true).apply(Some(b"old"), 10),
            Ok((
                put("new"),
                Modified::Set {
                    stored: true,
                    old: Some("old".into())
                }
            ))
        );
        assert_eq!(
            set(SetCondition::IfPresent, false).apply(None, 10),
            Ok((
                Change::Keep,
                Modified::Set {
                    stored: false,
                    old: None
                }
            ))
        );
        assert_eq!(
            set(SetCondition::Always, false).apply(None, 2),
            Err(ModifyError::TooLarge)
        );
    }

    #[test]
    fn setrange_pads_overwrites_and_keeps_on_empty() {
        let setrange = |offset, value: &str| Modify::SetRange {
            offset,
            value: Bytes::copy_from_slice(value.as_bytes()),
        };
        assert_eq!(
            setrange(6, "Redis").apply(Some(b"Hello World"), 100),
            Ok((put("Hello Redis"), Modified::Length(11)))
        );
        assert_eq!(
            setrange(2, "ab").apply(None, 100),
            Ok((
                Change::Put(Bytes::from_static(b"\0\0ab")),
                Modified::Length(4)
            ))
        );
        assert_eq!(
            setrange(9, "").apply(Some(b"xyz"), 100),
            Ok((Change::Keep, Modified::Length(3)))
        );
        assert_eq!(
            setrange(99, "ab").apply(None, 100),
            Err(ModifyError::TooLarge)
        );
    }

    #[test]
    fn setbit_answers_the_old_bit_and_grows_the_value() {
        assert_eq!(
            Modify::SetBit {
                offset: 7,
                bit: true
            }
            .apply(None, 10),
            Ok((
                Change::Put(Bytes::from_static(b"\x01")),
                Modified::Integer(0)
            ))
        );
        assert_eq!(
            Modify::SetBit {
                offset: 1,
                bit: false
            }
            .apply(Some(b"\x40"), 10),
            Ok((Change::Put(Bytes::from_static(b"\0")), Modified::Integer(1)))
        );
        assert_eq!(
            Modify::SetBit {
                offset: 17,
                bit: false
            }
            .apply(None, 10),
            Ok((
                Change::Put(Bytes::from_static(b"\0\0\0")),
                Modified::Integer(0)
            ))
        );
        assert_eq!(
            Modify::SetBit {
                offset: 80,
                bit: true
            }
            .apply(None, 10),
            Err(ModifyError::TooLarge)
        );
    }

    #[test]
    fn getdel_deletes_what_is_there() {
        assert_eq!(
            Modify::GetDel.apply(Some(b"v"), 10),
            Ok((Change::Delete, Modified::Old(Some("v".into()))))
        );
        assert_eq!(
            Modify::GetDel.apply(None, 10),
            Ok((Change::Keep, Modified::Old(None)))
        );
    }
}

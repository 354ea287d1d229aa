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
    /// Add this decimal (or hexadecimal) float to the float the value holds, exactly as Redis
    /// computes it in `long double` (see `long_double`): INCRBYFLOAT. The deadline is kept.
    IncrByFloat(Bytes),
    /// Append bytes (an absent key counts as empty): APPEND.
    Append(Bytes),
    /// Store `value` if `when` holds, and say what was there before when `get` (SET's NX, XX,
    /// GET, EX/PX/EXAT/PXAT and KEEPTTL options, SETNX, GETSET, SETEX, PSETEX).
    Set {
        /// The new value.
        value: Bytes,
        /// When to store it.
        when: SetCondition,
        /// Return the old value.
        get: bool,
        /// The stored value's deadline: [`Expiry::Clear`] for a plain SET (Redis drops the
        /// old one), [`Expiry::Keep`] for KEEPTTL, [`Expiry::At`] for EX, PX, EXAT and PXAT.
        expiry: Expiry,
    },
    /// Set the key's deadline if `when` holds (EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT); a
    /// deadline already past deletes the key. Answers 1 if it changed the key, else 0.
    Expire {
        /// The new deadline, Unix milliseconds.
        at: u64,
        /// The condition on the current deadline (NX, XX, GT, LT).
        when: ExpireCondition,
    },
    /// Drop the key's deadline (PERSIST): answers 1 if it had one, else 0.
    Persist,
    /// Answer the value and change its deadline (GETEX): [`Expiry::Keep`] changes nothing,
    /// [`Expiry::Clear`] is PERSIST, [`Expiry::At`] a new deadline (a past one deletes).
    GetEx(Expiry),
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

/// What [`Modify::Set`] and [`Modify::GetEx`] do to the key's deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Expiry {
    /// Keep the deadline the key had (SET's KEEPTTL, GETEX without options).
    Keep,
    /// No deadline: the value lives until deleted (a plain SET, GETEX PERSIST).
    Clear,
    /// Expire at this absolute time, Unix milliseconds.
    At(u64),
}

/// When [`Modify::Expire`] sets the new deadline: Redis's EXPIRE options. A key without a
/// deadline counts as expiring never (so GT never holds for it, and LT always does).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExpireCondition {
    /// Always.
    Always,
    /// Only if the key has no deadline (NX).
    IfNone,
    /// Only if it has one (XX).
    IfSome,
    /// Only if the new deadline is later than the current one (GT).
    IfLater,
    /// Only if the new deadline is earlier than the current one (LT).
    IfEarlier,
    /// Only if the key has a deadline and the new one is earlier (XX and LT together).
    IfSomeAndEarlier,
}

impl ExpireCondition {
    fn holds(self, current: Option<u64>, new: u64) -> bool {
        match (self, current) {
            (ExpireCondition::Always, _) => true,
            (ExpireCondition::IfNone, current) => current.is_none(),
            (ExpireCondition::IfSome, current) => current.is_some(),
            (ExpireCondition::IfLater, Some(current)) => new > current,
            (ExpireCondition::IfLater, None) => false,
            (ExpireCondition::IfEarlier, Some(current)) => new < current,
            (ExpireCondition::IfEarlier, None) => true,
            (ExpireCondition::IfSomeAndEarlier, current) => current.is_some_and(|c| new < c),
        }
    }
}

/// A key's value as a read-modify-write sees it: present and not expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Current<'a> {
    /// The value.
    pub value: &'a [u8],
    /// Its deadline (Unix ms), if it has one.
    pub expires: Option<u64>,
}

impl<'a> Current<'a> {
    /// What `record` holds for a reader at `now`: `None` for a tombstone or an expired value.
    pub fn of(record: crate::record::HeldRecord<'a>, now: u64) -> Option<Current<'a>> {
        Some(Current {
            value: record.live_value(now)?,
            expires: record.expires,
        })
    }

    /// A value without a deadline.
    pub fn lasting(value: &'a [u8]) -> Current<'a> {
        Current {
            value,
            expires: None,
        }
    }
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
    /// A value: the one before ([`Modify::GetDel`], [`Modify::GetEx`], SET's GET) or the new
    /// one ([`Modify::IncrByFloat`]).
    Old(Option<Bytes>),
}

/// What a [`Modify`] does to the stored value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Nothing changes (e.g. SET NX on a present key): no write, nothing to replicate.
    Keep,
    /// The key now holds this value, until this deadline (Unix ms; `None`: for ever).
    Put {
        /// The new value.
        value: Bytes,
        /// Its deadline.
        expires: Option<u64>,
    },
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
    /// RENAME of a key that holds nothing.
    #[error("no such key")]
    NoSuchKey,
    /// INCRBYFLOAT of a value or by an increment that is not a float `strtold` reads whole.
    #[error("value is not a valid float")]
    NotAFloat,
    /// INCRBYFLOAT whose result (or increment) is infinite.
    #[error("increment would produce NaN or Infinity")]
    NotFinite,
    /// A multi-key operation got a number of keys it cannot work on (a caller's bug, or a
    /// malformed request).
    #[error("wrong number of keys for the operation")]
    WrongKeys,
}

impl Modify {
    /// Applies the operation to the key's `current` value (`None`: absent, deleted or expired)
    /// at time `now` (Unix ms, for deadlines already past), for values of at most `max_len`
    /// bytes. Operations that rewrite a value keep its deadline, as Redis's do (INCR, APPEND,
    /// SETRANGE, SETBIT); SET replaces it.
    ///
    /// ```
    /// use dtable::modify::{Change, Current, Modified, Modify};
    /// let ten = Some(Current::lasting(b"10"));
    /// let (change, answer) = Modify::IncrBy(5).apply(ten, 0, 1024).unwrap();
    /// assert_eq!(change, Change::Put { value: "15".into(), expires: None });
    /// assert_eq!(answer, Modified::Integer(15));
    /// ```
    pub fn apply(
        &self,
        current: Option<Current<'_>>,
        now: u64,
        max_len: usize,
    ) -> Result<(Change, Modified), ModifyError> {
        let value = current.map(|c| c.value);
        // A rewrite of the value keeps the key's deadline.
        let rewrite = |value: Vec<u8>| Change::Put {
            value: Bytes::from(value),
            expires: current.and_then(|c| c.expires),
        };
        match self {
            Modify::IncrBy(delta) => {
                let before = match value {
                    None => 0,
                    Some(text) => parse_integer(text).ok_or(ModifyError::NotAnInteger)?,
                };
                let next = before.checked_add(*delta).ok_or(ModifyError::Overflow)?;
                Ok((
                    rewrite(next.to_string().into_bytes()),
                    Modified::Integer(next),
                ))
            }
            Modify::IncrByFloat(increment) => {
                let sum = long_double::incr_by_float(value.unwrap_or(b"0"), increment)?;
                Ok((
                    rewrite(sum.clone().into_bytes()),
                    Modified::Old(Some(sum.into())),
                ))
            }
            Modify::Append(tail) => {
                let head = value.unwrap_or_default();
                let len = head.len() + tail.len();
                if len > max_len {
                    return Err(ModifyError::TooLarge);
                }
                let mut joined = Vec::with_capacity(len);
                joined.extend_from_slice(head);
                joined.extend_from_slice(tail);
                Ok((rewrite(joined), Modified::Length(len as u64)))
            }
            Modify::Set {
                value: new,
                when,
                get,
                expiry,
            } => {
                if new.len() > max_len {
                    return Err(ModifyError::TooLarge);
                }
                let store = match when {
                    SetCondition::Always => true,
                    SetCondition::IfAbsent => value.is_none(),
                    SetCondition::IfPresent => value.is_some(),
                };
                let old = get.then(|| value.map(Bytes::copy_from_slice)).flatten();
                let change = if !store {
                    Change::Keep
                } else {
                    match expiry {
                        Expiry::At(at) if *at <= now => Change::Delete,
                        Expiry::At(at) => Change::Put {
                            value: new.clone(),
                            expires: Some(*at),
                        },
                        Expiry::Clear => Change::Put {
                            value: new.clone(),
                            expires: None,
                        },
                        Expiry::Keep => Change::Put {
                            value: new.clone(),
                            expires: current.and_then(|c| c.expires),
                        },
                    }
                };
                Ok((change, Modified::Set { stored: store, old }))
            }
            Modify::SetRange {
                offset,
                value: part,
            } => {
                let len = value.map_or(0, <[u8]>::len);
                if part.is_empty() {
                    return Ok((Change::Keep, Modified::Length(len as u64)));
                }
                let start = usize::try_from(*offset).map_err(|_| ModifyError::TooLarge)?;
                let needed = start.checked_add(part.len()).ok_or(ModifyError::TooLarge)?;
                if needed > max_len {
                    return Err(ModifyError::TooLarge);
                }
                let mut joined = value.unwrap_or_default().to_vec();
                joined.resize(len.max(needed), 0);
                joined[start..needed].copy_from_slice(part);
                let len = joined.len() as u64;
                Ok((rewrite(joined), Modified::Length(len)))
            }
            Modify::SetBit { offset, bit } => {
                let byte = usize::try_from(offset / 8).map_err(|_| ModifyError::TooLarge)?;
                if byte >= max_len {
                    return Err(ModifyError::TooLarge);
                }
                let mask = 0x80u8 >> (offset % 8);
                let mut bytes = value.unwrap_or_default().to_vec();
                if bytes.len() <= byte {
                    bytes.resize(byte + 1, 0);
                }
                let was = bytes[byte] & mask != 0;
                if *bit {
                    bytes[byte] |= mask;
                } else {
                    bytes[byte] &= !mask;
                }
                Ok((rewrite(bytes), Modified::Integer(i64::from(was))))
            }
            Modify::GetDel => match value {
                None => Ok((Change::Keep, Modified::Old(None))),
                Some(old) => Ok((
                    Change::Delete,
                    Modified::Old(Some(Bytes::copy_from_slice(old))),
                )),
            },
            Modify::Expire { at, when } => {
                let Some(current) = current else {
                    return Ok((Change::Keep, Modified::Integer(0)));
                };
                if !when.holds(current.expires, *at) {
                    return Ok((Change::Keep, Modified::Integer(0)));
                }
                let change = if *at <= now {
                    Change::Delete
                } else {
                    Change::Put {
                        value: Bytes::copy_from_slice(current.value),
                        expires: Some(*at),
                    }
                };
                Ok((change, Modified::Integer(1)))
            }
            Modify::Persist => match current {
                Some(Current {
                    value,
                    expires: Some(_),
                }) => Ok((
                    Change::Put {
                        value: Bytes::copy_from_slice(value),
                        expires: None,
                    },
                    Modified::Integer(1),
                )),
                _ => Ok((Change::Keep, Modified::Integer(0))),
            },
            Modify::GetEx(expiry) => {
                let Some(current) = current else {
                    return Ok((Change::Keep, Modified::Old(None)));
                };
                let old = Bytes::copy_from_slice(current.value);
                let change = match expiry {
                    Expiry::Keep => Change::Keep,
                    Expiry::Clear if current.expires.is_none() => Change::Keep,
                    Expiry::Clear => Change::Put {
                        value: old.clone(),
                        expires: None,
                    },
                    Expiry::At(at) if *at <= now => Change::Delete,
                    Expiry::At(at) => Change::Put {
                        value: old.clone(),
                        expires: Some(*at),
                    },
                };
                Ok((change, Modified::Old(Some(old))))
            }
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

mod long_double;
mod many;
pub use many::{BitOperation, ModifyMany};

#[cfg(test)]
mod tests;

//! The string commands that read and write a key in one step — INCR, DECR, INCRBY, DECRBY,
//! APPEND, SETNX, GETSET, GETDEL, `SET` with options, and the expiry commands of
//! [`expiry`](super::expiry) — and STRLEN: parsed into a table
//! [`Modify`] (applied atomically at the key's primary, see dtable's `modify` module) and an
//! [`Answer`] saying how Redis words the result.

use bytes::Bytes;
use dtable::modify::parse_integer;
use dtable::{Expiry, Modified, Modify, SetCondition};

use super::Reply;

/// How the [`Modified`] outcome of a command is put to the client, as Redis does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The integer (INCR family) or the new length (APPEND).
    Integer,
    /// `:1` if stored, `:0` if not (SETNX).
    StoredFlag,
    /// `+OK` if stored, nil if not (SET NX/XX without GET).
    OkOrNil,
    /// The old value or nil (SET ... GET, GETSET, GETDEL).
    OldValue,
    /// `+OK` whatever the outcome (RENAME: its failures are errors).
    Ok,
}

impl Answer {
    /// The reply for `outcome`.
    pub fn reply(self, outcome: Modified) -> Reply {
        let old = |value: Option<Bytes>| value.map_or(Reply::Nil, Reply::Bulk);
        match (self, outcome) {
            (Answer::Ok, _) => Reply::ok(),
            (_, Modified::Integer(n)) => Reply::Integer(n),
            (_, Modified::Length(n)) => Reply::Integer(i64::try_from(n).unwrap_or(i64::MAX)),
            (Answer::StoredFlag, Modified::Set { stored, .. }) => Reply::Integer(i64::from(stored)),
            (Answer::OkOrNil, Modified::Set { stored: true, .. }) => Reply::ok(),
            (Answer::OkOrNil, Modified::Set { stored: false, .. }) => Reply::Nil,
            (_, Modified::Set { old: value, .. }) | (_, Modified::Old(value)) => old(value),
        }
    }
}

/// The commands [`parse`] serves.
const SERVED: &[&str] = &[
    "incr",
    "decr",
    "incrby",
    "decrby",
    "append",
    "setnx",
    "getset",
    "getdel",
    "set",
    "setrange",
    "setbit",
    "incrbyfloat",
    "setex",
    "psetex",
    "getex",
    "expire",
    "pexpire",
    "expireat",
    "pexpireat",
    "persist",
];

/// Does [`parse`] serve the command `name` (lowercase)?
pub fn serves(name: &str) -> bool {
    SERVED.contains(&name)
}

/// Parses a read-modify-write command whose name and arity were checked: `args[0]` is the
/// name, `args[1]` the key; relative times count from `now` (Unix ms). `None` for a name this
/// module does not serve; `Some(Err)` is the Redis error to answer.
pub fn parse(
    name: &str,
    mut args: Vec<Bytes>,
    now: u64,
) -> Option<Result<(Bytes, Modify, Answer), Reply>> {
    if args.len() < 2 {
        return None;
    }
    if let Some(parsed) = super::expiry::parse(name, &args, now) {
        return Some(parsed);
    }
    let operands = args.split_off(2);
    let key = args.pop().unwrap_or_default();
    let first = || operands.first().cloned().unwrap_or_default();
    let parsed = match name {
        "incr" => Ok((Modify::IncrBy(1), Answer::Integer)),
        "decr" => Ok((Modify::IncrBy(-1), Answer::Integer)),
        "incrby" => integer(&first()).map(|n| (Modify::IncrBy(n), Answer::Integer)),
        "decrby" => integer(&first()).and_then(|n| match n.checked_neg() {
            Some(delta) => Ok((Modify::IncrBy(delta), Answer::Integer)),
            None => Err(Reply::err("decrement would overflow")),
        }),
        "append" => Ok((Modify::Append(first()), Answer::Integer)),
        "incrbyfloat" => Ok((Modify::IncrByFloat(first()), Answer::OldValue)),
        "setnx" => Ok((
            set(first(), SetCondition::IfAbsent, false),
            Answer::StoredFlag,
        )),
        "getset" => Ok((set(first(), SetCondition::Always, true), Answer::OldValue)),
        "getdel" => Ok((Modify::GetDel, Answer::OldValue)),
        "set" => super::expiry::set(first(), operands.get(1..).unwrap_or_default(), now),
        "setrange" => match parse_integer(&first()) {
            Some(offset) if offset >= 0 => Ok((
                Modify::SetRange {
                    offset: offset.unsigned_abs(),
                    value: operands.get(1).cloned().unwrap_or_default(),
                },
                Answer::Integer,
            )),
            Some(_) => Err(Reply::err("offset is out of range")),
            None => Err(Reply::err("value is not an integer or out of range")),
        },
        "setbit" => bit_offset(&first()).and_then(|offset| {
            let bit = match operands.get(1).map(|b| b.as_ref()) {
                Some(b"0") => false,
                Some(b"1") => true,
                _ => return Err(Reply::err("bit is not an integer or out of range")),
            };
            Ok((Modify::SetBit { offset, bit }, Answer::Integer))
        }),
        _ => return None,
    };
    Some(parsed.map(|(op, answer)| (key, op, answer)))
}

fn set(value: Bytes, when: SetCondition, get: bool) -> Modify {
    Modify::Set {
        value,
        when,
        get,
        expiry: Expiry::Clear,
    }
}

fn integer(text: &[u8]) -> Result<i64, Reply> {
    parse_integer(text).ok_or_else(|| Reply::err("value is not an integer or out of range"))
}

/// A bit offset as Redis accepts it: a non-negative integer below 2^32 (Redis's 512 MB limit in
/// bits; a table refuses values past its own limit when the bit is set).
pub fn bit_offset(text: &[u8]) -> Result<u64, Reply> {
    match parse_integer(text) {
        Some(offset) if (0..1 << 32).contains(&offset) => Ok(offset.unsigned_abs()),
        _ => Err(Reply::err("bit offset is not an integer or out of range")),
    }
}

/// `GETRANGE`/`SUBSTR`: the bytes from `start` to `end` inclusive, negative counting from the
/// end, clamped as Redis clamps them (an absent key is the empty string).
pub fn range_of(value: &[u8], start: i64, end: i64) -> Bytes {
    match clamp(value.len(), start, end) {
        Some((first, last)) => Bytes::copy_from_slice(&value[first..=last]),
        None => Bytes::new(),
    }
}

/// Redis's index rules for GETRANGE and BITCOUNT over `len` units: `None` when empty.
fn clamp(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    if (start < 0 && end < 0 && start > end) || len == 0 {
        return None;
    }
    let from_end = |index: i64| {
        if index < 0 {
            (len + index).max(0)
        } else {
            index
        }
    };
    let (start, end) = (from_end(start), from_end(end).min(len - 1));
    (start <= end).then_some((start as usize, end as usize))
}

/// `GETBIT`: the bit at `offset` (0 past the end).
pub fn bit_of(value: &[u8], offset: u64) -> i64 {
    let byte = usize::try_from(offset / 8).unwrap_or(usize::MAX);
    value
        .get(byte)
        .map_or(0, |b| i64::from(b & (0x80 >> (offset % 8)) != 0))
}

/// `BITPOS key bit [start [end [BYTE|BIT]]]` over an existing `value` (a missing key answers
/// before the range is even read: see the command). `range` is `(start, end if given, bits)`.
/// Without an explicit end, a search for a 0 that finds none answers the first bit past the
/// value (Redis treats the right as zero-padded); with one, -1.
pub fn first_bit(value: &[u8], bit: bool, range: Option<(i64, Option<i64>, bool)>) -> i64 {
    let (start, end, bits) = range.unwrap_or((0, None, false));
    let units = if bits { value.len() * 8 } else { value.len() };
    let Some((first, last)) = clamp(units, start, end.unwrap_or(-1)) else {
        return -1;
    };
    let (first_bit, last_bit) = if bits {
        (first, last)
    } else {
        (first * 8, last * 8 + 7)
    };
    let wanted = i64::from(bit);
    if let Some(found) = (first_bit..=last_bit).find(|&b| bit_of(value, b as u64) == wanted) {
        return i64::try_from(found).unwrap_or(i64::MAX);
    }
    if !bit && end.is_none() {
        return i64::try_from(last_bit + 1).unwrap_or(i64::MAX);
    }
    -1
}

/// `BITCOUNT key [start end [BYTE|BIT]]` over `value`: the set bits of the range.
pub fn count_bits(value: &[u8], range: Option<(i64, i64, bool)>) -> i64 {
    let ones = |bytes: &[u8]| {
        bytes
            .iter()
            .map(|b| i64::from(b.count_ones() as u8))
            .sum::<i64>()
    };
    match range {
        None => ones(value),
        Some((start, end, false)) => {
            clamp(value.len(), start, end).map_or(0, |(first, last)| ones(&value[first..=last]))
        }
        Some((start, end, true)) => clamp(value.len() * 8, start, end)
            .map_or(0, |(first, last)| {
                (first..=last).map(|bit| bit_of(value, bit as u64)).sum()
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    fn parsed(words: &[&str]) -> Result<(Bytes, Modify, Answer), Reply> {
        parse(words[0], args(words), 0).unwrap()
    }

    #[test]
    fn parses_the_counter_family() {
        assert_eq!(
            parsed(&["decrby", "k", "5"]),
            Ok(("k".into(), Modify::IncrBy(-5), Answer::Integer))
        );
        assert_eq!(
            parsed(&["incrby", "k", "x"]).unwrap_err(),
            Reply::err("value is not an integer or out of range")
        );
        assert_eq!(
            parsed(&["decrby", "k", "-9223372036854775808"]).unwrap_err(),
            Reply::err("decrement would overflow")
        );
        assert!(parse("get", args(&["get", "k"]), 0).is_none());
    }

    #[test]
    fn parses_set_options_as_redis_does() {
        assert_eq!(
            parsed(&["set", "k", "v", "nx", "GET"]),
            Ok((
                "k".into(),
                set("v".into(), SetCondition::IfAbsent, true),
                Answer::OldValue
            ))
        );
        assert_eq!(
            parsed(&["set", "k", "v", "xx"]).map(|(_, _, a)| a),
            Ok(Answer::OkOrNil)
        );
        assert_eq!(
            parsed(&["set", "k", "v", "nx", "xx"]).unwrap_err(),
            Reply::err("syntax error")
        );
        assert_eq!(
            parsed(&["set", "k", "v", "bogus"]).unwrap_err(),
            Reply::err("syntax error")
        );
        assert_eq!(
            parsed(&["set", "k", "v", "ex", "10"]).map(|(_, op, _)| op),
            Ok(Modify::Set {
                value: "v".into(),
                when: SetCondition::Always,
                get: false,
                expiry: Expiry::At(10_000),
            })
        );
    }

    #[test]
    fn ranges_and_bits_follow_redis_index_rules() {
        assert_eq!(range_of(b"This is a string", 0, 3), Bytes::from("This"));
        assert_eq!(range_of(b"This is a string", -3, -1), Bytes::from("ing"));
        assert_eq!(
            range_of(b"This is a string", 10, 100),
            Bytes::from("string")
        );
        assert_eq!(range_of(b"abc", 2, 1), Bytes::new());
        assert_eq!(range_of(b"abc", -1, -3), Bytes::new());
        assert_eq!(range_of(b"", 0, -1), Bytes::new());
        assert_eq!(count_bits(b"foobar", None), 26);
        assert_eq!(count_bits(b"foobar", Some((1, 1, false))), 6);
        assert_eq!(count_bits(b"foobar", Some((-2, -1, false))), 7);
        assert_eq!(count_bits(b"foobar", Some((5, 30, true))), 17);
        assert_eq!(bit_of(b"\x40", 1), 1);
        assert_eq!(bit_of(b"\x40", 100), 0);
        assert!(bit_offset(b"4294967295").is_ok());
        assert_eq!(first_bit(b"\xff\xf0\x00", false, None), 12);
        assert_eq!(first_bit(b"\x00\xff\xf0", true, Some((0, None, false))), 8);
        assert_eq!(
            first_bit(b"\x00\xff\xf0", true, Some((2, Some(-1), false))),
            16
        );
        assert_eq!(first_bit(b"\x00\x00\x00", true, None), -1);
        assert_eq!(first_bit(b"\xff\xff", false, None), 16);
        assert_eq!(
            first_bit(b"\xff\xff", false, Some((0, Some(-1), false))),
            -1
        );
        assert_eq!(first_bit(b"\x00\xff", true, Some((7, Some(15), true))), 8);
        assert!(bit_offset(b"4294967296").is_err());
    }

    #[test]
    fn answers_are_worded_as_redis_words_them() {
        let stored = |stored, old: Option<&str>| Modified::Set {
            stored,
            old: old.map(|o| Bytes::copy_from_slice(o.as_bytes())),
        };
        assert_eq!(
            Answer::StoredFlag.reply(stored(false, None)),
            Reply::Integer(0)
        );
        assert_eq!(Answer::OkOrNil.reply(stored(true, None)), Reply::ok());
        assert_eq!(Answer::OkOrNil.reply(stored(false, None)), Reply::Nil);
        assert_eq!(
            Answer::OldValue.reply(stored(true, Some("was"))),
            Reply::Bulk("was".into())
        );
        assert_eq!(
            Answer::Integer.reply(Modified::Length(5)),
            Reply::Integer(5)
        );
    }
}

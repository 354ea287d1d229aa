//! The expiry commands and options, parsed as Redis 7 parses them: `SET`'s EX, PX, EXAT, PXAT
//! and KEEPTTL, SETEX, PSETEX, GETEX, the EXPIRE family with NX, XX, GT and LT, PERSIST, and the
//! replies of TTL, PTTL, EXPIRETIME and PEXPIRETIME.
//!
//! Relative times become absolute deadlines here, by this node's clock, when the command
//! arrives (Redis does the same when the command runs); the key's primary then compares the
//! deadline with its own clock (docs/design.md, "Expiry", bounds the error this allows).

use bytes::Bytes;
use dtable::{ExpireCondition, Expiry, Modify, SetCondition};

use super::commands::{eq_ignore_case, syntax_error};
use super::strings::Answer;
use super::Reply;

/// A parsed read-modify-write: the key, the operation and how its outcome is worded.
pub type Parsed = (Bytes, Modify, Answer);

/// How a time argument counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    /// Seconds from now (EX, SETEX, EXPIRE).
    Seconds,
    /// Milliseconds from now (PX, PSETEX, PEXPIRE).
    Millis,
    /// A Unix time in seconds (EXAT, EXPIREAT).
    AtSeconds,
    /// A Unix time in milliseconds (PXAT, PEXPIREAT).
    AtMillis,
}

impl Unit {
    fn of_option(option: &[u8]) -> Option<Unit> {
        [
            ("ex", Unit::Seconds),
            ("px", Unit::Millis),
            ("exat", Unit::AtSeconds),
            ("pxat", Unit::AtMillis),
        ]
        .into_iter()
        .find(|(name, _)| eq_ignore_case(option, name))
        .map(|(_, unit)| unit)
    }

    /// `amount` in this unit as Unix milliseconds at `now`; `None` on overflow.
    fn deadline(self, amount: i64, now: u64) -> Option<i64> {
        let millis = match self {
            Unit::Seconds | Unit::AtSeconds => amount.checked_mul(1000)?,
            Unit::Millis | Unit::AtMillis => amount,
        };
        match self {
            Unit::Seconds | Unit::Millis => millis.checked_add(i64::try_from(now).ok()?),
            Unit::AtSeconds | Unit::AtMillis => Some(millis),
        }
    }
}

/// Redis's error for a time that is not positive or overflows, naming the command.
fn invalid_time(command: &str) -> Reply {
    Reply::err(format!("invalid expire time in '{command}' command"))
}

fn not_an_integer() -> Reply {
    Reply::err("value is not an integer or out of range")
}

/// A time option's deadline as SET, SETEX and GETEX take it: a positive integer that does
/// not overflow once made absolute.
fn positive_deadline(command: &str, text: &[u8], unit: Unit, now: u64) -> Result<u64, Reply> {
    let amount = dtable::modify::parse_integer(text).ok_or_else(not_an_integer)?;
    if amount <= 0 {
        return Err(invalid_time(command));
    }
    unit.deadline(amount, now)
        .filter(|at| *at > 0)
        .and_then(|at| u64::try_from(at).ok())
        .ok_or_else(|| invalid_time(command))
}

/// A time option (EX|PX|EXAT|PXAT) with its argument.
type TimeOption<'a> = Option<(Unit, &'a Bytes)>;

/// Walks the options of SET or GETEX as Redis does: the time options (one unit, repeatable, the
/// last wins) and `keep_word` (KEEPTTL, PERSIST), which excludes them; every other option goes
/// to `other`, which says whether it takes it. Returns the time option and whether `keep_word`
/// came; anything else is a syntax error.
fn walk_options<'a>(
    options: &'a [Bytes],
    keep_word: &str,
    mut other: impl FnMut(&Bytes) -> bool,
) -> Result<(TimeOption<'a>, bool), Reply> {
    let mut keep = false;
    let mut time: TimeOption<'a> = None;
    let mut at = 0;
    while at < options.len() {
        let option = &options[at];
        if eq_ignore_case(option, keep_word) && time.is_none() {
            keep = true;
        } else if let (Some(unit), Some(amount)) = (Unit::of_option(option), options.get(at + 1)) {
            // Repeating the same unit is allowed (the last wins); mixing them is not.
            if keep || time.is_some_and(|(held, _)| held != unit) {
                return Err(syntax_error());
            }
            time = Some((unit, amount));
            at += 1;
        } else if !other(option) {
            return Err(syntax_error());
        }
        at += 1;
    }
    Ok((time, keep))
}

/// The options after `SET key value`: NX|XX, GET, and one of EX|PX|EXAT|PXAT|KEEPTTL.
pub fn set(value: Bytes, options: &[Bytes], now: u64) -> Result<(Modify, Answer), Reply> {
    let mut when = SetCondition::Always;
    let mut get = false;
    let (time, keep) = walk_options(options, "keepttl", |option| {
        if eq_ignore_case(option, "nx") && when != SetCondition::IfPresent {
            when = SetCondition::IfAbsent;
        } else if eq_ignore_case(option, "xx") && when != SetCondition::IfAbsent {
            when = SetCondition::IfPresent;
        } else if eq_ignore_case(option, "get") {
            get = true;
        } else {
            return false;
        }
        true
    })?;
    let expiry = match time {
        Some((unit, amount)) => Expiry::At(positive_deadline("set", amount, unit, now)?),
        None if keep => Expiry::Keep,
        None => Expiry::Clear,
    };
    let answer = if get {
        Answer::OldValue
    } else {
        Answer::OkOrNil
    };
    Ok((
        Modify::Set {
            value,
            when,
            get,
            expiry,
        },
        answer,
    ))
}

/// `SETEX key seconds value` and `PSETEX key milliseconds value` (`operands` after the key).
pub fn setex(command: &str, operands: &[Bytes], now: u64) -> Result<(Modify, Answer), Reply> {
    let unit = if command == "psetex" {
        Unit::Millis
    } else {
        Unit::Seconds
    };
    let amount = operands.first().cloned().unwrap_or_default();
    let at = positive_deadline(command, &amount, unit, now)?;
    let value = operands.get(1).cloned().unwrap_or_default();
    Ok((
        Modify::Set {
            value,
            when: SetCondition::Always,
            get: false,
            expiry: Expiry::At(at),
        },
        Answer::OkOrNil,
    ))
}

/// `GETEX key [EX seconds|PX ms|EXAT time|PXAT ms-time|PERSIST]`.
pub fn getex(options: &[Bytes], now: u64) -> Result<(Modify, Answer), Reply> {
    let (time, persist) = walk_options(options, "persist", |_| false)?;
    let expiry = match time {
        Some((unit, amount)) => Expiry::At(positive_deadline("getex", amount, unit, now)?),
        None if persist => Expiry::Clear,
        None => Expiry::Keep,
    };
    Ok((Modify::GetEx(expiry), Answer::OldValue))
}

/// `EXPIRE`, `PEXPIRE`, `EXPIREAT`, `PEXPIREAT key time [NX|XX|GT|LT]`: the options are
/// checked before the time, as Redis does; a time in the past is allowed (it deletes the key).
pub fn expire(command: &str, operands: &[Bytes], now: u64) -> Result<(Modify, Answer), Reply> {
    let unit = match command {
        "expire" => Unit::Seconds,
        "pexpire" => Unit::Millis,
        "expireat" => Unit::AtSeconds,
        _ => Unit::AtMillis,
    };
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for option in operands.iter().skip(1) {
        if eq_ignore_case(option, "nx") {
            nx = true;
        } else if eq_ignore_case(option, "xx") {
            xx = true;
        } else if eq_ignore_case(option, "gt") {
            gt = true;
        } else if eq_ignore_case(option, "lt") {
            lt = true;
        } else {
            return Err(Reply::err(format!(
                "Unsupported option {}",
                String::from_utf8_lossy(option)
            )));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(Reply::err(
            "NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(Reply::err(
            "GT and LT options at the same time are not compatible",
        ));
    }
    let text = operands.first().cloned().unwrap_or_default();
    let amount = dtable::modify::parse_integer(&text).ok_or_else(not_an_integer)?;
    let deadline = unit
        .deadline(amount, now)
        .ok_or_else(|| invalid_time(command))?;
    let when = match (nx, xx, gt, lt) {
        (true, ..) => ExpireCondition::IfNone,
        (_, _, true, _) => ExpireCondition::IfLater,
        (_, true, _, true) => ExpireCondition::IfSomeAndEarlier,
        (_, _, _, true) => ExpireCondition::IfEarlier,
        (_, true, _, _) => ExpireCondition::IfSome,
        _ => ExpireCondition::Always,
    };
    // A deadline before 1970 is as past as the epoch.
    let at = u64::try_from(deadline).unwrap_or(0);
    Ok((Modify::Expire { at, when }, Answer::Integer))
}

/// What TTL, PTTL, EXPIRETIME and PEXPIRETIME answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadlineQuery {
    /// TTL: seconds left, rounded.
    Ttl,
    /// PTTL: milliseconds left.
    Pttl,
    /// EXPIRETIME: the deadline, Unix seconds (rounded, as TTL is).
    ExpireTime,
    /// PEXPIRETIME: the deadline, Unix milliseconds.
    PexpireTime,
}

impl DeadlineQuery {
    /// The query a command name asks, if it is one.
    pub fn of(command: &str) -> Option<DeadlineQuery> {
        match command {
            "ttl" => Some(DeadlineQuery::Ttl),
            "pttl" => Some(DeadlineQuery::Pttl),
            "expiretime" => Some(DeadlineQuery::ExpireTime),
            "pexpiretime" => Some(DeadlineQuery::PexpireTime),
            _ => None,
        }
    }

    /// Redis's answer: -2 for a missing key, -1 for a key without deadline, else the time.
    pub fn reply(self, found: Option<Option<u64>>, now: u64) -> Reply {
        let Some(expires) = found else {
            return Reply::Integer(-2);
        };
        let Some(at) = expires else {
            return Reply::Integer(-1);
        };
        let left = i64::try_from(at.saturating_sub(now)).unwrap_or(i64::MAX);
        let at = i64::try_from(at).unwrap_or(i64::MAX);
        Reply::Integer(match self {
            DeadlineQuery::Ttl => (left + 500) / 1000,
            DeadlineQuery::Pttl => left,
            DeadlineQuery::ExpireTime => at.saturating_add(500) / 1000,
            DeadlineQuery::PexpireTime => at,
        })
    }
}

/// Parses the expiry commands that change a key (`args[0]` the lowercase name, `args[1]` the
/// key; arity already checked). `None` for other commands.
pub fn parse(name: &str, args: &[Bytes], now: u64) -> Option<Result<Parsed, Reply>> {
    let operands = args.get(2..).unwrap_or_default();
    let parsed = match name {
        "setex" | "psetex" => setex(name, operands, now),
        "getex" => getex(operands, now),
        "expire" | "pexpire" | "expireat" | "pexpireat" => expire(name, operands, now),
        "persist" => Ok((Modify::Persist, Answer::Integer)),
        _ => return None,
    };
    // The key is taken only for a command of this module (every other read-modify-write
    // asks here first).
    let key = args.get(1).cloned().unwrap_or_default();
    Some(parsed.map(|(op, answer)| (key, op, answer)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000_000;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    fn parsed(words: &[&str]) -> Result<Parsed, Reply> {
        parse(words[0], &args(words), NOW).unwrap()
    }

    #[test]
    fn set_options_become_absolute_deadlines() {
        let at = |words: &[&str]| match set("v".into(), &args(words), NOW) {
            Ok((Modify::Set { expiry, .. }, _)) => Ok(expiry),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e),
        };
        assert_eq!(at(&["EX", "10"]), Ok(Expiry::At(NOW + 10_000)));
        assert_eq!(at(&["px", "5", "nx"]), Ok(Expiry::At(NOW + 5)));
        assert_eq!(
            at(&["EXAT", "1800000000"]),
            Ok(Expiry::At(1_800_000_000_000))
        );
        assert_eq!(at(&["PXAT", "42"]), Ok(Expiry::At(42)));
        assert_eq!(at(&["KEEPTTL"]), Ok(Expiry::Keep));
        assert_eq!(at(&["EX", "1", "EX", "2"]), Ok(Expiry::At(NOW + 2_000)));
        assert_eq!(at(&[]), Ok(Expiry::Clear));
        let syntax = Err(syntax_error());
        assert_eq!(at(&["EX", "1", "PX", "2"]), syntax);
        assert_eq!(at(&["KEEPTTL", "EX", "2"]), syntax);
        assert_eq!(at(&["EX", "2", "KEEPTTL"]), syntax);
        assert_eq!(at(&["EX"]), syntax);
        assert_eq!(at(&["PERSIST"]), syntax);
        let invalid = Err(invalid_time("set"));
        assert_eq!(at(&["EX", "0"]), invalid);
        assert_eq!(at(&["PX", "-5"]), invalid);
        assert_eq!(at(&["EX", "9223372036854775"]), invalid);
        assert_eq!(at(&["EX", "x"]), Err(not_an_integer()));
    }

    #[test]
    fn the_expire_family_checks_options_first_and_allows_the_past() {
        assert_eq!(
            parsed(&["expire", "k", "10", "GT", "xx"]).map(|p| p.1),
            Ok(Modify::Expire {
                at: NOW + 10_000,
                when: ExpireCondition::IfLater
            })
        );
        assert_eq!(
            parsed(&["pexpireat", "k", "-5", "XX", "LT"]).map(|p| p.1),
            Ok(Modify::Expire {
                at: 0,
                when: ExpireCondition::IfSomeAndEarlier
            })
        );
        assert_eq!(
            parsed(&["expire", "k", "x", "NX", "GT"]).unwrap_err(),
            Reply::err("NX and XX, GT or LT options at the same time are not compatible")
        );
        assert_eq!(
            parsed(&["expire", "k", "1", "GT", "LT"]).unwrap_err(),
            Reply::err("GT and LT options at the same time are not compatible")
        );
        assert_eq!(
            parsed(&["expire", "k", "1", "foo"]).unwrap_err(),
            Reply::err("Unsupported option foo")
        );
        assert_eq!(
            parsed(&["expire", "k", "9223372036854775807"]).unwrap_err(),
            invalid_time("expire")
        );
        assert_eq!(
            parsed(&["pexpire", "k", "9223372036854775807"]).unwrap_err(),
            invalid_time("pexpire")
        );
    }

    #[test]
    fn setex_getex_and_persist() {
        assert_eq!(
            parsed(&["psetex", "k", "250", "v"]).map(|p| p.1),
            Ok(Modify::Set {
                value: "v".into(),
                when: SetCondition::Always,
                get: false,
                expiry: Expiry::At(NOW + 250),
            })
        );
        assert_eq!(
            parsed(&["setex", "k", "0", "v"]).unwrap_err(),
            invalid_time("setex")
        );
        assert_eq!(
            parsed(&["getex", "k", "persist"]).map(|p| p.1),
            Ok(Modify::GetEx(Expiry::Clear))
        );
        assert_eq!(
            parsed(&["getex", "k"]).map(|p| p.1),
            Ok(Modify::GetEx(Expiry::Keep))
        );
        assert_eq!(
            parsed(&["getex", "k", "persist", "ex", "1"]).unwrap_err(),
            syntax_error()
        );
        assert_eq!(
            parsed(&["getex", "k", "keepttl"]).unwrap_err(),
            syntax_error()
        );
        assert_eq!(parsed(&["persist", "k"]).map(|p| p.1), Ok(Modify::Persist));
        assert!(parse("get", &args(&["get", "k"]), NOW).is_none());
    }

    #[test]
    fn deadline_replies_round_as_redis_does() {
        assert_eq!(DeadlineQuery::Ttl.reply(None, NOW), Reply::Integer(-2));
        assert_eq!(
            DeadlineQuery::Pttl.reply(Some(None), NOW),
            Reply::Integer(-1)
        );
        assert_eq!(
            DeadlineQuery::Ttl.reply(Some(Some(NOW + 1_499)), NOW),
            Reply::Integer(1)
        );
        assert_eq!(
            DeadlineQuery::Ttl.reply(Some(Some(NOW + 1_500)), NOW),
            Reply::Integer(2)
        );
        assert_eq!(
            DeadlineQuery::Pttl.reply(Some(Some(NOW + 7)), NOW),
            Reply::Integer(7)
        );
        assert_eq!(
            DeadlineQuery::ExpireTime.reply(Some(Some(1_800_000_000_499)), NOW),
            Reply::Integer(1_800_000_000)
        );
        assert_eq!(
            DeadlineQuery::ExpireTime.reply(Some(Some(1_800_000_000_500)), NOW),
            Reply::Integer(1_800_000_001)
        );
        assert_eq!(
            DeadlineQuery::PexpireTime.reply(Some(Some(42)), NOW),
            Reply::Integer(42)
        );
    }
}

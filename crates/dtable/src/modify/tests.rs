//! The rules of each read-modify-write, one by one.

use super::*;

fn put(text: &str) -> Change {
    Change::Put {
        value: Bytes::copy_from_slice(text.as_bytes()),
        expires: None,
    }
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
        Modify::IncrBy(1).apply(None, 0, 10),
        Ok((put("1"), Modified::Integer(1)))
    );
    assert_eq!(
        Modify::IncrBy(-3).apply(Some(Current::lasting(b"1")), 0, 10),
        Ok((put("-2"), Modified::Integer(-2)))
    );
    assert_eq!(
        Modify::IncrBy(1).apply(Some(Current::lasting(b"x")), 0, 10),
        Err(ModifyError::NotAnInteger)
    );
    assert_eq!(
        Modify::IncrBy(1).apply(Some(Current::lasting(b"9223372036854775807")), 0, 10),
        Err(ModifyError::Overflow)
    );
    assert_eq!(
        Modify::IncrBy(i64::MIN).apply(Some(Current::lasting(b"-1")), 0, 10),
        Err(ModifyError::Overflow)
    );
}

#[test]
fn append_joins_and_respects_the_size_limit() {
    assert_eq!(
        Modify::Append("lo".into()).apply(Some(Current::lasting(b"hel")), 0, 10),
        Ok((put("hello"), Modified::Length(5)))
    );
    assert_eq!(
        Modify::Append("ab".into()).apply(None, 0, 10),
        Ok((put("ab"), Modified::Length(2)))
    );
    assert_eq!(
        Modify::Append("abc".into()).apply(Some(Current::lasting(b"12345678")), 0, 10),
        Err(ModifyError::TooLarge)
    );
}

#[test]
fn set_conditions_and_get() {
    let set = |when, get| Modify::Set {
        value: "new".into(),
        when,
        get,
        expiry: Expiry::Clear,
    };
    assert_eq!(
        set(SetCondition::IfAbsent, false).apply(Some(Current::lasting(b"old")), 0, 10),
        Ok((
            Change::Keep,
            Modified::Set {
                stored: false,
                old: None
            }
        ))
    );
    assert_eq!(
        set(SetCondition::IfAbsent, true).apply(None, 0, 10),
        Ok((
            put("new"),
            Modified::Set {
                stored: true,
                old: None
            }
        ))
    );
    assert_eq!(
        set(SetCondition::IfPresent, true).apply(Some(Current::lasting(b"old")), 0, 10),
        Ok((
            put("new"),
            Modified::Set {
                stored: true,
                old: Some("old".into())
            }
        ))
    );
    assert_eq!(
        set(SetCondition::IfPresent, false).apply(None, 0, 10),
        Ok((
            Change::Keep,
            Modified::Set {
                stored: false,
                old: None
            }
        ))
    );
    assert_eq!(
        set(SetCondition::Always, false).apply(None, 0, 2),
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
        setrange(6, "Redis").apply(Some(Current::lasting(b"Hello World")), 0, 100),
        Ok((put("Hello Redis"), Modified::Length(11)))
    );
    assert_eq!(
        setrange(2, "ab").apply(None, 0, 100),
        Ok((
            Change::Put {
                value: Bytes::from_static(b"\0\0ab"),
                expires: None
            },
            Modified::Length(4)
        ))
    );
    assert_eq!(
        setrange(9, "").apply(Some(Current::lasting(b"xyz")), 0, 100),
        Ok((Change::Keep, Modified::Length(3)))
    );
    assert_eq!(
        setrange(99, "ab").apply(None, 0, 100),
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
        .apply(None, 0, 10),
        Ok((
            Change::Put {
                value: Bytes::from_static(b"\x01"),
                expires: None
            },
            Modified::Integer(0)
        ))
    );
    assert_eq!(
        Modify::SetBit {
            offset: 1,
            bit: false
        }
        .apply(Some(Current::lasting(b"\x40")), 0, 10),
        Ok((
            Change::Put {
                value: Bytes::from_static(b"\0"),
                expires: None
            },
            Modified::Integer(1)
        ))
    );
    assert_eq!(
        Modify::SetBit {
            offset: 17,
            bit: false
        }
        .apply(None, 0, 10),
        Ok((
            Change::Put {
                value: Bytes::from_static(b"\0\0\0"),
                expires: None
            },
            Modified::Integer(0)
        ))
    );
    assert_eq!(
        Modify::SetBit {
            offset: 80,
            bit: true
        }
        .apply(None, 0, 10),
        Err(ModifyError::TooLarge)
    );
}

#[test]
fn getdel_deletes_what_is_there() {
    assert_eq!(
        Modify::GetDel.apply(Some(Current::lasting(b"v")), 0, 10),
        Ok((Change::Delete, Modified::Old(Some("v".into()))))
    );
    assert_eq!(
        Modify::GetDel.apply(None, 0, 10),
        Ok((Change::Keep, Modified::Old(None)))
    );
}

/// A value `v` with deadline `at`, as a primary at any earlier time sees it.
fn expiring(v: &[u8], at: u64) -> Option<Current<'_>> {
    Some(Current {
        value: v,
        expires: Some(at),
    })
}

#[test]
fn rewrites_keep_the_deadline_and_set_replaces_it() {
    let held = expiring(b"1", 500);
    let kept = |value: &str| Change::Put {
        value: Bytes::copy_from_slice(value.as_bytes()),
        expires: Some(500),
    };
    assert_eq!(
        Modify::IncrBy(1).apply(held, 0, 10),
        Ok((kept("2"), Modified::Integer(2)))
    );
    assert_eq!(
        Modify::Append("x".into()).apply(held, 0, 10),
        Ok((kept("1x"), Modified::Length(2)))
    );
    let set = |expiry| Modify::Set {
        value: "v".into(),
        when: SetCondition::Always,
        get: false,
        expiry,
    };
    let stored = Modified::Set {
        stored: true,
        old: None,
    };
    assert_eq!(
        set(Expiry::Clear).apply(held, 0, 10),
        Ok((put("v"), stored.clone()))
    );
    assert_eq!(
        set(Expiry::Keep).apply(held, 0, 10),
        Ok((kept("v"), stored.clone()))
    );
    assert_eq!(
        set(Expiry::At(900)).apply(held, 100, 10),
        Ok((
            Change::Put {
                value: "v".into(),
                expires: Some(900)
            },
            stored.clone()
        ))
    );
    assert_eq!(
        set(Expiry::At(100)).apply(held, 100, 10),
        Ok((Change::Delete, stored)),
        "a deadline already past stores nothing"
    );
}

#[test]
fn expire_conditions_follow_redis() {
    let at = |at, when| Modify::Expire { at, when };
    let changed = |expires| {
        Ok((
            Change::Put {
                value: "v".into(),
                expires: Some(expires),
            },
            Modified::Integer(1),
        ))
    };
    let unchanged = Ok((Change::Keep, Modified::Integer(0)));
    let lasting = Some(Current::lasting(b"v"));
    let soon = expiring(b"v", 500);
    assert_eq!(
        at(900, ExpireCondition::Always).apply(None, 0, 10),
        unchanged
    );
    assert_eq!(
        at(900, ExpireCondition::Always).apply(soon, 0, 10),
        changed(900)
    );
    assert_eq!(
        at(900, ExpireCondition::IfNone).apply(lasting, 0, 10),
        changed(900)
    );
    assert_eq!(
        at(900, ExpireCondition::IfNone).apply(soon, 0, 10),
        unchanged
    );
    assert_eq!(
        at(900, ExpireCondition::IfSome).apply(lasting, 0, 10),
        unchanged
    );
    assert_eq!(
        at(900, ExpireCondition::IfSome).apply(soon, 0, 10),
        changed(900)
    );
    assert_eq!(
        at(900, ExpireCondition::IfLater).apply(soon, 0, 10),
        changed(900)
    );
    assert_eq!(
        at(400, ExpireCondition::IfLater).apply(soon, 0, 10),
        unchanged
    );
    assert_eq!(
        at(900, ExpireCondition::IfLater).apply(lasting, 0, 10),
        unchanged,
        "no deadline is later than every deadline"
    );
    assert_eq!(
        at(400, ExpireCondition::IfEarlier).apply(soon, 0, 10),
        changed(400)
    );
    assert_eq!(
        at(900, ExpireCondition::IfEarlier).apply(soon, 0, 10),
        unchanged
    );
    assert_eq!(
        at(900, ExpireCondition::IfEarlier).apply(lasting, 0, 10),
        changed(900)
    );
    assert_eq!(
        at(400, ExpireCondition::IfSomeAndEarlier).apply(soon, 0, 10),
        changed(400)
    );
    assert_eq!(
        at(400, ExpireCondition::IfSomeAndEarlier).apply(lasting, 0, 10),
        unchanged
    );
    assert_eq!(
        at(50, ExpireCondition::Always).apply(soon, 100, 10),
        Ok((Change::Delete, Modified::Integer(1))),
        "a past deadline deletes"
    );
}

#[test]
fn persist_and_getex() {
    let soon = expiring(b"v", 500);
    let lasting = Some(Current::lasting(b"v"));
    assert_eq!(
        Modify::Persist.apply(soon, 0, 10),
        Ok((put("v"), Modified::Integer(1)))
    );
    assert_eq!(
        Modify::Persist.apply(lasting, 0, 10),
        Ok((Change::Keep, Modified::Integer(0)))
    );
    assert_eq!(
        Modify::Persist.apply(None, 0, 10),
        Ok((Change::Keep, Modified::Integer(0)))
    );
    let old = Modified::Old(Some("v".into()));
    assert_eq!(
        Modify::GetEx(Expiry::Keep).apply(soon, 0, 10),
        Ok((Change::Keep, old.clone()))
    );
    assert_eq!(
        Modify::GetEx(Expiry::Clear).apply(soon, 0, 10),
        Ok((put("v"), old.clone()))
    );
    assert_eq!(
        Modify::GetEx(Expiry::At(10)).apply(soon, 20, 10),
        Ok((Change::Delete, old))
    );
    assert_eq!(
        Modify::GetEx(Expiry::At(10)).apply(None, 0, 10),
        Ok((Change::Keep, Modified::Old(None)))
    );
}

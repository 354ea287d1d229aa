//! Random command sequences over a small key set (so commands meet each other's keys), sent
//! to redis-server and to Dendrite after a `FLUSHALL` each: every reply must be identical.
//! proptest shrinks a failing sequence to a short one and prints it.
use super::*;
use crate::reference::RedisServer;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

fn command() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let key = prop::sample::select(vec!["a", "b", "c", "n"]);
    let value = prop::sample::select(vec!["", "0", "1", "-7", "10", "x", "abc", "007"]);
    let small = -12i64..12;
    let words = |parts: Vec<String>| parts.into_iter().map(String::into_bytes).collect();
    prop_oneof![
        (key.clone(), value.clone()).prop_map(move |(k, v)| words(vec![
            "SET".into(),
            k.into(),
            v.into()
        ])),
        (
            key.clone(),
            value.clone(),
            prop::sample::select(vec!["NX", "XX", "GET", "NX GET", "XX GET"])
        )
            .prop_map(move |(k, v, o)| {
                let mut w = vec!["SET".to_string(), k.into(), v.into()];
                w.extend(o.split(' ').map(String::from));
                words(w)
            }),
        key.clone()
            .prop_map(move |k| words(vec!["GET".into(), k.into()])),
        key.clone()
            .prop_map(move |k| words(vec!["INCR".into(), k.into()])),
        (
            key.clone(),
            prop::sample::select(vec![
                "0.1",
                "-7.25",
                "1e3",
                "3.3333333333333333",
                "1e-3",
                "0x1p-3",
                "x"
            ]),
        )
            .prop_map(move |(k, f)| words(vec!["INCRBYFLOAT".into(), k.into(), f.into()])),
        (key.clone(), small.clone()).prop_map(move |(k, n)| words(vec![
            "INCRBY".into(),
            k.into(),
            n.to_string()
        ])),
        (key.clone(), small.clone()).prop_map(move |(k, n)| words(vec![
            "DECRBY".into(),
            k.into(),
            n.to_string()
        ])),
        (key.clone(), value.clone()).prop_map(move |(k, v)| words(vec![
            "APPEND".into(),
            k.into(),
            v.into()
        ])),
        (key.clone(), value.clone()).prop_map(move |(k, v)| words(vec![
            "SETNX".into(),
            k.into(),
            v.into()
        ])),
        (key.clone(), value.clone()).prop_map(move |(k, v)| words(vec![
            "GETSET".into(),
            k.into(),
            v.into()
        ])),
        key.clone()
            .prop_map(move |k| words(vec!["GETDEL".into(), k.into()])),
        key.clone()
            .prop_map(move |k| words(vec!["STRLEN".into(), k.into()])),
        (key.clone(), small.clone(), small.clone()).prop_map(move |(k, s, e)| words(vec![
            "GETRANGE".into(),
            k.into(),
            s.to_string(),
            e.to_string()
        ])),
        (key.clone(), 0u8..8, value.clone()).prop_map(move |(k, o, v)| words(vec![
            "SETRANGE".into(),
            k.into(),
            o.to_string(),
            v.into()
        ])),
        (key.clone(), 0u8..40, 0u8..2).prop_map(move |(k, o, b)| words(vec![
            "SETBIT".into(),
            k.into(),
            o.to_string(),
            b.to_string()
        ])),
        (key.clone(), 0u8..40).prop_map(move |(k, o)| words(vec![
            "GETBIT".into(),
            k.into(),
            o.to_string()
        ])),
        (key.clone(), small.clone(), small.clone()).prop_map(move |(k, s, e)| words(vec![
            "BITCOUNT".into(),
            k.into(),
            s.to_string(),
            e.to_string()
        ])),
        (key.clone(), 0u8..2, small.clone()).prop_map(move |(k, b, s)| words(vec![
            "BITPOS".into(),
            k.into(),
            b.to_string(),
            s.to_string()
        ])),
        (key.clone(), key.clone()).prop_map(move |(k, l)| words(vec![
            "DEL".into(),
            k.into(),
            l.into()
        ])),
        (key.clone(), key.clone()).prop_map(move |(k, l)| words(vec![
            "EXISTS".into(),
            k.into(),
            l.into()
        ])),
        (key.clone(), key.clone()).prop_map(move |(k, l)| words(vec![
            "MGET".into(),
            k.into(),
            l.into()
        ])),
        (key.clone(), key.clone()).prop_map(move |(k, l)| words(vec![
            "LCS".into(),
            k.into(),
            l.into()
        ])),
        key.clone()
            .prop_map(move |k| words(vec!["TYPE".into(), k.into()])),
        // Expiry with absolute deadlines only (2100, or 1970: already past), so that
        // conditions and replies do not depend on which millisecond each server runs in.
        (
            key.clone(),
            prop::sample::select(vec!["4102444800", "4102444900", "1"]),
            prop::sample::select(vec!["", "NX", "XX", "GT", "LT", "XX LT"]),
        )
            .prop_map(move |(k, at, o)| {
                let mut w = vec!["EXPIREAT".to_string(), k.into(), at.into()];
                w.extend(o.split(' ').filter(|o| !o.is_empty()).map(String::from));
                words(w)
            }),
        (
            key.clone(),
            value.clone(),
            prop::sample::select(vec![
                "EXAT 4102444800",
                "KEEPTTL",
                "PXAT 1",
                "NX EXAT 4102444900"
            ]),
        )
            .prop_map(move |(k, v, o)| {
                let mut w = vec!["SET".to_string(), k.into(), v.into()];
                w.extend(o.split(' ').map(String::from));
                words(w)
            }),
        (
            key.clone(),
            prop::sample::select(vec!["PERSIST", "EXAT 4102444900"])
        )
            .prop_map(move |(k, o)| {
                let mut w = vec!["GETEX".to_string(), k.into()];
                w.extend(o.split(' ').map(String::from));
                words(w)
            }),
        (
            key.clone(),
            prop::sample::select(vec!["PERSIST", "EXPIRETIME", "PEXPIRETIME"])
        )
            .prop_map(move |(k, c)| words(vec![c.into(), k.into()])),
    ]
}

#[test]
fn random_string_command_sequences_match_redis() {
    let memory = Dendrite::start(None);
    random_sequences_match(RawClient::connect(memory.addr), 128);
    drop(memory);
    // Fewer on real nodes: each command is a network round trip or several.
    for count in [1, 3] {
        let nodes = Nodes::start(count);
        random_sequences_match(nodes.client(), 32);
    }
}

/// `cases` random sequences, each after a `FLUSHALL`, to a fresh redis-server and to
/// `candidate`.
fn random_sequences_match(candidate: RawClient, cases: u32) {
    let redis = RedisServer::start(&[]);
    // proptest runs the property as a `Fn`: the two connections live in cells.
    let reference = std::cell::RefCell::new(RawClient::connect(redis.addr));
    let candidate = std::cell::RefCell::new(candidate);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let outcome = runner.run(&prop::collection::vec(command(), 1..40), |script| {
        let (mut reference, mut candidate) = (reference.borrow_mut(), candidate.borrow_mut());
        reference.call(&[b"FLUSHALL"]);
        candidate.call(&[b"FLUSHALL"]);
        for args in &script {
            let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            let expected = reference.call(&args).bytes();
            let actual = candidate.call(&args).bytes();
            if expected != actual {
                return Err(TestCaseError::fail(format!(
                    "{}\n    redis:    {}\n    dendrite: {}",
                    String::from_utf8_lossy(&args.join(&b' ')),
                    String::from_utf8_lossy(&expected).escape_debug(),
                    String::from_utf8_lossy(&actual).escape_debug(),
                )));
            }
        }
        Ok(())
    });
    if let Err(failure) = outcome {
        panic!("a random sequence differs from redis-server: {failure}");
    }
}

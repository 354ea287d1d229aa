//! A run of read-modify-writes (pipelined INCRs) on a ring: each operation gets its own answer,
//! in order per key, whichever node its key's primary is on; a refused one does not stop the
//! others; every change is replicated.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::Bytes;
use common::Tables;
use dtable::{Modified, Modify, ModifyError, TableError};

fn incr(key: &str, by: i64) -> (Bytes, Modify) {
    (Bytes::from(key.to_string()), Modify::IncrBy(by))
}

#[tokio::test(start_paused = true)]
async fn each_operation_of_a_run_answers_in_order_on_every_primary() {
    let cluster = Tables::start(7, 3, 2).await;
    let client = cluster.table(0);
    let q = client.query().consistency(3);
    q.set("text", "abc").await.unwrap();

    // 30 keys spread over the three nodes, each incremented three times in one run, with a
    // refused operation in the middle.
    let mut run = Vec::new();
    for round in 1..=3 {
        for key in 0..30 {
            run.push(incr(&format!("k{key}"), round));
        }
        if round == 2 {
            run.push(incr("text", 1));
        }
    }
    let answers = q.modify_each(run).await;
    assert_eq!(answers.len(), 91);
    for (i, answer) in answers[..30].iter().enumerate() {
        assert_eq!(answer, &Ok(Modified::Integer(1)), "first increment of k{i}");
    }
    for (i, answer) in answers[30..60].iter().enumerate() {
        assert_eq!(
            answer,
            &Ok(Modified::Integer(3)),
            "second increment of k{i}"
        );
    }
    assert_eq!(
        answers[60],
        Err(TableError::Modify(ModifyError::NotAnInteger))
    );
    for (i, answer) in answers[61..].iter().enumerate() {
        assert_eq!(answer, &Ok(Modified::Integer(6)), "third increment of k{i}");
    }

    // Every copy holds the result: read each key at full consistency through another node.
    let reader = cluster.table(2);
    let keys: Vec<Bytes> = (0..30).map(|k| Bytes::from(format!("k{k}"))).collect();
    let values = reader
        .query()
        .read_consistency(3)
        .get_multi(keys.clone())
        .await
        .unwrap();
    assert!(
        values.iter().all(|v| v.as_deref() == Some(&b"6"[..])),
        "{values:?}"
    );
    for key in &keys {
        assert_eq!(cluster.copies(key), 3, "copies of {key:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_run_with_bad_keys_or_consistency_refuses_only_what_is_wrong() {
    let cluster = Tables::start(8, 2, 1).await;
    let client = cluster.table(1);
    let answers = client
        .query()
        .consistency(2)
        .modify_each(vec![incr("a", 1), incr("", 1), incr("a", 1)])
        .await;
    assert_eq!(
        answers,
        vec![
            Ok(Modified::Integer(1)),
            Err(TableError::EmptyKey),
            Ok(Modified::Integer(2)),
        ]
    );
    // A consistency the ring cannot give refuses every operation, and applies none.
    let answers = client
        .query()
        .consistency(5)
        .modify_each(vec![incr("a", 1), incr("b", 1)])
        .await;
    assert!(answers
        .iter()
        .all(|a| matches!(a, Err(TableError::InvalidConsistency { .. }))));
    assert_eq!(
        client.query().get("a").await.unwrap().as_deref(),
        Some(&b"2"[..])
    );
    assert_eq!(client.query().get("b").await.unwrap(), None);
}

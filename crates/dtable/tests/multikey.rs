//! Multi-key read-modify-writes (MSETNX, RENAME, COPY, BITOP) on a ring: one step on the node
//! that is primary for every key (its keys may belong to several of its vnodes), replicated
//! like a write; keys whose primaries are on different nodes are refused whole.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::Bytes;
use common::Tables;
use dendrite::Vnode;
use dtable::{Expiry, KeyPosition, Modified, Modify, ModifyMany, SetCondition, Table, TableError};

/// The primary of `key`, by a lookup on the ring.
async fn primary(table: &Table, key: &str) -> Vnode {
    let id = KeyPosition::of(key.as_bytes()).id();
    table.ring().find_successors(id, 1).await.unwrap()[0].clone()
}

/// A key not in `taken` whose primary is on `key`'s primary's node (`same`) or another one.
async fn partner(table: &Table, key: &str, same: bool, taken: &[&str]) -> String {
    let owner = primary(table, key).await;
    for i in 0..10_000 {
        let candidate = format!("partner-{i}");
        if taken.contains(&candidate.as_str()) {
            continue;
        }
        if (primary(table, &candidate).await.host == owner.host) == same {
            return candidate;
        }
    }
    panic!("no partner key found");
}

#[tokio::test(start_paused = true)]
async fn keys_of_one_primary_change_together_and_others_are_refused_whole() {
    let cluster = Tables::start(41, 3, 2).await;
    let client = cluster.table(1);
    let q = client.query().consistency(3);
    let deadline = client.config().time.now_millis() + 60_000;
    q.modify(
        "source",
        Modify::Set {
            value: Bytes::from_static(b"v"),
            when: SetCondition::Always,
            get: false,
            expiry: Expiry::At(deadline),
        },
    )
    .await
    .unwrap();
    let near = partner(&client, "source", true, &[]).await;
    let far = partner(&client, "source", false, &[]).await;
    let rename = |to: &str| {
        (
            vec![Bytes::from_static(b"source"), Bytes::from(to.to_string())],
            ModifyMany::Rename { if_absent: false },
        )
    };
    let (keys, op) = rename(&far);
    assert!(matches!(
        q.modify_many(keys, op).await,
        Err(TableError::CrossSlot)
    ));
    assert_eq!(
        q.get("source").await.unwrap(),
        Some(Bytes::from_static(b"v")),
        "a refused operation changes nothing"
    );
    let (keys, op) = rename(&near);
    assert_eq!(q.modify_many(keys, op).await.unwrap(), Modified::Integer(1));
    for table in cluster.tables.values() {
        let q = table.query().read_consistency(3);
        assert_eq!(q.get("source").await.unwrap(), None);
        assert_eq!(
            q.get_expiring(near.clone()).await.unwrap(),
            Some((Bytes::from_static(b"v"), Some(deadline))),
            "the value moved with its deadline, on every copy"
        );
    }
    // MSETNX over keys of one primary: all or nothing.
    let fresh = partner(&client, &near, true, &[&near]).await;
    let values = vec![Bytes::from_static(b"1"), Bytes::from_static(b"2")];
    let held = vec![Bytes::from(fresh.clone()), Bytes::from(near.clone())];
    assert_eq!(
        q.modify_many(held, ModifyMany::SetAllIfNone(values.clone()))
            .await
            .unwrap(),
        Modified::Integer(0),
        "one of the keys holds a value"
    );
    assert_eq!(q.get(fresh.clone()).await.unwrap(), None);
    let third = partner(&client, &near, true, &[&near, &fresh]).await;
    let both = vec![Bytes::from(fresh.clone()), Bytes::from(third.clone())];
    assert_eq!(
        q.modify_many(both, ModifyMany::SetAllIfNone(values))
            .await
            .unwrap(),
        Modified::Integer(1)
    );
    for table in cluster.tables.values() {
        let got = table
            .query()
            .read_consistency(3)
            .get_multi(vec![Bytes::from(fresh.clone()), Bytes::from(third.clone())])
            .await
            .unwrap();
        assert_eq!(
            got,
            vec![
                Some(Bytes::from_static(b"1")),
                Some(Bytes::from_static(b"2"))
            ]
        );
    }
}

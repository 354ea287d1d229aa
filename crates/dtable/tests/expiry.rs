//! Expiry as part of the replicated record: deadlines travel with writes, expired values are
//! invisible on every copy at once, the primaries' sweep reclaims them as tombstones, and
//! neither repair nor failover brings one back. Every node's clock follows the test's virtual
//! time (`TimeSource::tokio`), so deadlines pass exactly when the test advances time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{host, key, value, Tables};
use dtable::{ExpireCondition, Expiry, Modified, Modify, SetCondition, Table};

/// Unix ms now by `table`'s clock (the same virtual time every node follows).
fn now(table: &Table) -> u64 {
    table.config().time.now_millis()
}

/// Sum of a counter over every node.
fn expired_total(cluster: &Tables) -> u64 {
    cluster
        .tables
        .values()
        .map(|t| t.stats().expired.load(std::sync::atomic::Ordering::Relaxed))
        .sum()
}

/// Waits (virtual time, bounded) until no node holds a value for any of `keys`.
async fn wait_reclaimed(cluster: &Tables, keys: &[Bytes]) {
    for _ in 0..100 {
        let held: usize = cluster
            .tables
            .values()
            .map(|t| {
                keys.iter()
                    .filter(|k| t.local_record(k).is_some_and(|r| r.value.is_some()))
                    .count()
            })
            .sum();
        if held == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("expired values still held after 20 s");
}

#[tokio::test(start_paused = true)]
async fn expired_keys_vanish_everywhere_are_reclaimed_and_never_come_back() {
    let cluster = Tables::start(31, 3, 2).await;
    let client = cluster.any().clone();
    let deadline = now(&client) + 5_000;
    let expiring: Vec<Bytes> = (0..200).map(key).collect();
    for (i, k) in expiring.iter().enumerate() {
        client
            .query()
            .consistency(3)
            .set_expiring(k.clone(), value(i, 0), deadline)
            .await
            .unwrap();
    }
    let lasting: Vec<Bytes> = (200..300).map(key).collect();
    for (i, k) in lasting.iter().enumerate() {
        client
            .query()
            .consistency(3)
            .set(k.clone(), value(i, 1))
            .await
            .unwrap();
    }
    // Before the deadline every node reads every key, and knows when it expires.
    for table in cluster.tables.values() {
        let (v, expires) = table.query().get_expiring(key(7)).await.unwrap().unwrap();
        assert_eq!((v, expires), (value(7, 0), Some(deadline)));
        assert_eq!(
            table.local_expiring(),
            200,
            "3 copies of 200 keys on 3 nodes"
        );
    }
    tokio::time::sleep(Duration::from_millis(5_001)).await;
    // At once, on every node, at every read consistency: gone, while the others stay.
    for table in cluster.tables.values() {
        for level in 1..=3 {
            let q = table.query().read_consistency(level);
            let got = q.get_multi(expiring.clone()).await.unwrap();
            assert!(got.iter().all(Option::is_none), "an expired key was read");
            let kept = q.get_multi(lasting.clone()).await.unwrap();
            assert!(kept.iter().all(Option::is_some));
        }
        let page = table.query().scan(None, 10_000).await.unwrap();
        assert!(
            page.keys.iter().all(|k| !expiring.contains(k)),
            "SCAN showed an expired key"
        );
    }
    // The sweep reclaims them as tombstones, once each, by their primaries.
    wait_reclaimed(&cluster, &expiring).await;
    assert_eq!(expired_total(&cluster), 200);
    cluster.repair_all().await;
    for table in cluster.tables.values() {
        assert_eq!(table.local_expiring(), 0);
        for k in &expiring {
            let record = table
                .local_record(k)
                .expect("the tombstone is held on every copy");
            assert!(record.is_tombstone());
            assert_eq!(table.query().get(k.clone()).await.unwrap(), None);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn an_expired_copy_on_a_cut_off_replica_does_not_come_back_after_the_heal() {
    let mut cluster = Tables::start(32, 4, 2).await;
    let client = cluster.table(0);
    let deadline = now(&client) + 3_000;
    let keys: Vec<Bytes> = (0..100).map(key).collect();
    for k in &keys {
        client
            .query()
            .consistency(3)
            .set_expiring(k.clone(), Bytes::from_static(b"soon gone"), deadline)
            .await
            .unwrap();
    }
    // Node 3 is cut off from everyone while the keys expire and are reclaimed elsewhere.
    for i in 0..3 {
        cluster.net.partition(&host(3), &host(i));
    }
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    let others: Vec<Bytes> = keys.clone();
    for _ in 0..100 {
        let reclaimed = (0..3).all(|i| {
            let t = cluster.table(i);
            others
                .iter()
                .all(|k| t.local_record(k).is_none_or(|r| r.value.is_none()))
        });
        if reclaimed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    cluster.net.heal();
    cluster.wait_ring().await;
    cluster.wait_fully_replicated(Duration::from_secs(60)).await;
    cluster.repair_all().await;
    for (h, table) in &cluster.tables {
        for k in &keys {
            assert_eq!(
                table.query().get(k.clone()).await.unwrap(),
                None,
                "{h} read {k:?}"
            );
            assert!(
                table.local_record(k).is_none_or(|r| r.value.is_none()),
                "{h} still holds the expired value of {k:?} after the heal"
            );
        }
    }
    cluster.crash(&host(0));
    for table in cluster.tables.values() {
        for k in keys.iter().take(20) {
            assert_eq!(table.query().get(k.clone()).await.unwrap(), None);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn deadlines_are_set_kept_and_cleared_at_the_primary_and_survive_failover() {
    let mut cluster = Tables::start(33, 3, 2).await;
    let client = cluster.table(0);
    let q = client.query().consistency(3);
    let t0 = now(&client);
    let k = Bytes::from_static(b"session");
    let set = |expiry| Modify::Set {
        value: Bytes::from_static(b"1"),
        when: SetCondition::Always,
        get: false,
        expiry,
    };
    q.modify(k.clone(), set(Expiry::At(t0 + 60_000)))
        .await
        .unwrap();
    // INCR keeps the deadline; EXPIRE GT moves it later, LT does not move it later.
    assert_eq!(
        q.modify(k.clone(), Modify::IncrBy(1)).await.unwrap(),
        Modified::Integer(2)
    );
    let expire = |at, when| Modify::Expire { at, when };
    let gt = q
        .modify(k.clone(), expire(t0 + 90_000, ExpireCondition::IfLater))
        .await
        .unwrap();
    let lt = q
        .modify(k.clone(), expire(t0 + 120_000, ExpireCondition::IfEarlier))
        .await
        .unwrap();
    assert_eq!((gt, lt), (Modified::Integer(1), Modified::Integer(0)));
    let expect = Some((Bytes::from_static(b"2"), Some(t0 + 90_000)));
    assert_eq!(q.get_expiring(k.clone()).await.unwrap(), expect);
    // Whichever node was the primary, the deadline is on every copy: kill each in turn.
    for victim in 0..2 {
        cluster.crash(&host(victim));
        cluster.wait_ring().await;
        let survivor = cluster.any().clone();
        assert_eq!(
            survivor.query().get_expiring(k.clone()).await.unwrap(),
            expect,
            "after {} died",
            host(victim)
        );
        cluster.add().await;
        cluster.wait_ring().await;
        cluster.wait_fully_replicated(Duration::from_secs(60)).await;
    }
    let survivor = cluster.any().clone();
    let q = survivor.query().consistency(3);
    assert_eq!(
        q.modify(k.clone(), Modify::Persist).await.unwrap(),
        Modified::Integer(1)
    );
    assert_eq!(
        q.get_expiring(k.clone()).await.unwrap(),
        Some((Bytes::from_static(b"2"), None))
    );
    // GETEX with a deadline already past deletes the key and answers its value.
    let past = now(&survivor) - 1;
    assert_eq!(
        q.modify(k.clone(), Modify::GetEx(Expiry::At(past)))
            .await
            .unwrap(),
        Modified::Old(Some(Bytes::from_static(b"2")))
    );
    assert_eq!(q.get(k.clone()).await.unwrap(), None);
}

//! Scanning the whole keyspace with a ring-position cursor.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use bytes::Bytes;
use common::{key, Tables};

async fn scan_all(table: &dtable::Table, count: usize) -> (Vec<Bytes>, usize) {
    let mut keys = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = table.query().scan(cursor, count).await.unwrap();
        pages += 1;
        keys.extend(page.keys);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return (keys, pages),
        }
        assert!(pages < 10_000, "the scan does not end");
    }
}

#[tokio::test(start_paused = true)]
async fn a_scan_returns_every_live_key_once_and_no_deleted_key() {
    let cluster = Tables::start(21, 4, 2).await;
    let n = 1000;
    cluster.load(n).await;
    let client = cluster.any().clone();
    for i in (0..n).step_by(10) {
        client.query().consistency(3).delete(key(i)).await.unwrap();
    }
    let expected: BTreeSet<Bytes> = (0..n).filter(|i| i % 10 != 0).map(key).collect();
    for table in cluster.tables.values() {
        let (keys, pages) = scan_all(table, 37).await;
        let unique: BTreeSet<Bytes> = keys.iter().cloned().collect();
        assert_eq!(unique.len(), keys.len(), "a key came twice in a quiet ring");
        assert_eq!(
            unique,
            expected,
            "scan through {:?}",
            table.ring().local_host()
        );
        assert!(pages > 10, "{pages} pages for {} keys of 37", keys.len());
    }
    let empty = Tables::start(22, 2, 1).await;
    let (keys, _) = scan_all(empty.any(), 10).await;
    assert!(keys.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_scan_across_a_join_misses_no_key() {
    let mut cluster = Tables::start(23, 3, 2).await;
    let n = 800;
    cluster.load(n).await;
    let reader = cluster.any().clone();
    let mut found = BTreeSet::new();
    let mut cursor = None;
    let mut joined = false;
    loop {
        let page = reader.query().scan(cursor, 25).await.unwrap();
        found.extend(page.keys);
        if !joined {
            // A node joins after the first page: the cursor is a ring position, not a node.
            cluster.add().await;
            joined = true;
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let expected: BTreeSet<Bytes> = (0..n).map(key).collect();
    assert_eq!(found, expected);
}

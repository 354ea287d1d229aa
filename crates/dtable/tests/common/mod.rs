//! A cluster of tables on the in-memory network, for the table tests: [`dtable::mem::Tables`]
//! with its errors turned into test failures, and the tests' own loading and counting.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::ops::{Deref, DerefMut};
use std::time::Duration;

use bytes::Bytes;
use dtable::{Table, TableConfig};

pub use dtable::mem::host;

pub struct Tables(pub dtable::mem::Tables);

impl Deref for Tables {
    type Target = dtable::mem::Tables;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Tables {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Tables {
    pub async fn start(seed: u64, nodes: usize, replicas: usize) -> Tables {
        Tables(
            dtable::mem::Tables::start(seed, nodes, replicas)
                .await
                .unwrap(),
        )
    }

    /// No node yet: set fields, then [`add`](Self::add) nodes.
    pub fn empty(seed: u64, replicas: usize, table_config: TableConfig) -> Tables {
        Tables(dtable::mem::Tables::empty(seed, replicas, table_config))
    }

    pub async fn start_with(
        seed: u64,
        nodes: usize,
        replicas: usize,
        table_config: TableConfig,
    ) -> Tables {
        Tables(
            dtable::mem::Tables::start_with(seed, nodes, replicas, table_config)
                .await
                .unwrap(),
        )
    }

    pub async fn add(&mut self) -> Table {
        self.0.add().await.unwrap()
    }

    pub fn crash(&mut self, host: &str) {
        self.0.crash(host).unwrap();
    }

    /// Starts `host` again after a [`crash`](Self::crash), with an empty store.
    pub async fn restart(&mut self, host: &str) -> Table {
        self.0.restart(host).await.unwrap()
    }

    /// Waits until no node reports an under-replicated range; returns how long it took.
    pub async fn wait_fully_replicated(&self, within: Duration) -> Duration {
        self.0.wait_fully_replicated(within).await.unwrap()
    }

    /// Waits (virtual time, bounded) until every vnode's predecessor and successors are right.
    pub async fn wait_ring(&self) {
        self.0.wait_ring().await.unwrap();
    }

    /// The table of node `i` (a clone), which must be running.
    #[allow(dead_code)] // not every test file uses it
    pub fn table(&self, i: usize) -> Table {
        self.tables[&host(i)].clone()
    }

    pub fn any(&self) -> &Table {
        self.0.any().unwrap()
    }

    /// Writes keys `0..n` (round 0 values) through one node, then repairs until every copy is
    /// in place.
    pub async fn load(&self, n: usize) {
        let pairs: Vec<_> = (0..n).map(|i| (key(i), value(i, 0))).collect();
        self.any().query().set_multi(pairs).await.unwrap();
        self.repair_all().await;
    }

    /// Runs anti-entropy on every node until the holders of every key stop changing.
    pub async fn repair_all(&self) {
        for _ in 0..3 {
            for t in self.tables.values() {
                t.repair_now().await;
            }
        }
    }

    /// How many live nodes hold a value or tombstone for `key`.
    pub fn copies(&self, key: &[u8]) -> usize {
        self.tables
            .values()
            .filter(|t| t.local_keys().iter().any(|k| k.as_ref() == key))
            .count()
    }
}

pub fn key(i: usize) -> Bytes {
    Bytes::from(format!("key-{i}"))
}

pub fn value(i: usize, round: usize) -> Bytes {
    Bytes::from(format!("value-{i}-{round}"))
}

/// Routine anti-entropy so rare that it cannot be what repaired anything in these tests.
pub fn no_routine_rounds() -> TableConfig {
    TableConfig {
        repair_interval: Duration::from_secs(24 * 3600),
        ..TableConfig::default()
    }
}

/// Writes keys `0..n` at consistency `replicas + 1` through `cluster`'s first node.
pub async fn write_all(cluster: &Tables, n: usize, round: usize) {
    let writer = cluster.any().clone();
    let pairs: Vec<(Bytes, Bytes)> = (0..n).map(|i| (key(i), value(i, round))).collect();
    for chunk in pairs.chunks(50) {
        writer
            .query()
            .consistency(3)
            .set_multi(chunk.to_vec())
            .await
            .unwrap();
    }
}

/// Increments `counter` through `table` at consistency 3 until `count` are acknowledged,
/// retrying refusals while the ring re-forms (each refused INCR was not applied: the primary
/// refuses before it changes anything, or the coordinator never reached it).
pub async fn increment(table: &dtable::Table, counter: &str, count: usize) -> i64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut last = 0;
    let mut done = 0;
    while done < count {
        match table
            .query()
            .consistency(3)
            .modify(counter.to_string(), dtable::Modify::IncrBy(1))
            .await
        {
            Ok(dtable::Modified::Integer(n)) => {
                assert!(n > last, "INCR answered {n} after {last}");
                last = n;
                done += 1;
            }
            Ok(other) => panic!("INCR answered {other:?}"),
            Err(e) => {
                assert!(tokio::time::Instant::now() < deadline, "INCR: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    last
}

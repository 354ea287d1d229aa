//! A cluster of tables on the in-memory network, for the table tests.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use dendrite::chord::ideal_state;
use dendrite::mem::MemNetwork;
use dendrite::Config;
use dtable::{Table, TableConfig};

pub struct Tables {
    pub net: Arc<MemNetwork>,
    pub tables: BTreeMap<String, Table>,
    pub next: usize,
    pub replicas: usize,
    pub table_config: TableConfig,
    /// Stabilization pauses of every node (the ring's defaults when `None`).
    pub stabilize: Option<(Duration, Duration)>,
}

pub fn host(i: usize) -> String {
    format!("n{i}:7000")
}

impl Tables {
    pub async fn start(seed: u64, nodes: usize, replicas: usize) -> Tables {
        Tables::start_with(seed, nodes, replicas, TableConfig::default()).await
    }

    /// No node yet: set fields, then [`add`](Self::add) nodes.
    pub fn empty(seed: u64, replicas: usize, mut table_config: TableConfig) -> Tables {
        // Every node's clock follows the test's (virtual) time: deadlines and tombstone grace
        // pass as the test advances it.
        table_config.time = dtable::TimeSource::tokio();
        Tables {
            net: MemNetwork::new(seed),
            tables: BTreeMap::new(),
            next: 0,
            replicas,
            table_config,
            stabilize: None,
        }
    }

    pub async fn start_with(
        seed: u64,
        nodes: usize,
        replicas: usize,
        table_config: TableConfig,
    ) -> Tables {
        let mut t = Tables::empty(seed, replicas, table_config);
        for _ in 0..nodes {
            t.add().await;
        }
        t.wait_ring().await;
        t
    }

    pub fn config(&self, host: &str) -> Config {
        let mut c = Config::new(host);
        c.replicas = self.replicas;
        c.rng_seed = Some(self.next as u64);
        if let Some((min, max)) = self.stabilize {
            c.stabilize_min = min;
            c.stabilize_max = max;
        }
        c
    }

    pub async fn add(&mut self) -> Table {
        let h = host(self.next);
        let config = self.config(&h);
        self.next += 1;
        let endpoint = self.net.endpoint(&h);
        let table = match self.tables.keys().next() {
            None => Table::create(config, endpoint, self.table_config.clone())
                .await
                .unwrap(),
            Some(seed) => Table::join(
                config,
                endpoint,
                std::slice::from_ref(seed),
                self.table_config.clone(),
            )
            .await
            .unwrap(),
        };
        self.tables.insert(h, table.clone());
        table
    }

    pub fn crash(&mut self, host: &str) {
        let t = self.tables.remove(host).unwrap();
        t.shutdown();
        self.net.crash(host);
    }

    /// Starts `host` again after a [`crash`](Self::crash): same address and vnode ids, an
    /// empty store, joining through another node (as a process restarted after kill -9).
    pub async fn restart(&mut self, host: &str) -> Table {
        let config = self.config(host);
        let endpoint = self.net.endpoint(host);
        let seed = self.tables.keys().next().cloned().unwrap();
        let table = Table::join(config, endpoint, &[seed], self.table_config.clone())
            .await
            .unwrap();
        self.tables.insert(host.to_string(), table.clone());
        table
    }

    /// Waits (virtual time, 1 s steps) until no node reports an under-replicated range;
    /// returns how long it took.
    pub async fn wait_fully_replicated(&self, within: Duration) -> Duration {
        let start = tokio::time::Instant::now();
        loop {
            let lacking: Vec<(String, usize)> = self
                .tables
                .iter()
                .map(|(h, t)| (h.clone(), t.underreplicated_ranges()))
                .filter(|(_, n)| *n > 0)
                .collect();
            if lacking.is_empty() {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < within,
                "still under-replicated after {within:?}: {lacking:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The table of node `i` (a clone), which must be running.
    #[allow(dead_code)] // not every test file uses it
    pub fn table(&self, i: usize) -> Table {
        self.tables[&host(i)].clone()
    }

    pub fn any(&self) -> &Table {
        self.tables.values().next().unwrap()
    }

    /// Waits (virtual time, bounded) until every vnode's predecessor and successors are right.
    pub async fn wait_ring(&self) {
        // A hundred seconds, or twenty of the slowest stabilization pauses.
        let rounds = self
            .stabilize
            .map_or(100, |(_, max)| (max.as_secs() * 20).max(100));
        for _ in 0..rounds {
            if self.ring_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        panic!("ring did not converge");
    }

    fn ring_ok(&self) -> bool {
        let all: Vec<_> = self
            .tables
            .values()
            .flat_map(|t| t.ring().local_vnodes())
            .collect();
        self.tables.values().all(|t| {
            t.ring().snapshot().iter().all(|s| {
                let ideal = ideal_state(&s.vnode, &all, t.ring().config().num_successors);
                s.predecessor.as_ref() == Some(&ideal.predecessor)
                    && s.successors == ideal.successors
            })
        })
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

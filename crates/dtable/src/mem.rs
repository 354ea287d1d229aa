//! A cluster of tables on the in-memory network ([`dendrite::mem::MemNetwork`]): what the table
//! tests and the table simulation (crates/tablesim) build their clusters from.
//!
//! Run it on a current-thread runtime with tokio's clock paused: every node's clock follows
//! tokio's (virtual) time from a fixed anchor ([`ANCHOR_MILLIS`]), so deadlines, versions and
//! tombstone grace pass as the run advances it, and a seed replays event for event
//! (docs/reliability.md, "Table simulation").

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use dendrite::chord::ideal_state;
use dendrite::mem::MemNetwork;
use dendrite::Config;

use crate::{Table, TableConfig, TableError, TimeSource};

/// The Unix milliseconds every node's clock reads when the cluster is made (14 Nov 2023): a
/// constant, so no wall clock enters a run.
pub const ANCHOR_MILLIS: u64 = 1_700_000_000_000;

/// Why a cluster operation could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum MemClusterError {
    /// A node could not start or join (its seed unreachable, a refused join...): retry once
    /// the network allows it.
    #[error("node {host} could not start: {source}")]
    Start {
        /// The node.
        host: String,
        /// What the table said.
        source: TableError,
    },
    /// A join or restart needs a running node to join through.
    #[error("no running node to join through")]
    Empty,
    /// The node named is not running (crash or restart it in the other state first).
    #[error("node {host} is not running")]
    NotRunning {
        /// The node.
        host: String,
    },
    /// Some ranges still lacked copies at the deadline: the cluster did not repair itself.
    #[error("still under-replicated after {within:?}: {lacking:?}")]
    Underreplicated {
        /// How long it was given.
        within: Duration,
        /// Each node still lacking copies, with its count of under-replicated ranges.
        lacking: Vec<(String, usize)>,
    },
    /// Some vnode's predecessor or successors were still wrong at the deadline.
    #[error("the ring did not converge within {within:?}")]
    RingNotConverged {
        /// How long it was given.
        within: Duration,
    },
}

/// The node at index `i` of a cluster with the default prefix.
pub fn host(i: usize) -> String {
    format!("n{i}:7000")
}

/// Tables on one in-memory network, by host.
pub struct Tables {
    /// The network, to inject loss, partitions and crashes.
    pub net: Arc<MemNetwork>,
    /// The running nodes, by host.
    pub tables: BTreeMap<String, Table>,
    /// Index of the next node added.
    pub next: usize,
    /// Copies besides the primary.
    pub replicas: usize,
    /// Every node's table configuration (its time source follows tokio's clock).
    pub table_config: TableConfig,
    /// Stabilization pauses of every node (the ring's defaults when `None`).
    pub stabilize: Option<(Duration, Duration)>,
    /// Hosts are `{prefix}{index}:7000`; vnode ids derive from host names, so a simulation
    /// gives each seed its own prefix to get a different ring per seed.
    pub prefix: String,
    /// Hosts whose clocks run off, by how many milliseconds (positive: ahead); the offset
    /// holds over the host's restarts until [`set_clock_offset`](Self::set_clock_offset)
    /// changes it.
    clock_offsets: BTreeMap<String, i64>,
}

impl Tables {
    /// `nodes` nodes with the default table configuration, once their ring has converged.
    pub async fn start(
        seed: u64,
        nodes: usize,
        replicas: usize,
    ) -> Result<Tables, MemClusterError> {
        Tables::start_with(seed, nodes, replicas, TableConfig::default()).await
    }

    /// No node yet: set fields, then [`add`](Self::add) nodes.
    pub fn empty(seed: u64, replicas: usize, mut table_config: TableConfig) -> Tables {
        table_config.time = TimeSource::tokio_from(ANCHOR_MILLIS);
        Tables {
            net: MemNetwork::new(seed),
            tables: BTreeMap::new(),
            next: 0,
            replicas,
            table_config,
            stabilize: None,
            prefix: "n".to_owned(),
            clock_offsets: BTreeMap::new(),
        }
    }

    /// `nodes` nodes with `table_config`, once their ring has converged.
    pub async fn start_with(
        seed: u64,
        nodes: usize,
        replicas: usize,
        table_config: TableConfig,
    ) -> Result<Tables, MemClusterError> {
        let mut t = Tables::empty(seed, replicas, table_config);
        for _ in 0..nodes {
            t.add().await?;
        }
        t.wait_ring().await?;
        Ok(t)
    }

    /// The host of the node at index `i`.
    pub fn host_of(&self, i: usize) -> String {
        format!("{}{i}:7000", self.prefix)
    }

    /// Makes `host`'s clock run `offset_ms` off (positive: ahead) from its next start on, as
    /// a machine whose wall clock is wrong; 0 puts it right again.
    pub fn set_clock_offset(&mut self, host: &str, offset_ms: i64) {
        if offset_ms == 0 {
            self.clock_offsets.remove(host);
        } else {
            self.clock_offsets.insert(host.to_owned(), offset_ms);
        }
    }

    /// The table configuration of the node at `host`: every node's, with its clock offset.
    fn table_config_of(&self, host: &str) -> TableConfig {
        let mut config = self.table_config.clone();
        if let Some(&offset) = self.clock_offsets.get(host) {
            config.clock_offset_ms = offset;
        }
        config
    }

    /// The ring configuration of the node at `host`, seeded (by the count of nodes added).
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

    /// Adds a node at the next index: it creates the ring if it is the first, else joins
    /// through the first running node.
    pub async fn add(&mut self) -> Result<Table, MemClusterError> {
        let h = self.host_of(self.next);
        let config = self.config(&h);
        self.next += 1;
        let endpoint = self.net.endpoint(&h);
        let started = match self.tables.keys().next() {
            None => Table::create(config, endpoint, self.table_config_of(&h)).await,
            Some(seed) => {
                let seeds = [seed.clone()];
                Table::join(config, endpoint, &seeds, self.table_config_of(&h)).await
            }
        };
        let table = started.map_err(|source| MemClusterError::Start {
            host: h.clone(),
            source,
        })?;
        self.tables.insert(h, table.clone());
        Ok(table)
    }

    /// Stops `host` at once, as kill -9 would: no hand-off, calls to it are refused.
    pub fn crash(&mut self, host: &str) -> Result<(), MemClusterError> {
        let t = self
            .tables
            .remove(host)
            .ok_or_else(|| MemClusterError::NotRunning {
                host: host.to_owned(),
            })?;
        t.shutdown();
        self.net.crash(host);
        Ok(())
    }

    /// Starts `host` again after a [`crash`](Self::crash): same address and vnode ids, an
    /// empty store, joining through another node (as a process restarted after kill -9).
    pub async fn restart(&mut self, host: &str) -> Result<Table, MemClusterError> {
        let config = self.config(host);
        let seed = self
            .tables
            .keys()
            .next()
            .cloned()
            .ok_or(MemClusterError::Empty)?;
        let endpoint = self.net.endpoint(host);
        let table = Table::join(config, endpoint, &[seed], self.table_config_of(host))
            .await
            .map_err(|source| MemClusterError::Start {
                host: host.to_owned(),
                source,
            })?;
        self.tables.insert(host.to_string(), table.clone());
        Ok(table)
    }

    /// The running nodes with under-replicated ranges, with their counts.
    pub fn underreplicated(&self) -> Vec<(String, usize)> {
        self.tables
            .iter()
            .map(|(h, t)| (h.clone(), t.underreplicated_ranges()))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// Waits (virtual time, 100 ms steps) until no node reports an under-replicated range;
    /// returns how long it took.
    pub async fn wait_fully_replicated(
        &self,
        within: Duration,
    ) -> Result<Duration, MemClusterError> {
        let start = tokio::time::Instant::now();
        loop {
            let lacking = self.underreplicated();
            if lacking.is_empty() {
                return Ok(start.elapsed());
            }
            if start.elapsed() >= within {
                return Err(MemClusterError::Underreplicated { within, lacking });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Any running node (the first by host).
    pub fn any(&self) -> Option<&Table> {
        self.tables.values().next()
    }

    /// Waits (virtual time, 1 s steps, bounded) until every vnode's predecessor and successors
    /// are right.
    pub async fn wait_ring(&self) -> Result<(), MemClusterError> {
        // A hundred seconds, or twenty of the slowest stabilization pauses.
        let rounds = self
            .stabilize
            .map_or(100, |(_, max)| (max.as_secs() * 20).max(100));
        for _ in 0..rounds {
            if self.ring_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Err(MemClusterError::RingNotConverged {
            within: Duration::from_secs(rounds),
        })
    }

    /// Whether every running vnode has its ideal predecessor and successors.
    pub fn ring_ok(&self) -> bool {
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
}

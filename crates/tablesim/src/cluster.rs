//! The simulated cluster: [`dtable::mem::Tables`] with a light loss on every link, the
//! clients' [`Directory`] of running nodes, and how each kind of fault is injected and healed.

use std::collections::BTreeMap;
use std::time::Duration;

use dendrite::mem::LinkModel;
use dtable::mem::{MemClusterError, Tables};
use dtable::{Table, TableConfig, TableError};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use tokio::time::{sleep, timeout, Instant};

use crate::clients::Directory;
use crate::schedule::{FaultKind, Round, SimConfig};

/// Tries at starting (joining, restarting) a node before the run gives up on it.
const START_TRIES: usize = 5;
/// Pause between two tries.
const START_RETRY: Duration = Duration::from_secs(1);
/// Furthest a clock round puts a node's clock off, either way (as `crates/chaos` does).
const MAX_CLOCK_OFFSET_MS: i64 = 3_000;

/// Why a run could not go on (not an anomaly: the cluster could not be driven further).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Starting, crashing or settling the cluster failed.
    #[error(transparent)]
    Cluster(#[from] MemClusterError),
    /// A graceful leave failed or did not end in time.
    #[error("node {node} could not leave: {reason}")]
    Leave {
        /// The node.
        node: usize,
        /// Why.
        reason: String,
    },
    /// The runtime of the run could not be built.
    #[error("cannot build the simulation's runtime: {0}")]
    Runtime(std::io::Error),
}

/// A simulated cluster.
pub struct SimCluster {
    /// The nodes.
    pub tables: Tables,
    /// The running nodes as the clients see them.
    pub directory: Directory,
    link: LinkModel,
}

impl SimCluster {
    /// Starts a cluster of `nodes` nodes for `seed` and waits until its ring is right and
    /// every range fully replicated; then every link loses `config.base_loss` of its messages.
    pub async fn start(
        seed: u64,
        nodes: usize,
        config: &SimConfig,
    ) -> Result<SimCluster, SimError> {
        let mut tables = Tables::empty(seed, config.replicas, TableConfig::default());
        // Vnode ids derive from host names: a ring of its own per seed.
        tables.prefix = format!("s{seed}-n");
        let mut cluster = SimCluster {
            tables,
            directory: Directory::default(),
            link: LinkModel {
                loss: config.base_loss,
                ..LinkModel::default()
            },
        };
        for _ in 0..nodes {
            cluster.join().await?;
        }
        cluster.settle(config.settle_wait).await?;
        cluster.tables.net.set_link(cluster.link.clone());
        Ok(cluster)
    }

    /// The index of every running node.
    pub fn running(&self) -> Vec<usize> {
        self.nodes().into_keys().collect()
    }

    /// The running nodes by index.
    pub fn nodes(&self) -> BTreeMap<usize, Table> {
        (0..self.tables.next)
            .filter_map(|i| {
                let table = self.tables.tables.get(&self.tables.host_of(i))?;
                Some((i, table.clone()))
            })
            .collect()
    }

    fn publish(&self) {
        self.directory.publish(self.nodes());
    }

    /// Adds a node at the next index (retrying while the network refuses); returns its index.
    pub async fn join(&mut self) -> Result<usize, SimError> {
        let mut tries = 0;
        loop {
            // A failed try used its index: the next one gets a fresh index and host.
            match self.tables.add().await {
                Ok(_) => break,
                Err(error) if tries + 1 >= START_TRIES => return Err(error.into()),
                Err(_) => tries += 1,
            }
            sleep(START_RETRY).await;
        }
        self.publish();
        Ok(self.tables.next - 1)
    }

    /// Restarts the crashed node `index`, empty (retrying while the network refuses).
    async fn restart(&mut self, index: usize) -> Result<(), SimError> {
        let host = self.tables.host_of(index);
        let mut tries = 0;
        loop {
            match self.tables.restart(&host).await {
                Ok(_) => break,
                Err(error) if tries + 1 >= START_TRIES => return Err(error.into()),
                Err(_) => tries += 1,
            }
            sleep(START_RETRY).await;
        }
        self.publish();
        Ok(())
    }

    /// Waits (virtual time, 100 ms steps) until every vnode's ring pointers are right and no
    /// node lacks copies; returns how long it took.
    pub async fn settle(&self, within: Duration) -> Result<Duration, SimError> {
        let start = Instant::now();
        loop {
            if self.tables.ring_ok() && self.tables.underreplicated().is_empty() {
                return Ok(start.elapsed());
            }
            if start.elapsed() >= within {
                let lacking = self.tables.underreplicated();
                return Err(if lacking.is_empty() {
                    MemClusterError::RingNotConverged { within }
                } else {
                    MemClusterError::Underreplicated { within, lacking }
                }
                .into());
            }
            sleep(Duration::from_millis(100)).await;
        }
    }

    /// Injects `round`'s fault, holds it, heals it; `log` records what happened. Returns the
    /// nodes cut off meanwhile (reads through them may be stale until the cluster settles).
    pub async fn inject(
        &mut self,
        round: &Round,
        config: &SimConfig,
        log: &mut dyn FnMut(String),
    ) -> Result<Vec<usize>, SimError> {
        let mut rng = StdRng::seed_from_u64(round.pick);
        let mut running = self.running();
        running.shuffle(&mut rng);
        let hosts = |nodes: &[usize]| -> Vec<String> {
            nodes.iter().map(|&i| self.tables.host_of(i)).collect()
        };
        match round.kind {
            FaultKind::Crash => {
                let most = config.replicas.min(running.len().saturating_sub(1));
                if most == 0 {
                    log("crash skipped: a single node".into());
                    return Ok(Vec::new());
                }
                let mut victims: Vec<usize> = running[..rng.gen_range(1..=most)].to_vec();
                victims.sort_unstable();
                for (&victim, host) in victims.iter().zip(hosts(&victims)) {
                    self.tables.crash(&host)?;
                    log(format!("crash node {victim}"));
                }
                self.publish();
                sleep(round.hold).await;
                for &victim in &victims {
                    self.restart(victim).await?;
                    log(format!("restarted node {victim}, empty"));
                }
                Ok(Vec::new())
            }
            FaultKind::Clock => {
                let Some(&victim) = running.first() else {
                    log("clock skipped: no node".into());
                    return Ok(Vec::new());
                };
                if running.len() < 2 {
                    log("clock skipped: a single node".into());
                    return Ok(Vec::new());
                }
                let host = self.tables.host_of(victim);
                self.tables.crash(&host)?;
                self.publish();
                log(format!("crash node {victim}"));
                sleep(round.hold).await;
                let offset_ms = rng.gen_range(-MAX_CLOCK_OFFSET_MS..=MAX_CLOCK_OFFSET_MS);
                self.tables.set_clock_offset(&host, offset_ms);
                self.restart(victim).await?;
                log(format!(
                    "restarted node {victim}, empty, its clock {offset_ms:+} ms off"
                ));
                Ok(Vec::new())
            }
            FaultKind::Membership => {
                let n = running.len();
                let leave = n > *config.members.start()
                    && (n >= *config.members.end() || rng.gen_bool(0.5));
                if leave {
                    let node = running[0];
                    let host = self.tables.host_of(node);
                    log(format!("node {node} leaves"));
                    let table = self
                        .tables
                        .tables
                        .remove(&host)
                        .ok_or(MemClusterError::NotRunning { host: host.clone() })?;
                    self.publish();
                    let left = timeout(config.settle_wait, table.leave()).await;
                    // The process exits either way.
                    table.shutdown();
                    self.tables.net.crash(&host);
                    match left {
                        Ok(Ok(())) => log(format!("node {node} left")),
                        Ok(Err(error)) => return Err(leave_error(node, &error)),
                        Err(_) => {
                            return Err(SimError::Leave {
                                node,
                                reason: format!("no end within {:?}", config.settle_wait),
                            })
                        }
                    }
                } else {
                    let node = self.join().await?;
                    log(format!("node {node} joined"));
                }
                sleep(round.hold).await;
                Ok(Vec::new())
            }
            FaultKind::Partition => {
                let most = config.replicas.min(running.len().saturating_sub(1) / 2);
                if most == 0 {
                    log("partition skipped: too few nodes for a minority".into());
                    return Ok(Vec::new());
                }
                let mut minority: Vec<usize> = running[..rng.gen_range(1..=most)].to_vec();
                let mut majority: Vec<usize> = running[minority.len()..].to_vec();
                minority.sort_unstable();
                majority.sort_unstable();
                for a in hosts(&minority) {
                    for b in hosts(&majority) {
                        self.tables.net.partition(&a, &b);
                    }
                }
                log(format!("partition {minority:?} | {majority:?}"));
                sleep(round.hold).await;
                self.tables.net.heal();
                log("healed the partition".into());
                Ok(minority)
            }
            FaultKind::Loss => {
                let loss = rng.gen_range(config.heavy_loss.clone());
                self.tables.net.set_link(LinkModel {
                    loss,
                    ..self.link.clone()
                });
                log(format!(
                    "every link loses {:.1} % of messages",
                    loss * 100.0
                ));
                sleep(round.hold).await;
                self.tables.net.set_link(self.link.clone());
                log(format!("loss back to {:.1} %", self.link.loss * 100.0));
                let mut all = running;
                all.sort_unstable();
                Ok(all)
            }
        }
    }
}

fn leave_error(node: usize, error: &TableError) -> SimError {
    SimError::Leave {
        node,
        reason: error.to_string(),
    }
}

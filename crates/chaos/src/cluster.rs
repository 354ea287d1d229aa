//! A cluster of node processes that faults are injected into: each node in a network namespace
//! of its own when this process is root (so links can be cut), else on loopback (no
//! partitions, no slow links). A node keeps its addresses across restarts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::time::{sleep, Instant};

use crate::netns::{is_root, Netns, NetnsError};
use crate::process::{Addresses, Node, ProcessError};
use crate::status::{ring_hosts, ring_settled, underreplicated};

/// Pause between two polls of a condition.
pub const POLL: Duration = Duration::from_millis(100);
/// How long the under-replication gauge must read 0 everywhere for the cluster to count as
/// settled: two heal intervals (500 ms each), so that a primary has probed a restarted
/// replica (a restart on the same address raises no ring event) before its 0 is believed.
pub const STABLE: Duration = Duration::from_secs(1);

/// Why the cluster could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A node process failed.
    #[error(transparent)]
    Process(#[from] ProcessError),
    /// A namespace or link command failed.
    #[error(transparent)]
    Netns(#[from] NetnsError),
    /// `tc netem` failed.
    #[error(transparent)]
    Netem(#[from] crate::netem::NetemError),
    /// A condition did not come true in time.
    #[error("{what} did not happen within {waited:?}: {state}")]
    Timeout {
        /// The condition.
        what: String,
        /// How long it was waited for.
        waited: Duration,
        /// What was seen last.
        state: String,
    },
    /// The fault needs network namespaces (root).
    #[error("{0} needs network namespaces, which need root")]
    NeedsNetns(&'static str),
    /// The node is not running.
    #[error("node {0} is not running")]
    NotRunning(usize),
}

/// How to start a cluster.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// The `dendrite` binary.
    pub binary: PathBuf,
    /// How many nodes.
    pub nodes: usize,
    /// Extra copies of every key.
    pub replicas: u8,
    /// Vnodes per node.
    pub vnodes: u16,
    /// A directory for the nodes' logs (`node-<i>.log`, appended across restarts).
    pub log_dir: Option<PathBuf>,
}

/// The running cluster.
pub struct Cluster {
    // Dropped first: the nodes die before their namespaces go.
    nodes: Vec<Option<Node>>,
    netns: Option<Netns>,
    config: ClusterConfig,
    /// Per node: ring, RESP and HTTP addresses, fixed for the cluster's life.
    rings: Vec<String>,
    resps: Vec<String>,
    https: Vec<String>,
    /// Per node: its clock offset, in ms.
    clock_offsets: Vec<i64>,
}

impl Cluster {
    /// Starts the nodes, the first creating the ring and the others joining it, and waits until
    /// the ring has settled with every range fully replicated.
    pub async fn start(config: ClusterConfig) -> Result<Cluster, ClusterError> {
        let netns = if is_root() {
            Some(Netns::new(config.nodes)?)
        } else {
            None
        };
        let count = config.nodes;
        let mut cluster = Cluster {
            nodes: (0..count).map(|_| None).collect(),
            rings: Vec::new(),
            resps: Vec::new(),
            https: Vec::new(),
            clock_offsets: vec![0; count],
            netns,
            config,
        };
        for index in 0..count {
            let (ring, resp, http) = match &cluster.netns {
                Some(netns) => (
                    netns.ring_address(index),
                    netns.client_address(index, 6380),
                    netns.client_address(index, 8380),
                ),
                None => (
                    "127.0.0.1:0".to_owned(),
                    "127.0.0.1:0".to_owned(),
                    "127.0.0.1:0".to_owned(),
                ),
            };
            let join: Vec<String> = cluster.rings.first().cloned().into_iter().collect();
            let node = cluster.launch(index, [&ring, &resp, &http], &join).await?;
            // On loopback the ports are the kernel's choice: keep them for restarts.
            cluster.rings.push(node.ring.clone());
            cluster.resps.push(node.resp.clone());
            cluster.https.push(node.http.clone());
            cluster.nodes[index] = Some(node);
        }
        cluster.wait_settled(Duration::from_secs(60)).await?;
        Ok(cluster)
    }

    async fn launch(
        &self,
        index: usize,
        [ring, resp, http]: [&str; 3],
        join: &[String],
    ) -> Result<Node, ClusterError> {
        let log: Option<PathBuf> = self
            .config
            .log_dir
            .as_ref()
            .map(|dir| dir.join(format!("node-{index}.log")));
        let addresses = Addresses {
            netns: self.netns.as_ref().map(|n| n.namespaces[index].as_str()),
            listen: ring,
            resp,
            http,
            log: log.as_deref(),
        };
        let replicas = self.config.replicas.to_string();
        let vnodes = self.config.vnodes.to_string();
        let offset = self.clock_offsets[index].to_string();
        let flags = [
            "--replicas",
            &replicas,
            "--vnodes",
            &vnodes,
            "--clock-offset-ms",
            &offset,
        ];
        let join: Vec<&str> = join.iter().map(String::as_str).collect();
        Ok(Node::start(&self.config.binary, &addresses, &join, &flags).await?)
    }

    /// Whether links can be cut (the nodes run in network namespaces).
    pub fn has_netns(&self) -> bool {
        self.netns.is_some()
    }

    /// The namespaces, when the nodes run in them.
    pub fn netns(&self) -> Option<&Netns> {
        self.netns.as_ref()
    }

    /// How many nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The RESP address of every node.
    pub fn resp_addresses(&self) -> Vec<String> {
        self.resps.clone()
    }

    /// The binary the nodes run.
    pub fn binary(&self) -> &Path {
        &self.config.binary
    }

    fn node(&self, index: usize) -> Result<&Node, ClusterError> {
        self.nodes
            .get(index)
            .and_then(Option::as_ref)
            .ok_or(ClusterError::NotRunning(index))
    }

    /// `kill -9` of node `index`.
    pub async fn kill(&mut self, index: usize) -> Result<(), ClusterError> {
        if let Some(mut node) = self.nodes.get_mut(index).and_then(Option::take) {
            node.kill().await?;
        }
        Ok(())
    }

    /// Starts node `index` again on its addresses, joining through the other running nodes,
    /// with its clock `offset_ms` off.
    pub async fn restart(&mut self, index: usize, offset_ms: i64) -> Result<(), ClusterError> {
        self.clock_offsets[index] = offset_ms;
        let join: Vec<String> = (0..self.len())
            .filter(|&i| i != index && self.nodes[i].is_some())
            .map(|i| self.rings[i].clone())
            .collect();
        let addresses = [
            self.rings[index].clone(),
            self.resps[index].clone(),
            self.https[index].clone(),
        ];
        let [ring, resp, http] = &addresses;
        let node = self.launch(index, [ring, resp, http], &join).await?;
        self.nodes[index] = Some(node);
        Ok(())
    }

    /// Node `index`'s clock offset, in ms.
    pub fn clock_offset(&self, index: usize) -> i64 {
        self.clock_offsets[index]
    }

    /// SIGSTOP of node `index`.
    pub async fn pause(&self, index: usize) -> Result<(), ClusterError> {
        Ok(self.node(index)?.pause().await?)
    }

    /// SIGCONT of node `index`.
    pub async fn resume(&self, index: usize) -> Result<(), ClusterError> {
        Ok(self.node(index)?.resume().await?)
    }

    fn netns_for(&self, what: &'static str) -> Result<&Netns, ClusterError> {
        self.netns.as_ref().ok_or(ClusterError::NeedsNetns(what))
    }

    /// Cuts `minority` off from the other nodes (they still reach each other).
    pub fn partition(&self, minority: &[usize]) -> Result<(), ClusterError> {
        Ok(self.netns_for("a partition")?.partition(minority)?)
    }

    /// Cuts `minority` off from every other node but `bridge`, which reaches both sides.
    pub fn bridge(&self, bridge: usize, minority: &[usize]) -> Result<(), ClusterError> {
        let netns = self.netns_for("a bridge partition")?;
        let majority: Vec<usize> = (0..self.len())
            .filter(|n| *n != bridge && !minority.contains(n))
            .collect();
        for &node in minority {
            netns.cut(node, &majority)?;
        }
        for &node in &majority {
            netns.cut(node, minority)?;
        }
        Ok(())
    }

    /// Drops the packets `senders` send to every other node (theirs still arrive).
    pub fn one_way(&self, senders: &[usize]) -> Result<(), ClusterError> {
        let netns = self.netns_for("a one-way cut")?;
        let others: Vec<usize> = (0..self.len()).filter(|n| !senders.contains(n)).collect();
        for &node in senders {
            netns.cut(node, &others)?;
        }
        Ok(())
    }

    /// The ring hosts node `index` lists now, as indices of this cluster's nodes (`None`:
    /// its `/status` did not answer): what a fault's log line shows of the cut's effect.
    pub async fn sees(&self, index: usize) -> Option<Vec<usize>> {
        let hosts = ring_hosts(self.node(index).ok()?).await?;
        Some(
            hosts
                .iter()
                .filter_map(|host| self.rings.iter().position(|ring| ring == host))
                .collect(),
        )
    }

    /// Undoes [`Cluster::partition`], [`Cluster::bridge`] and [`Cluster::one_way`].
    pub fn heal(&self) -> Result<(), ClusterError> {
        Ok(self.netns_for("a partition")?.heal()?)
    }

    /// Makes node `index`'s cluster link slow and lossy.
    pub fn slow_link(&self, index: usize, delay_ms: u32, loss: u32) -> Result<(), ClusterError> {
        let netns = self.netns_for("a slow link")?;
        Ok(crate::netem::slow(netns, index, delay_ms, loss)?)
    }

    /// Restores node `index`'s cluster link.
    pub fn restore_link(&self, index: usize) -> Result<(), ClusterError> {
        let netns = self.netns_for("a slow link")?;
        Ok(crate::netem::clear(netns, index)?)
    }

    /// Polls until every node in each of `sides` lists exactly the ring hosts of its side.
    pub async fn wait_sides(
        &self,
        sides: &[Vec<usize>],
        wait: Duration,
    ) -> Result<Duration, ClusterError> {
        let started = Instant::now();
        loop {
            let mut wrong = Vec::new();
            for side in sides {
                let mut wanted: Vec<String> = side.iter().map(|&i| self.rings[i].clone()).collect();
                wanted.sort();
                for &i in side {
                    match ring_hosts(self.node(i)?).await {
                        Some(hosts) if hosts == wanted => {}
                        Some(hosts) => wrong.push(format!("node {i} sees {hosts:?}")),
                        None => wrong.push(format!("node {i} does not answer /status")),
                    }
                }
            }
            if wrong.is_empty() {
                return Ok(started.elapsed());
            }
            if started.elapsed() >= wait {
                return Err(ClusterError::Timeout {
                    what: format!("every node seeing the ring of its side of {sides:?}"),
                    waited: wait,
                    state: wrong.join("; "),
                });
            }
            sleep(POLL).await;
        }
    }

    /// Polls until the ring has settled over every node and the under-replication gauge has
    /// read 0 on each for [`STABLE`]: every range has its copies again. Returns how long it
    /// took.
    pub async fn wait_settled(&self, wait: Duration) -> Result<Duration, ClusterError> {
        let started = Instant::now();
        let mut whole_since: Option<Instant> = None;
        loop {
            let nodes: Vec<&Node> = self.nodes.iter().flatten().collect();
            let settled = ring_settled(&nodes, usize::from(self.config.replicas)).await;
            let mut gauges = Vec::new();
            for node in &nodes {
                gauges.push(underreplicated(node).await);
            }
            if settled && nodes.len() == self.len() && gauges.iter().all(|g| *g == Some(0)) {
                let since = *whole_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= STABLE {
                    return Ok(started.elapsed());
                }
            } else {
                whole_since = None;
            }
            if started.elapsed() >= wait {
                return Err(ClusterError::Timeout {
                    what: "the ring settling with every range fully replicated".into(),
                    waited: wait,
                    state: format!(
                        "{} of {} nodes running, ring settled: {settled}, underreplicated_ranges \
                         per node: {gauges:?}",
                        nodes.len(),
                        self.len()
                    ),
                });
            }
            sleep(POLL).await;
        }
    }
}

//! A whole ring of nodes on one [`MemNetwork`], driven from one seed: what the ring tests and the
//! simulator build their scenarios from.
//!
//! Run it on a current-thread runtime with tokio's clock paused
//! (`#[tokio::test(start_paused = true)]`): timers then fire in virtual time, as fast as the CPU
//! allows, and the same seed replays the same run event for event.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

use super::MemNetwork;
use crate::chord::{ideal_state_sorted, successor_of};
use crate::config::Config;
use crate::event::RingEvent;
use crate::id::Id;
use crate::ring::{Ring, RingError};
use crate::vnode::Vnode;

/// One recorded event: when (virtual time since the cluster started) and what.
pub type TracedEvent = (Duration, RingEvent);

/// A seeded ring of in-memory nodes.
pub struct Cluster {
    net: Arc<MemNetwork>,
    template: Config,
    rng: SmallRng,
    nodes: BTreeMap<String, Arc<Ring>>,
    next_index: usize,
    trace: Arc<Mutex<Vec<TracedEvent>>>,
    listeners: Vec<JoinHandle<()>>,
    started: tokio::time::Instant,
    host_prefix: String,
}

impl Cluster {
    /// An empty cluster; every node gets `template` with its own host and a seed drawn from
    /// `seed`.
    pub fn new(seed: u64, template: Config) -> Cluster {
        Cluster {
            net: MemNetwork::new(seed),
            template,
            rng: SmallRng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15),
            nodes: BTreeMap::new(),
            next_index: 0,
            trace: Arc::new(Mutex::new(Vec::new())),
            listeners: Vec::new(),
            started: tokio::time::Instant::now(),
            host_prefix: "node".to_string(),
        }
    }

    /// Names the nodes added from now on `{prefix}{index}:7000` instead of `node{index}:7000`.
    /// Vnode ids derive from host names, so the simulator gives each seed its own prefix to get
    /// a different ring per seed.
    pub fn set_host_prefix(&mut self, prefix: &str) {
        self.host_prefix = prefix.to_string();
    }

    fn next_host(&mut self) -> String {
        let host = format!("{}{}:7000", self.host_prefix, self.next_index);
        self.next_index += 1;
        host
    }

    /// The network, to inject latency, loss and partitions.
    pub fn network(&self) -> &Arc<MemNetwork> {
        &self.net
    }

    /// The running nodes, by host.
    pub fn nodes(&self) -> &BTreeMap<String, Arc<Ring>> {
        &self.nodes
    }

    /// Starts one more node: it creates the ring if it is the first, else joins through a
    /// running node chosen by the seeded RNG.
    pub async fn add_node(&mut self) -> Result<Arc<Ring>, RingError> {
        let host = self.next_host();
        let mut config = self.template.clone();
        config.host = host.clone();
        config.rng_seed = Some(self.rng.gen());
        let endpoint = self.net.endpoint(&host);
        let ring = if self.nodes.is_empty() {
            Ring::create(config, endpoint).await?
        } else {
            let hosts: Vec<&String> = self.nodes.keys().collect();
            let seed = hosts[self.rng.gen_range(0..hosts.len())].clone();
            Ring::join(config, endpoint, &[seed]).await?
        };
        self.listen(&ring);
        self.nodes.insert(host, ring.clone());
        Ok(ring)
    }

    /// Starts `count` more nodes and gives every vnode of the cluster its converged pointers at
    /// once (no joins, no waiting): how the simulator builds rings of thousands of nodes.
    /// Only with the `simulation` feature (see [`Ring::install_pointers`]).
    #[cfg(feature = "simulation")]
    pub async fn add_converged(&mut self, count: usize) -> Result<(), RingError> {
        for _ in 0..count {
            let host = self.next_host();
            let mut config = self.template.clone();
            config.host = host.clone();
            config.rng_seed = Some(self.rng.gen());
            let ring = Ring::create(config, self.net.endpoint(&host)).await?;
            self.listen(&ring);
            self.nodes.insert(host, ring);
        }
        self.install_ideal();
        Ok(())
    }

    /// Sets every vnode's pointers to the ideal ones for the current membership.
    /// Only with the `simulation` feature (see [`Ring::install_pointers`]).
    #[cfg(feature = "simulation")]
    pub fn install_ideal(&self) {
        let all = self.vnodes();
        // In ring order: neighbouring vnodes have nearly the same fingers, so the searches and
        // the vnodes they clone stay in cache (at 10^5 nodes, in host order, nearly every one
        // missed; docs/simulation.md, *Speed*).
        for vnode in &all {
            let Some(ring) = self.nodes.get(&*vnode.host) else {
                continue;
            };
            let ideal = ideal_state_sorted(vnode, &all, self.template.num_successors);
            ring.install_pointers(
                vnode,
                Some(ideal.predecessor),
                ideal.successors,
                ideal.fingers,
            );
        }
    }

    /// Records every event of `ring` into the cluster's trace.
    fn listen(&mut self, ring: &Arc<Ring>) {
        let mut events = ring.subscribe();
        let trace = self.trace.clone();
        let started = self.started;
        self.listeners.push(tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(e) => trace
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push((started.elapsed(), e)),
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return,
                }
            }
        }));
    }

    /// Kills `host` without warning (as kill -9 would).
    pub fn crash(&mut self, host: &str) -> Option<Arc<Ring>> {
        let ring = self.nodes.remove(host)?;
        ring.shutdown();
        self.net.crash(host);
        Some(ring)
    }

    /// Makes `host` leave gracefully.
    pub async fn leave(&mut self, host: &str) -> Result<(), RingError> {
        let ring = self.nodes.remove(host).ok_or(RingError::Shutdown)?;
        ring.leave().await
    }

    /// Every vnode of every running node.
    pub fn vnodes(&self) -> Vec<Vnode> {
        let mut all: Vec<Vnode> = self.nodes.values().flat_map(|r| r.local_vnodes()).collect();
        all.sort_by_key(|v| v.id);
        all
    }

    /// The events recorded so far.
    pub fn trace(&self) -> Vec<TracedEvent> {
        self.trace
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Lets virtual time pass until every vnode's pointers equal the ideal ones (checked once per
    /// `stabilize_max`), for at most `max_rounds` checks. Returns the checks it took, or the
    /// last difference seen.
    pub async fn wait_converged(&self, max_rounds: usize) -> Result<usize, String> {
        let mut last = String::new();
        for round in 0..=max_rounds {
            match self.check_converged() {
                Ok(()) => return Ok(round),
                Err(diff) => last = diff,
            }
            tokio::time::sleep(self.template.stabilize_max).await;
        }
        Err(last)
    }

    /// Compares every vnode's predecessor, successor list and fingers with the ideal ones.
    pub fn check_converged(&self) -> Result<(), String> {
        let all = self.vnodes();
        for ring in self.nodes.values() {
            for snap in ring.snapshot() {
                let ideal = ideal_state_sorted(&snap.vnode, &all, self.template.num_successors);
                if snap.predecessor.as_ref() != Some(&ideal.predecessor) {
                    return Err(format!(
                        "{}: predecessor {:?}, expected {}",
                        snap.vnode, snap.predecessor, ideal.predecessor
                    ));
                }
                if snap.successors != ideal.successors {
                    return Err(format!(
                        "{}: successors {:?}, expected {:?}",
                        snap.vnode, snap.successors, ideal.successors
                    ));
                }
                for (i, (have, want)) in snap.fingers.iter().zip(&ideal.fingers).enumerate() {
                    if have.as_ref() != Some(want) {
                        return Err(format!(
                            "{}: finger {i} is {have:?}, expected {want}",
                            snap.vnode
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Looks up `count` random keys from random nodes; returns how many answers were not the
    /// key's true successor (errors count as wrong).
    pub async fn wrong_lookups(&mut self, count: usize) -> usize {
        let all = self.vnodes();
        let rings: Vec<Arc<Ring>> = self.nodes.values().cloned().collect();
        if rings.is_empty() {
            return count;
        }
        let mut wrong = 0;
        for _ in 0..count {
            let mut raw = [0u8; 20];
            self.rng.fill(&mut raw);
            let key = Id::new(raw);
            let ring = &rings[self.rng.gen_range(0..rings.len())];
            let truth = successor_of(&all, &key);
            match ring.find_successors(key, 1).await {
                Ok(found) if found.first() == Some(&truth) => {}
                _ => wrong += 1,
            }
        }
        wrong
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for l in &self.listeners {
            l.abort();
        }
        for ring in self.nodes.values() {
            ring.shutdown();
        }
    }
}

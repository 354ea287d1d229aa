//! The ring: this node's vnodes, their stabilization tasks, lookups, join and leave.
//!
//! [`Ring`] is the async shell around the protocol core in [`crate::chord`]: it owns one
//! [`VnodeState`] per local vnode behind its own small lock (never held across an `.await`),
//! makes the remote calls the core asks for through a [`Transport`], and publishes what changed
//! as [`RingEvent`]s.
//!
//! - `serve`: answers incoming frames (ring messages and registered extensions);
//! - `stabilize`: the periodic rounds that keep successors, fingers and the
//!   predecessor right;
//! - `lookup`: iterative `find_successors`, with hop bound, deadline and a way
//!   around dead vnodes;
//! - `survey`: every vnode of a ring, walked from outside before joining;
//! - `reunion`: probes hosts lost from view and merges rings a partition split.
//! - `reach`: how many hosts this node reaches, and whether it is rejoining after a partition.
//! - `forget`: what a vnode found dead or suspect does to every local vnode's pointers.
//! - `witness`: what an application saw of other vnodes acting as owners corrects the ring.

mod forget;
mod lookup;
mod nudge;
mod reach;
mod serve;

pub use crate::flow::lookup::LookupStats;
mod reunion;
mod stabilize;
mod survey;
mod vacancy;
mod witness;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::chord::{DeadVnodes, VnodeState};
use crate::config::{Config, ConfigError};
use crate::event::RingEvent;
use crate::flow::join::{Join, JoinStep};
use crate::id::Id;
use crate::lost_hosts::LostHosts;
use crate::message::{CodecError, Message};
use crate::transport::{ExtensionHandler, Extensions, RegistryError, Transport, TransportError};
use crate::vnode::Vnode;

/// Why a ring operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RingError {
    /// The configuration cannot work.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// A remote call failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// A peer answered with an `Err` message.
    #[error("{host} answered with an error: {error}")]
    Remote {
        /// Peer address.
        host: String,
        /// Its error text.
        error: String,
    },
    /// A peer's host answered that it runs no such vnode (docs/wire.md §4): the vnode left,
    /// or its node restarted on that address with other vnode ids. Gone like a dead host's.
    #[error("{host} runs no such vnode ({error}); forget it, it left or its node restarted")]
    VnodeGone {
        /// Peer address.
        host: String,
        /// Its error text.
        error: String,
    },
    /// A peer answered with a message that makes no sense for the request.
    #[error("{host} answered with an unexpected message type 0x{kind:02x}")]
    UnexpectedReply {
        /// Peer address.
        host: String,
        /// Type byte of the reply.
        kind: u8,
    },
    /// A peer answered with a frame that does not decode.
    #[error("{host} answered with an undecodable frame: {error}")]
    BadReply {
        /// Peer address.
        host: String,
        /// What the codec said.
        error: CodecError,
    },
    /// None of the seed nodes could be reached or listed its vnodes.
    #[error("could not join through any of {0:?}; check the addresses and that those nodes run")]
    NoSeed(Vec<String>),
    /// A lookup exceeded its hop bound.
    #[error("lookup of {key} did not finish within {hops} hops")]
    TooManyHops {
        /// Key looked up.
        key: Id,
        /// Hops followed.
        hops: usize,
    },
    /// A lookup exceeded its deadline.
    #[error("lookup of {0} did not finish before its deadline")]
    LookupTimeout(Id),
    /// Every successor of a vnode is gone.
    #[error("vnode {0} has no live successor left")]
    NoSuccessors(Vnode),
    /// The ring was shut down or left.
    #[error("the ring has been shut down on this node")]
    Shutdown,
}

impl RingError {
    /// Does this error mean the peer is unreachable (as opposed to answering badly)?
    pub fn is_unreachable(&self) -> bool {
        matches!(self, RingError::Transport(_))
    }

    /// Did the peer's host answer that it runs no such vnode ([`RingError::VnodeGone`])? A
    /// node restarted on its address with other vnode ids answers this for its old ones: they
    /// are as gone as a dead host's.
    pub fn is_vnode_gone(&self) -> bool {
        matches!(self, RingError::VnodeGone { .. })
    }

    /// The error an `Err` answer from `host` stands for. The wire carries only text (docs/
    /// wire.md §4, shared with Go peers), so this is the one place it is read: our "no vnode
    /// ... on this node" becomes [`RingError::VnodeGone`], anything else
    /// [`RingError::Remote`].
    pub fn from_err_reply(host: impl Into<String>, error: String) -> RingError {
        let host = host.into();
        if error.starts_with(serve::NO_SUCH_VNODE) {
            RingError::VnodeGone { host, error }
        } else {
            RingError::Remote { host, error }
        }
    }
}

/// What local vnode knows of its neighbours, without the finger table (see
/// [`Ring::neighbours`]): named fields, so that a caller cannot take the replica set for the
/// successor list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbours {
    /// Its predecessor; `None` until one has notified it (or after it failed).
    pub predecessor: Option<Vnode>,
    /// Its successor list, nearest first; empty when the vnode is alone on the ring.
    pub successors: Vec<Vnode>,
    /// The vnodes that hold replicas of its range: the first successors on distinct other hosts.
    pub replicas: Vec<Vnode>,
}

/// The vnode asked about is not one of this node's vnodes.
///
/// Kept apart from "no predecessor yet", which is a normal state of a local vnode: the two
/// used to be `None` and `Some(None)`, which callers could not tell apart at a glance.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("vnode {0} is not on this node")]
pub struct NotLocal(pub Vnode);

/// What one local vnode knows of its neighbourhood, for status pages and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VnodeSnapshot {
    /// The local vnode.
    pub vnode: Vnode,
    /// Its predecessor, when known.
    pub predecessor: Option<Vnode>,
    /// Its successor list, nearest first.
    pub successors: Vec<Vnode>,
    /// Finger `i` points at successor(vnode + 2^i), when known; 160 entries.
    pub fingers: Vec<Option<Vnode>>,
    /// The vnodes that hold replicas of this vnode's range.
    pub replicas: Vec<Vnode>,
}

/// This node's part of a Chord ring.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), dendrite::RingError> {
/// use dendrite::{mem::MemNetwork, Config, Id, Ring};
/// let net = MemNetwork::new(1);
/// let a = Ring::create(Config::new("a:1"), net.endpoint("a:1")).await?;
/// let b = Ring::join(Config::new("b:1"), net.endpoint("b:1"), &["a:1".to_string()]).await?;
/// let owners = b.find_successors(Id::of_key(b"hello"), 1).await?;
/// assert_eq!(owners.len(), 1);
/// # drop(a); Ok(()) }
/// ```
pub struct Ring {
    config: Config,
    transport: Arc<dyn Transport>,
    /// Local vnodes, sorted by id; the vector never changes after construction.
    vnodes: Vec<(Vnode, Mutex<VnodeState>)>,
    events: broadcast::Sender<RingEvent>,
    extensions: Extensions,
    rng: Mutex<SmallRng>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    stopped: AtomicBool,
    /// Other nodes this one has seen on the ring (seeds, successors): where to look for the ring
    /// again if every remote vnode disappears from view (a partition that healed).
    known_hosts: Mutex<std::collections::BTreeSet<String>>,
    /// Vnodes found dead (failed calls, leaves): lookups skip them even when a vnode that has
    /// not noticed yet still lists them.
    dead: Mutex<DeadVnodes>,
    /// Hosts whose vnodes were found dead, probed now and then: the first to answer after a
    /// partition heals is where this node's ring and the other side's merge.
    lost_hosts: Mutex<LostHosts>,
    /// [`LostHosts::rejoin_epoch`], mirrored for lock-free reads on every request.
    rejoin_epoch: AtomicU64,
    /// When each remote host last answered a call or notified one of our vnodes: what tells
    /// a predecessor check whose pings timed out that a partition healed meanwhile.
    last_heard: Mutex<std::collections::BTreeMap<Arc<str>, Duration>>,
    /// When each local vnode's hand-over was last confirmed (its first successor named it as
    /// predecessor): see [`Ring::hand_over_confirmed_within`].
    handed_over: Mutex<std::collections::BTreeMap<Id, Duration>>,
    /// Where the clock of `dead`, `lost_hosts`, `last_heard` and `handed_over` starts.
    started: tokio::time::Instant,
    /// One per local vnode, in the order of `vnodes`: wakes its stabilization task for a
    /// nudged check (see `ring/nudge.rs`).
    nudges: Vec<Arc<tokio::sync::Notify>>,
    /// Wakes the probe task at once: a lost host answered, so a probe can merge through it.
    probe_now: Arc<tokio::sync::Notify>,
}

/// Most dead vnodes remembered per node.
const MAX_DEAD_VNODES: usize = 1024;

/// Most lost hosts probed per node.
const MAX_LOST_HOSTS: usize = 256;

impl Ring {
    /// Starts a new ring made of this node's vnodes only.
    pub async fn create(
        config: Config,
        transport: Arc<dyn Transport>,
    ) -> Result<Arc<Ring>, RingError> {
        Ring::create_with(config, transport, Extensions::default()).await
    }

    /// [`create`](Self::create), with extension message types registered before the node
    /// answers anything.
    pub async fn create_with(
        config: Config,
        transport: Arc<dyn Transport>,
        extensions: Extensions,
    ) -> Result<Arc<Ring>, RingError> {
        let ring = Ring::build(config, transport, extensions)?;
        let all = ring.local_vnodes();
        for (vnode, state) in &ring.vnodes {
            let mut s = lock(state);
            s.set_successors(all.iter().cloned());
            if let Some(pred) = all
                .iter()
                .filter(|v| v.id != vnode.id)
                .max_by_key(|v| vnode.id.distance_to(&v.id))
            {
                s.notify(pred);
            }
            s.refresh_replicas();
        }
        info!(host = %ring.config.host, vnodes = all.len(), "created a new ring");
        ring.start();
        Ok(ring)
    }

    /// Joins the ring that `seeds` (one or more member addresses, tried in order) belong to.
    pub async fn join(
        config: Config,
        transport: Arc<dyn Transport>,
        seeds: &[String],
    ) -> Result<Arc<Ring>, RingError> {
        Ring::join_with(config, transport, seeds, Extensions::default()).await
    }

    /// [`join`](Self::join), with extension message types registered before the ring learns
    /// of this node, so an application (dtable) is reachable the moment the node is.
    pub async fn join_with(
        config: Config,
        transport: Arc<dyn Transport>,
        seeds: &[String],
        extensions: Extensions,
    ) -> Result<Arc<Ring>, RingError> {
        let ring = Ring::build(config, transport, extensions)?;
        let mut join = Join::new(
            &ring.config.host,
            seeds,
            ring.local_vnodes(),
            ring.config.num_successors,
        );
        loop {
            match join.poll() {
                JoinStep::ListVnodes { seed } => {
                    join.on_seed_reply(ring.call(&seed, &Message::ListVnodes).await);
                }
                JoinStep::RememberSeeds(seeds) => lock(&ring.known_hosts).extend(seeds),
                JoinStep::Lookup { start, key, n } => {
                    join.on_lookup(ring.lookup_from(start, key, n).await);
                }
                JoinStep::Successors { index, successors } => {
                    if let Some((_, state)) = ring.vnodes.get(index) {
                        let mut s = lock(state);
                        s.set_successors(successors);
                        s.refresh_replicas();
                    }
                }
                // Tells our successors about us now rather than at the first periodic round.
                JoinStep::Stabilize(index) => ring.stabilize(index).await,
                JoinStep::Done(result) => {
                    result?;
                    break;
                }
            }
        }
        ring.start();
        Ok(ring)
    }

    fn build(
        config: Config,
        transport: Arc<dyn Transport>,
        extensions: Extensions,
    ) -> Result<Arc<Ring>, RingError> {
        config.validate()?;
        let host = transport.local_host();
        let mut local: Vec<Vnode> = if config.vnode_ids.is_empty() {
            (0..config.num_vnodes)
                .map(|i| Vnode::local(host, i))
                .collect()
        } else {
            config
                .vnode_ids
                .iter()
                .map(|id| Vnode::new(*id, host))
                .collect()
        };
        local.sort_by_key(|v| v.id);
        let nudges = local
            .iter()
            .map(|_| Arc::new(tokio::sync::Notify::new()))
            .collect();
        let vnodes = local
            .into_iter()
            .map(|v| {
                let state = VnodeState::new(v.clone(), config.num_successors, config.replicas);
                (v, Mutex::new(state))
            })
            .collect();
        let seed = config.rng_seed.unwrap_or_else(rand::random);
        let (events, _) = broadcast::channel(config.event_buffer);
        // A dead vnode leaves the successor lists that hold it within about one stabilization
        // round per list position; after that, remembering it protects nothing.
        let dead_ttl = config
            .stabilize_max
            .saturating_mul(u32::try_from(config.num_successors).unwrap_or(u32::MAX))
            .max(config.rpc_timeout);
        let ring = Arc::new(Ring {
            config,
            transport,
            vnodes,
            events,
            extensions,
            rng: Mutex::new(SmallRng::seed_from_u64(seed)),
            tasks: Mutex::new(Vec::new()),
            stopped: AtomicBool::new(false),
            known_hosts: Mutex::new(std::collections::BTreeSet::new()),
            dead: Mutex::new(DeadVnodes::new(dead_ttl, MAX_DEAD_VNODES)),
            lost_hosts: Mutex::new(LostHosts::new(MAX_LOST_HOSTS)),
            rejoin_epoch: AtomicU64::new(0),
            last_heard: Mutex::new(std::collections::BTreeMap::new()),
            handed_over: Mutex::new(std::collections::BTreeMap::new()),
            started: tokio::time::Instant::now(),
            nudges,
            probe_now: Arc::new(tokio::sync::Notify::new()),
        });
        ring.transport
            .set_handler(Arc::new(serve::RingHandler::new(Arc::downgrade(&ring))));
        Ok(ring)
    }

    /// A pause drawn uniformly from the stabilization range.
    fn jitter(&self) -> Duration {
        let (min, max) = (self.config.stabilize_min, self.config.stabilize_max);
        if max <= min {
            return min;
        }
        lock(&self.rng).gen_range(min..=max)
    }

    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    /// Leaves gracefully: tells neighbours at once, stops stabilization. Subscribers see the
    /// events; data hand-off is the caller's (dtable's) job before calling this.
    pub async fn leave(&self) -> Result<(), RingError> {
        if self.stopped.swap(true, Ordering::AcqRel) {
            return Err(RingError::Shutdown);
        }
        self.abort_tasks();
        let host = &*self.config.host;
        let mut successors_told = Vec::new();
        let mut predecessors_told = Vec::new();
        for (index, (vnode, _)) in self.vnodes.iter().enumerate() {
            let remote_successors = self.remote_successors(index);
            let pred = self.remote_predecessor(index);
            // Both neighbours get both: whichever message a node gets first, every vnode of it
            // that lists us can take our successors in our place.
            if let Some(succ) = remote_successors.first() {
                successors_told.push((
                    vnode.clone(),
                    succ.clone(),
                    remote_successors.clone(),
                    pred.clone(),
                ));
            }
            if let Some(dest) = pred.clone() {
                predecessors_told.push((vnode.clone(), dest, remote_successors, pred));
            }
        }
        // Successors first: they take our predecessor as theirs; then our predecessors take
        // our successors in our place and notify the first, which confirms them as its
        // predecessor (Chord's voluntary leave).
        for (source, dest, successors, predecessor) in
            successors_told.into_iter().chain(predecessors_told)
        {
            let msg = Message::Leave {
                source: source.clone(),
                dest: dest.clone(),
                successors,
                predecessor,
            };
            if let Err(e) = self.call(&dest.host, &msg).await {
                warn!(%host, %source, %dest, error = %e, "could not tell a neighbour we leave");
            }
        }
        self.transport.set_handler(Arc::new(crate::mem::Unready));
        info!(%host, "left the ring");
        Ok(())
    }

    /// The successors of local vnode `index` that live on other nodes, nearest first, at most
    /// `num_successors`: what its predecessor takes in its place when this node leaves. Our
    /// other vnodes leave too, so a list that ends in one of ours goes on with that vnode's
    /// list.
    fn remote_successors(&self, index: usize) -> Vec<Vnode> {
        let me = self.transport.local_host();
        let wanted = self.config.num_successors;
        let mut out: Vec<Vnode> = Vec::with_capacity(wanted);
        let Some((_, state)) = self.vnodes.get(index) else {
            return out;
        };
        let mut list = lock(state).successors().to_vec();
        for _ in 0..self.vnodes.len() {
            for v in &list {
                if out.len() >= wanted {
                    return out;
                }
                if &*v.host != me && out.iter().all(|o| o.id != v.id) {
                    out.push(v.clone());
                }
            }
            let Some(next) = list
                .last()
                .filter(|v| &*v.host == me)
                .and_then(|v| self.state(v))
            else {
                break;
            };
            list = lock(next).successors().to_vec();
        }
        out
    }

    /// The first predecessor of local vnode `index` that lives on another node (walking back
    /// through local predecessors).
    fn remote_predecessor(&self, index: usize) -> Option<Vnode> {
        let me = self.transport.local_host();
        let mut current = lock(&self.vnodes.get(index)?.1).predecessor().cloned()?;
        for _ in 0..self.vnodes.len() {
            if &*current.host != me {
                return Some(current);
            }
            let state = self.state(&current)?;
            current = lock(state).predecessor().cloned()?;
        }
        None
    }

    /// Stops at once without telling anyone (what a crash looks like to the others); the
    /// transport answers further frames with an error.
    pub fn shutdown(&self) {
        self.stopped.store(true, Ordering::Release);
        self.abort_tasks();
        self.transport.set_handler(Arc::new(crate::mem::Unready));
    }

    fn abort_tasks(&self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }

    /// The configuration this ring runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The transport this ring uses (extensions send their own messages through it).
    pub fn transport(&self) -> &Arc<dyn Transport> {
        &self.transport
    }

    /// This node's address on the ring.
    pub fn local_host(&self) -> &str {
        self.transport.local_host()
    }

    /// This node's vnodes, sorted by id.
    pub fn local_vnodes(&self) -> Vec<Vnode> {
        self.vnodes.iter().map(|(v, _)| v.clone()).collect()
    }

    /// Does one of this node's vnodes own `position`, by the predecessor it knows (`position`
    /// in `(predecessor, vnode]`)? `false` while a vnode knows no predecessor. Asked for every
    /// command of a Redis Cluster client, so it copies nothing (no vnode list, no predecessor).
    pub fn owns_locally(&self, position: &Id) -> bool {
        self.vnodes.iter().any(|(vnode, state)| {
            lock(state).predecessor().is_some_and(|predecessor| {
                position.is_between_right_incl(&predecessor.id, &vnode.id)
            })
        })
    }

    /// The first `n` vnodes at or after `key` on the ring (iterative lookup, bounded in hops and
    /// time).
    pub async fn find_successors(&self, key: Id, n: usize) -> Result<Vec<Vnode>, RingError> {
        self.find_successors_counted(key, n).await.0
    }

    /// [`find_successors`](Self::find_successors), also telling how many hops and failed calls
    /// the lookup took (for the simulator's path-length and failure experiments).
    pub async fn find_successors_counted(
        &self,
        key: Id,
        n: usize,
    ) -> (Result<Vec<Vnode>, RingError>, LookupStats) {
        let mut stats = LookupStats::default();
        if self.is_stopped() {
            return (Err(RingError::Shutdown), stats);
        }
        // Start at the local vnode closest before the key: it knows that part of the ring best.
        let Some(start) = self
            .vnodes
            .iter()
            .min_by_key(|(v, _)| v.id.distance_to(&key))
            .map(|(v, _)| v.clone())
        else {
            return (Err(RingError::Shutdown), stats);
        };
        let result = self.lookup_counted(start, key, n, &mut stats).await;
        (result, stats)
    }

    /// Overwrites what local vnode `vnode` knows: for simulations that build a large, already
    /// converged ring directly instead of by thousands of joins. Returns false when `vnode` is
    /// not one of ours. Stabilization keeps running and corrects anything wrong.
    ///
    /// Only with the `simulation` feature: it bypasses the protocol (a node given wrong pointers
    /// misroutes until stabilization repairs them), which a real node has no reason to do.
    #[cfg(feature = "simulation")]
    pub fn install_pointers(
        &self,
        vnode: &Vnode,
        predecessor: Option<Vnode>,
        successors: Vec<Vnode>,
        fingers: Vec<Vnode>,
    ) -> bool {
        let Some(state) = self.state(vnode) else {
            return false;
        };
        let event = {
            let mut s = lock(state);
            s.install(predecessor, successors, fingers);
            s.refresh_replicas()
        };
        self.emit(event);
        true
    }

    /// A receiver of every ring event from now on (see [`crate::event`]).
    pub fn subscribe(&self) -> broadcast::Receiver<RingEvent> {
        self.events.subscribe()
    }

    /// Registers an extension's message types; a type registered twice is an error.
    pub fn register_extension(
        &self,
        kinds: &[u8],
        handler: Arc<dyn ExtensionHandler>,
    ) -> Result<(), RegistryError> {
        self.extensions.register(kinds, handler)
    }

    /// What local vnode `vnode` knows of its neighbours now, without the finger table.
    pub fn neighbours(&self, vnode: &Vnode) -> Result<Neighbours, NotLocal> {
        let s = lock(self.local_state(vnode)?);
        Ok(Neighbours {
            predecessor: s.predecessor().cloned(),
            successors: s.successors().to_vec(),
            replicas: s.replica_set().to_vec(),
        })
    }

    /// The predecessor local `vnode` knows (`Ok(None)`: none yet). Cheaper than
    /// [`Ring::neighbours`] on hot paths: nothing but the predecessor is copied.
    pub fn predecessor(&self, vnode: &Vnode) -> Result<Option<Vnode>, NotLocal> {
        Ok(lock(self.local_state(vnode)?).predecessor().cloned())
    }

    /// The replica set of local `vnode` (see [`Neighbours::replicas`]).
    pub fn replicas(&self, vnode: &Vnode) -> Result<Vec<Vnode>, NotLocal> {
        Ok(lock(self.local_state(vnode)?).replica_set().to_vec())
    }

    /// The state of local `vnode`, or why there is none.
    fn local_state(&self, vnode: &Vnode) -> Result<&Mutex<VnodeState>, NotLocal> {
        self.state(vnode).ok_or_else(|| NotLocal(vnode.clone()))
    }

    /// Is the ring still running on this node (not left nor shut down)?
    pub fn is_running(&self) -> bool {
        !self.is_stopped()
    }

    /// What every local vnode knows now.
    pub fn snapshot(&self) -> Vec<VnodeSnapshot> {
        self.vnodes
            .iter()
            .map(|(vnode, state)| {
                let s = lock(state);
                VnodeSnapshot {
                    vnode: vnode.clone(),
                    predecessor: s.predecessor().cloned(),
                    successors: s.successors().to_vec(),
                    fingers: s.fingers().to_vec(),
                    replicas: s.replica_set().to_vec(),
                }
            })
            .collect()
    }

    /// Sends `frame` to `host` and returns the reply frame; frames for this node are handled
    /// in place without touching the transport.
    pub async fn call_frame(&self, host: &str, frame: Bytes) -> Result<Bytes, RingError> {
        if host == self.transport.local_host() {
            return Ok(self.handle_frame(frame).await);
        }
        Ok(self
            .transport
            .call(host, frame, self.config.rpc_timeout)
            .await?)
    }

    /// Sends a ring message and decodes the reply; an `Err` reply becomes an error
    /// ([`RingError::from_err_reply`]).
    async fn call(&self, host: &str, msg: &Message) -> Result<Message, RingError> {
        if host == self.transport.local_host() {
            // Ring requests between local vnodes are answered in place, without encoding.
            return match self.answer_in_place(msg.clone()) {
                Message::Err { error } => Err(RingError::from_err_reply(host, error)),
                m => Ok(m),
            };
        }
        let reply = self
            .transport
            .call(host, msg.encode(), self.config.rpc_timeout)
            .await?;
        self.host_answered(host);
        match Message::decode(reply) {
            Ok(Message::Err { error }) => Err(RingError::from_err_reply(host, error)),
            Ok(m) => Ok(m),
            Err(error) => Err(RingError::BadReply {
                host: host.to_string(),
                error,
            }),
        }
    }

    /// The state of local vnode `vnode`, if it is one of ours.
    fn state(&self, vnode: &Vnode) -> Option<&Mutex<VnodeState>> {
        self.vnodes
            .binary_search_by(|(v, _)| v.id.cmp(&vnode.id))
            .ok()
            .and_then(|i| self.vnodes.get(i))
            .map(|(_, s)| s)
    }

    /// Time on the clock of the dead-vnode set.
    fn since_start(&self) -> Duration {
        self.started.elapsed()
    }

    /// Is `vnode` one that this node found dead recently?
    fn known_dead(&self, vnode: &Vnode) -> bool {
        let dead = lock(&self.dead);
        !dead.is_empty() && dead.is_dead(vnode, self.since_start())
    }

    /// A call to `host` succeeded: none of its vnodes is dead.
    fn host_answered(&self, host: &str) {
        self.heard_from_host(host);
        {
            let mut dead = lock(&self.dead);
            if !dead.is_empty() {
                dead.host_answered(host, self.since_start());
            }
        }
        self.lost_host_answered(host);
    }

    /// `vnode` talked to us (it notified one of our vnodes): it is alive.
    fn heard_from(&self, vnode: &Vnode) {
        self.heard_from_host(&vnode.host);
        let mut dead = lock(&self.dead);
        if !dead.is_empty() {
            dead.alive(vnode);
        }
    }

    fn emit(&self, event: Option<RingEvent>) {
        if let Some(event) = event {
            debug!(vnode = %event.vnode(), ?event, "ring event");
            // No subscriber is fine: events are advisory.
            let _ = self.events.send(event);
        }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        self.abort_tasks();
    }
}

/// Locks a vnode's state; a panic elsewhere while holding it leaves plain data, still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

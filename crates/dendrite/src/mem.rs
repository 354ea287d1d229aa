//! An in-memory network for unit tests and the simulator: seeded latency, loss, partitions and
//! crashes, with no sockets.
//!
//! Every node gets an endpoint ([`MemNetwork::endpoint`]) that implements [`Transport`]. A call
//! sleeps for a latency drawn from the network's seeded RNG, hands the frame to the target's
//! handler, and sleeps again on the way back. Under tokio's paused clock on a current-thread
//! runtime, a whole run is a function of the seed.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use dendrite::mem::MemNetwork;
//! use dendrite::Transport;
//! let net = MemNetwork::new(7);
//! let a = net.endpoint("a:1");
//! let err = a.call("b:1", bytes::Bytes::from_static(&[0]), std::time::Duration::from_secs(1)).await;
//! assert!(err.is_err()); // nobody listens at b:1
//! # }
//! ```

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::message::Message;
use crate::transport::{FrameHandler, Transport, TransportError};

mod cluster;
pub use cluster::{Cluster, TracedEvent};

/// Faults and delays applied to every call.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkModel {
    /// Shortest one-way delay.
    pub latency_min: Duration,
    /// Longest one-way delay.
    pub latency_max: Duration,
    /// Probability in `[0, 1]` that a request or its reply is lost (the caller times out).
    pub loss: f64,
}

impl Default for LinkModel {
    fn default() -> LinkModel {
        LinkModel {
            latency_min: Duration::from_millis(1),
            latency_max: Duration::from_millis(5),
            loss: 0.0,
        }
    }
}

struct Shared {
    rng: SmallRng,
    link: LinkModel,
    // Looked up at every call and never iterated: hashed, since a B-tree of 10^5 host names
    // compared long common prefixes at every level (docs/simulation.md, *Speed*).
    handlers: HashMap<String, Arc<dyn FrameHandler>>,
    crashed: HashSet<String>,
    /// Pairs (a, b) with a < b that cannot reach each other.
    cut: BTreeSet<(String, String)>,
    calls: u64,
}

/// A simulated network of in-memory endpoints.
pub struct MemNetwork {
    shared: Mutex<Shared>,
}

/// One node's endpoint on a [`MemNetwork`].
pub struct MemTransport {
    host: String,
    net: Arc<MemNetwork>,
}

enum Fate {
    Deliver(Duration, Duration, Arc<dyn FrameHandler>),
    Unreachable(Duration, &'static str),
    Lost,
}

impl MemNetwork {
    /// A network whose delays and losses all come from `seed`.
    pub fn new(seed: u64) -> Arc<MemNetwork> {
        Arc::new(MemNetwork {
            shared: Mutex::new(Shared {
                rng: SmallRng::seed_from_u64(seed),
                link: LinkModel::default(),
                handlers: HashMap::new(),
                crashed: HashSet::new(),
                cut: BTreeSet::new(),
                calls: 0,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An endpoint for the node at `host`. A crashed host that gets a new endpoint is back up.
    pub fn endpoint(self: &Arc<Self>, host: &str) -> Arc<MemTransport> {
        self.lock().crashed.remove(host);
        Arc::new(MemTransport {
            host: host.to_string(),
            net: self.clone(),
        })
    }

    /// Sets the delays and loss rate of every link.
    pub fn set_link(&self, link: LinkModel) {
        self.lock().link = link;
    }

    /// The host stops answering at once (as after kill -9: calls to it fail as refused).
    pub fn crash(&self, host: &str) {
        let mut s = self.lock();
        s.handlers.remove(host);
        s.crashed.insert(host.to_string());
    }

    /// `a` and `b` can no longer reach each other (calls time out).
    pub fn partition(&self, a: &str, b: &str) {
        self.lock().cut.insert(pair(a, b));
    }

    /// `a` and `b` reach each other again (other cuts stay: a bridge between two sides).
    pub fn heal_link(&self, a: &str, b: &str) {
        self.lock().cut.remove(&pair(a, b));
    }

    /// Removes every partition.
    pub fn heal(&self) {
        self.lock().cut.clear();
    }

    /// Calls made so far (a cheap measure of protocol traffic).
    pub fn calls(&self) -> u64 {
        self.lock().calls
    }

    fn fate(&self, from: &str, to: &str) -> Fate {
        let mut s = self.lock();
        s.calls += 1;
        let link = s.link.clone();
        let delay = |rng: &mut SmallRng| {
            if link.latency_max <= link.latency_min {
                link.latency_min
            } else {
                rng.gen_range(link.latency_min..=link.latency_max)
            }
        };
        let there = delay(&mut s.rng);
        let back = delay(&mut s.rng);
        // Checked only when partitions exist: building the pair allocates.
        if !s.cut.is_empty() && s.cut.contains(&pair(from, to)) {
            return Fate::Lost;
        }
        if link.loss > 0.0 && s.rng.gen_bool(link.loss.min(1.0)) {
            return Fate::Lost;
        }
        if s.crashed.contains(to) {
            return Fate::Unreachable(there + back, "connection refused (host down)");
        }
        match s.handlers.get(to) {
            Some(h) => Fate::Deliver(there, back, h.clone()),
            None => Fate::Unreachable(there + back, "connection refused (nobody listening)"),
        }
    }
}

/// Sleeps for a link delay; a zero delay (simulations that only count hops) costs no timer.
async fn pause(delay: Duration) {
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
}

fn pair(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_string(), b.to_string())
    } else {
        (b.to_string(), a.to_string())
    }
}

impl Transport for MemTransport {
    fn local_host(&self) -> &str {
        &self.host
    }

    fn call(
        &self,
        host: &str,
        frame: Bytes,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Bytes, TransportError>> {
        let fate = self.net.fate(&self.host, host);
        let host = host.to_string();
        Box::pin(async move {
            let exchange = async {
                match fate {
                    Fate::Deliver(there, back, handler) => {
                        pause(there).await;
                        let reply = handler.handle(frame).await;
                        pause(back).await;
                        Ok(reply)
                    }
                    Fate::Unreachable(delay, reason) => {
                        tokio::time::sleep(delay).await;
                        Err(TransportError::Unreachable {
                            host: host.clone(),
                            reason: reason.to_string(),
                        })
                    }
                    Fate::Lost => futures::future::pending().await,
                }
            };
            match tokio::time::timeout(timeout, exchange).await {
                Ok(result) => result,
                Err(_) => Err(TransportError::Timeout { host, timeout }),
            }
        })
    }

    fn set_handler(&self, handler: Arc<dyn FrameHandler>) {
        let mut s = self.net.lock();
        if !s.crashed.contains(&self.host) {
            s.handlers.insert(self.host.clone(), handler);
        }
    }
}

/// A handler that answers every frame with an `Err`: what a node without a ring says.
pub struct Unready;

impl FrameHandler for Unready {
    fn handle(&self, _frame: Bytes) -> BoxFuture<'static, Bytes> {
        Box::pin(async { Message::error("this node is not on a ring yet").encode() })
    }
}

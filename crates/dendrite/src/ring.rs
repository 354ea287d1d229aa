//! The ring: this node's vnodes, their stabilization tasks, lookups, join and leave.
//!
//! SCAFFOLD: the public surface below is fixed (dtable, the node binary and the simulator build
//! against it); the bodies are being written.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::config::{Config, ConfigError};
use crate::event::RingEvent;
use crate::id::Id;
use crate::transport::{ExtensionHandler, RegistryError, Transport, TransportError};
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
    /// A peer answered with a message that makes no sense for the request.
    #[error("{host} answered with an unexpected message type 0x{kind:02x}")]
    UnexpectedReply {
        /// Peer address.
        host: String,
        /// Type byte of the reply.
        kind: u8,
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
}

/// This node's part of a Chord ring.
pub struct Ring {
    config: Config,
    transport: Arc<dyn Transport>,
}

impl Ring {
    /// Starts a new ring made of this node's vnodes only.
    pub async fn create(
        config: Config,
        transport: Arc<dyn Transport>,
    ) -> Result<Arc<Ring>, RingError> {
        config.validate()?;
        let _ = transport;
        todo!("ring: create")
    }

    /// Joins the ring that `seeds` (one or more member addresses, tried in order) belong to.
    pub async fn join(
        config: Config,
        transport: Arc<dyn Transport>,
        seeds: &[String],
    ) -> Result<Arc<Ring>, RingError> {
        config.validate()?;
        let _ = (transport, seeds);
        todo!("ring: join")
    }

    /// Leaves gracefully: tells neighbours at once, stops stabilization. Subscribers see the
    /// events; data hand-off is the caller's (dtable's) job before calling this.
    pub async fn leave(&self) -> Result<(), RingError> {
        todo!("ring: leave")
    }

    /// The configuration this ring runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The transport this ring uses (extensions send their own messages through it).
    pub fn transport(&self) -> &Arc<dyn Transport> {
        &self.transport
    }

    /// This node's vnodes, sorted by id.
    pub fn local_vnodes(&self) -> Vec<Vnode> {
        todo!("ring: local_vnodes")
    }

    /// The first `n` vnodes at or after `key` on the ring (iterative lookup, bounded in hops and
    /// time).
    pub async fn find_successors(&self, key: Id, n: usize) -> Result<Vec<Vnode>, RingError> {
        let _ = (key, n);
        todo!("ring: find_successors")
    }

    /// A receiver of every ring event from now on (see [`crate::event`]).
    pub fn subscribe(&self) -> broadcast::Receiver<RingEvent> {
        todo!("ring: subscribe")
    }

    /// Registers an extension's message types; a type registered twice is an error.
    pub fn register_extension(
        &self,
        kinds: &[u8],
        handler: Arc<dyn ExtensionHandler>,
    ) -> Result<(), RegistryError> {
        let _ = (kinds, handler);
        todo!("ring: register_extension")
    }

    /// What every local vnode knows now.
    pub fn snapshot(&self) -> Vec<VnodeSnapshot> {
        todo!("ring: snapshot")
    }
}

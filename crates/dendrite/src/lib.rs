//! Dendrite: a distributed hash table on the Chord protocol.
//!
//! A node runs a few virtual nodes (vnodes) on a 160-bit ring. Each vnode keeps a predecessor, a
//! successor list and a finger table, and repairs them by periodic stabilization; any node can
//! find the vnodes that succeed a key in O(log N) hops. Applications (such as the `dtable`
//! key/value store) add their own message types to the transport and subscribe to ring events.
//!
//! The crate is layered so that the rules of Chord can be tested without a network:
//! - [`id`], [`vnode`], [`config`]: values and their validation;
//! - [`chord`]: the rules of Chord for one vnode as a plain state machine, with no I/O;
//! - [`lost_hosts`]: which hosts lost from view to probe, and when (merging rings after a
//!   partition), also without I/O;
//! - [`flow`]: Chord's protocol flows (lookup walk, join, stabilization round) as state
//!   machines fed with replies, also without I/O;
//! - [`message`] (and the generated [`proto`] shapes): the typed messages and the frame codec
//!   (docs/wire.md);
//! - [`transport`]: the trait every transport implements, and extension registration;
//! - [`event`]: what subscribers hear;
//! - [`ring`]: the async shell around [`chord`]: the node's vnodes, stabilization, lookups, join
//!   and leave;
//! - [`mem`]: an in-memory network with seeded latency, loss and partitions, and a virtual-time
//!   cluster harness, for tests and the simulator (the TCP transport is the `dendrite-net`
//!   crate).

// A library others build on: an undocumented public item fails the build (the workspace
// only warns), so every item says why it exists.
#![deny(missing_docs)]

pub mod chord;
pub mod config;
pub mod dead_vnodes;
pub mod event;
pub mod flow;
pub mod id;
pub mod lost_hosts;
pub mod mem;
pub mod message;
mod presence;
pub mod proto;
pub mod ring;
pub mod transport;
pub mod vnode;

pub use config::{Config, ConfigError};
pub use event::RingEvent;
pub use id::Id;
pub use lost_hosts::Reach;
pub use message::{CodecError, Message};
pub use ring::{Neighbours, NotLocal, Ring, RingError, VnodeSnapshot};
pub use transport::{
    ExtensionHandler, Extensions, FrameHandler, HandlerError, RegistryError, Transport,
    TransportError,
};
pub use vnode::Vnode;

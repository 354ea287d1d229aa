//! Dendrite: a distributed hash table on the Chord protocol.
//!
//! A node runs a few virtual nodes (vnodes) on a 160-bit ring. Each vnode keeps a predecessor, a
//! successor list and a finger table, and repairs them by periodic stabilization; any node can
//! find the vnodes that succeed a key in O(log N) hops. Applications (such as the `dtable`
//! key/value store) add their own message types to the transport and subscribe to ring events.
//!
//! The crate is layered so that the rules of Chord can be tested without a network:
//! - [`id`], [`vnode`], [`config`]: values and their validation;
//! - [`message`]: the typed messages and the frame codec (WIRE.md);
//! - [`transport`]: the trait every transport implements, and extension registration;
//! - [`event`]: what subscribers hear;
//! - [`ring`]: the node's vnodes, stabilization, lookups, join and leave.

pub mod chord;
pub mod config;
pub mod event;
pub mod id;
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
pub use message::{CodecError, Message};
pub use ring::{Ring, RingError, VnodeSnapshot};
pub use transport::{
    ExtensionHandler, Extensions, FrameHandler, HandlerError, RegistryError, Transport,
    TransportError,
};
pub use vnode::Vnode;

//! How vnodes reach each other: the [`Transport`] trait, and the registry of extension message
//! types (the Go original's TransportHook).
//!
//! A transport only moves frames: `call` sends one request frame to a node and returns its reply
//! frame; incoming frames go to the one [`FrameHandler`] the ring installs. Decoding, dispatch to
//! the ring or to an extension, and `Err` replies for bad frames live in the ring, so every
//! transport (ZMTP over TCP, in-memory) behaves the same.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;

use crate::message::kind;

/// Why a remote call failed. Every variant means "no valid reply arrived"; callers treat the
/// peer as unreachable for this call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// Nothing answered within the deadline.
    #[error("no reply from {host} within {timeout:?}")]
    Timeout {
        /// Peer address.
        host: String,
        /// The deadline that passed.
        timeout: Duration,
    },
    /// The peer cannot be reached (refused, reset, partitioned, not listening).
    #[error("cannot reach {host}: {reason}")]
    Unreachable {
        /// Peer address.
        host: String,
        /// What the transport saw.
        reason: String,
    },
    /// The transport has been shut down.
    #[error("the transport is shut down")]
    Closed,
    /// The request was refused locally (too large, bad address, ...).
    #[error("request to {host} refused: {reason}")]
    Refused {
        /// Peer address.
        host: String,
        /// Why.
        reason: String,
    },
}

/// Receives every frame that arrives for this node and produces the reply frame.
pub trait FrameHandler: Send + Sync + 'static {
    /// Handles one request frame; the returned frame is the reply (never empty).
    fn handle(&self, frame: Bytes) -> BoxFuture<'static, Bytes>;
}

/// Moves request and reply frames between nodes.
///
/// Implementations: the ZMTP transport over TCP (production) and
/// [`MemNetwork`](crate::mem::MemNetwork) endpoints (tests and simulation).
pub trait Transport: Send + Sync + 'static {
    /// This node's own address on the ring.
    fn local_host(&self) -> &str;

    /// Sends `frame` to the node at `host` and waits at most `timeout` for its reply frame.
    fn call(
        &self,
        host: &str,
        frame: Bytes,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Bytes, TransportError>>;

    /// Installs the handler for incoming frames, replacing any earlier one. Frames that arrive
    /// before a handler is installed are answered with an `Err` message.
    fn set_handler(&self, handler: Arc<dyn FrameHandler>);
}

/// An error an extension handler returns; it is sent to the caller as an `Err` message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HandlerError(pub String);

impl From<crate::message::CodecError> for HandlerError {
    fn from(e: crate::message::CodecError) -> HandlerError {
        HandlerError(e.to_string())
    }
}

/// Handles the message types an extension registered (the seed's TransportHook).
pub trait ExtensionHandler: Send + Sync + 'static {
    /// Handles one message of type `kind` with its undecoded `payload`; returns the whole reply
    /// frame (type byte included, see [`frame`](crate::message::frame)).
    fn handle(&self, kind: u8, payload: Bytes) -> BoxFuture<'static, Result<Bytes, HandlerError>>;
}

/// A registration that cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// Types 0x00-0x1F belong to the ring.
    #[error(
        "message type 0x{0:02x} is reserved for the ring protocol; extensions use 0x20 and up"
    )]
    Reserved(u8),
    /// Someone registered this type already; a silent override would hide a bug.
    #[error("message type 0x{0:02x} is already registered by another extension")]
    Duplicate(u8),
}

/// Extension message types and their handlers.
#[derive(Default)]
pub struct Extensions {
    handlers: RwLock<BTreeMap<u8, Arc<dyn ExtensionHandler>>>,
}

impl Extensions {
    /// Registers `handler` for every type in `kinds`: all of them or none.
    pub fn register(
        &self,
        kinds: &[u8],
        handler: Arc<dyn ExtensionHandler>,
    ) -> Result<(), RegistryError> {
        let mut handlers = self
            .handlers
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for &k in kinds {
            if k <= kind::LAST_RING {
                return Err(RegistryError::Reserved(k));
            }
            if handlers.contains_key(&k) {
                return Err(RegistryError::Duplicate(k));
            }
        }
        for &k in kinds {
            handlers.insert(k, handler.clone());
        }
        Ok(())
    }

    /// The handler registered for `kind`, if any.
    pub fn get(&self, kind: u8) -> Option<Arc<dyn ExtensionHandler>> {
        self.handlers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&kind)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;
    impl ExtensionHandler for Echo {
        fn handle(&self, k: u8, payload: Bytes) -> BoxFuture<'static, Result<Bytes, HandlerError>> {
            Box::pin(async move {
                let mut out = vec![k];
                out.extend_from_slice(&payload);
                Ok(Bytes::from(out))
            })
        }
    }

    #[test]
    fn duplicate_and_reserved_registrations_fail_whole() {
        let ext = Extensions::default();
        assert_eq!(ext.register(&[0x20, 0x21], Arc::new(Echo)), Ok(()));
        assert_eq!(
            ext.register(&[0x40, 0x21], Arc::new(Echo)),
            Err(RegistryError::Duplicate(0x21))
        );
        // The failed registration left nothing behind.
        assert!(ext.get(0x40).is_none());
        assert_eq!(
            ext.register(&[0x05], Arc::new(Echo)),
            Err(RegistryError::Reserved(0x05))
        );
        assert!(ext.get(0x20).is_some());
    }
}

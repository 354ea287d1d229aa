//! Per-connection security: which mechanism a connection uses, and the frame transforms
//! (seal/open) that apply once the handshake is done.

use std::collections::HashSet;
use std::sync::Arc;

use crate::curve::{MessageOpener, MessageSealer};
use crate::error::Result;
use crate::frame::{Frame, Mechanism};
use crate::keys::{KeyPair, PublicKey, SecretKey};

/// Security used by one connection, seen from our side of it.
#[derive(Clone, Debug)]
pub enum Security {
    /// No authentication, no encryption (ZMTP NULL).
    Null,
    /// We are the CURVE server.
    CurveServer {
        /// Our long-term secret key (the public key is derived from it).
        secret: SecretKey,
        /// Client public keys allowed in; `None` admits any client that completes the handshake.
        allowlist: Option<Arc<HashSet<PublicKey>>>,
    },
    /// We are the CURVE client.
    CurveClient {
        /// Our long-term key pair (our identity towards the server).
        keys: KeyPair,
        /// The server's long-term public key; the handshake fails if the server does not own it.
        server: PublicKey,
    },
}

impl Security {
    /// Mechanism announced in the greeting.
    pub fn mechanism(&self) -> Mechanism {
        match self {
            Security::Null => Mechanism::Null,
            Security::CurveServer { .. } | Security::CurveClient { .. } => Mechanism::Curve,
        }
    }

    /// The as-server bit of the greeting (NULL has no roles: always 0).
    pub fn as_server(&self) -> bool {
        matches!(self, Security::CurveServer { .. })
    }
}

/// Transforms outgoing frames after the handshake (identity for NULL, encryption for CURVE).
pub enum Sealer {
    /// NULL: frames go out as they are.
    Null,
    /// CURVE: frames become MESSAGE commands.
    Curve(Box<MessageSealer>),
}

impl Sealer {
    /// Frame to put on the wire for `frame`.
    pub fn seal(&mut self, frame: Frame) -> Result<Frame> {
        match self {
            Sealer::Null => Ok(frame),
            Sealer::Curve(sealer) => sealer.seal(&frame),
        }
    }

    /// Extra bytes a sealed frame may carry beyond its body.
    pub fn overhead(&self) -> u64 {
        match self {
            Sealer::Null => 0,
            Sealer::Curve(_) => 64,
        }
    }
}

/// Transforms incoming wire frames back into logical frames.
pub enum Opener {
    /// NULL: frames come in as they are.
    Null,
    /// CURVE: MESSAGE commands are decrypted.
    Curve(Box<MessageOpener>),
}

impl Opener {
    /// Logical frame carried by wire frame `frame`.
    pub fn open(&mut self, frame: Frame) -> Result<Frame> {
        match self {
            Opener::Null => Ok(frame),
            Opener::Curve(opener) => opener.open(frame),
        }
    }

    /// Extra bytes a wire frame may carry beyond the logical body.
    pub fn overhead(&self) -> u64 {
        match self {
            Opener::Null => 0,
            Opener::Curve(_) => 64,
        }
    }
}

//! Per-connection security: which mechanism a connection uses, and the frame transforms
//! (seal/open) that apply once the handshake is done.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::curve_message::{MessageOpener, MessageSealer, Opened};
use crate::error::Result;
use crate::frame::{encode_frame_header, Command, Frame, Mechanism};
use crate::keys::{KeyPair, PublicKey, SecretKey};
use crate::limits::MAX_PARTS;
use crate::packed;

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

    /// Appends the wire frames of a multipart message straight to the output buffer `out`
    /// (no intermediate frame per part). An empty `parts` is sent as one empty part.
    pub fn queue_message(&mut self, parts: &[Bytes], out: &mut BytesMut) -> Result<()> {
        match self {
            Sealer::Null => {
                if parts.is_empty() {
                    encode_frame_header(out, false, false, 0);
                    return Ok(());
                }
                let last = parts.len() - 1;
                out.reserve(parts.iter().map(|p| p.len() + 9).sum());
                for (i, part) in parts.iter().enumerate() {
                    encode_frame_header(out, i < last, false, part.len());
                    out.extend_from_slice(part);
                }
                Ok(())
            }
            Sealer::Curve(sealer) => sealer.queue_message(parts, out),
        }
    }

    /// Plaintext bytes gathered for a CURVE batch box that are not in any output buffer yet.
    pub fn batched(&self) -> usize {
        match self {
            Sealer::Null => 0,
            Sealer::Curve(sealer) => sealer.batched(),
        }
    }

    /// Seals the messages gathered for a batch box into `out` (nothing to do for NULL or when
    /// batches were not negotiated). Call before writing `out` to the socket.
    pub fn finish_batch(&mut self, out: &mut BytesMut) -> Result<()> {
        match self {
            Sealer::Null => Ok(()),
            Sealer::Curve(sealer) => sealer.finish_batch(out),
        }
    }

    /// Appends the wire frame of a command to `out`.
    pub fn queue_command(&mut self, cmd: &Command, out: &mut BytesMut) -> Result<()> {
        match self {
            Sealer::Null => {
                Frame::command(cmd).encode(out);
                Ok(())
            }
            Sealer::Curve(sealer) => sealer.queue_command(cmd, out),
        }
    }

    /// Extra bytes a sealed frame may carry beyond its body.
    pub fn overhead(&self) -> u64 {
        match self {
            Sealer::Null => 0,
            Sealer::Curve(_) => CURVE_OVERHEAD,
        }
    }
}

/// Largest growth of a message in a CURVE box: MESSAGE head, tag and flags, plus the part
/// headers of a packed box of [`MAX_PARTS`] parts. A batch box ([`packed::BATCH_MAX`]) fits in
/// it too, so a receiver with a small message size limit still accepts whole batches.
const CURVE_OVERHEAD: u64 = 64 + (packed::PART_OVERHEAD * MAX_PARTS) as u64;
const _: () = assert!(CURVE_OVERHEAD >= packed::BATCH_MAX as u64 + 64);

/// Transforms incoming wire frames back into logical frames.
pub enum Opener {
    /// NULL: frames come in as they are.
    Null,
    /// CURVE: MESSAGE commands are decrypted.
    Curve(Box<MessageOpener>),
}

impl Opener {
    /// Logical frame carried by wire frame `frame` (packed boxes are refused here).
    pub fn open(&mut self, frame: Frame) -> Result<Frame> {
        match self {
            Opener::Null => Ok(frame),
            Opener::Curve(opener) => opener.open(frame),
        }
    }

    /// What wire frame `frame` carries: one frame, or a whole message when it is a packed box
    /// (at most `max_parts` parts).
    pub fn open_any(&mut self, frame: Frame, max_parts: usize) -> Result<Opened> {
        match self {
            Opener::Null => Ok(Opened::Frame(frame)),
            Opener::Curve(opener) => opener.open_any(frame, max_parts),
        }
    }

    /// Extra bytes a wire frame may carry beyond the logical body.
    pub fn overhead(&self) -> u64 {
        match self {
            Opener::Null => 0,
            Opener::Curve(_) => CURVE_OVERHEAD,
        }
    }
}

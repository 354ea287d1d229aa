//! The one error type of the crate.
//!
//! Every variant says what went wrong; the doc of each says what a caller can do about it.
//! The type is `Clone` (I/O errors are shared behind an `Arc`) so that one connection failure
//! can be handed to every request that was waiting on that connection.

use std::sync::Arc;

/// Everything that can go wrong while speaking ZMTP.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ZmtpError {
    /// The socket failed (reset, broken pipe...). Reconnect and retry if the operation is idempotent.
    #[error("I/O error on the ZMTP connection: {0}")]
    Io(Arc<std::io::Error>),
    /// The peer sent bytes that break ZMTP. The connection is unusable and has been or should be closed.
    #[error("ZMTP protocol violation: {0}")]
    Protocol(String),
    /// The security handshake (NULL or CURVE) failed: wrong keys, wrong mechanism or a corrupt
    /// handshake command. Check that both sides use the same mechanism and the right server key.
    #[error("ZMTP handshake failed: {0}")]
    Handshake(String),
    /// A frame or message is larger than the configured maximum. Raise `max_message_size` on the
    /// receiving side or send smaller messages.
    #[error("ZMTP message of {size} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Size announced or reached so far, in bytes.
        size: u64,
        /// The configured limit, in bytes.
        max: u64,
    },
    /// An operation did not finish before its deadline. The peer may be slow, overloaded or gone.
    #[error("ZMTP {operation} timed out")]
    Timeout {
        /// What timed out (handshake, request, connect...).
        operation: &'static str,
    },
    /// The connection was closed (by the peer or locally) before the operation completed.
    /// Requests in flight on it may or may not have been processed.
    #[error("ZMTP connection closed")]
    Closed,
    /// The peer could not be reached (connection refused, no route, connect timeout).
    /// The peer is probably down; retry later.
    #[error("ZMTP peer {addr} is unreachable: {reason}")]
    Unreachable {
        /// The address we tried.
        addr: String,
        /// Why it failed.
        reason: String,
    },
    /// The peer refused us with a ZMTP ERROR command (for CURVE: our key is not allowed).
    /// Retrying with the same credentials will fail again.
    #[error("ZMTP peer refused the connection: {reason}")]
    Refused {
        /// The reason text the peer sent.
        reason: String,
    },
    /// The configuration or an argument is invalid (bad address, missing key...). Fix the caller.
    #[error("invalid ZMTP configuration: {0}")]
    Config(String),
}

impl From<std::io::Error> for ZmtpError {
    fn from(err: std::io::Error) -> Self {
        ZmtpError::Io(Arc::new(err))
    }
}

impl ZmtpError {
    /// Shorthand for a [`ZmtpError::Protocol`] error.
    pub(crate) fn protocol(msg: impl Into<String>) -> Self {
        ZmtpError::Protocol(msg.into())
    }

    /// Shorthand for a [`ZmtpError::Handshake`] error.
    pub(crate) fn handshake(msg: impl Into<String>) -> Self {
        ZmtpError::Handshake(msg.into())
    }
}

/// Result alias used throughout the crate.
pub type Result<T, E = ZmtpError> = std::result::Result<T, E>;

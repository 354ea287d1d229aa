//! ZeroMQ wire protocol (ZMTP 3.x) over tokio, with the NULL and CURVE security mechanisms.
//!
//! Layers, bottom up:
//! - [`frame`]: pure codec for greetings, frames, commands and metadata.
//! - [`error`]: the crate's error type.

pub mod error;
pub mod frame;

pub use error::{Result, ZmtpError};
pub mod connection;
pub mod curve;
pub mod handshake;
pub mod keys;
pub mod null;
pub mod security;
pub mod wire;
pub mod z85;

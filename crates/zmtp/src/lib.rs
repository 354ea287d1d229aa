//! ZeroMQ wire protocol (ZMTP 3.x) over tokio, with the NULL and CURVE security mechanisms.
//!
//! The crate speaks the protocol of libzmq's ROUTER and DEALER sockets well enough to serve
//! REQ/DEALER peers and to call ROUTER peers, including real libzmq (pyzmq) ones.
//!
//! # Use
//! - [`Server::bind`] with a [`Handler`]: accepts many connections; every request runs in its
//!   own task; the reply goes back with the request's envelope.
//! - [`Client::request`]: one persistent, lazily opened connection per peer address, many
//!   requests in flight on it, a per-request deadline and prompt errors when the peer is down.
//! - Security: [`ServerSecurity::Curve`] with the server's secret key and an optional client
//!   allowlist; [`ClientSecurity::Curve`] with the client's [`KeyPair`] and the expected server
//!   key(s) ([`ServerKeys`]: one cluster-wide key and/or one per address). Keys print and parse
//!   as Z85 text, the format of `zmq.curve_keypair()`.
//!
//! ```no_run
//! use std::{sync::Arc, time::Duration};
//! use bytes::Bytes;
//! use futures::FutureExt;
//! use zmtp::{Client, ClientConfig, Handler, Server, ServerConfig};
//!
//! # async fn demo() -> zmtp::Result<()> {
//! let echo = |request: Vec<Bytes>| async move { request }.boxed();
//! let server = Server::bind("127.0.0.1:0", ServerConfig::default(), Arc::new(echo)).await?;
//! let client = Client::new(ClientConfig::default())?;
//! let addr = server.local_addr().to_string();
//! let reply = client.request(&addr, vec![Bytes::from("ping")], Duration::from_secs(1)).await?;
//! assert_eq!(reply, vec![Bytes::from("ping")]);
//! # Ok(()) }
//! ```
//!
//! # Packed parts (an extension between our own peers)
//!
//! RFC 26 seals every message part in its own MESSAGE box. On CURVE connections we advertise
//! the metadata property `X-Packed-Parts: 1` in INITIATE/READY; when the peer advertises it
//! too, every multipart message goes out as ONE MESSAGE box with flags `0x04` whose plaintext
//! lists the parts as `flags (0x01 = more) | u32 big-endian length | bytes`. A request of three
//! parts then costs one box per side instead of three. Peers that do not advertise it (libzmq,
//! pyzmq) get exactly RFC 26, and a packed box from a peer that did not negotiate it, or one
//! whose part list is malformed, is a protocol error that closes the connection. Turn it off
//! with `pack_parts: false` in [`ServerConfig`] / [`ClientConfig`]. Details: [`packed`].
//!
//! With it we also advertise `X-Packed-Batches: 1`: when both sides do, all the messages a
//! connection queues between two flushes go out in one MESSAGE box with flags `0x08` (up to
//! 16 KiB of them; a longer message gets a box of its own after them), so a burst of small
//! requests costs one box instead of one each. `pack_parts: false` turns batches off too.
//!
//! # AES-256-GCM boxes (an extension between our own peers)
//!
//! On CPUs with AES-NI we also advertise `X-Cipher: aes256gcm`; when the peer does too, MESSAGE
//! boxes are sealed with AES-256-GCM (keys per direction derived from the CURVE session key,
//! the MESSAGE counter as nonce) instead of XSalsa20-Poly1305, with the same framing. libzmq
//! peers never advertise it and get RFC 26 exactly. `aes_gcm: false` in [`ServerConfig`] /
//! [`ClientConfig`] turns it off; [`handshake::PeerInfo::cipher`] says what a connection uses.
//! Design: docs/wire.md §1.1; code: [`message_cipher`], [`aes_gcm`].
//!
//! # Layers, bottom up
//! - [`limits`]: bounds shared by several layers (so that each depends one way only).
//! - [`frame`]: pure codec for greetings, frames, commands and metadata.
//! - [`wire`]: buffered frame I/O over a byte stream.
//! - [`null`], [`curve`], [`handshake`]: security handshakes; [`security`]: per-connection
//!   frame sealing/opening ([`curve_message`] for CURVE); [`message_box`]: the MESSAGE box with per-connection keys
//!   (XSalsa20-Poly1305 from the RustCrypto `salsa20` and `poly1305` crates, checked against
//!   `crypto_box`; long boxes through libsodium's vectorised code, [`sodium`]);
//!   [`message_cipher`]: which AEAD a connection's MESSAGE boxes use, [`aes_gcm`]: the
//!   AES-256-GCM boxes (libsodium);
//!   [`packed`]: the packed-parts encoding.
//! - [`connection`]: whole multipart messages, PING/PONG, limits, handshake timeout.
//! - [`server`], [`client`]: ROUTER-style server and DEALER-style client.

// A library others build on: an undocumented public item fails the build (the workspace
// only warns), so every item says why it exists.
#![deny(missing_docs)]

pub mod aes_gcm;
pub mod client;
pub mod connection;
pub mod curve;
pub mod curve_message;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod keys;
pub mod limits;
pub mod message_box;
pub mod message_cipher;
pub mod null;
pub mod outbound;
pub mod packed;
mod reset;
pub mod security;
pub mod server;
pub mod sodium;
pub mod wire;
pub mod z85;

pub use client::{Client, ClientConfig, ClientSecurity, ServerKeys};
pub use connection::{Connection, ConnectionConfig, Inbound};
pub use error::{Result, ZmtpError};
pub use keys::{KeyPair, PublicKey, SecretKey};
pub use outbound::Heartbeat;
pub use server::{Handler, Server, ServerConfig, ServerSecurity};
pub use z85::Z85Error;

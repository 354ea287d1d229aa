//! The Redis protocol (RESP2) front end.
//!
//! [`request`] and [`reply`] are the pure wire codec, [`inline`] splits
//! the space-separated commands `redis-cli` and telnet users type,
//! [`commands`] turns argument vectors into backend calls, and [`server`]
//! does the socket I/O.

pub mod auth;
pub mod commands;
pub mod inline;
pub mod reply;
pub mod request;
pub mod server;

pub use auth::Password;
pub use reply::Reply;
pub use request::{encode_request, ParseLimits, ProtocolError, RequestParser};
pub use server::{serve_resp, RespConfig, RespLimits};

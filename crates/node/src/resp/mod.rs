//! The Redis protocol (RESP2 and RESP3) front end.
//!
//! [`request`] and [`reply`] are the pure wire codec, [`inline`] splits
//! the space-separated commands `redis-cli` and telnet users type,
//! [`spec`] is the one table of the commands served, [`keyspace`] the commands over every
//! key of the cluster, [`strings`] the read-modify-write
//! string commands, [`commands`] turns
//! argument vectors into backend calls, [`clients`] describes connections
//! for `CLIENT LIST`, [`parameters`] is what `CONFIG GET` reports, and
//! [`server`] does the socket I/O.

pub mod auth;
pub mod clients;
pub mod commands;
pub mod inline;
pub mod keyspace;
pub mod lcs;
pub mod parameters;
pub mod reply;
pub mod request;
pub mod server;
pub mod spec;
pub mod strings;

pub use auth::Password;
pub use reply::{Protocol, Reply};
pub use request::{encode_request, ParseLimits, ProtocolError, RequestParser};
pub use server::{serve_resp, RespConfig, RespLimits};

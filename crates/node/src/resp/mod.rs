//! The Redis protocol (RESP2 and RESP3) front end.
//!
//! - [`request`] and [`reply`]: the pure wire codec; [`inline`] splits the space-separated
//!   commands `redis-cli` and telnet users type;
//! - [`spec`]: the one table of the commands served (parsing, arity, `COMMAND`);
//! - [`commands`]: argument vectors into parsed commands, and their execution against the
//!   backend, with the connection's [`session`];
//! - [`strings`] (read-modify-writes, ranges, bits), [`lcs`], [`keyspace`] (commands over every
//!   key of the cluster), [`connection`] (`HELLO`, `CLIENT`, `TIME`), [`info`] (`INFO`),
//!   [`clients`] (`CLIENT LIST`), [`parameters`] (`CONFIG GET`), [`auth`] (`requirepass`),
//!   [`cluster`] (`CLUSTER`, `MOVED`, `CROSSSLOT`), [`snapshots`] (`SAVE`, `BGSAVE`, `LASTSAVE`);
//! - [`server`]: the socket I/O.

pub mod auth;
mod bit_ranges;
pub mod clients;
pub mod cluster;
pub mod commands;
pub mod connection;
pub mod expiry;
pub mod info;
pub mod inline;
pub mod keyspace;
pub mod lcs;
pub mod multikey;
pub mod parameters;
pub mod reply;
pub mod request;
pub mod server;
pub mod session;
pub mod snapshots;
pub mod spec;
pub mod strings;

pub use auth::Password;
pub use reply::{Protocol, Reply};
pub use request::{encode_request, ParseLimits, ProtocolError, RequestParser};
pub use server::{serve_resp, RespConfig, RespLimits};

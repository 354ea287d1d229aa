//! The HTTP/1.1 server for operators: `/healthz`, `/status`, `/metrics`, and the console
//! (`crate::console`) when the node runs one.
//!
//! The routes are an axum [`Router`](axum::Router) ([`routes`]); the accept
//! loop ([`serve_http_with`]) hands each connection to hyper's HTTP/1
//! connection builder directly instead of `axum::serve`, because only the
//! builder lets us bound the request head size and the time a client may take
//! to send it. [`client`] is the small GET client behind `dendrite status`.

pub mod client;
pub mod routes;
mod server;

pub use server::{serve_http, serve_http_routes, serve_http_with, HttpLimits};

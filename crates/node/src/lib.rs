//! The client-facing front of the `dendrite` binary.
//!
//! A Redis-protocol (RESP2) server, an HTTP server for health, status and
//! Prometheus metrics, the settings loader and the command line. Everything
//! talks to storage through the [`backend::Backend`] trait so the fronts can be
//! tested without a ring; the binary wires in the distributed table.

pub mod backend;
pub mod bench;
pub mod cli;
pub mod console;
pub mod http;
pub mod launch;
pub mod metrics;
pub mod node_status;
pub mod persistence;
pub mod resp;
pub mod settings;
pub mod shutdown;
pub mod slot_map;
pub mod slot_watch;
pub mod status_table;
pub mod table_backend;
pub mod table_metrics;

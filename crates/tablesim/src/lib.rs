//! A dtable cluster on the in-memory network, in virtual time, under a seeded schedule of
//! faults, with client tasks whose history goes through the same checker as the real-process
//! chaos runs (crates/chaos): a run is a function of its seed, so every anomaly found replays
//! exactly with `dendrite-tablesim run --seed S`.
//!
//! - [`schedule`]: the rounds of faults of a seed (crash and restart empty, graceful leave or
//!   join, partition, heavy message loss), over a light loss on every link all along.
//! - [`cluster`]: the nodes ([`dtable::mem::Tables`]) and how each fault is injected and healed.
//! - [`clients`]: client tasks sending SET, GET, DEL and INCR at chosen consistencies.
//! - [`run`]: one seed, from the first node to the checker's verdict, with a rendered trace.
//! - [`sweep`]: many seeds, every anomaly reported with its seed.
//!
//! docs/reliability.md, "Table simulation", says what runs and what the sweeps found.

#![deny(missing_docs)]

pub mod clients;
pub mod cluster;
pub mod run;
pub mod schedule;
pub mod sweep;

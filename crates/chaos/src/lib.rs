//! Fault injection on real `dendrite node` processes, and a checker of what the clients saw.
//!
//! - [`history`]: every client operation of a run (invocation, completion, what it returned).
//! - [`checker`]: the promises of docs/design.md checked per key over a history, each
//!   violation an [`anomaly::Anomaly`] reported with the seed and the operations that prove it.
//! - [`schedule`]: the faults of a run, drawn from a seed.
//! - [`process`], [`netns`], [`netem`], [`status`]: node processes, network namespaces, slow
//!   and lossy links, and the nodes' `/status`.
//! - [`cluster`], [`workload`], [`run`]: a cluster under a schedule of faults while client
//!   tasks send operations over RESP, ending with a convergence sweep and the check.
//!
//! docs/reliability.md says what is promised and how each promise is tested.

#![deny(missing_docs)]

pub mod anomaly;
pub mod checker;
pub mod cluster;
pub mod history;
pub mod netem;
pub mod netns;
pub mod process;
pub mod run;
pub mod schedule;
pub mod status;
pub mod workload;

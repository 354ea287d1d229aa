//! The Chord paper's experiments (Stoica et al., SIGCOMM 2001 and IEEE/ACM ToN 2003) run on
//! Dendrite's real ring code: `dendrite::mem::Cluster` nodes on the in-memory network, in
//! tokio's virtual time, driven from one seed.
//!
//! Each experiment lives in its own module under [`experiments`] and returns [`Outcome`]: result
//! tables (written as CSV) and charts (written as SVG). The same seed gives the same bytes.

pub mod error;
pub mod experiments;
pub mod naming;
pub mod output;
pub mod paper;
pub mod plot;
pub mod runtime;
pub mod stats;
pub mod table;

pub use error::SimError;
pub use experiments::{Experiment, Options, Outcome};

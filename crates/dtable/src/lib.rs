//! Replicated in-memory key/value table on the Dendrite ring: the pure core (no networking).
pub mod proto;
pub mod version;

pub use version::{Clock, Version};

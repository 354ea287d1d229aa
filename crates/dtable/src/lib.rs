//! Replicated in-memory key/value table on the Dendrite ring: the pure core (no networking).
pub mod placement;
pub mod proto;
pub mod range;
pub mod record;
pub mod store;
pub mod version;
pub mod wire;

pub use placement::{Placement, PlacementError};
pub use range::{Buckets, IdRange};
pub use record::Record;
pub use store::{Applied, Store};
pub use version::{Clock, Version};
pub use wire::{ReadItem, Reply, Request, WriteRole};

//! Durability on disk: an append-only log of every record the store accepts, compacted into
//! snapshots, and recovery from both at start (docs/design.md, "Durability").
//!
//! - [`directory`]: the data directory, its lock and owner, and the names of its files;
//! - [`mod@format`]: one checksummed record on disk;
//! - [`log`] and `writer`: appending, the writer thread and the fsync policies;
//! - `snapshot`: compaction, and [`save`]: snapshots asked for by clients (SAVE, BGSAVE);
//! - [`replay`] and [`recovery`]: reading files back at start;
//! - [`mod@check`]: `dendrite check-data`, the report and repair tool.
//!
//! Removals (hand-offs, tombstone purges) are not logged: a record that comes back after a
//! restart is a stray copy that the hand-back walk returns to its owners, or an old tombstone
//! purged again. Replaying records in any order, twice, or over a snapshot gives the same store,
//! because [`Store::apply`] keeps the newest version.

use std::path::Path;
use std::sync::Arc;

pub mod check;
pub mod directory;
pub mod error;
pub mod format;
pub mod log;
pub mod policy;
pub mod recovery;
pub mod replay;
pub mod save;
mod snapshot;
pub mod status;
mod writer;

pub use check::{check, CheckReport};
pub use directory::DataDir;
pub use error::{DurableError, DISK_FAILURE};
pub use log::Log;
pub use policy::{FsyncPolicy, LogConfig};
pub use recovery::Recovery;
pub use save::{BackgroundSave, SaveError, SaveRefused};
pub use status::LogStatus;

use crate::store::Store;

/// A store recovered from a data directory and the log that keeps it: what a durable table
/// starts with (see `Table::create_durable`).
#[derive(Debug, Clone)]
pub struct Persistence {
    /// The store, holding what recovery loaded.
    pub store: Arc<Store>,
    /// The log, appending to a new segment.
    pub log: Arc<Log>,
}

impl Persistence {
    /// Recovers `dir` into a new store of `shards` shards and starts its log. Fails when a file
    /// is damaged before its end, naming the file, the offset and the repair command.
    pub fn open(
        dir: DataDir,
        shards: usize,
        config: LogConfig,
    ) -> Result<Persistence, DurableError> {
        let store = Arc::new(Store::new(shards));
        let recovery = recovery::recover(&dir, &store)?;
        tracing::info!(
            dir = %dir.path().display(),
            records = recovery.records,
            keys = store.len_live(),
            truncated_tails = recovery.truncated_tails,
            elapsed_ms = recovery.elapsed.as_millis() as u64,
            "data directory loaded"
        );
        let log = Arc::new(Log::start(dir, store.clone(), recovery, config)?);
        Ok(Persistence { store, log })
    }

    /// [`open`](Persistence::open) of the directory at `path` (locked first).
    pub fn open_path(
        path: &Path,
        shards: usize,
        config: LogConfig,
    ) -> Result<Persistence, DurableError> {
        Persistence::open(DataDir::open(path)?, shards, config)
    }
}

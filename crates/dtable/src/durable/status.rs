//! What the log reports: sizes, snapshots, fsync lag, errors, and what recovery loaded.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::policy::FsyncPolicy;
use super::recovery::Recovery;

/// The log's state at one moment (`INFO persistence`, `/status`, `/metrics`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogStatus {
    /// The fsync policy.
    pub fsync: FsyncPolicy,
    /// Bytes of the segments on disk (written since the last snapshot, or since start).
    pub segment_bytes: u64,
    /// Bytes of the newest snapshot on disk.
    pub snapshot_bytes: u64,
    /// When the newest snapshot was completed (Unix ms), if there is one.
    pub last_snapshot_unix_ms: Option<u64>,
    /// Snapshots taken by this process.
    pub snapshots: u64,
    /// Is a snapshot being written now?
    pub snapshot_in_progress: bool,
    /// Was it asked for by a client (SAVE, BGSAVE: Redis's `rdb_bgsave_in_progress`) rather
    /// than by the log's growth (Redis's `aof_rewrite_in_progress`)?
    pub snapshot_requested: bool,
    /// Did the last snapshot fail?
    pub last_snapshot_failed: bool,
    /// Bytes appended since start.
    pub appended_bytes: u64,
    /// Bytes appended but not yet known to be on disk.
    pub unsynced_bytes: u64,
    /// Milliseconds since the last fsync while some bytes wait for one (0 when none do).
    pub fsync_lag_ms: u64,
    /// Fsyncs done since start.
    pub fsyncs: u64,
    /// Failed writes or fsyncs since start.
    pub write_errors: u64,
    /// Client writes refused (nothing applied) while the log could not be written.
    pub refused_writes: u64,
    /// The error that stops the log now, if any (cleared once a write succeeds again).
    pub error: Option<String>,
    /// What recovery loaded at start.
    pub recovery: Recovery,
}

/// The counters behind [`LogStatus`], updated by the writer and the compaction threads.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub segment_bytes: AtomicU64,
    pub snapshot_bytes: AtomicU64,
    /// Unix ms of the last snapshot, 0 for none.
    pub last_snapshot: AtomicU64,
    pub snapshots: AtomicU64,
    pub snapshot_in_progress: AtomicBool,
    /// Was the snapshot in progress asked for by a client (SAVE, BGSAVE), not by the log's
    /// growth?
    pub snapshot_requested: AtomicBool,
    pub last_snapshot_failed: AtomicBool,
    pub appended: AtomicU64,
    pub synced: AtomicU64,
    /// Unix ms of the last fsync (or of the start).
    pub last_fsync: AtomicU64,
    /// Unix ms when the log started (after recovery).
    pub started: AtomicU64,
    pub fsyncs: AtomicU64,
    pub write_errors: AtomicU64,
    /// Writes refused before being applied because the log could not be written.
    pub refused_writes: AtomicU64,
    /// Position handed to the OS (see `Log::wait_durable`).
    pub written: AtomicU64,
    pub error: parking_lot::Mutex<Option<String>>,
    /// Is `error` set? Read on every write, without the mutex.
    pub failing: AtomicBool,
}

impl Counters {
    pub fn status(&self, fsync: FsyncPolicy, recovery: &Recovery) -> LogStatus {
        let appended = self.appended.load(Ordering::Acquire);
        let unsynced = appended.saturating_sub(self.synced.load(Ordering::Acquire));
        let lag = if unsynced > 0 {
            unix_millis().saturating_sub(self.last_fsync.load(Ordering::Relaxed))
        } else {
            0
        };
        let last_snapshot = self.last_snapshot.load(Ordering::Relaxed);
        LogStatus {
            fsync,
            segment_bytes: self.segment_bytes.load(Ordering::Relaxed),
            snapshot_bytes: self.snapshot_bytes.load(Ordering::Relaxed),
            last_snapshot_unix_ms: (last_snapshot > 0).then_some(last_snapshot),
            snapshots: self.snapshots.load(Ordering::Relaxed),
            snapshot_in_progress: self.snapshot_in_progress.load(Ordering::Relaxed),
            snapshot_requested: self.snapshot_requested.load(Ordering::Relaxed),
            last_snapshot_failed: self.last_snapshot_failed.load(Ordering::Relaxed),
            appended_bytes: appended,
            unsynced_bytes: unsynced,
            fsync_lag_ms: lag,
            fsyncs: self.fsyncs.load(Ordering::Relaxed),
            write_errors: self.write_errors.load(Ordering::Relaxed),
            refused_writes: self.refused_writes.load(Ordering::Relaxed),
            error: self.error.lock().clone(),
            recovery: recovery.clone(),
        }
    }
}

/// The wall clock in Unix milliseconds.
pub(super) fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

//! The log a node appends every accepted record to, and how a write waits for it to be on disk.
//!
//! Appending only encodes the record into a shared buffer (a mutex held for a copy); a writer
//! thread (`writer`) hands the buffer to the current segment every few milliseconds
//! and fsyncs it as the [`FsyncPolicy`] says. Positions are byte counts appended since start:
//! a write reads [`Log::mark`] after storing its records and, under `always`, waits with
//! [`Log::wait_durable`] until the writer has flushed that far. One fsync covers every record
//! appended before it (group commit), whoever waits for it.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::{Condvar, Mutex};
use tokio::sync::watch;

use super::directory::DataDir;
use super::error::DurableError;
use super::format;
use super::policy::{FsyncPolicy, LogConfig};
use super::recovery::Recovery;
use super::status::{unix_millis, Counters, LogStatus};
use crate::record::Record;
use crate::store::Store;

/// The records appended but not yet handed to the writer, and requests to it.
#[derive(Debug, Default)]
pub(super) struct Pending {
    pub buf: Vec<u8>,
    /// A writer waits for this position: write and fsync now.
    pub urgent: bool,
    /// Take a snapshot now (BGSAVE), whatever the segments' size.
    pub snapshot: bool,
    /// Flush, fsync and stop.
    pub stop: bool,
}

/// How far the log is known to be on disk, and why it is stuck if it is.
#[derive(Debug, Clone, Default)]
pub(super) struct Progress {
    pub durable: u64,
    pub error: Option<Arc<str>>,
}

/// What the log's callers and its threads share.
pub(super) struct Shared {
    pub dir: DataDir,
    pub store: Arc<Store>,
    pub config: LogConfig,
    pub pending: Mutex<Pending>,
    pub wake: Condvar,
    pub progress: watch::Sender<Progress>,
    pub counters: Counters,
    pub recovery: Recovery,
}

impl Shared {
    fn append(&self, key: &[u8], record: &Record) {
        let mut pending = self.pending.lock();
        let before = pending.buf.len();
        format::encode(&mut pending.buf, key, record);
        let added = (pending.buf.len() - before) as u64;
        // Under the lock, so positions grow in the order the bytes are queued.
        self.counters.appended.fetch_add(added, Ordering::AcqRel);
    }

    /// Wakes the writer thread.
    pub fn nudge(&self, set: impl FnOnce(&mut Pending)) {
        set(&mut self.pending.lock());
        self.wake.notify_one();
    }
}

/// A node's durable log (see the module documentation).
pub struct Log {
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("dir", &self.shared.dir.path())
            .field("fsync", &self.shared.config.fsync)
            .finish()
    }
}

impl Log {
    /// Starts logging into `dir` after `recovery` loaded it into `store`: opens a new segment
    /// and starts the writer thread. Snapshots read `store`.
    pub fn start(
        dir: DataDir,
        store: Arc<Store>,
        recovery: Recovery,
        config: LogConfig,
    ) -> Result<Log, DurableError> {
        let counters = Counters::default();
        counters
            .segment_bytes
            .store(recovery.segment_bytes, Ordering::Relaxed);
        counters
            .snapshot_bytes
            .store(recovery.snapshot_bytes, Ordering::Relaxed);
        counters.last_fsync.store(unix_millis(), Ordering::Relaxed);
        if let Some(number) = recovery.snapshot {
            let completed = std::fs::metadata(dir.snapshot_path(number))
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
            counters.last_snapshot.store(completed, Ordering::Relaxed);
        }
        let first_segment = recovery.next_segment;
        let shared = Arc::new(Shared {
            dir,
            store,
            config,
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            progress: watch::Sender::new(Progress::default()),
            counters,
            recovery,
        });
        let writer = super::writer::spawn(shared.clone(), first_segment)?;
        Ok(Log {
            shared,
            writer: Mutex::new(Some(writer)),
        })
    }

    /// Appends `key`'s `record` (called for every record the store accepts).
    pub fn append(&self, key: &[u8], record: &Record) {
        self.shared.append(key, record);
    }

    /// A function appending to this log, for [`Store::set_observer`]. It keeps the log's
    /// buffer (not the writer thread) alive: clear the observer when the table stops.
    pub fn appender(&self) -> Box<crate::store::Observer> {
        let shared = self.shared.clone();
        Box::new(move |key, record| shared.append(key, record))
    }

    /// The position after everything appended so far: a write that reads it after storing its
    /// records is durable once [`wait_durable`](Log::wait_durable) of it returns.
    pub fn mark(&self) -> u64 {
        self.shared.counters.appended.load(Ordering::Acquire)
    }

    /// The fsync policy.
    pub fn policy(&self) -> FsyncPolicy {
        self.shared.config.fsync
    }

    /// Under [`FsyncPolicy::Always`], waits until everything up to `mark` is flushed to disk;
    /// under the other policies returns at once. Fails, whatever the policy, while the log
    /// cannot be written (a full disk): the records stay queued and are written once it can.
    pub async fn wait_durable(&self, mark: u64) -> Result<(), DurableError> {
        if self.shared.config.fsync != FsyncPolicy::Always {
            if self.shared.counters.failing.load(Ordering::Acquire) {
                let error = self.shared.counters.error.lock().clone();
                return Err(DurableError::Unwritable(error.unwrap_or_default()));
            }
            return Ok(());
        }
        let mut progress = self.shared.progress.subscribe();
        if progress.borrow().durable >= mark {
            return Ok(());
        }
        self.shared.nudge(|p| p.urgent = true);
        let reached = progress
            .wait_for(|p| p.durable >= mark || p.error.is_some())
            .await
            .map_err(|_| DurableError::Unwritable("the log writer stopped".into()))?;
        if reached.durable >= mark {
            return Ok(());
        }
        let error = reached.error.as_deref().unwrap_or("the log writer stopped");
        Err(DurableError::Unwritable(error.to_owned()))
    }

    /// Asks for a snapshot now (BGSAVE); it is taken in the background.
    pub fn request_snapshot(&self) {
        self.shared.nudge(|p| p.snapshot = true);
    }

    /// What recovery loaded before the log started.
    pub fn recovery(&self) -> &Recovery {
        &self.shared.recovery
    }

    /// The log's state now.
    pub fn status(&self) -> LogStatus {
        self.shared
            .counters
            .status(self.shared.config.fsync, &self.shared.recovery)
    }

    /// Flushes and fsyncs what is queued, then stops the writer (a clean shutdown). Appends
    /// after it are lost.
    pub fn close(&self) {
        self.shared.nudge(|p| p.stop = true);
        if let Some(writer) = self.writer.lock().take() {
            if writer.join().is_err() {
                tracing::error!("the log writer thread panicked");
            }
        }
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        self.close();
    }
}

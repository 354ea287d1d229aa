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
use crate::store::{Change, Store};

/// The records appended but not yet handed to the writer, and requests to it.
#[derive(Debug, Default)]
pub(super) struct Pending {
    pub buf: Vec<u8>,
    /// A writer waits for this position: write and fsync now.
    pub urgent: bool,
    /// Snapshots asked for by clients since start (see `save`): the writer takes one for
    /// the newest ticket, whatever the segments' size.
    pub save_tickets: u64,
    /// Flush, fsync and stop.
    pub stop: bool,
    /// Records were dropped from `buf` (see [`DROP_AT`]): take a snapshot once writable.
    pub dropped: bool,
    /// Bytes dropped that the writer has not accounted for yet.
    pub skipped: u64,
}

/// Bytes appended but not yet handed to the OS beyond which writes wait for the writer (see
/// [`Log::wait_durable`]): a stalled disk slows writers down instead of filling memory.
pub const BACKLOG: u64 = 64 << 20;

/// Beyond this many queued bytes while the log cannot be written, the queue is dropped (see
/// `Shared::append`): records applied without a client waiting (anti-entropy, hand-offs) must
/// not fill memory while the disk is full. The store still holds them; a snapshot taken once
/// the disk is writable again puts them on disk.
const DROP_AT: usize = 4 * BACKLOG as usize;

/// How far the log is known to be on disk, and why it is stuck if it is.
#[derive(Debug, Clone, Default)]
pub(super) struct Progress {
    /// Position handed to the OS.
    pub written: u64,
    /// Position known to be on disk.
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
    pub saves: watch::Sender<super::save::SaveProgress>,
    pub counters: Counters,
    pub recovery: Recovery,
}

impl Shared {
    fn append(&self, key: &[u8], change: Change<'_>) {
        let mut pending = self.pending.lock();
        let before = pending.buf.len();
        match change {
            Change::Stored(record) => format::encode(&mut pending.buf, key, record),
            Change::Removed(version) => format::encode_removal(&mut pending.buf, key, &version),
        }
        let added = (pending.buf.len() - before) as u64;
        // Under the lock, so positions grow in the order the bytes are queued.
        self.counters.appended.fetch_add(added, Ordering::AcqRel);
        if pending.buf.len() > DROP_AT && self.counters.failing.load(Ordering::Acquire) {
            // Every writer waiting for these bytes has been told the log failed; the writer
            // counts them as skipped and snapshots the store once it can write again.
            let dropped = pending.buf.len() as u64;
            pending.buf.clear();
            pending.buf.shrink_to(1 << 20);
            pending.dropped = true;
            pending.skipped += dropped;
            tracing::error!(
                bytes = dropped,
                "the disk is still unwritable: dropped the queued log records (the store keeps \
                 them; a snapshot writes them once the disk takes writes again)"
            );
        }
    }

    /// Wakes the writer thread.
    pub fn nudge(&self, set: impl FnOnce(&mut Pending)) {
        set(&mut self.pending.lock());
        self.wake.notify_one();
    }
}

/// A node's durable log (see the module documentation).
pub struct Log {
    pub(super) shared: Arc<Shared>,
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
        counters.started.store(unix_millis(), Ordering::Relaxed);
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
            saves: watch::Sender::new(Default::default()),
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
        self.shared.append(key, Change::Stored(record));
    }

    /// A function appending to this log, for [`Store::set_observer`]: every record the store
    /// accepts and every copy it drops. It keeps the log's buffer (not the writer thread)
    /// alive: clear the observer when the table stops.
    pub fn appender(&self) -> Box<crate::store::Observer> {
        let shared = self.shared.clone();
        Box::new(move |key, change| shared.append(key, change))
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

    /// Refuses a write before anything of it is applied while the log cannot be written (a
    /// full disk, a failing device); counts the refusal.
    pub fn check_writable(&self) -> Result<(), DurableError> {
        let counters = &self.shared.counters;
        if !counters.failing.load(Ordering::Acquire) {
            return Ok(());
        }
        counters.refused_writes.fetch_add(1, Ordering::Relaxed);
        let error = counters.error.lock().clone();
        Err(DurableError::Refused(error.unwrap_or_default()))
    }

    /// Under [`FsyncPolicy::Always`], waits until everything up to `mark` is flushed to disk.
    /// Under the other policies returns at once, unless more than [`BACKLOG`] bytes wait for
    /// the writer (a stalled disk): then it waits until the writer is that close again, so
    /// memory stays bounded and writers slow down with the disk. Fails, whatever the policy,
    /// while the log cannot be written (a full disk): the records stay queued and are written
    /// once it can.
    pub async fn wait_durable(&self, mark: u64) -> Result<(), DurableError> {
        let counters = &self.shared.counters;
        let always = self.shared.config.fsync == FsyncPolicy::Always;
        if !always {
            if counters.failing.load(Ordering::Acquire) {
                let error = counters.error.lock().clone();
                return Err(DurableError::NotLogged(error.unwrap_or_default()));
            }
            if mark <= counters.written.load(Ordering::Acquire) + BACKLOG {
                return Ok(());
            }
        }
        let mut progress = self.shared.progress.subscribe();
        let reached = |p: &Progress| {
            if always {
                p.durable >= mark
            } else {
                mark <= p.written + BACKLOG
            }
        };
        if reached(&progress.borrow()) {
            return Ok(());
        }
        self.shared.nudge(|p| p.urgent = true);
        let stopped = || DurableError::NotLogged("the log writer stopped".into());
        let outcome = progress
            .wait_for(|p| reached(p) || p.error.is_some())
            .await
            .map_err(|_| stopped())?;
        if reached(&outcome) {
            return Ok(());
        }
        match outcome.error.as_deref() {
            Some(error) => Err(DurableError::NotLogged(error.to_owned())),
            None => Err(stopped()),
        }
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

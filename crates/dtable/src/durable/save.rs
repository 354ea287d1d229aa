//! Snapshots asked for by a client (`SAVE`, `BGSAVE`) rather than by the log's growth.
//!
//! Each request takes a ticket (a number counting requests since start). The writer thread
//! starts a snapshot for the newest ticket once no snapshot is running, and that snapshot
//! reports its outcome for every ticket up to it: a request is answered by the first
//! snapshot *started after it*, so `SAVE` returns once everything acknowledged before it is in
//! a snapshot on disk (docs/redis-compat.md, "Persistence commands").

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::log::Shared;

/// The outcome of the snapshots asked for so far.
#[derive(Debug, Clone, Default)]
pub(super) struct SaveProgress {
    /// Every ticket up to this one is answered.
    pub answered: u64,
    /// Why the snapshot that answered them failed (`None`: it is on disk).
    pub error: Option<Arc<str>>,
}

/// Why `BGSAVE` did not start a snapshot (Redis's replies: see [`BackgroundSave`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SaveRefused {
    /// A snapshot asked for by a client is being written.
    #[error("Background save already in progress")]
    InProgress,
    /// The log's own compaction is writing a snapshot (Redis's AOF rewrite child).
    #[error("Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.")]
    Compacting,
    /// The node is shutting down: its log takes no more snapshots.
    #[error("the node is shutting down; its log takes no more snapshots")]
    Stopping,
}

/// What `BGSAVE` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackgroundSave {
    /// A snapshot starts now (`Background saving started`).
    Started,
    /// A snapshot starts once the running compaction ends (`Background saving scheduled`).
    Scheduled,
}

impl Shared {
    /// Takes a ticket for a snapshot and wakes the writer; returns the ticket, or `None` once
    /// the log is stopping (no snapshot will be taken).
    fn request_save(&self) -> Option<u64> {
        let mut pending = self.pending.lock();
        if pending.stop {
            return None;
        }
        pending.save_tickets += 1;
        let ticket = pending.save_tickets;
        drop(pending);
        self.wake.notify_one();
        Some(ticket)
    }

    /// Reports the snapshot that answers every ticket up to `ticket`.
    pub(super) fn answer_saves(&self, ticket: u64, error: Option<&str>) {
        self.saves.send_modify(|saves| {
            if ticket > saves.answered {
                saves.answered = ticket;
                saves.error = error.map(Arc::from);
            }
        });
    }
}

impl super::Log {
    /// `BGSAVE [SCHEDULE]`: starts a snapshot in the background, or refuses as Redis does
    /// while one is running (`schedule`: queue it behind the log's own compaction instead).
    pub fn background_save(&self, schedule: bool) -> Result<BackgroundSave, SaveRefused> {
        let counters = &self.shared.counters;
        if counters.snapshot_in_progress.load(Ordering::Acquire) {
            if counters.snapshot_requested.load(Ordering::Acquire) {
                return Err(SaveRefused::InProgress);
            }
            if !schedule {
                return Err(SaveRefused::Compacting);
            }
            self.shared.request_save().ok_or(SaveRefused::Stopping)?;
            return Ok(BackgroundSave::Scheduled);
        }
        // Shown as in progress from the reply on (INFO's rdb_bgsave_in_progress), as in Redis.
        counters.snapshot_requested.store(true, Ordering::Release);
        counters.snapshot_in_progress.store(true, Ordering::Release);
        if self.shared.request_save().is_none() {
            counters.snapshot_requested.store(false, Ordering::Release);
            counters
                .snapshot_in_progress
                .store(false, Ordering::Release);
            return Err(SaveRefused::Stopping);
        }
        Ok(BackgroundSave::Started)
    }

    /// `SAVE`: takes a snapshot and returns once it is on disk, with everything acknowledged
    /// before the call in it. Refused like `BGSAVE` while a client's snapshot is running.
    pub async fn save(&self) -> Result<(), SaveError> {
        let counters = &self.shared.counters;
        if counters.snapshot_in_progress.load(Ordering::Acquire)
            && counters.snapshot_requested.load(Ordering::Acquire)
        {
            return Err(SaveError::Refused(SaveRefused::InProgress));
        }
        let mut saves = self.shared.saves.subscribe();
        let ticket = self.shared.request_save().ok_or(SaveRefused::Stopping)?;
        let answered = saves
            .wait_for(|saves| saves.answered >= ticket)
            .await
            .map_err(|_| SaveError::Failed("the log stopped".into()))?;
        match &answered.error {
            None => Ok(()),
            Some(error) => Err(SaveError::Failed(error.to_string())),
        }
    }

    /// When the last snapshot was completed, in Unix seconds; before the first one, when the
    /// log started (everything recovered at start was on disk then: Redis also counts its
    /// start as a save). `LASTSAVE` and INFO's `rdb_last_save_time`.
    pub fn last_save_unix(&self) -> u64 {
        let counters = &self.shared.counters;
        let last = counters.last_snapshot.load(Ordering::Relaxed);
        if last > 0 {
            last / 1000
        } else {
            counters.started.load(Ordering::Relaxed) / 1000
        }
    }
}

/// Why `SAVE` did not save.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaveError {
    /// A client's snapshot is already running.
    #[error(transparent)]
    Refused(#[from] SaveRefused),
    /// The snapshot could not be written (a full disk): the log still holds every record.
    #[error("the snapshot could not be written: {0}; the log still holds every acknowledged write. Free space in the data directory and SAVE again")]
    Failed(String),
}

//! The log's writer thread: hands the queued records to the current segment every few
//! milliseconds, fsyncs as the policy says, rotates segments and starts snapshots.
//!
//! Writes never wait for this thread except under `always`, and then only for the fsync that
//! covers them; a snapshot runs on a thread of its own after the writer rotated to a new
//! segment, so logging goes on while it is written.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::directory::DataDir;
use super::error::DurableError;
use super::format::FRAME_HEADER;
use super::log::Shared;
use super::policy::FsyncPolicy;
use super::replay::SEGMENT_MAGIC;
use super::status::unix_millis;

/// Longest a record waits in memory before it is handed to the OS (unless a writer waits for
/// it, which wakes the thread at once): what a killed process can lose under `everysec`/`no`.
const TICK: Duration = Duration::from_millis(5);
/// Pause between two fsyncs under `everysec`.
const SYNC_EVERY: Duration = Duration::from_secs(1);
/// Bytes written per `write` call at most (a whole record may exceed it).
const PIECE: usize = 1 << 20;
/// Pause before retrying a write or fsync that failed (a full disk).
const RETRY: Duration = Duration::from_millis(200);

/// The segment being appended to.
struct Segment {
    number: u64,
    path: PathBuf,
    file: File,
    len: u64,
}

impl Segment {
    /// Creates segment `number` (it must not exist) with its header, flushed.
    fn create(dir: &DataDir, number: u64) -> Result<Segment, DurableError> {
        let path = dir.segment_path(number);
        let mut file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|e| DurableError::io("cannot create", &path, e))?;
        file.write_all(SEGMENT_MAGIC)
            .and_then(|()| file.sync_all())
            .map_err(|e| DurableError::io("cannot write", &path, e))?;
        dir.sync()?;
        Ok(Segment {
            number,
            path,
            file,
            len: SEGMENT_MAGIC.len() as u64,
        })
    }

    /// Appends `bytes`; on failure cuts off whatever part was written, so the segment still
    /// ends on a whole record.
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self.file.write_all(bytes) {
            Ok(()) => {
                self.len += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                let _ = self.file.set_len(self.len);
                Err(e)
            }
        }
    }
}

/// Where the piece of `batch` (whole frames, as appended) starting at `start` ends: after the
/// first frame that reaches [`PIECE`] bytes, or at the end.
fn piece_end(batch: &[u8], start: usize) -> usize {
    let mut at = start;
    while at < batch.len() && at - start < PIECE {
        let Some(len) = batch.get(at..at + 4) else {
            return batch.len();
        };
        let mut bytes = [0; 4];
        bytes.copy_from_slice(len);
        at += FRAME_HEADER + u32::from_le_bytes(bytes) as usize;
    }
    at.min(batch.len())
}

/// Creates the first segment and starts the writer thread on it.
pub(super) fn spawn(shared: Arc<Shared>, first: u64) -> Result<JoinHandle<()>, DurableError> {
    let segment = Segment::create(&shared.dir, first)?;
    shared
        .counters
        .segment_bytes
        .fetch_add(segment.len, Ordering::Relaxed);
    let path = shared.dir.path().to_owned();
    std::thread::Builder::new()
        .name("dendrite-log".into())
        .spawn(move || Writer::new(shared, segment).run())
        .map_err(|e| DurableError::io("cannot start the log writer for", path, e))
}

struct Writer {
    shared: Arc<Shared>,
    segment: Segment,
    /// The bytes taken from the queue, being written.
    batch: Vec<u8>,
    /// Position (bytes appended since start) handed to the OS.
    written: u64,
    /// Position known to be on disk.
    synced: u64,
    last_sync: Instant,
    /// Bytes of the segments written since the last snapshot.
    since_snapshot: u64,
    /// The newest snapshot ticket taken by a client (see `save`).
    wanted_ticket: u64,
    /// The newest ticket a snapshot was started (or failed to start) for.
    started_ticket: u64,
    /// Queued records were dropped while the disk was full: snapshot once writable.
    snapshot_after_drop: bool,
    compaction: Option<JoinHandle<()>>,
}

impl Writer {
    fn new(shared: Arc<Shared>, segment: Segment) -> Writer {
        let since_snapshot = shared.recovery.segment_bytes;
        Writer {
            shared,
            segment,
            batch: Vec::new(),
            written: 0,
            synced: 0,
            last_sync: Instant::now(),
            since_snapshot,
            wanted_ticket: 0,
            started_ticket: 0,
            snapshot_after_drop: false,
            compaction: None,
        }
    }

    fn run(mut self) {
        loop {
            let stop = self.take_batch();
            if let Err(e) = self.write_batch() {
                self.fail(e);
                if stop {
                    tracing::error!("stopping with records the log could not write");
                    break;
                }
                std::thread::sleep(RETRY);
                continue;
            }
            if let Err(e) = self.sync_if_due(stop) {
                self.fail(e);
                if stop {
                    break;
                }
                std::thread::sleep(RETRY);
                continue;
            }
            if stop {
                break;
            }
            self.compact_if_due();
        }
        if let Some(compaction) = self.compaction.take() {
            let _ = compaction.join();
        }
        // Requests that came too late are answered (no ticket is taken after `stop`).
        let wanted = self.shared.pending.lock().save_tickets;
        if wanted > self.started_ticket {
            self.shared
                .answer_saves(wanted, Some("the node is stopping"));
        }
    }

    /// Waits up to a tick for records or a request, then takes the queued records into
    /// `batch`; returns whether the log is stopping.
    fn take_batch(&mut self) -> bool {
        let mut pending = self.shared.pending.lock();
        if pending.buf.is_empty()
            && !pending.urgent
            && !pending.stop
            && pending.save_tickets == self.wanted_ticket
        {
            self.shared.wake.wait_for(&mut pending, TICK);
        }
        std::mem::swap(&mut pending.buf, &mut self.batch);
        pending.urgent = false;
        self.wanted_ticket = pending.save_tickets;
        self.snapshot_after_drop |= std::mem::take(&mut pending.dropped);
        let skipped = std::mem::take(&mut pending.skipped);
        let stop = pending.stop;
        drop(pending);
        if skipped > 0 {
            // Dropped while the disk was full (see `Shared::append`): only their positions
            // pass; the snapshot taken once writable holds the records.
            self.written += skipped;
            if self.shared.config.fsync == FsyncPolicy::No {
                self.synced = self.written;
                let counters = &self.shared.counters;
                counters.synced.store(self.synced, Ordering::Release);
            }
            self.publish_written();
        }
        stop
    }

    /// Tells writers waiting for the backlog to shrink (see `Log::wait_durable`) how far the
    /// log is handed to the OS.
    fn publish_written(&self) {
        let written = self.written;
        self.shared
            .counters
            .written
            .store(written, Ordering::Release);
        self.shared.progress.send_if_modified(|p| {
            let modified = p.written != written;
            p.written = written;
            modified
        });
    }

    /// Writes `batch` to the segment in pieces of whole records (about [`PIECE`] bytes each),
    /// so that after a failure (a full disk) what was written stays and only the rest is
    /// retried: a backlog larger than the space freed still drains.
    fn write_batch(&mut self) -> Result<(), DurableError> {
        let mut done = 0;
        let mut failure = None;
        while done < self.batch.len() {
            let end = piece_end(&self.batch, done);
            if let Err(e) = self.segment.write(&self.batch[done..end]) {
                failure = Some(DurableError::io("cannot write", &self.segment.path, e));
                break;
            }
            done = end;
        }
        self.account(done as u64);
        if let Some(error) = failure {
            self.publish_written();
            // The rest back to the front of the queue, to be written once the disk allows.
            self.batch.drain(..done);
            let mut pending = self.shared.pending.lock();
            self.batch.extend_from_slice(&pending.buf);
            std::mem::swap(&mut pending.buf, &mut self.batch);
            self.batch.clear();
            return Err(error);
        }
        self.batch.clear();
        if done > 0 {
            self.publish_written();
            self.recovered();
        }
        Ok(())
    }

    /// Counts `len` bytes handed to the OS.
    fn account(&mut self, len: u64) {
        self.written += len;
        self.since_snapshot += len;
        let counters = &self.shared.counters;
        counters.segment_bytes.fetch_add(len, Ordering::Relaxed);
        if self.shared.config.fsync == FsyncPolicy::No {
            // The OS decides when it reaches the disk: nothing is waited for.
            self.synced = self.written;
            counters.synced.store(self.synced, Ordering::Release);
        }
    }

    fn sync_if_due(&mut self, stop: bool) -> Result<(), DurableError> {
        if self.written == self.synced && !stop {
            return Ok(());
        }
        let due = stop
            || match self.shared.config.fsync {
                FsyncPolicy::Always => true,
                FsyncPolicy::EverySec => self.last_sync.elapsed() >= SYNC_EVERY,
                FsyncPolicy::No => false,
            };
        if due {
            self.sync()?;
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<(), DurableError> {
        self.segment
            .file
            .sync_data()
            .map_err(|e| DurableError::io("cannot fsync", &self.segment.path, e))?;
        self.synced = self.written;
        self.last_sync = Instant::now();
        let counters = &self.shared.counters;
        counters.synced.store(self.synced, Ordering::Release);
        counters.fsyncs.fetch_add(1, Ordering::Relaxed);
        counters.last_fsync.store(unix_millis(), Ordering::Relaxed);
        let synced = self.synced;
        self.shared.progress.send_modify(|p| {
            p.durable = synced;
            p.error = None;
        });
        Ok(())
    }

    /// Clears the error state after a write or fsync succeeded again.
    fn recovered(&self) {
        let mut error = self.shared.counters.error.lock();
        if error.take().is_some() {
            self.shared.counters.failing.store(false, Ordering::Release);
            tracing::info!("the log is writable again");
            self.shared.progress.send_modify(|p| p.error = None);
        }
    }

    fn fail(&self, error: DurableError) {
        let text = error.to_string();
        let counters = &self.shared.counters;
        counters.write_errors.fetch_add(1, Ordering::Relaxed);
        let mut held = counters.error.lock();
        if held.as_deref() != Some(text.as_str()) {
            tracing::error!(error = %text, "the log cannot be written; writes fail until it can");
        }
        *held = Some(text.clone());
        counters.failing.store(true, Ordering::Release);
        self.shared
            .progress
            .send_modify(|p| p.error = Some(Arc::from(text.as_str())));
    }

    /// Once the segments since the last snapshot outgrow it (or a snapshot was asked for) and
    /// no snapshot is being written: rotates to a new segment and snapshots the store from a
    /// thread of its own.
    fn compact_if_due(&mut self) {
        if self
            .compaction
            .as_ref()
            .is_some_and(|compaction| !compaction.is_finished())
        {
            return;
        }
        if let Some(done) = self.compaction.take() {
            let _ = done.join();
        }
        let threshold = self
            .shared
            .config
            .snapshot_min_bytes
            .max(self.shared.counters.snapshot_bytes.load(Ordering::Relaxed));
        let wanted = self.wanted_ticket > self.started_ticket;
        if !wanted && !self.snapshot_after_drop && self.since_snapshot < threshold {
            return;
        }
        // A client's request is answered by this snapshot, or by its failure to start.
        let ticket = if wanted { self.wanted_ticket } else { 0 };
        self.started_ticket = self.wanted_ticket;
        let shared = self.shared.clone();
        let counters = &shared.counters;
        counters.snapshot_requested.store(wanted, Ordering::Release);
        counters.snapshot_in_progress.store(true, Ordering::Release);
        if let Err(e) = self.rotate() {
            let text = e.to_string();
            self.fail(e);
            if wanted {
                super::snapshot::finished(&self.shared, ticket, Err(&text));
            } else {
                counters
                    .snapshot_in_progress
                    .store(false, Ordering::Release);
            }
            return;
        }
        self.recovered();
        self.since_snapshot = 0;
        self.snapshot_after_drop = false;
        let number = self.segment.number;
        let started = std::thread::Builder::new()
            .name("dendrite-snapshot".into())
            .spawn(move || super::snapshot::compact(&shared, number, ticket));
        match started {
            Ok(handle) => self.compaction = Some(handle),
            Err(e) => {
                tracing::error!(error = %e, "cannot start a snapshot thread");
                let text = format!("cannot start a snapshot thread: {e}");
                super::snapshot::finished(&self.shared, ticket, Err(&text));
            }
        }
    }

    /// Flushes the current segment and starts the next one.
    fn rotate(&mut self) -> Result<(), DurableError> {
        self.sync()?;
        let next = Segment::create(&self.shared.dir, self.segment.number + 1)?;
        self.shared
            .counters
            .segment_bytes
            .fetch_add(next.len, Ordering::Relaxed);
        self.segment = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::durable::format::encode;
    use crate::record::Record;
    use crate::version::Version;

    #[test]
    fn pieces_end_on_record_boundaries() {
        let mut batch = Vec::new();
        let mut boundaries = vec![0];
        for i in 0..3000u64 {
            let record = Record::value(Version::ZERO, Bytes::from(vec![b'v'; 700]));
            encode(&mut batch, &i.to_le_bytes(), &record);
            boundaries.push(batch.len());
        }
        let mut start = 0;
        let mut pieces = 0;
        while start < batch.len() {
            let end = piece_end(&batch, start);
            assert!(boundaries.contains(&end), "{end} is inside a record");
            assert!(end - start >= PIECE || end == batch.len());
            assert!(end - start < PIECE + 1024);
            start = end;
            pieces += 1;
        }
        assert_eq!(pieces, batch.len().div_ceil(PIECE));
    }
}

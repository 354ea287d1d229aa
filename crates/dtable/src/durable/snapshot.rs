//! Compaction: the store written out as a snapshot, replacing the segments before it.
//!
//! The writer first rotates to segment N, so every record accepted from then on is in
//! segments N and later. The snapshot of the store, read after that, holds every record
//! accepted before (or a newer version of it, or nothing when it was handed off or purged,
//! which needs no log). It is written to `snapshot-N.snap.partial`, flushed, renamed to
//! `snapshot-N.snap` and the directory flushed: only then are the segments and snapshots
//! numbered below N deleted. A crash at any step leaves either the old files or the new
//! snapshot complete, and recovery loads the newest complete snapshot with the segments from
//! its number on.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;
use dendrite::Id;

use super::directory::DataDir;
use super::error::DurableError;
use super::format;
use super::log::Shared;
use super::replay::SNAPSHOT_MAGIC;
use super::status::unix_millis;
use crate::position::KeyPosition;
use crate::range::IdRange;
use crate::store::Store;

/// Records read from the store per batch (each batch holds one shard lock briefly).
const BATCH: usize = 4096;

/// Takes snapshot `number` of the log's store and deletes what it replaces; reports in the
/// log's counters, and answers the clients' requests up to `ticket` (0: none, see `save`).
pub(super) fn compact(shared: &Shared, number: u64, ticket: u64) {
    let started = Instant::now();
    let counters = &shared.counters;
    match write(&shared.dir, &shared.store, number) {
        Ok((bytes, records)) => {
            counters.snapshot_bytes.store(bytes, Ordering::Relaxed);
            counters
                .last_snapshot
                .store(unix_millis(), Ordering::Relaxed);
            counters.snapshots.fetch_add(1, Ordering::Relaxed);
            match remove_replaced(&shared.dir, number) {
                Ok(freed) => {
                    let _ = counters.segment_bytes.fetch_update(
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                        |held| Some(held.saturating_sub(freed)),
                    );
                }
                Err(e) => tracing::warn!(error = %e, "cannot remove the files a snapshot replaces"),
            }
            // Answered once the files it replaces are gone too: a SAVE then sees the compacted
            // directory.
            finished(shared, ticket, Ok(()));
            tracing::info!(
                snapshot = number,
                records,
                bytes,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "snapshot written"
            );
        }
        Err(e) => {
            let _ = std::fs::remove_file(shared.dir.partial_snapshot_path(number));
            tracing::error!(error = %e, "snapshot failed; the log keeps every record meanwhile");
            finished(shared, ticket, Err(&e.to_string()));
        }
    }
}

/// Records the end of a snapshot (written, or failed with `outcome`'s text): no snapshot is in
/// progress any more, and the clients' requests up to `ticket` (0: none) are answered.
pub(super) fn finished(shared: &Shared, ticket: u64, outcome: Result<(), &str>) {
    let counters = &shared.counters;
    counters
        .last_snapshot_failed
        .store(outcome.is_err(), Ordering::Relaxed);
    counters.snapshot_requested.store(false, Ordering::Release);
    counters
        .snapshot_in_progress
        .store(false, Ordering::Release);
    if ticket > 0 {
        shared.answer_saves(ticket, outcome.err());
    }
}

/// Writes every record of `store` as snapshot `number` of `dir`; returns its bytes and records.
pub fn write(dir: &DataDir, store: &Store, number: u64) -> Result<(u64, u64), DurableError> {
    let partial = dir.partial_snapshot_path(number);
    let io = |e| DurableError::io("cannot write", &partial, e);
    let file = File::create(&partial).map_err(io)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    out.write_all(SNAPSHOT_MAGIC).map_err(io)?;
    let mut bytes = SNAPSHOT_MAGIC.len() as u64;
    let mut records = 0u64;
    let mut frame = Vec::new();
    let mut cursor: Option<(Id, Bytes)> = None;
    loop {
        let batch = store.scan(IdRange::whole_ring(Id::MAX), cursor.take(), BATCH);
        let more = batch.len() == BATCH;
        frame.clear();
        for (key, record) in &batch {
            format::encode(&mut frame, key, record);
        }
        records += batch.len() as u64;
        out.write_all(&frame).map_err(io)?;
        bytes += frame.len() as u64;
        if !more {
            break;
        }
        // The store's position of a key (its hash slot's, docs/design.md "Hash slots"), not
        // the plain hash of the key: a wrong cursor skips records.
        cursor = batch
            .last()
            .map(|(key, _)| (KeyPosition::of(key).id(), key.clone()));
    }
    frame.clear();
    format::encode_end(&mut frame, records);
    out.write_all(&frame).map_err(io)?;
    bytes += frame.len() as u64;
    let file = out.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    let done = dir.snapshot_path(number);
    std::fs::rename(&partial, &done).map_err(|e| DurableError::io("cannot rename", &done, e))?;
    dir.sync()?;
    Ok((bytes, records))
}

/// Deletes the segments and snapshots numbered below `number`; returns the segment bytes freed.
fn remove_replaced(dir: &DataDir, number: u64) -> Result<u64, DurableError> {
    let files = dir.files()?;
    let mut freed = 0;
    for (n, path) in files.segments.iter().chain(&files.snapshots) {
        if *n >= number {
            continue;
        }
        let len = std::fs::metadata(path).map_or(0, |m| m.len());
        std::fs::remove_file(path).map_err(|e| DurableError::io("cannot remove", path, e))?;
        if path.extension().is_some_and(|ext| ext == "log") {
            freed += len;
        }
    }
    dir.sync()?;
    Ok(freed)
}

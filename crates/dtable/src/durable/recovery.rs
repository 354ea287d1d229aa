//! Loading a data directory into a store at start: the newest snapshot, then every segment
//! written after it.
//!
//! Records are applied with [`Store::apply`], newest version wins: a record present in both a
//! snapshot and a segment, or one logged twice, makes no difference. A removal drops the key
//! only at the exact version it names ([`Store::remove_if`]), so files and frames are replayed
//! in the order they were written: a copy dropped and later received again stays.
//! A record cut short at the very end of the newest segment (a crash mid-write) is cut off with
//! a warning and counted (Redis's `aof-load-truncated`); any other damage refuses to start,
//! naming the file, the offset and the repair command.

use std::path::Path;
use std::time::{Duration, Instant};

use super::directory::DataDir;
use super::error::DurableError;
use super::format::Frame;
use super::replay::{replay, Damage, FileScan, SEGMENT_MAGIC, SNAPSHOT_MAGIC};
use crate::store::Store;
use crate::version::Version;

/// What recovery loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Records read from the snapshot and the segments (each applied; older versions lose).
    pub records: u64,
    /// Segments whose last record was cut short and cut off.
    pub truncated_tails: u64,
    /// Bytes cut off those segments.
    pub truncated_bytes: u64,
    /// How long loading took.
    pub elapsed: Duration,
    /// The newest version loaded: the node's clock must issue versions above it.
    pub max_version: Option<Version>,
    /// The snapshot loaded, if any.
    pub snapshot: Option<u64>,
    /// Bytes of the snapshot loaded.
    pub snapshot_bytes: u64,
    /// Bytes of the segments loaded.
    pub segment_bytes: u64,
    /// The number the next segment gets: above every file in the directory.
    pub next_segment: u64,
}

/// Loads `dir` into `store` (see the module documentation).
pub fn recover(dir: &DataDir, store: &Store) -> Result<Recovery, DurableError> {
    let started = Instant::now();
    let files = dir.files()?;
    for partial in &files.partial {
        tracing::info!(file = %partial.display(), "removing a snapshot whose writing never finished");
        std::fs::remove_file(partial).map_err(|e| DurableError::io("cannot remove", partial, e))?;
    }
    let mut recovery = Recovery::default();
    let mut load = |path: &Path, magic| {
        replay(path, magic, |frame| match frame {
            Frame::Record { key, record } => {
                if recovery.max_version.is_none_or(|max| record.version > max) {
                    recovery.max_version = Some(record.version);
                }
                store.apply(key, record);
            }
            Frame::Removal { key, version } => {
                store.remove_if(&key, version);
            }
            Frame::End { .. } => {}
        })
    };
    let base = files.snapshots.last().map(|(number, _)| *number);
    let (mut snapshot_bytes, mut snapshot_records) = (0, 0);
    if let Some((number, path)) = files.snapshots.last() {
        let scan = load(path, SNAPSHOT_MAGIC)?;
        if let Some(damage) = scan.damage {
            return Err(damaged(dir, path, &damage));
        }
        snapshot_bytes = scan.file_len;
        snapshot_records = scan.records;
        tracing::info!(snapshot = number, records = scan.records, "snapshot loaded");
    }
    let mut scans: Vec<(u64, FileScan)> = Vec::new();
    let last = files.segments.last().map(|(number, _)| *number);
    for (number, path) in &files.segments {
        if base.is_some_and(|base| *number < base) {
            // Compaction had written the snapshot but not yet deleted what it replaces.
            tracing::info!(file = %path.display(), "removing a segment the snapshot replaces");
            std::fs::remove_file(path).map_err(|e| DurableError::io("cannot remove", path, e))?;
            continue;
        }
        let scan = load(path, SEGMENT_MAGIC)?;
        if let Some(damage) = &scan.damage {
            if !(damage.torn && Some(*number) == last) {
                return Err(damaged(dir, path, damage));
            }
        }
        scans.push((*number, scan));
    }
    for (number, scan) in &scans {
        let Some(damage) = &scan.damage else { continue };
        let Some((_, path)) = files.segments.iter().find(|(n, _)| n == number) else {
            continue;
        };
        cut(path, damage.offset)?;
        let cut_bytes = scan.file_len - damage.offset;
        tracing::warn!(
            file = %path.display(),
            offset = damage.offset,
            bytes = cut_bytes,
            reason = damage.reason,
            "the log ends with a record cut short (a crash mid-write): cut off, the records \
             before it are loaded"
        );
        recovery.truncated_tails += 1;
        recovery.truncated_bytes += cut_bytes;
    }
    recovery.records = snapshot_records + scans.iter().map(|(_, s)| s.records).sum::<u64>();
    recovery.segment_bytes = scans.iter().map(|(_, s)| s.good_len()).sum();
    recovery.snapshot = base;
    recovery.snapshot_bytes = snapshot_bytes;
    recovery.next_segment = last.max(base).map_or(1, |n| n + 1);
    recovery.elapsed = started.elapsed();
    Ok(recovery)
}

/// Cuts the file at `path` to `len` bytes and flushes it.
pub(super) fn cut(path: &Path, len: u64) -> Result<(), DurableError> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|file| {
            file.set_len(len)?;
            file.sync_all()
        })
        .map_err(|e| DurableError::io("cannot cut", path, e))
}

fn damaged(dir: &DataDir, path: &Path, damage: &Damage) -> DurableError {
    DurableError::Damaged {
        path: path.to_owned(),
        dir: dir.path().to_owned(),
        offset: damage.offset,
        reason: damage.reason,
    }
}

//! `dendrite check-data DIR [--fix]`: reads every file of a data directory, reports where
//! each goes bad, and with `fix` cuts each damaged file at its first bad record.
//!
//! A cut segment loses the records after the damage; a cut snapshot gets a new end record
//! for the records kept. What is lost on this node is still on its replicas, and anti-entropy
//! brings it back once the node runs again.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::directory::DataDir;
use super::error::DurableError;
use super::format;
use super::recovery::cut;
use super::replay::{replay, Damage, SEGMENT_MAGIC, SNAPSHOT_MAGIC};

/// What the check found in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCheck {
    /// The file.
    pub path: PathBuf,
    /// Good records before the damage (all of them when there is none).
    pub records: u64,
    /// The file's length before any repair.
    pub file_len: u64,
    /// Where it goes bad, if it does.
    pub damage: Option<Damage>,
    /// Was this file cut off at the damage (`--fix`)?
    pub fixed: bool,
}

/// What the check found in a data directory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckReport {
    /// Every snapshot and segment, snapshots first.
    pub files: Vec<FileCheck>,
}

impl CheckReport {
    /// Would a node start on this directory as it is now? (A torn last record at the end of
    /// the newest segment is cut at start, so it does not prevent it.)
    pub fn starts(&self) -> bool {
        let last = self.files.len().saturating_sub(1);
        self.files.iter().enumerate().all(|(index, file)| {
            file.fixed
                || file.damage.as_ref().is_none_or(|damage| {
                    damage.torn
                        && index == last
                        && file.path.extension().is_some_and(|e| e == "log")
                })
        })
    }
}

impl std::fmt::Display for CheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for file in &self.files {
            write!(
                f,
                "{}: {} records, {} bytes",
                file.path.display(),
                file.records,
                file.file_len
            )?;
            match (&file.damage, file.fixed) {
                (None, _) => writeln!(f, ", ok")?,
                (Some(damage), true) => writeln!(
                    f,
                    ", damaged at byte {} ({}): fixed, cut there ({} bytes dropped)",
                    damage.offset,
                    damage.reason,
                    file.file_len - damage.offset
                )?,
                (Some(damage), false) => writeln!(
                    f,
                    ", damaged at byte {} ({}){}",
                    damage.offset,
                    damage.reason,
                    if damage.torn {
                        "; a write cut short, cut off at start if this is the newest segment"
                    } else {
                        "; repair with --fix"
                    }
                )?,
            }
        }
        if self.files.is_empty() {
            writeln!(f, "no segment and no snapshot: an empty data directory")?;
        }
        Ok(())
    }
}

/// Checks the data directory at `path` (locking it, so not under a running node), and with
/// `fix` cuts every damaged file at its first bad record.
pub fn check(path: &Path, fix: bool) -> Result<CheckReport, DurableError> {
    let dir = DataDir::open(path)?;
    let files = dir.files()?;
    let mut report = CheckReport::default();
    let kinds = files
        .snapshots
        .iter()
        .map(|(_, path)| (path, SNAPSHOT_MAGIC))
        .chain(files.segments.iter().map(|(_, path)| (path, SEGMENT_MAGIC)));
    for (path, magic) in kinds {
        let scan = replay(path, magic, |_| {})?;
        let mut fixed = false;
        if let (Some(damage), true) = (&scan.damage, fix) {
            cut(path, damage.offset)?;
            if magic == SNAPSHOT_MAGIC && scan.end.is_none() {
                let mut end = Vec::new();
                format::encode_end(&mut end, scan.records);
                OpenOptions::new()
                    .append(true)
                    .open(path)
                    .and_then(|mut file| {
                        file.write_all(&end)?;
                        file.sync_all()
                    })
                    .map_err(|e| DurableError::io("cannot write", path, e))?;
            }
            fixed = true;
        }
        report.files.push(FileCheck {
            path: path.clone(),
            records: scan.records,
            file_len: scan.file_len,
            damage: scan.damage,
            fixed,
        });
    }
    Ok(report)
}

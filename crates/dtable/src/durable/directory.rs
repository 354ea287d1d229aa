//! The data directory: its lock, its owner, and the names of its files.
//!
//! ```text
//! DIR/LOCK                    locked (flock) by the process using the directory
//! DIR/IDENTITY                the ring address of the node the data belongs to
//! DIR/segment-NNNNNNNNNNNN.log   log segments, numbered in the order they were written
//! DIR/snapshot-NNNNNNNNNNNN.snap the store when segment NNN was started: replaces every
//!                                segment numbered below it
//! ```

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::DurableError;

const LOCK: &str = "LOCK";
const IDENTITY: &str = "IDENTITY";
const SEGMENT_PREFIX: &str = "segment-";
const SEGMENT_SUFFIX: &str = ".log";
const SNAPSHOT_PREFIX: &str = "snapshot-";
const SNAPSHOT_SUFFIX: &str = ".snap";
/// Suffix of a snapshot being written (renamed once complete; a leftover one is deleted).
const PARTIAL_SUFFIX: &str = ".partial";

/// A data directory, locked by this process for as long as the value lives.
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    /// Holds the advisory lock; released when dropped (or when the process dies).
    _lock: File,
}

/// The numbered files of a directory, each list in increasing number.
#[derive(Debug, Default)]
pub struct DirFiles {
    /// Log segments.
    pub segments: Vec<(u64, PathBuf)>,
    /// Complete snapshots.
    pub snapshots: Vec<(u64, PathBuf)>,
    /// Snapshots whose writing never finished.
    pub partial: Vec<PathBuf>,
}

impl DataDir {
    /// Opens (creating it if needed) and locks the data directory at `path`. Fails with
    /// [`DurableError::Locked`] when another process (or another `DataDir` of this one) holds it.
    pub fn open(path: &Path) -> Result<DataDir, DurableError> {
        std::fs::create_dir_all(path)
            .map_err(|e| DurableError::io("cannot create the data directory", path, e))?;
        let lock_path = path.join(LOCK);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| DurableError::io("cannot open", &lock_path, e))?;
        match rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => {
                return Err(DurableError::Locked {
                    path: path.to_owned(),
                })
            }
            Err(e) => return Err(DurableError::io("cannot lock", &lock_path, e.into())),
        }
        Ok(DataDir {
            path: path.to_owned(),
            _lock: lock,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes sure the data belongs to the node at ring address `identity`: records it in a
    /// directory that has no owner yet, fails with [`DurableError::OtherIdentity`] when the
    /// directory belongs to another address.
    pub fn claim(&self, identity: &str) -> Result<(), DurableError> {
        let path = self.path.join(IDENTITY);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let owner = text.trim();
                if owner == identity {
                    Ok(())
                } else {
                    Err(DurableError::OtherIdentity {
                        path: self.path.clone(),
                        owner: owner.to_owned(),
                        wanted: identity.to_owned(),
                    })
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let partial = self.path.join(format!("{IDENTITY}{PARTIAL_SUFFIX}"));
                let write = |file: &mut File| {
                    file.write_all(format!("{identity}\n").as_bytes())?;
                    file.sync_all()
                };
                File::create(&partial)
                    .and_then(|mut file| write(&mut file))
                    .and_then(|()| std::fs::rename(&partial, &path))
                    .map_err(|e| DurableError::io("cannot write", &path, e))?;
                self.sync()
            }
            Err(e) => Err(DurableError::io("cannot read", &path, e)),
        }
    }

    /// The path of segment `number`.
    pub fn segment_path(&self, number: u64) -> PathBuf {
        self.path
            .join(format!("{SEGMENT_PREFIX}{number:012}{SEGMENT_SUFFIX}"))
    }

    /// The path of snapshot `number`.
    pub fn snapshot_path(&self, number: u64) -> PathBuf {
        self.path
            .join(format!("{SNAPSHOT_PREFIX}{number:012}{SNAPSHOT_SUFFIX}"))
    }

    /// Where snapshot `number` is written before it is complete.
    pub fn partial_snapshot_path(&self, number: u64) -> PathBuf {
        self.path.join(format!(
            "{SNAPSHOT_PREFIX}{number:012}{SNAPSHOT_SUFFIX}{PARTIAL_SUFFIX}"
        ))
    }

    /// The segments and snapshots in the directory.
    pub fn files(&self) -> Result<DirFiles, DurableError> {
        let entries = std::fs::read_dir(&self.path)
            .map_err(|e| DurableError::io("cannot list", &self.path, e))?;
        let mut files = DirFiles::default();
        for entry in entries {
            let entry = entry.map_err(|e| DurableError::io("cannot list", &self.path, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let number = |prefix: &str, suffix: &str| {
                name.strip_prefix(prefix)?
                    .strip_suffix(suffix)?
                    .parse::<u64>()
                    .ok()
            };
            if let Some(n) = number(SEGMENT_PREFIX, SEGMENT_SUFFIX) {
                files.segments.push((n, entry.path()));
            } else if let Some(n) = number(SNAPSHOT_PREFIX, SNAPSHOT_SUFFIX) {
                files.snapshots.push((n, entry.path()));
            } else if name.starts_with(SNAPSHOT_PREFIX) && name.ends_with(PARTIAL_SUFFIX) {
                files.partial.push(entry.path());
            }
        }
        files.segments.sort();
        files.snapshots.sort();
        Ok(files)
    }

    /// Flushes the directory itself (file creations, renames, deletions) to disk.
    pub fn sync(&self) -> Result<(), DurableError> {
        File::open(&self.path)
            .and_then(|dir| dir.sync_all())
            .map_err(|e| DurableError::io("cannot fsync the directory", &self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_opener_is_refused_until_the_first_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDir::open(dir.path()).unwrap();
        let second = DataDir::open(dir.path());
        assert!(matches!(second, Err(DurableError::Locked { .. })));
        drop(first);
        assert!(DataDir::open(dir.path()).is_ok());
    }

    #[test]
    fn the_directory_belongs_to_one_identity() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::open(dir.path()).unwrap();
        data.claim("127.0.0.1:7400").unwrap();
        data.claim("127.0.0.1:7400").unwrap();
        let error = data.claim("127.0.0.1:7401").unwrap_err();
        assert!(matches!(error, DurableError::OtherIdentity { .. }));
        assert!(error.to_string().contains("127.0.0.1:7400"), "{error}");
    }

    #[test]
    fn files_are_listed_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::open(dir.path()).unwrap();
        for path in [
            data.segment_path(10),
            data.segment_path(2),
            data.snapshot_path(3),
            data.partial_snapshot_path(11),
        ] {
            File::create(path).unwrap();
        }
        let files = data.files().unwrap();
        let numbers: Vec<u64> = files.segments.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, vec![2, 10]);
        assert_eq!(files.snapshots.len(), 1);
        assert_eq!(files.partial.len(), 1);
    }
}

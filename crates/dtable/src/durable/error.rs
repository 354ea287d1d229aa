//! What can go wrong with a data directory, each saying what to do about it.

use std::path::PathBuf;

/// How every error of a log that cannot be written begins: the RESP front recognises it in a
/// write's failure (which crosses the network as text) and answers Redis's `MISCONF`.
pub const DISK_FAILURE: &str = "disk full or failing: ";

/// Why a data directory could not be opened, recovered or written.
#[derive(Debug, thiserror::Error)]
pub enum DurableError {
    /// A file or directory operation failed.
    #[error("{action} {path}: {source}; check that the data directory exists, is writable and the disk is not full")]
    Io {
        /// What was being done ("cannot open", "cannot write", ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Another process holds the data directory's lock.
    #[error("data directory {path} is in use by another process (its LOCK file is locked); stop that process or choose another --data-dir")]
    Locked {
        /// The data directory.
        path: PathBuf,
    },
    /// The data directory belongs to another node identity.
    #[error("data directory {path} belongs to the node at {owner}, not {wanted}; start with --listen {owner}, or choose another --data-dir for {wanted}")]
    OtherIdentity {
        /// The data directory.
        path: PathBuf,
        /// The ring address written in its IDENTITY file.
        owner: String,
        /// The ring address this node runs at.
        wanted: String,
    },
    /// A log segment or snapshot is damaged before its end: recovery refuses to guess.
    #[error("{path} is damaged at byte {offset} ({reason}); nothing was loaded. Inspect with `dendrite check-data {dir}`, and repair with `dendrite check-data {dir} --fix` (cuts the file at that record; anti-entropy refills from the replicas what is lost)")]
    Damaged {
        /// The damaged file.
        path: PathBuf,
        /// The data directory (for the repair command).
        dir: PathBuf,
        /// Offset of the first bad record.
        offset: u64,
        /// What is wrong there.
        reason: &'static str,
    },
    /// A write was refused before anything was applied: the log cannot be written (a full
    /// disk, a failing device).
    #[error("{DISK_FAILURE}its log cannot be written ({0}). Nothing was applied; reads are still served. Free space for its data directory (or replace the failing disk): writes resume by themselves once the log can be written again")]
    Refused(String),
    /// A write was applied in memory (and sent to its replicas) but the log could not take it.
    #[error("{DISK_FAILURE}the write was applied in memory and sent to the replicas, but could not be written to the log on disk ({0}); it is not durable on this node until the disk takes it. Reads are still served. Free space for its data directory: the queued records are written by themselves once space returns")]
    NotLogged(String),
}

impl DurableError {
    /// An [`Io`](DurableError::Io) error for `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DurableError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

//! How often the log is flushed to disk, and when it is compacted.

/// When the log reaches the disk (Redis's `appendfsync`, with the same meanings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FsyncPolicy {
    /// A write is acknowledged only once its record is flushed (group commit: one fsync covers
    /// every record appended before it).
    Always,
    /// The log is written within milliseconds and flushed about once a second: a machine that
    /// loses power loses at most about a second of acknowledged writes (a killed process loses
    /// only the few milliseconds not yet handed to the OS).
    #[default]
    EverySec,
    /// The log is written within milliseconds; the OS decides when it reaches the disk.
    No,
}

impl FsyncPolicy {
    /// The name used in settings and INFO: `always`, `everysec` or `no`.
    pub fn name(self) -> &'static str {
        match self {
            FsyncPolicy::Always => "always",
            FsyncPolicy::EverySec => "everysec",
            FsyncPolicy::No => "no",
        }
    }
}

impl std::fmt::Display for FsyncPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a [`FsyncPolicy`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an fsync policy; use always, everysec or no")]
pub struct UnknownPolicy(pub String);

impl std::str::FromStr for FsyncPolicy {
    type Err = UnknownPolicy;
    fn from_str(text: &str) -> Result<FsyncPolicy, UnknownPolicy> {
        match text.trim().to_ascii_lowercase().as_str() {
            "always" => Ok(FsyncPolicy::Always),
            "everysec" => Ok(FsyncPolicy::EverySec),
            "no" => Ok(FsyncPolicy::No),
            _ => Err(UnknownPolicy(text.to_owned())),
        }
    }
}

/// Settings of a node's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// When the log is flushed.
    pub fsync: FsyncPolicy,
    /// A snapshot is taken once the segments written since the last one hold at least this
    /// many bytes and at least as many as that snapshot (Redis's `auto-aof-rewrite-min-size`
    /// and `auto-aof-rewrite-percentage 100`), so the disk holds about twice the data at most.
    pub snapshot_min_bytes: u64,
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            fsync: FsyncPolicy::default(),
            snapshot_min_bytes: 64 << 20,
        }
    }
}

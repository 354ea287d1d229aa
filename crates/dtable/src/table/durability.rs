//! How the table's write paths wait for the durable log (`--fsync always`): a write, primary
//! or replica copy, is acknowledged only once the log holds it on disk. Under the other
//! policies, and without a log, nothing waits.

use super::TableInner;

/// A position in the log to wait for (`None`: the table has no log).
pub(super) type LogMark = Option<u64>;

impl TableInner {
    /// The log's position after every record stored so far by this thread: read it after
    /// storing a write's records, then [`durable`](TableInner::durable) it.
    pub(super) fn log_mark(&self) -> LogMark {
        self.log.as_ref().map(|log| log.mark())
    }

    /// Waits until the log holds everything up to `mark` on disk, as its fsync policy says
    /// (group commit: one fsync covers every write waiting). `Err` says why it cannot.
    pub(super) async fn durable(&self, mark: LogMark) -> Result<(), String> {
        match (&self.log, mark) {
            (Some(log), Some(mark)) => log.wait_durable(mark).await.map_err(|e| e.to_string()),
            _ => Ok(()),
        }
    }
}

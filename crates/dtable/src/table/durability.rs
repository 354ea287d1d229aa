//! How the table's write paths wait for the durable log (`--fsync always`): a write, primary
//! or replica copy, is acknowledged only once the log holds it on disk. Under the other
//! policies, and without a log, nothing waits.

use super::TableInner;
use crate::durable::DurableError;

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
            (Some(log), Some(mark)) => log
                .wait_durable(mark)
                .await
                .map_err(|e| self.disk_failure(e)),
            _ => Ok(()),
        }
    }

    /// Refuses a write before anything is applied while the log cannot be written (a full
    /// disk): the error says so, and that nothing was applied.
    pub(super) fn writable(&self) -> Result<(), String> {
        match &self.log {
            Some(log) => log.check_writable().map_err(|e| self.disk_failure(e)),
            None => Ok(()),
        }
    }

    /// The text of a log failure, naming this node (it crosses the network to the primary and
    /// the client as text; it holds [`DISK_FAILURE`](crate::durable::error::DISK_FAILURE) so
    /// that the RESP front can tell it apart).
    fn disk_failure(&self, error: DurableError) -> String {
        format!("node {}: {error}", self.ring.local_host())
    }
}

//! Where a table reads the time: the wall clock, or a clock that follows tokio's (virtual,
//! in paused-time tests and simulations) so that deadlines, versions and tombstone grace pass
//! with the test's time, and a seed replays the same way.

use std::time::{SystemTime, UNIX_EPOCH};

/// The time source of a table's clock (see [`TableConfig::time`](crate::TableConfig::time)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TimeSource {
    /// The system's wall clock: what a node runs on.
    #[default]
    System,
    /// The wall clock when it was made, advanced by tokio's clock since: under
    /// `tokio::time::pause` it moves only as the test's virtual time does.
    Tokio {
        /// Unix milliseconds at `since`.
        anchor_millis: u64,
        /// The tokio instant the anchor was read at.
        since: tokio::time::Instant,
    },
}

impl TimeSource {
    /// A source that follows tokio's clock from now on (call it inside the runtime whose time
    /// it should follow).
    pub fn tokio() -> TimeSource {
        TimeSource::tokio_from(system_millis())
    }

    /// A source that follows tokio's clock from now on, reading `anchor_millis` (Unix
    /// milliseconds) now: no wall clock at all, so versions and deadlines of a seeded
    /// simulation are the same on every replay (crates/tablesim).
    pub fn tokio_from(anchor_millis: u64) -> TimeSource {
        TimeSource::Tokio {
            anchor_millis,
            since: tokio::time::Instant::now(),
        }
    }

    /// Unix milliseconds now, by this source.
    pub fn now_millis(&self) -> u64 {
        match self {
            TimeSource::System => system_millis(),
            TimeSource::Tokio {
                anchor_millis,
                since,
            } => {
                let elapsed = u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX);
                anchor_millis.saturating_add(elapsed)
            }
        }
    }
}

/// Milliseconds since the Unix epoch by the system's wall clock (0 before 1970).
pub fn system_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn the_tokio_source_moves_with_virtual_time_only() {
        let source = TimeSource::tokio();
        let start = source.now_millis();
        tokio::time::sleep(Duration::from_secs(3600)).await;
        let later = source.now_millis();
        assert!(
            (3_600_000..3_600_100).contains(&(later - start)),
            "{later} - {start}"
        );
    }
}

//! The durable log as operators see it: the `persistence` object of `/status`, the
//! `# Persistence` INFO section (Redis's field names where they mean the same) and the
//! `dendrite_log_*` / `dendrite_recovery_*` metrics.

use std::fmt;
use std::sync::Arc;

use dtable::durable::{Log, LogStatus};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;

use crate::metrics::ScrapedFamilies;
use crate::node_status::{
    CatchUp, DurableStatus, InMemoryStatus, PersistenceStatus, RecoveryStatus,
};

/// The `persistence` object of `/status`: in memory only without a log.
pub fn status(log: Option<&Arc<Log>>, catch_up: CatchUp) -> PersistenceStatus {
    let Some(log) = log else {
        return PersistenceStatus::InMemory(InMemoryStatus {
            enabled: false,
            pulled_after_restart: catch_up,
        });
    };
    let status = log.status();
    let recovery = &status.recovery;
    PersistenceStatus::Durable(Box::new(DurableStatus {
        appended_bytes: status.appended_bytes,
        enabled: true,
        fsync: status.fsync.name().to_owned(),
        log_bytes: status.segment_bytes + status.snapshot_bytes,
        segment_bytes: status.segment_bytes,
        snapshot_bytes: status.snapshot_bytes,
        last_snapshot_unix_ms: status.last_snapshot_unix_ms,
        snapshots: status.snapshots,
        snapshot_in_progress: status.snapshot_in_progress,
        snapshot_requested: status.snapshot_requested,
        last_save_unix: log.last_save_unix(),
        last_snapshot_failed: status.last_snapshot_failed,
        unsynced_bytes: status.unsynced_bytes,
        fsync_lag_ms: status.fsync_lag_ms,
        fsyncs: status.fsyncs,
        write_errors: status.write_errors,
        refused_writes: status.refused_writes,
        pulled_after_restart: catch_up,
        error: status.error,
        recovery: RecoveryStatus {
            records: recovery.records,
            elapsed_ms: u64::try_from(recovery.elapsed.as_millis()).unwrap_or(u64::MAX),
            truncated_tails: recovery.truncated_tails,
            truncated_bytes: recovery.truncated_bytes,
            snapshot_bytes: recovery.snapshot_bytes,
            segment_bytes: recovery.segment_bytes,
        },
    }))
}

/// The `# Persistence` INFO section; `None` (a backend without a ring) reads as a node in
/// memory that pulled nothing.
pub fn info_section(persistence: Option<&PersistenceStatus>) -> String {
    let pulled = persistence
        .map(PersistenceStatus::pulled_after_restart)
        .unwrap_or_default();
    let log = match persistence {
        Some(PersistenceStatus::Durable(log)) => Some(log),
        _ => None,
    };
    let enabled = u8::from(log.is_some());
    let mut text = format!("# Persistence\r\nloading:0\r\naof_enabled:{enabled}\r\n");
    text.push_str(&format!(
        "pulled_after_restart_records:{}\r\npulled_after_restart_bytes:{}\r\n",
        pulled.records, pulled.bytes
    ));
    // A snapshot asked for by a client is Redis's BGSAVE; one the log's growth started is its
    // AOF rewrite.
    let in_progress = log.is_some_and(|l| l.snapshot_in_progress);
    let requested = log.is_some_and(|l| l.snapshot_requested);
    text.push_str(&format!(
        "rdb_bgsave_in_progress:{}\r\naof_rewrite_in_progress:{}\r\n",
        u8::from(in_progress && requested),
        u8::from(in_progress && !requested)
    ));
    let Some(log) = log else {
        return text;
    };
    let ok = |failed: bool| if failed { "err" } else { "ok" };
    let lines = [
        ("aof_fsync", log.fsync.clone()),
        ("aof_current_size", log.log_bytes.to_string()),
        ("aof_segments_size", log.segment_bytes.to_string()),
        ("aof_base_size", log.snapshot_bytes.to_string()),
        ("aof_last_write_status", ok(log.error.is_some()).to_owned()),
        ("aof_write_errors", log.write_errors.to_string()),
        ("aof_refused_writes", log.refused_writes.to_string()),
        ("aof_unsynced_bytes", log.unsynced_bytes.to_string()),
        ("aof_fsync_lag_ms", log.fsync_lag_ms.to_string()),
        ("aof_fsyncs", log.fsyncs.to_string()),
        ("rdb_last_save_time", log.last_save_unix.to_string()),
        (
            "rdb_last_bgsave_status",
            ok(log.last_snapshot_failed).to_owned(),
        ),
        (
            "aof_last_bgrewrite_status",
            ok(log.last_snapshot_failed).to_owned(),
        ),
        ("rdb_saves", log.snapshots.to_string()),
        ("loading_loaded_records", log.recovery.records.to_string()),
        ("loading_time_ms", log.recovery.elapsed_ms.to_string()),
        (
            "aof_load_truncated_tails",
            log.recovery.truncated_tails.to_string(),
        ),
    ];
    for (name, value) in lines {
        text.push_str(&format!("{name}:{value}\r\n"));
    }
    text
}

/// The log's metrics at `/metrics`, read at every scrape.
#[derive(Debug)]
pub struct LogMetrics {
    log: Arc<Log>,
}

impl LogMetrics {
    /// Metrics of `log`.
    pub fn new(log: Arc<Log>) -> LogMetrics {
        LogMetrics { log }
    }
}

impl Collector for LogMetrics {
    fn encode(&self, encoder: DescriptorEncoder) -> fmt::Result {
        let LogStatus {
            segment_bytes,
            snapshot_bytes,
            last_snapshot_unix_ms,
            snapshots,
            unsynced_bytes,
            fsync_lag_ms,
            fsyncs,
            write_errors,
            refused_writes,
            error,
            recovery,
            ..
        } = self.log.status();
        let mut out = ScrapedFamilies::new(encoder);
        out.gauges(
            "dendrite_log_bytes",
            "Bytes of the durable log on disk, by file kind.",
            &[
                (&[("file", "segments")], segment_bytes),
                (&[("file", "snapshot")], snapshot_bytes),
            ],
        )?;
        out.gauge(
            "dendrite_log_unsynced_bytes",
            "Bytes appended to the log and not yet known to be on disk.",
            unsynced_bytes,
        )?;
        out.gauge(
            "dendrite_log_fsync_lag_milliseconds",
            "Time since the last fsync while records wait for one (0 when none do).",
            fsync_lag_ms,
        )?;
        out.counter("dendrite_log_fsyncs_total", "Fsyncs of the log.", fsyncs)?;
        out.counter(
            "dendrite_log_write_errors_total",
            "Failed writes or fsyncs of the log (a full disk, a failing device).",
            write_errors,
        )?;
        out.counter(
            "dendrite_log_refused_writes_total",
            "Client writes refused, nothing applied, while the log could not be written.",
            refused_writes,
        )?;
        out.gauge(
            "dendrite_log_writable",
            "1 while the log can be written; 0 while writes on this node fail.",
            u64::from(error.is_none()),
        )?;
        out.counter(
            "dendrite_log_snapshots_total",
            "Snapshots written by this process.",
            snapshots,
        )?;
        out.gauge(
            "dendrite_log_last_snapshot_timestamp_seconds",
            "When the newest snapshot was completed (Unix time; 0 for none).",
            last_snapshot_unix_ms.unwrap_or(0) / 1000,
        )?;
        out.gauge(
            "dendrite_recovery_records",
            "Records loaded from the data directory at start.",
            recovery.records,
        )?;
        out.gauge(
            "dendrite_recovery_duration_milliseconds",
            "How long loading the data directory took at start.",
            u64::try_from(recovery.elapsed.as_millis()).unwrap_or(u64::MAX),
        )?;
        out.gauge(
            "dendrite_recovery_truncated_tails",
            "Log segments whose last record was cut short (a crash mid-write) and cut off at \
             start (Redis's aof-load-truncated).",
            recovery.truncated_tails,
        )?;
        Ok(())
    }
}

//! The durable log as operators see it: the `persistence` object of `/status`, the
//! `# Persistence` INFO section (Redis's field names where they mean the same) and the
//! `dendrite_log_*` / `dendrite_recovery_*` metrics.

use std::sync::Arc;

use dtable::durable::{Log, LogStatus};
use serde_json::json;

use crate::metrics::MetricsSource;
use crate::table_metrics::family;

/// What a node received from the other copies after it started that was written before:
/// the transfer a restart cost (dtable's `TableStats::caught_up_records`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CatchUp {
    /// Records received.
    pub records: u64,
    /// Their bytes (keys and values).
    pub bytes: u64,
}

/// The `persistence` object of `/status`: `{"enabled": false, ...}` for a node in memory only.
pub fn status_json(log: Option<&Arc<Log>>, catch_up: CatchUp) -> serde_json::Value {
    let pulled = json!({ "records": catch_up.records, "bytes": catch_up.bytes });
    let Some(log) = log else {
        return json!({ "enabled": false, "pulled_after_restart": pulled });
    };
    let status = log.status();
    let recovery = &status.recovery;
    json!({
        "enabled": true,
        "fsync": status.fsync.name(),
        "log_bytes": status.segment_bytes + status.snapshot_bytes,
        "segment_bytes": status.segment_bytes,
        "snapshot_bytes": status.snapshot_bytes,
        "last_snapshot_unix_ms": status.last_snapshot_unix_ms,
        "snapshots": status.snapshots,
        "snapshot_in_progress": status.snapshot_in_progress,
        "snapshot_requested": status.snapshot_requested,
        "last_save_unix": log.last_save_unix(),
        "last_snapshot_failed": status.last_snapshot_failed,
        "appended_bytes": status.appended_bytes,
        "unsynced_bytes": status.unsynced_bytes,
        "fsync_lag_ms": status.fsync_lag_ms,
        "fsyncs": status.fsyncs,
        "write_errors": status.write_errors,
        "refused_writes": status.refused_writes,
        "pulled_after_restart": pulled,
        "error": status.error,
        "recovery": {
            "records": recovery.records,
            "elapsed_ms": u64::try_from(recovery.elapsed.as_millis()).unwrap_or(u64::MAX),
            "truncated_tails": recovery.truncated_tails,
            "truncated_bytes": recovery.truncated_bytes,
            "snapshot_bytes": recovery.snapshot_bytes,
            "segment_bytes": recovery.segment_bytes,
        },
    })
}

/// The `# Persistence` INFO section, from the `persistence` object of `/status`.
pub fn info_section(status: &serde_json::Value) -> String {
    let p = &status["persistence"];
    let number = |field: &str| p[field].as_u64().unwrap_or(0);
    let flag = |field: &str| u8::from(p[field].as_bool().unwrap_or(false));
    let enabled = flag("enabled");
    let mut text = format!("# Persistence\r\nloading:0\r\naof_enabled:{enabled}\r\n");
    let pulled = |field: &str| p["pulled_after_restart"][field].as_u64().unwrap_or(0);
    text.push_str(&format!(
        "pulled_after_restart_records:{}\r\npulled_after_restart_bytes:{}\r\n",
        pulled("records"),
        pulled("bytes")
    ));
    // A snapshot asked for by a client is Redis's BGSAVE; one the log's growth started is its
    // AOF rewrite.
    let in_progress = flag("snapshot_in_progress");
    let requested = flag("snapshot_requested");
    text.push_str(&format!(
        "rdb_bgsave_in_progress:{}\r\naof_rewrite_in_progress:{}\r\n",
        in_progress & requested,
        in_progress & (1 - requested)
    ));
    if enabled == 0 {
        return text;
    }
    let ok = |failed: bool| if failed { "err" } else { "ok" };
    let lines = [
        ("aof_fsync", p["fsync"].as_str().unwrap_or("").to_owned()),
        ("aof_current_size", number("log_bytes").to_string()),
        ("aof_segments_size", number("segment_bytes").to_string()),
        ("aof_base_size", number("snapshot_bytes").to_string()),
        (
            "aof_last_write_status",
            ok(!p["error"].is_null()).to_owned(),
        ),
        ("aof_write_errors", number("write_errors").to_string()),
        ("aof_refused_writes", number("refused_writes").to_string()),
        ("aof_unsynced_bytes", number("unsynced_bytes").to_string()),
        ("aof_fsync_lag_ms", number("fsync_lag_ms").to_string()),
        ("aof_fsyncs", number("fsyncs").to_string()),
        ("rdb_last_save_time", number("last_save_unix").to_string()),
        (
            "rdb_last_bgsave_status",
            ok(flag("last_snapshot_failed") == 1).to_owned(),
        ),
        (
            "aof_last_bgrewrite_status",
            ok(flag("last_snapshot_failed") == 1).to_owned(),
        ),
        ("rdb_saves", number("snapshots").to_string()),
        (
            "loading_loaded_records",
            p["recovery"]["records"].as_u64().unwrap_or(0).to_string(),
        ),
        (
            "loading_time_ms",
            p["recovery"]["elapsed_ms"]
                .as_u64()
                .unwrap_or(0)
                .to_string(),
        ),
        (
            "aof_load_truncated_tails",
            p["recovery"]["truncated_tails"]
                .as_u64()
                .unwrap_or(0)
                .to_string(),
        ),
    ];
    for (name, value) in lines {
        text.push_str(&format!("{name}:{value}\r\n"));
    }
    text
}

/// The log's metrics at `/metrics`.
pub struct LogMetrics {
    log: Arc<Log>,
}

impl LogMetrics {
    /// Metrics of `log`.
    pub fn new(log: Arc<Log>) -> Arc<LogMetrics> {
        Arc::new(LogMetrics { log })
    }
}

impl MetricsSource for LogMetrics {
    fn render(&self, out: &mut String) {
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
        family(
            out,
            "dendrite_log_bytes",
            "gauge",
            "Bytes of the durable log on disk, by file kind.",
            &[
                ("file=\"segments\"", segment_bytes),
                ("file=\"snapshot\"", snapshot_bytes),
            ],
        );
        family(
            out,
            "dendrite_log_unsynced_bytes",
            "gauge",
            "Bytes appended to the log and not yet known to be on disk.",
            &[("", unsynced_bytes)],
        );
        family(
            out,
            "dendrite_log_fsync_lag_milliseconds",
            "gauge",
            "Time since the last fsync while records wait for one (0 when none do).",
            &[("", fsync_lag_ms)],
        );
        family(
            out,
            "dendrite_log_fsyncs_total",
            "counter",
            "Fsyncs of the log.",
            &[("", fsyncs)],
        );
        family(
            out,
            "dendrite_log_write_errors_total",
            "counter",
            "Failed writes or fsyncs of the log (a full disk, a failing device).",
            &[("", write_errors)],
        );
        family(
            out,
            "dendrite_log_refused_writes_total",
            "counter",
            "Client writes refused, nothing applied, while the log could not be written.",
            &[("", refused_writes)],
        );
        family(
            out,
            "dendrite_log_writable",
            "gauge",
            "1 while the log can be written; 0 while writes on this node fail.",
            &[("", u64::from(error.is_none()))],
        );
        family(
            out,
            "dendrite_log_snapshots_total",
            "counter",
            "Snapshots written by this process.",
            &[("", snapshots)],
        );
        family(
            out,
            "dendrite_log_last_snapshot_timestamp_seconds",
            "gauge",
            "When the newest snapshot was completed (Unix time; 0 for none).",
            &[("", last_snapshot_unix_ms.unwrap_or(0) / 1000)],
        );
        family(
            out,
            "dendrite_recovery_records",
            "gauge",
            "Records loaded from the data directory at start.",
            &[("", recovery.records)],
        );
        family(
            out,
            "dendrite_recovery_duration_milliseconds",
            "gauge",
            "How long loading the data directory took at start.",
            &[(
                "",
                u64::try_from(recovery.elapsed.as_millis()).unwrap_or(u64::MAX),
            )],
        );
        family(
            out,
            "dendrite_recovery_truncated_tails",
            "gauge",
            "Log segments whose last record was cut short (a crash mid-write) and cut off at \
             start (Redis's aof-load-truncated).",
            &[("", recovery.truncated_tails)],
        );
    }
}

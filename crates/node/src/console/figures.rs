//! This node's own figures, as `/console/node.json` serves them and other nodes' consoles
//! gather them: state, ownership, keys held, load, replication and version. Everything is
//! read from counters the table and metrics keep (and the store's chunk index), so a request
//! costs the same with 1 M keys as with 10.

use serde::Serialize;

use super::history::{History, Sample};
use crate::table_backend::arc_share;

/// The figures of one node.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct NodeFigures {
    /// The node's ring address: its name on the ring.
    pub host: String,
    /// The `dendrite` version it runs.
    pub version: String,
    /// Seconds since it started.
    pub uptime_s: u64,
    /// `up`, or `joining` while one of its vnodes knows no predecessor yet (or the ring is not
    /// running): after a join, and for a stabilization round or so after the host holding a
    /// vnode's predecessor failed.
    pub state: String,
    /// Share of the ring its vnodes own (0..=1), from their predecessors to themselves.
    pub ownership: f64,
    /// Keys held: every live value, as primary or replica.
    pub keys: u64,
    /// Records in the ranges it is primary of (tombstones included); the rest of `keys` are
    /// replica copies.
    pub primary_keys: u64,
    /// Commands per second over the last second.
    pub ops_per_sec: f64,
    /// Median GET/SET/DEL latency over the last second, ms (bucket upper bound).
    pub p50_ms: Option<f64>,
    /// 99th percentile latency over the last second, ms (bucket upper bound).
    pub p99_ms: Option<f64>,
    /// Writes waiting to reach a replica.
    pub replication_backlog: u64,
    /// Local ranges lacking copies (see `/status`).
    pub underreplicated_ranges: usize,
    /// When an anti-entropy round last finished, Unix ms.
    pub last_anti_entropy_ms: Option<u64>,
    /// Its vnodes and the records each holds as primary.
    pub vnodes: Vec<VnodeFigures>,
    /// The last five minutes of load, oldest first, one sample in
    /// [`CHART_STEP`](super::history::CHART_STEP) (ending with the newest).
    pub history: Vec<Sample>,
}

/// One vnode of a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct VnodeFigures {
    /// Its ring id, 40 hex digits.
    pub id: String,
    /// Records it holds as primary; `None` while it knows no predecessor.
    pub records: Option<usize>,
}

impl NodeFigures {
    /// The figures of the node running `table`, with its `metrics` and load `history`.
    pub fn of(
        table: &dtable::Table,
        metrics: &crate::metrics::Metrics,
        history: &History,
    ) -> NodeFigures {
        let ring = table.ring();
        let snapshot = ring.snapshot();
        let ownership = snapshot
            .iter()
            .filter_map(|s| {
                s.predecessor
                    .as_ref()
                    .map(|p| arc_share(&p.id, &s.vnode.id))
            })
            .sum::<f64>()
            .min(1.0);
        let joining = !ring.is_running() || snapshot.iter().any(|s| s.predecessor.is_none());
        let vnodes: Vec<VnodeFigures> = table
            .vnode_records()
            .into_iter()
            .map(|v| VnodeFigures {
                id: v.vnode.id.to_string(),
                records: v.primary,
            })
            .collect();
        let keys = table.local_len() as u64;
        let primary_keys = vnodes.iter().filter_map(|v| v.records).sum::<usize>() as u64;
        let latest = history.latest();
        let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        NodeFigures {
            host: ring.local_host().to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            uptime_s: metrics.uptime().as_secs(),
            state: if joining { "joining" } else { "up" }.to_string(),
            ownership,
            keys,
            primary_keys,
            ops_per_sec: latest.map_or(0.0, |s| s.ops_per_sec),
            p50_ms: latest.and_then(|s| s.p50_ms),
            p99_ms: latest.and_then(|s| s.p99_ms),
            replication_backlog: load(&table.stats().replication_backlog),
            underreplicated_ranges: table.underreplicated_ranges(),
            last_anti_entropy_ms: history.last_anti_entropy_ms(),
            vnodes,
            history: history.samples_every(super::history::CHART_STEP),
        }
    }
}

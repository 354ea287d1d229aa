//! The ring's and the table's numbers at `/metrics`: ring changes, replication backlog,
//! migration and repair progress, routing, keys held.
//!
//! Table counters are read at scrape time from [`dtable::TableStats`]; ring changes are
//! counted by a task that listens to the ring's events for as long as the ring runs.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dendrite::RingEvent;
use dtable::Table;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;
use tokio::sync::broadcast::error::RecvError;

use crate::metrics::{CounterSet, ScrapedFamilies};

/// Ring event kinds, as the `kind` label of `dendrite_ring_changes_total`.
const CHANGE_KINDS: [&str; 3] = ["predecessor_joined", "predecessor_left", "replicas_changed"];

/// Exports one node's ring and table metrics.
#[derive(Debug)]
pub struct TableMetrics {
    table: Table,
    ring_changes: CounterSet<{ CHANGE_KINDS.len() }>,
}

impl TableMetrics {
    /// Starts counting `table`'s ring events; the counting task ends with the ring.
    pub fn start(table: Table) -> Arc<TableMetrics> {
        let metrics = Arc::new(TableMetrics {
            ring_changes: CounterSet::new("kind", CHANGE_KINDS),
            table,
        });
        let mut events = metrics.table.ring().subscribe();
        let counter = Arc::downgrade(&metrics);
        tokio::spawn(async move {
            loop {
                let kind = match events.recv().await {
                    Ok(RingEvent::PredecessorJoined { .. }) => 0,
                    Ok(RingEvent::PredecessorLeft { .. }) => 1,
                    Ok(RingEvent::ReplicasChanged { .. }) => 2,
                    // Missed events are lost to the count, not to the node.
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return,
                };
                let Some(metrics) = counter.upgrade() else {
                    return;
                };
                metrics.ring_changes.inc(kind);
            }
        });
        metrics
    }
}

impl Collector for TableMetrics {
    fn encode(&self, encoder: DescriptorEncoder) -> fmt::Result {
        let stats = self.table.stats();
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let ring = self.table.ring();
        let mut out = ScrapedFamilies::new(encoder);
        out.counter_set(
            "dendrite_ring_changes_total",
            "Changes of this node's vnodes' neighbourhood, by kind.",
            &self.ring_changes,
        )?;
        out.gauge(
            "dendrite_ring_vnodes",
            "Virtual nodes this node runs.",
            ring.local_vnodes().len() as u64,
        )?;
        out.gauge(
            "dendrite_ring_running",
            "1 while this node is part of the ring.",
            u64::from(ring.is_running()),
        )?;
        out.gauge(
            "dendrite_keys",
            "Records stored on this node (primary and replica copies).",
            self.table.local_len() as u64,
        )?;
        out.counters(
            "dendrite_table_requests_total",
            "Reads and writes coordinated by this node, by outcome.",
            &[
                (
                    &[("op", "read"), ("outcome", "ok")],
                    load(&stats.reads).saturating_sub(load(&stats.read_errors)),
                ),
                (
                    &[("op", "read"), ("outcome", "error")],
                    load(&stats.read_errors),
                ),
                (
                    &[("op", "write"), ("outcome", "ok")],
                    load(&stats.writes).saturating_sub(load(&stats.write_errors)),
                ),
                (
                    &[("op", "write"), ("outcome", "error")],
                    load(&stats.write_errors),
                ),
            ],
        )?;
        out.gauge(
            "dendrite_replication_backlog",
            "Replica writes still being delivered in the background.",
            load(&stats.replication_backlog),
        )?;
        out.counter(
            "dendrite_replication_failures_total",
            "Replica writes left to anti-entropy after every attempt failed.",
            load(&stats.replication_failures),
        )?;
        out.counters(
            "dendrite_migrated_records_total",
            "Records moved by migration and anti-entropy, by direction (migration progress).",
            &[
                (&[("direction", "in")], load(&stats.repaired_in)),
                (&[("direction", "out")], load(&stats.repaired_out)),
            ],
        )?;
        // A count, but its sample name has no `_total` (a counter's would get one).
        out.values(
            "dendrite_pulled_after_restart",
            "What this node received from the other copies since it started that was written \
             before (the transfer a restart cost), in records and in bytes of keys and values.",
            MetricType::Unknown,
            &[
                (&[("unit", "records")], load(&stats.caught_up_records)),
                (&[("unit", "bytes")], load(&stats.caught_up_bytes)),
            ],
        )?;
        out.gauge(
            "dendrite_underreplicated_ranges",
            "Local ranges lacking copies: changed since their last complete anti-entropy round, \
             a replica restarted or silent, or fewer hosts than replicas. 0 = fully replicated.",
            self.table.underreplicated_ranges() as u64,
        )?;
        out.counter(
            "dendrite_handed_back_records_total",
            "Records of ranges this node no longer serves, handed to their copies and dropped.",
            load(&stats.handed_back),
        )?;
        out.counter(
            "dendrite_expired_keys_total",
            "Keys past their deadline reclaimed (as tombstones) by this node, as their primary.",
            load(&stats.expired),
        )?;
        out.counter(
            "dendrite_unsettled_reads_total",
            "Reads whose primary could not answer alone (taking its range over, or silent).",
            load(&stats.unsettled_reads),
        )?;
        out.counter(
            "dendrite_repair_rounds_total",
            "Anti-entropy rounds completed.",
            load(&stats.repair_rounds),
        )?;
        out.counter(
            "dendrite_versions_refused_total",
            "Records from peers not stored because their version was further ahead of this \
             node's clock than max_clock_skew (a peer's clock is wrong).",
            load(&stats.versions_refused),
        )?;
        out.counters(
            "dendrite_routes_total",
            "Requests sent straight to the owner versus after a lookup or redirect.",
            &[
                (&[("route", "direct")], load(&stats.direct_routes)),
                (&[("route", "rerouted")], load(&stats.rerouted)),
            ],
        )?;
        Ok(())
    }
}

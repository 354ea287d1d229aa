//! The ring's and the table's numbers at `/metrics`: ring changes, replication backlog,
//! migration and repair progress, routing, keys held.
//!
//! Table counters are read at scrape time from [`dtable::TableStats`]; ring changes are
//! counted by a task that listens to the ring's events for as long as the ring runs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dendrite::RingEvent;
use dtable::Table;
use tokio::sync::broadcast::error::RecvError;

use crate::metrics::{family, label, MetricsSource};

/// Ring event kinds, as the `kind` label of `dendrite_ring_changes_total`.
const CHANGE_KINDS: [&str; 3] = ["predecessor_joined", "predecessor_left", "replicas_changed"];

/// Exports one node's ring and table metrics.
pub struct TableMetrics {
    table: Table,
    ring_changes: [AtomicU64; CHANGE_KINDS.len()],
}

impl TableMetrics {
    /// Starts counting `table`'s ring events; the counting task ends with the ring.
    pub fn start(table: Table) -> Arc<TableMetrics> {
        let metrics = Arc::new(TableMetrics {
            ring_changes: Default::default(),
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
                metrics.ring_changes[kind].fetch_add(1, Ordering::Relaxed);
            }
        });
        metrics
    }
}

impl MetricsSource for TableMetrics {
    fn render(&self, out: &mut String) {
        let stats = self.table.stats();
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let ring = self.table.ring();
        let change_samples: Vec<(String, u64)> = CHANGE_KINDS
            .iter()
            .zip(&self.ring_changes)
            .map(|(kind, count)| (label("kind", kind), load(count)))
            .collect();
        family(
            out,
            "dendrite_ring_changes_total",
            "counter",
            "Changes of this node's vnodes' neighbourhood, by kind.",
            &change_samples,
        );
        family(
            out,
            "dendrite_ring_vnodes",
            "gauge",
            "Virtual nodes this node runs.",
            &[("", ring.local_vnodes().len() as u64)],
        );
        family(
            out,
            "dendrite_ring_running",
            "gauge",
            "1 while this node is part of the ring.",
            &[("", u64::from(ring.is_running()))],
        );
        family(
            out,
            "dendrite_keys",
            "gauge",
            "Records stored on this node (primary and replica copies).",
            &[("", self.table.local_len() as u64)],
        );
        family(
            out,
            "dendrite_table_requests_total",
            "counter",
            "Reads and writes coordinated by this node, by outcome.",
            &[
                (
                    "op=\"read\",outcome=\"ok\"",
                    load(&stats.reads).saturating_sub(load(&stats.read_errors)),
                ),
                ("op=\"read\",outcome=\"error\"", load(&stats.read_errors)),
                (
                    "op=\"write\",outcome=\"ok\"",
                    load(&stats.writes).saturating_sub(load(&stats.write_errors)),
                ),
                ("op=\"write\",outcome=\"error\"", load(&stats.write_errors)),
            ],
        );
        family(
            out,
            "dendrite_replication_backlog",
            "gauge",
            "Replica writes still being delivered in the background.",
            &[("", load(&stats.replication_backlog))],
        );
        family(
            out,
            "dendrite_replication_failures_total",
            "counter",
            "Replica writes left to anti-entropy after every attempt failed.",
            &[("", load(&stats.replication_failures))],
        );
        family(
            out,
            "dendrite_migrated_records_total",
            "counter",
            "Records moved by migration and anti-entropy, by direction (migration progress).",
            &[
                ("direction=\"in\"", load(&stats.repaired_in)),
                ("direction=\"out\"", load(&stats.repaired_out)),
            ],
        );
        family(
            out,
            "dendrite_pulled_after_restart",
            "counter",
            "What this node received from the other copies since it started that was written \
             before (the transfer a restart cost), in records and in bytes of keys and values.",
            &[
                ("unit=\"records\"", load(&stats.caught_up_records)),
                ("unit=\"bytes\"", load(&stats.caught_up_bytes)),
            ],
        );
        family(
            out,
            "dendrite_underreplicated_ranges",
            "gauge",
            "Local ranges lacking copies: changed since their last complete anti-entropy round, \
             a replica restarted or silent, or fewer hosts than replicas. 0 = fully replicated.",
            &[("", self.table.underreplicated_ranges() as u64)],
        );
        family(
            out,
            "dendrite_handed_back_records_total",
            "counter",
            "Records of ranges this node no longer serves, handed to their copies and dropped.",
            &[("", load(&stats.handed_back))],
        );
        family(
            out,
            "dendrite_expired_keys_total",
            "counter",
            "Keys past their deadline reclaimed (as tombstones) by this node, as their primary.",
            &[("", load(&stats.expired))],
        );
        family(
            out,
            "dendrite_unsettled_reads_total",
            "counter",
            "Reads whose primary could not answer alone (taking its range over, or silent).",
            &[("", load(&stats.unsettled_reads))],
        );
        family(
            out,
            "dendrite_repair_rounds_total",
            "counter",
            "Anti-entropy rounds completed.",
            &[("", load(&stats.repair_rounds))],
        );
        family(
            out,
            "dendrite_versions_refused_total",
            "counter",
            "Records from peers not stored because their version was further ahead of this \
             node's clock than max_clock_skew (a peer's clock is wrong).",
            &[("", load(&stats.versions_refused))],
        );
        family(
            out,
            "dendrite_routes_total",
            "counter",
            "Requests sent straight to the owner versus after a lookup or redirect.",
            &[
                ("route=\"direct\"", load(&stats.direct_routes)),
                ("route=\"rerouted\"", load(&stats.rerouted)),
            ],
        );
    }
}

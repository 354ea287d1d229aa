//! The last minutes of this node's load, sampled once a second: ops/s and latency percentiles
//! from the difference of two snapshots of the metrics' counters, and when the last
//! anti-entropy round finished. The console's charts and nodes table read it; nothing on the
//! request path does more than it did before (the counters already existed).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use dtable::Table;
use serde::{Deserialize, Serialize};

use crate::metrics::{Metrics, LATENCY_BUCKETS_MICROS};

/// Pause between two samples.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// Samples kept: five minutes at one a second.
pub const SAMPLES_KEPT: usize = 300;
/// Every how many samples one is sent for the charts: 30 points over five minutes (about
/// 1.4 KB a node), so that a console gathering 100 nodes' figures moves ~300 KB a poll.
pub const CHART_STEP: usize = 10;

/// One second of load. Short JSON names: a console gathers 30 of these from every node.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// When the second ended, Unix ms.
    #[serde(rename = "t")]
    pub at_ms: u64,
    /// Commands served per second.
    #[serde(rename = "ops")]
    pub ops_per_sec: f64,
    /// Median latency of GET/SET/DEL-like commands in ms (the upper bound of its histogram
    /// bucket); `None` when none ran.
    #[serde(rename = "p50")]
    pub p50_ms: Option<f64>,
    /// 99th percentile latency, the same way.
    #[serde(rename = "p99")]
    pub p99_ms: Option<f64>,
}

/// The counters one sample is the difference of.
struct Snapshot {
    taken: Instant,
    commands: u64,
    latency: [u64; LATENCY_BUCKETS_MICROS.len() + 1],
    repair_rounds: u64,
}

/// The node's recent load and anti-entropy activity.
#[derive(Debug, Default)]
pub struct History {
    samples: Mutex<VecDeque<Sample>>,
    /// Unix ms of the last time the anti-entropy round counter was seen to move.
    last_anti_entropy_ms: Mutex<Option<u64>>,
}

impl History {
    /// Every `step`-th sample kept, oldest first, always ending with the newest.
    pub fn samples_every(&self, step: usize) -> Vec<Sample> {
        let Ok(samples) = self.samples.lock() else {
            return Vec::new();
        };
        let step = step.max(1);
        let newest = samples.len().saturating_sub(1);
        samples
            .iter()
            .enumerate()
            .filter(|(at, _)| (newest - at) % step == 0)
            .map(|(_, sample)| *sample)
            .collect()
    }

    /// The newest sample.
    pub fn latest(&self) -> Option<Sample> {
        self.samples
            .lock()
            .ok()
            .and_then(|samples| samples.back().copied())
    }

    /// When an anti-entropy round last finished (Unix ms, to the second), if one did since the
    /// node started.
    pub fn last_anti_entropy_ms(&self) -> Option<u64> {
        self.last_anti_entropy_ms.lock().ok().and_then(|at| *at)
    }

    fn push(&self, sample: Sample) {
        if let Ok(mut samples) = self.samples.lock() {
            if samples.len() == SAMPLES_KEPT {
                samples.pop_front();
            }
            samples.push_back(sample);
        }
    }

    /// Samples `metrics` and `table` every second until the ring stops or the history is
    /// dropped.
    pub fn spawn(
        self: &Arc<Self>,
        metrics: Arc<Metrics>,
        table: Table,
    ) -> tokio::task::JoinHandle<()> {
        let history: Weak<History> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut before = snapshot(&metrics, &table);
            if before.repair_rounds > 0 {
                if let Some(history) = history.upgrade() {
                    history.anti_entropy_seen();
                }
            }
            loop {
                tokio::time::sleep(SAMPLE_EVERY).await;
                let Some(history) = history.upgrade() else {
                    return;
                };
                if !table.ring().is_running() {
                    return;
                }
                let now = snapshot(&metrics, &table);
                history.push(sample_between(&before, &now));
                if now.repair_rounds != before.repair_rounds {
                    history.anti_entropy_seen();
                }
                before = now;
            }
        })
    }

    fn anti_entropy_seen(&self) {
        if let Ok(mut at) = self.last_anti_entropy_ms.lock() {
            *at = Some(dtable::time::system_millis());
        }
    }
}

fn snapshot(metrics: &Metrics, table: &Table) -> Snapshot {
    Snapshot {
        taken: Instant::now(),
        commands: metrics.commands_total(),
        latency: metrics.latency_counts(),
        repair_rounds: table
            .stats()
            .repair_rounds
            .load(std::sync::atomic::Ordering::Relaxed),
    }
}

fn sample_between(before: &Snapshot, now: &Snapshot) -> Sample {
    let seconds = now
        .taken
        .duration_since(before.taken)
        .as_secs_f64()
        .max(1e-3);
    let mut latency = [0u64; LATENCY_BUCKETS_MICROS.len() + 1];
    for (delta, (new, old)) in latency
        .iter_mut()
        .zip(now.latency.iter().zip(&before.latency))
    {
        *delta = new.saturating_sub(*old);
    }
    Sample {
        at_ms: dtable::time::system_millis(),
        // To a tenth: more digits would only lengthen the JSON every console gathers.
        ops_per_sec: (now.commands.saturating_sub(before.commands) as f64 / seconds * 10.0).round()
            / 10.0,
        p50_ms: percentile_ms(&latency, 0.50),
        p99_ms: percentile_ms(&latency, 0.99),
    }
}

/// The upper bound (ms) of the bucket holding the `quantile` of `counts` (per bucket of
/// [`LATENCY_BUCKETS_MICROS`], then above the last); the last bound when it lies above it.
pub fn percentile_ms(counts: &[u64], quantile: f64) -> Option<f64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = ((total as f64) * quantile).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (index, count) in counts.iter().enumerate() {
        seen += count;
        if seen >= rank {
            let bound = LATENCY_BUCKETS_MICROS
                .get(index)
                .or(LATENCY_BUCKETS_MICROS.last())
                .copied()
                .unwrap_or_default();
            return Some(bound as f64 / 1000.0);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_points_end_with_the_newest_sample() {
        let history = History::default();
        assert!(history.samples_every(CHART_STEP).is_empty());
        for second in 0..12u64 {
            history.push(Sample {
                at_ms: second,
                ops_per_sec: 0.0,
                p50_ms: None,
                p99_ms: None,
            });
        }
        let at: Vec<u64> = history.samples_every(5).iter().map(|s| s.at_ms).collect();
        assert_eq!(at, [1, 6, 11]);
        assert_eq!(history.samples_every(1).len(), 12);
    }

    #[test]
    fn percentiles_are_bucket_bounds() {
        let mut counts = [0u64; LATENCY_BUCKETS_MICROS.len() + 1];
        assert_eq!(percentile_ms(&counts, 0.5), None);
        // 98 under 100 µs, 2 under 1 ms: p50 0.1 ms, p99 1 ms.
        counts[0] = 98;
        counts[3] = 2;
        assert_eq!(percentile_ms(&counts, 0.5), Some(0.1));
        assert_eq!(percentile_ms(&counts, 0.99), Some(1.0));
        // Above the last bound: reported as the last bound.
        counts[LATENCY_BUCKETS_MICROS.len()] = 1000;
        assert_eq!(percentile_ms(&counts, 0.99), Some(2500.0));
    }
}

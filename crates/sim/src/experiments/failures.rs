//! Simultaneous failures (ToN §V-D, Table II; SIGCOMM Fig. 11's set-up): on a stable ring of
//! 1000 nodes with successor lists of 20, a fraction `p` of the nodes crash at once, and
//! stabilization does not run. Lookups from the survivors must step around the dead: each
//! dead vnode asked is a failed call (a timeout in the paper), and the lookup succeeds when it
//! returns the key's current live successor.
//!
//! Dendrite's lookup caller forgets a vnode that failed to answer, so a node's later lookups
//! avoid the dead it already met. The paper's nodes kept their stale fingers; the columns
//! `first_*` count only the first lookup from each node, which sees the untouched tables.

use std::collections::BTreeSet;
use std::sync::Arc;

use dendrite::chord::successor_of;
use dendrite::Ring;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::placement::random_id;
use super::ring_setup::{converged, template};
use super::{Options, Outcome};
use crate::error::SimError;
use crate::paper::TON_TABLE_II;
use crate::plot::{Chart, Point, Series};
use crate::runtime::in_virtual_time;
use crate::stats::{fraction, Summary};
use crate::table::Table;

/// Fractions of nodes that fail, as in Table II.
pub const FAIL_FRACTIONS: [f64; 6] = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5];
/// Successor list length of the ToN experiment (2·log₂N for N = 1000).
pub const SUCCESSORS: usize = 20;

/// What the lookups after one failure saw.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FailureSample {
    /// Nodes before the failure.
    pub nodes: usize,
    /// Nodes crashed.
    pub crashed: usize,
    /// Hops of every lookup (failed calls included, as in the paper).
    pub hops: Vec<u32>,
    /// Failed calls (timeouts) of every lookup.
    pub timeouts: Vec<u32>,
    /// Hops and timeouts of the first lookup from each node only.
    pub first: Vec<(u32, u32)>,
    /// Lookups that did not return the live successor first (or failed).
    pub failed: usize,
    /// Lookups that failed even after skipping returned vnodes that are dead (what a client
    /// trying the returned list in order would see).
    pub failed_after_failover: usize,
}

/// Crashes `fail` of `nodes` nodes, then runs `lookups` lookups from random survivors.
pub fn measure(
    seed: u64,
    nodes: usize,
    fail: f64,
    lookups: usize,
) -> Result<FailureSample, SimError> {
    in_virtual_time(async move {
        let mut cluster = converged(seed, nodes, template(SUCCESSORS)).await?;
        let mut rng = SmallRng::seed_from_u64(seed ^ fail.to_bits());
        let mut hosts: Vec<String> = cluster.nodes().keys().cloned().collect();
        hosts.shuffle(&mut rng);
        let crashed = ((nodes as f64) * fail).round() as usize;
        for host in hosts.iter().take(crashed) {
            cluster.crash(host);
        }
        let live = cluster.vnodes();
        let live_ids: BTreeSet<_> = live.iter().map(|v| v.id).collect();
        let rings: Vec<Arc<Ring>> = cluster.nodes().values().cloned().collect();
        let mut sample = FailureSample {
            nodes,
            crashed,
            ..FailureSample::default()
        };
        if rings.is_empty() {
            return Ok(sample);
        }
        let mut used = vec![false; rings.len()];
        for _ in 0..lookups {
            let key = random_id(&mut rng);
            let origin = rng.gen_range(0..rings.len());
            // Ask for the whole successor list: `failed_after_failover` checks it the way a
            // client would, skipping entries that do not answer.
            let (result, stats) = rings[origin].find_successors_counted(key, SUCCESSORS).await;
            let truth = successor_of(&live, &key);
            let found = result.unwrap_or_default();
            if found.first() != Some(&truth) {
                sample.failed += 1;
            }
            if found.iter().find(|v| live_ids.contains(&v.id)) != Some(&truth) {
                sample.failed_after_failover += 1;
            }
            let hops = u32::try_from(stats.hops).unwrap_or(u32::MAX);
            let timeouts = u32::try_from(stats.failed_calls).unwrap_or(u32::MAX);
            sample.hops.push(hops);
            sample.timeouts.push(timeouts);
            if !used[origin] {
                used[origin] = true;
                sample.first.push((hops, timeouts));
            }
        }
        Ok(sample)
    })?
}

/// Runs the experiment for every fraction in [`FAIL_FRACTIONS`].
pub fn run(options: &Options) -> Result<Outcome, SimError> {
    let nodes = options.ring_nodes(200, 1000);
    let lookups = options.pick(options.lookups, 2000, 10_000);
    if nodes < 2 {
        return Err(SimError::InvalidOption(
            "failures needs --nodes >= 2".into(),
        ));
    }
    let mut table = Table::new(
        "failures",
        &[
            "fail_fraction",
            "nodes",
            "lookups",
            "failed_lookups",
            "failed_after_failover",
            "mean_hops",
            "p1_hops",
            "p99_hops",
            "mean_timeouts",
            "p1_timeouts",
            "p99_timeouts",
            "first_lookups",
            "first_mean_hops",
            "first_mean_timeouts",
        ],
    );
    let (mut hops_line, mut timeouts_line, mut first_line) = (Vec::new(), Vec::new(), Vec::new());
    for fail in FAIL_FRACTIONS {
        let s = measure(options.seed, nodes, fail, lookups)?;
        let h = Summary::of_counts(&s.hops);
        let t = Summary::of_counts(&s.timeouts);
        let first_h: Vec<u32> = s.first.iter().map(|f| f.0).collect();
        let first_t: Vec<u32> = s.first.iter().map(|f| f.1).collect();
        let fh = Summary::of_counts(&first_h);
        let ft = Summary::of_counts(&first_t);
        table.push(vec![
            fail.into(),
            nodes.into(),
            lookups.into(),
            fraction(s.failed, lookups).into(),
            fraction(s.failed_after_failover, lookups).into(),
            h.mean.into(),
            h.p1.into(),
            h.p99.into(),
            t.mean.into(),
            t.p1.into(),
            t.p99.into(),
            s.first.len().into(),
            fh.mean.into(),
            ft.mean.into(),
        ]);
        hops_line.push(Point::with_bar(fail, h.mean, h.p1, h.p99));
        timeouts_line.push(Point::with_bar(fail, t.mean, t.p1, t.p99));
        first_line.push(Point::new(fail, ft.mean));
    }
    let chart = Chart {
        title: format!("Lookups after simultaneous failures, {nodes} nodes (ToN Table II)"),
        x_label: "fraction of nodes failed".into(),
        y_label: "per lookup (mean, 1st and 99th percentiles)".into(),
        log_x: false,
        series: vec![
            Series::solid("path length", hops_line),
            Series::solid("timeouts", timeouts_line),
            Series::dashed("timeouts, first lookup per node", first_line),
            Series::dashed(
                "paper: path length",
                TON_TABLE_II.iter().map(|r| Point::new(r.0, r.1)).collect(),
            ),
            Series::dashed(
                "paper: timeouts",
                TON_TABLE_II.iter().map(|r| Point::new(r.0, r.2)).collect(),
            ),
        ],
    };
    Ok(Outcome {
        tables: vec![table],
        charts: vec![("failures".into(), chart)],
    })
}

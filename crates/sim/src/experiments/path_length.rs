//! Path length (SIGCOMM Fig. 10, ToN Fig. 10): hops of a lookup on a converged ring of
//! `N = 2^k` nodes, `100·N` lookups of random keys from random nodes. Chord predicts about
//! ½·log₂N: each finger halves the remaining distance, and about half the bits need no hop.
//!
//! A hop is a remote vnode asked (`LookupStats::hops`): the start node answers itself for free.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use dendrite::mem::LinkModel;
use dendrite::Ring;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::owner_index::OwnerIndex;
use super::placement::random_id;
use super::ring_setup::{converged, template};
use super::{Options, Outcome};
use crate::error::SimError;
use crate::plot::{Chart, Point, Series};
use crate::runtime::in_virtual_time;
use crate::stats::Summary;
use crate::table::Table;

/// Ring size whose hop distribution is reported in full (Fig. 10b uses 2^12).
const PDF_NODES: usize = 1 << 12;

/// Hops measured on one ring.
#[derive(Debug, Clone, PartialEq)]
pub struct PathSample {
    /// Ring size.
    pub nodes: usize,
    /// Hops of every lookup.
    pub hops: Vec<u32>,
    /// Lookups whose answer was not the key's true successor (or an error).
    pub wrong: usize,
}

/// Runs `lookups` lookups on a converged ring of `nodes` nodes.
pub fn measure(seed: u64, nodes: usize, lookups: usize) -> Result<PathSample, SimError> {
    in_virtual_time(async move {
        // The paper's Fig. 10 nodes route by fingers and one successor; a longer successor list
        // would also serve as a short-range finger table and shorten the last hops.
        let cluster = converged(seed, nodes, template(1)).await?;
        // Zero link delay (hops are counted, not timed): a lookup then completes without a
        // timer or a pass through the scheduler, which at 10^5 nodes is most of the run time
        // (docs/simulation.md, *Speed*). Nothing here depends on virtual time.
        cluster.network().set_link(LinkModel {
            latency_min: Duration::ZERO,
            latency_max: Duration::ZERO,
            loss: 0.0,
        });
        let all = cluster.vnodes();
        let owners = OwnerIndex::new(&all);
        let rings: Vec<Arc<Ring>> = cluster.nodes().values().cloned().collect();
        let mut rng = SmallRng::seed_from_u64(seed ^ nodes as u64);
        let mut hops = Vec::with_capacity(lookups);
        let mut wrong = 0;
        for _ in 0..lookups {
            let key = random_id(&mut rng);
            let ring = &rings[rng.gen_range(0..rings.len())];
            let (result, stats) = ring.find_successors_counted(key, 1).await;
            match result {
                Ok(found) if found.first() == owners.successor(&all, &key) => {}
                _ => wrong += 1,
            }
            hops.push(u32::try_from(stats.hops).unwrap_or(u32::MAX));
        }
        Ok(PathSample { nodes, hops, wrong })
    })?
}

/// Lookups per ring size under `--scale`: 100·N up to this many, so that a run to 10^5 nodes
/// takes minutes (about 5·10^6 lookups in all) rather than half an hour.
pub const SCALED_MAX_LOOKUPS: usize = 1_000_000;

/// The ring sizes under `--scale S`: `2^3, 2^4, …` up to `S`, then `S` itself if it is not a
/// power of two.
pub fn scaled_sizes(scale: usize) -> Vec<usize> {
    let mut sizes: Vec<usize> = (3..usize::BITS)
        .map(|k| 1usize << k)
        .take_while(|&n| n <= scale)
        .collect();
    if !scale.is_power_of_two() || scale < 8 {
        sizes.push(scale);
    }
    sizes
}

/// Runs the experiment for `N = 2^3 .. 2^14` (small: up to 2^10; `--scale S`: up to `S`), or
/// only `--nodes`.
pub fn run(options: &Options) -> Result<Outcome, SimError> {
    let sizes: Vec<usize> = match options.nodes {
        Some(0) => {
            return Err(SimError::InvalidOption(
                "path-length needs --nodes >= 1".into(),
            ))
        }
        Some(n) => vec![n],
        None => match options.scale {
            Some(scale) => scaled_sizes(scale),
            None => {
                let top = if options.small { 10 } else { 14 };
                (3..=top).map(|k| 1usize << k).collect()
            }
        },
    };
    let mut table = Table::new(
        "path-length",
        &[
            "nodes",
            "lookups",
            "mean",
            "p1",
            "p99",
            "half_log2_n",
            "wrong",
        ],
    );
    let mut pdf = Table::new("path-length-pdf", &["nodes", "hops", "pdf"]);
    let mut measured = Vec::new();
    let mut reference = Vec::new();
    for nodes in sizes {
        let lookups = options.lookups.unwrap_or(if options.small {
            4 * nodes.max(500)
        } else if options.scale.is_some() {
            (100 * nodes).min(SCALED_MAX_LOOKUPS)
        } else {
            100 * nodes
        });
        let sample = measure(options.seed, nodes, lookups)?;
        let s = Summary::of_counts(&sample.hops);
        let half_log = 0.5 * (nodes as f64).log2();
        table.push(vec![
            nodes.into(),
            lookups.into(),
            s.mean.into(),
            s.p1.into(),
            s.p99.into(),
            half_log.into(),
            sample.wrong.into(),
        ]);
        measured.push(Point::with_bar(nodes as f64, s.mean, s.p1, s.p99));
        reference.push(Point::new(nodes as f64, half_log));
        if nodes == PDF_NODES {
            let mut histogram: BTreeMap<u32, usize> = BTreeMap::new();
            for h in &sample.hops {
                *histogram.entry(*h).or_default() += 1;
            }
            for (h, n) in histogram {
                pdf.push(vec![
                    nodes.into(),
                    u64::from(h).into(),
                    (n as f64 / sample.hops.len() as f64).into(),
                ]);
            }
        }
    }
    let chart = Chart {
        title: "Lookup path length (Fig. 10a)".into(),
        x_label: "number of nodes".into(),
        y_label: "hops (mean, 1st and 99th percentiles)".into(),
        log_x: true,
        series: vec![
            Series::solid("simulated", measured),
            Series::dashed("½·log₂N", reference),
        ],
    };
    let mut charts = vec![("path-length".to_string(), chart)];
    let mut tables = vec![table];
    if !pdf.rows.is_empty() {
        charts.push((
            "path-length-pdf".into(),
            Chart {
                title: format!("PDF of path length, {PDF_NODES} nodes (Fig. 10b)"),
                x_label: "hops".into(),
                y_label: "fraction of lookups".into(),
                log_x: false,
                series: vec![Series::solid(
                    "simulated",
                    pdf.rows
                        .iter()
                        .map(|r| Point::new(r[1].as_f64(), r[2].as_f64()))
                        .collect(),
                )],
            },
        ));
        tables.push(pdf);
    }
    Ok(Outcome { tables, charts })
}

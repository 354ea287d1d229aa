//! Load balance (SIGCOMM Fig. 8, ToN Fig. 8): how many keys each node holds when `N` nodes with
//! one vnode each share `K` random keys. Consistent hashing gives every node `K/N` on average,
//! but the arcs between random ids vary, so some nodes hold none and a few hold several times
//! the mean.

use std::collections::BTreeMap;

use rand::rngs::SmallRng;
use rand::SeedableRng;

use super::placement::Placement;
use super::{Options, Outcome};
use crate::error::SimError;
use crate::plot::{Chart, Point, Series};
use crate::stats::Summary;
use crate::table::Table;

/// Runs the experiment: ten key counts from `K/10` to `K`, and the distribution at `K/2`.
pub fn run(options: &Options) -> Result<Outcome, SimError> {
    let nodes = options.ring_nodes(500, 10_000);
    let max_keys = options.ring_keys(nodes, 50_000, 1_000_000);
    if nodes == 0 || max_keys < 10 {
        return Err(SimError::InvalidOption(
            "load-balance needs --nodes >= 1 and --keys >= 10".into(),
        ));
    }
    let placement = Placement::new(options.seed, nodes, 1);
    let mut rng = SmallRng::seed_from_u64(options.seed);
    let mut table = Table::new(
        "load-balance",
        &["nodes", "keys", "mean", "p1", "p99", "max", "empty_nodes"],
    );
    let mut points = Vec::new();
    let mut pdf = Table::new(
        "load-balance-pdf",
        &["nodes", "keys", "keys_per_node", "pdf"],
    );
    for step in 1..=10 {
        let keys = max_keys / 10 * step;
        let counts = placement.keys_per_host(&mut rng, keys);
        let s = Summary::of_counts(&counts);
        let empty = counts.iter().filter(|&&c| c == 0).count();
        table.push(vec![
            nodes.into(),
            keys.into(),
            s.mean.into(),
            s.p1.into(),
            s.p99.into(),
            s.max.into(),
            empty.into(),
        ]);
        points.push(Point::with_bar(keys as f64, s.mean, s.p1, s.p99));
        if step == 5 {
            let mut histogram: BTreeMap<u32, usize> = BTreeMap::new();
            for c in &counts {
                *histogram.entry(*c).or_default() += 1;
            }
            for (per_node, n) in histogram {
                pdf.push(vec![
                    nodes.into(),
                    keys.into(),
                    u64::from(per_node).into(),
                    (n as f64 / nodes as f64).into(),
                ]);
            }
        }
    }
    let chart = Chart {
        title: format!("Keys per node, {nodes} nodes (Fig. 8a)"),
        x_label: "total number of keys".into(),
        y_label: "keys per node (mean, 1st and 99th percentiles)".into(),
        log_x: false,
        series: vec![Series::solid("simulated", points)],
    };
    let pdf_chart = Chart {
        title: format!("PDF of keys per node, {} keys (Fig. 8b)", max_keys / 2),
        x_label: "keys per node".into(),
        y_label: "fraction of nodes".into(),
        log_x: false,
        series: vec![Series::solid(
            "simulated",
            pdf.rows
                .iter()
                .map(|r| Point::new(r[2].as_f64(), r[3].as_f64()))
                .collect(),
        )],
    };
    Ok(Outcome {
        tables: vec![table, pdf],
        charts: vec![
            ("load-balance".into(), chart),
            ("load-balance-pdf".into(), pdf_chart),
        ],
    })
}

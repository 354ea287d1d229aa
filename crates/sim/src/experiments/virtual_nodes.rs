//! Virtual nodes (SIGCOMM Fig. 9, ToN Fig. 9): the same keys over the same real nodes, each
//! now running `r` vnodes. A real node's share is the sum of `r` arcs, so its spread around the
//! mean narrows roughly as 1/√r.

use rand::rngs::SmallRng;
use rand::SeedableRng;

use super::placement::Placement;
use super::{Options, Outcome};
use crate::error::SimError;
use crate::plot::{Chart, Point, Series};
use crate::stats::Summary;
use crate::table::Table;

/// Vnodes per real node, as in the paper.
pub const VNODES_PER_NODE: [u16; 5] = [1, 2, 5, 10, 20];

/// Runs the experiment for every `r` in [`VNODES_PER_NODE`].
pub fn run(options: &Options) -> Result<Outcome, SimError> {
    let nodes = options.ring_nodes(500, 10_000);
    let keys = options.ring_keys(nodes, 50_000, 1_000_000);
    if nodes == 0 {
        return Err(SimError::InvalidOption(
            "virtual-nodes needs --nodes >= 1".into(),
        ));
    }
    let mut rng = SmallRng::seed_from_u64(options.seed);
    let mut table = Table::new(
        "virtual-nodes",
        &[
            "nodes",
            "vnodes_per_node",
            "keys",
            "mean",
            "p1",
            "p99",
            "max",
        ],
    );
    let mut points = Vec::new();
    let mean = keys as f64 / nodes as f64;
    for r in VNODES_PER_NODE {
        let placement = Placement::new(options.seed, nodes, r);
        let counts = placement.keys_per_host(&mut rng, keys);
        let s = Summary::of_counts(&counts);
        table.push(vec![
            nodes.into(),
            usize::from(r).into(),
            keys.into(),
            s.mean.into(),
            s.p1.into(),
            s.p99.into(),
            s.max.into(),
        ]);
        points.push(Point::with_bar(f64::from(r), s.mean, s.p1, s.p99));
    }
    let chart = Chart {
        title: format!("Keys per real node, {nodes} nodes, {keys} keys (Fig. 9)"),
        x_label: "virtual nodes per real node".into(),
        y_label: "keys per real node (1st and 99th percentiles)".into(),
        log_x: true,
        series: vec![
            Series::solid("simulated", points),
            // The paper's text: from r = 1 to 20 the 99th percentile falls from 4.8x to 1.6x
            // the mean and the 1st percentile rises from 0 to 0.5x.
            Series::dashed(
                "paper: 99th percentile",
                vec![Point::new(1.0, 4.8 * mean), Point::new(20.0, 1.6 * mean)],
            ),
            Series::dashed(
                "paper: 1st percentile",
                vec![Point::new(1.0, 0.0), Point::new(20.0, 0.5 * mean)],
            ),
        ],
    };
    Ok(Outcome {
        tables: vec![table],
        charts: vec![("virtual-nodes".into(), chart)],
    })
}

//! Balanced ownership (issue 15): the share of the 16384 hash slots the largest node owns,
//! against the mean, as a ring grows from 3 to 100 nodes joining one after another. Compared:
//! the vnode ids a node would take without looking at the ring (its Go ids, moved onto slot
//! boundaries: `dtable::slot::vnode_ids`) and dtable's token allocation
//! (`dtable::tokens::choose_vnode_ids`, which splits the arcs of the most loaded hosts), with
//! 3 and 8 vnodes per node. Each ring size is grown from scratch for several seeds (another seed
//! names the hosts differently).

use dendrite::Vnode;
use dtable::{Slot, SLOT_COUNT};

use super::{Options, Outcome};
use crate::error::SimError;
use crate::naming;
use crate::plot::{Chart, Point, Series};
use crate::table::Table;

/// Ring sizes measured.
const SIZES: [usize; 14] = [3, 4, 5, 6, 8, 10, 15, 20, 30, 40, 50, 60, 80, 100];

/// How a node chooses its vnode ids.
#[derive(Clone, Copy)]
enum Scheme {
    /// Its Go ids, each moved into the upper half of its slot.
    Hashed,
    /// Token allocation against the ring it joins.
    Allocated,
}

impl Scheme {
    fn name(self) -> &'static str {
        match self {
            Scheme::Hashed => "hashed",
            Scheme::Allocated => "allocated",
        }
    }
}

/// The vnodes of `nodes` hosts named under `seed`, joining one after another.
fn grow(seed: u64, nodes: usize, per_node: u16, scheme: Scheme) -> Vec<Vnode> {
    let mut ring: Vec<Vnode> = Vec::new();
    for n in 0..nodes {
        let host = naming::host(seed, n);
        let ids = match scheme {
            Scheme::Hashed => dtable::slot::vnode_ids(&host, per_node),
            Scheme::Allocated => dtable::tokens::choose_vnode_ids(&ring, &host, per_node),
        };
        ring.extend(ids.into_iter().map(|id| Vnode::new(id, host.as_str())));
    }
    ring.sort_by_key(|v| v.id);
    ring
}

/// The largest host's slot count over the mean: slot `s` belongs to the vnode succeeding its
/// last key position.
fn spread(ring: &[Vnode], nodes: usize) -> f64 {
    let mut owned: std::collections::BTreeMap<&str, u32> = std::collections::BTreeMap::new();
    for slot in Slot::all() {
        let at = ring.partition_point(|v| v.id < slot.last_key());
        if let Some(owner) = ring.get(at).or_else(|| ring.first()) {
            *owned.entry(&owner.host).or_insert(0) += 1;
        }
    }
    let largest = owned.values().copied().max().unwrap_or(0);
    f64::from(largest) * nodes as f64 / f64::from(SLOT_COUNT)
}

/// Runs the experiment: ring sizes 3 to 100 (up to `--nodes`), several seeds each.
pub fn run(options: &Options) -> Result<Outcome, SimError> {
    let largest = options.nodes.unwrap_or(100);
    if largest < 3 {
        return Err(SimError::InvalidOption("balance needs --nodes >= 3".into()));
    }
    let seeds = options.pick(None, 3, 10) as u64;
    let mut table = Table::new(
        "balance",
        &[
            "nodes",
            "scheme",
            "vnodes_per_node",
            "seeds",
            "mean_spread",
            "worst_spread",
        ],
    );
    let mut series = Vec::new();
    for (scheme, per_node) in [
        (Scheme::Hashed, 3u16),
        (Scheme::Hashed, 8),
        (Scheme::Allocated, 3),
        (Scheme::Allocated, 8),
    ] {
        let mut points = Vec::new();
        for nodes in SIZES.into_iter().filter(|n| *n <= largest) {
            let spreads: Vec<f64> = (0..seeds)
                .map(|s| {
                    let ring = grow(options.seed.wrapping_add(s), nodes, per_node, scheme);
                    spread(&ring, nodes)
                })
                .collect();
            let mean = spreads.iter().sum::<f64>() / spreads.len().max(1) as f64;
            let worst = spreads.iter().copied().fold(0.0, f64::max);
            let best = spreads.iter().copied().fold(f64::INFINITY, f64::min);
            table.push(vec![
                nodes.into(),
                scheme.name().into(),
                usize::from(per_node).into(),
                (seeds as usize).into(),
                mean.into(),
                worst.into(),
            ]);
            points.push(Point::with_bar(nodes as f64, mean, best, worst));
        }
        let label = format!("{}, {per_node} vnodes/node", scheme.name());
        series.push(match scheme {
            Scheme::Hashed => Series::dashed(&label, points),
            Scheme::Allocated => Series::solid(&label, points),
        });
    }
    series.push(Series::dashed(
        "target: 1.25 at 3 nodes, 1.15 at 10",
        vec![
            Point::new(3.0, 1.25),
            Point::new(10.0, 1.15),
            Point::new(100.0, 1.15),
        ],
    ));
    let chart = Chart {
        title: format!("Largest node's share of the slots / mean share ({seeds} seeds per size)"),
        x_label: "nodes (joining one after another)".into(),
        y_label: "largest share / mean share (bars: best and worst seed)".into(),
        log_x: true,
        series,
    };
    Ok(Outcome {
        tables: vec![table],
        charts: vec![("balance".into(), chart)],
    })
}

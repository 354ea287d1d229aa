//! Keys that lose every copy when a fraction `p` of the hosts fail at once.
//!
//! With no replicas this is SIGCOMM Fig. 11: Chord itself loses no lookups, but the keys of the
//! failed nodes are gone, so the fraction of keys that cannot be found is about `p`. Beyond the
//! paper, Dendrite keeps `replicas` more copies on the first successors that sit on distinct
//! hosts other than the owner's (`dendrite::chord::replica_set`); a key is lost only when every
//! one of those hosts failed, about `p^(replicas+1)`. For contrast the naive placement on the
//! next vnodes, which with several vnodes per host sometimes puts two copies on one host.

use dendrite::chord::replica_set;
use dendrite::Vnode;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::placement::{random_id, Placement};
use super::{Options, Outcome};
use crate::error::SimError;
use crate::plot::{Chart, Point, Series};
use crate::stats::fraction;
use crate::table::Table;

/// Fractions of hosts that fail.
pub const FAIL_FRACTIONS: [f64; 5] = [0.1, 0.2, 0.3, 0.4, 0.5];
/// Successor list length the replica sets are chosen from (Dendrite's default).
const SUCCESSORS: usize = 8;
/// Hosts of the small-cluster contrast.
const SMALL_CLUSTER: usize = 16;
/// Independent failure draws per fraction on the small cluster (one draw of a few hosts is
/// noisy; on 10^4 hosts one draw is enough).
const SMALL_TRIALS: usize = 200;

/// How copies are placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Only the owner (the paper's Fig. 11).
    OwnerOnly,
    /// Owner plus `replicas` successors on distinct other hosts (Dendrite).
    DistinctHosts,
    /// Owner plus the next `replicas` vnodes, whatever their host.
    NextVnodes,
}

impl Scheme {
    fn label(self) -> &'static str {
        match self {
            Scheme::OwnerOnly => "owner-only",
            Scheme::DistinctHosts => "distinct-hosts",
            Scheme::NextVnodes => "next-vnodes",
        }
    }
}

/// For every vnode position, the hosts holding a copy of the keys it owns.
fn copy_hosts(placement: &Placement, scheme: Scheme, replicas: usize) -> Vec<Vec<usize>> {
    let vnodes = placement.vnodes();
    let len = vnodes.len();
    let host_of = |v: &Vnode| {
        vnodes
            .binary_search_by(|x| x.id.cmp(&v.id))
            .map(|at| placement.host_at(at))
            .unwrap_or(usize::MAX)
    };
    (0..len)
        .map(|at| {
            let owner = &vnodes[at];
            let successors: Vec<Vnode> = (1..len.min(SUCCESSORS + 1))
                .map(|step| vnodes[(at + step) % len].clone())
                .collect();
            let copies: Vec<Vnode> = match scheme {
                Scheme::OwnerOnly => Vec::new(),
                Scheme::DistinctHosts => replica_set(owner, &successors, replicas),
                Scheme::NextVnodes => successors.into_iter().take(replicas).collect(),
            };
            let mut hosts = vec![placement.host_at(at)];
            hosts.extend(copies.iter().map(host_of));
            hosts
        })
        .collect()
}

/// Runs the experiment: owner-only with one vnode per host (Fig. 11), then two replicas with
/// three vnodes per host, on distinct hosts and naively.
pub fn run(options: &Options) -> Result<Outcome, SimError> {
    let nodes = options.ring_nodes(500, 10_000);
    let keys = options.ring_keys(nodes, 50_000, 1_000_000);
    if nodes < 4 {
        return Err(SimError::InvalidOption(
            "replicas needs --nodes >= 4".into(),
        ));
    }
    // (scheme, hosts, vnodes per host, replicas). The paper's size first; then a small
    // cluster with many vnodes per host, where neighbouring vnodes often share a host.
    let setups: [(Scheme, usize, u16, usize); 5] = [
        (Scheme::OwnerOnly, nodes, 1, 0),
        (Scheme::DistinctHosts, nodes, 3, 2),
        (Scheme::NextVnodes, nodes, 3, 2),
        (Scheme::DistinctHosts, SMALL_CLUSTER, 8, 2),
        (Scheme::NextVnodes, SMALL_CLUSTER, 8, 2),
    ];
    let mut table = Table::new(
        "replicas",
        &[
            "scheme",
            "vnodes_per_node",
            "replicas",
            "fail_fraction",
            "nodes",
            "keys",
            "lost_fraction",
            "expected_independent",
        ],
    );
    let mut rng = SmallRng::seed_from_u64(options.seed);
    let mut series = Vec::new();
    for (scheme, hosts, per_node, replicas) in setups {
        let placement = Placement::new(options.seed, hosts, per_node);
        let holders = copy_hosts(&placement, scheme, replicas);
        let trials = if hosts < 1000 { SMALL_TRIALS } else { 1 };
        let keys_per_trial = (keys / trials).max(1);
        let mut line = Vec::new();
        for fail in FAIL_FRACTIONS {
            let crashed = ((hosts as f64) * fail).round() as usize;
            let mut lost = 0;
            for _ in 0..trials {
                let mut order: Vec<usize> = (0..hosts).collect();
                order.shuffle(&mut rng);
                let mut dead = vec![false; hosts];
                for &h in order.iter().take(crashed) {
                    dead[h] = true;
                }
                lost += (0..keys_per_trial)
                    .filter(|_| {
                        let at = placement.owner_position(&random_id(&mut rng));
                        holders[at]
                            .iter()
                            .all(|&h| dead.get(h).copied().unwrap_or(true))
                    })
                    .count();
            }
            let lost_fraction = fraction(lost, keys_per_trial * trials);
            let exponent = i32::try_from(replicas + 1).unwrap_or(i32::MAX);
            table.push(vec![
                scheme.label().into(),
                usize::from(per_node).into(),
                replicas.into(),
                fail.into(),
                hosts.into(),
                (keys_per_trial * trials).into(),
                lost_fraction.into(),
                fail.powi(exponent).into(),
            ]);
            line.push(Point::new(fail, lost_fraction));
        }
        let name = format!(
            "{}, {hosts} hosts × {per_node} vnodes, {replicas} replicas",
            scheme.label()
        );
        series.push(Series::solid(&name, line));
    }
    let chart = Chart {
        title: "Keys lost after simultaneous failures (Fig. 11 and beyond)".into(),
        x_label: "fraction of nodes failed".into(),
        y_label: "fraction of keys with no live copy".into(),
        log_x: false,
        series,
    };
    Ok(Outcome {
        tables: vec![table],
        charts: vec![("replicas".into(), chart)],
    })
}

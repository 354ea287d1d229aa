//! Churn (SIGCOMM Fig. 12, ToN §V-E and Table III): a ring of about 500 nodes where nodes join
//! and crash as Poisson processes of rate `R` each, stabilization runs every 30 s on average
//! (uniform in 15–45 s), and random lookups are issued once a second. Joins use the real join
//! protocol; crashes are silent; messages take 0–100 ms each way (mean 50 ms, as in the
//! paper's simulator) and a call to a dead node fails.
//!
//! A lookup fails when the first vnode it returns is the key's live successor neither at the
//! time it was issued nor at the time it returned (membership may change meanwhile). Lookups
//! whose origin crashed before they returned are not counted. Two more columns tell failures
//! apart: `failed_after_failover` skips returned vnodes that are dead (as a client trying the
//! list in order would), and `..._owner_settled` also leaves out keys whose successor joined
//! less than one stabilization interval (45 s) earlier, which its predecessor cannot know yet.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use dendrite::chord::successor_of;
use dendrite::mem::LinkModel;
use dendrite::{Id, Ring, Vnode};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::placement::random_id;
use super::ring_setup::{converged, template};
use super::{Options, Outcome};
use crate::error::SimError;
use crate::paper::TON_TABLE_III;
use crate::plot::{Chart, Point, Series};
use crate::runtime::in_virtual_time;
use crate::stats::{fraction, Summary};
use crate::table::Table;

/// Join and failure rates per second, as in Table III.
pub const RATES: [f64; 8] = [0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.35, 0.40];
/// Rates of the small run.
pub const SMALL_RATES: [f64; 2] = [0.05, 0.40];
/// Successor list length (2·log₂N as in the failure experiment).
const SUCCESSORS: usize = 20;
/// Stabilization interval bounds (ToN: every 30 s on average, uniform in 15–45 s).
const STABILIZE_MIN: Duration = Duration::from_secs(15);
const STABILIZE_MAX: Duration = Duration::from_secs(45);

/// What one lookup under churn saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookupRecord {
    /// Hops (failed calls included).
    pub hops: u32,
    /// Failed calls (timeouts in the paper).
    pub timeouts: u32,
    /// The first vnode returned was the key's live successor.
    pub correct: bool,
    /// Some returned vnode was, and every vnode before it in the list was dead.
    pub correct_after_failover: bool,
    /// The key's successor when the lookup was issued had joined less than one longest
    /// stabilization interval before: its predecessor may not know it yet.
    pub owner_just_joined: bool,
}

/// Everything measured at one rate.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChurnSample {
    /// Join/failure rate per second.
    pub rate: f64,
    /// Lookups that completed with their origin still alive.
    pub lookups: Vec<LookupRecord>,
    /// Lookups dropped because their origin crashed meanwhile.
    pub aborted: usize,
    /// Joins done, and joins that failed.
    pub joins: (usize, usize),
    /// Crashes done.
    pub crashes: usize,
    /// Nodes at the end.
    pub final_nodes: usize,
}

/// Sorted live vnodes, shared with the lookup tasks.
type Membership = Arc<Mutex<Arc<Vec<Vnode>>>>;
/// When each joined vnode joined.
type JoinTimes = Arc<Mutex<BTreeMap<Id, Instant>>>;

fn current(membership: &Membership) -> Arc<Vec<Vnode>> {
    membership
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// How long after a join the new node may still be unknown to its predecessor: one longest
/// stabilization interval (the predecessor learns it in its next round).
fn config_window() -> Duration {
    STABILIZE_MAX
}

/// An exponential inter-arrival time for a Poisson process of `rate` per second.
fn exponential(rng: &mut SmallRng, rate: f64) -> Duration {
    let u: f64 = rng.gen_range(f64::EPSILON..1.0);
    Duration::from_secs_f64(-u.ln() / rate)
}

/// Runs `duration` of virtual time at join and failure rate `rate` on a ring of `nodes`.
pub fn measure(
    seed: u64,
    nodes: usize,
    rate: f64,
    duration: Duration,
) -> Result<ChurnSample, SimError> {
    in_virtual_time(async move {
        let mut config = template(SUCCESSORS);
        config.stabilize_min = STABILIZE_MIN;
        config.stabilize_max = STABILIZE_MAX;
        config.rpc_timeout = Duration::from_millis(500);
        config.lookup_timeout = Duration::from_secs(30);
        let mut cluster = converged(seed, nodes, config).await?;
        cluster.network().set_link(LinkModel {
            latency_min: Duration::ZERO,
            latency_max: Duration::from_millis(100),
            loss: 0.0,
        });
        let mut rng = SmallRng::seed_from_u64(seed ^ rate.to_bits());
        let membership: Membership = Arc::new(Mutex::new(Arc::new(cluster.vnodes())));
        let records: Arc<Mutex<Vec<Option<LookupRecord>>>> = Arc::default();
        let joined: JoinTimes = Arc::default();
        let window = config_window();
        let mut tasks: Vec<JoinHandle<()>> = Vec::new();
        let mut sample = ChurnSample {
            rate,
            ..ChurnSample::default()
        };
        let start = Instant::now();
        let mut next_join = exponential(&mut rng, rate);
        let mut next_crash = exponential(&mut rng, rate);
        let mut next_lookup = exponential(&mut rng, 1.0);
        loop {
            let at = next_join.min(next_crash).min(next_lookup);
            if at >= duration {
                break;
            }
            tokio::time::sleep_until(start + at).await;
            if at == next_join {
                next_join += exponential(&mut rng, rate);
                match cluster.add_node().await {
                    Ok(ring) => {
                        sample.joins.0 += 1;
                        let mut j = joined.lock().unwrap_or_else(PoisonError::into_inner);
                        for v in ring.local_vnodes() {
                            j.insert(v.id, Instant::now());
                        }
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "join failed under churn");
                        sample.joins.1 += 1;
                    }
                }
            } else if at == next_crash {
                next_crash += exponential(&mut rng, rate);
                let hosts: Vec<String> = cluster.nodes().keys().cloned().collect();
                if hosts.len() > 1 {
                    let victim = &hosts[rng.gen_range(0..hosts.len())];
                    cluster.crash(victim);
                    sample.crashes += 1;
                }
            } else {
                next_lookup += exponential(&mut rng, 1.0);
                let rings: Vec<&Arc<Ring>> = cluster.nodes().values().collect();
                if rings.is_empty() {
                    continue;
                }
                let origin = rings[rng.gen_range(0..rings.len())].clone();
                let key = random_id(&mut rng);
                let issued = current(&membership);
                let owner = successor_of(&issued, &key);
                let owner_just_joined = joined
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(&owner.id)
                    .is_some_and(|t| t.elapsed() < window);
                let membership = membership.clone();
                let records = records.clone();
                tasks.push(tokio::spawn(async move {
                    let (result, stats) = origin.find_successors_counted(key, SUCCESSORS).await;
                    let now = current(&membership);
                    let alive = |v: &Vnode| now.binary_search_by(|x| x.id.cmp(&v.id)).is_ok();
                    let record = if !alive(&origin.local_vnodes()[0]) {
                        None
                    } else {
                        let found = result.unwrap_or_default();
                        let truths = [owner, successor_of(&now, &key)];
                        let first_live = found.iter().find(|v| alive(v));
                        Some(LookupRecord {
                            hops: u32::try_from(stats.hops).unwrap_or(u32::MAX),
                            timeouts: u32::try_from(stats.failed_calls).unwrap_or(u32::MAX),
                            correct: found.first().is_some_and(|f| truths.contains(f)),
                            correct_after_failover: first_live.is_some_and(|f| truths.contains(f)),
                            owner_just_joined,
                        })
                    };
                    records
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(record);
                }));
                continue;
            }
            *membership.lock().unwrap_or_else(PoisonError::into_inner) = Arc::new(cluster.vnodes());
        }
        for task in tasks {
            // Lookups end by their own deadline; a panicked one is simply not counted.
            let _ = task.await;
        }
        let all = std::mem::take(&mut *records.lock().unwrap_or_else(PoisonError::into_inner));
        sample.aborted = all.iter().filter(|r| r.is_none()).count();
        sample.lookups = all.into_iter().flatten().collect();
        sample.final_nodes = cluster.nodes().len();
        Ok(sample)
    })?
}

/// Runs the experiment at every rate of [`RATES`] (small: [`SMALL_RATES`]).
pub fn run(options: &Options) -> Result<Outcome, SimError> {
    let nodes = options.pick(options.nodes, 100, 500);
    let lookups = options.pick(options.lookups, 300, 10_000);
    if nodes < 2 {
        return Err(SimError::InvalidOption("churn needs --nodes >= 2".into()));
    }
    let rates: &[f64] = if options.small { &SMALL_RATES } else { &RATES };
    // One lookup per second: the run lasts as many seconds as lookups wanted.
    let duration = Duration::from_secs(u64::try_from(lookups).unwrap_or(u64::MAX));
    let mut table = Table::new(
        "churn",
        &[
            "rate",
            "nodes",
            "seconds",
            "joins",
            "crashes",
            "final_nodes",
            "lookups",
            "failed_lookups",
            "failed_per_10k",
            "failed_after_failover_per_10k",
            "failed_after_failover_owner_settled_per_10k",
            "mean_hops",
            "p1_hops",
            "p99_hops",
            "mean_timeouts",
            "p1_timeouts",
            "p99_timeouts",
        ],
    );
    let (mut failed_line, mut timeouts_line, mut hops_line) = (Vec::new(), Vec::new(), Vec::new());
    for &rate in rates {
        let s = measure(options.seed, nodes, rate, duration)?;
        let done = s.lookups.len();
        let failed = s.lookups.iter().filter(|r| !r.correct).count();
        let failed_over = s
            .lookups
            .iter()
            .filter(|r| !r.correct_after_failover)
            .count();
        let failed_settled = s
            .lookups
            .iter()
            .filter(|r| !r.correct_after_failover && !r.owner_just_joined)
            .count();
        let hops: Vec<u32> = s.lookups.iter().map(|r| r.hops).collect();
        let timeouts: Vec<u32> = s.lookups.iter().map(|r| r.timeouts).collect();
        let h = Summary::of_counts(&hops);
        let t = Summary::of_counts(&timeouts);
        table.push(vec![
            rate.into(),
            nodes.into(),
            duration.as_secs().into(),
            s.joins.0.into(),
            s.crashes.into(),
            s.final_nodes.into(),
            done.into(),
            failed.into(),
            (fraction(failed, done) * 10_000.0).into(),
            (fraction(failed_over, done) * 10_000.0).into(),
            (fraction(failed_settled, done) * 10_000.0).into(),
            h.mean.into(),
            h.p1.into(),
            h.p99.into(),
            t.mean.into(),
            t.p1.into(),
            t.p99.into(),
        ]);
        failed_line.push(Point::new(rate, fraction(failed, done) * 100.0));
        timeouts_line.push(Point::with_bar(rate, t.mean, t.p1, t.p99));
        hops_line.push(Point::new(rate, h.mean));
    }
    let chart = Chart {
        title: format!("Lookups under churn, {nodes} nodes (Fig. 12, ToN Table III)"),
        x_label: "node join and failure rate (per second)".into(),
        y_label: "hops and timeouts per lookup; % of lookups failed".into(),
        log_x: false,
        series: vec![
            Series::solid("path length", hops_line),
            Series::solid("timeouts (mean, 1st, 99th pct.)", timeouts_line),
            Series::solid("failed lookups (%)", failed_line),
            Series::dashed(
                "paper: path length",
                TON_TABLE_III.iter().map(|r| Point::new(r.0, r.1)).collect(),
            ),
            Series::dashed(
                "paper: timeouts",
                TON_TABLE_III.iter().map(|r| Point::new(r.0, r.2)).collect(),
            ),
            Series::dashed(
                "paper: failed lookups (%)",
                TON_TABLE_III
                    .iter()
                    .map(|r| Point::new(r.0, r.3 / 100.0))
                    .collect(),
            ),
        ],
    };
    Ok(Outcome {
        tables: vec![table],
        charts: vec![("churn".into(), chart)],
    })
}

//! Many seeds, one after the other: each seed's run checked, and every seed that found
//! something reported with its summary, so that `dendrite-tablesim run --seed S` replays it.

use std::time::{Duration, Instant};

use crate::cluster::SimError;
use crate::run::{run_seed, SeedReport};
use crate::schedule::SimConfig;

/// What a sweep found.
#[derive(Debug, Default)]
pub struct SweepReport {
    /// Seeds run.
    pub seeds: usize,
    /// Operations checked, over all seeds.
    pub operations: usize,
    /// Rounds of faults carried out, over all seeds.
    pub rounds: usize,
    /// Anomalies, over all seeds.
    pub anomalies: usize,
    /// Of those, the open finding's (while ownership moved).
    pub while_ownership_moved: usize,
    /// The summary of every seed that failed (see [`sweep`]'s `tolerant`).
    pub failed: Vec<(u64, String)>,
    /// Seeds whose only anomalies were the open finding's, when tolerated.
    pub tolerated: Vec<u64>,
    /// Wall-clock time of the sweep.
    pub wall: Duration,
}

impl SweepReport {
    /// The figures in a line.
    pub fn line(&self) -> String {
        format!(
            "{} seeds, {} rounds of faults, {} operations checked: {} anomalies ({} while \
             ownership moved), {} seeds failed, {} more tolerated ({:.1?} wall)",
            self.seeds,
            self.rounds,
            self.operations,
            self.anomalies,
            self.while_ownership_moved,
            self.failed.len(),
            self.tolerated.len(),
            self.wall
        )
    }
}

/// Runs seeds `from..from + count`, calling `each` with every seed's report as it ends. A seed
/// fails on any anomaly, a run stopped early or no convergence; with `tolerant`, anomalies
/// while ownership moved (the open finding) are counted but do not fail it
/// ([`SeedReport::failed_tolerant`]).
pub fn sweep(
    from: u64,
    count: u64,
    config: &SimConfig,
    tolerant: bool,
    mut each: impl FnMut(&SeedReport),
) -> Result<SweepReport, SimError> {
    let wall = Instant::now();
    let mut report = SweepReport::default();
    for seed in from..from.saturating_add(count) {
        let run = run_seed(seed, config)?;
        report.seeds += 1;
        report.operations += run.verdict.operations;
        report.rounds += run.rounds.len();
        report.anomalies += run.verdict.anomalies.len();
        let untolerated = run.verdict.untolerated().len();
        report.while_ownership_moved += run.verdict.anomalies.len() - untolerated;
        let failed = if tolerant {
            run.failed_tolerant()
        } else {
            run.failed()
        };
        if failed {
            report.failed.push((seed, run.summary()));
        } else if run.failed() {
            report.tolerated.push(seed);
        }
        each(&run);
    }
    report.wall = wall.elapsed();
    Ok(report)
}

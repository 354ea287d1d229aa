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
    /// The summary of every seed that found an anomaly, stopped early or did not converge.
    pub failed: Vec<(u64, String)>,
    /// Wall-clock time of the sweep.
    pub wall: Duration,
}

impl SweepReport {
    /// The figures in a line.
    pub fn line(&self) -> String {
        format!(
            "{} seeds, {} rounds of faults, {} operations checked: {} anomalies, {} seeds failed \
             ({:.1?} wall)",
            self.seeds,
            self.rounds,
            self.operations,
            self.anomalies,
            self.failed.len(),
            self.wall
        )
    }
}

/// Runs seeds `from..from + count`, calling `each` with every seed's report as it ends.
pub fn sweep(
    from: u64,
    count: u64,
    config: &SimConfig,
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
        if run.failed() {
            report.failed.push((seed, run.summary()));
        }
        each(&run);
    }
    report.wall = wall.elapsed();
    Ok(report)
}

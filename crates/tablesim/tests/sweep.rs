//! A sweep of seeds inside `cargo test`, every seed's history through the chaos harness's
//! checker, strict: any anomaly fails (even while ownership of a range moved), as does a run
//! stopped early or one that did not converge. Since fix 16 of docs/reliability.md, seeds
//! 0-1999 find nothing at all; seeds 2000-2999 still find the open finding on two seeds (two
//! of five nodes restarting empty at once), which docs/reliability.md describes.
//!
//! `DENDRITE_TABLESIM_SEEDS` and `DENDRITE_TABLESIM_FROM` change the seeds;
//! `dendrite-tablesim sweep --seeds 1000` runs thousands (docs/reliability.md, "Table
//! simulation").

use dendrite_tablesim::schedule::{FaultKind, SimConfig};
use dendrite_tablesim::sweep::{sweep, SweepReport};

/// Seeds of the sweep: 0.85 s each in a debug build on the shared 2-core machine (40 seeds
/// took 34 s: 4 rounds, 80 s of virtual time, 2,200 operations each), so about 45 s. A
/// release build runs a seed in about 0.1 s: the thousands go through the binary.
const SEEDS: u64 = 50;
/// The first seed by default: seeds 0-99 are the ones docs/reliability.md reports on.
const FROM: u64 = 1_000;

fn env_u64(name: &str, default: u64) -> Result<u64, String> {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .map_err(|e| format!("{name}={text:?} is not a number: {e}")),
        Err(_) => Ok(default),
    }
}

/// Runs the sweep and checks that it did its work and that no seed failed.
fn check_sweep(
    config: &SimConfig,
    default_seeds: u64,
    tolerant: bool,
) -> Result<SweepReport, String> {
    let seeds = env_u64("DENDRITE_TABLESIM_SEEDS", default_seeds)?;
    let from = env_u64("DENDRITE_TABLESIM_FROM", FROM)?;
    let report = sweep(from, seeds, config, tolerant, |run| {
        if run.failed() {
            println!("{}", run.summary());
        }
    })
    .map_err(|e| e.to_string())?;
    println!("{}", report.line());
    let failed: Vec<&str> = report.failed.iter().map(|(_, s)| s.as_str()).collect();
    assert!(
        failed.is_empty(),
        "{} seeds failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
    assert_eq!(report.seeds as u64, seeds);
    assert_eq!(
        report.rounds as u64,
        seeds * config.rounds as u64,
        "every round of every seed carried out"
    );
    assert!(
        report.operations as u64 >= seeds * 500,
        "too few operations checked: {}",
        report.line()
    );
    Ok(report)
}

#[test]
fn every_fault_kind_finds_nothing() -> Result<(), String> {
    let report = check_sweep(&SimConfig::default(), SEEDS, false)?;
    assert!(report.tolerated.is_empty(), "{:?}", report.tolerated);
    Ok(())
}

/// Seeds of the clock-offset sweep: restarts with clocks up to 3 s off, partitions and
/// crashes, six rounds each (docs/reliability.md, "Sweeps"). Strict too.
const CLOCK_SEEDS: u64 = 12;

#[test]
fn clock_offsets_partitions_and_crashes_find_nothing() -> Result<(), String> {
    let config = SimConfig {
        kinds: vec![FaultKind::Clock, FaultKind::Partition, FaultKind::Crash],
        rounds: 6,
        ..SimConfig::default()
    };
    let report = check_sweep(&config, CLOCK_SEEDS, false)?;
    assert!(report.tolerated.is_empty(), "{:?}", report.tolerated);
    Ok(())
}

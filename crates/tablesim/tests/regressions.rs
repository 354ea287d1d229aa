//! Seeds that each found a bug, run strictly (about 1 s each): not even an anomaly while ownership moved is
//! allowed on them. Each one failed before the fix docs/reliability.md names beside it, so a
//! change that brings a bug back fails here, whatever the tolerant sweep says.

use dendrite_tablesim::run::run_seed;
use dendrite_tablesim::schedule::{FaultKind, SimConfig};

/// (seed, the fix in docs/reliability.md "Since the last long run" that made it pass).
const FIXED: [(u64, u32); 14] = [
    (888, 10),  // one lost message made a live vnode's successor a second primary
    (220, 11),  // a read at consistency 2 trusted copies the writer's view did not name
    (165, 12),  // a read whose primary was down asked the wrong copies
    (145, 13),  // a stale predecessor-check verdict after a heal
    (1651, 13), // a restarted node's old vnode id kept coming back
    (677, 14),  // a node that had left the ring went on serving as primary
    (609, 15),  // a vnode whose predecessor was unknown took writes for a live vnode's key
    (15, 16),   // a restarted node's vnode took a sibling for its predecessor, past a live one
    (764, 16),  // the same: an INCR answered twice with one value
    (1120, 16), // the same: a read answered nil after an acknowledged SET
    (2534, 18), // a restarted vnode slipped in front of the live vnode holding the last copy
    (2501, 18), // the same, three anomalies while ownership moved
    (266, 22),  // a displaced primary kept taking INCRs while a newcomer's sibling took its range
    (1894, 22), // a stale read after two of five nodes crashed (passes since; not re-analysed)
];

/// Seeds of the clock-offset sweep (`--faults clock,partition,crash --rounds 6`) that found a
/// bug, with their fix.
const FIXED_WITH_CLOCKS: [(u64, u32); 12] = [
    (329, 18),  // two primaries after a restart with a clock 2.3 s ahead: INCRs answered twice
    (278, 18),  // fix 18's first version: a ghost vnode filled a vacancy and stayed for good
    (647, 20),  // a restarted node's join found only its own ghosts: a private ring, nil reads
    (958, 20),  // the same: a read answered nil after an acknowledged SET
    (462, 21),  // a vacant vnode reached past a live vnode it merely suspected: INCR twice
    (44, 22),   // a displaced primary, as seed 266 of the default sweep
    (1298, 22), // two of four restarted together, a counter resumed from an older copy (the same)
    (1456, 23), // a newcomer took a predecessor past a live vnode: a nil read after a SET
    (180, 28),  // a vnode came back between a round's vnode and its successor: INCR from nothing
    (136, 29),  // a restarted vnode took a predecessor past a live one just back: a stale read
    (594, 30),  // a hand-over confirmed by a sibling, replicas never checked: INCR from nothing
    (1961, 36), // a writer's replica set skipped a vnode; the read's fallback never asked its third
];

#[test]
fn seeds_that_found_a_bug_find_nothing_now() -> Result<(), String> {
    check(&FIXED, &SimConfig::default())
}

#[test]
fn clock_seeds_that_found_a_bug_find_nothing_now() -> Result<(), String> {
    let config = SimConfig {
        kinds: vec![FaultKind::Clock, FaultKind::Partition, FaultKind::Crash],
        rounds: 6,
        ..SimConfig::default()
    };
    check(&FIXED_WITH_CLOCKS, &config)
}

fn check(seeds: &[(u64, u32)], config: &SimConfig) -> Result<(), String> {
    let mut failed = Vec::new();
    for &(seed, fix) in seeds {
        let report = run_seed(seed, config).map_err(|e| e.to_string())?;
        println!(
            "fix {fix}: {}",
            report.summary().lines().next().unwrap_or("")
        );
        if report.failed() {
            failed.push(format!("seed {seed} (fix {fix}):\n{}", report.summary()));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    Ok(())
}

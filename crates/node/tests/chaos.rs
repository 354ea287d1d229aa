//! Fault injection on real `dendrite node` processes, with the history checker of
//! `dendrite_chaos` (docs/reliability.md): five nodes, 2 replicas, four client tasks sending
//! SET/GET/DEL/INCR over RESP at consistencies 1/3, 2/3, 1/3 and 1/1 (read/write) to nodes
//! drawn at random, while a seeded schedule kills and restarts nodes (`kill -9`), pauses them
//! (SIGSTOP past failure detection, SIGCONT), partitions the cluster (a minority's links moved
//! to a bridge of their own, in network namespaces: needs root), restarts a node with its
//! clock off, and slows links (`tc netem`, skipped loudly where the kernel lacks it). After
//! every fault the cluster must settle with every range fully replicated; at the end every
//! node must read the same value of every key, and the checker must find no anomaly but the
//! open finding of docs/reliability.md (anomalies while ownership moves; all of them fail with
//! `DENDRITE_CHAOS_STRICT=1`).
//!
//! The short profile here runs a round or two of each fault, each followed by a few seconds of
//! calm (about 115 s). Environment: `DENDRITE_CHAOS_SEED` replays a seed (printed),
//! `DENDRITE_CHAOS_FAULTS` sets the rounds
//! (`kill:2,pause:1,partition:1,clock:1,slow:1,bridge:1,oneway:1`),
//! `DENDRITE_CHAOS_QUIET_MS` the quiet time after each (`6500-8000`),
//! `DENDRITE_CHAOS_MINORITY` the largest partition minority (1), `DENDRITE_CHAOS_LOGS` a
//! directory for the nodes' logs. `scripts/chaos.sh` runs long profiles over several seeds.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use dendrite_chaos::cluster::ClusterConfig;
use dendrite_chaos::run::{run, RunConfig};
use dendrite_chaos::schedule::{FaultCounts, FaultKind};
use dendrite_chaos::workload::Workload;

/// The short profile's rounds.
const SHORT: &str = "kill:2,pause:1,partition:1,clock:1,slow:1,bridge:1,oneway:1";
/// The short profile's quiet time after each round, in ms: 1.5-3 s of calm after the
/// hand-back margin, when every read is held to every promise.
const QUIET_MS: &str = "6500-8000";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T
where
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|e| panic!("{name}={text:?} does not parse: {e}")),
        Err(_) => default,
    }
}

/// `min-max` in milliseconds.
fn quiet_ms(text: &str) -> std::ops::RangeInclusive<u64> {
    let (min, max) = text
        .split_once('-')
        .unwrap_or_else(|| panic!("DENDRITE_CHAOS_QUIET_MS={text:?} is not min-max"));
    min.parse().unwrap()..=max.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_anomalies_under_kills_pauses_partitions_and_clock_offsets() {
    let seed = env_or("DENDRITE_CHAOS_SEED", 0xC4A0_5EED_u64);
    let faults: FaultCounts = env_or("DENDRITE_CHAOS_FAULTS", SHORT.parse().unwrap());
    let log_dir = std::env::var_os("DENDRITE_CHAOS_LOGS").map(PathBuf::from);
    println!("chaos: seed {seed} (DENDRITE_CHAOS_SEED), rounds {faults} (DENDRITE_CHAOS_FAULTS)");
    let config = RunConfig {
        cluster: ClusterConfig {
            binary: PathBuf::from(env!("CARGO_BIN_EXE_dendrite")),
            nodes: 5,
            replicas: 2,
            vnodes: 3,
            log_dir,
        },
        seed,
        faults,
        workload: Workload {
            registers: 24,
            counters: 4,
            consistencies: vec![(1, 3), (2, 3), (1, 3), (1, 1)],
            think: Duration::from_millis(20),
        },
        // A partition's minority is one node unless DENDRITE_CHAOS_MINORITY says more: a
        // two-node side does not find the ring again after the heal (docs/reliability.md).
        max_minority: env_or("DENDRITE_CHAOS_MINORITY", 1),
        quiet_ms: quiet_ms(&env_or("DENDRITE_CHAOS_QUIET_MS", QUIET_MS.to_owned())),
        settle_wait: Duration::from_secs(60),
        converge_wait: Duration::from_secs(60),
    };
    let report = run(config).await.unwrap_or_else(|e| panic!("{e}"));
    let summary = report.summary();
    println!("chaos: faults, as injected and healed:");
    for fault in &report.history.faults {
        println!("  {:>9.3}s  {}", fault.at.as_secs_f64(), fault.what);
    }
    println!("chaos: {summary}");
    // One line for scripts/chaos.sh to add up.
    println!(
        "chaos-figures seed={seed} {} operations={} reads={} anomalies={} tolerated={} \
         swept={} converged={}",
        report.done.to_string().replace(':', "=").replace(',', " "),
        report.verdict.operations,
        report.verdict.reads_checked,
        report.verdict.anomalies.len(),
        report.verdict.anomalies.len() - report.verdict.untolerated().len(),
        report.verdict.found_by_sweep(),
        report.converged_in.is_some()
    );
    assert!(report.failure.is_none(), "{summary}");
    // Anomalies while ownership moves are an open finding (docs/reliability.md): shown, and
    // failed only with DENDRITE_CHAOS_STRICT=1.
    let strict = std::env::var_os("DENDRITE_CHAOS_STRICT").is_some();
    let failing = if strict {
        report.verdict.anomalies.len()
    } else {
        report.verdict.untolerated().len()
    };
    assert!(
        failing == 0,
        "{failing} anomalies{}: {summary}",
        if strict {
            ""
        } else {
            " besides the open finding"
        }
    );
    assert!(
        report.converged_in.is_some(),
        "the nodes did not converge: {summary}"
    );
    assert!(
        report.verdict.reads_checked > 100,
        "too few reads checked to mean anything: {summary}"
    );
    // Every round ran, but those this machine cannot inject (said loudly above).
    let mut expected = faults;
    if !dendrite_chaos::netns::is_root() {
        expected.set(FaultKind::Partition, 0);
        expected.set(FaultKind::SlowLink, 0);
    } else if dendrite_chaos::netem::available().is_err() {
        expected.set(FaultKind::SlowLink, 0);
    }
    assert_eq!(report.done, expected, "{summary}");
}

//! One seed: a cluster, client tasks throughout, the rounds of faults (each injected, held,
//! healed, then the cluster left to settle with every range fully replicated before a quiet
//! time), a convergence sweep, and the checker of the real-process runs
//! ([`dendrite_chaos::checker::Checker`]). Everything runs on one thread with tokio's clock
//! paused, so the run is a function of its seed.

use std::fmt::Write as _;
use std::time::Duration;

use dendrite_chaos::checker::{Checker, Verdict};
use dendrite_chaos::history::{Completion, FaultEvent, History, Isolation, Transition};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;
use tokio::time::{sleep, Instant};

use crate::clients;
use crate::cluster::{SimCluster, SimError};
use crate::schedule::{self, FaultKind, SimConfig};

/// What a seed did and found.
#[derive(Debug)]
pub struct SeedReport {
    /// The seed.
    pub seed: u64,
    /// The rounds carried out, by kind, in order.
    pub rounds: Vec<FaultKind>,
    /// Everything recorded.
    pub history: History,
    /// What the checker found.
    pub verdict: Verdict,
    /// How long after the last fault every node read the same value of every key, if it did.
    pub converged_in: Option<Duration>,
    /// Why the run stopped early, if it did (the history up to then is checked all the same).
    pub failure: Option<String>,
    /// Virtual time from the first fault to the end of the sweep.
    pub elapsed: Duration,
    /// Messages sent on the network: a fingerprint of the whole protocol traffic.
    pub calls: u64,
}

impl SeedReport {
    /// Whether the seed needs a look: an anomaly, a run that stopped, or no convergence.
    pub fn failed(&self) -> bool {
        !self.verdict.anomalies.is_empty() || self.failed_tolerant()
    }

    /// Whether the seed fails a run that tolerates the open finding of docs/reliability.md
    /// (anomalies while ownership of a range moved, shown and counted), as the short
    /// real-process profile does: any other anomaly, a run that stopped, or no convergence.
    pub fn failed_tolerant(&self) -> bool {
        !self.verdict.untolerated().is_empty()
            || self.failure.is_some()
            || self.converged_in.is_none()
    }

    /// The whole run as text: every fault and every operation in time order, then the
    /// traffic. Two runs of one seed must render the same bytes.
    pub fn trace(&self) -> String {
        let mut text = format!("seed {}\n", self.seed);
        for fault in &self.history.faults {
            let _ = writeln!(
                text,
                "{:>9.3} fault: {}",
                fault.at.as_secs_f64(),
                fault.what
            );
        }
        let mut operations: Vec<_> = self.history.operations.iter().collect();
        operations.sort_by_key(|o| (o.invoked, o.completed, o.client, o.node));
        for operation in operations {
            let _ = writeln!(text, "{operation}");
        }
        let _ = writeln!(text, "{} messages sent", self.calls);
        text
    }

    /// The figures of the run in a line, then every anomaly with its history.
    pub fn summary(&self) -> String {
        let count = |f: fn(&Completion) -> bool| {
            self.history
                .operations
                .iter()
                .filter(|o| f(&o.completion))
                .count()
        };
        let rounds: Vec<&str> = self.rounds.iter().map(|k| k.name()).collect();
        let mut text = format!(
            "seed {}: rounds [{}] in {:.1?} virtual; {} operations ({} ok, {} error replies, {} \
             unknown) on {} keys; {} reads checked in full, {} through cut-off nodes; converged \
             {}; {} anomalies ({} while ownership moved)",
            self.seed,
            rounds.join(", "),
            self.elapsed,
            self.verdict.operations,
            count(|c| matches!(c, Completion::Ok(_))),
            count(|c| matches!(c, Completion::Fail(_))),
            count(|c| matches!(c, Completion::Unknown(_))),
            self.verdict.keys,
            self.verdict.reads_checked,
            self.verdict.reads_isolated,
            self.converged_in
                .map_or("NOT within the deadline".to_owned(), |d| format!(
                    "{d:.2?} after the last fault"
                )),
            self.verdict.anomalies.len(),
            self.verdict.anomalies.len() - self.verdict.untolerated().len(),
        );
        if let Some(failure) = &self.failure {
            let _ = write!(text, "\n*** RUN STOPPED: {failure}");
        }
        for anomaly in &self.verdict.anomalies {
            let _ = write!(text, "\n{}", anomaly.report(self.seed, &self.history));
        }
        text
    }
}

/// When the last run's clients started: time 0 of its trace (the cluster forms before it).
static TRACE_ORIGIN: std::sync::Mutex<Option<Instant>> = std::sync::Mutex::new(None);

/// Virtual time since the current run's trace began, in seconds (negative while its cluster
/// forms), for log lines that should read on the trace's clock; `None` outside a run.
pub fn trace_time() -> Option<f64> {
    let origin = (*TRACE_ORIGIN.lock().unwrap_or_else(|e| e.into_inner()))?;
    let now = Instant::now();
    Some(if now >= origin {
        now.duration_since(origin).as_secs_f64()
    } else {
        -origin.duration_since(now).as_secs_f64()
    })
}

/// Runs `seed` on a fresh single-threaded runtime with tokio's clock paused.
pub fn run_seed(seed: u64, config: &SimConfig) -> Result<SeedReport, SimError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .map_err(SimError::Runtime)?;
    Ok(runtime.block_on(simulate(seed, config)))
}

/// The run of `seed` (call it on a current-thread runtime with the clock paused).
pub async fn simulate(seed: u64, config: &SimConfig) -> SeedReport {
    let checker = Checker {
        replicas: u8::try_from(config.replicas).unwrap_or(u8::MAX),
    };
    let mut report = SeedReport {
        seed,
        rounds: Vec::new(),
        history: History::default(),
        verdict: Verdict::default(),
        converged_in: None,
        failure: None,
        elapsed: Duration::ZERO,
        calls: 0,
    };
    let nodes = StdRng::seed_from_u64(seed).gen_range(config.nodes.clone());
    let mut cluster = match SimCluster::start(seed, nodes, config).await {
        Ok(cluster) => cluster,
        Err(error) => {
            report.failure = Some(format!("starting {nodes} nodes: {error}"));
            return report;
        }
    };
    let started = Instant::now();
    *TRACE_ORIGIN.lock().unwrap_or_else(|e| e.into_inner()) = Some(started);
    let (stop, stopped) = watch::channel(false);
    let tasks = clients::start(
        &config.workload,
        &cluster.directory,
        seed,
        started,
        &stopped,
    );
    let history = &mut report.history;
    for (index, round) in schedule::draw(seed, config).iter().enumerate() {
        let round_started = started.elapsed();
        let mut log = |what: String| {
            history.faults.push(FaultEvent {
                at: started.elapsed(),
                what,
            })
        };
        log(format!("round {}: {}", index + 1, round.kind));
        let settled = match cluster.inject(round, config, &mut log).await {
            Ok(isolated) => cluster
                .settle(config.settle_wait)
                .await
                .map(|took| (isolated, took)),
            Err(error) => Err(error),
        };
        let now = started.elapsed();
        match settled {
            Ok((isolated, took)) => {
                let isolated = isolated
                    .into_iter()
                    .map(|node| Isolation {
                        node,
                        from: round_started,
                        until: now,
                    })
                    .collect();
                history.record_settled(round_started, now, isolated, took);
                report.rounds.push(round.kind);
            }
            Err(error) => {
                // Ownership may move until the end: the rest of the run is in transition.
                history.transitions.push(Transition {
                    from: round_started,
                    until: Duration::MAX,
                });
                report.failure = Some(format!("round {} ({}): {error}", index + 1, round.kind));
                break;
            }
        }
        sleep(round.quiet).await;
    }
    let _ = stop.send(true);
    for task in tasks {
        if let Ok(operations) = task.await {
            history.operations.extend(operations);
        }
    }
    // A cluster that did not settle has nothing to converge to: no sweep then (as in the
    // real-process runs).
    if report.failure.is_none() {
        let keys = config.workload.keys();
        let (sweep, converged) =
            clients::convergence_sweep(&keys, &cluster.nodes(), started, config.converge_wait)
                .await;
        history.operations.extend(sweep);
        report.converged_in = converged;
    }
    report.verdict = checker.check(&report.history);
    report.elapsed = started.elapsed();
    report.calls = cluster.tables.net.calls();
    report
}

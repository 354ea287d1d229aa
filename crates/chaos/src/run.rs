//! One run: a cluster, client tasks sending operations throughout, the rounds of a seeded
//! [`Schedule`] (each fault injected, held, healed, then the cluster left to settle with every
//! range fully replicated before the next), a convergence sweep, and the check.

use std::fmt::Write as _;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{sleep, Instant};

use crate::checker::{Checker, Verdict};
use crate::cluster::{Cluster, ClusterConfig, ClusterError};
use crate::history::{Completion, FaultEvent, History, Isolation};
use crate::schedule::{Fault, FaultCounts, FaultKind, Round, Schedule};
use crate::workload::{self, Workload};

/// How long after the cluster settled ownership may still be moving: the hand-back delay
/// (`handback_delay`, 3 s) and a hand-back pass.
pub const HANDBACK_MARGIN: Duration = Duration::from_secs(5);

/// How to run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The cluster.
    pub cluster: ClusterConfig,
    /// The seed of the schedule and of the clients' choices.
    pub seed: u64,
    /// Rounds of each fault.
    pub faults: FaultCounts,
    /// The clients.
    pub workload: Workload,
    /// The largest minority a partition cuts off (at most `replicas`, and less than half).
    pub max_minority: usize,
    /// The quiet time after each round, in milliseconds (drawn). Ownership keeps moving for
    /// [`HANDBACK_MARGIN`] after the cluster settled: a longer quiet leaves calm time after it,
    /// when every read is held to every promise.
    pub quiet_ms: std::ops::RangeInclusive<u64>,
    /// Longest wait for the cluster to settle (or a ring to re-form) after a fault.
    pub settle_wait: Duration,
    /// Longest wait, after the last fault, for every node to read the same value of every key
    /// (two periodic repair rounds).
    pub converge_wait: Duration,
}

/// A run that could not be carried out (not an anomaly: the harness could not go on).
#[derive(Debug, thiserror::Error)]
#[error("seed {seed}, {during}: {source}")]
pub struct RunError {
    /// The seed, to replay.
    pub seed: u64,
    /// The round and fault, or the start.
    pub during: String,
    /// What failed.
    pub source: ClusterError,
}

/// What a run did and found.
#[derive(Debug)]
pub struct RunReport {
    /// The seed.
    pub seed: u64,
    /// Rounds carried out, per kind.
    pub done: FaultCounts,
    /// Faults left out, and why (said loudly: nothing was tested for them).
    pub skipped: Vec<String>,
    /// Everything recorded.
    pub history: History,
    /// What the checker found.
    pub verdict: Verdict,
    /// From the first fault to the end of the check.
    pub elapsed: Duration,
    /// How long after the last fault every node read the same value of every key, if it did.
    pub converged_in: Option<Duration>,
    /// Per round, how long the cluster took to settle after the heal.
    pub settle_times: Vec<Duration>,
    /// Why the run stopped before its last round, if it did (the history up to then is
    /// checked all the same).
    pub failure: Option<RunError>,
}

impl RunReport {
    /// The figures of the run in a few lines, then every anomaly with its history.
    pub fn summary(&self) -> String {
        let operations = &self.history.operations;
        let count =
            |f: fn(&Completion) -> bool| operations.iter().filter(|o| f(&o.completion)).count();
        let mut settle = self.settle_times.clone();
        settle.sort();
        let mut text = format!(
            "seed {}: rounds {} in {:.1?}; {} operations checked ({} ok, {} error replies, {} \
             unknown) on {} keys; {} reads checked in full, {} through cut-off nodes checked for \
             phantoms only; settled after a fault in {:.2?} median, {:.2?} max; converged {}; \
             {} anomalies, {} of them while ownership moved (the open finding of \
             docs/reliability.md), {} found by the convergence sweep (lost for good)",
            self.seed,
            self.done,
            self.elapsed,
            self.verdict.operations,
            count(|c| matches!(c, Completion::Ok(_))),
            count(|c| matches!(c, Completion::Fail(_))),
            count(|c| matches!(c, Completion::Unknown(_))),
            self.verdict.keys,
            self.verdict.reads_checked,
            self.verdict.reads_isolated,
            settle.get(settle.len() / 2).copied().unwrap_or_default(),
            settle.last().copied().unwrap_or_default(),
            self.converged_in
                .map_or("NOT within the deadline".to_owned(), |d| format!(
                    "{d:.2?} after the last fault"
                )),
            self.verdict.anomalies.len(),
            self.verdict.anomalies.len() - self.verdict.untolerated().len(),
            self.verdict.found_by_sweep()
        );
        if let Some(failure) = &self.failure {
            let _ = write!(text, "\n*** RUN STOPPED: {failure}");
        }
        for skipped in &self.skipped {
            let _ = write!(text, "\n*** SKIPPED: {skipped}");
        }
        for anomaly in &self.verdict.anomalies {
            let _ = write!(text, "\n{}", anomaly.report(self.seed, &self.history));
        }
        text
    }
}

/// Which faults this machine can inject: the schedule's rounds it cannot are skipped, loudly.
fn feasible(cluster: &Cluster, schedule: &mut Schedule) -> Vec<String> {
    let mut skipped = Vec::new();
    let mut drop_kind = |kind: FaultKind, why: String, rounds: &mut Vec<Round>| {
        let before = rounds.len();
        rounds.retain(|r| r.fault.kind() != kind);
        if rounds.len() < before {
            skipped.push(format!(
                "{} {} rounds: {why}",
                before - rounds.len(),
                kind.name()
            ));
        }
    };
    if !cluster.has_netns() {
        for kind in [
            FaultKind::Partition,
            FaultKind::SlowLink,
            FaultKind::Bridge,
            FaultKind::OneWay,
        ] {
            drop_kind(
                kind,
                "they need network namespaces, which need root".into(),
                &mut schedule.rounds,
            );
        }
    } else if let Err(why) = crate::netem::available() {
        drop_kind(
            FaultKind::SlowLink,
            format!("neither tc netem nor tc tbf works here ({why})"),
            &mut schedule.rounds,
        );
    }
    skipped
}

/// Carries out a run and checks its history.
pub async fn run(config: RunConfig) -> Result<RunReport, RunError> {
    let seed = config.seed;
    let failed = |during: String| {
        move |source: ClusterError| RunError {
            seed,
            during,
            source,
        }
    };
    let nodes = config.cluster.nodes;
    let replicas = config.cluster.replicas;
    let mut schedule = Schedule::draw(
        seed,
        config.faults,
        nodes,
        (usize::from(replicas), config.max_minority),
        config.quiet_ms.clone(),
    );
    let mut cluster = Cluster::start(config.cluster.clone())
        .await
        .map_err(failed("starting the cluster".into()))?;
    let skipped = feasible(&cluster, &mut schedule);
    for line in &skipped {
        eprintln!("\n*** SKIPPED {line}: nothing was tested for them ***\n");
    }
    let started = Instant::now();
    let (stop, stopped) = watch::channel(false);
    let clients = workload::start(
        &config.workload,
        cluster.resp_addresses(),
        seed,
        started,
        stopped,
    );
    let mut history = History::default();
    let mut done = FaultCounts::default();
    let mut settle_times = Vec::new();
    let mut failure = None;
    for (index, round) in schedule.rounds.iter().enumerate() {
        let during = format!("round {} ({})", index + 1, round.fault);
        let mut log = |what: String| {
            history.faults.push(FaultEvent {
                at: started.elapsed(),
                what,
            })
        };
        log(format!("round {}: {}", index + 1, round.fault));
        let round_started = started.elapsed();
        let injected = inject(&mut cluster, round, &config, &mut history, started).await;
        let settled = match injected {
            Ok(isolated) => cluster
                .wait_settled(config.settle_wait)
                .await
                .map(|took| (isolated, took)),
            Err(error) => Err(error),
        };
        match settled {
            Ok((isolated, took)) => {
                let now = started.elapsed();
                history.record_settled(round_started, now, isolated, took);
                settle_times.push(took);
                let kind = round.fault.kind();
                done.set(kind, done.get(kind) + 1);
                println!("seed {seed}, {during}: settled {took:.2?} after the heal, at {now:.1?}");
            }
            Err(error) => {
                failure = Some(failed(during)(error));
                break;
            }
        }
        sleep(round.quiet).await;
    }
    let _ = stop.send(true);
    for client in clients {
        if let Ok(operations) = client.await {
            history.operations.extend(operations);
        }
    }
    // A cluster that did not settle has nothing to converge to: no sweep then.
    let mut converged_in = None;
    if failure.is_none() {
        let (sweep, converged) = workload::convergence_sweep(
            &config.workload.keys(),
            &cluster.resp_addresses(),
            1,
            started,
            config.converge_wait,
        )
        .await;
        history.operations.extend(sweep);
        converged_in = converged;
    }
    let verdict = Checker { replicas }.check(&history);
    Ok(RunReport {
        seed,
        done,
        skipped,
        history,
        verdict,
        elapsed: started.elapsed(),
        converged_in,
        settle_times,
        failure,
    })
}

/// How long a bridge partition or a one-way cut is held beyond the round's hold: past the
/// ring's failure detection (two predecessor pings of the default 2 s call timeout), so that
/// vnodes are dropped and ranges move while it lasts.
const CUT_DETECTION: Duration = Duration::from_secs(5);

/// Holds a bridge partition or a one-way cut past failure detection, notes what the first of
/// the `cut` nodes sees of the ring, and heals; returns that note for the fault log.
async fn hold_cut(cluster: &Cluster, round: &Round, cut: &[usize]) -> Result<String, ClusterError> {
    sleep(round.hold + CUT_DETECTION).await;
    let watched = cut.first().copied().unwrap_or_default();
    let seen = cluster.sees(watched).await;
    cluster.heal()?;
    Ok(format!("node {watched} saw nodes {seen:?} before"))
}

/// Injects one round's fault, holds it, heals it; returns the nodes cut off meanwhile (their
/// isolations end when the cluster has settled).
async fn inject(
    cluster: &mut Cluster,
    round: &Round,
    config: &RunConfig,
    history: &mut History,
    started: Instant,
) -> Result<Vec<Isolation>, ClusterError> {
    let nodes = cluster.len();
    let mut log = |what: String| {
        history.faults.push(FaultEvent {
            at: started.elapsed(),
            what,
        })
    };
    let cut_off = |victims: &[usize], from: Duration| -> Vec<Isolation> {
        victims
            .iter()
            .map(|&node| Isolation {
                node,
                from,
                until: from,
            })
            .collect()
    };
    let others =
        |victims: &[usize]| -> Vec<usize> { (0..nodes).filter(|i| !victims.contains(i)).collect() };
    match &round.fault {
        Fault::Kill { victims } => {
            for &victim in victims {
                cluster.kill(victim).await?;
                log(format!("kill -9 node {victim}"));
            }
            sleep(round.hold).await;
            for &victim in victims {
                let offset = cluster.clock_offset(victim);
                cluster.restart(victim, offset).await?;
                log(format!("restarted node {victim}"));
            }
            Ok(Vec::new())
        }
        Fault::Clock { node, offset_ms } => {
            cluster.kill(*node).await?;
            log(format!("kill -9 node {node}"));
            cluster.restart(*node, *offset_ms).await?;
            log(format!(
                "restarted node {node} with its clock {offset_ms:+} ms off"
            ));
            Ok(Vec::new())
        }
        Fault::Pause { victims } => {
            let from = started.elapsed();
            for &victim in victims {
                cluster.pause(victim).await?;
                log(format!("SIGSTOP node {victim}"));
            }
            // Longer than failure detection: until the others have dropped the paused nodes.
            let noticed = cluster
                .wait_sides(&[others(victims)], config.settle_wait)
                .await;
            if noticed.is_ok() {
                log(format!("the others dropped nodes {victims:?}"));
                sleep(round.hold).await;
            }
            for &victim in victims {
                cluster.resume(victim).await?;
                log(format!("SIGCONT node {victim}"));
            }
            noticed?;
            Ok(cut_off(victims, from))
        }
        Fault::Partition { minority } => {
            let from = started.elapsed();
            cluster.partition(minority)?;
            log(format!("partition {minority:?} | {:?}", others(minority)));
            let sides = [others(minority), minority.clone()];
            let formed = cluster.wait_sides(&sides, config.settle_wait).await;
            if formed.is_ok() {
                log("both sides re-formed their rings".into());
                sleep(round.hold).await;
            }
            cluster.heal()?;
            log("healed the partition".into());
            formed?;
            Ok(cut_off(minority, from))
        }
        Fault::Bridge { bridge, minority } => {
            let from = started.elapsed();
            cluster.bridge(*bridge, minority)?;
            log(format!(
                "bridge: {minority:?} | {:?}, node {bridge} reaching both",
                others(&[minority.as_slice(), &[*bridge]].concat())
            ));
            // No side forms a ring of its own (the bridge node is in both), so there is no
            // state to wait for: held past failure detection, then healed.
            let seen = hold_cut(cluster, round, minority).await?;
            log(format!("healed the bridge partition ({seen})"));
            Ok(cut_off(minority, from))
        }
        Fault::OneWay { senders } => {
            let from = started.elapsed();
            cluster.one_way(senders)?;
            log(format!("packets from {senders:?} to the others dropped"));
            let seen = hold_cut(cluster, round, senders).await?;
            log(format!("healed the one-way cut of {senders:?} ({seen})"));
            Ok(cut_off(senders, from))
        }
        Fault::SlowLink {
            victims,
            delay_ms,
            loss_percent,
        } => {
            let from = started.elapsed();
            for &victim in victims {
                cluster.slow_link(victim, *delay_ms, *loss_percent)?;
            }
            let how = match crate::netem::available() {
                Ok(crate::netem::Shaper::Netem) => {
                    format!("netem: {delay_ms} ms, {loss_percent} % loss")
                }
                _ => format!(
                    "tbf: {} kbit/s, at most {delay_ms} ms queued",
                    8_000 / loss_percent.max(&1)
                ),
            };
            log(format!("slow links on nodes {victims:?} ({how})"));
            sleep(round.hold).await;
            for &victim in victims {
                cluster.restore_link(victim)?;
            }
            log(format!("restored the links of nodes {victims:?}"));
            Ok(cut_off(victims, from))
        }
    }
}

//! The faults of a seed: the rounds of a run, each a kind of fault held for a while, healed,
//! then left quiet. Which nodes a round hits is drawn when it is injected (membership changes
//! between rounds), from the round's own seed.

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

use dendrite_chaos::workload::Workload;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A kind of fault the simulation injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultKind {
    /// Up to `replicas` nodes stop at once (no hand-off, as kill -9), then start again empty
    /// on the same addresses.
    Crash,
    /// A node leaves gracefully (hands its ranges off), or a new node joins.
    Membership,
    /// A minority of nodes (at most `replicas`, less than half) cut off from the rest, then
    /// healed.
    Partition,
    /// Every link loses a large share of messages for a while (on top of the light loss of
    /// the whole run).
    Loss,
    /// A node stops (as kill -9) and starts again empty with its clock off by up to 3 s
    /// either way, as the real-process harness's clock rounds do; the offset stays until the
    /// node's next clock round. Not among the default kinds, so that the seeds of the
    /// default sweeps keep their schedules.
    Clock,
}

impl FaultKind {
    /// Every kind.
    pub const ALL: [FaultKind; 5] = [
        FaultKind::Crash,
        FaultKind::Membership,
        FaultKind::Partition,
        FaultKind::Loss,
        FaultKind::Clock,
    ];

    /// The kinds a run draws from unless told otherwise.
    pub const DEFAULT: [FaultKind; 4] = [
        FaultKind::Crash,
        FaultKind::Membership,
        FaultKind::Partition,
        FaultKind::Loss,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Crash => "crash",
            FaultKind::Membership => "membership",
            FaultKind::Partition => "partition",
            FaultKind::Loss => "loss",
            FaultKind::Clock => "clock",
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A fault kind name that is not one of [`FaultKind::ALL`].
#[derive(Debug, thiserror::Error)]
#[error("unknown fault kind {0:?}: use crash, membership, partition, loss or clock")]
pub struct UnknownFaultKind(String);

impl FromStr for FaultKind {
    type Err = UnknownFaultKind;

    fn from_str(s: &str) -> Result<FaultKind, UnknownFaultKind> {
        FaultKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| UnknownFaultKind(s.to_owned()))
    }
}

/// What a simulated run does; [`SimConfig::default`] is what the sweeps run.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Nodes at the start (drawn).
    pub nodes: RangeInclusive<usize>,
    /// Fewest and most nodes membership changes keep the cluster between.
    pub members: RangeInclusive<usize>,
    /// Copies besides the primary.
    pub replicas: usize,
    /// Rounds of faults.
    pub rounds: usize,
    /// The kinds rounds are drawn from.
    pub kinds: Vec<FaultKind>,
    /// Share of messages lost on every link all along, in `[0, 1]`.
    pub base_loss: f64,
    /// Share lost during a [`FaultKind::Loss`] round (drawn).
    pub heavy_loss: RangeInclusive<f64>,
    /// The clients: keys, consistencies and pace.
    pub workload: Workload,
    /// How long a fault is held (drawn, milliseconds).
    pub hold_ms: RangeInclusive<u64>,
    /// Quiet time after a round settled (drawn, milliseconds).
    pub quiet_ms: RangeInclusive<u64>,
    /// Longest wait for the cluster to settle (ring right, every range fully replicated).
    pub settle_wait: Duration,
    /// Longest wait, after the last fault, for every node to read the same value of every
    /// key.
    pub converge_wait: Duration,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            nodes: 3..=5,
            members: 3..=6,
            replicas: 2,
            rounds: 4,
            kinds: FaultKind::DEFAULT.to_vec(),
            base_loss: 0.005,
            heavy_loss: 0.05..=0.2,
            workload: Workload {
                registers: 4,
                counters: 2,
                // (read, write): durable writes read at every level, and weaker writes.
                consistencies: vec![(3, 3), (1, 3), (2, 2), (1, 1)],
                think: Duration::from_millis(200),
            },
            hold_ms: 1_000..=6_000,
            quiet_ms: 2_000..=8_000,
            settle_wait: Duration::from_secs(60),
            converge_wait: Duration::from_secs(30),
        }
    }
}

/// One round of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Round {
    /// Its fault.
    pub kind: FaultKind,
    /// How long the fault is held.
    pub hold: Duration,
    /// The quiet time after the cluster settled.
    pub quiet: Duration,
    /// Seed of the round's choices made at injection (victims, loss rate).
    pub pick: u64,
}

/// Draws `config.rounds` rounds from `seed`.
pub fn draw(seed: u64, config: &SimConfig) -> Vec<Round> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x05EE_D0FF_A017);
    if config.kinds.is_empty() {
        return Vec::new();
    }
    (0..config.rounds)
        .map(|_| Round {
            kind: config.kinds[rng.gen_range(0..config.kinds.len())],
            hold: Duration::from_millis(rng.gen_range(config.hold_ms.clone())),
            quiet: Duration::from_millis(rng.gen_range(config.quiet_ms.clone())),
            pick: rng.gen(),
        })
        .collect()
}

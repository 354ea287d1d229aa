//! The faults of a run, drawn from a seed: which fault each round injects, on which nodes, and
//! for how long. The same seed and counts give the same schedule.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// One fault and the nodes it hits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// `kill -9` of these nodes, then a restart on the same addresses.
    Kill {
        /// The nodes.
        victims: Vec<usize>,
    },
    /// SIGSTOP of these nodes until the others have dropped them from the ring, then SIGCONT.
    Pause {
        /// The nodes.
        victims: Vec<usize>,
    },
    /// These nodes cut off from the others, still reaching each other, then healed.
    Partition {
        /// The smaller side.
        minority: Vec<usize>,
    },
    /// `kill -9` of a node and a restart with its clock this far off (positive: ahead); it
    /// keeps that offset until its next clock fault.
    Clock {
        /// The node.
        node: usize,
        /// The offset, in milliseconds.
        offset_ms: i64,
    },
    /// The cluster split in two sides that cannot reach each other, and one node, the
    /// bridge, that reaches both (Jepsen's "bridge"), then healed.
    Bridge {
        /// The node both sides reach.
        bridge: usize,
        /// The smaller side (at most `replicas` nodes, less than half).
        minority: Vec<usize>,
    },
    /// Packets from these nodes to every other node dropped, while the others' packets still
    /// reach them (a one-way cut: they receive requests but their answers are lost), then
    /// healed.
    OneWay {
        /// The nodes whose outgoing cluster traffic is dropped.
        senders: Vec<usize>,
    },
    /// These nodes' cluster links delayed and lossy (`tc netem`), then restored.
    SlowLink {
        /// The nodes.
        victims: Vec<usize>,
        /// Delay of every packet, in milliseconds.
        delay_ms: u32,
        /// Share of packets dropped, in percent.
        loss_percent: u32,
    },
}

impl Fault {
    /// The kind of fault.
    pub fn kind(&self) -> FaultKind {
        match self {
            Fault::Kill { .. } => FaultKind::Kill,
            Fault::Pause { .. } => FaultKind::Pause,
            Fault::Partition { .. } => FaultKind::Partition,
            Fault::Clock { .. } => FaultKind::Clock,
            Fault::SlowLink { .. } => FaultKind::SlowLink,
            Fault::Bridge { .. } => FaultKind::Bridge,
            Fault::OneWay { .. } => FaultKind::OneWay,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Kill { victims } => write!(f, "kill -9 nodes {victims:?}, then restart"),
            Fault::Pause { victims } => write!(f, "SIGSTOP nodes {victims:?}, then SIGCONT"),
            Fault::Partition { minority } => write!(f, "partition {minority:?} from the rest"),
            Fault::Clock { node, offset_ms } => {
                write!(f, "restart node {node} with its clock {offset_ms:+} ms off")
            }
            Fault::SlowLink {
                victims,
                delay_ms,
                loss_percent,
            } => write!(
                f,
                "slow links on nodes {victims:?}: {delay_ms} ms delay, {loss_percent} % loss"
            ),
            Fault::Bridge { bridge, minority } => write!(
                f,
                "nodes {minority:?} cut from the rest but node {bridge}, which reaches both"
            ),
            Fault::OneWay { senders } => {
                write!(f, "packets from nodes {senders:?} to the others dropped")
            }
        }
    }
}

/// The kinds of fault, for counting rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultKind {
    /// [`Fault::Kill`].
    Kill,
    /// [`Fault::Pause`].
    Pause,
    /// [`Fault::Partition`].
    Partition,
    /// [`Fault::Clock`].
    Clock,
    /// [`Fault::SlowLink`].
    SlowLink,
    /// [`Fault::Bridge`].
    Bridge,
    /// [`Fault::OneWay`].
    OneWay,
}

impl FaultKind {
    /// Every kind, in the order counts are written.
    pub const ALL: [FaultKind; 7] = [
        FaultKind::Kill,
        FaultKind::Pause,
        FaultKind::Partition,
        FaultKind::Clock,
        FaultKind::SlowLink,
        FaultKind::Bridge,
        FaultKind::OneWay,
    ];

    /// The name used in counts (`kill`, `pause`, `partition`, `clock`, `slow`, `bridge`,
    /// `oneway`).
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Kill => "kill",
            FaultKind::Pause => "pause",
            FaultKind::Partition => "partition",
            FaultKind::Clock => "clock",
            FaultKind::SlowLink => "slow",
            FaultKind::Bridge => "bridge",
            FaultKind::OneWay => "oneway",
        }
    }
}

/// Rounds of each kind of fault.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts(pub [usize; FaultKind::ALL.len()]);

impl FaultCounts {
    /// Rounds of `kind`.
    pub fn get(&self, kind: FaultKind) -> usize {
        self.0[kind as usize]
    }

    /// Sets the rounds of `kind`.
    pub fn set(&mut self, kind: FaultKind, rounds: usize) {
        self.0[kind as usize] = rounds;
    }

    /// Rounds of every kind together.
    pub fn total(&self) -> usize {
        self.0.iter().sum()
    }
}

impl fmt::Display for FaultCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Kinds added later (bridge, oneway) are left out when they have no rounds, so the
        // counts of older runs read as they did.
        let parts: Vec<String> = FaultKind::ALL
            .iter()
            .filter(|&&k| k <= FaultKind::SlowLink || self.get(k) > 0)
            .map(|&k| format!("{}:{}", k.name(), self.get(k)))
            .collect();
        write!(f, "{}", parts.join(","))
    }
}

/// Counts that do not parse.
#[derive(Debug, thiserror::Error)]
#[error(
    "fault counts {text:?}: {why} (expected e.g. \"kill:2,pause:1,partition:2,clock:1,slow:1\")"
)]
pub struct CountsError {
    /// The text.
    pub text: String,
    /// What is wrong.
    pub why: String,
}

impl FromStr for FaultCounts {
    type Err = CountsError;

    /// `kind:rounds` pairs separated by commas; kinds left out get no rounds.
    fn from_str(text: &str) -> Result<FaultCounts, CountsError> {
        let failed = |why: String| CountsError {
            text: text.to_owned(),
            why,
        };
        let mut counts = FaultCounts::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, rounds) = part
                .split_once(':')
                .ok_or_else(|| failed(format!("{part:?} is not kind:rounds")))?;
            let kind = FaultKind::ALL
                .into_iter()
                .find(|k| k.name() == name.trim())
                .ok_or_else(|| failed(format!("no fault kind {name:?}")))?;
            let rounds = rounds
                .trim()
                .parse()
                .map_err(|_| failed(format!("{rounds:?} is not a count")))?;
            counts.set(kind, rounds);
        }
        Ok(counts)
    }
}

/// One round: a fault, how long it is held once in place, and the quiet time after the
/// cluster has settled again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Round {
    /// The fault.
    pub fault: Fault,
    /// How long it is held (for a pause or a partition: after the ring noticed it).
    pub hold: Duration,
    /// Quiet time, with the workload running, before the next round.
    pub quiet: Duration,
}

/// Every round of a run, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// The seed it was drawn from.
    pub seed: u64,
    /// The rounds.
    pub rounds: Vec<Round>,
}

impl Schedule {
    /// Draws `counts` rounds, in a random order, for `nodes` nodes keeping `replicas` extra
    /// copies: never more than `replicas` nodes hit at once (and a partition's minority is
    /// less than half, and at most `max_minority` nodes), so every write acknowledged at full
    /// consistency keeps a copy. Each round's quiet time is drawn from `quiet_ms`.
    pub fn draw(
        seed: u64,
        counts: FaultCounts,
        nodes: usize,
        (replicas, max_minority): (usize, usize),
        quiet_ms: std::ops::RangeInclusive<u64>,
    ) -> Schedule {
        let mut rng = StdRng::seed_from_u64(seed);
        let most = replicas.min(nodes.saturating_sub(1) / 2).max(1);
        let most_cut = most.min(max_minority).max(1);
        let mut kinds: Vec<FaultKind> = FaultKind::ALL
            .iter()
            .flat_map(|&k| std::iter::repeat_n(k, counts.get(k)))
            .collect();
        kinds.shuffle(&mut rng);
        let rounds = kinds
            .into_iter()
            .map(|kind| {
                let victims = |rng: &mut StdRng, most: usize| {
                    let count = rng.gen_range(1..=most);
                    let mut picked = rand::seq::index::sample(rng, nodes, count).into_vec();
                    picked.sort_unstable();
                    picked
                };
                let fault = match kind {
                    FaultKind::Kill => Fault::Kill {
                        victims: victims(&mut rng, most),
                    },
                    FaultKind::Pause => Fault::Pause {
                        victims: victims(&mut rng, most),
                    },
                    FaultKind::Partition => Fault::Partition {
                        minority: victims(&mut rng, most_cut),
                    },
                    FaultKind::Clock => Fault::Clock {
                        node: rng.gen_range(0..nodes),
                        offset_ms: rng.gen_range(-3000..=3000),
                    },
                    FaultKind::SlowLink => Fault::SlowLink {
                        victims: victims(&mut rng, most),
                        delay_ms: rng.gen_range(20..=200),
                        loss_percent: rng.gen_range(1..=10),
                    },
                    FaultKind::Bridge => {
                        let minority = victims(&mut rng, most_cut);
                        let rest: Vec<usize> =
                            (0..nodes).filter(|n| !minority.contains(n)).collect();
                        Fault::Bridge {
                            bridge: rest.choose(&mut rng).copied().unwrap_or(0),
                            minority,
                        }
                    }
                    FaultKind::OneWay => Fault::OneWay {
                        senders: victims(&mut rng, most_cut),
                    },
                };
                Round {
                    fault,
                    hold: Duration::from_millis(rng.gen_range(500..=2500)),
                    quiet: Duration::from_millis(rng.gen_range(quiet_ms.clone())),
                }
            })
            .collect();
        Schedule { seed, rounds }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_seed_draws_the_same_schedule_and_counts_are_kept() {
        let counts: FaultCounts = "kill:5, pause:3,partition:4,clock:2,slow:1"
            .parse()
            .unwrap();
        assert_eq!(
            counts.to_string(),
            "kill:5,pause:3,partition:4,clock:2,slow:1"
        );
        let one = Schedule::draw(7, counts, 5, (2, 2), 200..=1000);
        assert_eq!(one, Schedule::draw(7, counts, 5, (2, 2), 200..=1000));
        assert_ne!(one, Schedule::draw(8, counts, 5, (2, 2), 200..=1000));
        assert!(one
            .rounds
            .iter()
            .all(|r| (200..=1000).contains(&r.quiet.as_millis())));
        for kind in FaultKind::ALL {
            let rounds = one.rounds.iter().filter(|r| r.fault.kind() == kind).count();
            assert_eq!(rounds, counts.get(kind), "{kind:?}");
        }
    }

    #[test]
    fn never_more_than_replicas_nodes_are_hit_and_a_minority_is_less_than_half() {
        let counts: FaultCounts = "kill:50,pause:50,partition:50,slow:50,bridge:50,oneway:50"
            .parse()
            .unwrap();
        let mut minorities = [0; 3];
        for round in Schedule::draw(1, counts, 5, (2, 2), 0..=0).rounds {
            if let Fault::Partition { minority } = &round.fault {
                minorities[minority.len()] += 1;
            }
            let hit = match &round.fault {
                Fault::Kill { victims } | Fault::Pause { victims } => victims.len(),
                Fault::Partition { minority } => minority.len(),
                Fault::SlowLink { victims, .. } => victims.len(),
                Fault::Clock { .. } => 1,
                Fault::Bridge { bridge, minority } => {
                    assert!(!minority.contains(bridge), "{}", round.fault);
                    minority.len()
                }
                Fault::OneWay { senders } => senders.len(),
            };
            assert!((1..=2).contains(&hit), "{}", round.fault);
        }
        assert!(minorities[1] > 0 && minorities[2] > 0, "{minorities:?}");
        for (nodes, max_minority) in [(3, 2), (5, 1)] {
            for round in Schedule::draw(1, counts, nodes, (2, max_minority), 0..=0).rounds {
                if let Fault::Partition { minority } = &round.fault {
                    assert_eq!(minority.len(), 1);
                }
            }
        }
    }

    #[test]
    fn bad_counts_are_refused() {
        assert!("kill".parse::<FaultCounts>().is_err());
        assert!("smash:1".parse::<FaultCounts>().is_err());
        assert!("kill:x".parse::<FaultCounts>().is_err());
    }
}

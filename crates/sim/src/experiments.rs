//! The experiments, one module each, and what they share: options and outcome.

pub mod balance;
pub mod churn;
pub mod failures;
pub mod load_balance;
pub mod owner_index;
pub mod path_length;
pub mod placement;
pub mod replicas;
pub mod ring_setup;
pub mod virtual_nodes;

use crate::error::SimError;
use crate::plot::Chart;
use crate::table::Table;

/// Settings common to every experiment; `None` means the paper's value (or the small value
/// under `small`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    /// Seed of every random choice of the run.
    pub seed: u64,
    /// Number of nodes, overriding the experiment's default.
    pub nodes: Option<usize>,
    /// Number of keys, overriding the experiment's default.
    pub keys: Option<usize>,
    /// Number of lookups, overriding the experiment's default.
    pub lookups: Option<usize>,
    /// Small, fast sizes (for tests and CI) instead of the paper's.
    pub small: bool,
    /// Ring size in place of the paper's (`--scale`, e.g. 10^5): the ring experiments run on
    /// this many nodes and their key counts grow with it ([`KEYS_PER_NODE`] keys per node).
    /// `churn` and `balance` keep their sizes. `nodes` and `keys` still win when given.
    pub scale: Option<usize>,
}

/// Keys per node in the paper's load-balance set-up (10^6 keys on 10^4 nodes), kept under
/// `--scale`.
pub const KEYS_PER_NODE: usize = 100;

impl Options {
    /// Paper-sized options with `seed`.
    pub fn full(seed: u64) -> Options {
        Options {
            seed,
            ..Options::default()
        }
    }

    /// Small options with `seed`.
    pub fn small(seed: u64) -> Options {
        Options {
            seed,
            small: true,
            ..Options::default()
        }
    }

    /// `value` when given, else `small` or `full` by scale.
    pub(crate) fn pick(&self, value: Option<usize>, small: usize, full: usize) -> usize {
        value.unwrap_or(if self.small { small } else { full })
    }

    /// Nodes of a ring experiment: `--nodes`, else `--scale`, else `small` or `full`.
    pub(crate) fn ring_nodes(&self, small: usize, full: usize) -> usize {
        self.pick(self.nodes.or(self.scale), small, full)
    }

    /// Keys of an experiment on `nodes` nodes: `--keys`, else [`KEYS_PER_NODE`] per node under
    /// `--scale`, else `small` or `full`.
    pub(crate) fn ring_keys(&self, nodes: usize, small: usize, full: usize) -> usize {
        let scaled = self.scale.map(|_| nodes.saturating_mul(KEYS_PER_NODE));
        self.pick(self.keys.or(scaled), small, full)
    }
}

/// What an experiment produced: tables (CSV) and charts (SVG), each with a file stem.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Result tables.
    pub tables: Vec<Table>,
    /// Charts, with their file stems.
    pub charts: Vec<(String, Chart)>,
}

/// The experiments of the Chord papers, and two beyond them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Experiment {
    /// Keys per node (SIGCOMM Fig. 8).
    LoadBalance,
    /// Keys per real node with virtual nodes (SIGCOMM Fig. 9).
    VirtualNodes,
    /// Lookup path length against ring size (SIGCOMM Fig. 10).
    PathLength,
    /// Lookups right after simultaneous failures (ToN Table II).
    Failures,
    /// Lookups under continuous joins and failures (ToN Table III).
    Churn,
    /// Keys that lose every copy after simultaneous failures (SIGCOMM Fig. 11, then replicas).
    Replicas,
    /// The largest node's share of the hash slots as the ring grows (issue 15).
    Balance,
}

impl Experiment {
    /// Every experiment, in the order `all` runs them.
    pub const ALL: [Experiment; 7] = [
        Experiment::LoadBalance,
        Experiment::VirtualNodes,
        Experiment::PathLength,
        Experiment::Failures,
        Experiment::Churn,
        Experiment::Replicas,
        Experiment::Balance,
    ];

    /// The command-line name (also the stem of its output files).
    pub fn name(self) -> &'static str {
        match self {
            Experiment::LoadBalance => "load-balance",
            Experiment::VirtualNodes => "virtual-nodes",
            Experiment::PathLength => "path-length",
            Experiment::Failures => "failures",
            Experiment::Churn => "churn",
            Experiment::Replicas => "replicas",
            Experiment::Balance => "balance",
        }
    }

    /// The experiment called `name` on the command line.
    pub fn from_name(name: &str) -> Option<Experiment> {
        Experiment::ALL.into_iter().find(|e| e.name() == name)
    }

    /// Runs the experiment.
    pub fn run(self, options: &Options) -> Result<Outcome, SimError> {
        match self {
            Experiment::LoadBalance => load_balance::run(options),
            Experiment::VirtualNodes => virtual_nodes::run(options),
            Experiment::PathLength => path_length::run(options),
            Experiment::Failures => failures::run(options),
            Experiment::Churn => churn::run(options),
            Experiment::Replicas => replicas::run(options),
            Experiment::Balance => balance::run(options),
        }
    }
}

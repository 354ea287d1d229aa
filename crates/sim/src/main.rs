//! `dendrite-sim <experiment|all> [--seed S] [--nodes N] [--keys K] [--lookups L] [--small]
//! [--scale N] [--out DIR]`: runs the Chord paper's experiments on Dendrite's ring code in virtual time and
//! writes a CSV and an SVG per experiment.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use dendrite_sim::output::write_outcome;
use dendrite_sim::{Experiment, Options};

/// The smallest ring `--scale` accepts: replicas needs 4 hosts.
const MIN_SCALE: usize = 4;

/// Command line of the simulator.
#[derive(Debug, Parser)]
#[command(
    name = "dendrite-sim",
    about = "The Chord paper's experiments on Dendrite's ring, deterministic from one seed"
)]
struct Cli {
    /// load-balance, virtual-nodes, path-length, failures, churn, replicas, or all.
    experiment: String,
    /// Seed of every random choice; the same seed gives the same numbers.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Number of nodes (default: the paper's).
    #[arg(long)]
    nodes: Option<usize>,
    /// Number of keys (default: the paper's).
    #[arg(long)]
    keys: Option<usize>,
    /// Number of lookups (default: the paper's).
    #[arg(long)]
    lookups: Option<usize>,
    /// Small, fast sizes instead of the paper's.
    #[arg(long)]
    small: bool,
    /// Ring size in place of the paper's 10^4 nodes (e.g. 100000): load-balance,
    /// virtual-nodes, replicas and failures run on this many nodes with 100 keys per node,
    /// path-length on 2^3 .. this many (at most 10^6 lookups each); churn and balance keep
    /// their sizes.
    #[arg(long)]
    scale: Option<usize>,
    /// Directory for the CSV and SVG files.
    #[arg(long, default_value = "docs/sim")]
    out: PathBuf,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let experiments: Vec<Experiment> = if cli.experiment == "all" {
        Experiment::ALL.to_vec()
    } else if let Some(e) = Experiment::from_name(&cli.experiment) {
        vec![e]
    } else {
        let names: Vec<&str> = Experiment::ALL.iter().map(|e| e.name()).collect();
        eprintln!(
            "unknown experiment {:?}; choose one of {} or all",
            cli.experiment,
            names.join(", ")
        );
        return ExitCode::from(2);
    };
    if cli.scale.is_some_and(|s| s < MIN_SCALE) {
        eprintln!(
            "--scale needs at least {MIN_SCALE} nodes (failures and replicas need that many)"
        );
        return ExitCode::from(2);
    }
    let options = Options {
        seed: cli.seed,
        nodes: cli.nodes,
        keys: cli.keys,
        lookups: cli.lookups,
        small: cli.small,
        scale: cli.scale,
    };
    println!("seed {}", options.seed);
    let started = Instant::now();
    for experiment in experiments {
        let t = Instant::now();
        println!("== {} (seed {})", experiment.name(), options.seed);
        let outcome = match experiment.run(&options) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("{}: {e}", experiment.name());
                return ExitCode::FAILURE;
            }
        };
        for table in &outcome.tables {
            if table.rows.len() <= 30 {
                println!("{}\n{}", table.name, table.to_markdown());
            } else {
                println!("{}: {} rows (see the CSV)", table.name, table.rows.len());
            }
        }
        match write_outcome(&cli.out, &outcome) {
            Ok(paths) => {
                for p in paths {
                    println!("wrote {}", p.display());
                }
            }
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
        println!(
            "{} took {:.1} s wall time",
            experiment.name(),
            t.elapsed().as_secs_f64()
        );
    }
    println!(
        "seed {}: done in {:.1} s wall time",
        options.seed,
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}

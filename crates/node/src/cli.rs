//! The command line: `dendrite node | demo | status | keygen | bench`.
//!
//! Node flags are all optional so that, when absent, the config file and
//! environment decide (see [`crate::settings`] for the precedence).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::settings::SettingsLayer;

/// A Chord distributed hash table with a Redis-protocol front.
#[derive(Debug, Parser)]
#[command(name = "dendrite", version, about)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: CliCommand,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// Run one node.
    ///
    /// Every flag can also be set as a DENDRITE_* environment variable (DENDRITE_LISTEN,
    /// DENDRITE_JOIN as a comma list, DENDRITE_REQUIREPASS, ...) or as a key of the TOML file
    /// given with --config (listen, join, requirepass, ...). Flags win over the environment,
    /// the environment over the file. Every server binds to loopback unless told otherwise.
    Node(Box<NodeArgs>),
    /// Start a local cluster of several nodes in this process.
    Demo(DemoArgs),
    /// Print a running node's ring as a table (like `nodetool status`).
    Status(StatusArgs),
    /// Print a new CURVE key pair in Z85.
    ///
    /// Security model: every node of a CURVE cluster is started with the same
    /// `--curve-secret` (the cluster key): nodes serve with it and call each
    /// other with it, so a process without it cannot finish a handshake.
    /// `--allow` admits further public keys (for example a tool's own pair).
    Keygen,
    /// Load a running node over RESP and print throughput and latency.
    Bench(BenchArgs),
    /// Check a data directory's snapshot and log segments (the node must be stopped); with
    /// --fix, cut each damaged file at its first bad record so the node can start again.
    CheckData(CheckDataArgs),
}

/// Flags of `dendrite check-data`.
#[derive(Debug, Args)]
pub struct CheckDataArgs {
    /// The data directory (the node's --data-dir).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Cut every damaged file at its first bad record (the records after it are lost on this
    /// node; anti-entropy brings them back from the replicas).
    #[arg(long)]
    pub fix: bool,
}

/// Flags of `dendrite node`; each overrides the environment and config file.
#[derive(Debug, Default, Args)]
pub struct NodeArgs {
    /// TOML config file (else DENDRITE_CONFIG, else none).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The settings given as flags (declared with their TOML keys and environment variables
    /// in [`SettingsLayer`]).
    #[command(flatten)]
    pub settings: SettingsLayer,
}

impl NodeArgs {
    /// The settings given on the command line, as the top layer.
    pub fn to_layer(&self) -> SettingsLayer {
        self.settings.clone()
    }
}

/// Flags of `dendrite demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How many nodes to start.
    #[arg(long, default_value_t = 3)]
    pub nodes: u16,
    /// Node i serves RESP on base+i, HTTP on base+100+i and the ring on base+200+i.
    #[arg(long, default_value_t = 6380)]
    pub base_port: u16,
}

/// Flags of `dendrite status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The node's HTTP address (same as --http; wins over it when given).
    #[arg(value_name = "ADDR")]
    pub addr: Option<String>,
    /// The node's HTTP address.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8380")]
    pub http: String,
    /// Print the raw /status JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

impl StatusArgs {
    /// The HTTP address to ask.
    pub fn target(&self) -> &str {
        self.addr.as_deref().unwrap_or(&self.http)
    }
}

/// Flags of `dendrite bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The node's RESP address.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:6380")]
    pub resp: String,
    /// Concurrent client connections.
    #[arg(long, default_value_t = 50)]
    pub clients: usize,
    /// Total requests (half SET, half GET).
    #[arg(long, default_value_t = 100_000)]
    pub requests: usize,
    /// Bytes per value.
    #[arg(long, default_value_t = 64)]
    pub value_size: usize,
    /// Distinct keys used.
    #[arg(long, default_value_t = 10_000)]
    pub keyspace: u64,
    /// Operation mix: mixed (SET then GET of the same key), or YCSB a (50/50), b (95/5 reads),
    /// c (reads only) over preloaded keys.
    #[arg(long, value_enum, default_value = "mixed")]
    pub workload: crate::bench::Workload,
    /// Write consistency for the run (1..=replicas+1); the node's default when absent.
    #[arg(long)]
    pub consistency: Option<u8>,
    /// Run for this many seconds instead of until --requests are done (a soak).
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<u64>,
    /// Requests per second over all clients, evenly paced (default: as fast as answered).
    #[arg(long, value_name = "OPS")]
    pub rate: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn node_flags_become_the_top_layer() {
        let cli = Cli::try_parse_from([
            "dendrite",
            "node",
            "--listen",
            "10.0.0.1:7400",
            "--join",
            "a:1",
            "--join",
            "b:2",
            "--vnodes",
            "5",
        ])
        .unwrap();
        let CliCommand::Node(args) = cli.command else {
            panic!("expected node")
        };
        let layer = args.to_layer();
        assert_eq!(layer.listen.as_deref(), Some("10.0.0.1:7400"));
        assert_eq!(layer.join, Some(vec!["a:1".to_owned(), "b:2".to_owned()]));
        assert_eq!(layer.vnodes, Some(5));
        assert_eq!(layer.replicas, None);
        assert_eq!(layer.allow, None);
    }
}

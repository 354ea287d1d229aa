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
    /// Ring address other nodes reach this node at (default 127.0.0.1:7400; port 0 picks a
    /// free port and advertises it).
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<String>,
    /// A ring member to join through, retried with backoff for about a minute; repeat for
    /// several seeds (default none: create a new ring).
    #[arg(long, value_name = "HOST:PORT")]
    pub join: Vec<String>,
    /// Virtual nodes to run (default 3).
    #[arg(long)]
    pub vnodes: Option<u16>,
    /// Extra copies of every key (default 2).
    #[arg(long)]
    pub replicas: Option<u8>,
    /// Shortest pause between stabilization rounds, in ms (default 1000).
    #[arg(long, value_name = "MS")]
    pub stabilize_min_ms: Option<u64>,
    /// Longest pause between stabilization rounds, in ms (default 3000).
    #[arg(long, value_name = "MS")]
    pub stabilize_max_ms: Option<u64>,
    /// Address of the Redis-protocol server (default 127.0.0.1:6380).
    #[arg(long, value_name = "HOST:PORT")]
    pub resp: Option<String>,
    /// The RESP address cluster clients are sent to for this node (MOVED, CLUSTER SLOTS), for
    /// NAT and 0.0.0.0 binds (default: the RESP address, with the ring host when it binds
    /// every interface).
    #[arg(long, value_name = "HOST:PORT")]
    pub advertise_resp: Option<String>,
    /// Answer every RESP connection MOVED for keys whose primary is elsewhere, not only
    /// connections that sent CLUSTER or READONLY (default off: plain clients are forwarded).
    #[arg(long)]
    pub cluster_redirects: bool,
    /// Address of the HTTP status and metrics server (default 127.0.0.1:8380).
    #[arg(long, value_name = "HOST:PORT")]
    pub http: Option<String>,
    /// TOML config file (else DENDRITE_CONFIG, else none).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The cluster's CURVE secret key (Z85, from `dendrite keygen`); default none: NULL
    /// security, unencrypted. Give every node of a cluster the same key: nodes serve and call
    /// each other with it, so a process without it cannot finish a handshake.
    #[arg(long, value_name = "Z85", allow_hyphen_values = true)]
    pub curve_secret: Option<String>,
    /// A file holding the cluster's CURVE secret key (the output of `dendrite keygen` or just
    /// the Z85 secret); keeps the key off the command line. Default none; --curve-secret wins.
    #[arg(long, value_name = "FILE")]
    pub curve_secret_file: Option<PathBuf>,
    /// The public half of --curve-secret (Z85); optional, derived from the secret and checked
    /// against it when given.
    #[arg(long, value_name = "Z85", allow_hyphen_values = true)]
    pub curve_public: Option<String>,
    /// A further public key allowed to connect (Z85), besides holders of the cluster key;
    /// repeat for several. Default: only the cluster key.
    #[arg(long, value_name = "Z85", allow_hyphen_values = true)]
    pub allow: Vec<String>,
    /// Log filter, e.g. `info` or `dendrite=debug,info` (default info).
    #[arg(long, value_name = "FILTER")]
    pub log: Option<String>,
    /// Most RESP clients served at once (default 10000).
    #[arg(long)]
    pub max_clients: Option<u32>,
    /// Password RESP clients must give with AUTH before any other command (Redis's
    /// requirepass); default none: no AUTH needed. Prefer DENDRITE_REQUIREPASS or the config
    /// file, since command lines are visible to other local users.
    #[arg(long, value_name = "PASSWORD", allow_hyphen_values = true)]
    pub requirepass: Option<String>,
    /// Log line format: `human` or `json` (default human).
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Threads of the node's async runtime (default: one per core but one, at least one).
    #[arg(long)]
    pub threads: Option<u16>,
    /// How far ahead of this node's clock a write version from a peer may be, in ms, before
    /// the record is refused (default 60000).
    #[arg(long, value_name = "MS")]
    pub max_clock_skew_ms: Option<u64>,
    /// Shifts this node's clock by this many ms (positive: ahead). For fault-injection tests
    /// of skewed clocks only, hence hidden from --help (default 0).
    #[arg(long, value_name = "MS", hide = true, allow_hyphen_values = true)]
    pub clock_offset_ms: Option<i64>,
    /// Largest bulk string (key or value) a RESP client may send, in bytes (Redis's
    /// proto-max-bulk-len; default and minimum 16777216, the table's largest value).
    #[arg(long, value_name = "BYTES")]
    pub proto_max_bulk_len: Option<u64>,
    /// Directory for the durable log and snapshots (default none: in memory only). It belongs
    /// to this node's ring address and is locked while the node runs.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// When the log is flushed to disk with --data-dir: `always` (a write is acknowledged
    /// once durable on every copy it waits for), `everysec` (at most about a second lost on a
    /// power cut; default) or `no` (the OS decides), as Redis's appendfsync.
    #[arg(long, value_name = "POLICY")]
    pub fsync: Option<String>,
}

impl NodeArgs {
    /// The settings given on the command line, as the top layer.
    pub fn to_layer(&self) -> SettingsLayer {
        let list = |items: &Vec<String>| (!items.is_empty()).then(|| items.clone());
        SettingsLayer {
            listen: self.listen.clone(),
            join: list(&self.join),
            vnodes: self.vnodes.map(i64::from),
            replicas: self.replicas.map(i64::from),
            stabilize_min_ms: self
                .stabilize_min_ms
                .map(|ms| i64::try_from(ms).unwrap_or(i64::MAX)),
            stabilize_max_ms: self
                .stabilize_max_ms
                .map(|ms| i64::try_from(ms).unwrap_or(i64::MAX)),
            resp: self.resp.clone(),
            http: self.http.clone(),
            curve_secret: self.curve_secret.clone(),
            curve_secret_file: self.curve_secret_file.clone(),
            curve_public: self.curve_public.clone(),
            allow: list(&self.allow),
            log: self.log.clone(),
            max_clients: self.max_clients.map(i64::from),
            requirepass: self.requirepass.clone(),
            log_format: self.log_format.clone(),
            threads: self.threads.map(i64::from),
            max_clock_skew_ms: self
                .max_clock_skew_ms
                .map(|ms| i64::try_from(ms).unwrap_or(i64::MAX)),
            clock_offset_ms: self.clock_offset_ms,
            proto_max_bulk_len: self
                .proto_max_bulk_len
                .map(|bytes| i64::try_from(bytes).unwrap_or(i64::MAX)),
            data_dir: self.data_dir.clone(),
            fsync: self.fsync.clone(),
            advertise_resp: self.advertise_resp.clone(),
            cluster_redirects: self.cluster_redirects.then_some(true),
        }
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

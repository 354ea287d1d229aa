//! Node settings from defaults, a TOML file, `DENDRITE_*` environment
//! variables and the command line.
//!
//! Precedence, lowest to highest: built-in defaults < config file
//! (`--config` or `DENDRITE_CONFIG`) < environment < command line. Each
//! source is read into a [`SettingsLayer`] (every field optional), layers are
//! stacked with [`SettingsLayer::overlay`], and [`SettingsLayer::validate`]
//! turns the result into a [`Settings`] where every value is known good, or a
//! [`SettingsError`] naming the setting and the ways to fix it.
//!
//! Every setting is one field of [`SettingsLayer`], declared once: the field `max_clients`
//! is the TOML key `max_clients`, the flag `--max-clients` and the variable
//! `DENDRITE_MAX_CLIENTS`; lists (`join`, `allow`) repeat the flag, are TOML arrays and
//! comma-separated in the environment. Defaults are [`SettingsLayer::defaults`];
//! `dendrite node --help` lists every flag with its default. A CURVE key may also come from a
//! file (`curve_secret_file`); `clock_offset_ms` is for fault-injection tests only and hidden
//! from `--help`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use dtable::durable::FsyncPolicy;

use crate::resp::Password;

mod error;
mod layer;
pub use error::SettingsError;
pub use layer::SettingsLayer;

/// Validated settings of one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Ring address other nodes reach this node at (`host:port`).
    pub listen: String,
    /// Members to join through; empty creates a new ring.
    pub join: Vec<String>,
    /// Virtual nodes this node runs.
    pub vnodes: u16,
    /// Extra copies of every key; consistency ranges over 1..=replicas+1.
    pub replicas: u8,
    /// Shortest pause between stabilization rounds.
    pub stabilize_min: Duration,
    /// Longest pause between stabilization rounds.
    pub stabilize_max: Duration,
    /// Where the RESP (Redis protocol) server listens.
    pub resp: String,
    /// Where the HTTP status and metrics server listens.
    pub http: String,
    /// This node's CURVE key pair (the cluster key), decoded once here so a bad key is
    /// refused before anything starts; `None` runs the ring with NULL security. Its `Debug`
    /// never shows the secret.
    pub curve: Option<zmtp::KeyPair>,
    /// Public keys of peers allowed in, decoded; empty admits any CURVE peer.
    pub allow: Vec<zmtp::PublicKey>,
    /// `tracing` filter, e.g. `info` or `dendrite=debug,info`.
    pub log: String,
    /// Most RESP clients served at once.
    pub max_clients: usize,
    /// The password RESP clients must `AUTH` with; `None` admits everyone.
    pub requirepass: Option<Password>,
    /// How log lines are written.
    pub log_format: LogFormat,
    /// Threads of the async runtime that runs the node (see [`default_threads`]).
    pub threads: usize,
    /// How far ahead of this node's clock a version from a peer may be before the record is
    /// refused (`dtable::TableConfig::max_clock_skew`): bounds how far one node with a wrong
    /// clock can drag everyone's versions.
    pub max_clock_skew: Duration,
    /// Shifts this node's clock readings by this many milliseconds (positive: ahead); for
    /// fault-injection tests of skewed clocks only (`dtable::TableConfig::clock_offset_ms`).
    pub clock_offset_ms: i64,
    /// Largest bulk string (one key or value) a RESP client may send (Redis's
    /// `proto-max-bulk-len`). A larger one is answered `ERR Protocol error: invalid bulk length`
    /// and the connection closed, as Redis does, before it is buffered. At least the table's
    /// largest value ([`TABLE_MAX_VALUE_LEN`]), so every value the table stores can be sent.
    pub proto_max_bulk_len: usize,
    /// Where the durable log and snapshots are kept; `None` keeps everything in memory only
    /// (docs/design.md, "Durability").
    pub data_dir: Option<PathBuf>,
    /// When the log is flushed to disk (only used with a data directory).
    pub fsync: FsyncPolicy,
    /// The `host:port` cluster clients are sent to for this node (`MOVED`, `CLUSTER SLOTS`);
    /// `None`: the RESP address, with the ring address's host when RESP binds every interface.
    pub advertise_resp: Option<String>,
    /// Whether every RESP connection is answered `MOVED` for keys whose primary is elsewhere,
    /// not only connections that behave as cluster clients (docs/redis-compat.md).
    pub cluster_redirects: bool,
}

/// The table's largest value (`dtable::TableConfig::max_value_len`), the least
/// `proto_max_bulk_len` may be and its default: buffering more than the table can store only
/// costs memory.
pub const TABLE_MAX_VALUE_LEN: usize = 16 << 20;

/// The most `proto_max_bulk_len` may be: Redis's default, 512 MiB.
pub const MAX_PROTO_BULK_LEN: usize = 512 << 20;

/// The default number of runtime threads: one per core but one, at least one.
///
/// The core left over is for the kernel's network processing and for whatever shares the
/// machine (clients, other nodes). Measured on 2 cores with the load generator on the same
/// machine: one thread serves 13–20 % more requests per second than two, which spend their
/// time waking each other (docs/performance.md). Set `threads` when the node has the machine
/// to itself.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |cores| cores.get().saturating_sub(1))
        .max(1)
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Human,
    /// One JSON object per event, for log collectors.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = SettingsError;
    fn from_str(text: &str) -> Result<LogFormat, SettingsError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "human" | "text" => Ok(LogFormat::Human),
            "json" => Ok(LogFormat::Json),
            _ => Err(SettingsError::InvalidLogFormat {
                value: text.to_owned(),
            }),
        }
    }
}

impl SettingsLayer {
    /// Checks every value; unset fields take the defaults.
    pub fn validate(self) -> Result<Settings, SettingsError> {
        let layer = SettingsLayer::defaults().overlay(self);
        let listen = layer.listen.unwrap_or_default();
        // Port 0 is fine: the node advertises the port it actually bound.
        validate_address("listen", &listen, true)?;
        let join = layer.join.unwrap_or_default();
        for seed in &join {
            validate_address("join", seed, false)?;
        }
        let resp = layer.resp.unwrap_or_default();
        validate_address("resp", &resp, true)?;
        let advertise_resp = layer.advertise_resp;
        if let Some(address) = &advertise_resp {
            validate_address("advertise_resp", address, false)?;
        }
        let http = layer.http.unwrap_or_default();
        validate_address("http", &http, true)?;
        let vnodes = in_range("vnodes", layer.vnodes, 1, 1024)?;
        let replicas = in_range("replicas", layer.replicas, 0, 254)?;
        let min_ms = in_range("stabilize_min_ms", layer.stabilize_min_ms, 1, 3_600_000)?;
        let max_ms = in_range("stabilize_max_ms", layer.stabilize_max_ms, 1, 3_600_000)?;
        if min_ms > max_ms {
            return Err(SettingsError::StabilizeRange { min_ms, max_ms });
        }
        let max_clients = in_range("max_clients", layer.max_clients, 1, 1_000_000)?;
        // Up to a day: beyond that a bound protects nothing.
        let skew_ms = in_range("max_clock_skew_ms", layer.max_clock_skew_ms, 1, 86_400_000)?;
        let clock_offset_ms = in_range(
            "clock_offset_ms",
            Some(layer.clock_offset_ms.unwrap_or(0)),
            -86_400_000,
            86_400_000,
        )?;
        let bulk = in_range(
            "proto_max_bulk_len",
            layer.proto_max_bulk_len,
            1,
            MAX_PROTO_BULK_LEN as i64,
        )?;
        let proto_max_bulk_len = usize::try_from(bulk).unwrap_or(MAX_PROTO_BULK_LEN);
        if proto_max_bulk_len < TABLE_MAX_VALUE_LEN {
            return Err(SettingsError::BulkLenBelowValueLimit {
                value: proto_max_bulk_len,
                table_max: TABLE_MAX_VALUE_LEN,
            });
        }
        let default = i64::try_from(default_threads()).unwrap_or(1);
        let threads = in_range("threads", Some(layer.threads.unwrap_or(default)), 1, 1024)?;
        let secret = match (layer.curve_secret, layer.curve_secret_file) {
            (Some(secret), _) => Some(secret),
            (None, Some(path)) => Some(read_secret_file(&path)?),
            (None, None) => None,
        };
        let curve = match (secret, layer.curve_public) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(SettingsError::IncompleteCurveKeys {
                    missing: "curve_secret",
                })
            }
            (Some(secret), public) => {
                let secret = zmtp::SecretKey::from_z85(&secret)
                    .map_err(|error| invalid_curve_key("curve_secret", &error))?;
                let keys = zmtp::KeyPair::from_secret(secret);
                // The public key follows from the secret; one given explicitly must agree.
                if let Some(public) = public {
                    if parse_public_key("curve_public", &public)? != keys.public {
                        return Err(SettingsError::CurveKeyMismatch);
                    }
                }
                Some(keys)
            }
        };
        let allow = layer
            .allow
            .unwrap_or_default()
            .iter()
            .map(|key| parse_public_key("allow", key))
            .collect::<Result<Vec<_>, _>>()?;
        if !allow.is_empty() && curve.is_none() {
            return Err(SettingsError::AllowWithoutCurve);
        }
        let log = layer.log.unwrap_or_default();
        if let Err(error) = tracing_subscriber::EnvFilter::try_new(&log) {
            return Err(SettingsError::InvalidLogFilter {
                value: log,
                reason: error.to_string(),
            });
        }
        let log_format = layer.log_format.unwrap_or_default().parse()?;
        let fsync_text = layer.fsync.unwrap_or_default();
        let fsync = fsync_text
            .parse::<FsyncPolicy>()
            .map_err(|_| SettingsError::InvalidFsync { value: fsync_text })?;
        // An empty path means none, as an unset one.
        let data_dir = layer.data_dir.filter(|path| !path.as_os_str().is_empty());
        // An empty password means none, as in Redis's `requirepass ""`.
        let requirepass = layer
            .requirepass
            .filter(|text| !text.is_empty())
            .map(|text| Password::new(&text));
        // The ranges above make these conversions lossless.
        Ok(Settings {
            listen,
            join,
            vnodes: u16::try_from(vnodes).unwrap_or(u16::MAX),
            replicas: u8::try_from(replicas).unwrap_or(u8::MAX),
            stabilize_min: Duration::from_millis(min_ms.unsigned_abs()),
            stabilize_max: Duration::from_millis(max_ms.unsigned_abs()),
            resp,
            http,
            curve,
            allow,
            log,
            max_clients: usize::try_from(max_clients).unwrap_or(usize::MAX),
            threads: usize::try_from(threads).unwrap_or(1),
            requirepass,
            log_format,
            max_clock_skew: Duration::from_millis(skew_ms.unsigned_abs()),
            clock_offset_ms,
            proto_max_bulk_len,
            data_dir,
            fsync,
            advertise_resp,
            cluster_redirects: layer.cluster_redirects.unwrap_or(false),
        })
    }
}

impl Settings {
    /// Loads settings with the documented precedence: defaults < file <
    /// environment < `cli`. The file is `config_file` if given, otherwise
    /// `DENDRITE_CONFIG` from `env`, otherwise none.
    pub fn load(
        cli: SettingsLayer,
        config_file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, SettingsError> {
        let env: Vec<(String, String)> = env.into_iter().collect();
        let env_config = env
            .iter()
            .find(|(var, _)| var == "DENDRITE_CONFIG")
            .map(|(_, value)| PathBuf::from(value));
        let file = match config_file.map(Path::to_owned).or(env_config) {
            Some(path) => SettingsLayer::from_file(&path)?,
            None => SettingsLayer::default(),
        };
        let env = SettingsLayer::from_env(env)?;
        file.overlay(env).overlay(cli).validate()
    }

    /// The highest consistency level clients may ask for: replicas + 1.
    pub fn max_consistency(&self) -> u8 {
        self.replicas.saturating_add(1)
    }
}

/// The Z85 secret in a key file: either the whole (trimmed) file, or the value of its
/// `secret:` line, so `dendrite keygen > cluster.key` can be used as it is.
fn read_secret_file(path: &Path) -> Result<String, SettingsError> {
    let text = std::fs::read_to_string(path).map_err(|source| SettingsError::ReadKeyFile {
        path: path.to_owned(),
        source,
    })?;
    let secret = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("secret:"))
        .unwrap_or(&text);
    Ok(secret.trim().to_owned())
}

fn in_range(
    field: &'static str,
    value: Option<i64>,
    min: i64,
    max: i64,
) -> Result<i64, SettingsError> {
    let value = value.unwrap_or(min);
    if value < min || value > max {
        return Err(SettingsError::OutOfRange {
            field,
            value,
            min,
            max,
        });
    }
    Ok(value)
}

/// Checks `host:port`; `port 0` (pick any) only where `allow_any_port`.
fn validate_address(
    field: &'static str,
    value: &str,
    allow_any_port: bool,
) -> Result<(), SettingsError> {
    let invalid = |reason| SettingsError::InvalidAddress {
        field,
        value: value.to_owned(),
        reason,
    };
    let (host, port) = value
        .rsplit_once(':')
        .ok_or_else(|| invalid("missing :port"))?;
    if host.is_empty() {
        return Err(invalid("missing host"));
    }
    if host.contains(char::is_whitespace) {
        return Err(invalid("host contains whitespace"));
    }
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return Err(invalid(
            "IPv6 hosts must be written in brackets, like [::1]:7400",
        ));
    }
    let port: u16 = port
        .parse()
        .map_err(|_| invalid("port is not a number from 0 to 65535"))?;
    if port == 0 && !allow_any_port {
        return Err(invalid(
            "port 0 cannot be reached by other nodes; pick a fixed port",
        ));
    }
    Ok(())
}

/// The settings error for a CURVE key of `field` that zmtp's decoder refused.
fn invalid_curve_key(field: &'static str, error: &zmtp::Z85Error) -> SettingsError {
    SettingsError::InvalidCurveKey {
        field,
        reason: error.to_string(),
    }
}

/// Decodes the Z85 public key `text` of setting `field`.
fn parse_public_key(field: &'static str, text: &str) -> Result<zmtp::PublicKey, SettingsError> {
    zmtp::PublicKey::from_z85(text).map_err(|error| invalid_curve_key(field, &error))
}

#[cfg(test)]
mod tests;

//! [`SettingsLayer`]: every node setting declared once.
//!
//! One struct field per setting gives its TOML key (the field name, through serde), its flag
//! (`--` and the field name in kebab case, through clap's derive, whose help is the field's
//! documentation), its environment variable (`DENDRITE_` and the field name in upper case,
//! read by [`SettingsLayer::from_env`]) and its place in [`SettingsLayer::overlay`] (generated
//! by the macro below from the same list). Defaults live in [`SettingsLayer::defaults`] only;
//! `--help` states them from there.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{SettingsError, TABLE_MAX_VALUE_LEN};

/// Declares [`SettingsLayer`] from its fields, and derives from the same list what clap and
/// serde cannot: [`SettingsLayer::overlay`], the environment variables and the defaults shown
/// in `--help`.
macro_rules! settings_layer {
    (
        $(#[$meta:meta])*
        pub struct SettingsLayer {
            $(
                $(#[$field_meta:meta])*
                pub $field:ident: Option<$kind:ty>,
            )*
        }
    ) => {
        $(#[$meta])*
        pub struct SettingsLayer {
            $(
                $(#[$field_meta])*
                pub $field: Option<$kind>,
            )*
        }

        impl SettingsLayer {
            /// This layer with every field that `higher` sets replaced by its value.
            pub fn overlay(self, higher: SettingsLayer) -> SettingsLayer {
                SettingsLayer {
                    $($field: higher.$field.or(self.$field),)*
                }
            }

            /// Sets the field whose variable is `DENDRITE_{name}` from `value`; false when no
            /// setting has that name.
            fn set_from_env(
                &mut self,
                name: &str,
                var: &str,
                value: &str,
            ) -> Result<bool, SettingsError> {
                $(
                    if name == stringify!($field).to_ascii_uppercase() {
                        self.$field = Some(<$kind as EnvValue>::parse(var, value)?);
                        return Ok(true);
                    }
                )*
                Ok(false)
            }

            /// The default of the setting whose flag has clap id `id`, as `--help` shows
            /// it; `None` when it has none worth stating.
            fn default_text(id: &str) -> Option<String> {
                let defaults = SettingsLayer::defaults();
                $(
                    if id == stringify!($field) {
                        return defaults.$field.as_ref().and_then(EnvValue::help_text);
                    }
                )*
                None
            }
        }
    };
}

settings_layer! {
    /// One source of settings; every field is optional so layers can stack.
    ///
    /// Numbers are kept as `i64` so an out-of-range value from any source gets the same typed
    /// [`SettingsError::OutOfRange`]. The field documentation is the flag's `--help` text.
    #[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, clap::Args)]
    #[serde(deny_unknown_fields)]
    #[command(mut_args = help_states_default)]
    pub struct SettingsLayer {
        /// Ring address other nodes reach this node at (port 0 picks a free port and
        /// advertises it).
        #[arg(long, value_name = "HOST:PORT")]
        pub listen: Option<String>,
        /// A ring member to join through, retried with backoff for about a minute; repeat for
        /// several seeds (default none: create a new ring).
        #[arg(long, value_name = "HOST:PORT")]
        pub join: Option<Vec<String>>,
        /// Virtual nodes to run.
        #[arg(long, value_name = "N")]
        pub vnodes: Option<i64>,
        /// Extra copies of every key.
        #[arg(long, value_name = "N")]
        pub replicas: Option<i64>,
        /// Shortest pause between stabilization rounds, in ms.
        #[arg(long, value_name = "MS")]
        pub stabilize_min_ms: Option<i64>,
        /// Longest pause between stabilization rounds, in ms.
        #[arg(long, value_name = "MS")]
        pub stabilize_max_ms: Option<i64>,
        /// Address of the Redis-protocol server.
        #[arg(long, value_name = "HOST:PORT")]
        pub resp: Option<String>,
        /// The RESP address cluster clients are sent to for this node (MOVED, CLUSTER SLOTS),
        /// for NAT and 0.0.0.0 binds (default: the RESP address, with the ring host when it
        /// binds every interface).
        #[arg(long, value_name = "HOST:PORT")]
        pub advertise_resp: Option<String>,
        /// Answer every RESP connection MOVED for keys whose primary is elsewhere, not only
        /// connections that sent CLUSTER or READONLY; when off, plain clients are forwarded.
        #[arg(long, num_args = 0, default_missing_value = "true")]
        pub cluster_redirects: Option<bool>,
        /// Address of the HTTP status and metrics server.
        #[arg(long, value_name = "HOST:PORT")]
        pub http: Option<String>,
        /// The cluster's CURVE secret key (Z85, from `dendrite keygen`); default none: NULL
        /// security, unencrypted. Give every node of a cluster the same key: nodes serve and
        /// call each other with it, so a process without it cannot finish a handshake.
        #[arg(long, value_name = "Z85", allow_hyphen_values = true)]
        pub curve_secret: Option<String>,
        /// A file holding the cluster's CURVE secret key (the output of `dendrite keygen` or
        /// just the Z85 secret); keeps the key off the command line. Default none;
        /// --curve-secret wins.
        #[arg(long, value_name = "FILE")]
        pub curve_secret_file: Option<PathBuf>,
        /// The public half of --curve-secret (Z85); optional, derived from the secret and
        /// checked against it when given.
        #[arg(long, value_name = "Z85", allow_hyphen_values = true)]
        pub curve_public: Option<String>,
        /// A further public key allowed to connect (Z85), besides holders of the cluster key;
        /// repeat for several. Default: only the cluster key.
        #[arg(long, value_name = "Z85", allow_hyphen_values = true)]
        pub allow: Option<Vec<String>>,
        /// Log filter, e.g. `info` or `dendrite=debug,info`.
        #[arg(long, value_name = "FILTER")]
        pub log: Option<String>,
        /// Most RESP clients served at once.
        #[arg(long, value_name = "N")]
        pub max_clients: Option<i64>,
        /// Password RESP clients must give with AUTH before any other command (Redis's
        /// requirepass); default none: no AUTH needed. Prefer DENDRITE_REQUIREPASS or the
        /// config file, since command lines are visible to other local users.
        #[arg(long, value_name = "PASSWORD", allow_hyphen_values = true)]
        pub requirepass: Option<String>,
        /// Log line format: `human` or `json`.
        #[arg(long, value_name = "FORMAT")]
        pub log_format: Option<String>,
        /// Threads of the node's async runtime (default: one per core but one, at least one).
        #[arg(long, value_name = "N")]
        pub threads: Option<i64>,
        /// How far ahead of this node's clock a write version from a peer may be, in ms,
        /// before the record is refused.
        #[arg(long, value_name = "MS")]
        pub max_clock_skew_ms: Option<i64>,
        /// Shifts this node's clock by this many ms (positive: ahead). For fault-injection
        /// tests of skewed clocks only, hence hidden from --help.
        #[arg(long, value_name = "MS", hide = true, allow_hyphen_values = true)]
        pub clock_offset_ms: Option<i64>,
        /// Largest bulk string (key or value) a RESP client may send, in bytes (Redis's
        /// proto-max-bulk-len; the default is also the least, the table's largest value).
        #[arg(long, value_name = "BYTES")]
        pub proto_max_bulk_len: Option<i64>,
        /// Directory for the durable log and snapshots (default none: in memory only). It
        /// belongs to this node's ring address and is locked while the node runs.
        #[arg(long, value_name = "DIR")]
        pub data_dir: Option<PathBuf>,
        /// When the log is flushed to disk with --data-dir: `always` (a write is acknowledged
        /// once durable on every copy it waits for), `everysec` (at most about a second lost
        /// on a power cut) or `no` (the OS decides), as Redis's appendfsync.
        #[arg(long, value_name = "POLICY")]
        pub fsync: Option<String>,
    }
}

/// Appends the default from [`SettingsLayer::defaults`] to a flag's help, so it is written in
/// one place only.
fn help_states_default(arg: clap::Arg) -> clap::Arg {
    let Some(default) = SettingsLayer::default_text(arg.get_id().as_str()) else {
        return arg;
    };
    let with_default = |help: Option<&clap::builder::StyledStr>| {
        let help = help.map(ToString::to_string).unwrap_or_default();
        format!("{} (default {default})", help.trim_end_matches('.'))
    };
    let short = with_default(arg.get_help());
    let long = arg.get_long_help().map(|long| with_default(Some(long)));
    let arg = arg.help(short);
    match long {
        Some(long) => arg.long_help(long),
        None => arg,
    }
}

/// A setting's type as an environment variable gives it and `--help` shows its default.
trait EnvValue: Sized {
    /// The value of `var` (for errors) from its text `value`.
    fn parse(var: &str, value: &str) -> Result<Self, SettingsError>;
    /// The value as `--help` states a default; `None` for nothing worth stating.
    fn help_text(&self) -> Option<String>;
}

impl EnvValue for String {
    fn parse(_: &str, value: &str) -> Result<String, SettingsError> {
        Ok(value.to_owned())
    }
    fn help_text(&self) -> Option<String> {
        Some(self.clone())
    }
}

impl EnvValue for PathBuf {
    fn parse(_: &str, value: &str) -> Result<PathBuf, SettingsError> {
        Ok(PathBuf::from(value))
    }
    fn help_text(&self) -> Option<String> {
        Some(self.display().to_string())
    }
}

impl EnvValue for i64 {
    fn parse(var: &str, value: &str) -> Result<i64, SettingsError> {
        value
            .trim()
            .parse()
            .map_err(|_| SettingsError::EnvNotAnInteger {
                var: var.to_owned(),
                value: value.to_owned(),
            })
    }
    fn help_text(&self) -> Option<String> {
        Some(self.to_string())
    }
}

impl EnvValue for bool {
    fn parse(var: &str, value: &str) -> Result<bool, SettingsError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Ok(true),
            "false" | "no" | "0" => Ok(false),
            _ => Err(SettingsError::EnvNotABoolean {
                var: var.to_owned(),
                value: value.to_owned(),
            }),
        }
    }
    fn help_text(&self) -> Option<String> {
        Some(if *self { "on" } else { "off" }.to_owned())
    }
}

/// A comma-separated list (`DENDRITE_JOIN`, `DENDRITE_ALLOW`); blanks around items and empty
/// items are dropped.
impl EnvValue for Vec<String> {
    fn parse(_: &str, value: &str) -> Result<Vec<String>, SettingsError> {
        Ok(value
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect())
    }
    fn help_text(&self) -> Option<String> {
        (!self.is_empty()).then(|| self.join(","))
    }
}

impl SettingsLayer {
    /// The built-in defaults (the Go original's ring defaults): the one place they are
    /// written.
    pub fn defaults() -> SettingsLayer {
        SettingsLayer {
            listen: Some("127.0.0.1:7400".into()),
            vnodes: Some(3),
            replicas: Some(2),
            stabilize_min_ms: Some(1000),
            stabilize_max_ms: Some(3000),
            resp: Some("127.0.0.1:6380".into()),
            http: Some("127.0.0.1:8380".into()),
            log: Some("info".into()),
            max_clients: Some(10_000),
            log_format: Some("human".into()),
            // Unset means one per core but one (see `default_threads`), decided at validation.
            threads: None,
            max_clock_skew_ms: Some(60_000),
            clock_offset_ms: Some(0),
            proto_max_bulk_len: Some(TABLE_MAX_VALUE_LEN as i64),
            fsync: Some("everysec".into()),
            cluster_redirects: Some(false),
            // Everything else has no default: unset means none (no seeds, no CURVE, no
            // password, in memory only, ...).
            ..SettingsLayer::default()
        }
    }

    /// Reads a TOML config file whose keys are this struct's field names.
    pub fn from_file(path: &Path) -> Result<SettingsLayer, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::ReadFile {
            path: path.to_owned(),
            source,
        })?;
        SettingsLayer::from_toml(&text, path)
    }

    /// Parses TOML text; `path` is only used in error messages.
    pub fn from_toml(text: &str, path: &Path) -> Result<SettingsLayer, SettingsError> {
        toml::from_str(text).map_err(|source| SettingsError::ParseFile {
            path: path.to_owned(),
            source: Box::new(source),
        })
    }

    /// Reads `DENDRITE_*` variables from `vars` (pass `std::env::vars()`): `DENDRITE_` and a
    /// field name in upper case. Lists (`DENDRITE_JOIN`, `DENDRITE_ALLOW`) are
    /// comma-separated; unknown `DENDRITE_*` names are logged and ignored.
    pub fn from_env(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<SettingsLayer, SettingsError> {
        let mut layer = SettingsLayer::default();
        for (var, value) in vars {
            let Some(name) = var.strip_prefix("DENDRITE_") else {
                continue;
            };
            // DENDRITE_CONFIG names the file, read by `Settings::load`.
            if name != "CONFIG" && !layer.set_from_env(name, &var, &value)? {
                tracing::warn!(%var, "ignoring unknown DENDRITE_ environment variable");
            }
        }
        Ok(layer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Args as _, Command, FromArgMatches as _};

    fn flags(argv: &[&str]) -> SettingsLayer {
        let matches = SettingsLayer::augment_args(Command::new("node"))
            .try_get_matches_from(argv)
            .unwrap();
        SettingsLayer::from_arg_matches(&matches).unwrap()
    }

    /// Every flag's setting is also an environment variable (its clap id in upper case) and a
    /// TOML key (the same id), because all three come from the one field.
    #[test]
    fn each_flag_is_also_a_variable_and_a_key() {
        let command = SettingsLayer::augment_args(Command::new("node"));
        let ids: Vec<String> = command
            .get_arguments()
            .map(|arg| arg.get_id().to_string())
            .collect();
        assert!(ids.len() >= 24, "{ids:?}");
        for id in &ids {
            let var = format!("DENDRITE_{}", id.to_ascii_uppercase());
            // "1" is a valid text for every kind: string, path, integer, boolean, list.
            let layer = SettingsLayer::from_env([(var.clone(), "1".to_owned())]).unwrap();
            assert_ne!(layer, SettingsLayer::default(), "{var} is not read");
            // A TOML file may set it (an unknown key is refused whatever its value).
            let known = ["1", "true", "[]", "\"1\""].iter().any(|value| {
                SettingsLayer::from_toml(&format!("{id} = {value}"), Path::new("t.toml")).is_ok()
            });
            assert!(known, "no TOML key {id}");
        }
    }

    #[test]
    fn absent_flags_leave_the_lower_layers_alone() {
        assert_eq!(flags(&["node"]), SettingsLayer::default());
        let given = flags(&[
            "node",
            "--cluster-redirects",
            "--join",
            "a:1",
            "--join",
            "b:2",
        ]);
        assert_eq!(given.cluster_redirects, Some(true));
        assert_eq!(given.join, Some(vec!["a:1".to_owned(), "b:2".to_owned()]));
        assert_eq!(given.vnodes, None);
    }

    #[test]
    fn help_states_the_defaults_from_the_one_place() {
        let mut command = SettingsLayer::augment_args(Command::new("node"));
        let help = command.render_long_help().to_string();
        assert!(help.contains("Virtual nodes to run (default 3)"), "{help}");
        assert!(help.contains("(default 127.0.0.1:8380)"), "{help}");
        assert!(help.contains("(default off)"), "{help}");
    }
}

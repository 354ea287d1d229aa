//! [`SettingsError`]: what can be wrong with the settings, each naming what to fix.

use std::path::PathBuf;

/// Why settings could not be loaded; each message names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}; check the path given to --config or DENDRITE_CONFIG")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The config file is not valid TOML or has unknown keys or wrong types.
    #[error("config file {path} is invalid: {source}")]
    ParseFile {
        /// The file.
        path: PathBuf,
        /// What the TOML parser said (line, column, key).
        source: Box<toml::de::Error>,
    },
    /// An environment variable that should hold an integer does not.
    #[error("{var}={value:?} is not an integer; set it to a whole number or unset it")]
    EnvNotAnInteger {
        /// The variable.
        var: String,
        /// Its value.
        value: String,
    },
    /// An environment variable that should hold a yes/no does not.
    #[error("{var}={value:?} is not a boolean; set it to true or false, or unset it")]
    EnvNotABoolean {
        /// The variable.
        var: String,
        /// Its value.
        value: String,
    },
    /// A `host:port` setting is malformed.
    #[error("{field} = {value:?} is not a valid address: {reason}; set {} to host:port", sources(.field))]
    InvalidAddress {
        /// The setting.
        field: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A number outside its allowed range.
    #[error("{field} = {value} is out of range {min}..={max}; fix {}", sources(.field))]
    OutOfRange {
        /// The setting.
        field: &'static str,
        /// The value given.
        value: i64,
        /// Smallest allowed.
        min: i64,
        /// Largest allowed.
        max: i64,
    },
    /// The stabilization range is empty.
    #[error("stabilize_min_ms ({min_ms}) is above stabilize_max_ms ({max_ms}); make the minimum at most the maximum")]
    StabilizeRange {
        /// The minimum given.
        min_ms: i64,
        /// The maximum given.
        max_ms: i64,
    },
    /// A CURVE key is not 40 characters of Z85.
    #[error(
        "{field} is not a CURVE key: {reason}; use the 40-character Z85 form of a 32-byte key (`dendrite keygen` prints a pair)"
    )]
    InvalidCurveKey {
        /// The setting.
        field: &'static str,
        /// What is wrong with it: the Z85 decoder's complaint.
        reason: String,
    },
    /// A CURVE public key was given without its secret key.
    #[error("CURVE needs the secret key but {missing} is missing; set {} too, or neither for NULL security", sources(.missing))]
    IncompleteCurveKeys {
        /// The half that is missing.
        missing: &'static str,
    },
    /// The CURVE secret key file could not be read.
    #[error("cannot read the CURVE secret key file {path}: {source}; check --curve-secret-file / DENDRITE_CURVE_SECRET_FILE / `curve_secret_file`")]
    ReadKeyFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The public key given is not the one the secret key yields.
    #[error("curve_public does not belong to curve_secret; drop curve_public (it is derived from the secret) or fix it")]
    CurveKeyMismatch,
    /// An allowlist without CURVE keys would admit nobody authenticated.
    #[error("allow lists peer keys but this node has no CURVE keys; set curve_secret (or curve_secret_file), or drop allow")]
    AllowWithoutCurve,
    /// The log format is neither `human` nor `json`.
    #[error("log_format = {value:?} is not a log format; use \"human\" or \"json\" (--log-format / DENDRITE_LOG_FORMAT / `log_format` in the config file)")]
    InvalidLogFormat {
        /// The value given.
        value: String,
    },
    /// The RESP bulk limit is below the table's value limit: values the table stores could
    /// not be sent.
    #[error("proto_max_bulk_len = {value} is below the table's largest value ({table_max} bytes), so some values could not be written; set {} to at least {table_max}", sources("proto_max_bulk_len"))]
    BulkLenBelowValueLimit {
        /// The value given.
        value: usize,
        /// The table's `max_value_len`.
        table_max: usize,
    },
    /// The fsync policy is not one of the three.
    #[error(
        "fsync = {value:?} is not an fsync policy; use always, everysec or no ({})",
        sources("fsync")
    )]
    InvalidFsync {
        /// The value given.
        value: String,
    },
    /// The log filter does not parse.
    #[error("log = {value:?} is not a valid tracing filter ({reason}); try \"info\" or \"dendrite=debug,info\"")]
    InvalidLogFilter {
        /// The value given.
        value: String,
        /// What the filter parser said.
        reason: String,
    },
}

/// "--flag, DENDRITE_FLAG or `flag` in the config file" for a field.
fn sources(field: &str) -> String {
    format!(
        "--{} / DENDRITE_{} / `{}` in the config file",
        field.replace('_', "-"),
        field.to_ascii_uppercase(),
        field
    )
}

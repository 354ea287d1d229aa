//! Settings from file, environment and command line, and their errors.

// Helpers outside #[test] functions are test code too; a failed unwrap is a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use dendrite_node::cli::{Cli, CliCommand, NodeArgs};
use dendrite_node::settings::{Settings, SettingsError, SettingsLayer};

/// A config file unique to one test, removed when dropped.
struct ConfigFile(PathBuf);

impl ConfigFile {
    fn new(name: &str, text: &str) -> ConfigFile {
        let path = std::env::temp_dir().join(format!(
            "dendrite-settings-{}-{name}.toml",
            std::process::id()
        ));
        std::fs::write(&path, text).unwrap();
        ConfigFile(path)
    }
}

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn node_args(flags: &[&str]) -> NodeArgs {
    let mut argv = vec!["dendrite", "node"];
    argv.extend_from_slice(flags);
    match Cli::try_parse_from(argv).unwrap().command {
        CliCommand::Node(args) => *args,
        other => panic!("expected node, got {other:?}"),
    }
}

fn load(flags: &[&str], vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
    let args = node_args(flags);
    Settings::load(args.to_layer(), args.config.as_deref(), env(vars))
}

const SECRET: &str = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";
const PUBLIC: &str = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";

#[test]
fn precedence_is_file_then_env_then_cli() {
    let file = ConfigFile::new(
        "precedence",
        "listen = \"10.0.0.1:7400\"\nvnodes = 5\nreplicas = 1\nresp = \"0.0.0.0:7000\"\njoin = [\"a:1\"]\n",
    );
    let path = file.0.to_str().unwrap();
    let settings = load(
        &["--config", path, "--replicas", "3", "--join", "c:3"],
        &[
            ("DENDRITE_VNODES", "7"),
            ("DENDRITE_REPLICAS", "2"),
            ("DENDRITE_JOIN", "b:2, b:3"),
            ("HOME", "/x"),
        ],
    )
    .unwrap();
    assert_eq!(
        settings.listen, "10.0.0.1:7400",
        "file value, nothing above it"
    );
    assert_eq!(settings.resp, "0.0.0.0:7000");
    assert_eq!(settings.vnodes, 7, "env beats file");
    assert_eq!(settings.replicas, 3, "CLI beats env and file");
    assert_eq!(settings.join, ["c:3"], "CLI list replaces, not appends");
    assert_eq!(
        settings.http, "127.0.0.1:8380",
        "default when nobody sets it"
    );
    assert_eq!(settings.stabilize_min, Duration::from_secs(1));
    assert_eq!(settings.max_consistency(), 4);

    let without_cli = load(&["--config", path], &[("DENDRITE_JOIN", "b:2, b:3")]).unwrap();
    assert_eq!(without_cli.join, ["b:2", "b:3"], "env beats file");
    assert_eq!(without_cli.vnodes, 5);
}

#[test]
fn config_file_can_come_from_the_environment() {
    let file = ConfigFile::new(
        "from-env",
        "vnodes = 9\nstabilize_min_ms = 50\nstabilize_max_ms = 60\n",
    );
    let settings = load(&[], &[("DENDRITE_CONFIG", file.0.to_str().unwrap())]).unwrap();
    assert_eq!(settings.vnodes, 9);
    assert_eq!(settings.stabilize_max, Duration::from_millis(60));
}

#[test]
fn curve_keys_and_allowlist() {
    let settings = load(
        &[
            "--curve-secret",
            SECRET,
            "--curve-public",
            PUBLIC,
            "--allow",
            PUBLIC,
        ],
        &[],
    )
    .unwrap();
    let curve = settings.curve.as_ref().unwrap();
    assert_eq!(curve.public.to_z85(), PUBLIC);
    assert!(
        !format!("{settings:?}").contains(SECRET),
        "the secret must not be printed"
    );
    assert_eq!(settings.allow, [zmtp::PublicKey::from_z85(PUBLIC).unwrap()]);
}

#[test]
fn invalid_values_are_typed_errors() {
    let file = ConfigFile::new("typo", "vnode = 3\n");
    let error = load(&["--config", file.0.to_str().unwrap()], &[]).unwrap_err();
    assert!(
        matches!(error, SettingsError::ParseFile { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("vnode"), "{error}");

    let error = load(&["--config", "/definitely/not/here.toml"], &[]).unwrap_err();
    assert!(matches!(error, SettingsError::ReadFile { .. }), "{error:?}");

    let error = load(&[], &[("DENDRITE_VNODES", "many")]).unwrap_err();
    assert!(
        matches!(&error, SettingsError::EnvNotAnInteger { var, .. } if var == "DENDRITE_VNODES"),
        "{error:?}"
    );

    let error = load(&["--vnodes", "0"], &[]).unwrap_err();
    assert!(
        matches!(
            error,
            SettingsError::OutOfRange {
                field: "vnodes",
                value: 0,
                ..
            }
        ),
        "{error:?}"
    );

    let error = load(&[], &[("DENDRITE_REPLICAS", "300")]).unwrap_err();
    assert!(
        matches!(
            error,
            SettingsError::OutOfRange {
                field: "replicas",
                value: 300,
                ..
            }
        ),
        "{error:?}"
    );

    let error = load(
        &["--stabilize-min-ms", "500", "--stabilize-max-ms", "100"],
        &[],
    )
    .unwrap_err();
    assert!(
        matches!(
            error,
            SettingsError::StabilizeRange {
                min_ms: 500,
                max_ms: 100
            }
        ),
        "{error:?}"
    );

    let error = load(&["--listen", "nohost"], &[]).unwrap_err();
    assert!(
        matches!(
            error,
            SettingsError::InvalidAddress {
                field: "listen",
                ..
            }
        ),
        "{error:?}"
    );

    let error = load(&["--join", "a:1", "--join", "b:notaport"], &[]).unwrap_err();
    assert!(
        matches!(error, SettingsError::InvalidAddress { field: "join", .. }),
        "{error:?}"
    );

    // The public key is derived from the secret; a public key alone is not enough.
    let settings = load(&["--curve-secret", SECRET], &[]).unwrap();
    assert_eq!(settings.curve.unwrap().public.to_z85(), PUBLIC);
    let error = load(&["--curve-public", PUBLIC], &[]).unwrap_err();
    assert!(
        matches!(
            error,
            SettingsError::IncompleteCurveKeys {
                missing: "curve_secret"
            }
        ),
        "{error:?}"
    );
    let other_public = zmtp::KeyPair::generate().public.to_z85();
    let error = load(
        &["--curve-secret", SECRET, "--curve-public", &other_public],
        &[],
    )
    .unwrap_err();
    assert!(
        matches!(error, SettingsError::CurveKeyMismatch),
        "{error:?}"
    );

    let error = load(&["--curve-secret", "short", "--curve-public", PUBLIC], &[]).unwrap_err();
    assert!(
        matches!(
            error,
            SettingsError::InvalidCurveKey {
                field: "curve_secret",
                ..
            }
        ),
        "{error:?}"
    );

    let not_z85 = "~".repeat(40);
    let error = load(&["--curve-secret", SECRET, "--curve-public", &not_z85], &[]).unwrap_err();
    assert!(
        matches!(
            error,
            SettingsError::InvalidCurveKey {
                field: "curve_public",
                ..
            }
        ),
        "{error:?}"
    );

    let error = load(&["--allow", PUBLIC], &[]).unwrap_err();
    assert!(
        matches!(error, SettingsError::AllowWithoutCurve),
        "{error:?}"
    );

    let error = load(&["--log", "dendrite=loud"], &[]).unwrap_err();
    assert!(
        matches!(error, SettingsError::InvalidLogFilter { .. }),
        "{error:?}"
    );
}

#[test]
fn layers_overlay_field_by_field() {
    let low = SettingsLayer {
        vnodes: Some(4),
        log: Some("debug".into()),
        ..SettingsLayer::default()
    };
    let high = SettingsLayer {
        log: Some("warn".into()),
        ..SettingsLayer::default()
    };
    let merged = low.overlay(high);
    assert_eq!(merged.vnodes, Some(4));
    assert_eq!(merged.log.as_deref(), Some("warn"));
}

#[test]
fn curve_secret_from_a_keygen_file() {
    let file = ConfigFile::new("keyfile", &format!("public: {PUBLIC}\nsecret: {SECRET}\n"));
    let settings = load(&["--curve-secret-file", file.0.to_str().unwrap()], &[]).unwrap();
    assert_eq!(settings.curve.unwrap().public.to_z85(), PUBLIC);
    let bare = ConfigFile::new("barekey", &format!("{SECRET}\n"));
    let settings = load(
        &[],
        &[("DENDRITE_CURVE_SECRET_FILE", bare.0.to_str().unwrap())],
    )
    .unwrap();
    assert_eq!(settings.curve.unwrap().public.to_z85(), PUBLIC);
    let error = load(&["--curve-secret-file", "/nonexistent/dendrite.key"], &[]).unwrap_err();
    assert!(
        matches!(error, SettingsError::ReadKeyFile { .. }),
        "{error:?}"
    );
}

#[test]
fn keys_and_passwords_may_start_with_a_hyphen() {
    // Z85 keys use '-' in their alphabet: a key that starts with it is a value, not a flag.
    // About one key in 85 starts with '-'; the bound only keeps the loop finite.
    let keys = (0..100_000)
        .map(|_| zmtp::KeyPair::generate())
        .find(|k| k.public.to_z85().starts_with('-'))
        .expect("no key starting with '-' in 100,000 tries");
    let public = keys.public.to_z85();
    let secret = keys.secret.to_z85();
    let settings = load(
        &[
            "--curve-secret",
            &secret,
            "--curve-public",
            &public,
            "--allow",
            &public,
            "--requirepass",
            "-secret",
        ],
        &[],
    )
    .unwrap();
    assert_eq!(settings.curve.unwrap().public.to_z85(), public);
}

#[test]
fn runtime_threads_default_to_cores_but_one_and_can_be_set() {
    let defaulted = load(&[], &[]).unwrap();
    assert_eq!(
        defaulted.threads,
        dendrite_node::settings::default_threads()
    );
    assert!(defaulted.threads >= 1);
    assert_eq!(load(&[], &[("DENDRITE_THREADS", "3")]).unwrap().threads, 3);
    assert_eq!(
        load(&["--threads", "2"], &[("DENDRITE_THREADS", "3")])
            .unwrap()
            .threads,
        2
    );
    let error = load(&["--threads", "0"], &[]).unwrap_err();
    assert!(
        matches!(
            error,
            SettingsError::OutOfRange {
                field: "threads",
                value: 0,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("--threads"), "{error}");
}

#[test]
fn max_clock_skew_comes_from_every_layer_in_order() {
    assert_eq!(
        load(&[], &[]).unwrap().max_clock_skew,
        Duration::from_secs(60)
    );
    let file = ConfigFile::new("skew", "max_clock_skew_ms = 1000\n");
    let path = file.0.to_str().unwrap();
    assert_eq!(
        load(&["--config", path], &[]).unwrap().max_clock_skew,
        Duration::from_secs(1)
    );
    let env_wins = [("DENDRITE_MAX_CLOCK_SKEW_MS", "2000")];
    assert_eq!(
        load(&["--config", path], &env_wins).unwrap().max_clock_skew,
        Duration::from_secs(2)
    );
    assert_eq!(
        load(
            &["--config", path, "--max-clock-skew-ms", "3000"],
            &env_wins
        )
        .unwrap()
        .max_clock_skew,
        Duration::from_secs(3)
    );
    let error = load(&["--max-clock-skew-ms", "0"], &[]).unwrap_err();
    assert!(
        matches!(
            error,
            SettingsError::OutOfRange {
                field: "max_clock_skew_ms",
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("--max-clock-skew-ms"), "{error}");
    assert!(matches!(
        load(&[], &[("DENDRITE_MAX_CLOCK_SKEW_MS", "soon")]),
        Err(SettingsError::EnvNotAnInteger { .. })
    ));
}

#[test]
fn proto_max_bulk_len_defaults_to_the_table_value_limit_and_never_goes_below() {
    let table_max = dtable::TableConfig::default().max_value_len;
    assert_eq!(load(&[], &[]).unwrap().proto_max_bulk_len, table_max);
    let bigger = (table_max * 2).to_string();
    assert_eq!(
        load(&["--proto-max-bulk-len", &bigger], &[])
            .unwrap()
            .proto_max_bulk_len,
        table_max * 2
    );
    let file = ConfigFile::new("bulk", &format!("proto_max_bulk_len = {bigger}\n"));
    assert_eq!(
        load(&["--config", file.0.to_str().unwrap()], &[])
            .unwrap()
            .proto_max_bulk_len,
        table_max * 2
    );
    let error = load(&[], &[("DENDRITE_PROTO_MAX_BULK_LEN", "1024")]).unwrap_err();
    assert!(
        matches!(
            error,
            SettingsError::BulkLenBelowValueLimit { value: 1024, .. }
        ),
        "{error}"
    );
    assert!(
        error.to_string().contains("--proto-max-bulk-len"),
        "{error}"
    );
    assert!(
        error.to_string().contains(&table_max.to_string()),
        "{error}"
    );
    let too_big = (1u64 << 40).to_string();
    assert!(matches!(
        load(&["--proto-max-bulk-len", &too_big], &[]),
        Err(SettingsError::OutOfRange {
            field: "proto_max_bulk_len",
            ..
        })
    ));
}

#[test]
fn data_dir_and_fsync_come_from_every_layer_in_order() {
    let defaults = load(&[], &[]).unwrap();
    assert_eq!(defaults.data_dir, None, "in memory unless asked");
    assert_eq!(defaults.fsync, dtable::durable::FsyncPolicy::EverySec);
    let file = ConfigFile::new("durable", "data_dir = \"/from/file\"\nfsync = \"no\"\n");
    let path = file.0.to_str().unwrap();
    let from_file = load(&["--config", path], &[]).unwrap();
    assert_eq!(from_file.data_dir, Some(PathBuf::from("/from/file")));
    assert_eq!(from_file.fsync, dtable::durable::FsyncPolicy::No);
    let env_wins = [
        ("DENDRITE_DATA_DIR", "/from/env"),
        ("DENDRITE_FSYNC", "always"),
    ];
    let from_env = load(&["--config", path], &env_wins).unwrap();
    assert_eq!(from_env.data_dir, Some(PathBuf::from("/from/env")));
    assert_eq!(from_env.fsync, dtable::durable::FsyncPolicy::Always);
    let flags = [
        "--config",
        path,
        "--data-dir",
        "/from/flag",
        "--fsync",
        "everysec",
    ];
    let from_flags = load(&flags, &env_wins).unwrap();
    assert_eq!(from_flags.data_dir, Some(PathBuf::from("/from/flag")));
    assert_eq!(from_flags.fsync, dtable::durable::FsyncPolicy::EverySec);
    let error = load(&["--fsync", "sometimes"], &[]).unwrap_err();
    assert!(
        matches!(error, SettingsError::InvalidFsync { .. }),
        "{error}"
    );
    let message = error.to_string();
    assert!(message.contains("always, everysec or no"), "{message}");
    assert!(message.contains("--fsync"), "{message}");
}

#[test]
fn clock_offset_is_zero_unless_set_and_may_be_negative() {
    assert_eq!(load(&[], &[]).unwrap().clock_offset_ms, 0);
    let env = [("DENDRITE_CLOCK_OFFSET_MS", "1500")];
    assert_eq!(load(&[], &env).unwrap().clock_offset_ms, 1500);
    assert_eq!(
        load(&["--clock-offset-ms", "-2500"], &env)
            .unwrap()
            .clock_offset_ms,
        -2500
    );
    let error = load(&["--clock-offset-ms", "90000000"], &[]).unwrap_err();
    assert!(
        matches!(
            error,
            SettingsError::OutOfRange {
                field: "clock_offset_ms",
                ..
            }
        ),
        "{error}"
    );
}

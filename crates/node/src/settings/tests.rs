//! Tests of the settings layers, their precedence and validation.

use super::*;

#[test]
fn defaults_validate() {
    let settings = SettingsLayer::default().validate().unwrap();
    assert_eq!(settings.vnodes, 3);
    assert_eq!(settings.replicas, 2);
    assert_eq!(settings.max_consistency(), 3);
    assert_eq!(settings.stabilize_min, Duration::from_secs(1));
    assert!(settings.curve.is_none());
    assert_eq!(settings.max_clock_skew, Duration::from_secs(60));
    assert_eq!(settings.proto_max_bulk_len, TABLE_MAX_VALUE_LEN);
}

#[test]
fn the_node_limits_agree_with_the_table_defaults() {
    let table = dtable::TableConfig::default();
    assert_eq!(TABLE_MAX_VALUE_LEN, table.max_value_len);
    assert!(TABLE_MAX_VALUE_LEN >= table.max_key_len);
    let settings = SettingsLayer::default().validate().unwrap();
    assert_eq!(settings.max_clock_skew, table.max_clock_skew);
}

#[test]
fn addresses_are_checked() {
    assert!(validate_address("listen", "example.org:7400", false).is_ok());
    assert!(validate_address("listen", "[::1]:7400", false).is_ok());
    assert!(validate_address("resp", "127.0.0.1:0", true).is_ok());
    for bad in [
        "7400",
        ":7400",
        "host:port",
        "host:70000",
        "::1:7400",
        "127.0.0.1:0",
    ] {
        assert!(
            matches!(
                validate_address("listen", bad, false),
                Err(SettingsError::InvalidAddress {
                    field: "listen",
                    ..
                })
            ),
            "{bad} accepted"
        );
    }
}

#[test]
fn error_messages_say_where_to_fix() {
    let layer = SettingsLayer {
        vnodes: Some(0),
        ..SettingsLayer::default()
    };
    let error = layer.validate().unwrap_err();
    assert_eq!(
        error.to_string(),
        "vnodes = 0 is out of range 1..=1024; fix --vnodes / DENDRITE_VNODES / `vnodes` in the config file"
    );
}

#[test]
fn cluster_settings_come_from_the_environment_and_are_checked() {
    let env = |pairs: &[(&str, &str)]| {
        SettingsLayer::from_env(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    };
    let layer = env(&[
        ("DENDRITE_CLUSTER_REDIRECTS", "yes"),
        ("DENDRITE_ADVERTISE_RESP", "10.0.0.1:6380"),
    ])
    .unwrap();
    let settings = SettingsLayer::defaults().overlay(layer).validate().unwrap();
    assert!(settings.cluster_redirects);
    assert_eq!(settings.advertise_resp.as_deref(), Some("10.0.0.1:6380"));
    assert!(
        !SettingsLayer::default()
            .validate()
            .unwrap()
            .cluster_redirects
    );
    assert!(matches!(
        env(&[("DENDRITE_CLUSTER_REDIRECTS", "maybe")]),
        Err(SettingsError::EnvNotABoolean { .. })
    ));
    let bad = SettingsLayer {
        advertise_resp: Some("10.0.0.1:0".into()),
        ..SettingsLayer::default()
    };
    assert!(matches!(
        bad.validate(),
        Err(SettingsError::InvalidAddress {
            field: "advertise_resp",
            ..
        })
    ));
}

//! The `dendrite` executable itself: starts, serves, and rejects bad settings.

// Helpers outside #[test] functions are test code too; a failed unwrap is a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::Stdio;
use std::time::Duration;

use dendrite_node::http::client::http_get;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(20);

fn dendrite() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dendrite"));
    command.env_remove("DENDRITE_CONFIG").kill_on_drop(true);
    command
}

#[tokio::test]
async fn node_serves_resp_and_http_then_status_prints_json() {
    let mut child = dendrite()
        .args([
            "node",
            "--listen",
            "127.0.0.1:0",
            "--resp",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--log",
            "warn",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let banner = timeout(WAIT, lines.next_line())
        .await
        .expect("no banner")
        .unwrap()
        .unwrap();
    // "dendrite node: RESP on 127.0.0.1:P, HTTP on 127.0.0.1:Q"
    let resp = banner
        .split("RESP on ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_owned();
    let http = banner
        .split("HTTP on ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .trim()
        .to_owned();

    let client = redis::Client::open(format!("redis://{resp}/")).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let pong: String = redis::cmd("PING").query_async(&mut con).await.unwrap();
    assert_eq!(pong, "PONG");
    assert_eq!(http_get(&http, "/healthz", WAIT).await.unwrap().status, 200);

    let status = timeout(
        WAIT,
        dendrite()
            .args(["status", "--json", "--http", &http])
            .output(),
    )
    .await
    .expect("status hung")
    .unwrap();
    assert!(status.status.success());
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["max_consistency"], 3);

    let table = timeout(WAIT, dendrite().args(["status", &http]).output())
        .await
        .expect("status hung")
        .unwrap();
    assert!(table.status.success());
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.starts_with("Node 127.0.0.1:"), "{table}");
    assert!(table.contains("3 vnodes"), "{table}");
    assert_eq!(
        table.lines().filter(|l| l.starts_with("U")).count(),
        3,
        "{table}"
    );

    child.start_kill().unwrap();
    timeout(WAIT, child.wait())
        .await
        .expect("node did not exit")
        .unwrap();
}

#[tokio::test]
async fn invalid_settings_exit_with_a_message() {
    let output = timeout(WAIT, dendrite().args(["node", "--vnodes", "0"]).output())
        .await
        .expect("hung")
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("vnodes = 0 is out of range"), "{stderr}");
}

#[tokio::test]
async fn a_demo_too_large_for_its_ports_exits_with_a_message() {
    // 101 nodes: node 100's RESP port would be node 0's HTTP port.
    let output = timeout(WAIT, dendrite().args(["demo", "--nodes", "101"]).output())
        .await
        .expect("hung")
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--nodes must be 1 to 100"), "{stderr}");
}

#[tokio::test]
async fn keygen_prints_a_matching_z85_pair() {
    let output = timeout(WAIT, dendrite().arg("keygen").output())
        .await
        .expect("keygen hung")
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} line in {text:?}"))
            .trim()
            .to_owned()
    };
    let public = field("public:");
    let secret = field("secret:");
    assert_eq!(public.len(), 40);
    let derived = zmtp::SecretKey::from_z85(&secret).unwrap().public_key();
    assert_eq!(derived.to_z85(), public);
}

#[tokio::test]
async fn json_log_format_writes_one_json_object_per_line() {
    let mut child = dendrite()
        .args([
            "node",
            "--listen",
            "127.0.0.1:0",
            "--resp",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--log",
            "info",
            "--log-format",
            "json",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let line = timeout(WAIT, lines.next_line())
        .await
        .expect("no log line")
        .unwrap()
        .unwrap();
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert!(event["level"].is_string(), "{line}");
    assert!(event["fields"].is_object(), "{line}");
    child.start_kill().unwrap();
    timeout(WAIT, child.wait())
        .await
        .expect("node did not exit")
        .unwrap();
}

#[tokio::test]
async fn help_states_defaults() {
    let output = timeout(WAIT, dendrite().args(["node", "--help"]).output())
        .await
        .expect("help hung")
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for flag in [
        "--listen",
        "--join",
        "--vnodes",
        "--replicas",
        "--resp",
        "--http",
        "--requirepass",
        "--log-format",
        "--curve-secret",
    ] {
        let line = help
            .lines()
            .skip_while(|line| !line.trim_start().starts_with(flag))
            .take(4)
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            line.contains("default"),
            "{flag} has no default in --help: {line}"
        );
    }
}

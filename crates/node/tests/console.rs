//! The console's endpoints over plain HTTP against real `dendrite node` processes: the ring and
//! hosts it shows, a node turning down when killed, the key inspector finding every copy
//! (markup and non-UTF-8 keys given back losslessly), and the password rule. The same console in
//! a real browser: `console_browser.rs` (feature `browser-tests`).

// Helpers outside #[test] functions are test code too; a failed unwrap is a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::console::{
    all_up, cluster_with_script_key, get_json, host_state, wait_cluster_view, SCRIPT_KEY,
};
use common::{connect, set_consistency, start_cluster, start_node, wait_settled};
use dendrite_node::http::client::{http_get, http_get_authorized};

/// Vnodes per node (the default).
const VNODES: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_the_ring_its_hosts_and_every_copy_of_a_key() {
    let mut nodes = cluster_with_script_key().await;
    let viewer = nodes[0].http.clone();

    // The page and its assets come from the binary, with a policy allowing only its own script.
    let page = http_get(&viewer, "/", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(page.status, 200);
    assert!(page.headers.contains("text/html"), "{}", page.headers);
    assert!(
        page.headers
            .contains("Content-Security-Policy: default-src 'none'; script-src 'self'"),
        "{}",
        page.headers
    );
    for asset in ["/console/console.js", "/console/console.css"] {
        let response = http_get(&viewer, asset, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(response.status, 200, "{asset}");
        assert!(!response.body.is_empty(), "{asset}");
    }
    let script = http_get(&viewer, "/console/console.js", Duration::from_secs(5))
        .await
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&script.body).contains("innerHTML"),
        "the page must never insert HTML"
    );

    // Every host up with its own figures, every vnode on the map with its replicas.
    let view = wait_cluster_view(&viewer, "3 hosts up with their figures", |v| {
        all_up(v, &nodes, VNODES)
    })
    .await;
    for vnode in view["vnodes"].as_array().unwrap() {
        assert_eq!(vnode["replicas"].as_array().unwrap().len(), 2, "{vnode}");
        assert_ne!(vnode["replicas"][0], vnode["host"], "{vnode}");
    }
    let share = ring_share(&view);
    assert!((share - 1.0).abs() < 1e-6, "{share}");
    let held: u64 = view["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["figures"]["keys"].as_u64().unwrap())
        .sum();
    assert_eq!(held, 3, "one key, three copies: {view}");

    // The inspector finds the key's three copies, one version, and gives the key back as sent.
    let path = format!(
        "/console/key.json?key={}",
        percent_encode(SCRIPT_KEY.as_bytes())
    );
    let key = get_json(&nodes[1].http, &path, None).await.unwrap();
    assert_eq!(key["text"], SCRIPT_KEY);
    assert_eq!(key["hex"], hex::encode(SCRIPT_KEY));
    let copies = key["copies"].as_array().unwrap();
    assert_eq!(copies.len(), 3, "{key}");
    assert!(every_copy(&key, "holds"), "{key}");
    assert!(
        copies.iter().all(|c| c["version"] == copies[0]["version"]),
        "{key}"
    );
    let mut hosts: Vec<&str> = copies.iter().map(|c| c["host"].as_str().unwrap()).collect();
    hosts.sort_unstable();
    hosts.dedup();
    assert_eq!(hosts.len(), 3, "{key}");
    assert_eq!(copies[0]["role"], "primary");

    // A key that is not UTF-8, named in hex; an absent key; bad requests.
    let mut con = connect(&nodes[0].resp).await;
    set_consistency(&mut con, 1, 3).await;
    let () = redis::cmd("SET")
        .arg(&b"\xff\x00bin"[..])
        .arg("v")
        .query_async(&mut con)
        .await
        .unwrap();
    let binary = get_json(&viewer, "/console/key.json?hex=ff0062696e", None)
        .await
        .unwrap();
    assert_eq!(binary["hex"], "ff0062696e");
    assert_eq!(binary["text"], "\u{fffd}\u{0}bin");
    assert!(every_copy(&binary, "holds"), "{binary}");
    let absent = get_json(&viewer, "/console/key.json?key=never-written", None)
        .await
        .unwrap();
    assert!(every_copy(&absent, "absent"), "{absent}");
    // Percent-encoded bytes that are not UTF-8 name the same key as its hex.
    let encoded = get_json(&viewer, "/console/key.json?key=%FF%00bin", None)
        .await
        .unwrap();
    assert_eq!(encoded["hex"], "ff0062696e");
    for bad in [
        "/console/key.json",
        "/console/key.json?key=",
        "/console/key.json?hex=xyz",
        "/console/key.json?key=a&hex=61",
    ] {
        let response = http_get(&viewer, bad, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(response.status, 400, "{bad}");
        let error: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert!(error["error"].is_string(), "{bad}: {error}");
    }
    // The inspector reads only: no key appeared (each node's own figures, not the cached view).
    let mut keys_after = 0;
    for node in &nodes {
        let figures = get_json(&node.http, "/console/node.json", None)
            .await
            .unwrap();
        keys_after += figures["keys"].as_u64().unwrap();
    }
    assert_eq!(keys_after, 6, "two keys, three copies each");

    // A killed node turns down on every other node's console; the survivors show `joining` while
    // a vnode whose predecessor was on the victim has not found the next one, then `up` again.
    let victim = nodes[2].ring.clone();
    let survivor = nodes[1].ring.clone();
    nodes[2].kill().await.unwrap();
    let view = wait_cluster_view(&viewer, "the killed node shown down, the rest up", |v| {
        host_state(v, &victim) == Some("down") && host_state(v, &survivor) == Some("up")
    })
    .await;
    let down = view["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host"] == victim.as_str())
        .unwrap();
    assert!(down["reason"].is_string(), "{down}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_requirepass_the_console_asks_for_the_password() {
    let password = ["--requirepass", "open sesame"];
    let first = start_node("127.0.0.1:0", &[], &password).await;
    let second = start_node("127.0.0.1:0", &[&first.ring], &password).await;
    wait_settled(&[&first, &second], 1).await;
    let good = "Basic b3BlcmF0b3I6b3BlbiBzZXNhbWU="; // operator:open sesame
    let bad = "Basic b3BlcmF0b3I6Y2xvc2Vk"; // operator:closed
    for path in [
        "/",
        "/console/console.js",
        "/console/cluster.json",
        "/console/node.json",
        "/console/key.json?key=a",
    ] {
        let refused = http_get(&first.http, path, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(refused.status, 401, "{path}");
        assert!(
            refused
                .headers
                .contains("Www-Authenticate: Basic realm=\"dendrite console\""),
            "{path}: {}",
            refused.headers
        );
        let wrong = http_get_authorized(&first.http, path, Duration::from_secs(5), Some(bad))
            .await
            .unwrap();
        assert_eq!(wrong.status, 401, "{path}");
        let allowed = http_get_authorized(&first.http, path, Duration::from_secs(5), Some(good))
            .await
            .unwrap();
        assert_eq!(allowed.status, 200, "{path}");
    }
    // Health, status and metrics carry no keys and stay open for probes and scrapers.
    for path in ["/healthz", "/status", "/metrics"] {
        let open = http_get(&first.http, path, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(open.status, 200, "{path}");
    }
    // The node presents the password to its peer's console: the peer's figures come through.
    let deadline = tokio::time::Instant::now() + common::WAIT;
    loop {
        let view = get_json(&first.http, "/console/cluster.json", Some(good))
            .await
            .unwrap();
        let peer = view["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["host"] == second.ring.as_str())
            .cloned();
        if peer
            .as_ref()
            .is_some_and(|p| p["state"] == "up" && p["figures"].is_object())
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the peer's figures never came: {view}"
        );
        tokio::time::sleep(common::POLL).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_node_owns_the_whole_ring() {
    let nodes = start_cluster(1, &[]).await;
    let view = wait_cluster_view(&nodes[0].http, "the lone node up", |v| {
        all_up(v, &nodes, VNODES)
    })
    .await;
    let share = ring_share(&view);
    assert!((share - 1.0).abs() < 1e-6, "{view}");
    let figures = get_json(&nodes[0].http, "/console/node.json", None)
        .await
        .unwrap();
    assert_eq!(figures["host"], nodes[0].ring.as_str());
    assert_eq!(figures["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(figures["vnodes"].as_array().unwrap().len(), VNODES);
}

/// The share of the ring the view's vnodes own together (1 when the arcs tile the circle).
fn ring_share(view: &serde_json::Value) -> f64 {
    view["vnodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["ownership"].as_f64())
        .sum()
}

/// Does every copy in the inspector's answer `key` have `state`?
fn every_copy(key: &serde_json::Value, state: &str) -> bool {
    key["copies"]
        .as_array()
        .is_some_and(|copies| copies.iter().all(|c| c["state"] == state))
}

/// Percent-encodes every byte that is not unreserved (RFC 3986), as a browser's
/// `encodeURIComponent` does.
fn percent_encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (*b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

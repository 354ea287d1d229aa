//! The console in a real browser: headless Chromium driven over WebDriver (chromedriver)
//! against three real `dendrite node` processes. The ring map shows the three hosts and every
//! vnode; the key inspector finds a key's three copies; a key holding markup renders as text;
//! a killed node turns down on the page. A screenshot is kept as an artifact
//! (`target/console-screenshot.png`, path printed).
//!
//! Needs Chromium and chromedriver (Debian: `apt-get install -y chromium chromium-driver`), so
//! it only builds with the `browser-tests` feature: `.ci/run` installs them and runs
//! `cargo test -p dendrite-node --features browser-tests --test console_browser`.

// Helpers outside #[test] functions are test code too; a failed unwrap is a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::console::{all_up, cluster_with_script_key, wait_cluster_view, SCRIPT_KEY};
use common::webdriver::Browser;
use serde_json::json;

/// Vnodes per node (the default).
const VNODES: usize = 3;
/// Longest wait for the page to show something.
const PAGE_WAIT: Duration = Duration::from_secs(30);
/// How soon a killed node must be shown down: a refused connection shows at the next poll
/// (1 s), a silent host after the peer timeout (0.8 s) or once the ring drops it (its failure
/// detection, a few stabilization rounds: well under this).
const DOWN_WITHIN: Duration = Duration::from_secs(10);

/// Where the screenshots go: the target directory, beside `tmp/`.
fn artifact(name: &str) -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().map_or(tmp.clone(), PathBuf::from).join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_a_real_browser() {
    let mut nodes = cluster_with_script_key().await;
    let viewer = nodes[0].http.clone();
    wait_cluster_view(&viewer, "3 hosts up", |v| all_up(v, &nodes, VNODES)).await;
    let browser = Browser::start().await;
    browser.goto(&format!("http://{viewer}/")).await;

    // The ring map: every vnode of the three hosts, each host up in the nodes table.
    let hosts: Vec<String> = nodes.iter().map(|n| n.ring.clone()).collect();
    let ring_shown = format!(
        "const marks = [...document.querySelectorAll('#ring circle.vnode')];
         const hosts = new Set(marks.map(m => m.getAttribute('data-host')));
         const up = document.querySelectorAll('#hosts tr[data-state=\"up\"]').length;
         return marks.length === {} && hosts.size === 3 && up === 3
             && {hosts:?}.every(h => hosts.has(h));",
        3 * VNODES,
        hosts = hosts
    );
    browser
        .wait_until(
            "the ring map with 3 hosts and every vnode",
            &ring_shown,
            PAGE_WAIT,
        )
        .await;
    let arcs = browser
        .run(
            "return document.querySelectorAll('#ring path.arc').length;",
            json!([]),
        )
        .await;
    assert_eq!(arcs, json!(3 * VNODES), "one arc per vnode");

    // Clicking a vnode shows its details and highlights its replicas' copies of the range.
    let mark = browser.find("#ring circle.vnode").await;
    browser.click(&mark).await;
    browser
        .wait_until(
            "the vnode's details and its 2 replica arcs",
            "return document.getElementById('vnode-detail').textContent.includes('replicas')
                 && document.querySelectorAll('#ring path.replica-arc').length === 2;",
            PAGE_WAIT,
        )
        .await;

    // The key inspector: the key is typed as a user would; its three copies are found and the
    // markup in it is shown as text (no element created, no script run).
    let input = browser.find("#key-input").await;
    browser.type_into(&input, SCRIPT_KEY).await;
    let submit = browser.find("#key-form button").await;
    browser.click(&submit).await;
    browser
        .wait_until(
            "three copies holding the key",
            "return document.querySelectorAll('#key-copies tr.copy[data-state=\"holds\"]').length === 3;",
            PAGE_WAIT,
        )
        .await;
    let shown = browser
        .run(
            "return {
                 text: document.getElementById('key-text').textContent,
                 title: document.title,
                 injected: document.querySelectorAll('#key-result b, #key-result script').length,
                 hosts: new Set([...document.querySelectorAll('#key-copies tr.copy')].map(r => r.getAttribute('data-host'))).size,
             };",
            json!([]),
        )
        .await;
    assert_eq!(shown["text"], SCRIPT_KEY, "{shown}");
    assert_eq!(shown["title"], "Dendrite ring console", "{shown}");
    assert_eq!(shown["injected"], 0, "{shown}");
    assert_eq!(shown["hosts"], 3, "{shown}");

    let screenshot = artifact("console-screenshot.png");
    std::fs::write(&screenshot, browser.screenshot().await).unwrap();
    println!("console screenshot: {}", screenshot.display());

    // A killed node turns down on the page.
    let victim = nodes[2].ring.clone();
    nodes[2].kill().await.unwrap();
    let killed = Instant::now();
    let down = format!(
        "const row = document.querySelector('#hosts tr[data-host=\"{victim}\"]');
         const marks = [...document.querySelectorAll('#ring circle.vnode[data-host=\"{victim}\"]')];
         return row !== null && row.getAttribute('data-state') === 'down'
             && marks.every(m => m.getAttribute('data-state') === 'down');"
    );
    browser
        .wait_until("the killed node shown down", &down, DOWN_WITHIN)
        .await;
    println!("killed node shown down after {:?}", killed.elapsed());
    let after = artifact("console-screenshot-down.png");
    std::fs::write(&after, browser.screenshot().await).unwrap();
    println!("console screenshot after the kill: {}", after.display());
    browser.quit().await;
}

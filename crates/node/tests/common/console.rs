//! What the console tests share (`console.rs` over plain HTTP, `console_browser.rs` in a real
//! browser): a 3-node cluster, its views from `/console/*.json`, and waiting on them.

use std::time::Duration;

use dendrite_node::http::client::http_get_authorized;
use serde_json::Value;
use tokio::time::{sleep, Instant};

use super::{connect, set_consistency, start_cluster, wait_settled, Node, POLL, WAIT};

/// A key whose text is markup: the console must show it as text.
pub const SCRIPT_KEY: &str = "<script>document.title='pwned'</script><b>bold?</b>";

/// `GET path` from `addr` as JSON, with `authorization` when given; `None` on any failure.
pub async fn get_json(addr: &str, path: &str, authorization: Option<&str>) -> Option<Value> {
    let response = http_get_authorized(addr, path, Duration::from_secs(5), authorization)
        .await
        .ok()?;
    (response.status == 200)
        .then(|| serde_json::from_slice(&response.body).ok())
        .flatten()
}

/// Three nodes, settled with 2 replicas, with [`SCRIPT_KEY`] written at consistency 3.
pub async fn cluster_with_script_key() -> Vec<Node> {
    let nodes = start_cluster(3, &["--replicas", "2"]).await;
    wait_settled(&nodes.iter().collect::<Vec<_>>(), 2).await;
    let mut con = connect(&nodes[0].resp).await;
    set_consistency(&mut con, 1, 3).await;
    let () = redis::cmd("SET")
        .arg(SCRIPT_KEY)
        .arg("v")
        .query_async(&mut con)
        .await
        .unwrap();
    nodes
}

/// Polls `/console/cluster.json` on `addr` until `ready` holds for it; panics after [`WAIT`].
pub async fn wait_cluster_view(
    addr: &str,
    what: &str,
    mut ready: impl FnMut(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(view) = get_json(addr, "/console/cluster.json", None).await {
            if ready(&view) {
                return view;
            }
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        sleep(POLL).await;
    }
}

/// The state the view gives `host`.
pub fn host_state<'a>(view: &'a Value, host: &str) -> Option<&'a str> {
    view["hosts"]
        .as_array()?
        .iter()
        .find(|h| h["host"] == host)?["state"]
        .as_str()
}

/// Are all of `nodes` up in the view, each with its figures, and every vnode listed?
pub fn all_up(view: &Value, nodes: &[Node], vnodes_each: usize) -> bool {
    let hosts = view["hosts"].as_array().map_or(0, Vec::len);
    let vnodes = view["vnodes"].as_array().map_or(0, Vec::len);
    hosts == nodes.len()
        && vnodes == nodes.len() * vnodes_each
        && nodes.iter().all(|n| {
            host_state(view, &n.ring) == Some("up")
                && view["hosts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|h| h["host"] == n.ring.as_str() && h["figures"].is_object())
        })
}

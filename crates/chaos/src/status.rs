//! A node's `/status` over plain HTTP/1.1, and what the harness reads from it: whether the
//! ring has settled, which hosts a node sees, the under-replication gauge.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::process::Node;

/// Longest wait for one `/status` answer.
const STATUS_WAIT: Duration = Duration::from_secs(5);

/// The node's `/status` JSON, or `None` when it does not answer with JSON in time.
pub async fn status(node: &Node) -> Option<Value> {
    timeout(STATUS_WAIT, get_json(&node.http, "/status"))
        .await
        .ok()
        .flatten()
}

async fn get_json(address: &str, path: &str) -> Option<Value> {
    let mut stream = TcpStream::connect(address).await.ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.ok()?;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&response[..split]).ok()?;
    if !head.starts_with("HTTP/1.1 200") {
        return None;
    }
    serde_json::from_slice(&response[split + 4..]).ok()
}

/// Whether the nodes' vnodes tile the whole ring (ownership sums to 1) and each vnode has
/// `replicas` replica hosts: then every key has its primary and its copies placed.
pub async fn ring_settled(nodes: &[&Node], replicas: usize) -> bool {
    let mut owned = 0.0;
    for node in nodes {
        let Some(status) = status(node).await else {
            return false;
        };
        for vnode in status["vnodes"].as_array().into_iter().flatten() {
            let Some(share) = vnode["ownership"].as_f64() else {
                return false;
            };
            owned += share;
            if vnode["replicas"].as_array().map_or(0, Vec::len) < replicas {
                return false;
            }
        }
    }
    (owned - 1.0).abs() < 1e-9
}

/// The ring hosts `node` lists in its `/status`, or `None` when it does not answer.
pub async fn ring_hosts(node: &Node) -> Option<Vec<String>> {
    let status = status(node).await?;
    let mut hosts: Vec<String> = status["ring"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|row| row["host"].as_str().map(str::to_owned))
        .collect();
    hosts.sort();
    hosts.dedup();
    Some(hosts)
}

/// The under-replication gauge (`underreplicated_ranges`), or `None` when it cannot be read.
pub async fn underreplicated(node: &Node) -> Option<u64> {
    status(node).await?.get("underreplicated_ranges")?.as_u64()
}

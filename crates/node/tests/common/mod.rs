//! What the tests that run real `dendrite node` processes share (`cluster.rs`, `failover.rs`):
//! starting nodes on loopback with ephemeral ports, waiting for the ring to settle, and RESP
//! connections. The processes themselves (banner, SIGKILL) and `/status` are
//! `dendrite_chaos::process` and `dendrite_chaos::status`, shared with the chaos harness.
//!
//! Every wait polls with a deadline; nothing sleeps to synchronise.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]
// Helpers outside #[test] functions are test code too; a failed unwrap is a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

pub mod console;
pub mod redis_py;
#[cfg(feature = "browser-tests")]
pub mod webdriver;

use std::path::Path;
use std::time::Duration;

// Re-exported for the test binaries that use them (each uses part of this module).
#[allow(unused_imports)]
pub use dendrite_chaos::process::{Addresses, Node};
#[allow(unused_imports)]
pub use dendrite_chaos::status::{ring_settled, status};
use redis::aio::MultiplexedConnection;
use tokio::process::Command;
use tokio::time::{sleep, timeout, Instant};

/// Longest wait for any one thing (a banner, a settled ring, a reply).
pub const WAIT: Duration = Duration::from_secs(30);
/// Pause between two polls of a condition.
pub const POLL: Duration = Duration::from_millis(50);

/// The `dendrite` binary of this build.
fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_dendrite"))
}

/// The `dendrite` binary of this build, killed when dropped, logs to stderr only on request
/// (`DENDRITE_TEST_LOGS=1`).
pub fn dendrite() -> Command {
    dendrite_chaos::process::command(binary())
}

/// Starts a node on ephemeral loopback RESP/HTTP ports with fast stabilization.
pub async fn start_node(listen: &str, join: &[&str], extra: &[&str]) -> Node {
    let addresses = Addresses {
        netns: None,
        listen,
        resp: "127.0.0.1:0",
        http: "127.0.0.1:0",
        log: None,
    };
    start_node_at(&addresses, join, extra).await
}

/// Starts a node at `addresses` with fast stabilization.
pub async fn start_node_at(addresses: &Addresses<'_>, join: &[&str], extra: &[&str]) -> Node {
    Node::start(binary(), addresses, join, extra)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Starts `count` nodes, the first creating the ring and the others joining it.
pub async fn start_cluster(count: usize, extra: &[&str]) -> Vec<Node> {
    let first = start_node("127.0.0.1:0", &[], extra).await;
    let seed = first.ring.clone();
    let mut nodes = vec![first];
    for _ in 1..count {
        nodes.push(start_node("127.0.0.1:0", &[&seed], extra).await);
    }
    nodes
}

pub async fn wait_settled(nodes: &[&Node], replicas: usize) {
    let deadline = Instant::now() + WAIT;
    while !ring_settled(nodes, replicas).await {
        assert!(Instant::now() < deadline, "the ring did not settle in time");
        sleep(POLL).await;
    }
}

pub async fn connect(resp: &str) -> MultiplexedConnection {
    let client = redis::Client::open(format!("redis://{resp}/")).unwrap();
    timeout(WAIT, client.get_multiplexed_async_connection())
        .await
        .unwrap_or_else(|_| panic!("connecting to {resp} timed out"))
        .unwrap_or_else(|e| panic!("connecting to {resp} failed: {e}"))
}

pub async fn set_consistency(con: &mut MultiplexedConnection, read: u8, write: u8) {
    let () = redis::cmd("CONSISTENCY")
        .arg(read)
        .arg(write)
        .query_async(con)
        .await
        .unwrap();
}

/// Retries `attempt` until it yields `Some` or the deadline passes.
pub async fn eventually<T, F, Fut>(what: &str, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(found) = attempt().await {
            return found;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        sleep(POLL).await;
    }
}

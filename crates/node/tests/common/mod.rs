//! What the tests that run real `dendrite node` processes share (`cluster.rs`, `failover.rs`):
//! starting nodes on loopback with ephemeral ports, reading their banner, `/status`, waiting
//! for the ring to settle, killing a node with SIGKILL, and RESP connections.
//!
//! Every wait polls with a deadline; nothing sleeps to synchronise.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]
// Helpers outside #[test] functions are test code too; a failed unwrap is a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

pub mod redis_py;

use std::process::Stdio;
use std::time::Duration;

use dendrite_node::http::client::http_get;
use redis::aio::MultiplexedConnection;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::time::{sleep, timeout, Instant};

/// Longest wait for any one thing (a banner, a settled ring, a reply).
pub const WAIT: Duration = Duration::from_secs(30);
/// Pause between two polls of a condition.
pub const POLL: Duration = Duration::from_millis(50);

/// The `dendrite` binary of this build, killed when dropped, logs to stderr only on request
/// (`DENDRITE_TEST_LOGS=1`).
pub fn dendrite() -> Command {
    dendrite_command(env!("CARGO_BIN_EXE_dendrite"))
}

/// `program` (the binary, or a wrapper that execs it) set up as [`dendrite`] describes.
fn dendrite_command(program: &str) -> Command {
    let mut command = Command::new(program);
    command
        .env_remove("DENDRITE_CONFIG")
        .kill_on_drop(true)
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    // Node logs are noise in test output unless asked for.
    if std::env::var_os("DENDRITE_TEST_LOGS").is_some() {
        command.stderr(Stdio::inherit());
    } else {
        command.stderr(Stdio::null());
    }
    command
}

/// One `dendrite node` process and the addresses from its banner.
pub struct Node {
    pub child: Child,
    pub resp: String,
    pub http: String,
    pub ring: String,
    _stdout: Lines<BufReader<ChildStdout>>,
}

impl Node {
    /// `kill -9`: SIGKILL, then waits for the process to be gone.
    pub async fn kill(&mut self) {
        self.child
            .start_kill()
            .unwrap_or_else(|e| panic!("SIGKILL to the node on {} failed: {e}", self.ring));
        timeout(WAIT, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("the node on {} did not exit after SIGKILL", self.ring))
            .unwrap();
    }
}

/// The text between `label` and the next comma (or the end) of the banner.
fn banner_field(banner: &str, label: &str) -> String {
    banner
        .split(label)
        .nth(1)
        .unwrap_or_else(|| panic!("no {label:?} in banner {banner:?}"))
        .split(',')
        .next()
        .unwrap()
        .trim()
        .to_owned()
}

/// Starts a node on ephemeral loopback RESP/HTTP ports with fast stabilization.
pub async fn start_node(listen: &str, join: &[&str], extra: &[&str]) -> Node {
    let addresses = Addresses {
        netns: None,
        listen,
        resp: "127.0.0.1:0",
        http: "127.0.0.1:0",
    };
    start_node_at(&addresses, join, extra).await
}

/// Where a node runs and listens.
pub struct Addresses<'a> {
    /// The network namespace to run the node in (`ip netns exec`), or the test's own.
    pub netns: Option<&'a str>,
    pub listen: &'a str,
    pub resp: &'a str,
    pub http: &'a str,
}

/// Starts a node at `addresses` with fast stabilization.
pub async fn start_node_at(addresses: &Addresses<'_>, join: &[&str], extra: &[&str]) -> Node {
    let mut command = match addresses.netns {
        // `ip netns exec` enters the namespace and execs the binary: the child is the node.
        Some(netns) => {
            let mut command = dendrite_command("ip");
            command.args(["netns", "exec", netns, env!("CARGO_BIN_EXE_dendrite")]);
            command
        }
        None => dendrite(),
    };
    command.args([
        "node",
        "--listen",
        addresses.listen,
        "--resp",
        addresses.resp,
        "--http",
        addresses.http,
        "--stabilize-min-ms",
        "50",
        "--stabilize-max-ms",
        "150",
        "--log",
        "warn",
    ]);
    for seed in join {
        command.args(["--join", seed]);
    }
    command.args(extra);
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("starting a node on {} failed: {e}", addresses.listen));
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let banner = timeout(WAIT, stdout.next_line())
        .await
        .expect("no banner in time")
        .unwrap()
        .unwrap_or_else(|| panic!("node on {} exited before its banner", addresses.listen));
    Node {
        child,
        resp: banner_field(&banner, "RESP on "),
        http: banner_field(&banner, "HTTP on "),
        ring: banner_field(&banner, "ring on "),
        _stdout: stdout,
    }
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

/// The node's `/status` JSON, or `None` when it does not answer with JSON.
pub async fn status(node: &Node) -> Option<serde_json::Value> {
    let response = http_get(&node.http, "/status", Duration::from_secs(5))
        .await
        .ok()?;
    serde_json::from_slice(&response.body).ok()
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

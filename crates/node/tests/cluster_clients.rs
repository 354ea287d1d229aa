//! Redis Cluster clients against real `dendrite node` processes on loopback: the `redis`
//! crate's cluster client and redis-py's `RedisCluster` route by slot from `CLUSTER SLOTS` and
//! follow `MOVED`; `redis-cli -c` follows `MOVED` too. Every node's `CLUSTER SLOTS` must cover
//! slots 0..=16383 exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod reference;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{eventually, start_cluster, start_node, wait_settled, Node, WAIT};
use futures::future::join_all;
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::Value;
use tokio::time::timeout;

const KEYS: usize = 10_000;
/// Requests in flight at once while loading keys.
const IN_FLIGHT: usize = 64;

/// One row of `CLUSTER SLOTS`: first slot, last slot, primary `ip:port`, replica count.
type SlotRow = (i64, i64, String, usize);

fn int(value: &Value) -> Option<i64> {
    match value {
        Value::Int(n) => Some(*n),
        _ => None,
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        Value::SimpleString(text) => Some(text.clone()),
        _ => None,
    }
}

/// `ip:port` of one node entry of a `CLUSTER SLOTS` row.
fn endpoint(node: &Value) -> Option<String> {
    let Value::Array(fields) = node else {
        return None;
    };
    Some(format!(
        "{}:{}",
        text(fields.first()?)?,
        int(fields.get(1)?)?
    ))
}

/// `CLUSTER SLOTS` of the node at `resp`, sorted by first slot.
async fn cluster_slots(resp: &str) -> Option<Vec<SlotRow>> {
    let mut con = common::connect(resp).await;
    let reply: Value = redis::cmd("CLUSTER")
        .arg("SLOTS")
        .query_async(&mut con)
        .await
        .ok()?;
    let Value::Array(rows) = reply else {
        return None;
    };
    let mut parsed = Vec::new();
    for row in rows {
        let Value::Array(fields) = row else {
            return None;
        };
        parsed.push((
            int(fields.first()?)?,
            int(fields.get(1)?)?,
            endpoint(fields.get(2)?)?,
            fields.len().saturating_sub(3),
        ));
    }
    parsed.sort();
    Some(parsed)
}

/// Do the rows cover 0..=16383, each slot exactly once?
fn covers_every_slot_once(rows: &[SlotRow]) -> bool {
    let mut next = 0;
    for (first, last, _, _) in rows {
        if *first != next || last < first {
            return false;
        }
        next = last + 1;
    }
    next == 16384
}

/// Waits until every node's `CLUSTER SLOTS` covers every slot once, names exactly the RESP
/// endpoints of `nodes` as primaries, and all nodes agree; returns the agreed rows.
async fn slots_agree(nodes: &[&Node]) -> Vec<SlotRow> {
    let expected: BTreeSet<String> = nodes.iter().map(|n| n.resp.clone()).collect();
    eventually(
        "every node's CLUSTER SLOTS to cover each slot once, the same",
        || async {
            let mut agreed: Option<Vec<SlotRow>> = None;
            for node in nodes {
                let rows = cluster_slots(&node.resp).await?;
                let primaries: BTreeSet<String> = rows.iter().map(|r| r.2.clone()).collect();
                if !covers_every_slot_once(&rows) || primaries != expected {
                    return None;
                }
                match &agreed {
                    Some(other) if *other != rows => return None,
                    _ => agreed = Some(rows),
                }
            }
            agreed
        },
    )
    .await
}

async fn cluster_connection(nodes: &[&Node]) -> ClusterConnection {
    let urls: Vec<String> = nodes
        .iter()
        .map(|n| format!("redis://{}/", n.resp))
        .collect();
    let client = ClusterClient::new(urls).unwrap();
    timeout(WAIT, client.get_async_connection())
        .await
        .expect("connecting the cluster client timed out")
        .expect("the cluster client could not connect")
}

/// Three nodes with one replica per range started with `flags`, settled, every node's
/// `CLUSTER SLOTS` agreeing; returns them and the agreed rows.
async fn settled_cluster(flags: &[&str]) -> (Vec<Node>, Vec<SlotRow>) {
    let nodes = start_cluster(3, flags).await;
    let refs: Vec<&Node> = nodes.iter().collect();
    wait_settled(&refs, 1).await;
    let rows = slots_agree(&refs).await;
    (nodes, rows)
}

/// Kills `nodes[victim]`, waits until the others have settled and their `CLUSTER SLOTS` agree
/// again (every slot once, only the survivors as primaries); returns the survivors.
async fn kill_and_settle(nodes: &mut [Node], victim: usize) -> Vec<&Node> {
    nodes[victim].kill().await.unwrap();
    let alive: Vec<&Node> = nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != victim)
        .map(|(_, n)| n)
        .collect();
    wait_settled(&alive, 1).await;
    slots_agree(&alive).await;
    alive
}

/// Keyed cluster-client requests with `outcome` counted by `node`'s `/metrics`.
async fn outcome_count(node: &Node, outcome: &str) -> u64 {
    let response =
        dendrite_node::http::client::http_get(&node.http, "/metrics", Duration::from_secs(5))
            .await
            .unwrap();
    let text = String::from_utf8_lossy(&response.body).into_owned();
    let prefix = format!("dendrite_cluster_requests_total{{outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {prefix:?} in /metrics"))
}

/// Keyed cluster-client requests counted by `node`'s `/metrics`: (here, forwarded, redirected).
async fn cluster_requests(node: &Node) -> (u64, u64, u64) {
    (
        outcome_count(node, "here").await,
        outcome_count(node, "forwarded").await,
        outcome_count(node, "redirected").await,
    )
}

fn key(i: usize) -> String {
    format!("cluster:{i}")
}

/// Writes keys `0..KEYS` and reads them back through the cluster client.
async fn round_trip(con: &ClusterConnection) {
    for chunk in (0..KEYS).collect::<Vec<_>>().chunks(IN_FLIGHT) {
        let writes = chunk.iter().map(|i| {
            let mut con = con.clone();
            async move {
                redis::cmd("SET")
                    .arg(key(*i))
                    .arg(format!("v{i}"))
                    .query_async::<()>(&mut con)
                    .await
            }
        });
        for outcome in join_all(writes).await {
            outcome.unwrap();
        }
    }
    for chunk in (0..KEYS).collect::<Vec<_>>().chunks(IN_FLIGHT) {
        let reads = chunk.iter().map(|i| {
            let mut con = con.clone();
            async move {
                let value: Option<String> = redis::cmd("GET")
                    .arg(key(*i))
                    .query_async(&mut con)
                    .await
                    .unwrap();
                (*i, value)
            }
        });
        for (i, value) in join_all(reads).await {
            assert_eq!(value, Some(format!("v{i}")), "key {i}");
        }
    }
}

/// SETs and GETs until `stop`, counting commands that failed.
fn spawn_load(
    con: ClusterConnection,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<Vec<String>> {
    tokio::spawn(async move {
        let mut errors = Vec::new();
        let mut i = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let mut con = con.clone();
            let k = format!("load:{}", i % 2000);
            let set = redis::cmd("SET")
                .arg(&k)
                .arg(i)
                .query_async::<()>(&mut con)
                .await;
            let get = redis::cmd("GET")
                .arg(&k)
                .query_async::<Option<u64>>(&mut con)
                .await;
            match (set, get) {
                (Ok(()), Ok(Some(read))) if read == i => {}
                other => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    if errors.len() < 5 {
                        errors.push(format!("{k}: {other:?}"));
                    }
                }
            }
            done.fetch_add(1, Ordering::Relaxed);
            i += 1;
        }
        errors
    })
}

/// The `redis` crate's cluster client: 10 000 keys round trip on 3 nodes; a 4th node joins
/// under load and no command fails (the client follows MOVED); after a node is killed the
/// client reaches the new primaries and every key is still there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_crate_cluster_client_follows_joins_and_kills() {
    let flags = ["--replicas", "1", "--cluster-redirects"];
    let (mut nodes, rows) = settled_cluster(&flags).await;
    let refs: Vec<&Node> = nodes.iter().collect();
    assert!(
        rows.iter().all(|row| row.3 == 1),
        "one replica per range: {rows:?}"
    );
    let con = cluster_connection(&refs).await;
    round_trip(&con).await;
    // The client routes by slot: (nearly) every request lands on its key's primary.
    let (mut here, mut elsewhere) = (0, 0);
    for node in &refs {
        let (h, f, r) = cluster_requests(node).await;
        here += h;
        elsewhere += f + r;
    }
    assert!(
        here >= 2 * KEYS as u64,
        "{here} requests served where they landed"
    );
    assert!(
        elsewhere * 100 <= here,
        "{elsewhere} of {} requests not served by the node they reached",
        here + elsewhere
    );

    // A 4th node joins while a client keeps writing and reading.
    let stop = Arc::new(AtomicBool::new(false));
    let (done, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let load = spawn_load(con.clone(), stop.clone(), done.clone(), failed.clone());
    let mut redirects_before = 0;
    for node in &refs {
        redirects_before += outcome_count(node, "redirected").await;
    }
    let seed = nodes[0].ring.clone();
    nodes.push(start_node("127.0.0.1:0", &[&seed], &flags).await);
    let refs: Vec<&Node> = nodes.iter().collect();
    wait_settled(&refs, 1).await;
    slots_agree(&refs).await;
    // Requests keep flowing once every node has the new map.
    let seen = done.load(Ordering::Relaxed);
    eventually("load to go on after the join", || async {
        (done.load(Ordering::Relaxed) > seen + 200).then_some(())
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let errors = load.await.unwrap();
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "commands failed while a node joined ({} done): {errors:?}",
        done.load(Ordering::Relaxed)
    );
    // The join moved slots under the client: it was told so (MOVED) and followed without a
    // failure.
    let mut redirects = 0;
    for node in &refs {
        redirects += outcome_count(node, "redirected").await;
    }
    assert!(
        redirects > redirects_before,
        "the join redirected no request ({redirects} MOVED/CROSSSLOT in all)"
    );

    // Kill one of the first three: the others take its slots over, the client follows.
    let alive = kill_and_settle(&mut nodes, 1).await;
    let con = cluster_connection(&alive).await;
    eventually("every key readable after the kill", || {
        let con = con.clone();
        async move {
            for chunk in (0..KEYS).collect::<Vec<_>>().chunks(IN_FLIGHT) {
                let reads = chunk.iter().map(|i| {
                    let mut con = con.clone();
                    async move {
                        let value: Result<Option<String>, _> =
                            redis::cmd("GET").arg(key(*i)).query_async(&mut con).await;
                        (*i, value)
                    }
                });
                for (i, value) in join_all(reads).await {
                    match value {
                        Ok(Some(found)) => assert_eq!(found, format!("v{i}"), "key {i}"),
                        // Unavailable while the new primaries take their ranges over.
                        _ => return None,
                    }
                }
            }
            Some(())
        }
    })
    .await;
}

/// redis-py's `RedisCluster` against 3 nodes: 10 000 keys round trip, its view of the slots
/// covers every slot once, and it parses `CLUSTER NODES` into the three nodes.
const REDIS_PY_CLUSTER: &str = r#"
import sys
from redis.cluster import RedisCluster
port = int(sys.argv[1])
r = RedisCluster(host="127.0.0.1", port=port, socket_timeout=10)
slots = r.cluster_slots()
covered = sorted(slot for (first, last) in slots for slot in range(first, last + 1))
assert covered == list(range(16384)), len(covered)
nodes = r.cluster_nodes()
assert len(nodes) == 3, nodes
assert all(info["connected"] for info in nodes.values()), nodes
assert r.cluster_keyslot("foo") == 12182
pipe = r.pipeline()
for i in range(10000):
    pipe.set(f"py:{i}", f"v{i}")
assert all(pipe.execute())
pipe = r.pipeline()
for i in range(10000):
    pipe.get(f"py:{i}")
values = pipe.execute()
assert values == [f"v{i}".encode() for i in range(10000)], "values differ"
assert r.get("py:nosuch") is None
r.close()
print("ok", flush=True)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_py_cluster_client_round_trips_10000_keys() {
    let (nodes, _) = settled_cluster(&["--replicas", "1"]).await;
    let port = nodes[0].resp.rsplit_once(':').unwrap().1;
    common::redis_py::run_script(REDIS_PY_CLUSTER, port, Duration::from_secs(120)).await;
}

/// The error a GET of `key` gets on `con`, which must be a MOVED.
async fn get_moved(con: &mut redis::aio::MultiplexedConnection, key: &str) -> redis::RedisError {
    let moved = redis::cmd("GET")
        .arg(key)
        .query_async::<Option<String>>(con)
        .await
        .unwrap_err();
    assert_eq!(moved.kind(), redis::ErrorKind::Moved, "{moved:?}");
    moved
}

/// `redis-cli -c` follows MOVED: a SET sent to a node that is not the key's primary lands on
/// the primary, and a cluster connection to that node is answered MOVED; after READONLY the
/// key's replica answers GET from its own copy, the third node still says MOVED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cli_follows_moved() {
    let (nodes, rows) = settled_cluster(&["--replicas", "1"]).await;
    let slot_of = |key: &str| i64::from(dtable::Slot::of_key(key.as_bytes()).number());
    let primary_of = |slot: i64| {
        rows.iter()
            .find(|row| row.0 <= slot && slot <= row.1)
            .map(|row| row.2.clone())
            .unwrap()
    };
    // A key whose primary is not node 0.
    let key = (0..)
        .map(|i| format!("cli:{i}"))
        .find(|k| primary_of(slot_of(k)) != nodes[0].resp)
        .unwrap();
    let owner = primary_of(slot_of(&key));
    let (host, port) = nodes[0].resp.rsplit_once(':').unwrap();
    let redis = reference::redis_binary();
    let cli = |args: &[&str]| {
        let mut command = tokio::process::Command::from(redis.cli());
        command
            .args(["-h", host, "-p", port])
            .args(args)
            .kill_on_drop(true);
        command.output()
    };
    let plain = timeout(WAIT, cli(&["CLUSTER", "KEYSLOT", &key]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&plain.stdout).trim(),
        slot_of(&key).to_string()
    );
    let set = timeout(WAIT, cli(&["-c", "SET", &key, "moved"]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&set.stdout).trim(), "OK", "{set:?}");
    let get = timeout(WAIT, cli(&["-c", "GET", &key]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&get.stdout).trim(),
        "moved",
        "{get:?}"
    );
    // A connection that has sent CLUSTER is told where the key lives.
    let mut con = common::connect(&nodes[0].resp).await;
    let _: Value = redis::cmd("CLUSTER")
        .arg("MYID")
        .query_async(&mut con)
        .await
        .unwrap();
    let moved = get_moved(&mut con, &key).await;
    assert_eq!(
        moved.redirect_node(),
        Some((owner.as_str(), u16::try_from(slot_of(&key)).unwrap())),
        "{moved:?}"
    );
    // ASKING: the one command after it is served here (forwarded to the primary), as on a
    // node a slot is moving to; the next one is told MOVED again.
    let () = redis::cmd("ASKING").query_async(&mut con).await.unwrap();
    let asked: Option<String> = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(asked.as_deref(), Some("moved"));
    get_moved(&mut con, &key).await;
    // CROSSSLOT for keys of two slots.
    let cross = redis::cmd("MGET")
        .arg("foo")
        .arg("bar")
        .query_async::<Value>(&mut con)
        .await
        .unwrap_err();
    assert_eq!(cross.code(), Some("CROSSSLOT"), "{cross:?}");

    // READONLY: the replica of the key's slot serves the GET itself (once the copy arrived);
    // the node that holds no copy still redirects.
    let mut served_by_replica = 0;
    for node in nodes.iter().filter(|n| n.resp != owner) {
        let mut con = common::connect(&node.resp).await;
        let () = redis::cmd("READONLY").query_async(&mut con).await.unwrap();
        let answer = eventually("a READONLY GET to settle", || {
            let mut con = con.clone();
            let key = key.clone();
            async move {
                match redis::cmd("GET")
                    .arg(&key)
                    .query_async::<Option<String>>(&mut con)
                    .await
                {
                    Ok(Some(value)) => Some(Ok(value)),
                    Ok(None) => None,
                    Err(error) => Some(Err(error.kind())),
                }
            }
        })
        .await;
        match answer {
            Ok(value) => {
                assert_eq!(value, "moved");
                served_by_replica += 1;
                // READWRITE: back to MOVED.
                let () = redis::cmd("READWRITE").query_async(&mut con).await.unwrap();
                get_moved(&mut con, &key).await;
            }
            Err(kind) => assert_eq!(kind, redis::ErrorKind::Moved),
        }
    }
    assert_eq!(
        served_by_replica, 1,
        "exactly one other node is the key's replica"
    );
}

/// The read commands compared between a replica (after `READONLY`) and the primary, on keys of
/// one slot (`{ro}`).
fn read_commands() -> Vec<redis::Cmd> {
    let mut commands = Vec::new();
    let mut add = |words: &[&str]| {
        let mut command = redis::cmd(words[0]);
        for word in &words[1..] {
            command.arg(*word);
        }
        commands.push(command);
    };
    add(&["GET", "{ro}a"]);
    add(&["GET", "{ro}nosuch"]);
    add(&["MGET", "{ro}a", "{ro}b", "{ro}nosuch"]);
    add(&["EXISTS", "{ro}a", "{ro}b", "{ro}nosuch"]);
    add(&["STRLEN", "{ro}a"]);
    add(&["GETRANGE", "{ro}a", "0", "4"]);
    add(&["SUBSTR", "{ro}a", "-5", "-1"]);
    add(&["TYPE", "{ro}a"]);
    add(&["TYPE", "{ro}nosuch"]);
    add(&["GETBIT", "{ro}a", "3"]);
    add(&["BITCOUNT", "{ro}a"]);
    add(&["BITPOS", "{ro}a", "1"]);
    add(&["LCS", "{ro}a", "{ro}b"]);
    add(&["PEXPIRETIME", "{ro}t"]);
    add(&["EXPIRETIME", "{ro}a"]);
    add(&["TTL", "{ro}nosuch"]);
    add(&["PTTL", "{ro}a"]);
    add(&["TOUCH", "{ro}a", "{ro}nosuch"]);
    commands
}

/// Keyed cluster-client requests `nodes` answered from their replica copies so far.
async fn replica_reads(nodes: &[&Node]) -> u64 {
    let mut total = 0;
    for node in nodes {
        total += outcome_count(node, "replica").await;
    }
    total
}

/// `READONLY`: the `redis` crate's cluster client with `read_from_replicas` sends read
/// commands to the slot's replica, which answers every one of them from its own copy (counted
/// as `replica` in `/metrics`) with what the primary answers; redis-py's
/// `RedisCluster(read_from_replicas=True)` reads the same values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_serve_every_read_command_after_readonly() {
    let (nodes, _) = settled_cluster(&["--replicas", "1"]).await;
    let refs: Vec<&Node> = nodes.iter().collect();
    let mut primary = cluster_connection(&refs).await;
    for (key, value) in [("{ro}a", "hello world"), ("{ro}b", "help the world")] {
        let () = redis::cmd("SET")
            .arg(key)
            .arg(value)
            .query_async(&mut primary)
            .await
            .unwrap();
    }
    let () = redis::cmd("SET")
        .arg("{ro}t")
        .arg("x")
        .arg("PXAT")
        .arg("4102444800000")
        .query_async(&mut primary)
        .await
        .unwrap();
    let urls: Vec<String> = nodes
        .iter()
        .map(|n| format!("redis://{}/", n.resp))
        .collect();
    let client = ClusterClient::builder(urls)
        .read_from_replicas()
        .build()
        .unwrap();
    let replica = timeout(WAIT, client.get_async_connection())
        .await
        .unwrap()
        .unwrap();
    let expected: Vec<Value> = {
        let mut answers = Vec::new();
        for command in read_commands() {
            answers.push(command.query_async(&mut primary).await.unwrap());
        }
        answers
    };
    assert_eq!(expected[0], Value::BulkString(b"hello world".to_vec()));
    let before = replica_reads(&refs).await;
    // The copies may lag the primary a moment: poll until the replica answers alike.
    eventually("the replica to answer every read as the primary", || {
        let mut replica = replica.clone();
        let expected = expected.clone();
        async move {
            for (command, want) in read_commands().iter().zip(&expected) {
                let got: Value = command.query_async(&mut replica).await.ok()?;
                if got != *want {
                    return None;
                }
            }
            Some(())
        }
    })
    .await;
    assert!(replica_reads(&refs).await - before >= read_commands().len() as u64);
    // Once settled, one pass: every command answered from a replica's copy, none elsewhere.
    let before = replica_reads(&refs).await;
    let mut replica = replica.clone();
    for (index, (command, want)) in read_commands().iter().zip(&expected).enumerate() {
        let got: Value = command.query_async(&mut replica).await.unwrap();
        assert_eq!(got, *want, "read command #{index}");
    }
    let served = replica_reads(&refs).await - before;
    assert_eq!(
        served,
        read_commands().len() as u64,
        "reads answered from replica copies in one pass"
    );
    let port = nodes[0].resp.rsplit_once(':').unwrap().1;
    common::redis_py::run_script(REDIS_PY_READONLY, port, Duration::from_secs(60)).await;
}

/// redis-py's `RedisCluster(read_from_replicas=True)` reads what the primary wrote (retrying
/// while the copies catch up).
const REDIS_PY_READONLY: &str = r#"
import sys, time
from redis.cluster import RedisCluster
port = int(sys.argv[1])
r = RedisCluster(host="127.0.0.1", port=port, socket_timeout=10, read_from_replicas=True)
for i in range(200):
    r.set(f"{{py}}:{i}", f"v{i}")
deadline = time.monotonic() + 30
while True:
    values = [r.get(f"{{py}}:{i}") for i in range(200)]
    ok = values == [f"v{i}".encode() for i in range(200)]
    ok = ok and r.mget("{py}:0", "{py}:1", "{py}:none") == [b"v0", b"v1", None]
    ok = ok and r.exists("{py}:0", "{py}:1", "{py}:none") == 2
    ok = ok and r.strlen("{py}:10") == 3 and r.getrange("{py}:10", 1, 2) == b"10"
    ok = ok and r.ttl("{py}:0") == -1 and r.type("{py}:0") == b"string"
    if ok:
        break
    assert time.monotonic() < deadline, values[:5]
    time.sleep(0.05)
r.close()
print("ok", flush=True)
"#;

/// redis-py's `RedisCluster` under load while the test moves the cluster: it writes 1 000 keys,
/// then SETs and GETs until the file `joined` appears in the control directory (none may fail:
/// the 4th node joined under it), then waits for `killed` and reads the 1 000 keys back
/// (retrying while the new primaries take over). Progress goes to the file `progress`.
const REDIS_PY_JOIN_KILL: &str = r#"
import os, sys, time
from redis.cluster import RedisCluster
port, control = int(sys.argv[1]), sys.argv[2]
seen = lambda name: os.path.exists(os.path.join(control, name))
r = RedisCluster(host="127.0.0.1", port=port, socket_timeout=10)
kept = {f"pykeep:{i}": f"k{i}".encode() for i in range(1000)}
for key, value in kept.items():
    r.set(key, value)
done, failed, errors, i = 0, 0, [], 0
while not seen("joined"):
    key = f"pyload:{i % 2000}"
    try:
        r.set(key, i)
        read = r.get(key)
        ok = read == str(i).encode()
        if not ok:
            errors.append(f"{key}: wrote {i}, read {read!r}")
    except Exception as error:
        ok = False
        errors.append(f"{type(error).__name__}: {error}")
    if not ok:
        failed += 1
    done, i = done + 1, i + 1
    if done % 50 == 0:
        with open(os.path.join(control, "progress.tmp"), "w") as f:
            f.write(str(done))
        os.replace(os.path.join(control, "progress.tmp"), os.path.join(control, "progress"))
assert failed == 0, (done, failed, errors[:5])
# The kill comes only after this: a command in flight must not meet it and count for the join.
open(os.path.join(control, "load-stopped"), "w").close()
deadline = time.monotonic() + 60
while not seen("killed"):
    assert time.monotonic() < deadline, "never told the node was killed"
    time.sleep(0.05)
deadline = time.monotonic() + 60
for key, value in kept.items():
    while True:
        try:
            if r.get(key) == value:
                break
        except Exception as error:
            errors.append(f"{type(error).__name__}: {error}")
        assert time.monotonic() < deadline, (key, value, errors[-5:])
        time.sleep(0.05)
r.close()
print(f"ok {done} commands under the join, {len(kept)} keys read back", flush=True)
"#;

/// How many commands the redis-py load has done (its `progress` file).
fn py_progress(control: &std::path::Path) -> u64 {
    std::fs::read_to_string(control.join("progress"))
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(0)
}

/// Waits until the redis-py load has done `more` commands past what it had done so far.
async fn py_goes_on(control: &std::path::Path, more: u64) {
    let from = py_progress(control);
    eventually("the redis-py load to go on", || async {
        (py_progress(control) >= from + more).then_some(())
    })
    .await;
}

/// redis-py's `RedisCluster` follows a join under load with no failed command (MOVED),
/// and reaches the new primaries after a node is killed; `CLUSTER SLOTS` covers every slot
/// once at every step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_py_cluster_client_follows_joins_and_kills() {
    let flags = ["--replicas", "1", "--cluster-redirects"];
    let (mut nodes, _) = settled_cluster(&flags).await;
    let control = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("redis-py-join-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&control);
    std::fs::create_dir_all(&control).unwrap();
    let port = nodes[0].resp.rsplit_once(':').unwrap().1.to_string();
    let script =
        common::redis_py::spawn_script(REDIS_PY_JOIN_KILL, &[&port, control.to_str().unwrap()])
            .await;
    py_goes_on(&control, 200).await;
    let seed = nodes[0].ring.clone();
    nodes.push(start_node("127.0.0.1:0", &[&seed], &flags).await);
    let refs: Vec<&Node> = nodes.iter().collect();
    wait_settled(&refs, 1).await;
    slots_agree(&refs).await;
    py_goes_on(&control, 200).await;
    std::fs::write(control.join("joined"), b"").unwrap();
    // The script checks for "joined" between commands: wait until its join-phase load is over,
    // so that the kill below cannot fail a command of that phase.
    eventually("the redis-py join-phase load to stop", || async {
        control.join("load-stopped").exists().then_some(())
    })
    .await;

    kill_and_settle(&mut nodes, 1).await;
    std::fs::write(control.join("killed"), b"").unwrap();
    let said = common::redis_py::finish(script, Duration::from_secs(180)).await;
    eprintln!("redis-py: {said}");
    let _ = std::fs::remove_dir_all(&control);
}

//! Real clusters of `dendrite node` processes on loopback, driven with the `redis` crate:
//! commands through every node, AUTH, a crash of two of five nodes (kill -9) with every key
//! still readable, a restart that rejoins, `/metrics` and `/status` formats, and the demo.
//!
//! Every wait polls with a deadline; nothing sleeps to synchronise.

// Helpers outside #[test] functions are test code too; a failed unwrap is a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::{
    connect, dendrite, eventually, set_consistency, start_cluster, start_node, status,
    wait_settled, WAIT,
};
use dendrite_node::http::client::http_get;
use redis::aio::MultiplexedConnection;
use redis::AsyncCommands;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::Child;
use tokio::time::timeout;

#[tokio::test]
async fn three_nodes_serve_every_command_and_report_metrics_and_status() {
    let nodes = start_cluster(3, &[]).await;
    wait_settled(&nodes.iter().collect::<Vec<_>>(), 2).await;
    let mut cons = Vec::new();
    for node in &nodes {
        cons.push(connect(&node.resp).await);
    }
    for index in 0..nodes.len() {
        let key = format!("key:{index}");
        let value = format!("value:{index}");
        let () = cons[index].set(&key, &value).await.unwrap();
        for con in &mut cons {
            let got: Option<String> = con.get(&key).await.unwrap();
            assert_eq!(got.as_deref(), Some(value.as_str()));
        }
        let (a, b) = (format!("a:{index}"), format!("b:{index}"));
        let () = cons[index].mset(&[(&a, "1"), (&b, "2")]).await.unwrap();
        let other = &mut cons[(index + 1) % nodes.len()];
        let got: Vec<Option<String>> = other.mget(&[&a, &b, "missing"]).await.unwrap();
        assert_eq!(got, [Some("1".into()), Some("2".into()), None]);
        let present: usize = other.exists(&[&a, &b, "missing"]).await.unwrap();
        assert_eq!(present, 2);
        let deleted: usize = other.del(&[&a, "missing"]).await.unwrap();
        assert_eq!(deleted, 1);
        let gone: Option<String> = cons[index].get(&a).await.unwrap();
        assert_eq!(gone, None);
    }
    // Live keys: key:i and b:i for each node, each stored on at least one node.
    let mut stored = 0;
    for con in &mut cons {
        let size: usize = redis::cmd("DBSIZE").query_async(con).await.unwrap();
        stored += size;
    }
    assert!(stored >= 2 * nodes.len(), "DBSIZE total {stored}");

    // Pipelining: 200 commands in one round trip, replies in order.
    let mut pipe = redis::pipe();
    for index in 0..100 {
        pipe.set(format!("pipe:{index}"), index).ignore();
    }
    for index in 0..100 {
        pipe.get(format!("pipe:{index}"));
    }
    let values: Vec<u32> = pipe.query_async(&mut cons[1]).await.unwrap();
    assert_eq!(values, (0..100).collect::<Vec<u32>>());

    // Redis's own error wording.
    let error = redis::cmd("NOSUCH")
        .arg("x")
        .query_async::<redis::Value>(&mut cons[0])
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("unknown command 'NOSUCH', with args beginning with: 'x'"),
        "{error}"
    );
    let error = redis::cmd("GET")
        .query_async::<redis::Value>(&mut cons[0])
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("wrong number of arguments for 'get' command"),
        "{error}"
    );

    // A client sending garbage gets an error and is dropped; a client beside it is untouched.
    let mut garbage = TcpStream::connect(&nodes[2].resp).await.unwrap();
    garbage
        .write_all(b"*2\r\n$zz\r\n\x00\xff\xfe junk junk\r\n")
        .await
        .unwrap();
    let mut reply = Vec::new();
    timeout(WAIT, garbage.read_to_end(&mut reply))
        .await
        .expect("garbage client was not dropped")
        .unwrap();
    assert!(
        reply.starts_with(b"-ERR Protocol error"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    let () = cons[2].set("after-garbage", "fine").await.unwrap();
    let got: String = cons[2].get("after-garbage").await.unwrap();
    assert_eq!(got, "fine");

    // /metrics is Prometheus text and counts what was done.
    let scraped = http_get(&nodes[0].http, "/metrics", WAIT).await.unwrap();
    assert_eq!(scraped.status, 200);
    let text = String::from_utf8(scraped.body).unwrap();
    let scrape =
        prometheus_parse::Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).unwrap();
    let commands = scrape
        .samples
        .iter()
        .find(|sample| {
            sample.metric == "dendrite_commands_total"
                && sample.labels.get("command") == Some("set")
        })
        .unwrap_or_else(|| panic!("no SET counter in {text}"));
    assert!(
        matches!(commands.value, prometheus_parse::Value::Counter(count) if count >= 1.0),
        "{commands:?}"
    );
    assert!(
        scrape
            .samples
            .iter()
            .any(|sample| matches!(sample.value, prometheus_parse::Value::Histogram(_))),
        "no latency histogram in {text}"
    );
    let sample = |name: &str| {
        scrape
            .samples
            .iter()
            .find(|sample| sample.metric == name)
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    // Two nodes joined this one's ring, so its vnodes saw their neighbourhood change.
    let changes: f64 = scrape
        .samples
        .iter()
        .filter(|sample| sample.metric == "dendrite_ring_changes_total")
        .map(|sample| match sample.value {
            prometheus_parse::Value::Counter(count) => count,
            _ => panic!("ring changes must be a counter"),
        })
        .sum();
    assert!(changes >= 1.0, "{text}");
    assert!(
        matches!(sample("dendrite_ring_vnodes").value, prometheus_parse::Value::Gauge(v) if v == 3.0),
        "{text}"
    );
    for name in [
        "dendrite_replication_backlog",
        "dendrite_migrated_records_total",
        "dendrite_keys",
        "dendrite_connected_clients",
        "dendrite_underreplicated_ranges",
        "dendrite_handed_back_records_total",
    ] {
        sample(name);
    }
    // Three hosts, replicas 2: once the heal loop has run, every range has its three copies,
    // and /status, the metric and INFO say so.
    eventually(
        "the under-replication gauge to read 0 on node 0",
        || async {
            let status = status(&nodes[0]).await?;
            (status["underreplicated_ranges"] == 0).then_some(())
        },
    )
    .await;
    let metrics = http_get(&nodes[0].http, "/metrics", WAIT).await.unwrap();
    let metrics = String::from_utf8(metrics.body).unwrap();
    assert!(
        metrics.contains("\ndendrite_underreplicated_ranges 0\n"),
        "{metrics}"
    );

    // /status is JSON with the documented fields.
    let status = status(&nodes[0]).await.unwrap();
    assert_eq!(status["host"], nodes[0].ring.as_str());
    assert!(status["keys"].as_u64().is_some(), "{status}");
    assert_eq!(status["replicas"], 2);
    let vnodes = status["vnodes"].as_array().unwrap();
    assert_eq!(vnodes.len(), 3);
    for vnode in vnodes {
        assert!(vnode["id"].is_string(), "{vnode}");
        assert!(vnode["predecessor"]["host"].is_string(), "{vnode}");
        assert!(
            !vnode["successors"].as_array().unwrap().is_empty(),
            "{vnode}"
        );
        assert!(vnode["fingers"]["known"].as_u64().is_some(), "{vnode}");
        assert!(vnode["ownership"].as_f64().is_some(), "{vnode}");
    }
    // The ring as this node sees it: all three nodes, three vnodes each, owning the whole ring.
    let ring = status["ring"].as_array().unwrap();
    assert_eq!(ring.len(), 3, "{status}");
    assert!(ring.iter().all(|n| n["vnodes"] == 3), "{status}");
    let total: f64 = ring.iter().map(|n| n["ownership"].as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-6, "{status}");
}

/// Eight clients, each on its own connection to one of three nodes in turn, increment one
/// counter 1000 times each: the increments run as one step at the key's primary, so the
/// counter ends at exactly 8000 on every node; APPEND and SET NX/GET behave as one step too.
#[tokio::test]
async fn concurrent_incrs_through_every_node_of_a_cluster_lose_nothing() {
    let nodes = start_cluster(3, &[]).await;
    wait_settled(&nodes.iter().collect::<Vec<_>>(), 2).await;
    let clients: Vec<_> = (0..8)
        .map(|c| {
            let resp = nodes[c % nodes.len()].resp.clone();
            tokio::spawn(async move {
                let mut con = connect(&resp).await;
                for _ in 0..1000 {
                    let _: i64 = con.incr("counter", 1).await.unwrap();
                }
            })
        })
        .collect();
    for client in clients {
        client.await.unwrap();
    }
    for node in &nodes {
        let mut con = connect(&node.resp).await;
        let total: i64 = con.get("counter").await.unwrap();
        assert_eq!(total, 8000, "counter read through {}", node.resp);
    }
    let mut con = connect(&nodes[1].resp).await;
    let length: i64 = redis::cmd("APPEND")
        .arg("log")
        .arg("ab")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(length, 2);
    let stored: bool = con.set_nx("log", "other").await.unwrap();
    assert!(!stored);
    let old: Option<String> = redis::cmd("SET")
        .arg("log")
        .arg("new")
        .arg("XX")
        .arg("GET")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(old.as_deref(), Some("ab"));
    let refused = redis::cmd("INCR")
        .arg("log")
        .query_async::<i64>(&mut con)
        .await
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "An error was signalled by the server - ResponseError: value is not an integer or out of range"
    );
}

/// Keys written with a deadline through one node expire on every node at once, their TTL is
/// read through any node, EXPIRE and PERSIST act at the key's primary, and the sweep reclaims
/// the expired keys everywhere: INFO keyspace's `expires=` falls to the one lasting key's copy
/// on every node, and INFO stats' `expired_keys` adds up to each key reclaimed once.
#[tokio::test]
async fn keys_expire_across_the_cluster_and_are_reclaimed() {
    let nodes = start_cluster(3, &[]).await;
    wait_settled(&nodes.iter().collect::<Vec<_>>(), 2).await;
    let mut writer = connect(&nodes[0].resp).await;
    set_consistency(&mut writer, 1, 3).await;
    for i in 0..200 {
        let () = redis::cmd("SET")
            .arg(format!("short:{i}"))
            .arg("v")
            .arg("PX")
            .arg(1500)
            .query_async(&mut writer)
            .await
            .unwrap();
    }
    let () = writer.set_ex("long", "kept", 1000).await.unwrap();
    let () = writer.set("persisted", "p").await.unwrap();
    let set: bool = writer.expire("persisted", 1).await.unwrap();
    assert!(set);
    let cleared: bool = writer.persist("persisted").await.unwrap();
    assert!(cleared);
    let mut reader = connect(&nodes[2].resp).await;
    let ttl: i64 = reader.pttl("short:7").await.unwrap();
    assert!((1..=1500).contains(&ttl), "PTTL {ttl}");
    let ttl: i64 = reader.ttl("long").await.unwrap();
    assert!((999..=1000).contains(&ttl), "TTL {ttl}");
    for node in &nodes {
        eventually("every short key to expire", || {
            let resp = node.resp.clone();
            async move {
                let mut con = connect(&resp).await;
                let keys: Vec<String> = (0..200).map(|i| format!("short:{i}")).collect();
                let values: Vec<Option<String>> = con.mget(&keys).await.unwrap();
                values.iter().all(Option::is_none).then_some(())
            }
        })
        .await;
        let mut con = connect(&node.resp).await;
        let kept: Option<String> = con.get("long").await.unwrap();
        assert_eq!(kept.as_deref(), Some("kept"));
        let persisted: i64 = con.ttl("persisted").await.unwrap();
        assert_eq!(persisted, -1, "PERSIST reached every copy");
    }
    for node in &nodes {
        eventually("the sweep to reclaim every expired key", || {
            let resp = node.resp.clone();
            async move {
                let mut con = connect(&resp).await;
                let info: String = redis::cmd("INFO")
                    .arg("keyspace")
                    .query_async(&mut con)
                    .await
                    .unwrap();
                info.contains(",expires=1,").then_some(())
            }
        })
        .await;
    }
    let mut reclaimed = 0;
    for node in &nodes {
        let mut con = connect(&node.resp).await;
        let info: String = redis::cmd("INFO")
            .arg("stats")
            .query_async(&mut con)
            .await
            .unwrap();
        let count = info
            .lines()
            .find_map(|line| line.strip_prefix("expired_keys:"))
            .expect("INFO stats has expired_keys");
        reclaimed += count.trim().parse::<u64>().unwrap();
    }
    assert_eq!(
        reclaimed, 200,
        "each expired key reclaimed once, by its primary"
    );
}

/// SCAN, KEYS and FLUSHALL walk the whole cluster through any node: a SCAN through one node
/// returns every key written through the others, and FLUSHALL leaves nothing anywhere.
#[tokio::test]
async fn scan_keys_and_flushall_cover_the_whole_cluster() {
    let nodes = start_cluster(3, &[]).await;
    wait_settled(&nodes.iter().collect::<Vec<_>>(), 2).await;
    let mut writer = connect(&nodes[0].resp).await;
    set_consistency(&mut writer, 1, 3).await;
    let pairs: Vec<(String, String)> = (0..500)
        .map(|i| (format!("k:{i}"), format!("v{i}")))
        .collect();
    let () = writer.mset(&pairs).await.unwrap();
    let mut reader = connect(&nodes[2].resp).await;
    let mut found = std::collections::BTreeSet::new();
    let mut cursor: u64 = 0;
    let mut pages = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(20)
            .query_async(&mut reader)
            .await
            .unwrap();
        found.extend(keys);
        pages += 1;
        assert!(pages < 1000, "SCAN does not end");
        if next == 0 {
            break;
        }
        cursor = next;
    }
    let expected: std::collections::BTreeSet<String> =
        pairs.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(found, expected);
    assert!(pages > 10, "{pages} pages of 20 for 500 keys");
    let ones: Vec<String> = reader.keys("k:1??").await.unwrap();
    assert_eq!(ones.len(), 100);
    let random: Option<String> = redis::cmd("RANDOMKEY")
        .query_async(&mut reader)
        .await
        .unwrap();
    assert!(random.is_some_and(|key| expected.contains(&key)));
    let () = redis::cmd("FLUSHALL")
        .query_async(&mut reader)
        .await
        .unwrap();
    for node in &nodes {
        let mut con = connect(&node.resp).await;
        let left: Vec<String> = con.keys("*").await.unwrap();
        assert!(left.is_empty(), "{} keys left after FLUSHALL", left.len());
        let gone: Option<String> = con.get("k:7").await.unwrap();
        assert_eq!(gone, None);
        let random: Option<String> = redis::cmd("RANDOMKEY").query_async(&mut con).await.unwrap();
        assert_eq!(random, None);
    }
}

#[tokio::test]
async fn requirepass_demands_auth() {
    let node = start_node("127.0.0.1:0", &[], &["--requirepass", "open sesame"]).await;
    let mut anonymous = connect(&node.resp).await;
    let error = anonymous.get::<_, Option<String>>("k").await.unwrap_err();
    assert_eq!(error.code(), Some("NOAUTH"), "{error}");
    let error = redis::cmd("AUTH")
        .arg("wrong")
        .query_async::<String>(&mut anonymous)
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("WRONGPASS"), "{error}");
    let client = redis::Client::open(format!("redis://:open%20sesame@{}/", node.resp)).unwrap();
    let mut authed = timeout(WAIT, client.get_multiplexed_async_connection())
        .await
        .unwrap()
        .unwrap();
    let () = authed.set("k", "v").await.unwrap();
    let got: String = authed.get("k").await.unwrap();
    assert_eq!(got, "v");
}

/// Key `index` of the crash test and its value.
fn crash_pair(index: usize) -> (String, String) {
    (format!("crash:{index}"), format!("value-{index}"))
}

const CRASH_KEYS: usize = 10_000;
const BATCH: usize = 500;

/// Reads every crash key back through `nodes`, retrying a batch until it comes back whole.
async fn read_back_all(cons: &mut [MultiplexedConnection]) {
    for (batch, start) in (0..CRASH_KEYS).step_by(BATCH).enumerate() {
        let keys: Vec<String> = (start..start + BATCH).map(|i| crash_pair(i).0).collect();
        let wanted: Vec<Option<String>> = (start..start + BATCH)
            .map(|i| Some(crash_pair(i).1))
            .collect();
        let mut turn = batch;
        eventually("a batch of crash keys to read back", || {
            turn += 1;
            // Multiplexed connections are cheap handles to one socket.
            let mut con = cons[turn % cons.len()].clone();
            let keys = &keys;
            let wanted = &wanted;
            async move {
                let got: Vec<Option<String>> = con.mget(keys).await.ok()?;
                (got == *wanted).then_some(())
            }
        })
        .await;
    }
}

#[tokio::test]
async fn five_nodes_survive_two_kill_nines_and_a_restart_rejoins() {
    let mut nodes = start_cluster(5, &["--replicas", "2"]).await;
    wait_settled(&nodes.iter().collect::<Vec<_>>(), 2).await;
    let mut cons = Vec::new();
    for node in &nodes {
        let mut con = connect(&node.resp).await;
        set_consistency(&mut con, 1, 3).await;
        cons.push(con);
    }
    // 10,000 keys at write consistency 3, in MSET batches through changing nodes.
    for (batch, start) in (0..CRASH_KEYS).step_by(BATCH).enumerate() {
        let pairs: Vec<(String, String)> = (start..start + BATCH).map(crash_pair).collect();
        let con = &mut cons[(batch * 3 + 1) % nodes.len()];
        let () = con.mset(&pairs).await.unwrap();
    }

    // kill -9 two nodes.
    for victim in [1, 3] {
        nodes[victim].kill().await.unwrap();
    }
    let survivors = [0usize, 2, 4];
    let mut survivor_cons: Vec<MultiplexedConnection> = Vec::new();
    for &index in &survivors {
        survivor_cons.push(connect(&nodes[index].resp).await);
    }
    read_back_all(&mut survivor_cons).await;

    // New writes are accepted and readable.
    for (turn, con) in survivor_cons.iter_mut().enumerate() {
        let key = format!("after-crash:{turn}");
        eventually("a write after the crash", || {
            let key = key.clone();
            let mut con = con.clone();
            async move { con.set::<_, _, ()>(&key, "new").await.ok() }
        })
        .await;
        let got: Option<String> = con.get(&key).await.unwrap();
        assert_eq!(got.as_deref(), Some("new"));
    }

    // Restart node 1 on its old ring port, joining a survivor: it takes its ranges back.
    let ring = nodes[1].ring.clone();
    let restarted = start_node(&ring, &[&nodes[0].ring], &["--replicas", "2"]).await;
    assert_eq!(restarted.ring, ring);
    eventually("the restarted node to have predecessors", || async {
        let status = status(&restarted).await?;
        let vnodes = status["vnodes"].as_array()?;
        (!vnodes.is_empty() && vnodes.iter().all(|v| v["predecessor"]["host"].is_string()))
            .then_some(())
    })
    .await;
    let mut con = connect(&restarted.resp).await;
    eventually("the restarted node to hold keys again", || {
        let mut con = con.clone();
        async move {
            let size: usize = redis::cmd("DBSIZE").query_async(&mut con).await.ok()?;
            (size > 0).then_some(())
        }
    })
    .await;
    let (key, value) = crash_pair(4242);
    let got: Option<String> = con.get(&key).await.unwrap();
    assert_eq!(got, Some(value));
}

/// `kill -INT pid`: what Ctrl-C sends.
fn interrupt(child: &Child) {
    let pid = child.id().expect("child already reaped");
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn demo_answers_redis_and_stops_on_sigint() {
    // A random port base; another process may hold one of its ports, so try a few.
    let seed = std::process::id() as usize;
    for attempt in 0..5 {
        let base = 20_000 + (seed * 7919 + attempt * 1_237) % 20_000;
        let mut child = dendrite()
            .args(["demo", "--base-port", &base.to_string()])
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut ready = false;
        while let Ok(Some(line)) = timeout(WAIT, stdout.next_line()).await.expect("demo hung") {
            if line.starts_with("try: redis-cli") {
                ready = true;
                break;
            }
        }
        if !ready {
            // The demo exited early: most likely a port was taken. Try another base.
            let _ = child.wait().await;
            continue;
        }
        let mut con = connect(&format!("127.0.0.1:{base}")).await;
        let pong: String = redis::cmd("PING").query_async(&mut con).await.unwrap();
        assert_eq!(pong, "PONG");
        let greeting: String = con.get("greeting").await.unwrap();
        assert_eq!(greeting, "hello from dendrite");
        let () = con.set("from-test", "yes").await.unwrap();
        let got: String = con.get("from-test").await.unwrap();
        assert_eq!(got, "yes");
        drop(con);
        interrupt(&child);
        let status = timeout(WAIT, child.wait())
            .await
            .expect("demo did not stop on SIGINT")
            .unwrap();
        assert!(status.success(), "demo exited with {status}");
        return;
    }
    panic!("the demo could not start on any of 5 port bases");
}

#[tokio::test]
async fn curve_cluster_from_a_keygen_file() {
    let keygen = timeout(WAIT, dendrite().arg("keygen").output())
        .await
        .expect("keygen hung")
        .unwrap();
    assert!(keygen.status.success());
    let path = std::env::temp_dir().join(format!("dendrite-cluster-{}.key", std::process::id()));
    std::fs::write(&path, &keygen.stdout).unwrap();
    let key_file = path.to_str().unwrap().to_owned();
    let nodes = start_cluster(2, &["--curve-secret-file", &key_file, "--replicas", "1"]).await;
    std::fs::remove_file(&path).unwrap();
    wait_settled(&nodes.iter().collect::<Vec<_>>(), 1).await;
    let mut first = connect(&nodes[0].resp).await;
    let mut second = connect(&nodes[1].resp).await;
    set_consistency(&mut first, 1, 2).await;
    let () = first.set("over-curve", "sealed").await.unwrap();
    let got: Option<String> = second.get("over-curve").await.unwrap();
    assert_eq!(got.as_deref(), Some("sealed"));
}

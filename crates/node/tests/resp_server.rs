//! The RESP server over real loopback sockets, driven by the `redis` crate
//! and by raw TCP where exact bytes matter.

// Helpers outside #[test] functions are test code too; a failed unwrap is a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use dendrite_node::backend::MemoryBackend;
use dendrite_node::launch::start_node;
use dendrite_node::metrics::Metrics;
use dendrite_node::resp::{serve_resp, Password, RespConfig, RespLimits};
use dendrite_node::settings::SettingsLayer;
use dendrite_node::shutdown::{shutdown_channel, ShutdownTrigger};
use redis::aio::MultiplexedConnection;
use redis::AsyncCommands;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::timeout;

#[path = "resp_server/connections.rs"]
mod connections;
#[path = "resp_server/limits.rs"]
mod limits;
#[path = "resp_server/pipelines.rs"]
mod pipelines;

const WAIT: Duration = Duration::from_secs(10);

struct TestServer {
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    trigger: ShutdownTrigger,
    task: JoinHandle<std::io::Result<()>>,
}

async fn start(max_consistency: u8, limits: RespLimits) -> TestServer {
    start_with(max_consistency, limits.into()).await
}

async fn start_with(max_consistency: u8, config: RespConfig) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let metrics = Arc::new(Metrics::new());
    let (trigger, signal) = shutdown_channel();
    let backend = Arc::new(MemoryBackend::new(max_consistency));
    let task = tokio::spawn(serve_resp(
        listener,
        backend,
        metrics.clone(),
        config,
        signal,
    ));
    TestServer {
        addr,
        metrics,
        trigger,
        task,
    }
}

async fn connect(addr: SocketAddr) -> MultiplexedConnection {
    let client = redis::Client::open(format!("redis://{addr}/")).unwrap();
    timeout(WAIT, client.get_multiplexed_async_connection())
        .await
        .expect("connect timed out")
        .unwrap()
}

/// Sends `request` on a fresh raw connection and reads until `expected_len`
/// bytes arrived or the server closed.
async fn raw_exchange(addr: SocketAddr, request: &[u8], expected_len: usize) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    read_at_least(&mut stream, expected_len).await
}

async fn read_at_least(stream: &mut TcpStream, expected_len: usize) -> Vec<u8> {
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    while received.len() < expected_len {
        let read = timeout(WAIT, stream.read(&mut chunk))
            .await
            .expect("read timed out")
            .unwrap();
        if read == 0 {
            break;
        }
        received.extend_from_slice(&chunk[..read]);
    }
    received
}

/// True once the server closed the connection (EOF), within the deadline.
async fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut chunk = [0u8; 64];
    matches!(
        timeout(WAIT, stream.read(&mut chunk)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

fn server_error(error: &redis::RedisError) -> String {
    format!(
        "{} {}",
        error.code().unwrap_or("?"),
        error.detail().unwrap_or("")
    )
}

#[tokio::test]
async fn basic_commands() {
    let server = start(1, RespLimits::default()).await;
    let mut con = connect(server.addr).await;

    let pong: String = redis::cmd("PING").query_async(&mut con).await.unwrap();
    assert_eq!(pong, "PONG");
    let echoed: String = redis::cmd("PING")
        .arg("hi")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(echoed, "hi");
    let echoed: String = redis::cmd("ECHO")
        .arg("hello world")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(echoed, "hello world");

    let () = con.set("a", "1").await.unwrap();
    let () = con.set("b", "2").await.unwrap();
    let a: Option<String> = con.get("a").await.unwrap();
    assert_eq!(a.as_deref(), Some("1"));
    let missing: Option<String> = con.get("nope").await.unwrap();
    assert_eq!(missing, None);

    let exists: i64 = redis::cmd("EXISTS")
        .arg("a")
        .arg("b")
        .arg("nope")
        .arg("a")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(exists, 3, "duplicates count once per mention, like Redis");

    let () = redis::cmd("MSET")
        .arg("c")
        .arg("3")
        .arg("d")
        .arg("4")
        .query_async(&mut con)
        .await
        .unwrap();
    let values: Vec<Option<String>> = redis::cmd("MGET")
        .arg("a")
        .arg("nope")
        .arg("d")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(values, vec![Some("1".into()), None, Some("4".into())]);

    let size: i64 = redis::cmd("DBSIZE").query_async(&mut con).await.unwrap();
    assert_eq!(size, 4);
    let deleted: i64 = redis::cmd("DEL")
        .arg("a")
        .arg("b")
        .arg("nope")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(deleted, 2);
    let size: i64 = redis::cmd("DBSIZE").query_async(&mut con).await.unwrap();
    assert_eq!(size, 2);

    let info: String = redis::cmd("INFO").query_async(&mut con).await.unwrap();
    assert!(info.starts_with("# Server\r\n"), "{info}");
    assert!(info.contains("db0:keys=2"), "{info}");
    let () = redis::cmd("SELECT")
        .arg(0)
        .query_async(&mut con)
        .await
        .unwrap();
    let error = redis::cmd("SELECT")
        .arg(1)
        .query_async::<()>(&mut con)
        .await
        .unwrap_err();
    assert_eq!(server_error(&error), "ERR DB index is out of range");
    let () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("tester")
        .query_async(&mut con)
        .await
        .unwrap();
    let name: String = redis::cmd("CLIENT")
        .arg("GETNAME")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(name, "tester");
    // RESP2: the docs map comes as a flat list, name then fields.
    let docs: Vec<redis::Value> = redis::cmd("COMMAND")
        .arg("DOCS")
        .arg("get")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(docs.len(), 2, "{docs:?}");
    assert_eq!(docs[0], redis::Value::BulkString(b"get".to_vec()));

    assert_eq!(server.metrics.command_count("set"), 2);
    assert!(server.metrics.command_count("get") >= 2);
}

#[tokio::test]
async fn errors_are_worded_like_redis() {
    let server = start(1, RespLimits::default()).await;
    let mut con = connect(server.addr).await;
    let error = redis::cmd("FOO")
        .arg("a")
        .arg("b")
        .query_async::<()>(&mut con)
        .await
        .unwrap_err();
    assert_eq!(
        server_error(&error),
        "ERR unknown command 'FOO', with args beginning with: 'a' 'b' "
    );
    let error = redis::cmd("GET")
        .query_async::<()>(&mut con)
        .await
        .unwrap_err();
    assert_eq!(
        server_error(&error),
        "ERR wrong number of arguments for 'get' command"
    );
    let error = redis::cmd("MSET")
        .arg("a")
        .arg("1")
        .arg("b")
        .query_async::<()>(&mut con)
        .await
        .unwrap_err();
    assert_eq!(
        server_error(&error),
        "ERR wrong number of arguments for 'mset' command"
    );
    let error = redis::cmd("SET")
        .arg("a")
        .arg("1")
        .arg("NX")
        .arg("XX")
        .query_async::<()>(&mut con)
        .await
        .unwrap_err();
    assert_eq!(server_error(&error), "ERR syntax error");

    // The exact bytes, as redis-cli would print them.
    let reply = raw_exchange(
        server.addr,
        b"*3\r\n$3\r\nfoo\r\n$1\r\na\r\n$1\r\nb\r\n",
        62,
    )
    .await;
    assert_eq!(
        String::from_utf8(reply).unwrap(),
        "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n"
    );
    // The connection still works after errors.
    let pong: String = redis::cmd("PING").query_async(&mut con).await.unwrap();
    assert_eq!(pong, "PONG");
}

#[tokio::test]
async fn inline_commands_work() {
    let server = start(1, RespLimits::default()).await;
    let expected = "+PONG\r\n$3\r\na b\r\n+OK\r\n$1\r\nv\r\n";
    let reply = raw_exchange(
        server.addr,
        b"PING\r\nECHO \"a b\"\r\n\r\nSET k v\nGET k\r\n",
        expected.len(),
    )
    .await;
    assert_eq!(String::from_utf8(reply).unwrap(), expected);
}

#[tokio::test]
async fn keys_and_values_are_binary_safe() {
    let server = start(1, RespLimits::default()).await;
    let mut con = connect(server.addr).await;
    let key: Vec<u8> = (0..=255u8).collect();
    let value: Vec<u8> = (0..=255u8).rev().collect();
    let () = con.set(&key, &value).await.unwrap();
    let read: Vec<u8> = con.get(&key).await.unwrap();
    assert_eq!(read, value);
    for byte in 0..=255u8 {
        let () = con
            .set(&[byte][..], &[byte, b'\r', b'\n', byte][..])
            .await
            .unwrap();
    }
    for byte in 0..=255u8 {
        let read: Vec<u8> = con.get(&[byte][..]).await.unwrap();
        assert_eq!(read, [byte, b'\r', b'\n', byte]);
    }
    // A value larger than any single read.
    let big = vec![7u8; 3 * 1024 * 1024 + 5];
    let () = con.set("big", &big).await.unwrap();
    let read: Vec<u8> = con.get("big").await.unwrap();
    assert_eq!(read, big);
}

#[tokio::test]
async fn consistency_command_is_validated() {
    let server = start(3, RespLimits::default()).await;
    let mut con = connect(server.addr).await;
    let () = redis::cmd("CONSISTENCY")
        .arg(2)
        .arg(3)
        .query_async(&mut con)
        .await
        .unwrap();
    let levels: Vec<i64> = redis::cmd("CONSISTENCY")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(levels, vec![2, 3]);
    let error = redis::cmd("CONSISTENCY")
        .arg(4)
        .arg(1)
        .query_async::<()>(&mut con)
        .await
        .unwrap_err();
    assert_eq!(
        server_error(&error),
        "ERR consistency 4 is out of range: this cluster allows 1..=3 (replicas + 1)"
    );
    let error = redis::cmd("DENDRITE.CONSISTENCY")
        .arg(0)
        .arg(1)
        .query_async::<()>(&mut con)
        .await
        .unwrap_err();
    assert!(server_error(&error).starts_with("ERR consistency 0 is out of range"));
    let error = redis::cmd("CONSISTENCY")
        .arg("one")
        .arg(1)
        .query_async::<()>(&mut con)
        .await
        .unwrap_err();
    assert_eq!(
        server_error(&error),
        "ERR consistency levels must be integers from 1 to replicas + 1"
    );
    let levels: Vec<i64> = redis::cmd("DENDRITE.CONSISTENCY")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(
        levels,
        vec![2, 3],
        "rejected changes keep the previous levels"
    );
    // Reads and writes still work at the chosen levels.
    let () = con.set("k", "v").await.unwrap();
    let value: String = con.get("k").await.unwrap();
    assert_eq!(value, "v");
}

/// `dendrite bench` against a live RESP server: every request is measured once, none fails,
/// and the percentiles come out ordered and non-zero.
#[tokio::test]
async fn the_bench_command_measures_every_request() {
    use dendrite_node::bench::{run_bench, BenchPlan, Workload};
    let server = start(1, RespLimits::default()).await;
    for workload in [Workload::Mixed, Workload::B] {
        let plan = BenchPlan {
            addr: server.addr.to_string(),
            clients: 4,
            requests: 400,
            value_size: 32,
            keyspace: 50,
            workload,
            consistency: None,
            duration: None,
            rate: None,
        };
        let report = timeout(WAIT, run_bench(&plan))
            .await
            .expect("bench timed out")
            .unwrap();
        assert_eq!(report.set.count + report.get.count, 400, "{workload:?}");
        assert_eq!(report.set.errors + report.get.errors, 0, "{workload:?}");
        assert!(report.get.count > 0 && report.set.count > 0, "{workload:?}");
        for summary in [&report.set, &report.get] {
            let [p50, p90, p99, p999] = summary.percentiles;
            assert!(Duration::ZERO < p50 && p50 <= p90 && p90 <= p99 && p99 <= p999);
        }
    }
}

/// `dendrite bench --duration --rate` (the soak's load): it runs until the time is up, never
/// sends faster than the rate, and every client sends.
#[tokio::test]
async fn a_paced_bench_keeps_to_its_rate_and_its_duration() {
    use dendrite_node::bench::{run_bench, BenchPlan, Workload};
    let server = start(1, RespLimits::default()).await;
    let plan = BenchPlan {
        addr: server.addr.to_string(),
        clients: 4,
        requests: 1,
        value_size: 32,
        keyspace: 50,
        workload: Workload::Mixed,
        consistency: None,
        duration: Some(Duration::from_secs(1)),
        rate: Some(100.0),
    };
    let report = timeout(WAIT, run_bench(&plan))
        .await
        .expect("bench timed out")
        .unwrap();
    let sent = report.set.count + report.get.count;
    assert!(report.elapsed >= Duration::from_secs(1), "{report}");
    // 100 a second for 1 s, plus at most one per client at the start of its schedule.
    assert!((4..=104).contains(&sent), "{sent} requests: {report}");
    assert_eq!(report.set.errors + report.get.errors, 0, "{report}");
    for bad in [Some(0.0), Some(f64::NAN), Some(-1.0)] {
        let plan = BenchPlan {
            rate: bad,
            ..plan.clone()
        };
        assert!(run_bench(&plan).await.is_err(), "rate {bad:?} accepted");
    }
}

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
async fn pipelines_keep_order() {
    let server = start(1, RespLimits::default()).await;
    let mut con = connect(server.addr).await;
    let mut pipe = redis::pipe();
    for index in 0..1000 {
        pipe.cmd("SET")
            .arg(format!("key:{index}"))
            .arg(index)
            .ignore();
    }
    for index in 0..1000 {
        pipe.cmd("GET").arg(format!("key:{index}"));
    }
    let values: Vec<i64> = pipe.query_async(&mut con).await.unwrap();
    assert_eq!(values, (0..1000).collect::<Vec<i64>>());

    // 1000 PINGs in one write get 1000 PONGs back, in order.
    let request = b"*1\r\n$4\r\nPING\r\n".repeat(1000);
    let reply = raw_exchange(server.addr, &request, 7 * 1000).await;
    assert_eq!(reply, b"+PONG\r\n".repeat(1000));
}

/// Runs of pipelined GETs are answered by one multi-key read: interleaved writes, a GET of the
/// wrong arity, other commands and a protocol error right after a run must all keep their place.
#[tokio::test]
async fn grouped_pipelined_gets_keep_order_and_see_earlier_writes() {
    let server = start(1, RespLimits::default()).await;
    let mut con = connect(server.addr).await;
    let mut pipe = redis::pipe();
    pipe.cmd("SET").arg("a").arg("1");
    pipe.cmd("GET").arg("a");
    pipe.cmd("GET").arg("missing");
    pipe.cmd("GET").arg("a");
    pipe.cmd("SET").arg("a").arg("2");
    pipe.cmd("GET").arg("a");
    pipe.cmd("PING");
    pipe.cmd("GET").arg("a");
    pipe.cmd("DEL").arg("a");
    pipe.cmd("GET").arg("a");
    let replies: Vec<redis::Value> = pipe.query_async(&mut con).await.unwrap();
    let ok = redis::Value::Okay;
    let bulk = |v: &str| redis::Value::BulkString(v.as_bytes().to_vec());
    assert_eq!(
        replies,
        vec![
            ok.clone(),
            bulk("1"),
            redis::Value::Nil,
            bulk("1"),
            ok,
            bulk("2"),
            redis::Value::SimpleString("PONG".into()),
            bulk("2"),
            redis::Value::Int(1),
            redis::Value::Nil,
        ]
    );

    // A GET of the wrong arity inside a run of GETs gets Redis's error, in its place.
    let request =
        b"*2\r\n$3\r\nGET\r\n$1\r\nx\r\n*1\r\n$3\r\nGET\r\n*2\r\n$3\r\nGET\r\n$1\r\ny\r\n";
    let expected = b"$-1\r\n-ERR wrong number of arguments for 'get' command\r\n$-1\r\n";
    let reply = raw_exchange(server.addr, request, expected.len()).await;
    assert_eq!(
        String::from_utf8_lossy(&reply),
        String::from_utf8_lossy(expected)
    );

    // GETs followed by garbage: the GETs are answered, then the protocol error, then close.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"*2\r\n$3\r\nGET\r\n$1\r\nx\r\n*2\r\n$3\r\nGET\r\n$1\r\nx\r\n*1\r\n$x\r\n")
        .await
        .unwrap();
    let expected = "$-1\r\n$-1\r\n-ERR Protocol error: invalid bulk length\r\n";
    let reply = read_at_least(&mut stream, expected.len()).await;
    assert_eq!(String::from_utf8_lossy(&reply), expected);
    assert!(closed_by_server(&mut stream).await);
}

/// Runs of pipelined plain SETs are written with one multi-key write: the last SET of a key in
/// a run wins, GETs after the run see it, and a SET with options or the wrong arity inside the
/// run is answered in its place.
#[tokio::test]
async fn grouped_pipelined_sets_keep_order_and_last_write_wins() {
    let server = start(1, RespLimits::default()).await;
    let mut con = connect(server.addr).await;
    let mut pipe = redis::pipe();
    pipe.cmd("SET").arg("a").arg("1");
    pipe.cmd("SET").arg("b").arg("2");
    pipe.cmd("SET").arg("a").arg("3");
    pipe.cmd("GET").arg("a");
    pipe.cmd("SET").arg("b").arg("4");
    pipe.cmd("SET").arg("c").arg("5");
    pipe.cmd("MGET").arg("a").arg("b").arg("c");
    let replies: Vec<redis::Value> = pipe.query_async(&mut con).await.unwrap();
    let ok = redis::Value::Okay;
    let bulk = |v: &str| redis::Value::BulkString(v.as_bytes().to_vec());
    assert_eq!(
        replies,
        vec![
            ok.clone(),
            ok.clone(),
            ok.clone(),
            bulk("3"),
            ok.clone(),
            ok,
            redis::Value::Array(vec![bulk("3"), bulk("4"), bulk("5")]),
        ]
    );
    assert_eq!(server.metrics.command_count("set"), 5);

    // A SET of the wrong arity inside a run of SETs gets Redis's error, in its place, and the
    // SETs around it still land.
    let request = b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n1\r\n*2\r\n$3\r\nSET\r\n$1\r\ny\r\n\
                    *3\r\n$3\r\nSET\r\n$1\r\ny\r\n$1\r\n2\r\n";
    let expected = b"+OK\r\n-ERR wrong number of arguments for 'set' command\r\n+OK\r\n";
    let reply = raw_exchange(server.addr, request, expected.len()).await;
    assert_eq!(
        String::from_utf8_lossy(&reply),
        String::from_utf8_lossy(expected)
    );
    let values: Vec<Option<String>> = con.mget(&["x", "y"]).await.unwrap();
    assert_eq!(values, vec![Some("1".to_owned()), Some("2".to_owned())]);
}

/// SETs with a time option join the runs of plain SETs: each keeps its own deadline, a bad
/// time gets Redis's error in its place, and the SETs around it land.
#[tokio::test]
async fn grouped_pipelined_sets_with_deadlines_keep_each_deadline() {
    let server = start(1, RespLimits::default()).await;
    let mut request = bytes::BytesMut::new();
    for line in [
        "SET a 1 EX 100",
        "SET b 2 ex 0",
        "SET c 3",
        "SET d 4 PX 200000",
        "SET e 5 PXAT 1",
        "TTL a",
        "TTL c",
        "TTL d",
        "EXISTS b e",
    ] {
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        dendrite_node::resp::encode_request(&args, &mut request);
    }
    let expected = "+OK\r\n-ERR invalid expire time in 'set' command\r\n+OK\r\n+OK\r\n+OK\r\n\
                    :100\r\n:-1\r\n:200\r\n:0\r\n";
    let reply = raw_exchange(server.addr, &request, expected.len()).await;
    assert_eq!(String::from_utf8_lossy(&reply), expected);
    assert_eq!(server.metrics.command_count("set"), 5);
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

#[tokio::test]
async fn quit_replies_ok_then_closes() {
    let server = start(1, RespLimits::default()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"*1\r\n$4\r\nQUIT\r\n*1\r\n$4\r\nPING\r\n")
        .await
        .unwrap();
    let reply = read_at_least(&mut stream, 5).await;
    assert_eq!(reply, b"+OK\r\n", "nothing after QUIT is executed");
    assert!(closed_by_server(&mut stream).await);
}

#[tokio::test]
async fn protocol_garbage_gets_an_error_and_others_are_unaffected() {
    let server = start(1, RespLimits::default()).await;
    let mut good = connect(server.addr).await;
    let cases: [(&[u8], &str); 4] = [
        (
            b"*1\r\n$x\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n:5\r\n",
            "-ERR Protocol error: expected '$', got ':'\r\n",
        ),
        (
            b"*abc\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"SET \"unterminated\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
    ];
    for (garbage, expected) in cases {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(garbage).await.unwrap();
        let reply = read_at_least(&mut stream, expected.len()).await;
        assert_eq!(String::from_utf8_lossy(&reply), expected);
        assert!(
            closed_by_server(&mut stream).await,
            "connection must close after a protocol error"
        );
    }
    let pong: String = redis::cmd("PING").query_async(&mut good).await.unwrap();
    assert_eq!(pong, "PONG");
}

#[tokio::test]
async fn client_limit_refuses_extra_connections() {
    let limits = RespLimits {
        max_clients: 1,
        ..RespLimits::default()
    };
    let server = start(1, limits).await;
    let mut first = TcpStream::connect(server.addr).await.unwrap();
    first.write_all(b"PING\r\n").await.unwrap();
    assert_eq!(read_at_least(&mut first, 7).await, b"+PONG\r\n");
    let mut second = TcpStream::connect(server.addr).await.unwrap();
    let reply = read_at_least(&mut second, 36).await;
    assert_eq!(
        String::from_utf8_lossy(&reply),
        "-ERR max number of clients reached\r\n"
    );
    assert!(closed_by_server(&mut second).await);
}

#[tokio::test]
async fn shutdown_stops_the_server_and_closes_clients() {
    let server = start(1, RespLimits::default()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(b"PING\r\n").await.unwrap();
    assert_eq!(read_at_least(&mut stream, 7).await, b"+PONG\r\n");
    server.trigger.trigger();
    let finished = timeout(WAIT, server.task)
        .await
        .expect("server did not stop");
    finished.unwrap().unwrap();
    assert!(closed_by_server(&mut stream).await);
}

#[tokio::test]
async fn requirepass_allows_only_auth_hello_and_quit_before_auth() {
    let server = start_with(
        1,
        RespConfig {
            requirepass: Some(Password::new("s3cret")),
            ..RespConfig::default()
        },
    )
    .await;
    let request =
        b"PING\r\nGET k\r\nAUTH wrong\r\nAUTH bob s3cret\r\nHELLO 2\r\nAUTH s3cret\r\nPING\r\n";
    let expected = [
        "-NOAUTH Authentication required.\r\n",
        "-NOAUTH Authentication required.\r\n",
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
        "-NOAUTH HELLO must be called with the client already authenticated, otherwise the \
         HELLO AUTH <user> <pass> option can be used to authenticate the client and \
         select the RESP protocol version at the same time\r\n",
        "+OK\r\n",
        "+PONG\r\n",
    ]
    .concat();
    let received = raw_exchange(server.addr, request, expected.len()).await;
    assert_eq!(String::from_utf8_lossy(&received), expected);

    // The redis crate logs in with the password from the URL.
    let url = format!("redis://:s3cret@{}/", server.addr);
    let client = redis::Client::open(url).unwrap();
    let mut con = timeout(WAIT, client.get_multiplexed_async_connection())
        .await
        .unwrap()
        .unwrap();
    let () = con.set("k", "v").await.unwrap();
    let value: String = con.get("k").await.unwrap();
    assert_eq!(value, "v");
    let mut anonymous = connect(server.addr).await;
    let error = anonymous.get::<_, Option<String>>("k").await.unwrap_err();
    assert_eq!(error.code(), Some("NOAUTH"), "{error}");
    server.trigger.trigger();
}

#[tokio::test]
async fn auth_without_a_password_and_hello_two() {
    let server = start(1, RespLimits::default()).await;
    let mut con = connect(server.addr).await;
    let error = redis::cmd("AUTH")
        .arg("x")
        .query_async::<String>(&mut con)
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("called without any password configured for the default user"),
        "{error}"
    );
    let hello: Vec<redis::Value> = redis::cmd("HELLO")
        .arg(2)
        .arg("SETNAME")
        .arg("worker")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(hello.len(), 14);
    let name: String = redis::cmd("CLIENT")
        .arg("GETNAME")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(name, "worker");
    let error = redis::cmd("HELLO")
        .arg(4)
        .query_async::<redis::Value>(&mut con)
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("NOPROTO"), "{error}");
    server.trigger.trigger();
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

#[tokio::test]
async fn a_node_refuses_bulk_strings_over_the_table_value_limit_as_redis_does() {
    let settings = SettingsLayer {
        listen: Some("127.0.0.1:0".into()),
        resp: Some("127.0.0.1:0".into()),
        http: Some("127.0.0.1:0".into()),
        replicas: Some(0),
        ..SettingsLayer::default()
    }
    .validate()
    .unwrap();
    let limit = dtable::TableConfig::default().max_value_len;
    assert_eq!(settings.proto_max_bulk_len, limit);
    let (trigger, signal) = shutdown_channel();
    let node = start_node(&settings, signal).await.unwrap();

    // Exactly the limit: read, stored, read back.
    let mut con = connect(node.resp_addr).await;
    let largest = vec![b'v'; limit];
    let () = con.set("largest", &largest).await.unwrap();
    let back: Vec<u8> = con.get("largest").await.unwrap();
    assert_eq!(back.len(), limit);

    // One byte more: Redis's error, then the connection closes (without buffering the value:
    // the header alone is refused).
    let header = format!("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n${}\r\n", limit + 1);
    let expected = "-ERR Protocol error: invalid bulk length\r\n";
    let mut stream = TcpStream::connect(node.resp_addr).await.unwrap();
    stream.write_all(header.as_bytes()).await.unwrap();
    let reply = read_at_least(&mut stream, expected.len()).await;
    assert_eq!(String::from_utf8_lossy(&reply), expected);
    assert!(
        closed_by_server(&mut stream).await,
        "Redis closes the connection"
    );

    // A real client sending the whole value: the server answers and closes while the client
    // is still writing megabytes, so the client sees either the error or its write fail on the
    // closed connection, as with redis-server. Either way nothing is stored.
    let mut doomed = connect(node.resp_addr).await;
    let error = doomed
        .set::<_, _, ()>("big", vec![b'v'; limit + 1])
        .await
        .unwrap_err();
    assert!(
        server_error(&error) == "ERR Protocol error: invalid bulk length"
            || error.is_connection_dropped()
            || error.is_io_error(),
        "{error:?}"
    );
    let absent: Option<Vec<u8>> = con.get("big").await.unwrap();
    assert_eq!(absent, None);
    // The table's refused-version counter is exported with the others.
    let metrics =
        dendrite_node::http::client::http_get(&node.http_addr.to_string(), "/metrics", WAIT)
            .await
            .unwrap();
    let text = String::from_utf8(metrics.body).unwrap();
    assert!(
        text.contains("# HELP dendrite_versions_refused_total ")
            && text.contains("# TYPE dendrite_versions_refused_total counter\n")
            && text.contains("\ndendrite_versions_refused_total 0\n"),
        "{text}"
    );
    trigger.trigger();
    timeout(WAIT, node.wait())
        .await
        .expect("node did not stop")
        .unwrap();
}

#[tokio::test]
async fn a_real_client_gets_the_redis_error_for_a_bulk_string_over_the_limit() {
    // A small limit, so the whole request fits in the socket buffers and the client reads the
    // answer instead of failing to write the rest.
    let limits = RespLimits {
        parse: dendrite_node::resp::ParseLimits {
            max_bulk_len: 1024,
            ..Default::default()
        },
        ..RespLimits::default()
    };
    let server = start(1, limits).await;
    let mut con = connect(server.addr).await;
    let () = con.set("fits", vec![b'v'; 1024]).await.unwrap();
    let stored: Vec<u8> = con.get("fits").await.unwrap();
    assert_eq!(stored.len(), 1024);
    let mut doomed = connect(server.addr).await;
    let error = doomed
        .set::<_, _, ()>("over", vec![b'v'; 1025])
        .await
        .unwrap_err();
    assert_eq!(
        server_error(&error),
        "ERR Protocol error: invalid bulk length",
        "{error:?}"
    );
    // Redis closes the connection after a protocol error.
    let after = redis::cmd("PING").query_async::<String>(&mut doomed).await;
    assert!(after.is_err(), "{after:?}");
    let absent: Option<Vec<u8>> = con.get("over").await.unwrap();
    assert_eq!(absent, None);
}

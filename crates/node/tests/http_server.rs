//! The operator HTTP server over real loopback sockets.

// Helpers outside #[test] functions are test code too; a failed unwrap is a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use dendrite_node::backend::MemoryBackend;
use dendrite_node::http::client::http_get;
use dendrite_node::http::{serve_http, serve_http_with, HttpLimits};
use dendrite_node::launch::start_node;
use dendrite_node::metrics::Metrics;
use dendrite_node::settings::SettingsLayer;
use dendrite_node::shutdown::{shutdown_channel, ShutdownTrigger};
use redis::AsyncCommands;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);

async fn start() -> (SocketAddr, Arc<Metrics>, ShutdownTrigger) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let metrics = Arc::new(Metrics::new());
    let (trigger, signal) = shutdown_channel();
    tokio::spawn(serve_http(
        listener,
        Arc::new(MemoryBackend::new(3)),
        metrics.clone(),
        signal,
    ));
    (addr, metrics, trigger)
}

/// A server with `limits`, and the task running it (ends after shutdown).
async fn start_limited(limits: HttpLimits) -> (SocketAddr, ShutdownTrigger, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (trigger, signal) = shutdown_channel();
    let server = tokio::spawn(async move {
        serve_http_with(
            listener,
            Arc::new(MemoryBackend::new(3)),
            Arc::new(Metrics::new()),
            limits,
            signal,
        )
        .await
        .unwrap();
    });
    (addr, trigger, server)
}

/// Everything the server sends until it closes the connection. A reset after
/// the response (the server closing with part of a rejected request unread)
/// ends the read like a close does.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut response = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match timeout(WAIT, stream.read(&mut chunk))
            .await
            .expect("server neither answered nor closed")
        {
            Ok(0) | Err(_) => return response,
            Ok(read) => response.extend_from_slice(&chunk[..read]),
        }
    }
}

async fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    String::from_utf8(read_until_closed(&mut stream).await).unwrap()
}

#[tokio::test]
async fn healthz_status_and_metrics() {
    let (addr, metrics, _trigger) = start().await;
    let addr = addr.to_string();
    let health = http_get(&addr, "/healthz", WAIT).await.unwrap();
    assert_eq!((health.status, health.body.as_slice()), (200, &b"ok\n"[..]));

    let status = http_get(&addr, "/status", WAIT).await.unwrap();
    assert_eq!(status.status, 200);
    assert!(status.headers.contains("Content-Type: application/json"));
    let json: serde_json::Value = serde_json::from_slice(&status.body).unwrap();
    assert_eq!(json["backend"], "memory");
    assert_eq!(json["max_consistency"], 3);

    metrics.record_command("get", Duration::from_micros(300), false);
    metrics
        .gauge("dendrite_ring_size", "Nodes in the ring.")
        .unwrap()
        .set(4);
    let scraped = http_get(&addr, "/metrics", WAIT).await.unwrap();
    assert_eq!(scraped.status, 200);
    assert!(scraped.headers.contains("text/plain; version=0.0.4"));
    let text = String::from_utf8(scraped.body).unwrap();
    assert!(
        text.contains("dendrite_commands_total{command=\"get\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("dendrite_command_duration_seconds_bucket{kind=\"get\",le=\"0.0005\"} 1\n")
    );
    assert!(text.contains("\ndendrite_ring_size 4\n"));
}

#[tokio::test]
async fn unknown_paths_methods_and_garbage() {
    let (addr, _metrics, _trigger) = start().await;
    let missing = http_get(&addr.to_string(), "/nope", WAIT).await.unwrap();
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.body,
        b"not found: try /healthz, /status or /metrics\n"
    );
    let post = raw(addr, b"POST /status HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(post.starts_with("HTTP/1.1 405 "), "{post}");
    assert!(post.contains("Allow: GET, HEAD\r\n"));
    assert!(post.ends_with("only GET and HEAD are served\n"), "{post}");
    let head = raw(addr, b"HEAD /healthz HTTP/1.1\r\n\r\n").await;
    assert!(
        head.starts_with("HTTP/1.1 200 OK\r\n") && head.ends_with("\r\n\r\n"),
        "{head}"
    );
    // What the hand-written parser rejected, hyper rejects too: a TLS hello,
    // a request line without a version, HTTP/2, an extra token, a bad header.
    for malformed in [
        &b"\x16\x03\x01 hello\r\n\r\n"[..],
        b"GET /x\r\n\r\n",
        b"GET /x HTTP/2\r\n\r\n",
        b"GET /x HTTP/1.1 extra\r\n\r\n",
        b"GET /x HTTP/1.1\r\nno colon here\r\n\r\n",
    ] {
        let answer = raw(addr, malformed).await;
        assert!(
            answer.starts_with("HTTP/1.1 400 "),
            "{:?} got {answer:?}",
            String::from_utf8_lossy(malformed)
        );
    }
    let huge = raw(addr, &vec![b'a'; 20_000]).await;
    assert!(huge.starts_with("HTTP/1.1 431 "), "{huge}");
    let mut big_header = b"GET /healthz HTTP/1.1\r\nX-Padding: ".to_vec();
    big_header.extend(std::iter::repeat_n(b'p', 9_000));
    big_header.extend_from_slice(b"\r\n\r\n");
    let big_header = raw(addr, &big_header).await;
    assert!(big_header.starts_with("HTTP/1.1 431 "), "{big_header}");
    // Still serving after all that.
    let health = http_get(&addr.to_string(), "/healthz", WAIT).await.unwrap();
    assert_eq!(health.status, 200);
}

#[tokio::test]
async fn a_launched_node_counts_resp_commands_in_its_metrics() {
    let settings = SettingsLayer {
        resp: Some("127.0.0.1:0".into()),
        http: Some("127.0.0.1:0".into()),
        replicas: Some(1),
        ..SettingsLayer::default()
    }
    .validate()
    .unwrap();
    let (trigger, signal) = shutdown_channel();
    let node = start_node(&settings, signal).await.unwrap();
    let client = redis::Client::open(format!("redis://{}/", node.resp_addr)).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let () = con.set("k", "v").await.unwrap();
    let value: String = con.get("k").await.unwrap();
    assert_eq!(value, "v");
    let http = node.http_addr.to_string();
    let text = String::from_utf8(http_get(&http, "/metrics", WAIT).await.unwrap().body).unwrap();
    assert!(
        text.contains("dendrite_commands_total{command=\"set\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("dendrite_connected_clients 1\n"), "{text}");
    let status: serde_json::Value =
        serde_json::from_slice(&http_get(&http, "/status", WAIT).await.unwrap().body).unwrap();
    assert_eq!(status["keys"], 1);
    assert_eq!(status["max_consistency"], 2);
    trigger.trigger();
    timeout(WAIT, node.wait())
        .await
        .expect("node did not stop")
        .unwrap();
}

/// Every metric family a launched node with a data directory exports: its name as its
/// `# TYPE` line gives it (a counter's with `_total`), its type, and the labels of its
/// samples (a histogram's buckets add `le`).
const FAMILIES: [(&str, &str, &[&str]); 37] = [
    ("dendrite_uptime_seconds", "gauge", &[]),
    ("dendrite_commands_total", "counter", &["command"]),
    ("dendrite_command_errors_total", "counter", &["command"]),
    ("dendrite_command_duration_seconds", "histogram", &["kind"]),
    ("dendrite_connected_clients", "gauge", &[]),
    ("dendrite_connections_total", "counter", &[]),
    ("dendrite_rejected_connections_total", "counter", &[]),
    ("dendrite_protocol_errors_total", "counter", &[]),
    ("dendrite_cluster_requests_total", "counter", &["outcome"]),
    ("dendrite_ring_changes_total", "counter", &["kind"]),
    ("dendrite_ring_vnodes", "gauge", &[]),
    ("dendrite_ring_running", "gauge", &[]),
    ("dendrite_keys", "gauge", &[]),
    (
        "dendrite_table_requests_total",
        "counter",
        &["op", "outcome"],
    ),
    ("dendrite_replication_backlog", "gauge", &[]),
    ("dendrite_replication_failures_total", "counter", &[]),
    ("dendrite_migrated_records_total", "counter", &["direction"]),
    ("dendrite_pulled_after_restart", "untyped", &["unit"]),
    ("dendrite_underreplicated_ranges", "gauge", &[]),
    ("dendrite_handed_back_records_total", "counter", &[]),
    ("dendrite_expired_keys_total", "counter", &[]),
    ("dendrite_unsettled_reads_total", "counter", &[]),
    ("dendrite_repair_rounds_total", "counter", &[]),
    ("dendrite_versions_refused_total", "counter", &[]),
    ("dendrite_routes_total", "counter", &["route"]),
    ("dendrite_log_bytes", "gauge", &["file"]),
    ("dendrite_log_unsynced_bytes", "gauge", &[]),
    ("dendrite_log_fsync_lag_milliseconds", "gauge", &[]),
    ("dendrite_log_fsyncs_total", "counter", &[]),
    ("dendrite_log_write_errors_total", "counter", &[]),
    ("dendrite_log_refused_writes_total", "counter", &[]),
    ("dendrite_log_writable", "gauge", &[]),
    ("dendrite_log_snapshots_total", "counter", &[]),
    ("dendrite_log_last_snapshot_timestamp_seconds", "gauge", &[]),
    ("dendrite_recovery_records", "gauge", &[]),
    ("dendrite_recovery_duration_milliseconds", "gauge", &[]),
    ("dendrite_recovery_truncated_tails", "gauge", &[]),
];

/// The name and label names of a sample line (`name{a="x",b="y"} value`).
fn sample_name_and_labels(line: &str) -> (&str, Vec<&str>) {
    let Some((name, rest)) = line.split_once('{') else {
        let (name, _value) = line.split_once(' ').unwrap();
        return (name, Vec::new());
    };
    let (labels, _value) = rest.rsplit_once("} ").unwrap();
    // Label values here hold no quotes, so every other quote-separated piece is a `,key=`.
    let keys = labels
        .split('"')
        .step_by(2)
        .filter_map(|key| key.trim_start_matches(',').strip_suffix('='))
        .collect();
    (name, keys)
}

#[tokio::test]
async fn every_family_of_a_launched_node_is_typed_and_known() {
    let data = tempfile::tempdir().unwrap();
    let settings = SettingsLayer {
        resp: Some("127.0.0.1:0".into()),
        http: Some("127.0.0.1:0".into()),
        data_dir: Some(data.path().to_owned()),
        ..SettingsLayer::default()
    }
    .validate()
    .unwrap();
    let (trigger, signal) = shutdown_channel();
    let node = start_node(&settings, signal).await.unwrap();
    let scraped = http_get(&node.http_addr.to_string(), "/metrics", WAIT)
        .await
        .unwrap();
    let text = String::from_utf8(scraped.body).unwrap();

    let mut typed = Vec::new();
    let mut helped = Vec::new();
    // The family the samples below its `# TYPE` line belong to.
    let mut current: Option<(&str, &str, &[&str])> = None;
    for line in text.lines() {
        if let Some(help) = line.strip_prefix("# HELP ") {
            helped.push(help.split_once(' ').unwrap().0);
        } else if let Some(declared) = line.strip_prefix("# TYPE ") {
            let (name, kind) = declared.split_once(' ').unwrap();
            let family = FAMILIES.iter().find(|(known, ..)| *known == name);
            let &(_, known_kind, labels) =
                family.unwrap_or_else(|| panic!("unknown family {name}:\n{text}"));
            assert_eq!(kind, known_kind, "type of {name}");
            typed.push(name);
            current = Some((name, kind, labels));
        } else if !line.is_empty() {
            assert!(!line.starts_with('#'), "unexpected comment {line:?}");
            let (family, kind, labels) =
                current.unwrap_or_else(|| panic!("{line:?} before any # TYPE"));
            let (name, keys) = sample_name_and_labels(line);
            let expected: Vec<&str> = match (kind, name.strip_prefix(family)) {
                ("histogram", Some("_bucket")) => labels.iter().copied().chain(["le"]).collect(),
                ("histogram", Some("_sum" | "_count")) | (_, Some("")) => labels.to_vec(),
                _ => panic!("sample {name} in family {family}"),
            };
            assert_eq!(keys, expected, "labels of {line:?}");
        }
    }
    // Each family once, none missing (their order is no contract).
    let mut known: Vec<&str> = FAMILIES.iter().map(|(name, ..)| *name).collect();
    known.sort_unstable();
    typed.sort_unstable();
    helped.sort_unstable();
    assert_eq!(typed, known, "families with a # TYPE");
    assert_eq!(helped, known, "families with a # HELP");

    trigger.trigger();
    timeout(WAIT, node.wait())
        .await
        .expect("node did not stop")
        .unwrap();
}

#[tokio::test]
async fn status_client_reports_unreachable_nodes() {
    // Bind and drop to get a port nobody listens on.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let error = http_get(&addr, "/status", WAIT).await.unwrap_err();
    assert!(error.to_string().contains("is the node running"), "{error}");
}

#[tokio::test]
async fn a_client_that_never_finishes_its_request_head_is_dropped() {
    let (addr, _trigger, _server) = start_limited(HttpLimits {
        header_read_timeout: Duration::from_millis(200),
        ..HttpLimits::default()
    })
    .await;
    let mut silent = TcpStream::connect(addr).await.unwrap();
    silent
        .write_all(b"GET /healthz HTTP/1.1\r\n")
        .await
        .unwrap();
    // Closed without an answer (hyper sends no 408), well before WAIT.
    let answer = read_until_closed(&mut silent).await;
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    // A client that does send its request is still served.
    let health = http_get(&addr.to_string(), "/healthz", WAIT).await.unwrap();
    assert_eq!(health.status, 200);
}

#[tokio::test]
async fn clients_beyond_the_connection_cap_wait_for_a_free_slot() {
    let (addr, _trigger, _server) = start_limited(HttpLimits {
        max_connections: 1,
        header_read_timeout: Duration::from_secs(600),
        ..HttpLimits::default()
    })
    .await;
    // Takes the only slot: accepted first (the backlog is FIFO), sends nothing.
    let holder = TcpStream::connect(addr).await.unwrap();
    let mut waiting = TcpStream::connect(addr).await.unwrap();
    waiting
        .write_all(b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    // Not a synchronisation wait: a bounded check that nothing arrives while
    // the slot is taken (it could only pass wrongly, never fail wrongly).
    let mut byte = [0u8; 1];
    let early = timeout(Duration::from_millis(300), waiting.read(&mut byte)).await;
    assert!(early.is_err(), "answered past the cap: {early:?}");
    drop(holder);
    let answer = String::from_utf8(read_until_closed(&mut waiting).await).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.ends_with("\r\n\r\nok\n"), "{answer}");
}

#[tokio::test]
async fn shutdown_closes_idle_connections_and_stops_the_server() {
    let (addr, trigger, server) = start_limited(HttpLimits {
        header_read_timeout: Duration::from_secs(600),
        ..HttpLimits::default()
    })
    .await;
    let mut idle = TcpStream::connect(addr).await.unwrap();
    // Served once, so the server has surely accepted connections by now.
    let health = http_get(&addr.to_string(), "/healthz", WAIT).await.unwrap();
    assert_eq!(health.status, 200);
    trigger.trigger();
    timeout(WAIT, server)
        .await
        .expect("server did not stop")
        .unwrap();
    assert!(read_until_closed(&mut idle).await.is_empty());
    assert!(TcpStream::connect(addr).await.is_err(), "still listening");
}

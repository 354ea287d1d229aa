//! The operator HTTP server over real loopback sockets.

// Helpers outside #[test] functions are test code too; a failed unwrap is a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use dendrite_node::backend::MemoryBackend;
use dendrite_node::http::client::http_get;
use dendrite_node::http::serve_http;
use dendrite_node::launch::start_node;
use dendrite_node::metrics::Metrics;
use dendrite_node::settings::SettingsLayer;
use dendrite_node::shutdown::{shutdown_channel, ShutdownTrigger};
use redis::AsyncCommands;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
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

async fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut response = Vec::new();
    timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .expect("no response")
        .unwrap();
    String::from_utf8(response).unwrap()
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
    let post = raw(addr, b"POST /status HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(post.starts_with("HTTP/1.1 405 "), "{post}");
    assert!(post.contains("Allow: GET, HEAD\r\n"));
    let head = raw(addr, b"HEAD /healthz HTTP/1.1\r\n\r\n").await;
    assert!(
        head.starts_with("HTTP/1.1 200 OK\r\n") && head.ends_with("\r\n\r\n"),
        "{head}"
    );
    let garbage = raw(addr, b"\x16\x03\x01 hello\r\n\r\n").await;
    assert!(garbage.starts_with("HTTP/1.1 400 "), "{garbage}");
    let huge = raw(addr, &vec![b'a'; 20_000]).await;
    assert!(huge.starts_with("HTTP/1.1 431 "), "{huge}");
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

#[tokio::test]
async fn status_client_reports_unreachable_nodes() {
    // Bind and drop to get a port nobody listens on.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let error = http_get(&addr, "/status", WAIT).await.unwrap_err();
    assert!(error.to_string().contains("is the node running"), "{error}");
}

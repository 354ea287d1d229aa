//! NULL request/reply over real loopback TCP: server, client and their failure handling.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns unwrap too

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{assert_still_serves, echo_server, echoed, eventually, WAIT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zmtp::{Client, ClientConfig, Connection, ConnectionConfig, Inbound, ServerConfig, ZmtpError};

#[tokio::test]
async fn null_request_reply() {
    let server = echo_server(ServerConfig::default()).await;
    let client = Client::new(ClientConfig::default()).unwrap();
    let addr = server.local_addr().to_string();
    let reply = client
        .request(
            &addr,
            vec![Bytes::from_static(b"hi"), Bytes::from_static(b"there")],
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(reply, echoed(&[b"hi", b"there"]));
    // An empty body is a valid request too.
    let reply = client.request(&addr, vec![], WAIT).await.unwrap();
    assert_eq!(reply, echoed(&[]));
}

#[tokio::test]
async fn many_pipelined_concurrent_requests() {
    let server = echo_server(ServerConfig::default()).await;
    let config = ClientConfig {
        max_in_flight: 32,
        ..Default::default()
    };
    let client = Client::new(config).unwrap();
    let addr = server.local_addr().to_string();
    let requests = (0..500u32).map(|i| {
        let client = client.clone();
        let addr = addr.clone();
        async move {
            let body = Bytes::from(i.to_be_bytes().to_vec());
            let reply = client
                .request(&addr, vec![body.clone()], WAIT)
                .await
                .unwrap();
            assert_eq!(reply, vec![Bytes::from_static(b"echo:"), body]);
        }
    });
    tokio::time::timeout(WAIT * 3, futures::future::join_all(requests))
        .await
        .unwrap();
    assert_eq!(
        server.active_connections(),
        1,
        "one persistent connection per peer"
    );
}

#[tokio::test]
async fn server_echoes_the_whole_envelope() {
    let server = echo_server(ServerConfig::default()).await;
    let stream = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut conn = Connection::over(stream, &ConnectionConfig::new("DEALER"))
        .await
        .unwrap();
    assert_eq!(conn.peer.socket_type().as_deref(), Some("ROUTER"));
    // Two routing hops before the delimiter, as a proxy would add.
    let request = vec![
        Bytes::from_static(b"hop1"),
        Bytes::from_static(b"hop2"),
        Bytes::new(),
        Bytes::from_static(b"body"),
    ];
    conn.send(&request).await.unwrap();
    let reply = tokio::time::timeout(WAIT, conn.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        reply,
        vec![
            Bytes::from_static(b"hop1"),
            Bytes::from_static(b"hop2"),
            Bytes::new(),
            Bytes::from_static(b"echo:"),
            Bytes::from_static(b"body"),
        ]
    );
    // REQ style: just the delimiter.
    conn.send(&[Bytes::new(), Bytes::from_static(b"x")])
        .await
        .unwrap();
    let reply = tokio::time::timeout(WAIT, conn.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        reply,
        vec![
            Bytes::new(),
            Bytes::from_static(b"echo:"),
            Bytes::from_static(b"x")
        ]
    );
}

#[tokio::test]
async fn oversized_request_is_refused_and_server_keeps_serving() {
    let config = ServerConfig {
        max_message_size: 1024,
        ..Default::default()
    };
    let server = echo_server(config).await;
    let client = Client::new(ClientConfig::default()).unwrap();
    let addr = server.local_addr().to_string();
    let err = client
        .request(&addr, vec![Bytes::from(vec![1u8; 4096])], WAIT)
        .await
        .unwrap_err();
    assert!(matches!(err, ZmtpError::Closed), "{err:?}");
    // The same client reconnects and a normal request works.
    let reply = client
        .request(&addr, vec![Bytes::from_static(b"small")], WAIT)
        .await
        .unwrap();
    assert_eq!(reply, echoed(&[b"small"]));
}

#[tokio::test]
async fn silent_peer_is_dropped_after_handshake_timeout() {
    let config = ServerConfig {
        handshake_timeout: Duration::from_millis(200),
        ..Default::default()
    };
    let server = echo_server(config).await;
    let mut silent = TcpStream::connect(server.local_addr()).await.unwrap();
    assert!(eventually(|| server.active_connections() == 1).await);
    // The server sends its greeting, then closes: we read 64 bytes and then EOF.
    let mut received = Vec::new();
    let read = tokio::time::timeout(WAIT, silent.read_to_end(&mut received))
        .await
        .expect("server did not drop the silent peer");
    assert!(read.is_ok() || !received.is_empty());
    assert_eq!(received.len(), 64);
    assert_eq!(received[0], 0xFF);
    assert!(eventually(|| server.active_connections() == 0).await);
}

#[tokio::test]
async fn garbage_does_not_crash_the_server() {
    let server = echo_server(ServerConfig::default()).await;
    let garbage: Vec<Vec<u8>> = vec![
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        vec![0xFF; 200],
        {
            // Valid greeting, then a frame with reserved flags.
            let mut g = zmtp::frame::Greeting::new(zmtp::frame::Mechanism::Null, false)
                .encode()
                .to_vec();
            g.extend_from_slice(&[0xF0, 0x10, 1, 2, 3]);
            g
        },
        {
            // Valid greeting, then a frame announcing 2^63 bytes.
            let mut g = zmtp::frame::Greeting::new(zmtp::frame::Mechanism::Null, false)
                .encode()
                .to_vec();
            g.push(0x06);
            g.extend_from_slice(&(1u64 << 63).to_be_bytes());
            g
        },
        (0..=255u8).cycle().take(5000).collect(),
    ];
    for bytes in garbage {
        let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
        let _ = stream.write_all(&bytes).await;
        let mut sink = Vec::new();
        let closed = tokio::time::timeout(WAIT, stream.read_to_end(&mut sink)).await;
        assert!(closed.is_ok(), "server kept a garbage connection open");
    }
    assert_still_serves(&server, ClientConfig::default()).await;
}

#[tokio::test]
async fn peer_down_fails_promptly_not_at_deadline() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let client = Client::new(ClientConfig::default()).unwrap();
    // A deadline far beyond the test's own bound: a hang would show as the outer timeout.
    let outcome = tokio::time::timeout(
        WAIT,
        client.request(
            &addr,
            vec![Bytes::from_static(b"x")],
            Duration::from_secs(3600),
        ),
    )
    .await
    .expect("request to a down peer hung");
    assert!(
        matches!(outcome, Err(ZmtpError::Unreachable { .. })),
        "{outcome:?}"
    );
    // Refused again at once: nothing listens there yet.
    let outcome = tokio::time::timeout(
        WAIT,
        client.request(
            &addr,
            vec![Bytes::from_static(b"x")],
            Duration::from_secs(3600),
        ),
    )
    .await
    .expect("second request to a down peer hung");
    assert!(
        matches!(outcome, Err(ZmtpError::Unreachable { .. })),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_peer_restarted_on_the_same_address_is_reached_by_the_next_request() {
    // A node killed and restarted on its address: the requests sent while it was down were
    // refused; the first one after it listens again must reach it. A client that held
    // requests back for a backoff after refusals failed it at once, so a ring node took a
    // restarted, live predecessor for dead (docs/reliability.md, fix 19).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let config = ClientConfig {
        // A backoff no test outlasts: only a client that does not hold back passes.
        reconnect_backoff_min: Duration::from_secs(3600),
        reconnect_backoff_max: Duration::from_secs(3600),
        ..Default::default()
    };
    let client = Client::new(config).unwrap();
    for _ in 0..3 {
        let outcome = client
            .request(&addr, vec![Bytes::from_static(b"x")], WAIT)
            .await;
        assert!(
            matches!(&outcome, Err(ZmtpError::Unreachable { reason, .. }) if reason.contains("refused")),
            "{outcome:?}"
        );
    }
    let server = zmtp::Server::bind(&addr, ServerConfig::default(), common::echo_handler())
        .await
        .unwrap();
    let reply = client
        .request(&addr, vec![Bytes::from_static(b"back")], WAIT)
        .await
        .unwrap();
    assert_eq!(reply, echoed(&[b"back"]));
    drop(server);
}

#[tokio::test]
async fn in_flight_requests_fail_when_the_connection_drops() {
    let server = silent_server().await;
    let addr = server.local_addr().to_string();
    let client = Client::new(ClientConfig::default()).unwrap();
    let request = {
        let client = client.clone();
        let addr = addr.clone();
        tokio::spawn(async move {
            client
                .request(
                    &addr,
                    vec![Bytes::from_static(b"x")],
                    Duration::from_secs(3600),
                )
                .await
        })
    };
    assert!(eventually(|| server.active_connections() == 1).await);
    server.shutdown().await;
    let outcome = tokio::time::timeout(WAIT, request)
        .await
        .expect("pending request hung after its connection dropped")
        .unwrap();
    assert!(matches!(outcome, Err(ZmtpError::Closed)), "{outcome:?}");
}

#[tokio::test]
async fn request_times_out_at_its_deadline() {
    let server = silent_server().await;
    let client = Client::new(ClientConfig::default()).unwrap();
    let outcome = client
        .request(
            &server.local_addr().to_string(),
            vec![Bytes::from_static(b"x")],
            Duration::from_millis(200),
        )
        .await;
    assert!(
        matches!(outcome, Err(ZmtpError::Timeout { .. })),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn window_full_waits_then_times_out() {
    let server = silent_server().await;
    let addr = server.local_addr().to_string();
    let config = ClientConfig {
        max_in_flight: 1,
        ..Default::default()
    };
    let client = Client::new(config).unwrap();
    let first = {
        let client = client.clone();
        let addr = addr.clone();
        tokio::spawn(async move {
            client
                .request(&addr, vec![], Duration::from_secs(3600))
                .await
        })
    };
    assert!(eventually(|| server.active_connections() == 1).await);
    let second = client
        .request(&addr, vec![], Duration::from_millis(200))
        .await;
    assert!(
        matches!(
            second,
            Err(ZmtpError::Timeout {
                operation: "wait for an in-flight slot"
            })
        ),
        "{second:?}"
    );
    first.abort();
}

#[tokio::test]
async fn reconnects_after_server_restart() {
    let server = echo_server(ServerConfig::default()).await;
    let addr = server.local_addr();
    let client = Client::new(ClientConfig::default()).unwrap();
    let reply = client
        .request(&addr.to_string(), vec![Bytes::from_static(b"1")], WAIT)
        .await
        .unwrap();
    assert_eq!(reply, echoed(&[b"1"]));
    server.shutdown().await;
    let down = client
        .request(&addr.to_string(), vec![Bytes::from_static(b"2")], WAIT)
        .await;
    assert!(down.is_err());

    let restarted = zmtp::Server::bind(addr, ServerConfig::default(), common::echo_handler())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    let reply = loop {
        match client
            .request(&addr.to_string(), vec![Bytes::from_static(b"3")], WAIT)
            .await
        {
            Ok(reply) => break reply,
            Err(err) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "never reconnected: {err}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    assert_eq!(reply, echoed(&[b"3"]));
    drop(restarted);
}

#[tokio::test]
async fn connection_limit_closes_extra_connections() {
    let config = ServerConfig {
        max_connections: 1,
        ..Default::default()
    };
    let server = echo_server(config).await;
    let first = TcpStream::connect(server.local_addr()).await.unwrap();
    let _first = Connection::over(first, &ConnectionConfig::new("DEALER"))
        .await
        .unwrap();
    let mut second = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut sink = Vec::new();
    let closed = tokio::time::timeout(WAIT, second.read_to_end(&mut sink)).await;
    assert!(closed.is_ok(), "connection over the limit was kept open");
    assert!(sink.is_empty(), "no greeting for a refused connection");
    assert_eq!(server.active_connections(), 1);
}

#[tokio::test]
async fn server_heartbeat_pings_idle_peers() {
    let config = ServerConfig {
        heartbeat: Some(zmtp::Heartbeat {
            interval: Duration::from_millis(50),
            timeout: Duration::from_secs(30),
        }),
        ..Default::default()
    };
    let server = echo_server(config).await;
    let stream = TcpStream::connect(server.local_addr()).await.unwrap();
    let conn = Connection::over(stream, &ConnectionConfig::new("DEALER"))
        .await
        .unwrap();
    let (mut reader, _writer, _peer) = conn.into_parts();
    let got = tokio::time::timeout(WAIT, reader.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(got, Inbound::Ping(_)), "{got:?}");
}

#[tokio::test]
async fn disconnect_closes_the_connection_and_fails_in_flight_requests() {
    let stuck = silent_server().await;
    let addr = stuck.local_addr().to_string();
    let client = Client::new(ClientConfig::default()).unwrap();
    let request = {
        let client = client.clone();
        let addr = addr.clone();
        tokio::spawn(async move {
            client
                .request(&addr, vec![], Duration::from_secs(3600))
                .await
        })
    };
    assert!(eventually(|| stuck.active_connections() == 1).await);
    assert_eq!(client.peer_count(), 1);
    client.disconnect(&addr);
    assert_eq!(client.peer_count(), 0);
    let outcome = tokio::time::timeout(WAIT, request).await.unwrap().unwrap();
    assert!(matches!(outcome, Err(ZmtpError::Closed)), "{outcome:?}");
    assert!(eventually(|| stuck.active_connections() == 0).await);
}

/// Writes at most one byte per write call, so every greeting, command and frame reaches the
/// server split across many TCP segments.
struct Trickle<W>(W);

impl<W: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Trickle<W> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let one = &buf[..buf.len().min(1)];
        std::pin::Pin::new(&mut self.0).poll_write(cx, one)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[tokio::test]
async fn a_peer_writing_one_byte_at_a_time_is_served() {
    let server = echo_server(ServerConfig::default()).await;
    let stream = TcpStream::connect(server.local_addr()).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (read, write) = tokio::io::split(stream);
    let mut conn = Connection::establish(read, Trickle(write), &ConnectionConfig::new("DEALER"))
        .await
        .unwrap();
    let body = Bytes::from(vec![7u8; 300]); // a long frame (8-byte size) as well
    conn.send(&[Bytes::from_static(b"id"), Bytes::new(), body.clone()])
        .await
        .unwrap();
    let reply = tokio::time::timeout(WAIT, conn.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        reply,
        vec![
            Bytes::from_static(b"id"),
            Bytes::new(),
            Bytes::from_static(b"echo:"),
            body
        ]
    );
}

#[tokio::test]
async fn a_truncated_greeting_is_dropped_and_others_are_served() {
    let server = echo_server(ServerConfig {
        handshake_timeout: Duration::from_millis(300),
        ..ServerConfig::default()
    })
    .await;
    let greeting = zmtp::frame::Greeting::new(zmtp::frame::Mechanism::Null, false).encode();
    // Half a greeting, then silence: the server gives up at its handshake deadline.
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    stream.write_all(&greeting[..30]).await.unwrap();
    let mut sink = Vec::new();
    let closed = tokio::time::timeout(WAIT, stream.read_to_end(&mut sink)).await;
    assert!(closed.is_ok(), "server kept a half-greeted connection open");
    // Half a greeting, then the connection closes: nothing breaks either.
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    stream.write_all(&greeting[..10]).await.unwrap();
    drop(stream);
    assert_still_serves(&server, ClientConfig::default()).await;
}

/// A server whose handler never answers: requests stay in flight until the client gives up or
/// the connection goes away.
async fn silent_server() -> zmtp::Server {
    use futures::FutureExt;
    let handler = |_: Vec<Bytes>| futures::future::pending::<Vec<Bytes>>().boxed();
    zmtp::Server::bind(
        "127.0.0.1:0",
        ServerConfig::default(),
        std::sync::Arc::new(handler),
    )
    .await
    .unwrap()
}

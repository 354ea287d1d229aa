//! Shared helpers for the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt;
use zmtp::{Client, ClientConfig, Handler, Server, ServerConfig};

/// Generous bound for any single wait in tests (they end by themselves if something hangs).
pub const WAIT: Duration = Duration::from_secs(10);

/// Handler that replies with the request parts prefixed by "echo:".
pub fn echo_handler() -> Arc<dyn Handler> {
    let handler = |request: Vec<Bytes>| {
        async move {
            let mut reply = vec![Bytes::from_static(b"echo:")];
            reply.extend(request);
            reply
        }
        .boxed()
    };
    Arc::new(handler)
}

/// Starts an echo server on an ephemeral loopback port.
pub async fn echo_server(config: ServerConfig) -> Server {
    Server::bind("127.0.0.1:0", config, echo_handler())
        .await
        .unwrap()
}

/// Expected reply from the echo handler.
pub fn echoed(parts: &[&'static [u8]]) -> Vec<Bytes> {
    let mut out = vec![Bytes::from_static(b"echo:")];
    out.extend(parts.iter().map(|p| Bytes::from_static(p)));
    out
}

/// A fresh client made from `config` still gets an echo from `server`.
pub async fn assert_still_serves(server: &Server, config: ClientConfig) {
    let client = Client::new(config).unwrap();
    let reply = client
        .request(
            &server.local_addr().to_string(),
            vec![Bytes::from_static(b"ok")],
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(reply, echoed(&[b"ok"]));
}

/// Polls `check` until it returns true or `WAIT` passes; returns the last result.
pub async fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if check() {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

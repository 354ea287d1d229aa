//! A tiny HTTP/1.1 server for operators: `/healthz`, `/status`, `/metrics`.
//!
//! Hand-written rather than hyper: it serves three GET routes to scrapers and
//! humans, one request per connection (`Connection: close`), so parsing the
//! request line is all it needs. Parsing ([`request`]) and routing
//! ([`routes`]) are pure; this module only does the socket work.

pub mod client;
pub mod request;
pub mod routes;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::backend::Backend;
use crate::metrics::Metrics;
use crate::shutdown::ShutdownSignal;

use request::{find_head_end, parse_request_head, HttpError, MAX_HEAD_LEN};
use routes::{route, Response};

/// How long a client may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves the operator endpoints on `listener` until `shutdown` fires.
pub async fn serve_http(
    listener: TcpListener,
    backend: Arc<dyn Backend>,
    metrics: Arc<Metrics>,
    mut shutdown: ShutdownSignal,
) -> io::Result<()> {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = shutdown.wait() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(%error, "accepting an HTTP client failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let backend = backend.clone();
                let metrics = metrics.clone();
                connections.spawn(async move {
                    if let Err(error) = handle(stream, backend.as_ref(), &metrics).await {
                        tracing::debug!(%peer, %error, "HTTP request failed");
                    }
                });
            }
        }
    }
    drop(listener);
    // Requests are short and bounded by HEAD_TIMEOUT; let them finish.
    while connections.join_next().await.is_some() {}
    Ok(())
}

async fn handle(mut stream: TcpStream, backend: &dyn Backend, metrics: &Metrics) -> io::Result<()> {
    let head = tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut stream)).await;
    let (response, is_head) = match head {
        Err(_elapsed) => (Response::text(408, "request timeout\n"), false),
        Ok(Err(error)) => return Err(error),
        Ok(Ok(Err(error))) => (Response::text(error.status(), &format!("{error}\n")), false),
        Ok(Ok(Ok(head))) => {
            let parsed = parse_request_head(&head);
            match parsed {
                Ok(request) => (route(&request, backend, metrics), request.method == "HEAD"),
                Err(error) => (Response::text(error.status(), &format!("{error}\n")), false),
            }
        }
    };
    stream.write_all(&response.to_bytes(is_head)).await?;
    stream.shutdown().await?;
    if response.status >= 400 {
        // The request may not have been read to its end; closing with unread
        // input makes the kernel send a reset that can destroy the response
        // before the client reads it. Drain a bounded amount first.
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, drain(&mut stream)).await;
    }
    Ok(())
}

/// How long to keep reading a rejected request's leftovers.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

async fn drain(stream: &mut TcpStream) {
    let mut sink = [0u8; 4096];
    let mut left: usize = 1024 * 1024;
    while left > 0 {
        match stream.read(&mut sink).await {
            Ok(0) | Err(_) => return,
            Ok(read) => left = left.saturating_sub(read),
        }
    }
}

/// Reads up to the blank line ending the request head.
async fn read_head(stream: &mut TcpStream) -> io::Result<Result<Vec<u8>, HttpError>> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = find_head_end(&head) {
            head.truncate(end);
            return Ok(Ok(head));
        }
        if head.len() > MAX_HEAD_LEN {
            return Ok(Err(HttpError::HeadTooLarge));
        }
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Ok(Err(HttpError::Malformed(
                "connection closed before the request head ended",
            )));
        }
        head.extend_from_slice(&chunk[..read]);
    }
}

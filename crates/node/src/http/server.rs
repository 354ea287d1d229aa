//! Accepting operator HTTP connections and bounding what each may cost.
//!
//! `axum::serve` cannot configure hyper's connection builder, so this is the
//! same loop it runs (one task per connection, graceful shutdown on a signal)
//! with three protections added: a bound on the request head size (hyper
//! answers 431), a deadline for sending the head (hyper closes the
//! connection), and a cap on open connections (further clients wait in the
//! listen backlog until a slot frees).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::backend::Backend;
use crate::metrics::Metrics;
use crate::shutdown::ShutdownSignal;

use super::routes::router;

/// How long a stopping server waits for open connections to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Pause after a failed `accept` (e.g. out of file descriptors) before retrying.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// What one operator HTTP server lets its clients use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Request heads larger than this are answered with 431 and closed.
    pub max_head_len: usize,
    /// A client that has not sent a complete request head by then is dropped.
    pub header_read_timeout: Duration,
    /// Connections served at once; more clients wait to be accepted.
    pub max_connections: usize,
}

impl Default for HttpLimits {
    /// Generous for scrapers and humans, small enough that a flood of idle
    /// sockets cannot exhaust the node's file descriptors.
    fn default() -> HttpLimits {
        HttpLimits {
            max_head_len: 8 * 1024,
            header_read_timeout: Duration::from_secs(10),
            max_connections: 64,
        }
    }
}

/// Serves the operator endpoints on `listener` with [`HttpLimits::default`]
/// until `shutdown` fires.
pub async fn serve_http(
    listener: TcpListener,
    backend: Arc<dyn Backend>,
    metrics: Arc<Metrics>,
    shutdown: ShutdownSignal,
) -> io::Result<()> {
    serve_http_with(listener, backend, metrics, HttpLimits::default(), shutdown).await
}

/// Serves the operator endpoints on `listener` under `limits` until `shutdown`
/// fires, then lets open connections finish (for at most 10 s).
pub async fn serve_http_with(
    listener: TcpListener,
    backend: Arc<dyn Backend>,
    metrics: Arc<Metrics>,
    limits: HttpLimits,
    shutdown: ShutdownSignal,
) -> io::Result<()> {
    serve_http_routes(listener, router(backend, metrics), limits, shutdown).await
}

/// Serves `routes` (the operator endpoints, with the console when the node has one) on
/// `listener` under `limits` until `shutdown` fires, then lets open connections finish (for at
/// most 10 s).
pub async fn serve_http_routes(
    listener: TcpListener,
    routes: axum::Router,
    limits: HttpLimits,
    mut shutdown: ShutdownSignal,
) -> io::Result<()> {
    let builder = connection_builder(&limits);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    loop {
        let slot = tokio::select! {
            () = shutdown.wait() => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                // The semaphore is never closed; stop rather than spin if it were.
                Err(_closed) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = shutdown.wait() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accepting an HTTP client failed");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
            },
        };
        let connection = builder.serve_connection(
            TokioIo::new(stream),
            TowerToHyperService::new(routes.clone()),
        );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "HTTP connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace = ?SHUTDOWN_GRACE,
            "HTTP connections still open after shutdown; leaving them to the runtime"
        );
    }
    Ok(())
}

/// hyper's HTTP/1 settings for one operator connection.
fn connection_builder(limits: &HttpLimits) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_head_len)
        // One request per connection, as scrapers and `dendrite status` use it;
        // an idle keep-alive socket would otherwise hold a connection slot.
        .keep_alive(false)
        // `Content-Type:` on the wire, as the node always sent it and
        // line-oriented scripts may grep for.
        .title_case_headers(true);
    builder
}

//! Starting a node's client-facing servers from validated [`Settings`].
//!
//! **The ring wiring comes next:** for now every node serves a
//! [`MemoryBackend`], so `dendrite node` is a single-process key/value server
//! and `dendrite demo` starts independent nodes. Replacing
//! [`start_node`]'s backend with the distributed table is the only change
//! the fronts need.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::backend::{Backend, MemoryBackend};
use crate::http::serve_http;
use crate::metrics::Metrics;
use crate::resp::{serve_resp, RespLimits};
use crate::settings::Settings;
use crate::shutdown::ShutdownSignal;

/// Why a node could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// A listening socket could not be opened.
    #[error("cannot listen for {server} on {addr}: {source}; is the port in use? choose another with --{server}")]
    Bind {
        /// `resp` or `http`.
        server: &'static str,
        /// The address asked for.
        addr: String,
        /// The OS error.
        source: io::Error,
    },
    /// A server loop failed.
    #[error("{server} server failed: {source}")]
    Serve {
        /// `resp` or `http`.
        server: &'static str,
        /// The error.
        source: io::Error,
    },
    /// A server task panicked or was cancelled.
    #[error("{0} server task ended abnormally")]
    Task(String),
}

/// A node whose servers are running.
#[derive(Debug)]
pub struct RunningNode {
    /// Where RESP is actually served (resolves port 0).
    pub resp_addr: SocketAddr,
    /// Where HTTP is actually served.
    pub http_addr: SocketAddr,
    /// The storage behind the fronts.
    pub backend: Arc<dyn Backend>,
    /// The node's metrics.
    pub metrics: Arc<Metrics>,
    servers: JoinSet<Result<(), LaunchError>>,
}

impl std::fmt::Debug for dyn Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Backend")
    }
}

async fn bind(server: &'static str, addr: &str) -> Result<TcpListener, LaunchError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| LaunchError::Bind {
            server,
            addr: addr.to_owned(),
            source,
        })
}

/// Binds the RESP and HTTP servers and runs them until `shutdown` fires.
pub async fn start_node(
    settings: &Settings,
    shutdown: ShutdownSignal,
) -> Result<RunningNode, LaunchError> {
    // The ring wiring comes next: this becomes the distributed table.
    let backend: Arc<dyn Backend> = Arc::new(MemoryBackend::new(settings.max_consistency()));
    let metrics = Arc::new(Metrics::new());
    let resp = bind("resp", &settings.resp).await?;
    let http = bind("http", &settings.http).await?;
    let local = |server, listener: &TcpListener| {
        listener
            .local_addr()
            .map_err(|source| LaunchError::Serve { server, source })
    };
    let resp_addr = local("resp", &resp)?;
    let http_addr = local("http", &http)?;
    let limits = RespLimits {
        max_clients: settings.max_clients,
        ..RespLimits::default()
    };
    let mut servers = JoinSet::new();
    servers.spawn({
        let (backend, metrics, shutdown) = (backend.clone(), metrics.clone(), shutdown.clone());
        async move {
            serve_resp(resp, backend, metrics, limits, shutdown)
                .await
                .map_err(|source| LaunchError::Serve {
                    server: "resp",
                    source,
                })
        }
    });
    servers.spawn({
        let (backend, metrics) = (backend.clone(), metrics.clone());
        async move {
            serve_http(http, backend, metrics, shutdown)
                .await
                .map_err(|source| LaunchError::Serve {
                    server: "http",
                    source,
                })
        }
    });
    tracing::info!(%resp_addr, %http_addr, listen = %settings.listen, "node serving (memory backend; ring wiring pending)");
    Ok(RunningNode {
        resp_addr,
        http_addr,
        backend,
        metrics,
        servers,
    })
}

impl RunningNode {
    /// Waits until both servers stopped; the first error wins.
    pub async fn wait(mut self) -> Result<(), LaunchError> {
        let mut outcome = Ok(());
        while let Some(joined) = self.servers.join_next().await {
            let result = joined
                .map_err(|error| LaunchError::Task(error.to_string()))
                .and_then(|r| r);
            if outcome.is_ok() {
                outcome = result;
            }
        }
        outcome
    }
}

//! Starting a node from validated [`Settings`]: the ZMTP transport, the ring and its table
//! (creating a ring, or joining one through the seeds, retried with backoff), then the RESP and
//! HTTP fronts over the table. On shutdown the node hands its ranges off and leaves the ring.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinSet;

use std::collections::HashSet;
use std::time::Duration;

use dendrite_net::{NetConfig, NetSecurity, ZmtpTransport};
use dtable::durable::{DataDir, DurableError, LogConfig, Persistence};
use dtable::{Table, TableConfig, TableError};

use crate::backend::Backend;
use crate::console::Console;
use crate::http::{routes, serve_http_routes, HttpLimits};
use crate::metrics::Metrics;
use crate::persistence::LogMetrics;
use crate::resp::{serve_resp, ParseLimits, RespConfig, RespLimits};
use crate::settings::Settings;
use crate::shutdown::ShutdownSignal;
use crate::table_backend::TableBackend;
use crate::table_metrics::TableMetrics;

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
    /// The ring transport could not start.
    #[error("cannot start the ring transport: {0}")]
    Net(#[from] dendrite_net::NetError),
    /// The table would store values the RESP server refuses to read.
    #[error("the table accepts values up to {max_value_len} bytes but RESP bulk strings are limited to {proto_max_bulk_len}; raise --proto-max-bulk-len to at least {max_value_len}")]
    Limits {
        /// The table's `max_value_len`.
        max_value_len: usize,
        /// The RESP `proto_max_bulk_len`.
        proto_max_bulk_len: usize,
    },
    /// The data directory could not be opened or recovered (locked, another node's, damaged).
    #[error("{0}")]
    Durable(#[from] DurableError),
    /// The ring or table could not start (no seed answered, bad configuration).
    #[error("cannot start the ring: {0}")]
    Ring(#[from] TableError),
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
    /// The address other nodes reach this one at.
    pub ring_addr: String,
    /// This node's share of the table.
    pub table: Table,
    transport: Arc<ZmtpTransport>,
    servers: JoinSet<Result<(), LaunchError>>,
    slot_watch: tokio::task::JoinHandle<()>,
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
    // Locked before anything binds: a second process on the directory fails with that, not
    // with a port in use.
    let data_dir = match &settings.data_dir {
        Some(path) => Some(DataDir::open(path)?),
        None => None,
    };
    let transport = ZmtpTransport::bind(&settings.listen, net_config(settings)).await?;
    let ring_addr = dendrite::Transport::local_host(&*transport).to_string();
    let persistence = match data_dir {
        Some(dir) => Some(recover(dir, settings, &ring_addr).await?),
        None => None,
    };
    // The client ports are bound first, so the ring learns the RESP address actually bound.
    let resp = bind("resp", &settings.resp).await?;
    let http = bind("http", &settings.http).await?;
    let local = |server, listener: &TcpListener| {
        listener
            .local_addr()
            .map_err(|source| LaunchError::Serve { server, source })
    };
    let resp_addr = local("resp", &resp)?;
    let http_addr = local("http", &http)?;
    let client_address = settings
        .advertise_resp
        .clone()
        .unwrap_or_else(|| advertised(resp_addr, &ring_addr));
    let addresses = dtable::NodeAddresses {
        client: Some(client_address),
        console: Some(advertised(http_addr, &ring_addr)),
    };
    let table = start_table(settings, &transport, &ring_addr, persistence, addresses).await?;
    let table_backend = TableBackend::new(table.clone());
    let slot_watch = table_backend.watch_slots().await;
    let backend: Arc<dyn Backend> = Arc::new(table_backend.clone());
    let metrics = Arc::new(Metrics::new());
    metrics.add_collector(TableMetrics::start(table.clone()));
    if let Some(log) = table.log() {
        metrics.add_collector(LogMetrics::new(log.clone()));
    }
    let resp_config = RespConfig {
        limits: RespLimits {
            max_clients: settings.max_clients,
            parse: ParseLimits {
                max_bulk_len: settings.proto_max_bulk_len,
                ..ParseLimits::default()
            },
            ..RespLimits::default()
        },
        requirepass: settings.requirepass.clone(),
        cluster_redirects: settings.cluster_redirects,
    };
    let mut servers = JoinSet::new();
    servers.spawn({
        let (backend, metrics, shutdown) = (backend.clone(), metrics.clone(), shutdown.clone());
        async move {
            serve_resp(resp, backend, metrics, resp_config, shutdown)
                .await
                .map_err(|source| LaunchError::Serve {
                    server: "resp",
                    source,
                })
        }
    });
    let console = Console::start(
        &table_backend,
        metrics.clone(),
        settings.requirepass.clone(),
    );
    let http_routes = routes::router(backend.clone(), metrics.clone()).merge(console.router());
    servers.spawn({
        async move {
            serve_http_routes(http, http_routes, HttpLimits::default(), shutdown)
                .await
                .map_err(|source| LaunchError::Serve {
                    server: "http",
                    source,
                })
        }
    });
    tracing::info!(%resp_addr, %http_addr, ring = %ring_addr, "node serving");
    Ok(RunningNode {
        resp_addr,
        http_addr,
        backend,
        metrics,
        ring_addr,
        table,
        transport,
        servers,
        slot_watch,
    })
}

/// The address told to other nodes for a client port when none is configured (the RESP
/// address cluster clients are sent to, the HTTP address other consoles ask): the bound
/// address, with the ring address's host when the port listens on every interface (0.0.0.0 or
/// ::).
fn advertised(bound: SocketAddr, ring_addr: &str) -> String {
    if bound.ip().is_unspecified() {
        if let Some((host, _)) = ring_addr.rsplit_once(':') {
            return format!("{host}:{}", bound.port());
        }
    }
    bound.to_string()
}

/// The ring's security from the settings: CURVE with the cluster key when one is given.
///
/// Every node of a CURVE cluster holds the same cluster secret (`--curve-secret`): it serves
/// with it and calls others with it, so a node that lacks it cannot even finish a handshake.
/// `--allow` adds further client public keys (tools, nodes with their own keys).
fn net_config(settings: &Settings) -> NetConfig {
    let Some(curve) = &settings.curve else {
        return NetConfig::default();
    };
    // The keys were decoded (and a bad one refused) when the settings were validated.
    let mut allow: HashSet<zmtp::PublicKey> = HashSet::from([curve.public]);
    allow.extend(settings.allow.iter().copied());
    NetConfig {
        security: NetSecurity::Curve {
            cluster_secret: curve.secret.clone(),
            node_keys: curve.clone(),
            allowlist: Some(allow),
        },
        ..NetConfig::default()
    }
}

/// Claims `dir` for the node at `ring_addr` and loads it, before the node serves or joins.
async fn recover(
    dir: DataDir,
    settings: &Settings,
    ring_addr: &str,
) -> Result<Persistence, LaunchError> {
    dir.claim(ring_addr)?;
    let config = LogConfig {
        fsync: settings.fsync,
        ..LogConfig::default()
    };
    let shards = TableConfig::default().shards;
    // Reading the files blocks: off the runtime's threads.
    let loaded = tokio::task::spawn_blocking(move || Persistence::open(dir, shards, config))
        .await
        .map_err(|e| LaunchError::Task(format!("recovery: {e}")))??;
    Ok(loaded)
}

/// Creates the ring, or joins it through the seeds, retrying for about a minute so that nodes
/// started together find each other whatever the order.
async fn start_table(
    settings: &Settings,
    transport: &Arc<ZmtpTransport>,
    ring_addr: &str,
    persistence: Option<Persistence>,
    addresses: dtable::NodeAddresses,
) -> Result<Table, LaunchError> {
    let mut config = dendrite::Config::new(ring_addr);
    config.num_vnodes = settings.vnodes;
    config.replicas = usize::from(settings.replicas);
    config.num_successors = config.num_successors.max(config.replicas + 1);
    config.stabilize_min = settings.stabilize_min;
    config.stabilize_max = settings.stabilize_max;
    let table_config = TableConfig {
        max_clock_skew: settings.max_clock_skew,
        client_address: addresses.client,
        console_address: addresses.console,
        clock_offset_ms: settings.clock_offset_ms,
        ..TableConfig::default()
    };
    // Settings validation keeps the RESP bulk limit at or above the table's value limit; a
    // table configured otherwise is a bug here, caught before any client connects.
    if table_config.max_value_len > settings.proto_max_bulk_len {
        return Err(LaunchError::Limits {
            max_value_len: table_config.max_value_len,
            proto_max_bulk_len: settings.proto_max_bulk_len,
        });
    }
    if settings.join.is_empty() {
        let transport = transport.clone();
        return Ok(match persistence {
            Some(persistence) => {
                Table::create_durable(config, transport, table_config, persistence).await?
            }
            None => Table::create(config, transport, table_config).await?,
        });
    }
    let mut pause = Duration::from_millis(200);
    let mut attempts = 0;
    loop {
        let joined = match &persistence {
            Some(persistence) => {
                Table::join_durable(
                    config.clone(),
                    transport.clone(),
                    &settings.join,
                    table_config.clone(),
                    persistence.clone(),
                )
                .await
            }
            None => {
                Table::join(
                    config.clone(),
                    transport.clone(),
                    &settings.join,
                    table_config.clone(),
                )
                .await
            }
        };
        match joined {
            Ok(table) => return Ok(table),
            Err(TableError::Ring(dendrite::RingError::NoSeed(seeds))) if attempts < 12 => {
                tracing::warn!(?seeds, "no seed answered yet; retrying in {pause:?}");
                attempts += 1;
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(8));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

impl RunningNode {
    /// Waits until both servers stopped, then hands the node's ranges off and leaves the ring;
    /// the first error wins.
    pub async fn wait(mut self) -> Result<(), LaunchError> {
        let outcome = self.wait_servers().await;
        self.slot_watch.abort();
        if let Err(e) = self.table.leave().await {
            tracing::warn!(error = %e, "could not leave the ring cleanly");
        }
        self.transport.shutdown().await;
        outcome
    }

    async fn wait_servers(&mut self) -> Result<(), LaunchError> {
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

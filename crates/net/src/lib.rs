//! The ring's [`Transport`] over ZeroMQ: a ZMTP ROUTER-style server for incoming frames and a
//! DEALER-style client (one pipelined connection per peer) for outgoing calls.
//!
//! Security is chosen by [`NetSecurity`]: `Null` speaks plain ZMTP (what the Go original and
//! any libzmq peer speak), `Curve` encrypts every link and admits only allow-listed nodes.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use dendrite::{Config, Ring};
//! use dendrite_net::{NetConfig, ZmtpTransport};
//! let transport = ZmtpTransport::bind("127.0.0.1:0", NetConfig::default()).await?;
//! let ring = Ring::create(Config::new(dendrite::Transport::local_host(&*transport)), transport.clone()).await?;
//! # drop(ring); Ok(()) }
//! ```

// A library others build on: an undocumented public item fails the build (the workspace
// only warns), so every item says why it exists.
#![deny(missing_docs)]

use std::collections::HashSet;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use bytes::Bytes;
use dendrite::{FrameHandler, Message, Transport, TransportError};
use futures::future::BoxFuture;
use zmtp::{
    Client, ClientConfig, ClientSecurity, KeyPair, PublicKey, SecretKey, Server, ServerConfig,
    ServerKeys, ServerSecurity, ZmtpError,
};

/// How nodes authenticate each other.
#[derive(Clone, Debug, Default)]
pub enum NetSecurity {
    /// Plain ZMTP: anyone who can reach the port can talk to the ring.
    #[default]
    Null,
    /// CurveZMQ on every link.
    ///
    /// Every node serves with the same cluster key pair (so any node can call any other knowing
    /// one public key), and calls with its own node key pair, whose public key must be on the
    /// allowlist of the nodes it calls.
    Curve {
        /// The cluster's server secret key (shared by all nodes).
        cluster_secret: SecretKey,
        /// This node's own key pair, presented when it calls others.
        node_keys: KeyPair,
        /// Node public keys admitted; `None` admits any node that knows the cluster key.
        allowlist: Option<HashSet<PublicKey>>,
    },
}

/// Settings of the transport.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// NULL or CURVE.
    pub security: NetSecurity,
    /// The address other nodes reach this one at, when it differs from the bound address
    /// (binding 0.0.0.0, NAT). Defaults to the bound address.
    pub advertise: Option<String>,
    /// Largest frame accepted in either direction.
    pub max_message_size: usize,
    /// Connections served at once.
    pub max_connections: usize,
    /// Requests in flight to one peer.
    pub window: usize,
}

impl Default for NetConfig {
    fn default() -> NetConfig {
        NetConfig {
            security: NetSecurity::Null,
            advertise: None,
            max_message_size: 64 << 20,
            max_connections: 4096,
            window: 128,
        }
    }
}

/// Why the transport could not start.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {source}; is the port in use?")]
    Bind {
        /// Address asked for.
        addr: String,
        /// What ZMTP said.
        source: ZmtpError,
    },
    /// The client side could not be set up.
    #[error("cannot set up the ZMTP client: {0}")]
    Client(ZmtpError),
}

/// Where incoming frames go; replaced when the ring installs its handler.
struct Slot {
    handler: RwLock<Option<Arc<dyn FrameHandler>>>,
}

impl zmtp::Handler for Slot {
    fn handle(&self, request: Vec<Bytes>) -> BoxFuture<'static, Vec<Bytes>> {
        let handler = self
            .handler
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        Box::pin(async move {
            let reply = match (handler, <[Bytes; 1]>::try_from(request)) {
                (Some(h), Ok([frame])) => h.handle(frame).await,
                (None, _) => Message::error("this node is not on a ring yet").encode(),
                (_, Err(parts)) => Message::error(format!(
                    "a request is one frame; got a message of {} parts",
                    parts.len()
                ))
                .encode(),
            };
            vec![reply]
        })
    }
}

/// The ring's transport over ZMTP/TCP.
pub struct ZmtpTransport {
    host: String,
    client: Client,
    slot: Arc<Slot>,
    server: std::sync::Mutex<Option<Server>>,
}

impl std::fmt::Debug for ZmtpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZmtpTransport")
            .field("host", &self.host)
            .finish()
    }
}

impl ZmtpTransport {
    /// Listens on `addr` (port 0 picks one) and prepares the client side.
    pub async fn bind(addr: &str, config: NetConfig) -> Result<Arc<ZmtpTransport>, NetError> {
        let (server_security, client_security) = match &config.security {
            NetSecurity::Null => (ServerSecurity::Null, ClientSecurity::Null),
            NetSecurity::Curve {
                cluster_secret,
                node_keys,
                allowlist,
            } => (
                ServerSecurity::Curve {
                    secret_key: cluster_secret.clone(),
                    allowlist: allowlist.clone(),
                },
                ClientSecurity::Curve {
                    keys: node_keys.clone(),
                    server_keys: ServerKeys::cluster(cluster_secret.public_key()),
                },
            ),
        };
        let slot = Arc::new(Slot {
            handler: RwLock::new(None),
        });
        let server_config = ServerConfig {
            security: server_security,
            max_connections: config.max_connections,
            max_message_size: config.max_message_size,
            ..ServerConfig::default()
        };
        let server = Server::bind(addr, server_config, slot.clone())
            .await
            .map_err(|source| NetError::Bind {
                addr: addr.to_string(),
                source,
            })?;
        let client = Client::new(ClientConfig {
            security: client_security,
            max_in_flight: config.window.max(1),
            max_message_size: config.max_message_size,
            connect_timeout: Duration::from_secs(2),
            ..ClientConfig::default()
        })
        .map_err(NetError::Client)?;
        let host = config
            .advertise
            .clone()
            .unwrap_or_else(|| server.local_addr().to_string());
        Ok(Arc::new(ZmtpTransport {
            host,
            client,
            slot,
            server: std::sync::Mutex::new(Some(server)),
        }))
    }

    /// Stops listening; calls to this node fail from now on.
    pub async fn shutdown(&self) {
        let server = self
            .server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(server) = server {
            server.shutdown().await;
        }
    }
}

fn transport_error(host: &str, timeout: Duration, e: ZmtpError) -> TransportError {
    match e {
        ZmtpError::Timeout { .. } => TransportError::Timeout {
            host: host.to_string(),
            timeout,
        },
        ZmtpError::TooLarge { .. } | ZmtpError::Refused { .. } | ZmtpError::Config(_) => {
            TransportError::Refused {
                host: host.to_string(),
                reason: e.to_string(),
            }
        }
        other => TransportError::Unreachable {
            host: host.to_string(),
            reason: other.to_string(),
        },
    }
}

impl Transport for ZmtpTransport {
    fn local_host(&self) -> &str {
        &self.host
    }

    fn call(
        &self,
        host: &str,
        frame: Bytes,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Bytes, TransportError>> {
        let client = self.client.clone();
        let host = host.to_string();
        Box::pin(async move {
            let reply = client
                .request(&host, vec![frame], timeout)
                .await
                .map_err(|e| transport_error(&host, timeout, e))?;
            match <[Bytes; 1]>::try_from(reply) {
                Ok([frame]) => Ok(frame),
                Err(parts) => Err(TransportError::Refused {
                    host,
                    reason: format!("a reply is one frame; got {} parts", parts.len()),
                }),
            }
        })
    }

    fn set_handler(&self, handler: Arc<dyn FrameHandler>) {
        *self
            .slot
            .handler
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(handler);
    }
}

//! A ROUTER-style request/reply server.
//!
//! Every accepted connection gets a handshake (bounded by the handshake timeout), a writer
//! task and a read loop. Each request message runs the [`Handler`] in its own task, so slow
//! requests do not block fast ones on the same connection; the reply goes back with the
//! request's envelope (all parts up to and including the empty delimiter) in front.
//!
//! Bad peers only ever cost their own connection: garbage, oversized messages, silence during
//! the handshake and protocol errors close that connection and nothing else.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

use crate::connection::{Connection, ConnectionConfig, Inbound};
use crate::error::{Result, ZmtpError};
use crate::frame::Command;
use crate::keys::{PublicKey, SecretKey};
use crate::outbound::{write_loop, Heartbeat, Outgoing};
use crate::security::Security;

/// Application logic of a server: turns a request body into a reply body.
pub trait Handler: Send + Sync + 'static {
    /// Handles one request. `request` holds the message parts after the envelope; the
    /// returned parts are sent back after the same envelope.
    fn handle(&self, request: Vec<Bytes>) -> BoxFuture<'static, Vec<Bytes>>;
}

impl<F> Handler for F
where
    F: Fn(Vec<Bytes>) -> BoxFuture<'static, Vec<Bytes>> + Send + Sync + 'static,
{
    fn handle(&self, request: Vec<Bytes>) -> BoxFuture<'static, Vec<Bytes>> {
        self(request)
    }
}

/// Security of a server.
#[derive(Clone, Debug, Default)]
pub enum ServerSecurity {
    /// No authentication or encryption.
    #[default]
    Null,
    /// CurveZMQ: clients must know `secret_key`'s public key; traffic is encrypted.
    Curve {
        /// The server's long-term secret key.
        secret_key: SecretKey,
        /// Client public keys allowed to connect. `None` admits any client that completes the
        /// handshake (encryption without client authentication). A client not on the list is
        /// sent an ERROR command and disconnected during the handshake.
        allowlist: Option<HashSet<PublicKey>>,
    },
}

/// Server settings.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Security mechanism.
    pub security: ServerSecurity,
    /// Connections served at once; further connections are closed right after accept.
    pub max_connections: usize,
    /// Largest request message accepted, in bytes; a peer sending more is disconnected.
    pub max_message_size: usize,
    /// A peer must finish greeting and handshake within this time or be disconnected.
    pub handshake_timeout: Duration,
    /// Requests of one connection being handled at once; reading pauses when reached.
    pub max_in_flight_per_connection: usize,
    /// Offer packed parts to CURVE peers (one box per multipart message instead of one per
    /// part, [`crate::packed`]); peers that do not offer it too (libzmq) are unaffected.
    pub pack_parts: bool,
    /// Offer AES-256-GCM CURVE MESSAGE boxes when this CPU has AES-NI (docs/wire.md §1.1);
    /// peers that do not offer it too (libzmq, ours without AES-NI) get XSalsa20-Poly1305.
    pub aes_gcm: bool,
    /// PING idle peers and drop silent ones; `None` keeps idle connections forever.
    pub heartbeat: Option<Heartbeat>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            security: ServerSecurity::Null,
            max_connections: 1024,
            max_message_size: 16 * 1024 * 1024,
            handshake_timeout: Duration::from_secs(10),
            max_in_flight_per_connection: 1024,
            heartbeat: None,
            pack_parts: true,
            aes_gcm: true,
        }
    }
}

struct Shared {
    config: ServerConfig,
    connection: ConnectionConfig,
    handler: Arc<dyn Handler>,
    active: AtomicUsize,
}

/// A running server. Dropping it (or calling [`Server::shutdown`]) stops accepting and
/// closes every connection.
pub struct Server {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    accept_task: JoinHandle<()>,
    stop: Option<oneshot::Sender<()>>,
}

impl Server {
    /// Binds `addr` (use port 0 for an ephemeral port) and starts serving with `handler`.
    pub async fn bind(
        addr: impl ToSocketAddrs,
        config: ServerConfig,
        handler: Arc<dyn Handler>,
    ) -> Result<Server> {
        if config.max_connections == 0 || config.max_in_flight_per_connection == 0 {
            return Err(ZmtpError::Config(
                "max_connections and max_in_flight_per_connection must be at least 1".into(),
            ));
        }
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let security = match &config.security {
            ServerSecurity::Null => Security::Null,
            ServerSecurity::Curve {
                secret_key,
                allowlist,
            } => Security::CurveServer {
                secret: secret_key.clone(),
                allowlist: allowlist.clone().map(Arc::new),
            },
        };
        let connection = ConnectionConfig {
            security,
            socket_type: "ROUTER",
            identity: None,
            handshake_timeout: config.handshake_timeout,
            max_message_size: config.max_message_size,
            pack_parts: config.pack_parts,
            aes_gcm: config.aes_gcm,
        };
        let shared = Arc::new(Shared {
            config,
            connection,
            handler,
            active: AtomicUsize::new(0),
        });
        let (stop, stopped) = oneshot::channel();
        let accept_task = tokio::spawn(accept_loop(listener, shared.clone(), stopped));
        tracing::debug!(%local_addr, "zmtp server listening");
        Ok(Server {
            local_addr,
            shared,
            accept_task,
            stop: Some(stop),
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Connections currently open (including ones still handshaking).
    pub fn active_connections(&self) -> usize {
        self.shared.active.load(Ordering::Relaxed)
    }

    /// Stops accepting, closes all connections and waits until that is done.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.accept_task).await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

/// Decrements the active-connection count when a connection task ends, however it ends.
struct ActiveGuard(Arc<Shared>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stopped: oneshot::Receiver<()>,
) {
    // Owning the connection tasks here means aborting this task aborts all of them.
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = &mut stopped => {
                drop(listener);
                connections.shutdown().await;
                return;
            }
            accepted = listener.accept() => accepted,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (stream, peer_addr) = match accepted {
            Ok(pair) => pair,
            Err(err) => {
                // Typically out of file descriptors: back off instead of spinning.
                tracing::warn!(%err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if shared.active.load(Ordering::Relaxed) >= shared.config.max_connections {
            tracing::warn!(%peer_addr, "connection limit reached; closing new connection");
            drop(stream);
            continue;
        }
        shared.active.fetch_add(1, Ordering::Relaxed);
        let guard = ActiveGuard(shared.clone());
        connections.spawn(async move {
            match serve_connection(stream, &guard.0).await {
                Ok(()) | Err(ZmtpError::Closed) => {
                    tracing::debug!(%peer_addr, "connection closed")
                }
                Err(err) => tracing::debug!(%peer_addr, %err, "connection dropped"),
            }
        });
    }
}

/// Polls `future` once: its output if it is already done, `None` if it has to wait (it then
/// holds our waker, which costs one spurious wake-up of the read loop at most).
///
/// A handler that panics here costs its request only, as it would in its own task: the panic
/// is caught, logged, and the request gets no reply.
async fn poll_once<T>(future: &mut BoxFuture<'static, T>) -> Result<Option<T>, HandlerPanicked> {
    std::future::poll_fn(|cx| {
        let polled = std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx)));
        Poll::Ready(match polled {
            Ok(Poll::Ready(output)) => Ok(Some(output)),
            Ok(Poll::Pending) => Ok(None),
            Err(_) => Err(HandlerPanicked),
        })
    })
    .await
}

/// A request handler panicked while being polled inline.
struct HandlerPanicked;

/// Splits a request into (envelope including the empty delimiter, body).
fn split_envelope(mut parts: Vec<Bytes>) -> Option<(Vec<Bytes>, Vec<Bytes>)> {
    let delimiter = parts.iter().position(|p| p.is_empty())?;
    let body = parts.split_off(delimiter + 1);
    Some((parts, body))
}

async fn serve_connection(stream: TcpStream, shared: &Arc<Shared>) -> Result<()> {
    stream.set_nodelay(true)?;
    let (read, write) = stream.into_split();
    let conn = Connection::establish(read, write, &shared.connection).await?;
    let (mut reader, writer, peer) = conn.into_parts();
    let heartbeat = shared
        .config
        .heartbeat
        .filter(|_| peer.greeting.supports_heartbeat());
    let in_flight = shared.config.max_in_flight_per_connection;
    let (out_tx, out_rx) = mpsc::channel::<Outgoing>(in_flight + 16);
    let mut tasks: JoinSet<()> = JoinSet::new();
    let mut writer_task = tokio::spawn(write_loop(writer, out_rx));
    let slots = Arc::new(Semaphore::new(in_flight));
    // With heartbeats off the timer still exists (select! needs a value) but is never polled.
    let ping_period = heartbeat.map_or(Duration::from_secs(3600), |hb| hb.interval);
    let mut ping_timer =
        tokio::time::interval_at(tokio::time::Instant::now() + ping_period, ping_period);
    ping_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_heard = tokio::time::Instant::now();

    let outcome = loop {
        let inbound = tokio::select! {
            inbound = reader.recv() => inbound,
            done = &mut writer_task => {
                break match done {
                    Ok(result) => result,
                    Err(_) => Err(ZmtpError::Closed),
                };
            }
            _ = ping_timer.tick(), if heartbeat.is_some() => {
                if let Some(hb) = heartbeat {
                    if last_heard.elapsed() > hb.timeout {
                        break Err(ZmtpError::Timeout { operation: "heartbeat" });
                    }
                    if out_tx.send(Outgoing::Command(hb.ping())).await.is_err() {
                        break Err(ZmtpError::Closed);
                    }
                }
                continue;
            }
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(err) = done {
                    if err.is_panic() {
                        tracing::error!("request handler panicked; that request gets no reply");
                    }
                }
                continue;
            }
        };
        last_heard = tokio::time::Instant::now();
        match inbound {
            Ok(Inbound::Message(parts)) => {
                let Some((envelope, body)) = split_envelope(parts) else {
                    tracing::debug!("request without an empty delimiter; dropped");
                    continue;
                };
                let mut handling = shared.handler.handle(body);
                // Most handlers answer without waiting on anything: poll once here and send the
                // reply straight away, which spares a task spawn, a slot and a wake-up per
                // request. Only a handler that is not done yet gets its own task.
                let polled = match poll_once(&mut handling).await {
                    Ok(polled) => polled,
                    Err(HandlerPanicked) => {
                        tracing::error!("request handler panicked; that request gets no reply");
                        continue;
                    }
                };
                if let Some(answer) = polled {
                    let mut reply = envelope;
                    reply.extend(answer);
                    if out_tx.send(Outgoing::Message(reply)).await.is_err() {
                        break Err(ZmtpError::Closed);
                    }
                    continue;
                }
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    break Err(ZmtpError::Closed);
                };
                let out = out_tx.clone();
                tasks.spawn(async move {
                    let mut reply = envelope;
                    reply.extend(handling.await);
                    let _ = out.send(Outgoing::Message(reply)).await;
                    drop(permit);
                });
            }
            Ok(Inbound::Ping(body)) => {
                if out_tx
                    .send(Outgoing::Command(Command::pong_for(&body)))
                    .await
                    .is_err()
                {
                    break Err(ZmtpError::Closed);
                }
            }
            Ok(Inbound::Pong(_)) => {}
            Err(err) => break Err(err),
        }
    };
    drop(out_tx);
    tasks.abort_all();
    writer_task.abort();
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_split() {
        let parts = vec![
            Bytes::from_static(b"id"),
            Bytes::new(),
            Bytes::from_static(b"a"),
            Bytes::from_static(b"b"),
        ];
        let (env, body) = split_envelope(parts).unwrap();
        assert_eq!(env, vec![Bytes::from_static(b"id"), Bytes::new()]);
        assert_eq!(
            body,
            vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")]
        );
        assert!(split_envelope(vec![Bytes::from_static(b"x")]).is_none());
        let (env, body) = split_envelope(vec![Bytes::new()]).unwrap();
        assert_eq!((env.len(), body.len()), (1, 0));
    }
}

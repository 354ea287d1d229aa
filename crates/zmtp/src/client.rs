//! A DEALER-style request/reply client with one persistent connection per peer address.
//!
//! Each peer address gets a task that owns its connection. Connections are opened lazily on
//! the first request and re-opened on the next request after they fail; after a connect that
//! timed out (or failed in the handshake) the peer is considered down for a backoff period
//! (doubling up to a maximum) during which requests fail at once instead of piling up on a
//! silent address. A refused connect is no reason to wait: the refusal cost one round trip,
//! and a peer restarted on the same address must be reachable the moment it listens (see
//! `ConnectFailure`).
//!
//! A request is sent as `[8-byte request id][empty][body...]` and matched with its reply by
//! id, so many requests can be in flight on one connection. The number in flight per peer is
//! bounded (the window); further requests wait for a slot within their own deadline.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::connection::{Connection, ConnectionConfig, Inbound};
use crate::error::{Result, ZmtpError};
use crate::frame::Command;
use crate::keys::{KeyPair, PublicKey};
use crate::outbound::{write_loop, Heartbeat, Outgoing};
use crate::reset::ResetWriteHalf;
use crate::security::Security;

/// The server public keys a CURVE client trusts.
#[derive(Clone, Debug, Default)]
pub struct ServerKeys {
    /// Key used for any address without an entry in `per_address` (one key for a whole cluster).
    pub cluster: Option<PublicKey>,
    /// Keys of individual servers, by the address string passed to [`Client::request`].
    pub per_address: HashMap<String, PublicKey>,
}

impl ServerKeys {
    /// Every server uses the same key pair.
    pub fn cluster(key: PublicKey) -> Self {
        ServerKeys {
            cluster: Some(key),
            per_address: HashMap::new(),
        }
    }

    /// Adds or replaces the key of the server at `addr`.
    pub fn with(mut self, addr: impl Into<String>, key: PublicKey) -> Self {
        self.per_address.insert(addr.into(), key);
        self
    }

    /// Key expected from the server at `addr`.
    pub fn for_address(&self, addr: &str) -> Option<PublicKey> {
        self.per_address.get(addr).copied().or(self.cluster)
    }
}

/// Security of a client.
#[derive(Clone, Debug, Default)]
pub enum ClientSecurity {
    /// No authentication or encryption.
    #[default]
    Null,
    /// CurveZMQ: we prove `keys` to the server and require it to own the expected server key.
    Curve {
        /// Our long-term key pair; its public key is what server allowlists contain.
        keys: KeyPair,
        /// Which server key to expect at which address.
        server_keys: ServerKeys,
    },
}

/// Client settings.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Security mechanism.
    pub security: ClientSecurity,
    /// Requests in flight per peer; more wait for a slot (within their deadline).
    pub max_in_flight: usize,
    /// TCP connect must succeed within this time (also bounded by the request deadline).
    pub connect_timeout: Duration,
    /// Greeting and handshake must finish within this time.
    pub handshake_timeout: Duration,
    /// Largest reply accepted, in bytes; a bigger one closes the connection.
    pub max_message_size: usize,
    /// First wait after a failed connect before trying that peer again.
    pub reconnect_backoff_min: Duration,
    /// Longest wait between connect attempts to a peer that stays down.
    pub reconnect_backoff_max: Duration,
    /// Offer packed parts to CURVE peers (one box per multipart message instead of one per
    /// part, [`crate::packed`]); peers that do not offer it too (libzmq) are unaffected.
    pub pack_parts: bool,
    /// Offer AES-256-GCM CURVE MESSAGE boxes when this CPU has AES-NI (docs/wire.md §1.1);
    /// peers that do not offer it too (libzmq, ours without AES-NI) get XSalsa20-Poly1305.
    pub aes_gcm: bool,
    /// PING idle connections and drop silent ones; `None` disables heartbeats.
    pub heartbeat: Option<Heartbeat>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            security: ClientSecurity::Null,
            max_in_flight: 128,
            connect_timeout: Duration::from_secs(3),
            handshake_timeout: Duration::from_secs(5),
            max_message_size: 16 * 1024 * 1024,
            reconnect_backoff_min: Duration::from_millis(50),
            reconnect_backoff_max: Duration::from_secs(2),
            heartbeat: None,
            pack_parts: true,
            aes_gcm: true,
        }
    }
}

type ReplySender = oneshot::Sender<Result<Vec<Bytes>>>;

enum PeerCommand {
    Request {
        id: u64,
        parts: Vec<Bytes>,
        reply: ReplySender,
        deadline: Instant,
    },
    Cancel(u64),
}

struct Peer {
    commands: mpsc::UnboundedSender<PeerCommand>,
    window: Arc<Semaphore>,
    task: JoinHandle<()>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Inner {
    config: ClientConfig,
    peers: Mutex<HashMap<String, Arc<Peer>>>,
    next_id: AtomicU64,
}

/// A request/reply client. Cheap to clone; clones share connections. Dropping the last clone
/// closes all connections and fails requests still in flight.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

/// Tells the peer task to forget a request whose caller gave up (timeout or drop).
struct CancelOnDrop<'a> {
    id: u64,
    commands: &'a mpsc::UnboundedSender<PeerCommand>,
    armed: bool,
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.commands.send(PeerCommand::Cancel(self.id));
        }
    }
}

impl Client {
    /// Creates a client; no connection is opened until the first request.
    pub fn new(config: ClientConfig) -> Result<Client> {
        if config.max_in_flight == 0 {
            return Err(ZmtpError::Config("max_in_flight must be at least 1".into()));
        }
        Ok(Client {
            inner: Arc::new(Inner {
                config,
                peers: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(1),
            }),
        })
    }

    fn peer(&self, addr: &str) -> Result<Arc<Peer>> {
        let mut peers = self
            .inner
            .peers
            .lock()
            .map_err(|_| ZmtpError::Config("client peer table poisoned".into()))?;
        if let Some(peer) = peers.get(addr) {
            if !peer.task.is_finished() {
                return Ok(peer.clone());
            }
        }
        let config = &self.inner.config;
        let security = match &config.security {
            ClientSecurity::Null => Security::Null,
            ClientSecurity::Curve { keys, server_keys } => Security::CurveClient {
                keys: keys.clone(),
                server: server_keys.for_address(addr).ok_or_else(|| {
                    ZmtpError::Config(format!("no CURVE server key known for {addr}"))
                })?,
            },
        };
        let connection = ConnectionConfig {
            security,
            socket_type: "DEALER",
            identity: None,
            handshake_timeout: config.handshake_timeout,
            max_message_size: config.max_message_size,
            pack_parts: config.pack_parts,
            aes_gcm: config.aes_gcm,
        };
        let (commands, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run_peer(addr.to_string(), config.clone(), connection, rx));
        let peer = Arc::new(Peer {
            commands,
            window: Arc::new(Semaphore::new(config.max_in_flight)),
            task,
        });
        peers.insert(addr.to_string(), peer.clone());
        Ok(peer)
    }

    /// Closes the connection to `addr` (if any) and forgets the peer; requests in flight to it
    /// fail with [`ZmtpError::Closed`]. A later request to `addr` connects afresh. Use it when a
    /// peer leaves for good, so its idle connection and task do not linger.
    pub fn disconnect(&self, addr: &str) {
        let removed = match self.inner.peers.lock() {
            Ok(mut peers) => peers.remove(addr),
            Err(poisoned) => poisoned.into_inner().remove(addr),
        };
        if let Some(peer) = removed {
            peer.task.abort();
        }
    }

    /// Peer addresses with a connection task (connected or waiting to reconnect).
    pub fn peer_count(&self) -> usize {
        match self.inner.peers.lock() {
            Ok(peers) => peers.len(),
            Err(poisoned) => poisoned.into_inner().len(),
        }
    }

    /// Sends `body` to the server at `addr` (`host:port`) and waits for the reply body.
    ///
    /// Fails with [`ZmtpError::Timeout`] if no reply arrives within `timeout` (including time
    /// spent waiting for a window slot and connecting), [`ZmtpError::Unreachable`] promptly when
    /// the peer cannot be connected, and [`ZmtpError::Closed`] when the connection drops while
    /// the request is in flight (it may or may not have been processed).
    pub async fn request(
        &self,
        addr: &str,
        body: Vec<Bytes>,
        timeout: Duration,
    ) -> Result<Vec<Bytes>> {
        let deadline = Instant::now() + timeout;
        let peer = self.peer(addr)?;
        let _slot: OwnedSemaphorePermit =
            tokio::time::timeout_at(deadline, peer.window.clone().acquire_owned())
                .await
                .map_err(|_| ZmtpError::Timeout {
                    operation: "wait for an in-flight slot",
                })?
                .map_err(|_| ZmtpError::Closed)?;
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (reply, replied) = oneshot::channel();
        peer.commands
            .send(PeerCommand::Request {
                id,
                parts: body,
                reply,
                deadline,
            })
            .map_err(|_| ZmtpError::Closed)?;
        let mut cancel = CancelOnDrop {
            id,
            commands: &peer.commands,
            armed: true,
        };
        let outcome = tokio::time::timeout_at(deadline, replied).await;
        match outcome {
            Ok(Ok(result)) => {
                cancel.armed = false;
                result
            }
            Ok(Err(_)) => {
                cancel.armed = false;
                Err(ZmtpError::Closed)
            }
            Err(_) => Err(ZmtpError::Timeout {
                operation: "request",
            }),
        }
    }
}

fn fail(reply: ReplySender, err: &ZmtpError) {
    let _ = reply.send(Err(err.clone()));
}

/// Owns the connection to one peer for as long as the client lives.
async fn run_peer(
    addr: String,
    config: ClientConfig,
    connection: ConnectionConfig,
    mut commands: mpsc::UnboundedReceiver<PeerCommand>,
) {
    let mut backoff = config.reconnect_backoff_min;
    let mut last_failure: Option<ConnectFailure> = None;
    loop {
        // Disconnected: wait for a request before connecting (lazy connect).
        let (id, parts, reply, deadline) = loop {
            match commands.recv().await {
                None => return,
                Some(PeerCommand::Cancel(_)) => continue,
                Some(PeerCommand::Request {
                    id,
                    parts,
                    reply,
                    deadline,
                }) => {
                    if reply.is_closed() {
                        continue;
                    }
                    break (id, parts, reply, deadline);
                }
            }
        };
        if let Some(failure) = &last_failure {
            if failure.holds_back(backoff) {
                fail(reply, &failure.error);
                continue;
            }
        }
        match connect(&addr, &config, &connection, deadline).await {
            Err(err) => {
                tracing::debug!(%addr, %err, "connect failed");
                fail(reply, &err);
                // Everything already queued for this peer fails now rather than at its deadline.
                while let Ok(cmd) = commands.try_recv() {
                    if let PeerCommand::Request { reply, .. } = cmd {
                        fail(reply, &err);
                    }
                }
                let failure = ConnectFailure::new(err);
                if failure.refused {
                    backoff = config.reconnect_backoff_min;
                } else if last_failure.is_some() {
                    backoff = (backoff * 2).min(config.reconnect_backoff_max);
                }
                last_failure = Some(failure);
            }
            Ok(conn) => {
                backoff = config.reconnect_backoff_min;
                last_failure = None;
                let first = (id, parts, reply, deadline);
                match run_connected(conn, &config, first, &mut commands).await {
                    Ok(()) => return,
                    Err(err) => tracing::debug!(%addr, %err, "connection lost"),
                }
            }
        }
    }
}

/// How [`connect`] starts the reason of a refused connection.
const REFUSED: &str = "connection refused";

/// The last connect to a peer that failed, and whether it holds the next requests back.
struct ConnectFailure {
    at: Instant,
    error: ZmtpError,
    /// The peer's host answered that nothing listens there (kill -9, a restart under way).
    refused: bool,
}

impl ConnectFailure {
    fn new(error: ZmtpError) -> ConnectFailure {
        let refused =
            matches!(&error, ZmtpError::Unreachable { reason, .. } if reason.starts_with(REFUSED));
        ConnectFailure {
            at: Instant::now(),
            error,
            refused,
        }
    }

    /// Whether a request now fails at once with this failure's error, without a connect.
    ///
    /// A refusal never holds requests back: connecting again costs one round trip, and a peer
    /// that restarts on the same address would otherwise look down to us for up to the backoff
    /// maximum after it is back, while it reaches us. A ring node then declared a restarted
    /// predecessor dead on two instant failures, moments after that predecessor had confirmed
    /// its hand-over to the new one, and two vnodes served the range as primary (docs/reliability.md, fix 19).
    /// Connects that timed out (a silent address) still back off.
    fn holds_back(&self, backoff: Duration) -> bool {
        !self.refused && self.at.elapsed() < backoff
    }
}

async fn connect(
    addr: &str,
    config: &ClientConfig,
    connection: &ConnectionConfig,
    deadline: Instant,
) -> Result<Connection<tokio::net::tcp::OwnedReadHalf, ResetWriteHalf>> {
    let connect_deadline = deadline.min(Instant::now() + config.connect_timeout);
    let stream = tokio::time::timeout_at(connect_deadline, TcpStream::connect(addr))
        .await
        .map_err(|_| ZmtpError::Unreachable {
            addr: addr.to_string(),
            reason: "connect timed out".into(),
        })?
        .map_err(|err| ZmtpError::Unreachable {
            addr: addr.to_string(),
            reason: if err.kind() == std::io::ErrorKind::ConnectionRefused {
                format!("{REFUSED}: {err}")
            } else {
                err.to_string()
            },
        })?;
    stream.set_nodelay(true)?;
    // Closing must discard what the kernel still holds, not keep retransmitting it: a request
    // whose caller was told it failed (its connection dropped as silent during a partition)
    // would otherwise reach the peer after the heal and be applied then, a failed write taking
    // effect after later acknowledged ones (docs/reliability.md, fix 32). With a zero linger
    // the close sends a reset at once and never blocks; `ResetWriteHalf` keeps the write half
    // from sending a FIN first.
    stream.set_zero_linger()?;
    let (read, write) = stream.into_split();
    Connection::establish(read, ResetWriteHalf::new(write), connection).await
}

fn request_message(id: u64, body: Vec<Bytes>) -> Vec<Bytes> {
    let mut parts = Vec::with_capacity(body.len() + 2);
    parts.push(Bytes::copy_from_slice(&id.to_be_bytes()));
    parts.push(Bytes::new());
    parts.extend(body);
    parts
}

/// Splits a reply into (request id, body); `None` if it is not a reply to our envelope.
fn parse_reply(mut parts: Vec<Bytes>) -> Option<(u64, Vec<Bytes>)> {
    if parts.len() < 2 || !parts[1].is_empty() {
        return None;
    }
    let id = u64::from_be_bytes(<[u8; 8]>::try_from(&parts[0][..]).ok()?);
    Some((id, parts.split_off(2)))
}

/// A request sent on a connection, waiting for its reply.
struct InFlight {
    reply: ReplySender,
    sent: Instant,
    deadline: Instant,
}

/// Serves one live connection. Returns `Ok(())` when the client is gone, `Err` when the
/// connection failed (every pending request has then been failed with [`ZmtpError::Closed`]).
///
/// A connection over which nothing at all came back while a request ran out its whole time is
/// dropped (the next request opens a fresh one): the peer crashed without a word, or a
/// partition cut the link. TCP would keep such a stream open and, once the link is back,
/// deliver what it holds only at its next retransmission, whose wait doubles with every one
/// lost: after a 15-second partition every request to the far side waited about ten more
/// seconds, and so did the rings' merge (docs/reliability.md, fix 32). A peer that answers
/// anything meanwhile keeps the connection, however slow one request is.
async fn run_connected(
    conn: Connection<tokio::net::tcp::OwnedReadHalf, ResetWriteHalf>,
    config: &ClientConfig,
    first: (u64, Vec<Bytes>, ReplySender, Instant),
    commands: &mut mpsc::UnboundedReceiver<PeerCommand>,
) -> Result<()> {
    let (mut reader, writer, peer) = conn.into_parts();
    let heartbeat = config
        .heartbeat
        .filter(|_| peer.greeting.supports_heartbeat());
    let (out_tx, out_rx) = mpsc::channel::<Outgoing>(config.max_in_flight + 16);
    let mut writer_task = tokio::spawn(write_loop(writer, out_rx));
    let mut pending: HashMap<u64, InFlight> = HashMap::new();
    let ping_period = heartbeat.map_or(Duration::from_secs(3600), |hb| hb.interval);
    let mut ping_timer = tokio::time::interval_at(Instant::now() + ping_period, ping_period);
    ping_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();

    let (id, parts, reply, deadline) = first;
    pending.insert(
        id,
        InFlight {
            reply,
            sent: Instant::now(),
            deadline,
        },
    );
    let mut outcome = match out_tx
        .send(Outgoing::Message(request_message(id, parts)))
        .await
    {
        Ok(()) => None,
        Err(_) => Some(Err(ZmtpError::Closed)),
    };

    while outcome.is_none() {
        tokio::select! {
            cmd = commands.recv() => match cmd {
                None => outcome = Some(Ok(())),
                Some(PeerCommand::Cancel(id)) => {
                    // Cancelled at its deadline (not dropped early by a caller that lost
                    // interest) with nothing heard since it was sent: the link is dead.
                    if let Some(gone) = pending.remove(&id) {
                        if Instant::now() >= gone.deadline && last_heard <= gone.sent {
                            outcome = Some(Err(ZmtpError::Timeout {
                                operation: "request on a connection gone silent",
                            }));
                        }
                    }
                }
                Some(PeerCommand::Request { id, parts, reply, deadline }) => {
                    if reply.is_closed() {
                        continue;
                    }
                    pending.insert(id, InFlight { reply, sent: Instant::now(), deadline });
                    if out_tx.send(Outgoing::Message(request_message(id, parts))).await.is_err() {
                        outcome = Some(Err(ZmtpError::Closed));
                    }
                }
            },
            inbound = reader.recv() => {
                last_heard = Instant::now();
                match inbound {
                    Ok(Inbound::Message(parts)) => match parse_reply(parts) {
                        Some((id, body)) => {
                            if let Some(done) = pending.remove(&id) {
                                let _ = done.reply.send(Ok(body));
                            }
                        }
                        None => tracing::debug!("reply without our envelope; dropped"),
                    },
                    Ok(Inbound::Ping(body)) => {
                        if out_tx.send(Outgoing::Command(Command::pong_for(&body))).await.is_err() {
                            outcome = Some(Err(ZmtpError::Closed));
                        }
                    }
                    Ok(Inbound::Pong(_)) => {}
                    Err(err) => outcome = Some(Err(err)),
                }
            }
            done = &mut writer_task => {
                outcome = Some(match done {
                    Ok(Ok(())) | Err(_) => Err(ZmtpError::Closed),
                    Ok(Err(err)) => Err(err),
                });
            }
            _ = ping_timer.tick(), if heartbeat.is_some() => {
                if let Some(hb) = heartbeat {
                    if last_heard.elapsed() > hb.timeout {
                        outcome = Some(Err(ZmtpError::Timeout { operation: "heartbeat" }));
                    } else if out_tx.send(Outgoing::Command(hb.ping())).await.is_err() {
                        outcome = Some(Err(ZmtpError::Closed));
                    }
                }
            }
        }
    }
    drop(out_tx);
    writer_task.abort();
    for (_, waiting) in pending.drain() {
        let _ = waiting.reply.send(Err(ZmtpError::Closed));
    }
    outcome.unwrap_or(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_reply_envelopes() {
        let msg = request_message(7, vec![Bytes::from_static(b"x")]);
        assert_eq!(msg[0].as_ref(), &7u64.to_be_bytes());
        assert!(msg[1].is_empty());
        let (id, body) = parse_reply(msg).unwrap();
        assert_eq!((id, body), (7, vec![Bytes::from_static(b"x")]));
        assert!(parse_reply(vec![Bytes::from_static(b"short"), Bytes::new()]).is_none());
        assert!(parse_reply(vec![Bytes::from_static(b"12345678")]).is_none());
    }

    #[test]
    fn server_key_lookup_prefers_address() {
        let a = KeyPair::generate().public;
        let b = KeyPair::generate().public;
        let keys = ServerKeys::cluster(a).with("h:1", b);
        assert_eq!(keys.for_address("h:1"), Some(b));
        assert_eq!(keys.for_address("h:2"), Some(a));
        assert_eq!(ServerKeys::default().for_address("h:2"), None);
    }
}

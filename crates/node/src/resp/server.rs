//! The RESP TCP server: accepts clients and runs their request loops.
//!
//! Each connection reads whatever is available, executes every complete
//! request in order, and writes all replies with one write per batch, so
//! pipelined clients get one syscall per read instead of one per command.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::auth::{allowed_before_auth, noauth, Password};
use super::commands::{canonical_name, execute, execute_gets, Command, Flow, Session};
use super::request::{ParseLimits, ProtocolError, RequestParser};
use super::Reply;
use crate::backend::Backend;
use crate::metrics::Metrics;
use crate::shutdown::ShutdownSignal;

/// Resource bounds of the RESP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RespLimits {
    /// Connections served at once; more are told so and closed (Redis: 10000).
    pub max_clients: usize,
    /// Request parsing limits.
    pub parse: ParseLimits,
    /// Replies buffered before writing mid-batch, bounding memory per client.
    pub max_pending_output: usize,
}

impl Default for RespLimits {
    fn default() -> Self {
        RespLimits {
            max_clients: 10_000,
            parse: ParseLimits::default(),
            max_pending_output: 1024 * 1024,
        }
    }
}

/// Everything the RESP server is configured with.
#[derive(Debug, Clone, Default)]
pub struct RespConfig {
    /// Resource bounds.
    pub limits: RespLimits,
    /// The password clients must `AUTH` with first (Redis's `requirepass`); `None` admits all.
    pub requirepass: Option<Password>,
}

impl From<RespLimits> for RespConfig {
    fn from(limits: RespLimits) -> RespConfig {
        RespConfig {
            limits,
            requirepass: None,
        }
    }
}

const READ_CHUNK: usize = 16 * 1024;
/// Most pipelined `GET`s answered by one multi-key read (see [`Connection::run_batch`]).
const MAX_GET_GROUP: usize = 128;
const MAX_CLIENTS_REPLY: &[u8] = b"-ERR max number of clients reached\r\n";

/// Serves RESP clients on `listener` until `shutdown` fires, then waits for
/// open connections to finish their current batch and returns.
pub async fn serve_resp(
    listener: TcpListener,
    backend: Arc<dyn Backend>,
    metrics: Arc<Metrics>,
    config: impl Into<RespConfig>,
    mut shutdown: ShutdownSignal,
) -> io::Result<()> {
    let RespConfig {
        limits,
        requirepass,
    } = config.into();
    let permits = Arc::new(Semaphore::new(limits.max_clients));
    let next_client_id = AtomicU64::new(1);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = shutdown.wait() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Usually out of file descriptors: back off instead of spinning.
                        tracing::warn!(%error, "accepting a RESP client failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    metrics.client_rejected();
                    tracing::warn!(%peer, max_clients = limits.max_clients, "refusing client: limit reached");
                    connections.spawn(refuse(stream));
                    continue;
                };
                let client_id = next_client_id.fetch_add(1, Ordering::Relaxed);
                let connection = Connection {
                    backend: backend.clone(),
                    metrics: metrics.clone(),
                    limits,
                    session: Session::with_password(client_id, requirepass.clone()),
                };
                let shutdown = shutdown.clone();
                connections.spawn(async move {
                    tracing::debug!(%peer, client_id, "RESP client connected");
                    if let Err(error) = connection.run(stream, shutdown).await {
                        tracing::debug!(%peer, %error, "RESP connection ended with an error");
                    }
                    drop(permit);
                });
            }
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
    Ok(())
}

async fn refuse(mut stream: TcpStream) {
    let _ = stream.write_all(MAX_CLIENTS_REPLY).await;
    let _ = stream.shutdown().await;
}

struct Connection {
    backend: Arc<dyn Backend>,
    metrics: Arc<Metrics>,
    limits: RespLimits,
    session: Session,
}

impl Connection {
    async fn run(mut self, mut stream: TcpStream, mut shutdown: ShutdownSignal) -> io::Result<()> {
        let _client = self.metrics.client_connected();
        stream.set_nodelay(true)?;
        let mut parser = RequestParser::new(self.limits.parse);
        let mut input = BytesMut::with_capacity(READ_CHUNK);
        let mut output = BytesMut::with_capacity(READ_CHUNK);
        // One wait for the whole connection, not a fresh one per read: registering and dropping
        // a waiter on every read showed in profiles.
        let stopped = shutdown.wait();
        tokio::pin!(stopped);
        loop {
            let flow = self
                .run_batch(&mut parser, &mut input, &mut output, &mut stream)
                .await?;
            if !output.is_empty() {
                stream.write_all(&output).await?;
                output.clear();
            }
            if flow == Flow::Close {
                stream.shutdown().await?;
                return Ok(());
            }
            input.reserve(READ_CHUNK);
            tokio::select! {
                read = stream.read_buf(&mut input) => {
                    if read? == 0 {
                        return Ok(());
                    }
                }
                () = &mut stopped => return Ok(()),
            }
        }
    }

    /// Executes every complete request in `input`, encoding replies into
    /// `output` (written early only if it grows past the limit).
    async fn run_batch(
        &mut self,
        parser: &mut RequestParser,
        input: &mut BytesMut,
        output: &mut BytesMut,
        stream: &mut TcpStream,
    ) -> io::Result<Flow> {
        // A request read while gathering GETs that was not one: it runs next.
        let mut carried: Option<Result<Vec<Bytes>, ProtocolError>> = None;
        loop {
            let next = match carried.take() {
                Some(request) => request.map(Some),
                None => parser.next_request(input),
            };
            let args = match next {
                Ok(Some(args)) => args,
                Ok(None) => return Ok(Flow::Continue),
                Err(error) => {
                    self.metrics.protocol_error();
                    tracing::debug!(%error, "closing RESP client after a protocol error");
                    Reply::err(format!("Protocol error: {error}")).encode(output);
                    return Ok(Flow::Close);
                }
            };
            let name = canonical_name(&args);
            let started = Instant::now();
            if self.session.authenticated && is_plain_get(name, &args) {
                // Consecutive pipelined GETs become one multi-key read: one round trip per
                // primary instead of one per key, in the order the client sent them.
                let mut keys = vec![args[1].clone()];
                while keys.len() < MAX_GET_GROUP {
                    match parser.next_request(input) {
                        Ok(Some(next)) if is_plain_get(canonical_name(&next), &next) => {
                            keys.push(next[1].clone());
                        }
                        Ok(None) => break,
                        other => {
                            carried = other.transpose();
                            break;
                        }
                    }
                }
                let count = keys.len() as u32;
                let replies = execute_gets(keys, &self.session, self.backend.as_ref()).await;
                let each = started.elapsed() / count;
                for reply in replies {
                    self.metrics.record_command(name, each, reply.is_error());
                    reply.encode(output);
                }
                if output.len() >= self.limits.max_pending_output {
                    stream.write_all(output).await?;
                    output.clear();
                }
                continue;
            }
            // Redis's order: an unknown command is reported as such even before AUTH.
            let gated = !self.session.authenticated && name != "unknown";
            let (reply, flow) = if gated && !allowed_before_auth(name) {
                (noauth(), Flow::Continue)
            } else {
                match Command::parse(args) {
                    Ok(command) => {
                        execute(
                            command,
                            &mut self.session,
                            self.backend.as_ref(),
                            &self.metrics,
                        )
                        .await
                    }
                    Err(reply) => (reply, Flow::Continue),
                }
            };
            self.metrics
                .record_command(name, started.elapsed(), reply.is_error());
            reply.encode(output);
            if flow == Flow::Close {
                return Ok(Flow::Close);
            }
            if output.len() >= self.limits.max_pending_output {
                stream.write_all(output).await?;
                output.clear();
            }
        }
    }
}

/// A well-formed `GET key`, the only command [`Connection::run_batch`] groups.
fn is_plain_get(name: &str, args: &[Bytes]) -> bool {
    name == "get" && args.len() == 2
}

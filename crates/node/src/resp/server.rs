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
use super::clients::{ClientRecord, ClientRegistry};
use super::cluster::{route, Routing};
use super::commands::{
    canonical_name, execute, execute_gets, execute_sets, from_backend, Command, Flow, Session,
};
use super::request::{ParseLimits, ProtocolError, RequestParser};
use super::strings::Answer;
use super::Reply;
use crate::backend::{Backend, ReplicaReads};
use crate::metrics::{ClusterOutcome, Metrics};
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
    /// Treat every connection as a cluster client (`MOVED` for keys whose primary is
    /// elsewhere), not only those that sent `CLUSTER` or `READONLY`.
    pub cluster_redirects: bool,
}

impl From<RespLimits> for RespConfig {
    fn from(limits: RespLimits) -> RespConfig {
        RespConfig {
            limits,
            requirepass: None,
            cluster_redirects: false,
        }
    }
}

const READ_CHUNK: usize = 16 * 1024;
/// Most pipelined `GET`s (or `SET`s) answered by one multi-key operation (see
/// [`Connection::run_group`]).
const MAX_GROUP: usize = 128;
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
        cluster_redirects,
    } = config.into();
    let replica_reads: Arc<dyn Backend> = Arc::new(ReplicaReads(backend.clone()));
    let permits = Arc::new(Semaphore::new(limits.max_clients));
    let next_client_id = AtomicU64::new(1);
    let clients = ClientRegistry::new();
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
                let record = ClientRecord::new(
                    client_id,
                    Some(peer),
                    stream.local_addr().ok(),
                    file_descriptor(&stream),
                );
                clients.publish(&record);
                let mut session = Session::accepted(record, clients.clone(), requirepass.clone());
                session.cluster_client = cluster_redirects;
                let connection = Connection {
                    backend: backend.clone(),
                    replica_reads: replica_reads.clone(),
                    metrics: metrics.clone(),
                    limits,
                    session,
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

/// The socket's descriptor, for `CLIENT LIST`'s `fd=`.
#[cfg(unix)]
fn file_descriptor(stream: &TcpStream) -> i64 {
    use std::os::fd::AsRawFd;
    i64::from(stream.as_raw_fd())
}

#[cfg(not(unix))]
fn file_descriptor(_stream: &TcpStream) -> i64 {
    -1
}

async fn refuse(mut stream: TcpStream) {
    let _ = stream.write_all(MAX_CLIENTS_REPLY).await;
    let _ = stream.shutdown().await;
}

/// How [`Connection::route`] has a cluster client's request served.
enum Served {
    /// As any client's: here, or forwarded to the key's primary.
    Usual,
    /// Against this node's own copies ([`ReplicaReads`]).
    FromCopy,
    /// Not run: this reply (`MOVED`, `CROSSSLOT`) instead.
    Instead(Reply),
}

struct Connection {
    backend: Arc<dyn Backend>,
    /// `backend` with reads from this node's own copies, for `READONLY` reads of replica slots.
    replica_reads: Arc<dyn Backend>,
    metrics: Arc<Metrics>,
    limits: RespLimits,
    session: Session,
}

impl Connection {
    async fn run(mut self, stream: TcpStream, shutdown: ShutdownSignal) -> io::Result<()> {
        let clients = self.session.clients.clone();
        let id = self.session.client_id();
        let outcome = self.serve(stream, shutdown).await;
        clients.remove(id);
        outcome
    }

    async fn serve(
        &mut self,
        mut stream: TcpStream,
        mut shutdown: ShutdownSignal,
    ) -> io::Result<()> {
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
            self.session.clients.publish(&self.session.record);
            if !output.is_empty() {
                // Write after every other ready connection has run its batch (tokio defers a
                // yielded task to the end of the scheduler's tick), as Redis writes all replies
                // of an event-loop turn together: the client, woken by the first write, is still
                // running at the next, so the cross-core wake-up is paid once per tick instead
                // of once per connection. At -P 16 it cut the node's CPU per GET by 38 %
                // (docs/performance.md, "Pipelined commands").
                tokio::task::yield_now().await;
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
        let mut carried: Carried = None;
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
                    Reply::err(format!("Protocol error: {error}"))
                        .encode(self.session.protocol, output);
                    return Ok(Flow::Close);
                }
            };
            let name = canonical_name(&args);
            self.session.note_command(&args);
            // ASKING covers the one command after it.
            let asking = std::mem::take(&mut self.session.asking);
            let mut from_copy = false;
            if self.session.authenticated && self.session.cluster_client {
                match self.route(&args, asking) {
                    Served::Usual => {}
                    Served::FromCopy => from_copy = true,
                    Served::Instead(reply) => {
                        self.metrics
                            .record_command(name, Duration::ZERO, reply.is_error());
                        reply.encode(self.session.protocol, output);
                        continue;
                    }
                }
            }
            if self.session.authenticated && !from_copy {
                if let Some(kind) = Groupable::of(name, &args) {
                    carried = self.run_group(kind, args, parser, input, output).await;
                    if output.len() >= self.limits.max_pending_output {
                        stream.write_all(output).await?;
                        output.clear();
                    }
                    continue;
                }
            }
            let started = Instant::now();
            // Redis's order: an unknown command is reported as such even before AUTH.
            let gated = !self.session.authenticated && name != "unknown";
            let (reply, flow) = if gated && !allowed_before_auth(name) {
                (noauth(), Flow::Continue)
            } else {
                let backend = if from_copy {
                    self.replica_reads.as_ref()
                } else {
                    self.backend.as_ref()
                };
                match Command::parse(args) {
                    Ok(command) => {
                        execute(command, &mut self.session, backend, &self.metrics).await
                    }
                    Err(reply) => (reply, Flow::Continue),
                }
            };
            self.metrics
                .record_command(name, started.elapsed(), reply.is_error());
            reply.encode(self.session.protocol, output);
            if flow == Flow::Close {
                return Ok(Flow::Close);
            }
            if output.len() >= self.limits.max_pending_output {
                stream.write_all(output).await?;
                output.clear();
            }
        }
    }

    /// Where a cluster client's request is served, counted in the metrics: as usual, from this
    /// node's replica copies (a `READONLY` read), or answered `MOVED` or `CROSSSLOT` instead.
    fn route(&self, args: &[Bytes], asking: bool) -> Served {
        self.count(route(args, asking, &self.session, self.backend.as_ref()))
    }

    /// Counts a cluster client's request by where `routing` serves it; how it is served.
    fn count(&self, routing: Routing) -> Served {
        let (outcome, served) = match routing {
            Routing::Unkeyed => return Served::Usual,
            Routing::Here => (ClusterOutcome::Here, Served::Usual),
            Routing::Forwarded => (ClusterOutcome::Forwarded, Served::Usual),
            Routing::ReplicaRead => (ClusterOutcome::Replica, Served::FromCopy),
            Routing::Redirected(reply) => (ClusterOutcome::Redirected, Served::Instead(reply)),
        };
        self.metrics.cluster_request(outcome);
        served
    }

    /// Answers `first` and the requests of the same [`Groupable`] kind that follow it in
    /// `input` (up to [`MAX_GROUP`]) with one multi-key operation: one round trip per primary
    /// instead of one per key. Replies go out in the order the client sent the requests.
    /// Returns the request that ended the run, if one was parsed.
    async fn run_group(
        &mut self,
        kind: Groupable,
        first: Vec<Bytes>,
        parser: &mut RequestParser,
        input: &mut BytesMut,
        output: &mut BytesMut,
    ) -> Carried {
        let started = Instant::now();
        let mut run = vec![first];
        let mut carried = None;
        while run.len() < MAX_GROUP {
            match parser.next_request(input) {
                Ok(Some(next)) if Groupable::of(canonical_name(&next), &next) == Some(kind) => {
                    if self.session.cluster_client {
                        // Routed once: a request served as usual joins the run (and is counted
                        // here, as the main loop never sees it); any other ends the run and
                        // goes through the main loop, which counts it.
                        match route(&next, false, &self.session, self.backend.as_ref()) {
                            routing @ (Routing::Unkeyed | Routing::Here | Routing::Forwarded) => {
                                self.count(routing);
                            }
                            Routing::ReplicaRead | Routing::Redirected(_) => {
                                carried = Some(Ok(next));
                                break;
                            }
                        }
                    }
                    run.push(next);
                }
                Ok(None) => break,
                other => {
                    carried = other.transpose();
                    break;
                }
            }
        }
        let count = run.len() as u32;
        let backend = self.backend.as_ref();
        let replies = match kind {
            Groupable::Get => {
                let keys = run.into_iter().filter_map(|args| args.into_iter().nth(1));
                execute_gets(keys.collect(), &self.session, backend).await
            }
            Groupable::Counter(name) => {
                // Each as a read-modify-write, or the error it gets (INCRBY k x, say).
                let (items, refusals) = Admitted::sort(run, |args| counter_of(name, args));
                let outcomes = backend.modify_each(items, self.session.write).await;
                refusals.merge(
                    outcomes
                        .into_iter()
                        .map(|outcome| from_backend(outcome, |done| Answer::Integer.reply(done))),
                    || Reply::err("internal error: a counter got no answer"),
                )
            }
            Groupable::Set => {
                // Each SET as a write, or the error it gets (a bad EX time, say).
                let (writes, refusals) = Admitted::sort(run, set_of);
                let written = execute_sets(writes, &self.session, backend).await;
                refusals.merge(written.into_iter(), Reply::ok)
            }
        };
        let each = started.elapsed() / count.max(1);
        let mut failed = 0;
        for reply in replies {
            failed += u64::from(reply.is_error());
            reply.encode(self.session.protocol, output);
        }
        self.metrics
            .record_commands(kind.name(), each, u64::from(count), failed);
        carried
    }
}

/// The commands [`Connection::run_group`] answers a run of at once: a well-formed `GET key`, a
/// plain `SET key value`, `SET key value EX|PX|EXAT|PXAT time`, and a run of one of the counter
/// commands (`INCR`, `DECR`, `INCRBY`, `DECRBY`; the name is kept so that each is counted as
/// itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Groupable {
    Get,
    Set,
    Counter(&'static str),
}

impl Groupable {
    fn of(name: &'static str, args: &[Bytes]) -> Option<Groupable> {
        let timed = |option: &Bytes| {
            [&b"ex"[..], b"px", b"exat", b"pxat"]
                .iter()
                .any(|word| option.eq_ignore_ascii_case(word))
        };
        match (name, args.len()) {
            ("get", 2) => Some(Groupable::Get),
            ("set", 3) => Some(Groupable::Set),
            ("set", 5) if timed(&args[3]) => Some(Groupable::Set),
            ("incr" | "decr", 2) | ("incrby" | "decrby", 3) => Some(Groupable::Counter(name)),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Groupable::Get => "get",
            Groupable::Set => "set",
            Groupable::Counter(name) => name,
        }
    }
}

/// Which requests of a run were refused before they ran (a bad increment, a bad `EX` time),
/// in run order, so that the answers of the others can be put back in their places.
struct Admitted(Vec<Option<Reply>>);

impl Admitted {
    /// Parses each request of `run` with `parse`: what it admits, in order (moved, not
    /// cloned: a pipelined run's keys and values are each one reference count), and where the
    /// refusals go.
    fn sort<T>(
        run: Vec<Vec<Bytes>>,
        parse: impl Fn(Vec<Bytes>) -> Result<T, Reply>,
    ) -> (Vec<T>, Admitted) {
        let mut admitted = Vec::with_capacity(run.len());
        let refusals = run
            .into_iter()
            .map(|args| match parse(args) {
                Ok(item) => {
                    admitted.push(item);
                    None
                }
                Err(refused) => Some(refused),
            })
            .collect();
        (admitted, Admitted(refusals))
    }

    /// Every request's answer in run order: its refusal, or the next of `answers` (`missing`
    /// if there are fewer answers than admitted requests, which would be a bug).
    fn merge(
        self,
        mut answers: impl Iterator<Item = Reply>,
        missing: impl Fn() -> Reply,
    ) -> Vec<Reply> {
        self.0
            .into_iter()
            .map(|refused| refused.unwrap_or_else(|| answers.next().unwrap_or_else(&missing)))
            .collect()
    }
}

/// The read-modify-write a grouped counter command asks for, or the error Redis answers it (an
/// increment that is not an integer).
fn counter_of(name: &str, args: Vec<Bytes>) -> Result<(Bytes, dtable::Modify), Reply> {
    // `INCR key` and `DECR key` (their arity is checked: exactly a key) without the general
    // parser's walk through every read-modify-write command's name, as `set_of` does for a
    // plain `SET`.
    let step = match name {
        "incr" => Some(1),
        "decr" => Some(-1),
        _ => None,
    };
    if let (Some(step), [_, key]) = (step, args.as_slice()) {
        return Ok((key.clone(), dtable::Modify::IncrBy(step)));
    }
    match super::strings::parse(name, args, 0) {
        Some(Ok((key, op, _))) => Ok((key, op)),
        Some(Err(refused)) => Err(refused),
        None => Err(Reply::err(format!(
            "internal error: {name} grouped as a counter command"
        ))),
    }
}

/// The write a groupable `SET` asks for, or the error Redis answers it (a bad time).
fn set_of(args: Vec<Bytes>) -> Result<dtable::Write, Reply> {
    if args.len() == 3 {
        let mut args = args.into_iter().skip(1);
        let key = args.next().unwrap_or_default();
        return Ok(dtable::Write::lasting(key, args.next().unwrap_or_default()));
    }
    match Command::parse(args)? {
        Command::SetExpiring(key, value, at) => Ok(dtable::Write {
            key,
            value,
            expires: Some(at),
        }),
        other => Err(Reply::err(format!(
            "internal error: a grouped SET parsed as {other:?}"
        ))),
    }
}

/// A request parsed while gathering a run that did not belong to it: it runs next.
type Carried = Option<Result<Vec<Bytes>, ProtocolError>>;

//! The differential harness: a redis-server and Dendrite (over the memory backend, one real
//! node, or three), the same requests to both, replies compared as raw RESP after the
//! normalisations listed in docs/redis-compat.md.
// Helpers outside #[test] functions are test code too; a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod random;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use crate::common;
use crate::reference::RedisServer;
use dendrite_node::backend::MemoryBackend;
use dendrite_node::metrics::Metrics;
use dendrite_node::resp::{encode_request, serve_resp, Password, RespConfig, RespLimits};
use dendrite_node::shutdown::{shutdown_channel, ShutdownTrigger};

pub const WAIT: Duration = Duration::from_secs(10);

/// A Dendrite RESP server on its own runtime thread, stopped when dropped.
pub struct Dendrite {
    pub addr: SocketAddr,
    trigger: ShutdownTrigger,
    runtime: Option<std::thread::JoinHandle<()>>,
}

impl Dendrite {
    pub fn start(requirepass: Option<&str>) -> Dendrite {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (trigger, signal) = shutdown_channel();
        let config = RespConfig {
            limits: RespLimits::default(),
            requirepass: requirepass.map(Password::new),
            ..RespConfig::default()
        };
        let thread = std::thread::spawn(move || {
            let served = runtime.block_on(serve_resp(
                listener,
                Arc::new(MemoryBackend::new(1)),
                Arc::new(Metrics::new()),
                config,
                signal,
            ));
            served.unwrap();
        });
        Dendrite {
            addr,
            trigger,
            runtime: Some(thread),
        }
    }
}

impl Drop for Dendrite {
    fn drop(&mut self) {
        self.trigger.trigger();
        if let Some(thread) = self.runtime.take() {
            let _ = thread.join();
        }
    }
}

/// Real `dendrite node` processes (the distributed table behind the RESP front), on a runtime
/// of their own; killed when dropped.
pub struct Nodes {
    runtime: tokio::runtime::Runtime,
    nodes: Vec<common::Node>,
    /// The data directory of a [`Target::Durable`] node.
    _data_dir: Option<tempfile::TempDir>,
}

impl Nodes {
    /// `count` nodes on one ring (default settings: 2 replicas), once the ring has settled.
    fn start(count: usize) -> Nodes {
        Nodes::start_with(count, None)
    }

    /// [`start`](Nodes::start), the nodes started with `data_dir` as their `--data-dir` when
    /// given (one node only: a directory belongs to one node).
    fn start_with(count: usize, data_dir: Option<tempfile::TempDir>) -> Nodes {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let path = data_dir
            .as_ref()
            .map(|dir| dir.path().display().to_string());
        let mut extra = Vec::new();
        if let Some(path) = &path {
            extra.extend(["--data-dir", path.as_str()]);
        }
        let nodes = runtime.block_on(async {
            let nodes = common::start_cluster(count, &extra).await;
            common::wait_settled(&nodes.iter().collect::<Vec<_>>(), (count - 1).min(2)).await;
            nodes
        });
        Nodes {
            runtime,
            nodes,
            _data_dir: data_dir,
        }
    }

    /// The RESP address of the node scripts talk to.
    fn addr(&self) -> SocketAddr {
        self.nodes[0].resp.parse().unwrap()
    }

    /// A connection to it that writes every copy before answering (so that `DBSIZE` and
    /// `INFO keyspace` count what a single server would), on an empty keyspace.
    fn client(&self) -> RawClient {
        let mut client = RawClient::connect(self.addr());
        let copies = self.nodes.len().min(3).to_string();
        let set = client.call(&[b"CONSISTENCY", b"1", copies.as_bytes()]);
        assert_eq!(set.bytes(), b"+OK\r\n", "CONSISTENCY 1 {copies}");
        let flushed = client.call(&[b"FLUSHALL"]);
        assert_eq!(flushed.bytes(), b"+OK\r\n");
        client
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        let nodes = std::mem::take(&mut self.nodes);
        self.runtime.block_on(async move { drop(nodes) });
    }
}

/// What answers for Dendrite in a differential script.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// The RESP front over the single-process memory backend.
    Memory,
    /// The RESP front of node 0 of a ring of this many real node processes.
    Nodes(usize),
    /// One real node process with a data directory (`--data-dir`).
    Durable,
}

/// Every target: the memory backend, a real node alone, and three real nodes (keys on
/// several primaries, replicated).
pub const EVERYWHERE: &[Target] = &[Target::Memory, Target::Nodes(1), Target::Nodes(3)];

/// One parsed RESP2/RESP3 value, kept in enough detail to re-encode the exact bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `+`, `-`, `:`, `,`, `#`, `(` and `_` lines: the type byte and the line.
    Line(u8, Vec<u8>),
    /// `$` and `=` with their payload (`$-1` is a `Line`).
    Blob(u8, Vec<u8>),
    /// `*`, `~`, `>` with their items (`*-1` is a `Line`).
    Aggregate(u8, Vec<Value>),
    /// `%` with its pairs.
    Map(Vec<(Value, Value)>),
}

impl Value {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Line(kind, line) => {
                out.push(*kind);
                out.extend_from_slice(line);
                out.extend_from_slice(b"\r\n");
            }
            Value::Blob(kind, payload) => {
                out.push(*kind);
                out.extend_from_slice(format!("{}\r\n", payload.len()).as_bytes());
                out.extend_from_slice(payload);
                out.extend_from_slice(b"\r\n");
            }
            Value::Aggregate(kind, items) => {
                out.push(*kind);
                out.extend_from_slice(format!("{}\r\n", items.len()).as_bytes());
                for item in items {
                    item.encode(out);
                }
            }
            Value::Map(pairs) => {
                out.extend_from_slice(format!("%{}\r\n", pairs.len()).as_bytes());
                for (key, value) in pairs {
                    key.encode(out);
                    value.encode(out);
                }
            }
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// Field/value pairs of a map, or of a RESP2 flat array standing for one.
    fn pairs(&self) -> Option<Vec<(Value, Value)>> {
        match self {
            Value::Map(pairs) => Some(pairs.clone()),
            Value::Aggregate(b'*', items) if items.len() % 2 == 0 => Some(
                items
                    .chunks(2)
                    .map(|pair| (pair[0].clone(), pair[1].clone()))
                    .collect(),
            ),
            _ => None,
        }
    }

    /// The same shape as `self` (map or flat array) holding `pairs`.
    fn with_pairs(&self, pairs: Vec<(Value, Value)>) -> Value {
        match self {
            Value::Map(_) => Value::Map(pairs),
            _ => Value::Aggregate(b'*', pairs.into_iter().flat_map(|(k, v)| [k, v]).collect()),
        }
    }
}

pub fn read_value(reader: &mut impl BufRead) -> Value {
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line).unwrap();
    assert!(line.ends_with(b"\r\n"), "truncated reply line {line:?}");
    line.truncate(line.len() - 2);
    let kind = line[0];
    let rest = line[1..].to_vec();
    let count = || -> i64 { std::str::from_utf8(&rest).unwrap().parse().unwrap() };
    match kind {
        b'$' | b'=' if count() >= 0 => {
            let mut payload = vec![0; usize::try_from(count()).unwrap() + 2];
            reader.read_exact(&mut payload).unwrap();
            payload.truncate(payload.len() - 2);
            Value::Blob(kind, payload)
        }
        b'*' | b'~' | b'>' if count() >= 0 => {
            Value::Aggregate(kind, (0..count()).map(|_| read_value(reader)).collect())
        }
        b'%' => Value::Map(
            (0..count())
                .map(|_| (read_value(reader), read_value(reader)))
                .collect(),
        ),
        _ => Value::Line(kind, rest),
    }
}

/// What may legitimately differ in a reply, and how it is made comparable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalise {
    /// Byte for byte.
    Exact,
    /// `HELLO`: the `version` and `id` values.
    Hello,
    /// An integer that is a connection id.
    ClientId,
    /// `CLIENT INFO`/`LIST` lines: ids, addresses, fd, ages, buffer sizes; 7.2's `lib-*`.
    ClientLines,
    /// `TIME`: two bulk strings of digits.
    Time,
    /// Field/value pairs compared in sorted order (Redis lists them in its dict's order).
    SortedPairs,
    /// `COMMAND DOCS`: only summary, since, group and complexity of each command.
    DocsFields,
    /// `KEYS`, and the key list of a complete `SCAN` page: the keys in sorted order (Redis
    /// lists them in its dict's order, Dendrite in ring order).
    SortedKeys,
    /// `PTTL` of a key set a moment ago: a positive integer rounded to whole seconds (the two
    /// servers are asked a few milliseconds apart).
    NearestSecond,
    /// `LASTSAVE`: an integer within a day of now (the servers saved at different moments).
    RecentUnixTime,
}

pub fn placeholder(text: &str) -> Value {
    Value::Blob(b'$', text.as_bytes().to_vec())
}

pub fn normalise(value: Value, how: Normalise) -> Value {
    match how {
        Normalise::Exact => value,
        Normalise::Hello => match value.pairs() {
            Some(pairs) => {
                let pairs = pairs
                    .into_iter()
                    .map(|(key, field)| match &key {
                        // `mode`: Dendrite is a cluster; the standalone reference says so too
                        // only when started with `--cluster-enabled yes`.
                        Value::Blob(_, name)
                            if name == b"version" || name == b"id" || name == b"mode" =>
                        {
                            (key, placeholder("<normalised>"))
                        }
                        _ => (key, field),
                    })
                    .collect();
                value.with_pairs(pairs)
            }
            None => value,
        },
        Normalise::ClientId => match value {
            Value::Line(b':', _) => Value::Line(b':', b"<id>".to_vec()),
            other => other,
        },
        Normalise::ClientLines => match value {
            Value::Blob(kind, text) => Value::Blob(kind, normalise_client_lines(&text)),
            other => other,
        },
        Normalise::Time => match value {
            Value::Aggregate(b'*', items)
                if items.len() == 2
                    && items.iter().all(|item| {
                        matches!(item, Value::Blob(b'$', digits) if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit))
                    }) =>
            {
                placeholder("<time>")
            }
            other => other,
        },
        Normalise::SortedPairs => match value.pairs() {
            Some(mut pairs) => {
                pairs.sort_by_key(|(key, _)| key.bytes());
                value.with_pairs(pairs)
            }
            None => value,
        },
        Normalise::SortedKeys => match value {
            Value::Aggregate(b'*', items)
                if items.len() == 2 && matches!(&items[1], Value::Aggregate(b'*', _)) =>
            {
                let mut items = items;
                let keys = items.pop().map(|keys| normalise(keys, Normalise::SortedKeys));
                items.extend(keys);
                Value::Aggregate(b'*', items)
            }
            Value::Aggregate(kind, mut items) => {
                items.sort_by_key(Value::bytes);
                Value::Aggregate(kind, items)
            }
            other => other,
        },
        Normalise::NearestSecond => match value {
            Value::Line(b':', digits) => {
                let millis: i64 = String::from_utf8_lossy(&digits).parse().unwrap_or(i64::MIN);
                let rounded = if millis > 0 { (millis + 500) / 1000 * 1000 } else { millis };
                Value::Line(b':', rounded.to_string().into_bytes())
            }
            other => other,
        },
        Normalise::RecentUnixTime => match value {
            Value::Line(b':', digits) => {
                let seconds: u64 = String::from_utf8_lossy(&digits).parse().unwrap_or(0);
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs();
                if now.abs_diff(seconds) < 86_400 {
                    Value::Line(b':', b"<recent>".to_vec())
                } else {
                    Value::Line(b':', digits)
                }
            }
            other => other,
        },
        Normalise::DocsFields => match value.pairs() {
            Some(commands) => {
                let commands = commands
                    .into_iter()
                    .map(|(name, docs)| {
                        let fields = docs.pairs().unwrap_or_default();
                        let kept = fields
                            .into_iter()
                            .filter(|(key, _)| {
                                matches!(key, Value::Blob(_, field) if [&b"summary"[..], b"since", b"group", b"complexity"].contains(&field.as_slice()))
                            })
                            .collect();
                        (name, docs.with_pairs(kept))
                    })
                    .collect();
                value.with_pairs(commands)
            }
            None => value,
        },
    }
}

/// `CLIENT LIST` text with the values that differ between servers replaced by `*`.
pub fn normalise_client_lines(text: &[u8]) -> Vec<u8> {
    const VARYING: &[&str] = &[
        "id",
        "addr",
        "laddr",
        "fd",
        "age",
        "idle",
        "qbuf",
        "qbuf-free",
        "argv-mem",
        "multi-mem",
        "rbs",
        "rbp",
        "obl",
        "oll",
        "omem",
        "tot-mem",
    ];
    /// Redis 7.2's fields, not in the 7.0 reference.
    const NEWER: &[&str] = &["lib-name", "lib-ver"];
    let (format, body) = match text.strip_prefix(b"txt:") {
        Some(body) => (&b"txt:"[..], body),
        None => (&b""[..], text),
    };
    let body = String::from_utf8_lossy(body);
    let mut out = format.to_vec();
    for line in body.split_terminator('\n') {
        let fields: Vec<String> = line
            .split(' ')
            .filter_map(|field| {
                let (key, value) = field.split_once('=').unwrap_or((field, ""));
                if NEWER.contains(&key) {
                    None
                } else if VARYING.contains(&key) {
                    Some(format!("{key}=*"))
                } else {
                    Some(format!("{key}={value}"))
                }
            })
            .collect();
        out.extend_from_slice(fields.join(" ").as_bytes());
        out.push(b'\n');
    }
    out
}

/// A raw client: one request, one complete reply.
pub struct RawClient {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl RawClient {
    pub fn connect(addr: SocketAddr) -> RawClient {
        let writer = TcpStream::connect_timeout(&addr, WAIT).unwrap();
        writer.set_read_timeout(Some(WAIT)).unwrap();
        let reader = BufReader::new(writer.try_clone().unwrap());
        RawClient { writer, reader }
    }

    pub fn call(&mut self, args: &[&[u8]]) -> Value {
        self.pipeline(&[args]).remove(0)
    }

    /// Sends every request in one write (a pipeline), then reads one reply per request.
    pub fn pipeline(&mut self, requests: &[&[&[u8]]]) -> Vec<Value> {
        let mut buffer = bytes::BytesMut::new();
        for args in requests {
            encode_request(args, &mut buffer);
        }
        self.writer.write_all(&buffer).unwrap();
        requests
            .iter()
            .map(|_| read_value(&mut self.reader))
            .collect()
    }
}

/// One request of a script and how its reply is compared.
pub struct Step {
    args: Vec<Vec<u8>>,
    how: Normalise,
}

/// Splits `line` on spaces; `''` stands for an empty argument.
pub fn step(line: &str, how: Normalise) -> Step {
    let args = line
        .split(' ')
        .map(|word| {
            if word == "''" {
                Vec::new()
            } else {
                word.as_bytes().to_vec()
            }
        })
        .collect();
    Step { args, how }
}

pub fn exact(lines: &[&str]) -> Vec<Step> {
    lines
        .iter()
        .map(|line| step(line, Normalise::Exact))
        .collect()
}

/// How a script's requests are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sending {
    /// One request, then its reply, then the next.
    OneByOne,
    /// The whole script in one write, then every reply.
    Pipelined,
}

/// Runs `steps` on one connection to each server; returns every difference, readably.
pub fn differences(
    redis: SocketAddr,
    mut candidate: RawClient,
    steps: &[Step],
    sending: Sending,
) -> Vec<String> {
    let mut reference = RawClient::connect(redis);
    let requests: Vec<Vec<&[u8]>> = steps
        .iter()
        .map(|step| step.args.iter().map(Vec::as_slice).collect())
        .collect();
    let requests: Vec<&[&[u8]]> = requests.iter().map(Vec::as_slice).collect();
    let (expected, actual) = match sending {
        Sending::OneByOne => requests
            .iter()
            .map(|args| (reference.call(args), candidate.call(args)))
            .unzip(),
        Sending::Pipelined => (reference.pipeline(&requests), candidate.pipeline(&requests)),
    };
    let mut found = Vec::new();
    for ((step, expected), actual) in steps.iter().zip(expected).zip(actual) {
        let expected = normalise(expected, step.how).bytes();
        let actual = normalise(actual, step.how).bytes();
        if expected != actual {
            found.push(format!(
                "{}\n    redis:    {}\n    dendrite: {}",
                String::from_utf8_lossy(&step.args.join(&b' ')),
                String::from_utf8_lossy(&expected).escape_debug(),
                String::from_utf8_lossy(&actual).escape_debug(),
            ));
        }
    }
    found
}

/// Runs the script in RESP2, then again after `HELLO 3`, against a fresh redis-server each
/// time and Dendrite on every target of [`EVERYWHERE`].
pub fn assert_same_replies(steps: Vec<Step>) {
    assert_same_replies_on(EVERYWHERE, &[], steps);
}

/// [`assert_same_replies`] on the given targets (a fresh keyspace for each run), against a
/// redis-server started with `config` added.
pub fn assert_same_replies_on(targets: &[Target], config: &[&str], steps: Vec<Step>) {
    compare_on(targets, config, steps, Sending::OneByOne);
}

/// [`assert_same_replies`] with the whole script sent as one pipeline.
pub fn assert_same_pipelined_replies(steps: Vec<Step>) {
    compare_on(EVERYWHERE, &[], steps, Sending::Pipelined);
}

fn compare_on(targets: &[Target], config: &[&str], steps: Vec<Step>, sending: Sending) {
    let mut found = Vec::new();
    for target in targets {
        let nodes = match target {
            Target::Memory => None,
            Target::Nodes(count) => Some(Nodes::start(*count)),
            Target::Durable => Some(Nodes::start_with(1, Some(tempfile::tempdir().unwrap()))),
        };
        for protocol in ["2", "3"] {
            let redis = RedisServer::start(config);
            let memory = nodes.is_none().then(|| Dendrite::start(None));
            let candidate = match (&nodes, &memory) {
                (Some(nodes), _) => nodes.client(),
                (None, Some(memory)) => RawClient::connect(memory.addr),
                (None, None) => unreachable!("one of the two is started"),
            };
            let mut script = vec![step(&format!("HELLO {protocol}"), Normalise::Hello)];
            script.extend(steps.iter().map(|step| Step {
                args: step.args.clone(),
                how: step.how,
            }));
            for difference in differences(redis.addr, candidate, &script, sending) {
                found.push(format!("[{target:?}, RESP{protocol}] {difference}"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "{} replies differ from redis-server's:\n{}",
        found.len(),
        found.join("\n")
    );
}

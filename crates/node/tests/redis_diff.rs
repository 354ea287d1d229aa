//! Differential tests: the same requests to a real redis-server and to Dendrite must get the
//! same bytes back, in RESP2 and in RESP3.
//!
//! Replies are compared as raw RESP. Where a value legitimately differs (connection ids,
//! addresses, the version string, clocks, the order of Redis's hash-table iteration...) the
//! step says which normalisation applies; each is listed in docs/redis-compat.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod reference;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use dendrite_node::backend::MemoryBackend;
use dendrite_node::metrics::Metrics;
use dendrite_node::resp::{encode_request, serve_resp, Password, RespConfig, RespLimits};
use dendrite_node::shutdown::{shutdown_channel, ShutdownTrigger};
use reference::RedisServer;

const WAIT: Duration = Duration::from_secs(10);

/// A Dendrite RESP server on its own runtime thread, stopped when dropped.
struct Dendrite {
    addr: SocketAddr,
    trigger: ShutdownTrigger,
    runtime: Option<std::thread::JoinHandle<()>>,
}

impl Dendrite {
    fn start(requirepass: Option<&str>) -> Dendrite {
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
struct Nodes {
    runtime: tokio::runtime::Runtime,
    nodes: Vec<common::Node>,
}

impl Nodes {
    /// `count` nodes on one ring (default settings: 2 replicas), once the ring has settled.
    fn start(count: usize) -> Nodes {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let nodes = runtime.block_on(async {
            let nodes = common::start_cluster(count, &[]).await;
            common::wait_settled(&nodes.iter().collect::<Vec<_>>(), (count - 1).min(2)).await;
            nodes
        });
        Nodes { runtime, nodes }
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
enum Target {
    /// The RESP front over the single-process memory backend.
    Memory,
    /// The RESP front of node 0 of a ring of this many real node processes.
    Nodes(usize),
}

/// Every target: the memory backend, a real node alone, and three real nodes (keys on
/// several primaries, replicated).
const EVERYWHERE: &[Target] = &[Target::Memory, Target::Nodes(1), Target::Nodes(3)];

/// One parsed RESP2/RESP3 value, kept in enough detail to re-encode the exact bytes.
#[derive(Debug, Clone, PartialEq)]
enum Value {
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

fn read_value(reader: &mut impl BufRead) -> Value {
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
enum Normalise {
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
}

fn placeholder(text: &str) -> Value {
    Value::Blob(b'$', text.as_bytes().to_vec())
}

fn normalise(value: Value, how: Normalise) -> Value {
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
fn normalise_client_lines(text: &[u8]) -> Vec<u8> {
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
struct RawClient {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl RawClient {
    fn connect(addr: SocketAddr) -> RawClient {
        let writer = TcpStream::connect_timeout(&addr, WAIT).unwrap();
        writer.set_read_timeout(Some(WAIT)).unwrap();
        let reader = BufReader::new(writer.try_clone().unwrap());
        RawClient { writer, reader }
    }

    fn call(&mut self, args: &[&[u8]]) -> Value {
        let mut request = bytes::BytesMut::new();
        encode_request(args, &mut request);
        self.writer.write_all(&request).unwrap();
        read_value(&mut self.reader)
    }
}

/// One request of a script and how its reply is compared.
struct Step {
    args: Vec<Vec<u8>>,
    how: Normalise,
}

/// Splits `line` on spaces; `''` stands for an empty argument.
fn step(line: &str, how: Normalise) -> Step {
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

fn exact(lines: &[&str]) -> Vec<Step> {
    lines
        .iter()
        .map(|line| step(line, Normalise::Exact))
        .collect()
}

/// Runs `steps` on one connection to each server; returns every difference, readably.
fn differences(redis: SocketAddr, mut candidate: RawClient, steps: &[Step]) -> Vec<String> {
    let mut reference = RawClient::connect(redis);
    let mut found = Vec::new();
    for step in steps {
        let args: Vec<&[u8]> = step.args.iter().map(Vec::as_slice).collect();
        let expected = normalise(reference.call(&args), step.how).bytes();
        let actual = normalise(candidate.call(&args), step.how).bytes();
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
fn assert_same_replies(steps: Vec<Step>) {
    assert_same_replies_on(EVERYWHERE, &[], steps);
}

/// [`assert_same_replies`] on the given targets (a fresh keyspace for each run), against a
/// redis-server started with `config` added.
fn assert_same_replies_on(targets: &[Target], config: &[&str], steps: Vec<Step>) {
    let mut found = Vec::new();
    for target in targets {
        let nodes = match target {
            Target::Memory => None,
            Target::Nodes(count) => Some(Nodes::start(*count)),
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
            for difference in differences(redis.addr, candidate, &script) {
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

#[test]
fn key_value_commands_match_redis() {
    assert_same_replies(exact(&[
        "PING",
        "PING hello",
        "PING a b",
        "ECHO hi",
        "ECHO",
        "ECHO a b",
        "GET k",
        "SET k v",
        "GET k",
        "SET k",
        "GET",
        "GET a b",
        "MSET a 1 b 2",
        "MSET a",
        "MSET a 1 b",
        "MGET a b nosuch",
        "MGET",
        "EXISTS a b nosuch a",
        "EXISTS",
        "DBSIZE",
        "DBSIZE x",
        "INFO keyspace",
        "DEL a nosuch",
        "DEL",
        "DEL k b",
        "INFO keyspace",
        "DBSIZE",
        "FOO bar baz",
        "SELECT 0",
        "SELECT 1",
        "SELECT x",
        "SELECT",
    ]));
}

#[test]
fn read_modify_write_string_commands_match_redis() {
    assert_same_replies(exact(&[
        "INCRBYFLOAT f 10.50",
        "INCRBYFLOAT f 0.1",
        "INCRBYFLOAT f 1000.1",
        "INCRBYFLOAT f -1010.7",
        "INCRBYFLOAT f 1e300",
        "INCRBYFLOAT f -1e300",
        "INCRBYFLOAT f 0.3333333333333333333333",
        "INCRBYFLOAT f 123456789.987654321",
        "INCRBYFLOAT f 5.0e3",
        "INCRBYFLOAT f -0x1p4",
        "INCRBYFLOAT f .5",
        "INCRBYFLOAT f 1.",
        "INCRBYFLOAT f +2",
        "INCRBYFLOAT f 1e-20",
        "INCRBYFLOAT f inf",
        "INCRBYFLOAT f -Infinity",
        "INCRBYFLOAT f nan",
        "INCRBYFLOAT f abc",
        "INCRBYFLOAT f ''",
        "INCRBYFLOAT f 1e",
        "INCRBYFLOAT f 1e4933",
        "INCRBYFLOAT f 1e-5000",
        "INCRBYFLOAT f",
        "GET f",
        "SET h inf",
        "INCRBYFLOAT h 1",
        "SET h abc",
        "INCRBYFLOAT h inf",
        "SET h 0x10",
        "INCRBYFLOAT h 0.0001",
        "SET h 1 EX 100",
        "INCRBYFLOAT h 1.5",
        "TTL h",
        "INCR n",
        "INCR n",
        "DECR n",
        "INCRBY n 10",
        "DECRBY n 3",
        "INCRBY n -20",
        "INCRBY n x",
        "INCRBY n 1.5",
        "INCRBY n +1",
        "INCRBY n 007",
        "DECRBY n -9223372036854775808",
        "SET big 9223372036854775807",
        "INCR big",
        "DECRBY big -1",
        "SET small -9223372036854775808",
        "DECR small",
        "SET z 007",
        "INCR z",
        "SET s abc",
        "INCR s",
        "GET s",
        "INCR",
        "INCR a b",
        "INCRBY n",
        "APPEND s def",
        "APPEND fresh xyz",
        "GET fresh",
        "APPEND s",
        "STRLEN s",
        "STRLEN nosuch",
        "STRLEN",
        "SETNX s other",
        "SETNX new1 v1",
        "GET new1",
        "SETNX a",
        "GETSET s replaced",
        "GETSET nosuch2 first",
        "GET nosuch2",
        "GETDEL s",
        "GETDEL s",
        "GET s",
        "GETDEL",
        "SET k v NX",
        "SET k w NX",
        "GET k",
        "SET k w XX",
        "GET k",
        "SET absent w XX",
        "GET absent",
        "SET k x GET",
        "SET k y xx get",
        "SET fresh2 z NX GET",
        "SET k y NX GET",
        "SET k v NX XX",
        "SET k v XX NX",
        "SET k v bogus",
        "SET k v GET GET",
        "DBSIZE",
        "SET str This-is-a-string",
        "GETRANGE str 0 3",
        "GETRANGE str -3 -1",
        "GETRANGE str 0 -1",
        "GETRANGE str 10 100",
        "GETRANGE str 5 2",
        "GETRANGE str -1 -5",
        "GETRANGE nosuch 0 -1",
        "GETRANGE str a 1",
        "GETRANGE str 0",
        "SUBSTR str 0 3",
        "SETRANGE str 5 IS",
        "GET str",
        "SETRANGE fresh3 3 abc",
        "GET fresh3",
        "SETRANGE str 0 ''",
        "SETRANGE nosuch3 0 ''",
        "EXISTS nosuch3",
        "SETRANGE str -1 x",
        "SETRANGE str x y",
        "SETBIT bits 7 1",
        "SETBIT bits 7 0",
        "SETBIT bits 100 1",
        "GET bits",
        "GETBIT bits 100",
        "GETBIT bits 99",
        "GETBIT bits 100000",
        "GETBIT bits -1",
        "GETBIT bits x",
        "SETBIT bits 1 2",
        "SETBIT bits -1 1",
        "SET fb foobar",
        "BITCOUNT fb",
        "BITCOUNT fb 1 1",
        "BITCOUNT fb -2 -1",
        "BITCOUNT fb 5 30 BIT",
        "BITCOUNT fb 0 -1 byte",
        "BITCOUNT fb 2 1",
        "BITCOUNT fb 0",
        "BITCOUNT fb 0 1 x",
        "BITCOUNT fb x y",
        "BITCOUNT nosuch x y",
        "BITCOUNT",
        "SET b1 abc",
        "BITPOS b1 1",
        "BITPOS b1 0",
        "BITPOS b1 1 1",
        "BITPOS b1 0 1 2",
        "BITPOS b1 1 -1",
        "BITPOS b1 1 2 1",
        "BITPOS b1 1 5 30 BIT",
        "BITPOS b1 0 5 30 bit",
        "BITPOS b1 1 0 -1 BYTE",
        "BITPOS b1 1 0 -1 x",
        "BITPOS b1 1 x",
        "BITPOS b1 2",
        "BITPOS nosuch 0",
        "BITPOS nosuch 1",
        "BITPOS nosuch 1 x y z w",
        "SETBIT ones 15 1",
        "SETBIT ones 14 1",
        "BITPOS ones 0",
        "BITPOS ones 0 1",
        "BITPOS ones 0 1 1",
        "BITPOS",
        "SET l1 ohmytext",
        "SET l2 mynewtext",
        "LCS l1 l2",
        "LCS l1 l2 LEN",
        "LCS l1 l2 IDX",
        "LCS l1 l2 IDX MINMATCHLEN 4",
        "LCS l1 l2 IDX WITHMATCHLEN",
        "LCS l1 l2 idx minmatchlen 3 withmatchlen",
        "LCS l1 l2 IDX LEN",
        "LCS l1 l2 MINMATCHLEN",
        "LCS l1 l2 MINMATCHLEN x",
        "LCS l1 l2 bogus",
        "LCS l1 nosuch",
        "LCS nosuch nosuch2 IDX",
        "LCS l1",
        "RANDOMKEY x",
    ]));
}

/// Expiry: SET's time options, SETEX, PSETEX, GETEX, the EXPIRE family with its conditions,
/// PERSIST and the deadline reads. Relative times are far (100 s) so both servers read the
/// same whole seconds; absolute ones are in 2100 or in 1970.
#[test]
fn expiry_commands_match_redis() {
    let mut steps = Vec::new();
    for line in [
        "SET k v EX 100",
        "TTL k",
        "SET k v PX 100000",
        "TTL k",
        "SET k v EXAT 4102444800",
        "EXPIRETIME k",
        "PEXPIRETIME k",
        "SET k v PXAT 4102444800123",
        "PEXPIRETIME k",
        "EXPIRETIME k",
        "SET k v2 KEEPTTL",
        "PEXPIRETIME k",
        "GET k",
        "SET k v3",
        "TTL k",
        "TTL nosuch",
        "PTTL nosuch",
        "EXPIRETIME nosuch",
        "PEXPIRETIME nosuch",
        "TTL",
        "TTL a b",
        "SET k v EX 0",
        "SET k v EX -1",
        "SET k v PX 0",
        "SET k v EXAT 0",
        "SET k v EX x",
        "SET k v EX 10 PX 10",
        "SET k v EX 10 EX 20",
        "TTL k",
        "SET k v KEEPTTL EX 10",
        "SET k v EX 10 KEEPTTL",
        "SET k v EX",
        "SET k v PERSIST",
        "SET k v EX 9223372036854775807",
        "SET k v PX 9223372036854775807",
        "SET k v NX EX 10",
        "SET n1 v NX EX 100",
        "TTL n1",
        "SET k v3 GET EX 100",
        "TTL k",
        "SET k v4 XX GET PX 100000",
        "TTL k",
        "SETEX s 100 v",
        "TTL s",
        "SETEX s 0 v",
        "SETEX s x v",
        "SETEX s 10",
        "PSETEX p -1 v",
        "PSETEX p 100000 v",
        "TTL p",
        "GETEX s",
        "GETEX s PERSIST",
        "TTL s",
        "GETEX s EX 50",
        "TTL s",
        "GETEX s PXAT 4102444800000",
        "PEXPIRETIME s",
        "GETEX s EX 0",
        "GETEX s PERSIST EX 1",
        "GETEX s EX 1 PX 1",
        "GETEX s KEEPTTL",
        "GETEX s NX",
        "GETEX nosuch EX 10",
        "GETEX",
        "GETEX s EXAT 1",
        "GET s",
        "EXISTS s",
        "EXPIRE e 10",
        "SET e v",
        "EXPIRE e 100",
        "TTL e",
        "EXPIRE e 200 NX",
        "EXPIRE e 200 XX",
        "TTL e",
        "EXPIRE e 100 GT",
        "EXPIRE e 300 GT",
        "EXPIRE e 200 GT XX",
        "EXPIRE e 400 LT",
        "EXPIRE e 50 lt",
        "TTL e",
        "EXPIRE e 10 XX LT",
        "TTL e",
        "EXPIRE e 10 NX XX",
        "EXPIRE e 10 GT LT",
        "EXPIRE e x GT LT",
        "EXPIRE e 10 foo",
        "EXPIRE e x",
        "EXPIRE e",
        "EXPIRE e 9223372036854775807",
        "PEXPIRE e 9223372036854775807",
        "EXPIREAT e 9223372036854775807",
        "PERSIST e",
        "PERSIST e",
        "TTL e",
        "PERSIST nosuch",
        "PERSIST",
        "EXPIRE e 100 LT",
        "TTL e",
        "EXPIRE e 200 GT",
        "PERSIST e",
        "EXPIRE e 100 GT",
        "EXPIRE e 100 XX",
        "EXPIREAT e 4102444800",
        "EXPIRETIME e",
        "PEXPIREAT e 4102444800999",
        "PEXPIRETIME e",
        "EXPIRETIME e",
        "EXPIREAT e 1",
        "EXISTS e",
        "TTL e",
        "SET e v",
        "PEXPIRE e -1",
        "GET e",
        "SET e v",
        "EXPIRE e 0",
        "EXISTS e",
        "SET e v",
        "PEXPIREAT e -10 LT",
        "EXISTS e",
        "INCR c",
        "EXPIRE c 100",
        "INCR c",
        "TTL c",
        "APPEND c x",
        "TTL c",
        "SETRANGE c 0 y",
        "SETBIT c 1 1",
        "TTL c",
        "GETSET c z",
        "TTL c",
        "SET c 5 EX 100",
        "SETNX c 6",
        "TTL c",
        "GETDEL c",
        "TTL c",
        "MSET c 1",
        "SET m 1 EX 100",
        "MSET m 2",
        "TTL m",
    ] {
        steps.push(step(line, Normalise::Exact));
    }
    for line in ["PTTL k", "PTTL p", "PTTL n1"] {
        steps.push(step(line, Normalise::NearestSecond));
    }
    assert_same_replies(steps);
}

/// MSETNX, RENAME, RENAMENX, COPY and BITOP on one node (every key has the same primary).
#[test]
fn multi_key_commands_match_redis() {
    assert_same_replies_on(
        &[Target::Memory, Target::Nodes(1)],
        &[],
        exact(&[
            "MSETNX a 1 b 2",
            "MGET a b",
            "MSETNX b 3 c 4",
            "MGET b c",
            "MSETNX c 5 c 6",
            "GET c",
            "MSETNX a",
            "MSETNX a 1 b",
            "SET t v EX 100",
            "RENAME t u",
            "TTL u",
            "GET u",
            "EXISTS t",
            "RENAME nosuch x",
            "RENAME u u",
            "RENAMENX u u",
            "RENAME nosuch nosuch",
            "RENAMENX u a",
            "RENAMENX u fresh",
            "TTL fresh",
            "RENAME a",
            "RENAME a b c",
            "COPY fresh copied",
            "TTL copied",
            "GET copied",
            "COPY fresh copied",
            "COPY fresh copied REPLACE",
            "COPY nosuch x",
            "COPY fresh fresh",
            "COPY nosuch nosuch",
            "COPY fresh y DB 0",
            "COPY fresh y DB 1",
            "COPY fresh y DB x",
            "COPY fresh y DB",
            "COPY fresh y bogus",
            "COPY a",
            "SET b1 abc",
            "SET b2 ab",
            "BITOP AND dest b1 b2",
            "GET dest",
            "BITOP or dest b1 b2 nosuch",
            "GET dest",
            "BITOP XOR dest b1 b2",
            "GET dest",
            "BITOP NOT dest b1",
            "GET dest",
            "BITOP NOT dest b1 b2",
            "BITOP NAND dest b1",
            "BITOP AND dest",
            "BITOP AND dest nosuch1 nosuch2",
            "EXISTS dest",
            "SET dest x EX 100",
            "BITOP OR dest b1",
            "TTL dest",
        ]),
    );
}

#[test]
fn keyspace_commands_match_redis() {
    let mut steps = exact(&[
        "MSET user:1 a user:2 b item:1 c User:3 d",
        "TYPE user:1",
        "TYPE nosuch",
        "TYPE",
        "TOUCH user:1 nosuch user:2",
        "TOUCH",
        "UNLINK item:1 nosuch",
        "UNLINK",
        "EXISTS item:1",
        "SCAN x",
        "SCAN 18446744073709551616",
        "SCAN 5x",
        "SCAN 0 COUNT 0",
        "SCAN 0 COUNT x",
        "SCAN 0 MATCH",
        "SCAN 0 bogus 1",
        "SCAN",
        "KEYS",
        "KEYS a b",
        "FLUSHALL bogus",
        "FLUSHALL ASYNC SYNC",
        "FLUSHDB bogus",
    ]);
    for line in [
        "KEYS *",
        "KEYS user:*",
        "KEYS [uU]ser:?",
        "KEYS nothing*",
        "SCAN 0 COUNT 1000",
        "SCAN +0 COUNT 1000",
        "SCAN 0 MATCH user:* COUNT 1000",
        "SCAN 0 COUNT 1000 TYPE string",
        "SCAN 0 COUNT 1000 TYPE list",
    ] {
        steps.push(step(line, Normalise::SortedKeys));
    }
    steps.extend(exact(&[
        "FLUSHALL",
        "RANDOMKEY",
        "DBSIZE",
        "GET user:1",
        "SET again 1",
        "FLUSHDB SYNC",
        "DBSIZE",
        "FLUSHALL ASYNC",
    ]));
    assert_same_replies(steps);
}

#[test]
fn connection_commands_match_redis() {
    let mut steps = vec![
        step("CLIENT ID", Normalise::ClientId),
        step("CLIENT INFO", Normalise::ClientLines),
        step("CLIENT LIST", Normalise::ClientLines),
        step("CLIENT LIST TYPE normal", Normalise::ClientLines),
    ];
    steps.extend(exact(&[
        "CLIENT",
        "CLIENT FOO",
        "CLIENT ID x",
        "CLIENT INFO x",
        "CLIENT GETNAME",
        "CLIENT GETNAME x",
        "CLIENT SETNAME bob",
        "CLIENT GETNAME",
        "CLIENT SETNAME a\tb",
        "CLIENT SETNAME",
        "CLIENT SETNAME a b",
        "CLIENT LIST TYPE pubsub",
        "CLIENT LIST TYPE bogus",
        "CLIENT LIST x",
        "CLIENT LIST ID 999999",
        "CLIENT LIST ID x",
        "CLIENT NO-EVICT on",
        "CLIENT NO-EVICT OFF",
        "CLIENT NO-EVICT maybe",
        "CLIENT NO-EVICT",
        "TIME x",
        "RESET x",
        "HELLO 4",
        "HELLO 1",
        "HELLO 0",
        "HELLO x",
        "HELLO 99999999999999999999",
        "HELLO 3 FOO",
        "HELLO 3 SETNAME",
        "HELLO 3 AUTH default",
        "HELLO 2 SETNAME a\nb",
        "AUTH x",
        "AUTH default x",
        "AUTH bob x",
        "AUTH a b c",
    ]));
    steps.push(step("CLIENT INFO", Normalise::ClientLines));
    steps.push(step("TIME", Normalise::Time));
    steps.push(step("HELLO", Normalise::Hello));
    steps.extend(exact(&[
        "CLIENT SETNAME ''",
        "CLIENT GETNAME",
        "CLIENT SETNAME x",
    ]));
    steps.push(step("HELLO 3 SETNAME named", Normalise::Hello));
    steps.extend(exact(&[
        "CLIENT GETNAME",
        "GET nosuch",
        "RESET",
        "CLIENT GETNAME",
    ]));
    steps.push(step("HELLO", Normalise::Hello));
    steps.extend(exact(&["GET nosuch", "MGET nosuch", "QUIT"]));
    assert_same_replies_on(&[Target::Memory, Target::Nodes(1)], &[], steps);
}

#[test]
fn config_and_command_introspection_match_redis() {
    let mut steps = exact(&[
        "CONFIG",
        "CONFIG FOO",
        "CONFIG GET",
        "CONFIG GET maxmemory",
        "CONFIG GET MAXMEMORY",
        "CONFIG GET nosuch",
        "COMMAND FOO",
        "COMMAND COUNT x",
        "COMMAND INFO get set del exists mget mset ping echo dbsize info quit select hello auth reset time nosuch",
        "COMMAND INFO GET",
        "COMMAND INFO setex psetex getex expire pexpire expireat pexpireat persist ttl pttl expiretime pexpiretime",
        "COMMAND INFO msetnx rename renamenx copy bitop",
        "COMMAND GETKEYS bitop and d a b",
        "COMMAND GETKEYS rename a b",
        "COMMAND GETKEYS msetnx a 1 b 2",
        "COMMAND GETKEYS expire k 10",
        "COMMAND GETKEYS setex k 10 v",
        "COMMAND GETKEYS get k",
        "COMMAND GETKEYS GET k",
        "COMMAND GETKEYS mset a 1 b 2",
        "COMMAND GETKEYS del a b c",
        "COMMAND GETKEYS exists a",
        "COMMAND GETKEYS get",
        "COMMAND GETKEYS get a b",
        "COMMAND GETKEYS mset a",
        "COMMAND GETKEYS ping x",
        "COMMAND GETKEYS client id",
        "COMMAND GETKEYS nosuch x",
        "COMMAND DOCS nosuch",
    ]);
    // `cluster-enabled` is compared with a cluster-enabled reference (`cluster_commands_...`).
    for pattern in [
        "CONFIG GET save appendonly databases maxmemory-policy",
        "CONFIG GET maxmemory*",
        "CONFIG GET max*memory* timeout",
        "CONFIG GET d?tabases [s]ave appendonl[a-z]",
        "CONFIG GET *memory-[cp]* max?lients",
    ] {
        steps.push(step(pattern, Normalise::SortedPairs));
    }
    steps.push(step(
        "COMMAND DOCS get set del exists mget mset ping echo dbsize info quit select hello auth reset time",
        Normalise::DocsFields,
    ));
    steps.push(step(
        "COMMAND DOCS incr decr incrby decrby append getdel strlen scan keys type touch unlink \
         flushall flushdb getrange substr setrange getbit setbit bitcount bitpos lcs randomkey \
         incrbyfloat \
         setex psetex getex expire pexpire expireat pexpireat persist ttl pttl expiretime \
         pexpiretime msetnx rename renamenx copy bitop",
        Normalise::DocsFields,
    ));
    assert_same_replies_on(&[Target::Memory, Target::Nodes(1)], &[], steps);
}

/// The cluster commands whose replies do not depend on the topology, against a redis-server
/// started with `--cluster-enabled yes` (its slots unassigned: these commands do not care).
#[test]
fn cluster_commands_match_redis() {
    let mut steps = exact(&[
        "CLUSTER KEYSLOT foo",
        "CLUSTER KEYSLOT {user1000}.following",
        "CLUSTER KEYSLOT foo{}{bar}",
        "CLUSTER KEYSLOT foo{{bar}}zap",
        "CLUSTER KEYSLOT {",
        "CLUSTER KEYSLOT",
        "CLUSTER KEYSLOT a b",
        "CLUSTER COUNTKEYSINSLOT 0",
        "CLUSTER COUNTKEYSINSLOT 16383",
        "CLUSTER COUNTKEYSINSLOT 16384",
        "CLUSTER COUNTKEYSINSLOT -1",
        "CLUSTER COUNTKEYSINSLOT x",
        "CLUSTER GETKEYSINSLOT 0 10",
        "CLUSTER GETKEYSINSLOT 1 -1",
        "CLUSTER GETKEYSINSLOT 16384 1",
        "CLUSTER GETKEYSINSLOT x 1",
        "CLUSTER GETKEYSINSLOT 1 x",
        "CLUSTER GETKEYSINSLOT 1",
        "CLUSTER NOSUCH",
        "CLUSTER",
        "READONLY",
        "READWRITE",
        "READONLY x",
        "ASKING",
        "ASKING x",
        "COMMAND INFO readonly readwrite asking",
        "COMMAND GETKEYS cluster keyslot foo",
    ]);
    for pattern in [
        "CONFIG GET save appendonly databases cluster-enabled maxmemory-policy",
        "CONFIG GET d?tabases [s]ave appendonl[a-z] CLUSTER-ENABLED",
    ] {
        steps.push(step(pattern, Normalise::SortedPairs));
    }
    steps.push(step(
        "COMMAND DOCS readonly readwrite asking",
        Normalise::DocsFields,
    ));
    assert_same_replies_on(&[Target::Memory], &["--cluster-enabled", "yes"], steps);
}

#[test]
fn authentication_matches_redis() {
    let redis = RedisServer::start(&["--requirepass", "s3cret"]);
    let dendrite = Dendrite::start(Some("s3cret"));
    let mut steps = exact(&[
        "GET k",
        "CLIENT ID",
        "PING",
        "FOO",
        "HELLO 3",
        "HELLO 2 AUTH default nope",
        "HELLO 3 AUTH bob s3cret",
        "AUTH nope",
    ]);
    steps.push(step("HELLO 3 AUTH default s3cret", Normalise::Hello));
    steps.extend(exact(&["GET k", "RESET", "GET k", "AUTH s3cret", "GET k"]));
    let found = differences(redis.addr, RawClient::connect(dendrite.addr), &steps);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// Random command sequences over a small key set (so commands meet each other's keys), sent
/// to redis-server and to Dendrite after a `FLUSHALL` each: every reply must be identical.
/// proptest shrinks a failing sequence to a short one and prints it.
mod random_sequences {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestCaseError, TestRunner};

    fn command() -> impl Strategy<Value = Vec<Vec<u8>>> {
        let key = prop::sample::select(vec!["a", "b", "c", "n"]);
        let value = prop::sample::select(vec!["", "0", "1", "-7", "10", "x", "abc", "007"]);
        let small = -12i64..12;
        let words = |parts: Vec<String>| parts.into_iter().map(String::into_bytes).collect();
        prop_oneof![
            (key.clone(), value.clone()).prop_map(move |(k, v)| words(vec![
                "SET".into(),
                k.into(),
                v.into()
            ])),
            (
                key.clone(),
                value.clone(),
                prop::sample::select(vec!["NX", "XX", "GET", "NX GET", "XX GET"])
            )
                .prop_map(move |(k, v, o)| {
                    let mut w = vec!["SET".to_string(), k.into(), v.into()];
                    w.extend(o.split(' ').map(String::from));
                    words(w)
                }),
            key.clone()
                .prop_map(move |k| words(vec!["GET".into(), k.into()])),
            key.clone()
                .prop_map(move |k| words(vec!["INCR".into(), k.into()])),
            (
                key.clone(),
                prop::sample::select(vec![
                    "0.1",
                    "-7.25",
                    "1e3",
                    "3.3333333333333333",
                    "1e-3",
                    "0x1p-3",
                    "x"
                ]),
            )
                .prop_map(move |(k, f)| words(vec![
                    "INCRBYFLOAT".into(),
                    k.into(),
                    f.into()
                ])),
            (key.clone(), small.clone()).prop_map(move |(k, n)| words(vec![
                "INCRBY".into(),
                k.into(),
                n.to_string()
            ])),
            (key.clone(), small.clone()).prop_map(move |(k, n)| words(vec![
                "DECRBY".into(),
                k.into(),
                n.to_string()
            ])),
            (key.clone(), value.clone()).prop_map(move |(k, v)| words(vec![
                "APPEND".into(),
                k.into(),
                v.into()
            ])),
            (key.clone(), value.clone()).prop_map(move |(k, v)| words(vec![
                "SETNX".into(),
                k.into(),
                v.into()
            ])),
            (key.clone(), value.clone()).prop_map(move |(k, v)| words(vec![
                "GETSET".into(),
                k.into(),
                v.into()
            ])),
            key.clone()
                .prop_map(move |k| words(vec!["GETDEL".into(), k.into()])),
            key.clone()
                .prop_map(move |k| words(vec!["STRLEN".into(), k.into()])),
            (key.clone(), small.clone(), small.clone()).prop_map(move |(k, s, e)| words(vec![
                "GETRANGE".into(),
                k.into(),
                s.to_string(),
                e.to_string()
            ])),
            (key.clone(), 0u8..8, value.clone()).prop_map(move |(k, o, v)| words(vec![
                "SETRANGE".into(),
                k.into(),
                o.to_string(),
                v.into()
            ])),
            (key.clone(), 0u8..40, 0u8..2).prop_map(move |(k, o, b)| words(vec![
                "SETBIT".into(),
                k.into(),
                o.to_string(),
                b.to_string()
            ])),
            (key.clone(), 0u8..40).prop_map(move |(k, o)| words(vec![
                "GETBIT".into(),
                k.into(),
                o.to_string()
            ])),
            (key.clone(), small.clone(), small.clone()).prop_map(move |(k, s, e)| words(vec![
                "BITCOUNT".into(),
                k.into(),
                s.to_string(),
                e.to_string()
            ])),
            (key.clone(), 0u8..2, small.clone()).prop_map(move |(k, b, s)| words(vec![
                "BITPOS".into(),
                k.into(),
                b.to_string(),
                s.to_string()
            ])),
            (key.clone(), key.clone()).prop_map(move |(k, l)| words(vec![
                "DEL".into(),
                k.into(),
                l.into()
            ])),
            (key.clone(), key.clone()).prop_map(move |(k, l)| words(vec![
                "EXISTS".into(),
                k.into(),
                l.into()
            ])),
            (key.clone(), key.clone()).prop_map(move |(k, l)| words(vec![
                "MGET".into(),
                k.into(),
                l.into()
            ])),
            (key.clone(), key.clone()).prop_map(move |(k, l)| words(vec![
                "LCS".into(),
                k.into(),
                l.into()
            ])),
            key.clone()
                .prop_map(move |k| words(vec!["TYPE".into(), k.into()])),
            // Expiry with absolute deadlines only (2100, or 1970: already past), so that
            // conditions and replies do not depend on which millisecond each server runs in.
            (
                key.clone(),
                prop::sample::select(vec!["4102444800", "4102444900", "1"]),
                prop::sample::select(vec!["", "NX", "XX", "GT", "LT", "XX LT"]),
            )
                .prop_map(move |(k, at, o)| {
                    let mut w = vec!["EXPIREAT".to_string(), k.into(), at.into()];
                    w.extend(o.split(' ').filter(|o| !o.is_empty()).map(String::from));
                    words(w)
                }),
            (
                key.clone(),
                value.clone(),
                prop::sample::select(vec![
                    "EXAT 4102444800",
                    "KEEPTTL",
                    "PXAT 1",
                    "NX EXAT 4102444900"
                ]),
            )
                .prop_map(move |(k, v, o)| {
                    let mut w = vec!["SET".to_string(), k.into(), v.into()];
                    w.extend(o.split(' ').map(String::from));
                    words(w)
                }),
            (
                key.clone(),
                prop::sample::select(vec!["PERSIST", "EXAT 4102444900"])
            )
                .prop_map(move |(k, o)| {
                    let mut w = vec!["GETEX".to_string(), k.into()];
                    w.extend(o.split(' ').map(String::from));
                    words(w)
                }),
            (
                key.clone(),
                prop::sample::select(vec!["PERSIST", "EXPIRETIME", "PEXPIRETIME"])
            )
                .prop_map(move |(k, c)| words(vec![c.into(), k.into()])),
        ]
    }

    #[test]
    fn random_string_command_sequences_match_redis() {
        let memory = Dendrite::start(None);
        random_sequences_match(RawClient::connect(memory.addr), 128);
        drop(memory);
        // Fewer on real nodes: each command is a network round trip or several.
        for count in [1, 3] {
            let nodes = Nodes::start(count);
            random_sequences_match(nodes.client(), 32);
        }
    }

    /// `cases` random sequences, each after a `FLUSHALL`, to a fresh redis-server and to
    /// `candidate`.
    fn random_sequences_match(candidate: RawClient, cases: u32) {
        let redis = RedisServer::start(&[]);
        // proptest runs the property as a `Fn`: the two connections live in cells.
        let reference = std::cell::RefCell::new(RawClient::connect(redis.addr));
        let candidate = std::cell::RefCell::new(candidate);
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        });
        let outcome = runner.run(&prop::collection::vec(command(), 1..40), |script| {
            let (mut reference, mut candidate) = (reference.borrow_mut(), candidate.borrow_mut());
            reference.call(&[b"FLUSHALL"]);
            candidate.call(&[b"FLUSHALL"]);
            for args in &script {
                let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                let expected = reference.call(&args).bytes();
                let actual = candidate.call(&args).bytes();
                if expected != actual {
                    return Err(TestCaseError::fail(format!(
                        "{}\n    redis:    {}\n    dendrite: {}",
                        String::from_utf8_lossy(&args.join(&b' ')),
                        String::from_utf8_lossy(&expected).escape_debug(),
                        String::from_utf8_lossy(&actual).escape_debug(),
                    )));
                }
            }
            Ok(())
        });
        if let Err(failure) = outcome {
            panic!("a random sequence differs from redis-server: {failure}");
        }
    }
}

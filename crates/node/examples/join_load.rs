//! Client load for measuring a node joining a loaded cluster over real TCP
//! (`scripts/join_bench.sh`): fill the cluster, keep a read/write mix running during the join
//! and check every key afterwards.
//!
//! ```text
//! join_load load    --resp A,B,C --keys 1000000 --value-size 100
//! join_load traffic --resp A,B,C --keys 1000000 --stop-file PATH [--value-size 100]
//! join_load verify  --resp A     --keys 1000000 [--new N] [--value-size 100]
//! ```
//!
//! Every key `key:{i}` holds [`expected_value`] of `i`, and every `new:{j}` written by `traffic`
//! holds the same function of `j` with another prefix, so any reader can tell a right value from
//! a wrong one without remembering what was written. Network results are never unwrapped: an
//! error reply, a broken connection, a timeout, a missing or a wrong value is counted as a
//! failed operation and reported, and the exit code is non-zero when anything failed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use redis::aio::MultiplexedConnection;
use redis::Value;
use tokio::task::JoinSet;

/// How long one request (or one pipeline) may take before it counts as failed.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Failure messages printed in full; the rest are only counted by kind.
const FAILURES_SHOWN: usize = 20;

/// Load, traffic and verification for the join benchmark.
#[derive(Debug, Parser)]
#[command(name = "join_load")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write `key:0` .. `key:{keys-1}` with pipelined SETs over several connections.
    Load(LoadArgs),
    /// Mix GETs of loaded keys (value checked) with SETs of fresh `new:{j}` keys until the stop
    /// file appears (or the duration passes).
    Traffic(TrafficArgs),
    /// Read back every loaded key (and `new:0..N`) through one node and count missing/wrong.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
struct Target {
    /// RESP addresses, comma separated; connections are spread over them.
    #[arg(long, value_delimiter = ',', required = true)]
    resp: Vec<String>,
    /// Number of loaded keys (`key:0` .. `key:{keys-1}`).
    #[arg(long, default_value_t = 1_000_000)]
    keys: u64,
    /// Bytes per value.
    #[arg(long, default_value_t = 100)]
    value_size: usize,
}

#[derive(Debug, Args)]
struct LoadArgs {
    #[command(flatten)]
    target: Target,
    /// SETs per pipeline.
    #[arg(long, default_value_t = 1000)]
    pipeline: u64,
    /// Connections per RESP address.
    #[arg(long, default_value_t = 4)]
    connections: usize,
}

#[derive(Debug, Args)]
struct TrafficArgs {
    #[command(flatten)]
    target: Target,
    /// Stop when this file exists.
    #[arg(long)]
    stop_file: Option<PathBuf>,
    /// Stop after this many seconds (whichever comes first with --stop-file).
    #[arg(long)]
    duration_secs: Option<u64>,
    /// Concurrent clients (one connection each, spread over the addresses).
    #[arg(long, default_value_t = 6)]
    clients: usize,
    /// Percentage of operations that are SETs of fresh keys (the rest are checked GETs).
    #[arg(long, default_value_t = 30)]
    set_percent: u64,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    #[command(flatten)]
    target: Target,
    /// Also check `new:0` .. `new:{new-1}` (the count `traffic` printed).
    #[arg(long, default_value_t = 0)]
    new: u64,
    /// GETs per pipeline.
    #[arg(long, default_value_t = 1000)]
    pipeline: u64,
    /// Pipelines in flight at once on the connection.
    #[arg(long, default_value_t = 4)]
    in_flight: usize,
}

/// Why the tool could not run at all (as opposed to counted operation failures).
#[derive(Debug, thiserror::Error)]
enum ToolError {
    /// No RESP address could be connected to.
    #[error(
        "cannot connect to {addr}: {reason}; is the node running and is its --resp address right?"
    )]
    Connect { addr: String, reason: String },
    /// The options make no sense.
    #[error("bad options: {0}")]
    Options(&'static str),
    /// Neither a stop file nor a duration was given.
    #[error("traffic needs --stop-file or --duration-secs, otherwise it never stops")]
    NoStop,
}

/// Which family of keys: the loaded ones or the ones `traffic` writes.
#[derive(Debug, Clone, Copy)]
enum KeySpace {
    Loaded,
    Fresh,
}

impl KeySpace {
    fn key(self, index: u64) -> String {
        match self {
            KeySpace::Loaded => format!("key:{index}"),
            KeySpace::Fresh => format!("new:{index}"),
        }
    }

    fn tag(self) -> &'static str {
        match self {
            KeySpace::Loaded => "v",
            KeySpace::Fresh => "n",
        }
    }
}

/// The value every reader expects under `space`'s key `index`: `"{tag}{index}."` repeated and cut
/// to `size` bytes, so that a value of another key is recognised as wrong.
fn expected_value(space: KeySpace, index: u64, size: usize) -> Vec<u8> {
    let unit = format!("{}{index}.", space.tag());
    unit.as_bytes().iter().copied().cycle().take(size).collect()
}

/// Failed operations by kind, with the first few messages kept for the report.
#[derive(Debug, Default)]
struct FailureLog {
    by_kind: BTreeMap<String, u64>,
    first: Vec<String>,
    total: u64,
}

impl FailureLog {
    fn record(&mut self, kind: &str, started: Instant, detail: String) {
        self.total += 1;
        *self.by_kind.entry(kind.to_owned()).or_default() += 1;
        if self.first.len() < FAILURES_SHOWN {
            let at = started.elapsed().as_secs_f64();
            self.first.push(format!("t={at:.3}s {kind}: {detail}"));
        }
    }

    fn merge(&mut self, other: FailureLog) {
        self.total += other.total;
        for (kind, count) in other.by_kind {
            *self.by_kind.entry(kind).or_default() += count;
        }
        for line in other.first {
            if self.first.len() < FAILURES_SHOWN {
                self.first.push(line);
            }
        }
    }

    fn print(&self, what: &str) {
        let kinds: Vec<String> = self
            .by_kind
            .iter()
            .map(|(kind, count)| format!("{kind}={count}"))
            .collect();
        println!("{what} failures: {} [{}]", self.total, kinds.join(" "));
        for line in &self.first {
            println!("  {line}");
        }
    }
}

async fn connect(addr: &str) -> Result<MultiplexedConnection, ToolError> {
    let client =
        redis::Client::open(format!("redis://{addr}/")).map_err(|e| ToolError::Connect {
            addr: addr.to_owned(),
            reason: e.to_string(),
        })?;
    client
        .get_multiplexed_async_connection_with_config(
            &redis::AsyncConnectionConfig::new()
                .set_connection_timeout(CONNECT_TIMEOUT)
                .set_response_timeout(RESPONSE_TIMEOUT),
        )
        .await
        .map_err(|e| ToolError::Connect {
            addr: addr.to_owned(),
            reason: e.to_string(),
        })
}

/// Runs a request with a deadline; a timeout becomes an I/O error like any other.
async fn timed<T>(
    request: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> redis::RedisResult<T> {
    match tokio::time::timeout(RESPONSE_TIMEOUT, request).await {
        Ok(result) => result,
        Err(_) => Err(redis::RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no reply within {RESPONSE_TIMEOUT:?}"),
        ))),
    }
}

/// Classifies a client error for the per-kind counts.
fn error_kind(error: &redis::RedisError) -> &'static str {
    if error.is_timeout() {
        "timeout"
    } else if error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal()
    {
        "connection"
    } else {
        "error-reply"
    }
}

// ---------------------------------------------------------------------------------------------
// load

async fn run_load(args: LoadArgs) -> Result<bool, ToolError> {
    let target = &args.target;
    if args.pipeline == 0 || args.connections == 0 {
        return Err(ToolError::Options(
            "--pipeline and --connections must be at least 1",
        ));
    }
    let chunks = target.keys.div_ceil(args.pipeline);
    let next_chunk = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = JoinSet::new();
    for addr in &target.resp {
        for _ in 0..args.connections {
            let connection = connect(addr).await?;
            let next_chunk = next_chunk.clone();
            let (keys, size, per) = (target.keys, target.value_size, args.pipeline);
            workers.spawn(async move {
                load_worker(connection, next_chunk, chunks, per, keys, size, started).await
            });
        }
    }
    let mut failures = FailureLog::default();
    let mut written = 0;
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok((done, log)) => {
                written += done;
                failures.merge(log);
            }
            Err(e) => failures.record("task", started, e.to_string()),
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "load keys={written} seconds={seconds:.2} keys_per_s={:.0}",
        written as f64 / seconds.max(1e-9)
    );
    failures.print("load (keys in failed pipelines)");
    Ok(failures.total == 0 && written == target.keys)
}

/// Sends pipelines of SETs for chunks taken from `next_chunk` until none are left; returns the
/// keys acknowledged and the failures (every key of a failed pipeline counts as failed).
async fn load_worker(
    mut connection: MultiplexedConnection,
    next_chunk: Arc<AtomicU64>,
    chunks: u64,
    per: u64,
    keys: u64,
    size: usize,
    started: Instant,
) -> (u64, FailureLog) {
    let mut failures = FailureLog::default();
    let mut written = 0;
    loop {
        let chunk = next_chunk.fetch_add(1, Ordering::Relaxed);
        if chunk >= chunks {
            return (written, failures);
        }
        let range = chunk * per..((chunk + 1) * per).min(keys);
        let count = range.end - range.start;
        let mut pipe = redis::pipe();
        for i in range.clone() {
            pipe.cmd("SET")
                .arg(KeySpace::Loaded.key(i))
                .arg(expected_value(KeySpace::Loaded, i, size));
        }
        match timed(pipe.query_async::<Vec<Value>>(&mut connection)).await {
            Ok(replies) => {
                let ok = replies.iter().filter(|r| is_ok(r)).count() as u64;
                written += ok;
                for _ in ok..count {
                    failures.record(
                        "bad-reply",
                        started,
                        format!("keys {range:?}: {} replies", replies.len()),
                    );
                }
            }
            Err(e) => {
                for _ in 0..count {
                    failures.record(error_kind(&e), started, format!("keys {range:?}: {e}"));
                }
            }
        }
    }
}

fn is_ok(reply: &Value) -> bool {
    matches!(reply, Value::Okay) || matches!(reply, Value::SimpleString(s) if s == "OK")
}

// ---------------------------------------------------------------------------------------------
// traffic

/// What one traffic client did.
#[derive(Debug, Default)]
struct TrafficTally {
    gets: u64,
    sets: u64,
    failures: FailureLog,
}

async fn run_traffic(args: TrafficArgs) -> Result<bool, ToolError> {
    if args.stop_file.is_none() && args.duration_secs.is_none() {
        return Err(ToolError::NoStop);
    }
    if args.clients == 0 || args.target.keys == 0 || args.set_percent > 100 {
        return Err(ToolError::Options(
            "--clients and --keys must be at least 1, --set-percent at most 100",
        ));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let next_new = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut clients = JoinSet::new();
    for index in 0..args.clients {
        let addr = args.target.resp[index % args.target.resp.len()].clone();
        let connection = connect(&addr).await?;
        let (stop, next_new) = (stop.clone(), next_new.clone());
        let plan = ClientPlan {
            addr,
            keys: args.target.keys,
            size: args.target.value_size,
            set_percent: args.set_percent,
            seed: 0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9),
            started,
        };
        clients.spawn(traffic_client(plan, connection, stop, next_new));
    }
    let deadline = args.duration_secs.map(|s| started + Duration::from_secs(s));
    loop {
        let file_there = args.stop_file.as_ref().is_some_and(|path| path.exists());
        let past = deadline.is_some_and(|d| Instant::now() >= d);
        if file_there || past {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut total = TrafficTally::default();
    while let Some(joined) = clients.join_next().await {
        match joined {
            Ok(tally) => {
                total.gets += tally.gets;
                total.sets += tally.sets;
                total.failures.merge(tally.failures);
            }
            Err(e) => total.failures.record("task", started, e.to_string()),
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let ops = total.gets + total.sets;
    // Every index below this was handed to a client and its SET was awaited before exit.
    let new_keys = next_new.load(Ordering::Relaxed);
    println!(
        "traffic ops={ops} gets={} sets={} failed={} new_keys={new_keys} seconds={seconds:.2} ops_per_s={:.0}",
        total.gets,
        total.sets,
        total.failures.total,
        ops as f64 / seconds.max(1e-9)
    );
    total.failures.print("traffic");
    Ok(total.failures.total == 0)
}

/// One traffic client's settings.
struct ClientPlan {
    addr: String,
    keys: u64,
    size: usize,
    set_percent: u64,
    seed: u64,
    started: Instant,
}

/// xorshift64*: enough to spread reads over the key space without another dependency.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

async fn traffic_client(
    plan: ClientPlan,
    mut connection: MultiplexedConnection,
    stop: Arc<AtomicBool>,
    next_new: Arc<AtomicU64>,
) -> TrafficTally {
    let mut tally = TrafficTally::default();
    let mut state = plan.seed;
    let mut broken = false;
    while !stop.load(Ordering::Relaxed) {
        if broken {
            // The previous operation lost the connection: open a new one (a failure to do so is
            // one more failed operation) before going on.
            match connect(&plan.addr).await {
                Ok(fresh) => {
                    connection = fresh;
                    broken = false;
                }
                Err(e) => {
                    tally
                        .failures
                        .record("reconnect", plan.started, e.to_string());
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            }
        }
        let roll = next_random(&mut state);
        if roll % 100 < plan.set_percent {
            let j = next_new.fetch_add(1, Ordering::Relaxed);
            let key = KeySpace::Fresh.key(j);
            let value = expected_value(KeySpace::Fresh, j, plan.size);
            let reply = timed(
                redis::cmd("SET")
                    .arg(&key)
                    .arg(value)
                    .query_async::<Value>(&mut connection),
            )
            .await;
            tally.sets += 1;
            match reply {
                Ok(reply) if is_ok(&reply) => {}
                Ok(other) => tally.failures.record(
                    "bad-reply",
                    plan.started,
                    format!("SET {key} via {}: {other:?}", plan.addr),
                ),
                Err(e) => {
                    broken |= error_kind(&e) != "error-reply";
                    tally.failures.record(
                        error_kind(&e),
                        plan.started,
                        format!("SET {key} via {}: {e}", plan.addr),
                    );
                }
            }
        } else {
            let i = next_random(&mut state) % plan.keys;
            let key = KeySpace::Loaded.key(i);
            let reply = timed(
                redis::cmd("GET")
                    .arg(&key)
                    .query_async::<Option<Vec<u8>>>(&mut connection),
            )
            .await;
            tally.gets += 1;
            match reply {
                Ok(Some(value)) if value == expected_value(KeySpace::Loaded, i, plan.size) => {}
                Ok(Some(value)) => tally.failures.record(
                    "wrong-value",
                    plan.started,
                    format!(
                        "GET {key} via {}: {:?}",
                        plan.addr,
                        String::from_utf8_lossy(&value)
                    ),
                ),
                Ok(None) => tally.failures.record(
                    "missing",
                    plan.started,
                    format!("GET {key} via {}: nil", plan.addr),
                ),
                Err(e) => {
                    broken |= error_kind(&e) != "error-reply";
                    tally.failures.record(
                        error_kind(&e),
                        plan.started,
                        format!("GET {key} via {}: {e}", plan.addr),
                    );
                }
            }
        }
    }
    tally
}

// ---------------------------------------------------------------------------------------------
// verify

/// Counts of one verification pass.
#[derive(Debug, Default)]
struct VerifyTally {
    checked: u64,
    missing: u64,
    wrong: u64,
    failures: FailureLog,
}

async fn run_verify(args: VerifyArgs) -> Result<bool, ToolError> {
    if args.pipeline == 0 || args.in_flight == 0 {
        return Err(ToolError::Options(
            "--pipeline and --in-flight must be at least 1",
        ));
    }
    let addr = args
        .target
        .resp
        .first()
        .cloned()
        .ok_or(ToolError::Options("--resp needs an address"))?;
    let connection = connect(&addr).await?;
    let started = Instant::now();
    let mut total = VerifyTally::default();
    for (space, count) in [
        (KeySpace::Loaded, args.target.keys),
        (KeySpace::Fresh, args.new),
    ] {
        let chunks = count.div_ceil(args.pipeline);
        let next_chunk = Arc::new(AtomicU64::new(0));
        let mut readers = JoinSet::new();
        for _ in 0..args.in_flight {
            let (connection, next_chunk) = (connection.clone(), next_chunk.clone());
            let (per, size) = (args.pipeline, args.target.value_size);
            readers.spawn(async move {
                verify_reader(
                    connection, space, next_chunk, chunks, per, count, size, started,
                )
                .await
            });
        }
        while let Some(joined) = readers.join_next().await {
            match joined {
                Ok(tally) => {
                    total.checked += tally.checked;
                    total.missing += tally.missing;
                    total.wrong += tally.wrong;
                    total.failures.merge(tally.failures);
                }
                Err(e) => total.failures.record("task", started, e.to_string()),
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "verify via={addr} checked={} missing={} wrong={} failed_reads={} seconds={seconds:.2}",
        total.checked, total.missing, total.wrong, total.failures.total
    );
    total
        .failures
        .print("verify (missing, wrong and unread keys)");
    Ok(total.missing == 0 && total.wrong == 0 && total.failures.total == 0)
}

#[allow(clippy::too_many_arguments)]
async fn verify_reader(
    mut connection: MultiplexedConnection,
    space: KeySpace,
    next_chunk: Arc<AtomicU64>,
    chunks: u64,
    per: u64,
    count: u64,
    size: usize,
    started: Instant,
) -> VerifyTally {
    let mut tally = VerifyTally::default();
    loop {
        let chunk = next_chunk.fetch_add(1, Ordering::Relaxed);
        if chunk >= chunks {
            return tally;
        }
        let range = chunk * per..((chunk + 1) * per).min(count);
        let mut pipe = redis::pipe();
        for i in range.clone() {
            pipe.cmd("GET").arg(space.key(i));
        }
        let replies = match timed(pipe.query_async::<Vec<Option<Vec<u8>>>>(&mut connection)).await {
            Ok(replies) => replies,
            Err(e) => {
                for i in range {
                    tally.failures.record(
                        error_kind(&e),
                        started,
                        format!("GET {}: {e}", space.key(i)),
                    );
                }
                continue;
            }
        };
        for (offset, reply) in replies.into_iter().enumerate() {
            let i = range.start + offset as u64;
            tally.checked += 1;
            match reply {
                Some(value) if value == expected_value(space, i, size) => {}
                Some(value) => {
                    tally.wrong += 1;
                    tally.failures.record(
                        "wrong-value",
                        started,
                        format!("{}: {:?}", space.key(i), String::from_utf8_lossy(&value)),
                    );
                }
                None => {
                    tally.missing += 1;
                    tally
                        .failures
                        .record("missing", started, format!("{}: nil", space.key(i)));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot start the tokio runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Load(args) => run_load(args).await,
            Command::Traffic(args) => run_traffic(args).await,
            Command::Verify(args) => run_verify(args).await,
        }
    });
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("join_load: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_have_the_size_and_differ_between_keys() {
        let a = expected_value(KeySpace::Loaded, 12, 100);
        assert_eq!(a.len(), 100);
        assert!(a.starts_with(b"v12.v12."));
        assert_ne!(a, expected_value(KeySpace::Loaded, 1, 100));
        assert_ne!(a, expected_value(KeySpace::Fresh, 12, 100));
        assert!(expected_value(KeySpace::Loaded, 7, 0).is_empty());
    }

    #[test]
    fn failure_log_keeps_counts_and_a_bounded_sample() {
        let started = Instant::now();
        let mut log = FailureLog::default();
        for n in 0..30 {
            log.record("missing", started, format!("key:{n}"));
        }
        let mut other = FailureLog::default();
        other.record("timeout", started, "GET key:1".to_owned());
        log.merge(other);
        assert_eq!(log.total, 31);
        assert_eq!(log.by_kind.get("missing"), Some(&30));
        assert_eq!(log.by_kind.get("timeout"), Some(&1));
        assert_eq!(log.first.len(), FAILURES_SHOWN);
    }
}

//! `dendrite bench`: a closed-loop load generator over the real Redis client.
//!
//! Each client owns one connection and issues its share of requests one at
//! a time (alternating SET and GET over a keyspace), timing each; the report
//! gives throughput and latency percentiles per operation.

use std::fmt;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use redis::AsyncCommands;
use tokio::task::JoinSet;

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchPlan {
    /// RESP address (`host:port`).
    pub addr: String,
    /// Concurrent connections.
    pub clients: usize,
    /// Total requests over all clients.
    pub requests: usize,
    /// Bytes per value written.
    pub value_size: usize,
    /// Distinct keys.
    pub keyspace: u64,
    /// Which operations, in which proportions.
    pub workload: Workload,
    /// Write consistency set on every connection (`CONSISTENCY 1 <w>`); `None` keeps the
    /// node's default.
    pub consistency: Option<u8>,
    /// Run for this long instead of until `requests` are done (a soak).
    pub duration: Option<Duration>,
    /// Requests per second over all clients, spread evenly: each client sends on a fixed
    /// schedule (and catches up without bursting past it when it falls behind); `None` sends
    /// as fast as answers come back.
    pub rate: Option<f64>,
}

/// When a client sends: as soon as it can, or on a fixed schedule.
struct Pace {
    interval: Option<Duration>,
    next: tokio::time::Instant,
}

impl Pace {
    fn new(plan: &BenchPlan, index: usize) -> Pace {
        let interval = plan
            .rate
            .map(|rate| Duration::from_secs_f64(plan.clients as f64 / rate));
        // Clients start spread over one interval, not all at once.
        let offset = interval.map_or(Duration::ZERO, |i| {
            i.mul_f64(index as f64 / plan.clients as f64)
        });
        Pace {
            interval,
            next: tokio::time::Instant::now() + offset,
        }
    }

    /// Waits for the next send time, if the client has one.
    async fn wait(&mut self) {
        let Some(interval) = self.interval else {
            return;
        };
        tokio::time::sleep_until(self.next).await;
        // Behind by more than one interval (a slow answer): start again from now instead of
        // sending a burst to catch up.
        let now = tokio::time::Instant::now();
        self.next = (self.next + interval).max(now);
    }
}

/// The operation mix, after YCSB's core workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// Each client alternates SET and GET of the same key (no load phase).
    Mixed,
    /// YCSB A: 50 % reads, 50 % updates of preloaded keys.
    A,
    /// YCSB B: 95 % reads, 5 % updates.
    B,
    /// YCSB C: reads only.
    C,
}

impl Workload {
    /// Percent of operations that are reads (`Mixed` alternates instead).
    pub fn read_percent(self) -> u64 {
        match self {
            Workload::Mixed | Workload::A => 50,
            Workload::B => 95,
            Workload::C => 100,
        }
    }
}

/// A small deterministic generator (xorshift64*), one per client: the benchmark's key and
/// operation choices repeat run to run.
struct Draw(u64);

impl Draw {
    fn new(seed: u64) -> Draw {
        Draw(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Request `request` of client `index`: the key and whether it is a read.
fn next_operation(
    workload: Workload,
    draw: &mut Draw,
    request: u64,
    index: u64,
    clients: u64,
    keyspace: u64,
) -> (String, bool) {
    match workload {
        // A GET reads the key the SET before it wrote.
        Workload::Mixed => (
            format!("bench:{}", ((request / 2) * clients + index) % keyspace),
            request % 2 == 1,
        ),
        _ => {
            let key = format!("bench:{}", draw.next() % keyspace);
            (key, draw.next() % 100 < workload.read_percent())
        }
    }
}

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A plan that cannot produce a measurement.
    #[error("invalid benchmark plan: {0}")]
    Plan(&'static str),
    /// Could not open a connection.
    #[error("cannot connect to {addr}: {source}; is a node serving RESP there (--resp)?")]
    Connect {
        /// The address.
        addr: String,
        /// The client's error.
        source: redis::RedisError,
    },
    /// A client task died.
    #[error("a benchmark client failed: {0}")]
    Client(String),
}

/// Latency distribution of one operation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencySummary {
    /// Requests measured.
    pub count: usize,
    /// Requests answered with an error.
    pub errors: usize,
    /// Percentiles: p50, p90, p99, p99.9.
    pub percentiles: [Duration; 4],
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// SET latencies.
    pub set: LatencySummary,
    /// GET latencies.
    pub get: LatencySummary,
}

impl BenchReport {
    /// Requests per second over both operations.
    pub fn throughput(&self) -> f64 {
        let total = (self.set.count + self.get.count) as f64;
        total / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} requests in {:.3} s: {:.0} requests/s",
            self.set.count + self.get.count,
            self.elapsed.as_secs_f64(),
            self.throughput()
        )?;
        writeln!(
            f,
            "op    count    errors   p50(ms)  p90(ms)  p99(ms)  p99.9(ms)"
        )?;
        for (name, summary) in [("SET", &self.set), ("GET", &self.get)] {
            let [p50, p90, p99, p999] = summary.percentiles.map(|p| p.as_secs_f64() * 1e3);
            writeln!(
                f,
                "{name:<5} {:<8} {:<8} {p50:<8.3} {p90:<8.3} {p99:<8.3} {p999:.3}",
                summary.count, summary.errors
            )?;
        }
        Ok(())
    }
}

/// Latencies of one operation, in nanoseconds, at 3 significant digits (an HDR histogram:
/// constant memory however long the run, 0.1 % resolution at every scale).
pub struct Latencies {
    histogram: Histogram<u64>,
    errors: usize,
}

impl Latencies {
    /// An empty record.
    pub fn new() -> Result<Latencies, BenchError> {
        // Auto-resizing, so no sample is ever out of range.
        let histogram =
            Histogram::new(3).map_err(|_| BenchError::Plan("cannot create a latency histogram"))?;
        Ok(Latencies {
            histogram,
            errors: 0,
        })
    }

    /// Records one request's latency and whether it failed.
    pub fn record(&mut self, latency: Duration, failed: bool) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        // `record` grows the histogram as needed; only a value beyond every bound is clamped.
        if self.histogram.record(nanos.max(1)).is_err() {
            self.histogram.saturating_record(nanos.max(1));
        }
        self.errors += usize::from(failed);
    }

    /// Adds another client's latencies to these.
    pub fn merge(&mut self, other: &Latencies) {
        // Cannot fail: both histograms auto-resize.
        let _ = self.histogram.add(&other.histogram);
        self.errors += other.errors;
    }

    /// The latency at quantile `q` (0..=1); zero when nothing was recorded.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.histogram.is_empty() {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.histogram.value_at_quantile(q.clamp(0.0, 1.0)))
    }

    /// p50, p90, p99 and p99.9, with counts.
    pub fn summary(&self) -> LatencySummary {
        LatencySummary {
            count: usize::try_from(self.histogram.len()).unwrap_or(usize::MAX),
            errors: self.errors,
            percentiles: [0.5, 0.9, 0.99, 0.999].map(|q| self.quantile(q)),
        }
    }
}

struct ClientSamples {
    set: Latencies,
    get: Latencies,
}

impl ClientSamples {
    fn new() -> Result<ClientSamples, BenchError> {
        Ok(ClientSamples {
            set: Latencies::new()?,
            get: Latencies::new()?,
        })
    }
}

/// Runs the plan against a live node.
pub async fn run_bench(plan: &BenchPlan) -> Result<BenchReport, BenchError> {
    if plan.clients == 0 || plan.requests == 0 || plan.keyspace == 0 {
        return Err(BenchError::Plan(
            "clients, requests and keyspace must all be at least 1",
        ));
    }
    if plan
        .rate
        .is_some_and(|rate| !(rate.is_finite() && rate > 0.0))
    {
        return Err(BenchError::Plan(
            "the rate must be a positive number of requests per second",
        ));
    }
    if plan.duration.is_some_and(|d| d.is_zero()) {
        return Err(BenchError::Plan("the duration must be longer than zero"));
    }
    let client = redis::Client::open(format!("redis://{}/", plan.addr)).map_err(|source| {
        BenchError::Connect {
            addr: plan.addr.clone(),
            source,
        }
    })?;
    let mut connections = Vec::with_capacity(plan.clients);
    for _ in 0..plan.clients {
        let connection = client
            .get_multiplexed_async_connection()
            .await
            .map_err(|source| BenchError::Connect {
                addr: plan.addr.clone(),
                source,
            })?;
        connections.push(connection);
    }
    let value = vec![b'x'; plan.value_size];
    if let Some(write) = plan.consistency {
        for connection in &mut connections {
            let () = redis::cmd("CONSISTENCY")
                .arg(1)
                .arg(write)
                .query_async(connection)
                .await
                .map_err(|e| BenchError::Client(format!("CONSISTENCY 1 {write}: {e}")))?;
        }
    }
    if plan.workload != Workload::Mixed {
        // Load phase (not timed): every key exists before the measured operations.
        if let Some(connection) = connections.first_mut() {
            let keys: Vec<u64> = (0..plan.keyspace).collect();
            for chunk in keys.chunks(1000) {
                let pairs: Vec<(String, &[u8])> = chunk
                    .iter()
                    .map(|k| (format!("bench:{k}"), value.as_slice()))
                    .collect();
                let () = connection
                    .mset(&pairs)
                    .await
                    .map_err(|e| BenchError::Client(format!("load phase: {e}")))?;
            }
        }
    }
    let started = Instant::now();
    let deadline = plan.duration.map(|d| started + d);
    let mut tasks = JoinSet::new();
    for (index, mut connection) in connections.into_iter().enumerate() {
        // With a duration, each client runs until it is over, however many requests that is.
        let share = if deadline.is_some() {
            usize::MAX
        } else {
            plan.requests / plan.clients + usize::from(index < plan.requests % plan.clients)
        };
        let mut pace = Pace::new(plan, index);
        let value = value.clone();
        let keyspace = plan.keyspace;
        let clients = plan.clients as u64;
        let workload = plan.workload;
        let mut samples = ClientSamples::new()?;
        tasks.spawn(async move {
            let mut draw = Draw::new(index as u64 + 1);
            for request in 0..share as u64 {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                pace.wait().await;
                let (key, read) = next_operation(
                    workload,
                    &mut draw,
                    request,
                    index as u64,
                    clients,
                    keyspace,
                );
                let sent = Instant::now();
                if read {
                    let outcome: redis::RedisResult<Option<Vec<u8>>> = connection.get(&key).await;
                    samples.get.record(sent.elapsed(), outcome.is_err());
                } else {
                    let outcome: redis::RedisResult<()> = connection.set(&key, &value).await;
                    samples.set.record(sent.elapsed(), outcome.is_err());
                }
            }
            samples
        });
    }
    let mut all = ClientSamples::new()?;
    while let Some(joined) = tasks.join_next().await {
        let samples = joined.map_err(|error| BenchError::Client(error.to_string()))?;
        all.set.merge(&samples.set);
        all.get.merge(&samples.get);
    }
    Ok(BenchReport {
        elapsed: started.elapsed(),
        set: all.set.summary(),
        get: all.get.summary(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_mix_reads_and_writes_as_ycsb_does() {
        for (workload, low, high) in [
            (Workload::A, 4_700, 5_300),
            (Workload::B, 9_400, 9_600),
            (Workload::C, 10_000, 10_000),
        ] {
            let mut draw = Draw::new(1);
            let reads = (0..10_000)
                .filter(|r| next_operation(workload, &mut draw, *r, 0, 1, 1000).1)
                .count();
            assert!((low..=high).contains(&reads), "{workload:?}: {reads} reads");
        }
        // Mixed: SET then GET of the same key.
        let mut draw = Draw::new(1);
        let set = next_operation(Workload::Mixed, &mut draw, 4, 1, 3, 100);
        let get = next_operation(Workload::Mixed, &mut draw, 5, 1, 3, 100);
        assert_eq!((set.0.as_str(), set.1), ("bench:7", false));
        assert_eq!((get.0.as_str(), get.1), ("bench:7", true));
    }

    #[test]
    fn percentiles_come_from_the_merged_histograms() {
        let mut first = Latencies::new().unwrap();
        let mut second = Latencies::new().unwrap();
        for ms in 1..=50 {
            first.record(Duration::from_millis(ms), false);
        }
        for ms in 51..=100 {
            second.record(Duration::from_millis(ms), ms == 100);
        }
        first.merge(&second);
        let close = |got: Duration, ms: u64| {
            let want = Duration::from_millis(ms).as_secs_f64();
            assert!(
                (got.as_secs_f64() - want).abs() <= want * 0.001,
                "{got:?} vs {ms} ms"
            );
        };
        close(first.quantile(0.5), 50);
        close(first.quantile(0.99), 99);
        close(first.quantile(0.999), 100);
        close(first.quantile(0.0), 1);
        let summary = first.summary();
        assert_eq!((summary.count, summary.errors), (100, 1));
        assert_eq!(Latencies::new().unwrap().quantile(0.5), Duration::ZERO);
    }
}

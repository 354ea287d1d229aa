//! `dendrite bench`: a closed-loop load generator over the real Redis client.
//!
//! Each client owns one connection and issues its share of requests one at
//! a time (alternating SET and GET over a keyspace), timing each; the report
//! gives throughput and latency percentiles per operation.

use std::fmt;
use std::time::{Duration, Instant};

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

/// The value at quantile `q` (0..=1) of sorted samples, by nearest rank.
pub fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn summarise(mut samples: Vec<Duration>, errors: usize) -> LatencySummary {
    samples.sort_unstable();
    LatencySummary {
        count: samples.len(),
        errors,
        percentiles: [0.5, 0.9, 0.99, 0.999].map(|q| percentile(&samples, q)),
    }
}

#[derive(Default)]
struct ClientSamples {
    set: Vec<Duration>,
    get: Vec<Duration>,
    set_errors: usize,
    get_errors: usize,
}

/// Runs the plan against a live node.
pub async fn run_bench(plan: &BenchPlan) -> Result<BenchReport, BenchError> {
    if plan.clients == 0 || plan.requests == 0 || plan.keyspace == 0 {
        return Err(BenchError::Plan(
            "clients, requests and keyspace must all be at least 1",
        ));
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
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for (index, mut connection) in connections.into_iter().enumerate() {
        let share =
            plan.requests / plan.clients + usize::from(index < plan.requests % plan.clients);
        let value = value.clone();
        let keyspace = plan.keyspace;
        let clients = plan.clients as u64;
        tasks.spawn(async move {
            let mut samples = ClientSamples::default();
            for request in 0..share as u64 {
                // A GET reads the key the SET before it wrote.
                let key = format!(
                    "bench:{}",
                    ((request / 2) * clients + index as u64) % keyspace
                );
                let sent = Instant::now();
                if request % 2 == 0 {
                    let outcome: redis::RedisResult<()> = connection.set(&key, &value).await;
                    samples.set.push(sent.elapsed());
                    samples.set_errors += usize::from(outcome.is_err());
                } else {
                    let outcome: redis::RedisResult<Option<Vec<u8>>> = connection.get(&key).await;
                    samples.get.push(sent.elapsed());
                    samples.get_errors += usize::from(outcome.is_err());
                }
            }
            samples
        });
    }
    let mut all = ClientSamples::default();
    while let Some(joined) = tasks.join_next().await {
        let samples = joined.map_err(|error| BenchError::Client(error.to_string()))?;
        all.set.extend(samples.set);
        all.get.extend(samples.get);
        all.set_errors += samples.set_errors;
        all.get_errors += samples.get_errors;
    }
    Ok(BenchReport {
        elapsed: started.elapsed(),
        set: summarise(all.set, all.set_errors),
        get: summarise(all.get, all.get_errors),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&samples, 0.5), Duration::from_millis(50));
        assert_eq!(percentile(&samples, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&samples, 0.999), Duration::from_millis(100));
        assert_eq!(percentile(&samples, 0.0), Duration::from_millis(1));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }
}

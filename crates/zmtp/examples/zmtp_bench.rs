//! Request/reply benchmark over loopback: throughput and latency percentiles, NULL vs CURVE.
//!
//! ```text
//! cargo run --release -p zmtp --example zmtp_bench -- [requests] [concurrency] [payload bytes]
//! ```
//! Defaults: 200000 requests, 128 concurrent (the default client window), 100-byte payload.
//! Server and client run in one process on the same runtime, so the numbers are a loopback
//! upper bound for one connection, not a network measurement.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::FutureExt;
use zmtp::{
    Client, ClientConfig, ClientSecurity, KeyPair, Server, ServerConfig, ServerKeys,
    ServerSecurity, ZmtpError,
};

struct Run {
    label: &'static str,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn bench(
    label: &'static str,
    curve: bool,
    requests: usize,
    concurrency: usize,
    payload: usize,
) -> Result<Run, ZmtpError> {
    let server_keys = KeyPair::generate();
    let (server_security, client_security) = if curve {
        (
            ServerSecurity::Curve {
                secret_key: server_keys.secret.clone(),
                allowlist: None,
            },
            ClientSecurity::Curve {
                keys: KeyPair::generate(),
                server_keys: ServerKeys::cluster(server_keys.public),
            },
        )
    } else {
        (ServerSecurity::Null, ClientSecurity::Null)
    };
    let echo = |request: Vec<Bytes>| async move { request }.boxed();
    let server = Server::bind(
        "127.0.0.1:0",
        ServerConfig {
            security: server_security,
            ..Default::default()
        },
        Arc::new(echo),
    )
    .await?;
    let client = Client::new(ClientConfig {
        security: client_security,
        max_in_flight: concurrency,
        ..Default::default()
    })?;
    let addr = server.local_addr().to_string();
    let body = Bytes::from(vec![0x5Au8; payload]);
    // Warm up: connect and handshake outside the measurement.
    client
        .request(&addr, vec![body.clone()], Duration::from_secs(5))
        .await?;

    let per_worker = requests / concurrency;
    let started = Instant::now();
    let workers = (0..concurrency).map(|_| {
        let client = client.clone();
        let addr = addr.clone();
        let body = body.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_worker);
            for _ in 0..per_worker {
                let sent = Instant::now();
                client
                    .request(&addr, vec![body.clone()], Duration::from_secs(30))
                    .await?;
                latencies.push(sent.elapsed());
            }
            Ok::<_, ZmtpError>(latencies)
        })
    });
    let mut latencies = Vec::with_capacity(requests);
    for worker in futures::future::join_all(workers).await {
        let worker = worker.map_err(|_| ZmtpError::Closed)?;
        latencies.extend(worker?);
    }
    let elapsed = started.elapsed();
    server.shutdown().await;
    latencies.sort();
    Ok(Run {
        label,
        elapsed,
        latencies,
    })
}

fn arg(index: usize, default: usize) -> usize {
    std::env::args()
        .nth(index)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<(), ZmtpError> {
    let requests = arg(1, 200_000);
    let concurrency = arg(2, 128).max(1);
    let payload = arg(3, 100);
    println!(
        "zmtp_bench: {requests} requests, {concurrency} in flight, {payload}-byte payload, loopback"
    );
    println!(
        "{:<6} {:>12} {:>10} {:>10} {:>10}",
        "mech", "req/s", "p50 us", "p99 us", "max us"
    );
    for (label, curve) in [("NULL", false), ("CURVE", true)] {
        let run = bench(label, curve, requests, concurrency, payload).await?;
        let rate = run.latencies.len() as f64 / run.elapsed.as_secs_f64();
        println!(
            "{:<6} {:>12.0} {:>10} {:>10} {:>10}",
            run.label,
            rate,
            percentile(&run.latencies, 0.50).as_micros(),
            percentile(&run.latencies, 0.99).as_micros(),
            run.latencies
                .last()
                .copied()
                .unwrap_or_default()
                .as_micros(),
        );
    }
    Ok(())
}

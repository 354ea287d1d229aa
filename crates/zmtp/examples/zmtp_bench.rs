//! Request/reply benchmark over loopback: throughput and latency percentiles, NULL vs CURVE.
//!
//! ```text
//! cargo run --release -p zmtp --example zmtp_bench -- [requests] [concurrency] [payload bytes]
//! ```
//! Defaults: 200000 requests, 128 concurrent (the default client window), 100-byte payload.
//! By default server and client run in one process on the same runtime. With a fourth argument
//! `two-process`, the server runs in a child process (`zmtp_bench serve null|curve`), so client
//! and server each have their own runtime and the kernel's loopback sits between them.
//! An optional fifth argument `null`, `curve`, `curve-xsalsa` or `curve-unpacked` runs only
//! that mechanism (e.g. for profiling). `curve` is what two of our peers do (packed parts,
//! batches, AES-256-GCM boxes where the CPU has AES-NI); `curve-xsalsa` the same with RFC 26's
//! XSalsa20-Poly1305 boxes (`aes_gcm: false`); `curve-unpacked` turns packing and AES-GCM off
//! on both sides, i.e. one XSalsa20-Poly1305 box per message part as libzmq does. Without it
//! NULL and CURVE run, NULL first.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::FutureExt;
use zmtp::{
    Client, ClientConfig, ClientSecurity, KeyPair, Server, ServerConfig, ServerKeys,
    ServerSecurity, ZmtpError,
};

/// What both sides of a run use.
#[derive(Clone, Copy)]
struct Setup {
    curve: bool,
    pack_parts: bool,
    aes_gcm: bool,
}

impl Setup {
    /// The child server's arguments after `serve`.
    fn args(self) -> [&'static str; 3] {
        [
            if self.curve { "curve" } else { "null" },
            if self.pack_parts {
                "packed"
            } else {
                "unpacked"
            },
            if self.aes_gcm { "aes" } else { "xsalsa" },
        ]
    }

    fn from_args(args: &[String]) -> Setup {
        Setup {
            curve: args.iter().any(|a| a == "curve"),
            pack_parts: !args.iter().any(|a| a == "unpacked"),
            aes_gcm: !args.iter().any(|a| a == "xsalsa"),
        }
    }
}

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
    setup: Setup,
    requests: usize,
    concurrency: usize,
    payload: usize,
    two_process: bool,
) -> Result<Run, ZmtpError> {
    let (addr, server_public, guard) = if two_process {
        let (addr, public, child) = spawn_server(setup).await?;
        (addr, public, Guard::Child(child))
    } else {
        let (server, public) = start_server(setup).await?;
        (
            server.local_addr().to_string(),
            public,
            Guard::Server(server),
        )
    };
    let client_security = match server_public {
        Some(public) => ClientSecurity::Curve {
            keys: KeyPair::generate(),
            server_keys: ServerKeys::cluster(public),
        },
        None => ClientSecurity::Null,
    };
    let client = Client::new(ClientConfig {
        security: client_security,
        max_in_flight: concurrency,
        pack_parts: setup.pack_parts,
        aes_gcm: setup.aes_gcm,
        ..Default::default()
    })?;
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
    match guard {
        Guard::Server(server) => server.shutdown().await,
        Guard::Child(mut child) => {
            let _ = child.kill().await;
        }
    }
    latencies.sort();
    Ok(Run {
        label,
        elapsed,
        latencies,
    })
}

/// Keeps the server alive for the run: in this process, or a child process.
enum Guard {
    Server(Server),
    Child(tokio::process::Child),
}

/// An echo server; returns it and its CURVE public key when `setup.curve`.
async fn start_server(setup: Setup) -> Result<(Server, Option<zmtp::PublicKey>), ZmtpError> {
    let server_keys = KeyPair::generate();
    let security = if setup.curve {
        ServerSecurity::Curve {
            secret_key: server_keys.secret.clone(),
            allowlist: None,
        }
    } else {
        ServerSecurity::Null
    };
    let echo = |request: Vec<Bytes>| async move { request }.boxed();
    let server = Server::bind(
        "127.0.0.1:0",
        ServerConfig {
            security,
            pack_parts: setup.pack_parts,
            aes_gcm: setup.aes_gcm,
            ..Default::default()
        },
        Arc::new(echo),
    )
    .await?;
    Ok((server, setup.curve.then_some(server_keys.public)))
}

/// Runs `zmtp_bench serve <mech>` as a child and reads the address (and key) it prints.
async fn spawn_server(
    setup: Setup,
) -> Result<(String, Option<zmtp::PublicKey>, tokio::process::Child), ZmtpError> {
    use tokio::io::AsyncBufReadExt;
    let exe = std::env::current_exe()?;
    let mut child = tokio::process::Command::new(exe)
        .arg("serve")
        .args(setup.args())
        .stdout(std::process::Stdio::piped())
        .stdin(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take().ok_or(ZmtpError::Closed)?;
    let mut line = String::new();
    tokio::io::BufReader::new(stdout)
        .read_line(&mut line)
        .await?;
    let mut fields = line.split_whitespace();
    let addr = fields.next().ok_or(ZmtpError::Closed)?.to_string();
    let public = match fields.next() {
        Some("-") | None => None,
        Some(text) => Some(
            zmtp::PublicKey::from_z85(text)
                .map_err(|e| ZmtpError::Config(format!("server key: {e}")))?,
        ),
    };
    Ok((addr, public, child))
}

/// The child side: serve until stdin closes (the parent exits or kills us).
async fn serve(setup: Setup) -> Result<(), ZmtpError> {
    use tokio::io::AsyncReadExt;
    let (server, public) = start_server(setup).await?;
    println!(
        "{} {}",
        server.local_addr(),
        public.map_or("-".to_string(), |p| p.to_z85())
    );
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    server.shutdown().await;
    Ok(())
}

fn arg(index: usize, default: usize) -> usize {
    std::env::args()
        .nth(index)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<(), ZmtpError> {
    if std::env::args().nth(1).as_deref() == Some("serve") {
        let args: Vec<String> = std::env::args().skip(2).collect();
        return serve(Setup::from_args(&args)).await;
    }
    let two_process = std::env::args().nth(4).as_deref() == Some("two-process");
    let requests = arg(1, 200_000);
    let concurrency = arg(2, 128).max(1);
    let payload = arg(3, 100);
    println!(
        "zmtp_bench: {requests} requests, {concurrency} in flight, {payload}-byte payload, loopback, {}",
        if two_process { "server in a second process" } else { "one process" }
    );
    println!(
        "{:<7} {:>12} {:>10} {:>10} {:>10}",
        "mech", "req/s", "p50 us", "p99 us", "max us"
    );
    let setup = |curve, pack_parts, aes_gcm| Setup {
        curve,
        pack_parts,
        aes_gcm,
    };
    let runs = match std::env::args().nth(5).as_deref() {
        Some("null") => vec![("NULL", setup(false, true, true))],
        Some("curve") => vec![("CURVE", setup(true, true, true))],
        Some("curve-xsalsa") => vec![("CURVE-X", setup(true, true, false))],
        Some("curve-unpacked") => vec![("CURVE-U", setup(true, false, false))],
        _ => vec![
            ("NULL", setup(false, true, true)),
            ("CURVE", setup(true, true, true)),
        ],
    };
    for (label, setup) in runs {
        let run = bench(label, setup, requests, concurrency, payload, two_process).await?;
        let rate = run.latencies.len() as f64 / run.elapsed.as_secs_f64();
        println!(
            "{:<7} {:>12.0} {:>10} {:>10} {:>10}",
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

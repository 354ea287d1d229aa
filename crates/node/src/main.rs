//! The `dendrite` binary: parses the command line and runs a subcommand.

use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use dendrite_node::backend::Consistency;
use dendrite_node::bench::{run_bench, BenchPlan};
use dendrite_node::cli::{BenchArgs, CheckDataArgs, Cli, CliCommand, DemoArgs, StatusArgs};
use dendrite_node::http::client::http_get;
use dendrite_node::launch::start_node;
use dendrite_node::node_status::NodeStatus;
use dendrite_node::settings::{default_threads, LogFormat, Settings, SettingsLayer};
use dendrite_node::shutdown::shutdown_channel;
use dendrite_node::status_table::render_status;

/// mimalloc instead of the system allocator: per-thread free lists, no arena lock shared by the
/// runtime's worker threads (see docs/performance.md, "Optimisations so far").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Anything a subcommand can fail with, shown to the user as one line.
type CommandResult = Result<(), Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        // Settings first: they say how many threads the runtime gets.
        CliCommand::Node(args) => {
            match Settings::load(args.to_layer(), args.config.as_deref(), std::env::vars()) {
                Ok(settings) => run_on(Some(settings.threads), run_node(settings)),
                Err(error) => Err(error.into()),
            }
        }
        CliCommand::Demo(args) => run_on(Some(default_threads()), run_demo(args)),
        CliCommand::Status(args) => run_on(Some(1), run_status(args)),
        // The load generator takes every core it can get.
        CliCommand::Bench(args) => run_on(None, run_bench_command(args)),
        CliCommand::Keygen => run_keygen(),
        CliCommand::CheckData(args) => run_check_data(&args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("dendrite: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr so stdout carries only what the command prints (banner, tables, keys).
fn init_logging(filter: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Registers for Ctrl-C and (on Unix) SIGTERM at once, and returns a future that resolves on
/// either. Registering before start-up matters: a background process started by a
/// non-interactive shell inherits an ignored SIGINT, so a Ctrl-C that arrived before the handler
/// existed would be lost and the process would never stop.
fn stop_requested() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let interrupt = signal(SignalKind::interrupt()).ok();
        let terminate = signal(SignalKind::terminate()).ok();
        async move {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(interrupt) => {}
                () = wait(terminate) => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Runs `command` on a multi-threaded runtime with `threads` workers (tokio's default, one per
/// core, when `None`).
fn run_on(
    threads: Option<usize>,
    command: impl std::future::Future<Output = CommandResult>,
) -> CommandResult {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = threads {
        builder.worker_threads(threads.max(1));
    }
    let runtime = builder
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the async runtime: {error}"))?;
    runtime.block_on(command)
}

async fn run_node(settings: Settings) -> CommandResult {
    init_logging(&settings.log, settings.log_format);
    let stop = stop_requested();
    let (trigger, signal) = shutdown_channel();
    let node = start_node(&settings, signal).await?;
    println!(
        "dendrite node: RESP on {}, HTTP on {}, ring on {}",
        node.resp_addr, node.http_addr, node.ring_addr
    );
    stop.await;
    tracing::info!("stopping");
    trigger.trigger();
    node.wait().await?;
    Ok(())
}

/// Every demo node ends up connected to every other (the console gathers from all of them,
/// coordinators reach any primary in one hop), and all of them live in this process: about
/// four descriptors per pair of nodes, plus listeners. Past the process's limit, accepts and
/// connects fail with "Too many open files" and the ring stalls; say so up front.
fn warn_if_descriptors_short(nodes: u16) {
    let nodes = u64::from(nodes);
    let needed = 2 * nodes * nodes.saturating_sub(1) + 16 * nodes;
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    if let Some(limit) = limit.filter(|&limit| limit < needed) {
        eprintln!(
            "warning: {nodes} demo nodes in one process need about {needed} file descriptors, \
             and this process may open {limit}: raise the limit (`ulimit -n {needed}`) or run \
             the nodes as separate `dendrite node` processes"
        );
    }
}

async fn run_demo(args: DemoArgs) -> CommandResult {
    init_logging(
        &std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
        LogFormat::Human,
    );
    if !(1..=100).contains(&args.nodes)
        || u32::from(args.base_port) + 200 + u32::from(args.nodes) > 65_535
    {
        return Err(
            "--nodes must be 1 to 100 (node i takes ports base+i, base+100+i and base+200+i) \
             and --base-port + 200 + nodes must fit below 65536"
                .into(),
        );
    }
    warn_if_descriptors_short(args.nodes);
    let stop = stop_requested();
    let (trigger, signal) = shutdown_channel();
    let mut nodes = Vec::new();
    let seed = format!("127.0.0.1:{}", args.base_port + 200);
    for index in 0..args.nodes {
        let port = |offset: u16| format!("127.0.0.1:{}", args.base_port + offset + index);
        let layer = SettingsLayer {
            listen: Some(port(200)),
            join: (index > 0).then(|| vec![seed.clone()]),
            resp: Some(port(0)),
            http: Some(port(100)),
            log: Some("warn".into()),
            // All nodes are local: stabilize quickly so the demo is ready in about a second.
            stabilize_min_ms: Some(100),
            stabilize_max_ms: Some(300),
            ..SettingsLayer::default()
        };
        let settings = layer.validate()?;
        nodes.push(start_node(&settings, signal.clone()).await?);
    }
    // Let stabilization fill the successor lists (so replicas can be placed) before loading.
    let wanted = usize::from(nodes.len().saturating_sub(1).min(2) as u8);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline
        && !nodes.iter().all(|n| {
            n.table
                .ring()
                .snapshot()
                .iter()
                .all(|v| v.replicas.len() >= wanted.min(n.table.ring().config().replicas))
        })
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A few keys, written through the first node at full consistency: every node serves them.
    if let Some(first) = nodes.first() {
        for (key, value) in [
            ("greeting", "hello from dendrite"),
            ("demo:nodes", &args.nodes.to_string()),
        ] {
            let consistency = Consistency::new(
                first
                    .backend
                    .max_consistency()
                    .min(u8::try_from(args.nodes).unwrap_or(u8::MAX)),
                first.backend.max_consistency(),
            )?;
            // Right after the start a primary may still be taking its range over and refuse
            // for a moment (a retryable error): try again for up to 30 s.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            loop {
                let written = first
                    .backend
                    .set(
                        Bytes::from(key.to_owned()),
                        Bytes::from(value.to_owned()),
                        consistency,
                    )
                    .await;
                match written {
                    Ok(_) => break,
                    Err(e) if tokio::time::Instant::now() < deadline => {
                        tracing::debug!(error = %e, key, "demo key not written yet; retrying");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    println!(
        "dendrite demo: {} nodes on one ring (ring addresses {}..)",
        nodes.len(),
        seed
    );
    for (index, node) in nodes.iter().enumerate() {
        println!(
            "  node {index}: redis-cli -p {}    curl http://{}/status",
            node.resp_addr.port(),
            node.http_addr
        );
    }
    if let Some(first) = nodes.first() {
        println!("  ring table: dendrite status {}", first.http_addr);
        println!(
            "  console: http://{}/   (every node serves one at / on its HTTP port)",
            first.http_addr
        );
    }
    println!(
        "try: redis-cli -p {} GET greeting   (Ctrl-C to stop)",
        args.base_port
    );
    stop.await;
    trigger.trigger();
    for node in nodes {
        node.wait().await?;
    }
    Ok(())
}

async fn run_status(args: StatusArgs) -> CommandResult {
    let target = args.target();
    let response = http_get(target, "/status", Duration::from_secs(10)).await?;
    if response.status != 200 {
        return Err(format!("{target} answered /status with HTTP {}", response.status).into());
    }
    if args.json {
        println!("{}", String::from_utf8_lossy(&response.body).trim_end());
        return Ok(());
    }
    let status: NodeStatus = serde_json::from_slice(&response.body)
        .map_err(|e| format!("{target} answered /status with invalid JSON: {e}"))?;
    print!("{}", render_status(&status));
    Ok(())
}

/// Checks (and with --fix repairs) a data directory; fails when a node could not start on it.
fn run_check_data(args: &CheckDataArgs) -> CommandResult {
    let report = dtable::durable::check(&args.dir, args.fix)?;
    print!("{report}");
    if report.starts() {
        println!("{}: a node can start on it", args.dir.display());
        Ok(())
    } else {
        Err(format!(
            "{} is damaged; repair with `dendrite check-data {} --fix`",
            args.dir.display(),
            args.dir.display()
        )
        .into())
    }
}

/// Prints a fresh CURVE key pair; the secret is the cluster key every node gets.
fn run_keygen() -> CommandResult {
    let pair = zmtp::KeyPair::generate();
    println!("public: {}", pair.public.to_z85());
    println!("secret: {}", pair.secret.to_z85());
    Ok(())
}

async fn run_bench_command(args: BenchArgs) -> CommandResult {
    init_logging(
        &std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
        LogFormat::Human,
    );
    let plan = BenchPlan {
        addr: args.resp,
        clients: args.clients,
        requests: args.requests,
        value_size: args.value_size,
        keyspace: args.keyspace,
        workload: args.workload,
        consistency: args.consistency,
        duration: args.duration.map(std::time::Duration::from_secs),
        rate: args.rate,
    };
    let length = match plan.duration {
        Some(duration) => format!("for {} s", duration.as_secs()),
        None => format!("{} requests", plan.requests),
    };
    let pace = match plan.rate {
        Some(rate) => format!(" at {rate:.0} requests/s"),
        None => String::new(),
    };
    println!(
        "benchmarking {} with {} clients, {length}{pace}, {}-byte values",
        plan.addr, plan.clients, plan.value_size
    );
    let report = run_bench(&plan).await?;
    print!("{report}");
    Ok(())
}

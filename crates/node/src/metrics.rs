//! Counters and histograms exported at `/metrics` in Prometheus text format.
//!
//! Everything on the request path is a relaxed atomic so recording costs a
//! few nanoseconds and never blocks a connection. The binary can add its own
//! gauges (ring size, vnodes...) with [`Metrics::gauge`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Command names counted individually; anything else counts as `unknown`.
pub const TRACKED_COMMANDS: [&str; 19] = [
    "ping",
    "echo",
    "get",
    "set",
    "del",
    "exists",
    "mget",
    "mset",
    "dbsize",
    "info",
    "command",
    "quit",
    "select",
    "client",
    "hello",
    "auth",
    "config",
    "consistency",
    "unknown",
];

/// Upper bounds of the latency buckets, in microseconds (100 µs .. 2.5 s).
pub const LATENCY_BUCKETS_MICROS: [u64; 14] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000,
];

/// Which latency histogram a command feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatencyKind {
    /// GET and MGET.
    Get,
    /// SET and MSET.
    Set,
    /// DEL.
    Del,
}

impl LatencyKind {
    const ALL: [LatencyKind; 3] = [LatencyKind::Get, LatencyKind::Set, LatencyKind::Del];

    /// The histogram a command (lowercase name) feeds, if any.
    pub fn of_command(name: &str) -> Option<LatencyKind> {
        match name {
            "get" | "mget" => Some(LatencyKind::Get),
            "set" | "mset" => Some(LatencyKind::Set),
            "del" => Some(LatencyKind::Del),
            _ => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            LatencyKind::Get => "get",
            LatencyKind::Set => "set",
            LatencyKind::Del => "del",
        }
    }
}

/// A metrics name the Prometheus text format cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    /// Names must match `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    #[error(
        "invalid metric name {0:?}: use letters, digits, '_' and ':' and do not start with a digit"
    )]
    InvalidName(String),
}

#[derive(Debug, Default)]
struct Histogram {
    /// Non-cumulative counts per bucket; the +Inf bucket is `count` minus their sum.
    buckets: [AtomicU64; LATENCY_BUCKETS_MICROS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        if let Some(index) = LATENCY_BUCKETS_MICROS
            .iter()
            .position(|bound| micros <= *bound)
        {
            self.buckets[index].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

/// A gauge the binary sets (for example the ring size); cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct GaugeHandle(Arc<AtomicI64>);

impl GaugeHandle {
    /// Sets the current value.
    pub fn set(&self, value: i64) {
        self.0.store(value, Ordering::Relaxed);
    }

    /// Adds `delta` (negative to subtract).
    pub fn add(&self, delta: i64) {
        self.0.fetch_add(delta, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Metrics owned elsewhere (the ring, the table) that are read at scrape time, so they are
/// exact and cost nothing between scrapes.
pub trait MetricsSource: Send + Sync {
    /// Appends complete metric families (`# HELP`, `# TYPE`, samples) to `out`.
    fn render(&self, out: &mut String);
}

#[derive(Debug)]
struct ExtraGauge {
    help: String,
    handle: GaugeHandle,
}

/// Where a keyed request from a Redis Cluster client was served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterOutcome {
    /// By this node, which holds the key's primary: one hop.
    Here = 0,
    /// Forwarded to the primary on another node (a slot map one refresh behind, a slot split
    /// by a Go vnode, a command after `ASKING` that the ring places elsewhere).
    Forwarded = 1,
    /// Answered `MOVED` or `CROSSSLOT` instead.
    Redirected = 2,
    /// A `READONLY` read of a slot this node is a replica of, answered from its own copy:
    /// one hop, like `Here`.
    Replica = 3,
}

impl ClusterOutcome {
    /// Every outcome, in label order.
    pub const ALL: [ClusterOutcome; 4] = [
        ClusterOutcome::Here,
        ClusterOutcome::Forwarded,
        ClusterOutcome::Redirected,
        ClusterOutcome::Replica,
    ];

    /// The `outcome` label of the metric.
    pub fn label(self) -> &'static str {
        match self {
            ClusterOutcome::Here => "here",
            ClusterOutcome::Forwarded => "forwarded",
            ClusterOutcome::Redirected => "redirected",
            ClusterOutcome::Replica => "replica",
        }
    }
}

/// All metrics of one node.
#[derive(Debug)]
pub struct Metrics {
    started: Instant,
    commands: [AtomicU64; TRACKED_COMMANDS.len()],
    command_errors: [AtomicU64; TRACKED_COMMANDS.len()],
    latency: [Histogram; 3],
    connected_clients: GaugeHandle,
    connections_total: AtomicU64,
    rejected_connections: AtomicU64,
    protocol_errors: AtomicU64,
    cluster_requests: [AtomicU64; ClusterOutcome::ALL.len()],
    extra_gauges: Mutex<BTreeMap<String, ExtraGauge>>,
    sources: Mutex<Vec<Arc<dyn MetricsSource>>>,
}

impl std::fmt::Debug for dyn MetricsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsSource")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Decrements the connected-clients gauge when the connection ends.
#[derive(Debug)]
pub struct ClientGuard(GaugeHandle);

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.add(-1);
    }
}

impl Metrics {
    /// Fresh metrics; uptime counts from now.
    pub fn new() -> Metrics {
        Metrics {
            started: Instant::now(),
            commands: Default::default(),
            command_errors: Default::default(),
            latency: Default::default(),
            connected_clients: GaugeHandle::default(),
            connections_total: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            protocol_errors: AtomicU64::new(0),
            cluster_requests: Default::default(),
            extra_gauges: Mutex::new(BTreeMap::new()),
            sources: Mutex::new(Vec::new()),
        }
    }

    /// Counts one keyed request from a cluster client by where it was served.
    pub fn cluster_request(&self, outcome: ClusterOutcome) {
        self.cluster_requests[outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Keyed requests from cluster clients with `outcome` so far.
    pub fn cluster_requests(&self, outcome: ClusterOutcome) -> u64 {
        self.cluster_requests[outcome as usize].load(Ordering::Relaxed)
    }

    /// Time since these metrics were created (the server's uptime).
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Records one executed command: its count, whether it failed, and
    /// for GET/SET/DEL-like commands its latency.
    pub fn record_command(&self, name: &str, elapsed: Duration, failed: bool) {
        let index = command_index(name);
        self.commands[index].fetch_add(1, Ordering::Relaxed);
        if failed {
            self.command_errors[index].fetch_add(1, Ordering::Relaxed);
        }
        if let Some(kind) = LatencyKind::of_command(name) {
            self.latency[kind as usize].observe(elapsed);
        }
    }

    /// How many times a command ran (lowercase name; untracked names read `unknown`).
    pub fn command_count(&self, name: &str) -> u64 {
        self.commands[command_index(name)].load(Ordering::Relaxed)
    }

    /// Commands run so far, all names together: the console's ops/s is its rate.
    pub fn commands_total(&self) -> u64 {
        self.commands
            .iter()
            .map(|count| count.load(Ordering::Relaxed))
            .sum()
    }

    /// Latencies of GET/SET/DEL-like commands observed so far, every kind together: the count
    /// per bucket of [`LATENCY_BUCKETS_MICROS`], then the count above the last bound. The
    /// console takes its percentiles from the difference of two of these.
    pub fn latency_counts(&self) -> [u64; LATENCY_BUCKETS_MICROS.len() + 1] {
        let mut counts = [0u64; LATENCY_BUCKETS_MICROS.len() + 1];
        for histogram in &self.latency {
            let mut bounded = 0;
            for (count, bucket) in counts.iter_mut().zip(&histogram.buckets) {
                let observed = bucket.load(Ordering::Relaxed);
                *count += observed;
                bounded += observed;
            }
            let total = histogram.count.load(Ordering::Relaxed);
            counts[LATENCY_BUCKETS_MICROS.len()] += total.saturating_sub(bounded);
        }
        counts
    }

    /// Counts a new client connection until the returned guard is dropped.
    pub fn client_connected(&self) -> ClientGuard {
        self.connections_total.fetch_add(1, Ordering::Relaxed);
        self.connected_clients.add(1);
        ClientGuard(self.connected_clients.clone())
    }

    /// Clients connected right now.
    pub fn connected_clients(&self) -> i64 {
        self.connected_clients.get()
    }

    /// Counts a connection refused because of the client limit.
    pub fn client_rejected(&self) {
        self.rejected_connections.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a connection closed because it sent invalid RESP.
    pub fn protocol_error(&self) {
        self.protocol_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Returns the gauge called `name`, creating it with `help` on first use.
    pub fn gauge(&self, name: &str, help: &str) -> Result<GaugeHandle, MetricsError> {
        if !valid_metric_name(name) {
            return Err(MetricsError::InvalidName(name.to_owned()));
        }
        let mut gauges = self
            .extra_gauges
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let gauge = gauges.entry(name.to_owned()).or_insert_with(|| ExtraGauge {
            help: help.to_owned(),
            handle: GaugeHandle::default(),
        });
        Ok(gauge.handle.clone())
    }

    /// Adds metrics read from `source` at every scrape.
    pub fn add_source(&self, source: Arc<dyn MetricsSource>) {
        self.sources
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(source);
    }

    /// Everything in Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        family(
            &mut out,
            "dendrite_uptime_seconds",
            "gauge",
            "Seconds since the node started.",
            &[("", self.uptime().as_secs_f64())],
        );
        let by_command = |counts: &[AtomicU64]| -> Vec<(String, u64)> {
            TRACKED_COMMANDS
                .iter()
                .zip(counts)
                .map(|(name, count)| (label("command", name), count.load(Ordering::Relaxed)))
                .collect()
        };
        family(
            &mut out,
            "dendrite_commands_total",
            "counter",
            "Commands executed, by command.",
            &by_command(&self.commands),
        );
        family(
            &mut out,
            "dendrite_command_errors_total",
            "counter",
            "Commands answered with an error, by command.",
            &by_command(&self.command_errors),
        );
        header(
            &mut out,
            "dendrite_command_duration_seconds",
            "histogram",
            "Command latency, by kind.",
        );
        for kind in LatencyKind::ALL {
            self.render_histogram(&mut out, kind);
        }
        family(
            &mut out,
            "dendrite_connected_clients",
            "gauge",
            "Clients connected now.",
            &[("", self.connected_clients.get())],
        );
        let counters = [
            (
                "dendrite_connections_total",
                "Client connections accepted.",
                &self.connections_total,
            ),
            (
                "dendrite_rejected_connections_total",
                "Client connections refused because of the client limit.",
                &self.rejected_connections,
            ),
            (
                "dendrite_protocol_errors_total",
                "Connections closed because they sent invalid RESP.",
                &self.protocol_errors,
            ),
        ];
        for (name, help, count) in counters {
            family(
                &mut out,
                name,
                "counter",
                help,
                &[("", count.load(Ordering::Relaxed))],
            );
        }
        let outcomes: Vec<(String, u64)> = ClusterOutcome::ALL
            .iter()
            .map(|outcome| {
                (
                    label("outcome", outcome.label()),
                    self.cluster_requests(*outcome),
                )
            })
            .collect();
        family(
            &mut out,
            "dendrite_cluster_requests_total",
            "counter",
            "Keyed requests from Redis Cluster clients: served by this node as the key's \
             primary (here), from its replica copy after READONLY (replica), forwarded to the \
             primary, or answered MOVED/CROSSSLOT (redirected).",
            &outcomes,
        );

        let gauges = self
            .extra_gauges
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (name, gauge) in gauges.iter() {
            family(
                &mut out,
                name,
                "gauge",
                &gauge.help,
                &[("", gauge.handle.get())],
            );
        }
        drop(gauges);
        let sources = self
            .sources
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        for source in sources {
            source.render(&mut out);
        }
        out
    }

    fn render_histogram(&self, out: &mut String, kind: LatencyKind) {
        let histogram = &self.latency[kind as usize];
        let kind = label("kind", kind.label());
        let mut cumulative = 0;
        // Writing to a String cannot fail.
        for (bound, bucket) in LATENCY_BUCKETS_MICROS.iter().zip(&histogram.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let seconds = *bound as f64 / 1e6;
            let _ = writeln!(
                out,
                "dendrite_command_duration_seconds_bucket{{{kind},le=\"{seconds}\"}} {cumulative}"
            );
        }
        let count = histogram.count.load(Ordering::Relaxed);
        let sum = histogram.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(
            out,
            "dendrite_command_duration_seconds_bucket{{{kind},le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(out, "dendrite_command_duration_seconds_sum{{{kind}}} {sum}");
        let _ = writeln!(
            out,
            "dendrite_command_duration_seconds_count{{{kind}}} {count}"
        );
    }
}

/// Writes the `# HELP` and `# TYPE` lines of a metric family; the help text is escaped as
/// the text format requires (backslash and line feed).
fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let help = help.replace('\\', "\\\\").replace('\n', "\\n");
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Writes one metric family whose samples are `(labels, value)`, labels as [`label`] writes
/// them (several joined by commas; empty for none): every family at `/metrics` goes through
/// here, so every help text is escaped alike.
pub(crate) fn family<L: AsRef<str>, V: std::fmt::Display>(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    samples: &[(L, V)],
) {
    header(out, name, kind, help);
    for (labels, value) in samples {
        let labels = labels.as_ref();
        // Writing to a String cannot fail.
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

/// One label, `name="value"`, its value escaped as the text format requires (backslash,
/// double quote, line feed).
pub(crate) fn label(name: &str, value: &str) -> String {
    let value = value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    format!("{name}=\"{value}\"")
}

fn command_index(name: &str) -> usize {
    TRACKED_COMMANDS
        .iter()
        .position(|tracked| *tracked == name)
        .unwrap_or(TRACKED_COMMANDS.len() - 1)
}

fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) if first.is_ascii_alphabetic() || first == '_' || first == ':' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_commands_and_latency() {
        let metrics = Metrics::new();
        metrics.record_command("get", Duration::from_micros(150), false);
        metrics.record_command("get", Duration::from_secs(10), true);
        metrics.record_command("frobnicate", Duration::ZERO, true);
        assert_eq!(metrics.command_count("get"), 2);
        assert_eq!(metrics.command_count("whatever"), 1);
        let text = metrics.render();
        assert!(
            text.contains("dendrite_commands_total{command=\"get\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("dendrite_command_errors_total{command=\"unknown\"} 1\n"));
        assert!(text
            .contains("dendrite_command_duration_seconds_bucket{kind=\"get\",le=\"0.0001\"} 0\n"));
        assert!(text
            .contains("dendrite_command_duration_seconds_bucket{kind=\"get\",le=\"0.00025\"} 1\n"));
        assert!(
            text.contains("dendrite_command_duration_seconds_bucket{kind=\"get\",le=\"+Inf\"} 2\n")
        );
        assert!(text.contains("dendrite_command_duration_seconds_count{kind=\"set\"} 0\n"));
    }

    #[test]
    fn tracks_clients_and_gauges() {
        let metrics = Metrics::new();
        let guard = metrics.client_connected();
        assert_eq!(metrics.connected_clients(), 1);
        drop(guard);
        assert_eq!(metrics.connected_clients(), 0);
        let ring = metrics
            .gauge("dendrite_ring_size", "Nodes in the ring.")
            .unwrap();
        ring.set(5);
        assert_eq!(
            metrics.gauge("dendrite_ring_size", "again").unwrap().get(),
            5
        );
        assert!(metrics
            .render()
            .contains("# TYPE dendrite_ring_size gauge\ndendrite_ring_size 5\n"));
        assert_eq!(
            metrics.gauge("9bad-name", "x").map(|_| ()),
            Err(MetricsError::InvalidName("9bad-name".into()))
        );
    }

    #[test]
    fn help_and_label_values_are_escaped() {
        let mut out = String::new();
        family(
            &mut out,
            "dendrite_test",
            "gauge",
            "a\\b\nc",
            &[(label("path", "C:\\x \"y\"\n"), 1)],
        );
        assert_eq!(
            out,
            "# HELP dendrite_test a\\\\b\\nc\n# TYPE dendrite_test gauge\n\
             dendrite_test{path=\"C:\\\\x \\\"y\\\"\\n\"} 1\n"
        );
    }
}

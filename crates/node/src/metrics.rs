//! Counters, gauges and histograms exported at `/metrics`, kept and encoded by the
//! `prometheus-client` crate.
//!
//! Everything on the request path is a relaxed atomic, so recording costs a few nanoseconds
//! and never blocks a connection: prometheus-client's `Counter` and `Gauge`, and two metric
//! types of ours implementing its `EncodeMetric` (a set of counters told apart by one label
//! whose values are known in advance, and the latency histograms), because its `Family` and
//! `Histogram` take a lock to record. Values owned elsewhere (the uptime, the table's and the
//! log's statistics) are read at scrape time by `Collector`s. The binary can add its own
//! gauges (ring size, vnodes...) with [`Metrics::gauge`].
//!
//! # Format
//!
//! The body is the Prometheus text format, version 0.0.4, as prometheus-client's
//! `encoding::prometheus_text::encode` writes it, served as
//! `text/plain; version=0.0.4; charset=utf-8`: the format and content type of the
//! hand-written exposition this replaced. Sample names, label names, values and order, the
//! histograms' `le` bounds (`0.0001` ... `1`, `2.5`, `+Inf`) and the `# HELP`/`# TYPE` lines
//! (a counter's under its `_total` name) read as before. What differs:
//!
//! - floating-point values (`dendrite_uptime_seconds`, the histograms' `_sum`) are written
//!   by `dtoa`, so a whole number reads `0.0` or `3.0` rather than `0` or `3`;
//! - `dendrite_pulled_after_restart` is typed `untyped` rather than `counter`: the encoder
//!   names every counter sample `..._total`, and this one's name has no such suffix;
//! - the registry ends the help text of the families registered with it (the request-path
//!   ones and the gauges of [`Metrics::gauge`]) with a full stop, so theirs are written
//!   without one, and a gauge's help given without one gains one;
//! - families come in another order: the registered ones, then those read at scrape time.
//!
//! The crate's OpenMetrics encoder (`encoding::text`) was not taken: it writes help text
//! unescaped, puts `le` before a histogram's other labels, writes bounds as `1.0`
//! (a new series for Prometheus), and needs another content type and a final `# EOF`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    prometheus_text, DescriptorEncoder, EncodeGaugeValue, EncodeMetric, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

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

/// The label pairs of one sample read at scrape time; `&[]` for none.
pub(crate) type Labels<'a> = &'a [(&'a str, &'a str)];

/// Counters of one family told apart by one label whose values are known in advance: counting
/// is an index and a relaxed add, where a prometheus-client `Family` would take a lock to find
/// its counter. Clones share the counts.
#[derive(Debug, Clone)]
pub(crate) struct CounterSet<const N: usize> {
    label: &'static str,
    values: [&'static str; N],
    counts: Arc<[AtomicU64; N]>,
}

impl<const N: usize> CounterSet<N> {
    /// Counters labelled `label="values[i]"`, all zero.
    pub(crate) fn new(label: &'static str, values: [&'static str; N]) -> Self {
        CounterSet {
            label,
            values,
            counts: Arc::new(std::array::from_fn(|_| AtomicU64::new(0))),
        }
    }

    /// Counts one for the `index`th label value.
    pub(crate) fn inc(&self, index: usize) {
        self.add(index, 1);
    }

    /// Counts `n` for the `index`th label value.
    pub(crate) fn add(&self, index: usize, n: u64) {
        self.counts[index].fetch_add(n, Ordering::Relaxed);
    }

    /// The count of the `index`th label value.
    fn get(&self, index: usize) -> u64 {
        self.counts[index].load(Ordering::Relaxed)
    }

    /// Every label value's count together.
    fn total(&self) -> u64 {
        self.counts
            .iter()
            .map(|count| count.load(Ordering::Relaxed))
            .sum()
    }
}

impl<const N: usize> EncodeMetric for CounterSet<N> {
    fn encode(&self, mut encoder: MetricEncoder) -> fmt::Result {
        for (index, value) in self.values.iter().enumerate() {
            let labels = [(self.label, *value)];
            ConstCounter::new(self.get(index)).encode(encoder.encode_family(&labels)?)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

#[derive(Debug, Default)]
struct Histogram {
    /// Non-cumulative counts per bucket; the +Inf bucket is `count` minus their sum.
    buckets: [AtomicU64; LATENCY_BUCKETS_MICROS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Observes `n` latencies of `elapsed` each.
    fn observe(&self, elapsed: Duration, n: u64) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        if let Some(index) = LATENCY_BUCKETS_MICROS
            .iter()
            .position(|bound| micros <= *bound)
        {
            self.buckets[index].fetch_add(n, Ordering::Relaxed);
        }
        self.count.fetch_add(n, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(micros.saturating_mul(n), Ordering::Relaxed);
    }

    /// The non-cumulative count of each bounded bucket, then the count of every observation
    /// (never below their sum, even when read during an observation).
    fn counts(&self) -> ([u64; LATENCY_BUCKETS_MICROS.len()], u64) {
        let buckets = std::array::from_fn(|index| self.buckets[index].load(Ordering::Relaxed));
        let count = self.count.load(Ordering::Relaxed);
        (buckets, count.max(buckets.iter().sum()))
    }
}

/// The latency histograms, one per [`LatencyKind`], as one family labelled `kind`; clones
/// share the counts. prometheus-client's `Histogram` locks to observe, this one does not.
#[derive(Debug, Clone, Default)]
struct LatencyHistograms(Arc<[Histogram; LatencyKind::ALL.len()]>);

impl EncodeMetric for LatencyHistograms {
    fn encode(&self, mut encoder: MetricEncoder) -> fmt::Result {
        for kind in LatencyKind::ALL {
            let histogram = &self.0[kind as usize];
            let (counts, count) = histogram.counts();
            let buckets: [(f64, u64); LATENCY_BUCKETS_MICROS.len()] =
                std::array::from_fn(|index| {
                    (LATENCY_BUCKETS_MICROS[index] as f64 / 1e6, counts[index])
                });
            let sum = histogram.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let labels = [("kind", kind.label())];
            encoder
                .encode_family(&labels)?
                .encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// A gauge the binary sets (for example the ring size); cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct GaugeHandle(Gauge);

impl GaugeHandle {
    /// Sets the current value.
    pub fn set(&self, value: i64) {
        self.0.set(value);
    }

    /// Adds `delta` (negative to subtract).
    pub fn add(&self, delta: i64) {
        self.0.inc_by(delta);
    }

    /// The current value.
    pub fn get(&self) -> i64 {
        self.0.get()
    }
}

/// Writes the families a [`Collector`] reads at scrape time through prometheus-client's
/// encoder, which escapes help text and label values. Names are given as the samples read,
/// a counter's with its `_total`, so every name at `/metrics` can be found in the code.
pub(crate) struct ScrapedFamilies<'a>(DescriptorEncoder<'a>);

impl<'a> ScrapedFamilies<'a> {
    /// Writes to `encoder`, the one a collector is given.
    pub(crate) fn new(encoder: DescriptorEncoder<'a>) -> Self {
        ScrapedFamilies(encoder)
    }

    /// A counter family; `name` ends in `_total`.
    pub(crate) fn counters(
        &mut self,
        name: &str,
        help: &str,
        samples: &[(Labels<'_>, u64)],
    ) -> fmt::Result {
        let mut family =
            self.0
                .encode_descriptor(counter_family(name), help, None, MetricType::Counter)?;
        for (labels, value) in samples {
            ConstCounter::new(*value).encode(family.encode_family(labels)?)?;
        }
        Ok(())
    }

    /// A counter without labels; `name` ends in `_total`.
    pub(crate) fn counter(&mut self, name: &str, help: &str, value: u64) -> fmt::Result {
        self.counters(name, help, &[(&[], value)])
    }

    /// The counters of `set`; `name` ends in `_total`.
    pub(crate) fn counter_set<const N: usize>(
        &mut self,
        name: &str,
        help: &str,
        set: &CounterSet<N>,
    ) -> fmt::Result {
        set.encode(self.0.encode_descriptor(
            counter_family(name),
            help,
            None,
            MetricType::Counter,
        )?)
    }

    /// A gauge family.
    pub(crate) fn gauges<V: EncodeGaugeValue>(
        &mut self,
        name: &str,
        help: &str,
        samples: &[(Labels<'_>, V)],
    ) -> fmt::Result {
        self.values(name, help, MetricType::Gauge, samples)
    }

    /// A gauge without labels.
    pub(crate) fn gauge<V: EncodeGaugeValue>(
        &mut self,
        name: &str,
        help: &str,
        value: V,
    ) -> fmt::Result {
        self.gauges(name, help, &[(&[], value)])
    }

    /// A family of `kind` whose samples are written as plain values, as a gauge's are:
    /// [`MetricType::Unknown`] (written `untyped`) for a count whose sample name has no
    /// `_total`, which the encoder would give a counter's.
    pub(crate) fn values<V: EncodeGaugeValue>(
        &mut self,
        name: &str,
        help: &str,
        kind: MetricType,
        samples: &[(Labels<'_>, V)],
    ) -> fmt::Result {
        let mut family = self.0.encode_descriptor(name, help, None, kind)?;
        for (labels, value) in samples {
            family.encode_family(labels)?.encode_gauge(value)?;
        }
        Ok(())
    }
}

/// The family name of the counter whose samples are called `name`: the encoder appends the
/// `_total` itself.
fn counter_family(name: &str) -> &str {
    debug_assert!(name.ends_with("_total"), "counter {name} without _total");
    name.strip_suffix("_total").unwrap_or(name)
}

/// The node's uptime, read at scrape time.
#[derive(Debug)]
struct Uptime(Instant);

impl Collector for Uptime {
    fn encode(&self, encoder: DescriptorEncoder) -> fmt::Result {
        ScrapedFamilies::new(encoder).gauge(
            "dendrite_uptime_seconds",
            "Seconds since the node started.",
            self.0.elapsed().as_secs_f64(),
        )
    }
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

/// What a scrape reads: the registry, and the gauges added by name so that asking again
/// returns the same one.
#[derive(Debug)]
struct Exposition {
    registry: Registry,
    gauges: BTreeMap<String, GaugeHandle>,
}

/// All metrics of one node.
#[derive(Debug)]
pub struct Metrics {
    started: Instant,
    commands: CounterSet<{ TRACKED_COMMANDS.len() }>,
    command_errors: CounterSet<{ TRACKED_COMMANDS.len() }>,
    latency: LatencyHistograms,
    connected_clients: GaugeHandle,
    connections: Counter,
    rejected_connections: Counter,
    protocol_errors: Counter,
    cluster_requests: CounterSet<{ ClusterOutcome::ALL.len() }>,
    exposition: Mutex<Exposition>,
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
        let started = Instant::now();
        let commands = CounterSet::new("command", TRACKED_COMMANDS);
        let command_errors = CounterSet::new("command", TRACKED_COMMANDS);
        let latency = LatencyHistograms::default();
        let connected_clients = GaugeHandle::default();
        let connections = Counter::default();
        let rejected_connections = Counter::default();
        let protocol_errors = Counter::default();
        let cluster_requests =
            CounterSet::new("outcome", ClusterOutcome::ALL.map(ClusterOutcome::label));

        // The registry ends every help text with a full stop, and every counter's samples
        // with `_total`.
        let mut registry = Registry::default();
        registry.register(
            "dendrite_commands",
            "Commands executed, by command",
            commands.clone(),
        );
        registry.register(
            "dendrite_command_errors",
            "Commands answered with an error, by command",
            command_errors.clone(),
        );
        registry.register(
            "dendrite_command_duration_seconds",
            "Command latency, by kind",
            latency.clone(),
        );
        registry.register(
            "dendrite_connected_clients",
            "Clients connected now",
            connected_clients.0.clone(),
        );
        registry.register(
            "dendrite_connections",
            "Client connections accepted",
            connections.clone(),
        );
        registry.register(
            "dendrite_rejected_connections",
            "Client connections refused because of the client limit",
            rejected_connections.clone(),
        );
        registry.register(
            "dendrite_protocol_errors",
            "Connections closed because they sent invalid RESP",
            protocol_errors.clone(),
        );
        registry.register(
            "dendrite_cluster_requests",
            "Keyed requests from Redis Cluster clients: served by this node as the key's \
             primary (here), from its replica copy after READONLY (replica), forwarded to the \
             primary, or answered MOVED/CROSSSLOT (redirected)",
            cluster_requests.clone(),
        );
        registry.register_collector(Box::new(Uptime(started)));

        Metrics {
            started,
            commands,
            command_errors,
            latency,
            connected_clients,
            connections,
            rejected_connections,
            protocol_errors,
            cluster_requests,
            exposition: Mutex::new(Exposition {
                registry,
                gauges: BTreeMap::new(),
            }),
        }
    }

    /// Counts one keyed request from a cluster client by where it was served.
    pub fn cluster_request(&self, outcome: ClusterOutcome) {
        self.cluster_requests.inc(outcome as usize);
    }

    /// Keyed requests from cluster clients with `outcome` so far.
    pub fn cluster_requests(&self, outcome: ClusterOutcome) -> u64 {
        self.cluster_requests.get(outcome as usize)
    }

    /// Time since these metrics were created (the server's uptime).
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Records one executed command: its count, whether it failed, and
    /// for GET/SET/DEL-like commands its latency.
    pub fn record_command(&self, name: &str, elapsed: Duration, failed: bool) {
        self.record_commands(name, elapsed, 1, u64::from(failed));
    }

    /// Records `count` executions of one command that took `each` apiece, `failed` of them
    /// failed: a pipelined run answered at once (one lookup of the name and a few atomic adds
    /// for the run, where one call per command showed in profiles).
    pub fn record_commands(&self, name: &str, each: Duration, count: u64, failed: u64) {
        let index = command_index(name);
        self.commands.add(index, count);
        if failed > 0 {
            self.command_errors.add(index, failed);
        }
        if let Some(kind) = LatencyKind::of_command(name) {
            self.latency.0[kind as usize].observe(each, count);
        }
    }

    /// How many times a command ran (lowercase name; untracked names read `unknown`).
    pub fn command_count(&self, name: &str) -> u64 {
        self.commands.get(command_index(name))
    }

    /// Commands run so far, all names together: the console's ops/s is its rate.
    pub fn commands_total(&self) -> u64 {
        self.commands.total()
    }

    /// Latencies of GET/SET/DEL-like commands observed so far, every kind together: the count
    /// per bucket of [`LATENCY_BUCKETS_MICROS`], then the count above the last bound. The
    /// console takes its percentiles from the difference of two of these.
    pub fn latency_counts(&self) -> [u64; LATENCY_BUCKETS_MICROS.len() + 1] {
        let mut counts = [0u64; LATENCY_BUCKETS_MICROS.len() + 1];
        for histogram in self.latency.0.iter() {
            let (buckets, total) = histogram.counts();
            for (count, observed) in counts.iter_mut().zip(buckets) {
                *count += observed;
            }
            counts[LATENCY_BUCKETS_MICROS.len()] += total - buckets.iter().sum::<u64>();
        }
        counts
    }

    /// Counts a new client connection until the returned guard is dropped.
    pub fn client_connected(&self) -> ClientGuard {
        self.connections.inc();
        self.connected_clients.add(1);
        ClientGuard(self.connected_clients.clone())
    }

    /// Clients connected right now.
    pub fn connected_clients(&self) -> i64 {
        self.connected_clients.get()
    }

    /// Counts a connection refused because of the client limit.
    pub fn client_rejected(&self) {
        self.rejected_connections.inc();
    }

    /// Counts a connection closed because it sent invalid RESP.
    pub fn protocol_error(&self) {
        self.protocol_errors.inc();
    }

    /// Returns the gauge called `name`, creating it with `help` on first use (a final full
    /// stop is added to `help` when it has none).
    pub fn gauge(&self, name: &str, help: &str) -> Result<GaugeHandle, MetricsError> {
        if !valid_metric_name(name) {
            return Err(MetricsError::InvalidName(name.to_owned()));
        }
        let mut exposition = self.exposition();
        if let Some(gauge) = exposition.gauges.get(name) {
            return Ok(gauge.clone());
        }
        let gauge = GaugeHandle::default();
        // The registry adds the full stop.
        let help = help.strip_suffix('.').unwrap_or(help);
        exposition.registry.register(name, help, gauge.0.clone());
        exposition.gauges.insert(name.to_owned(), gauge.clone());
        Ok(gauge)
    }

    /// Adds the metrics `collector` reads at every scrape.
    pub fn add_collector(&self, collector: impl Collector) {
        self.exposition()
            .registry
            .register_collector(Box::new(collector));
    }

    /// Everything in Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        // Writing to a String cannot fail, and none of our metrics and collectors fails.
        if let Err(error) = prometheus_text::encode(&mut out, &self.exposition().registry) {
            tracing::error!(%error, "encoding the metrics failed");
        }
        out
    }

    fn exposition(&self) -> std::sync::MutexGuard<'_, Exposition> {
        self.exposition
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
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
    fn a_run_counts_as_its_commands() {
        let metrics = Metrics::new();
        metrics.record_commands("set", Duration::from_micros(2), 128, 3);
        metrics.record_command("set", Duration::from_micros(500), false);
        assert_eq!(metrics.command_count("set"), 129);
        let text = metrics.render();
        assert!(
            text.contains("dendrite_command_errors_total{command=\"set\"} 3\n"),
            "{text}"
        );
        assert!(text.contains(
            "dendrite_command_duration_seconds_bucket{kind=\"set\",le=\"0.0001\"} 128\n"
        ));
        assert!(text.contains("dendrite_command_duration_seconds_count{kind=\"set\"} 129\n"));
        // 128 × 2 µs + 500 µs.
        assert!(
            text.contains("dendrite_command_duration_seconds_sum{kind=\"set\"} 0.000756\n"),
            "{text}"
        );
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
    fn histogram_bounds_read_as_before() {
        let text = Metrics::new().render();
        let bounds: Vec<&str> = text
            .lines()
            .filter_map(|line| {
                line.strip_prefix("dendrite_command_duration_seconds_bucket{kind=\"del\",le=\"")
            })
            .filter_map(|rest| rest.split('"').next())
            .collect();
        assert_eq!(
            bounds,
            [
                "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
                "0.1", "0.25", "0.5", "1", "2.5", "+Inf"
            ]
        );
    }

    /// A collector of each kind of family read at scrape time, the first one with a help text
    /// and a label value that need escaping.
    #[derive(Debug)]
    struct Scraped;

    impl Collector for Scraped {
        fn encode(&self, encoder: DescriptorEncoder) -> fmt::Result {
            let mut families = ScrapedFamilies::new(encoder);
            families.gauges(
                "dendrite_test_paths",
                "paths\\ like\nthis",
                &[(&[("path", "C:\\x \"y\"\n")], 1)],
            )?;
            families.counter("dendrite_test_rounds_total", "Rounds.", 3)?;
            let moved: [(Labels, u64); 1] = [(&[("unit", "bytes")], 7)];
            families.values("dendrite_test_moved", "Moved.", MetricType::Unknown, &moved)
        }
    }

    #[test]
    fn scraped_families_are_typed_and_escaped() {
        let metrics = Metrics::new();
        metrics.gauge("dendrite_test", "a\\b\nc").unwrap().set(1);
        metrics.add_collector(Scraped);
        let text = metrics.render();
        assert!(
            text.contains(
                "# HELP dendrite_test a\\\\b\\nc.\n# TYPE dendrite_test gauge\ndendrite_test 1\n"
            ),
            "{text}"
        );
        let expected = "# HELP dendrite_test_paths paths\\\\ like\\nthis\n\
                        # TYPE dendrite_test_paths gauge\n\
                        dendrite_test_paths{path=\"C:\\\\x \\\"y\\\"\\n\"} 1\n\
                        # HELP dendrite_test_rounds_total Rounds.\n\
                        # TYPE dendrite_test_rounds_total counter\n\
                        dendrite_test_rounds_total 3\n\
                        # HELP dendrite_test_moved Moved.\n\
                        # TYPE dendrite_test_moved untyped\n\
                        dendrite_test_moved{unit=\"bytes\"} 7\n";
        assert!(text.ends_with(expected), "{text}");
    }
}

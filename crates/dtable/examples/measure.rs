//! Measurements for the closing notes and docs/performance.md:
//! - `memory [keys]`: bytes per key of the local store (resident set growth / keys);
//! - `migration [keys]`: time for a joining node to take over its ranges from a 3-node ring on
//!   the in-memory network (zero latency), with a client writing throughout.
//!
//! `cargo run --release -p dtable --example measure -- memory 1000000`

use std::time::{Duration, Instant};

use bytes::Bytes;
use dendrite::mem::{LinkModel, MemNetwork};
use dendrite::Config;
use dendrite::Id;
use dtable::{IdRange, Record, Store, Table, TableConfig, Version};

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn memory(keys: usize) {
    let store = Store::new(64);
    let before = resident_bytes();
    let started = Instant::now();
    for i in 0..keys {
        let key = Bytes::from(format!("key:{i:012}"));
        let value = Bytes::from(vec![b'x'; 16]);
        let version = Version {
            millis: 1_700_000_000_000 + i as u64,
            logical: 0,
            node: 7,
        };
        store.apply(key, Record::value(version, value));
    }
    let insert_ns = started.elapsed().as_nanos() as f64 / keys.max(1) as f64;
    let after = resident_bytes();
    let per_key = (after.saturating_sub(before)) as f64 / keys as f64;
    // 16-byte keys and 16-byte values: the payload is 32 bytes, the rest is overhead.
    println!(
        "keys={keys} resident_growth={} bytes per_key={per_key:.1} overhead_per_key={:.1}",
        after - before,
        per_key - 32.0
    );
    // Single-threaded cost of the packed layout: inserts above, point reads and a full scan here.
    let started = Instant::now();
    let mut found = 0usize;
    for i in 0..keys {
        found += usize::from(store.get(format!("key:{i:012}").as_bytes()).is_some());
    }
    let get_ns = started.elapsed().as_nanos() as f64 / keys.max(1) as f64;
    let started = Instant::now();
    let scanned = store
        .scan(IdRange::whole_ring(Id::ZERO), None, usize::MAX)
        .len();
    let scan_ns = started.elapsed().as_nanos() as f64 / keys.max(1) as f64;
    println!(
        "insert {insert_ns:.0} ns/key, get {get_ns:.0} ns/key ({found} found), full scan {scan_ns:.0} ns/key ({scanned} records)"
    );
}

async fn migration(keys: usize) {
    let net = MemNetwork::new(1);
    net.set_link(LinkModel {
        latency_min: Duration::ZERO,
        latency_max: Duration::ZERO,
        loss: 0.0,
    });
    let config = |h: &str| {
        let mut c = Config::new(h);
        c.stabilize_min = Duration::from_millis(100);
        c.stabilize_max = Duration::from_millis(300);
        c
    };
    let first = Table::create(config("n0:1"), net.endpoint("n0:1"), TableConfig::default())
        .await
        .unwrap_or_else(|e| panic!("create: {e}"));
    let seeds = vec!["n0:1".to_string()];
    let mut tables = vec![first.clone()];
    for h in ["n1:1", "n2:1"] {
        let t = Table::join(config(h), net.endpoint(h), &seeds, TableConfig::default())
            .await
            .unwrap_or_else(|e| panic!("join: {e}"));
        tables.push(t);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let batch = 1000;
    for chunk in 0..keys / batch {
        let pairs = (0..batch)
            .map(|i| {
                let k = chunk * batch + i;
                (Bytes::from(format!("key:{k}")), Bytes::from(vec![b'v'; 32]))
            })
            .collect();
        first
            .query()
            .set_multi(pairs)
            .await
            .unwrap_or_else(|e| panic!("load: {e}"));
    }
    println!("loaded {keys} keys on 3 nodes");
    let started = Instant::now();
    let joiner = Table::join(
        config("n3:1"),
        net.endpoint("n3:1"),
        &seeds,
        TableConfig::default(),
    )
    .await
    .unwrap_or_else(|e| panic!("join: {e}"));
    let took = started.elapsed();
    println!(
        "join of a 4th node (range pull included) took {:.2} s; it now holds {} keys",
        took.as_secs_f64(),
        joiner.local_len()
    );
    // Let the ring settle, then count how writes are routed in a stable ring.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stats = tables[1].stats();
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    let (direct0, rerouted0) = (load(&stats.direct_routes), load(&stats.rerouted));
    for i in 0..10_000 {
        tables[1]
            .query()
            .set(format!("route:{i}"), "v")
            .await
            .unwrap_or_else(|e| panic!("write: {e}"));
    }
    let direct = load(&stats.direct_routes) - direct0;
    let rerouted = load(&stats.rerouted) - rerouted0;
    println!(
        "stable ring, 10000 single-key writes from one coordinator: {direct} straight to the primary, {rerouted} rerouted ({:.2}% one hop)",
        100.0 * direct as f64 / (direct + rerouted).max(1) as f64
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let what = args.get(1).map(String::as_str).unwrap_or("memory");
    let keys = args
        .get(2)
        .and_then(|k| k.parse().ok())
        .unwrap_or(1_000_000);
    match what {
        "memory" => memory(keys),
        "migration" => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("runtime: {e}"));
            rt.block_on(migration(keys));
        }
        other => eprintln!("unknown measurement {other}; use memory or migration"),
    }
}

//! Single-threaded micro-benchmark of the store's hot path (`Store::apply` / `Store::get`), the
//! part of a SET/GET that the node profile attributes to the store.
//!
//! For each store size (100k and 1M keys): inserts that many random 16-byte keys with 100-byte
//! values into a 64-shard store (as a node configures it), overwrites every key once with a newer
//! version (what a SET load does to a full keyspace), then reads every key and as many absent
//! keys. Then does the same writes and reads through `apply_at`/`get_at` with the positions
//! hashed beforehand (as the table, which hashes each key to route it, calls them), which leaves
//! the store's own cost without SHA-1. Prints ns/op for each phase, the best of a few rounds.
//!
//! `cargo run --release -p dtable --example store_bench [rounds] [sizes...]`

use std::hint::black_box;
use std::time::Instant;

use bytes::Bytes;
use dtable::{KeyPosition, Record, Store, Version};

/// xorshift64*: deterministic, dependency-free random bytes for the keys.
struct Keys(u64);

impl Keys {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn key(&mut self) -> Bytes {
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        key[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        Bytes::copy_from_slice(&key)
    }
}

fn version(millis: u64) -> Version {
    Version {
        millis,
        logical: 0,
        node: 7,
    }
}

fn ns_per_op(started: Instant, ops: usize) -> f64 {
    started.elapsed().as_nanos() as f64 / ops.max(1) as f64
}

/// ns/op of (insert, overwrite, get hit, get miss), first through `apply`/`get`, then through
/// `apply_at`/`get_at`, for a store of `n` keys.
fn round(n: usize, seed: u64) -> [f64; 8] {
    let mut rng = Keys(seed | 1);
    let keys: Vec<Bytes> = (0..n).map(|_| rng.key()).collect();
    let absent: Vec<Bytes> = (0..n).map(|_| rng.key()).collect();
    let value = Bytes::from(vec![b'x'; 100]);
    let store = Store::new(64);

    let started = Instant::now();
    for key in &keys {
        black_box(store.apply(key.clone(), Record::value(version(1), value.clone())));
    }
    let insert = ns_per_op(started, n);

    let started = Instant::now();
    for key in &keys {
        black_box(store.apply(key.clone(), Record::value(version(2), value.clone())));
    }
    let overwrite = ns_per_op(started, n);

    let started = Instant::now();
    let mut found = 0usize;
    for key in &keys {
        found += usize::from(black_box(store.get(key)).is_some());
    }
    let hit = ns_per_op(started, n);
    assert_eq!(found, n, "every inserted key must be found");

    let started = Instant::now();
    for key in &absent {
        found += usize::from(black_box(store.get(key)).is_some());
    }
    let miss = ns_per_op(started, n);
    assert_eq!(found, n, "no absent key may be found");
    drop(store);

    let positions: Vec<KeyPosition> = keys.iter().map(|k| KeyPosition::of(k)).collect();
    let absent_positions: Vec<KeyPosition> = absent.iter().map(|k| KeyPosition::of(k)).collect();
    let store = Store::new(64);
    let started = Instant::now();
    for (position, key) in positions.iter().zip(&keys) {
        black_box(store.apply_at(*position, key, &Record::value(version(1), value.clone())));
    }
    let insert_at = ns_per_op(started, n);
    let started = Instant::now();
    for (position, key) in positions.iter().zip(&keys) {
        black_box(store.apply_at(*position, key, &Record::value(version(2), value.clone())));
    }
    let overwrite_at = ns_per_op(started, n);
    let started = Instant::now();
    let mut found = 0usize;
    for (position, key) in positions.iter().zip(&keys) {
        found += usize::from(black_box(store.get_at(position, key)).is_some());
    }
    let hit_at = ns_per_op(started, n);
    let started = Instant::now();
    for (position, key) in absent_positions.iter().zip(&absent) {
        found += usize::from(black_box(store.get_at(position, key)).is_some());
    }
    let miss_at = ns_per_op(started, n);
    assert_eq!(found, n, "exactly the inserted keys must be found");
    [
        insert,
        overwrite,
        hit,
        miss,
        insert_at,
        overwrite_at,
        hit_at,
        miss_at,
    ]
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let mut sizes: Vec<usize> = std::env::args()
        .skip(2)
        .filter_map(|n| n.parse().ok())
        .collect();
    if sizes.is_empty() {
        sizes = vec![100_000, 1_000_000];
    }
    for n in sizes {
        let mut best = [f64::MAX; 8];
        for r in 0..rounds.max(1) {
            let times = round(n, 0x9e37_79b9_7f4a_7c15 ^ r as u64);
            for (b, t) in best.iter_mut().zip(times) {
                *b = b.min(t);
            }
        }
        println!(
            "keys={n:>7}  insert {:>6.0} ns/op  overwrite {:>6.0} ns/op  get hit {:>6.0} ns/op  get miss {:>6.0} ns/op",
            best[0], best[1], best[2], best[3]
        );
        println!(
            "  hashed:     insert {:>6.0} ns/op  overwrite {:>6.0} ns/op  get hit {:>6.0} ns/op  get miss {:>6.0} ns/op  (apply_at/get_at)",
            best[4], best[5], best[6], best[7]
        );
    }
}

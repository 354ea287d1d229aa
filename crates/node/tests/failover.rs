//! Failover over real `dendrite node` processes, driven with the `redis` crate: the failures
//! reported against the table, reproduced so that their fixes can be proven. Five nodes, 3
//! vnodes each, 2 replicas (3 copies of every key).
//!
//! - A, `no_lying_reads_after_two_kill_nines`: after `kill -9` of two nodes, the survivors never
//!   answer nil (or a wrong value) for a key acknowledged at consistency 3, only right values or
//!   error replies, and within 15 s every key reads right from every survivor. Loopback.
//! - B, `no_lost_acknowledged_writes_across_kill_restart_rounds`: rounds of `kill -9` of one or
//!   two nodes, restart on their old addresses, wait for the under-replication gauge (`/status`
//!   field `underreplicated_ranges`) to read 0 everywhere, write more keys at consistency 3; at
//!   the end every acknowledged key reads right from every node. Loopback.
//! - C, `later_write_beats_earlier_delete_across_a_partition`: a node cut off from the others
//!   (its link taken down between network namespaces: needs root, skipped loudly otherwise);
//!   keys deleted on one side, then written on the other; after the heal every key reads the
//!   later write from every node.
//!
//! They run one at a time (a lock), as part of `cargo test`; on the code before the failover
//! fixes A read nil in 4 of 6 clusters, B lost 274 of 5250 keys in 20 rounds (seed 2, waiting
//! only for the ring to settle) and C lost the later write in 5 of 16 partitions. For a long
//! run: `DENDRITE_FAILOVER_ROUNDS=100 cargo test -p dendrite-node --test failover -- --nocapture`.
//! Victims and the node each request goes through come from a seeded RNG (the seed is printed;
//! `DENDRITE_FAILOVER_SEED` replays another); what is asserted does not depend on the seed.
//! `DENDRITE_FAILOVER_TRIALS` sets the clusters of A (3) and the partitions of C (3),
//! `DENDRITE_FAILOVER_ROUNDS` the kill/restart rounds of B (6).
//!
//! Every wait polls with a deadline; the only pauses are between read sweeps and write retries
//! and the one that puts C's writes later than its deletes by the clock.

// Helpers outside #[test] functions are test code too; a failed unwrap is a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Duration;

use common::{
    connect, ring_settled, set_consistency, start_cluster, start_node, status, wait_settled, Node,
    POLL, WAIT,
};
use dendrite_chaos::netns::{is_root, Netns};
use futures::future::join_all;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use redis::aio::MultiplexedConnection;
use redis::{AsyncCommands, RedisError};
use tokio::time::{error::Elapsed, sleep, timeout, Instant};

const NODES: usize = 5;
const REPLICAS: usize = 2;
/// Copies of every key (the primary and its replicas): the write consistency of every write.
const COPIES: u8 = 3;
/// Flags of every node: 2 replicas, 3 vnodes (the defaults today, spelled out).
const NODE_FLAGS: &[&str] = &["--replicas", "2", "--vnodes", "3"];
/// Longest wait for one client request; past it the request counts as timed out.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// What the keys of scenarios A and B are, in reports.
const ACKNOWLEDGED: &str = "keys acknowledged at consistency 3";
/// Keys per `MGET`.
const BATCH: usize = 100;
/// Attempts at one write before it counts as refused, with a doubling pause from 100 ms.
const WRITE_ATTEMPTS: u32 = 5;

/// The seed of a scenario's RNG: `default`, or `DENDRITE_FAILOVER_SEED`.
/// The scenarios run one after another even when the test runner starts them together: their
/// deadlines assume the machine runs one five-node cluster at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn seed(default: u64) -> u64 {
    match std::env::var("DENDRITE_FAILOVER_SEED") {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("DENDRITE_FAILOVER_SEED={text:?} is not a u64")),
        Err(_) => default,
    }
}

/// `count` distinct node indices out of `NODES`, in increasing order.
fn pick_nodes(rng: &mut StdRng, count: usize) -> Vec<usize> {
    let mut victims = rand::seq::index::sample(rng, NODES, count).into_vec();
    victims.sort_unstable();
    victims
}

/// A connection to `node` with this session's consistency: reads 1 copy, writes 3.
async fn session(node: &Node) -> MultiplexedConnection {
    let mut con = connect(&node.resp).await;
    set_consistency(&mut con, 1, COPIES).await;
    con
}

/// Groups error texts that differ only in numbers (ports, ids, durations).
fn error_kind(text: &str) -> String {
    let mut kind = String::new();
    let mut in_number = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                kind.push('#');
            }
            in_number = true;
        } else {
            in_number = false;
            kind.push(c);
        }
    }
    kind.chars().take(200).collect()
}

fn describe_error(error: &RedisError) -> String {
    if error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal() {
        format!("connection: {error}")
    } else {
        format!("error reply: {error}")
    }
}

/// What one read of one key gave.
enum Outcome {
    Right,
    Nil,
    Wrong(String),
    /// An error reply, or the connection failing.
    Error(String),
    Timeout,
}

fn outcome(expected: &str, got: &Result<Option<String>, String>) -> Outcome {
    match got {
        Ok(Some(value)) if value == expected => Outcome::Right,
        Ok(Some(value)) => Outcome::Wrong(value.clone()),
        Ok(None) => Outcome::Nil,
        Err(error) => Outcome::Error(error.clone()),
    }
}

/// Counts of read outcomes, with which keys lied and how.
#[derive(Default)]
struct Tally {
    reads: u64,
    right: u64,
    nil: u64,
    wrong: u64,
    errors: u64,
    timeouts: u64,
    /// Reads never sent: their sweep's deadline had passed.
    unsent: u64,
    nil_keys: BTreeSet<usize>,
    wrong_keys: BTreeSet<usize>,
    /// Nil replies per path (`GET via node 2`, `MGET via node 0`).
    nil_by_path: BTreeMap<String, u64>,
    /// Error kind -> (count, one full example).
    error_kinds: BTreeMap<String, (u64, String)>,
    first_nil: Option<String>,
    first_wrong: Option<String>,
}

impl Tally {
    fn add(
        &mut self,
        pairs: &[(String, String)],
        index: usize,
        path: &str,
        at: Duration,
        outcome: Outcome,
    ) {
        self.reads += 1;
        let key = &pairs[index].0;
        match outcome {
            Outcome::Right => self.right += 1,
            Outcome::Nil => {
                self.nil += 1;
                self.nil_keys.insert(index);
                *self.nil_by_path.entry(path.to_owned()).or_default() += 1;
                self.first_nil
                    .get_or_insert_with(|| format!("{key} by {path} at {at:.2?}"));
            }
            Outcome::Wrong(value) => {
                self.wrong += 1;
                self.wrong_keys.insert(index);
                self.first_wrong.get_or_insert_with(|| {
                    format!(
                        "{key} = {value:?} (wanted {:?}) by {path} at {at:.2?}",
                        pairs[index].1
                    )
                });
            }
            Outcome::Error(text) => {
                self.errors += 1;
                self.error_kind(text);
            }
            Outcome::Timeout => {
                self.timeouts += 1;
                self.error_kind(format!(
                    "no reply within {REQUEST_TIMEOUT:?} (client timeout)"
                ));
            }
        }
    }

    fn error_kind(&mut self, text: String) {
        let entry = self
            .error_kinds
            .entry(error_kind(&text))
            .or_insert((0, text));
        entry.0 += 1;
    }

    fn merge(&mut self, other: Tally) {
        self.reads += other.reads;
        self.right += other.right;
        self.nil += other.nil;
        self.wrong += other.wrong;
        self.errors += other.errors;
        self.timeouts += other.timeouts;
        self.unsent += other.unsent;
        self.nil_keys.extend(other.nil_keys);
        self.wrong_keys.extend(other.wrong_keys);
        for (path, count) in other.nil_by_path {
            *self.nil_by_path.entry(path).or_default() += count;
        }
        for (kind, (count, example)) in other.error_kinds {
            self.error_kinds.entry(kind).or_insert((0, example)).0 += count;
        }
        if self.first_nil.is_none() {
            self.first_nil = other.first_nil;
        }
        if self.first_wrong.is_none() {
            self.first_wrong = other.first_wrong;
        }
    }

    /// Every read was sent and answered with the right value.
    fn clean(&self) -> bool {
        self.reads > 0 && self.right == self.reads && self.unsent == 0
    }

    /// One line of counts.
    fn line(&self) -> String {
        format!(
            "{} reads: {} right, {} nil ({} keys), {} wrong ({} keys), {} errors, {} timeouts, {} unsent",
            self.reads,
            self.right,
            self.nil,
            self.nil_keys.len(),
            self.wrong,
            self.wrong_keys.len(),
            self.errors,
            self.timeouts,
            self.unsent
        )
    }

    /// Every count, the first lies, and the error kinds with an example each; `keys` says
    /// what the keys are ("keys acknowledged at consistency 3").
    fn report(&self, count: usize, keys: &str) -> String {
        let mut text = format!(
            "{} of {count} {keys} read nil at least once ({} nil replies",
            self.nil_keys.len(),
            self.nil
        );
        if !self.nil_by_path.is_empty() {
            let paths: Vec<String> = self
                .nil_by_path
                .iter()
                .map(|(path, count)| format!("{count} by {path}"))
                .collect();
            let _ = write!(text, ": {}", paths.join(", "));
        }
        let _ = write!(
            text,
            "); {} of {count} read a wrong value ({} wrong replies); {} error replies or \
             broken connections, {} client timeouts, {} reads not sent; {} reads in all, {} right",
            self.wrong_keys.len(),
            self.wrong,
            self.errors,
            self.timeouts,
            self.unsent,
            self.reads,
            self.right
        );
        if let Some(first) = &self.first_nil {
            let _ = write!(text, "\n  first nil: {first}");
        }
        if let Some(first) = &self.first_wrong {
            let _ = write!(text, "\n  first wrong value: {first}");
        }
        for (count, example) in self.error_kinds.values() {
            let _ = write!(text, "\n  {count} x {example}");
        }
        text
    }
}

/// Reads the keys `start..end` of `pairs` with one `MGET` through `con`.
async fn read_batch(
    con: &mut MultiplexedConnection,
    path: &str,
    pairs: &[(String, String)],
    (start, end): (usize, usize),
    since: Instant,
) -> Tally {
    let mut tally = Tally::default();
    let keys: Vec<&str> = pairs[start..end].iter().map(|(k, _)| k.as_str()).collect();
    let reply: Result<Result<Vec<Option<String>>, RedisError>, Elapsed> =
        timeout(REQUEST_TIMEOUT, con.mget(&keys)).await;
    let at = since.elapsed();
    match reply {
        Ok(Ok(values)) if values.len() == keys.len() => {
            for (index, value) in (start..end).zip(values) {
                let got = Ok(value);
                tally.add(pairs, index, path, at, outcome(&pairs[index].1, &got));
            }
        }
        Ok(Ok(values)) => {
            let text = format!(
                "MGET answered {} values for {} keys",
                values.len(),
                keys.len()
            );
            for index in start..end {
                tally.add(pairs, index, path, at, Outcome::Error(text.clone()));
            }
        }
        Ok(Err(error)) => {
            let text = describe_error(&error);
            for index in start..end {
                tally.add(pairs, index, path, at, Outcome::Error(text.clone()));
            }
        }
        Err(_) => {
            for index in start..end {
                tally.add(pairs, index, path, at, Outcome::Timeout);
            }
        }
    }
    tally
}

/// Reads `pairs` by `MGET` in batches through `con`, until `stop_at` (later batches are not
/// sent).
async fn read_by_mget(
    mut con: MultiplexedConnection,
    path: String,
    pairs: &[(String, String)],
    since: Instant,
    stop_at: Instant,
) -> Tally {
    let mut tally = Tally::default();
    for start in (0..pairs.len()).step_by(BATCH) {
        let end = (start + BATCH).min(pairs.len());
        if Instant::now() >= stop_at {
            tally.unsent += (end - start) as u64;
            continue;
        }
        tally.merge(read_batch(&mut con, &path, pairs, (start, end), since).await);
    }
    tally
}

/// Reads the keys `indices` of `pairs` one `GET` at a time through `con`, until `stop_at`.
async fn read_by_get(
    mut con: MultiplexedConnection,
    path: String,
    pairs: &[(String, String)],
    indices: Vec<usize>,
    since: Instant,
    stop_at: Instant,
) -> Tally {
    let mut tally = Tally::default();
    for index in indices {
        if Instant::now() >= stop_at {
            tally.unsent += 1;
            continue;
        }
        let (key, value) = &pairs[index];
        let reply: Result<Result<Option<String>, RedisError>, Elapsed> =
            timeout(REQUEST_TIMEOUT, con.get(key)).await;
        let at = since.elapsed();
        let result = match reply {
            Ok(got) => outcome(value, &got.map_err(|e| describe_error(&e))),
            Err(_) => Outcome::Timeout,
        };
        tally.add(pairs, index, &path, at, result);
    }
    tally
}

// Writes

/// What writing a set of keys at consistency 3 came to.
#[derive(Default)]
struct Writes {
    /// The pairs acknowledged, in the order written.
    acknowledged: Vec<(String, String)>,
    /// Attempts refused (error reply or timeout) that a later attempt made good.
    retries: u64,
    /// Keys refused `WRITE_ATTEMPTS` times, with the last error.
    refused: Vec<(String, String)>,
}

impl Writes {
    fn refused_report(&self) -> String {
        let mut text = String::new();
        for (key, error) in self.refused.iter().take(5) {
            let _ = write!(text, "\n  {key}: {error}");
        }
        if self.refused.len() > 5 {
            let _ = write!(text, "\n  ... and {} more", self.refused.len() - 5);
        }
        text
    }
}

/// Writes `pairs` one `SET` at a time, each through a node drawn from `rng`, at consistency 3;
/// a refused write is retried (through another drawn node) after 100, 200, 400, 800 ms.
async fn write_pairs(
    cons: &[MultiplexedConnection],
    pairs: Vec<(String, String)>,
    rng: &mut StdRng,
    writes: &mut Writes,
) {
    for (key, value) in pairs {
        let mut last_error = String::new();
        let mut acknowledged = false;
        for attempt in 0..WRITE_ATTEMPTS {
            if attempt > 0 {
                writes.retries += 1;
                sleep(Duration::from_millis(100 << (attempt - 1))).await;
            }
            let node = rng.gen_range(0..cons.len());
            let mut con = cons[node].clone();
            let reply: Result<Result<(), RedisError>, Elapsed> =
                timeout(REQUEST_TIMEOUT, con.set(&key, &value)).await;
            match reply {
                Ok(Ok(())) => {
                    acknowledged = true;
                    break;
                }
                Ok(Err(error)) => {
                    last_error = format!("via node {node}: {}", describe_error(&error))
                }
                Err(_) => {
                    last_error = format!("via node {node}: no reply within {REQUEST_TIMEOUT:?}")
                }
            }
        }
        if acknowledged {
            writes.acknowledged.push((key, value));
        } else {
            writes.refused.push((key, last_error));
        }
    }
}

// A. No lying reads after kill -9

const LYING_KEYS: usize = 1000;
/// Reads are checked for lies for this long after the kill...
const LYING_WINDOW: Duration = Duration::from_secs(10);
/// ...and by this long after it, a whole sweep must read every key right from every survivor.
const CONVERGED_BY: Duration = Duration::from_secs(15);
/// Connections per survivor that each send one `GET` at a time.
const GET_LANES: usize = 20;
/// Pause between two read sweeps (not a synchronisation: sweeps go on regardless).
const SWEEP_PAUSE: Duration = Duration::from_millis(100);

/// The connections reading through one survivor.
struct Reader {
    node: usize,
    mget: MultiplexedConnection,
    gets: Vec<MultiplexedConnection>,
}

/// Reads every key once by `MGET` and once by `GET` through every reader, all readers and lanes
/// at once.
async fn sweep(
    readers: &[Reader],
    pairs: &[(String, String)],
    since: Instant,
    stop_at: Instant,
) -> Tally {
    let mut reads = Vec::new();
    for reader in readers {
        reads.push(futures::future::Either::Left(read_by_mget(
            reader.mget.clone(),
            format!("MGET via node {}", reader.node),
            pairs,
            since,
            stop_at,
        )));
        for (lane, con) in reader.gets.iter().enumerate() {
            let indices = (lane..pairs.len()).step_by(reader.gets.len()).collect();
            reads.push(futures::future::Either::Right(read_by_get(
                con.clone(),
                format!("GET via node {}", reader.node),
                pairs,
                indices,
                since,
                stop_at,
            )));
        }
    }
    let mut tally = Tally::default();
    for part in join_all(reads).await {
        tally.merge(part);
    }
    tally
}

/// Trials of a scenario (`DENDRITE_FAILOVER_TRIALS`, else `default`): clusters killed in A,
/// partitions in C. Whether a failure shows depends on where the vnodes fall on the ring (the
/// ports decide) and on timing, so one trial alone can miss it.
fn trials(default: usize) -> usize {
    match std::env::var("DENDRITE_FAILOVER_TRIALS") {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("DENDRITE_FAILOVER_TRIALS={text:?} is not a count")),
        Err(_) => default,
    }
}

/// What one cluster of scenario A showed after its kill.
struct Trial {
    victims: Vec<usize>,
    tally: Tally,
    /// When the sweep that proved convergence ended, if one did.
    converged: Option<Duration>,
    report: String,
}

/// One cluster of scenario A: 5 nodes, 1000 keys at consistency 3, kill -9 of two nodes drawn
/// from `rng`, then read sweeps through the survivors for `LYING_WINDOW`, and until one reads
/// every key right, for at most `CONVERGED_BY`.
async fn lying_reads_trial(trial: usize, rng: &mut StdRng) -> Trial {
    let mut nodes = start_cluster(NODES, NODE_FLAGS).await;
    wait_settled(&nodes.iter().collect::<Vec<_>>(), REPLICAS).await;
    let mut cons = Vec::new();
    for node in &nodes {
        cons.push(session(node).await);
    }
    let pairs: Vec<(String, String)> = (0..LYING_KEYS)
        .map(|i| (format!("lying:{i}"), format!("value-{i}")))
        .collect();
    let mut writes = Writes::default();
    write_pairs(&cons, pairs.clone(), rng, &mut writes).await;
    assert!(
        writes.refused.is_empty(),
        "trial {trial}: {} of {LYING_KEYS} writes at consistency {COPIES} were refused \
         {WRITE_ATTEMPTS} times by a healthy settled cluster, before any kill:{}",
        writes.refused.len(),
        writes.refused_report()
    );
    drop(cons);

    let victims = pick_nodes(rng, 2);
    let survivors: Vec<usize> = (0..NODES).filter(|i| !victims.contains(i)).collect();
    // Readers are connected before the kill, so the first sweep starts at once after it.
    let mut readers = Vec::new();
    for &node in &survivors {
        let mut gets = Vec::new();
        for _ in 0..GET_LANES {
            gets.push(session(&nodes[node]).await);
        }
        readers.push(Reader {
            node,
            mget: session(&nodes[node]).await,
            gets,
        });
    }
    for &victim in &victims {
        nodes[victim].kill().await.unwrap();
    }
    let killed = Instant::now();
    println!(
        "scenario A, trial {trial}: {LYING_KEYS} keys acknowledged at consistency {COPIES} ({} \
         write retries); killed nodes {victims:?}; reading through {survivors:?}",
        writes.retries
    );

    let mut tally = Tally::default();
    let mut sweeps = 0;
    let mut first_clean: Option<Duration> = None;
    let mut converged: Option<Duration> = None;
    let stop_at = killed + CONVERGED_BY;
    loop {
        let started = killed.elapsed();
        let sweep = sweep(&readers, &pairs, killed, stop_at).await;
        sweeps += 1;
        let clean = sweep.clean();
        println!(
            "  sweep {sweeps} {started:.2?}..{:.2?}: {}",
            killed.elapsed(),
            sweep.line()
        );
        tally.merge(sweep);
        if clean {
            first_clean.get_or_insert(killed.elapsed());
            if started >= LYING_WINDOW {
                converged = Some(killed.elapsed());
                break;
            }
        }
        if Instant::now() >= stop_at {
            break;
        }
        sleep(SWEEP_PAUSE).await;
    }

    let mut report = format!(
        "trial {trial}: after kill -9 of nodes {victims:?}, {sweeps} sweeps over {:.1?} read each \
         of {LYING_KEYS} keys by GET and by MGET (batches of {BATCH}) through each survivor \
         {survivors:?}:\n  {}",
        killed.elapsed(),
        tally.report(LYING_KEYS, ACKNOWLEDGED)
    );
    let _ = write!(
        report,
        "\n  first sweep with every read right ended at {}; ",
        first_clean.map_or("never".to_owned(), |at| format!("{at:.2?}"))
    );
    let _ = match converged {
        Some(at) => write!(
            report,
            "converged: a sweep started after {LYING_WINDOW:?} read every key right from every \
             survivor by {at:.2?}"
        ),
        None => write!(
            report,
            "NOT converged: no sweep started after {LYING_WINDOW:?} read every key right from \
             every survivor by {CONVERGED_BY:?}"
        ),
    };
    println!("scenario A, {report}");
    Trial {
        victims,
        tally,
        converged,
        report,
    }
}

#[tokio::test]
async fn no_lying_reads_after_two_kill_nines() {
    let _one_cluster_at_a_time = ONE_AT_A_TIME.lock().await;
    let seed = seed(0x00A1_1CE5);
    let trials = trials(3);
    println!(
        "scenario A: seed {seed}, {trials} trials (DENDRITE_FAILOVER_SEED / DENDRITE_FAILOVER_TRIALS)"
    );
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut results = Vec::new();
    for trial in 1..=trials {
        results.push(lying_reads_trial(trial, &mut rng).await);
    }
    let lies: Vec<String> = results
        .iter()
        .enumerate()
        .map(|(i, t)| {
            format!(
                "trial {} (killed {:?}): {} nil, {} wrong",
                i + 1,
                t.victims,
                t.tally.nil_keys.len(),
                t.tally.wrong_keys.len()
            )
        })
        .collect();
    let reports: Vec<&str> = results.iter().map(|t| t.report.as_str()).collect();
    let summary = format!(
        "seed {seed}, {trials} clusters in {:.1?}; keys of {LYING_KEYS} acknowledged at \
         consistency {COPIES} read nil or wrong after the kill: {}\n{}",
        started.elapsed(),
        lies.join("; "),
        reports.join("\n")
    );
    let lying = results
        .iter()
        .filter(|t| t.tally.nil + t.tally.wrong > 0)
        .count();
    assert!(
        lying == 0,
        "lying reads in {lying} of {trials} trials: {} keys (summed over trials) acknowledged at \
         consistency {COPIES} read nil and {} read a wrong value after the kill; nil or a wrong \
         value is never allowed, only an error reply.\n{summary}",
        results
            .iter()
            .map(|t| t.tally.nil_keys.len())
            .sum::<usize>(),
        results
            .iter()
            .map(|t| t.tally.wrong_keys.len())
            .sum::<usize>()
    );
    let stuck: Vec<String> = results
        .iter()
        .enumerate()
        .filter(|(_, t)| t.converged.is_none())
        .map(|(i, t)| {
            format!(
                "trial {}: {} error replies, {} timeouts over all sweeps",
                i + 1,
                t.tally.errors,
                t.tally.timeouts
            )
        })
        .collect();
    assert!(
        stuck.is_empty(),
        "not every key read right from every survivor within {CONVERGED_BY:?} of the kill in \
         {} of {trials} trials ({}).\n{summary}",
        stuck.len(),
        stuck.join("; ")
    );
}

// B. No lost acknowledged writes across kill/restart rounds

/// Fresh keys written (at consistency 3) before the first round and after each.
const KEYS_PER_ROUND: usize = 250;
/// Longest wait, from the restart, for the ring to settle and the gauge to read 0 everywhere.
const GAUGE_WAIT: Duration = Duration::from_secs(30);
/// The `/status` field of the under-replication gauge (`dendrite_underreplicated_ranges`).
const GAUGE: &str = "underreplicated_ranges";

fn rounds() -> usize {
    match std::env::var("DENDRITE_FAILOVER_ROUNDS") {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("DENDRITE_FAILOVER_ROUNDS={text:?} is not a count")),
        Err(_) => 6,
    }
}

/// The gauge as `/status` shows it: `Ok(value)`, or `Err(why there is none)`.
async fn gauge(node: &Node) -> Result<u64, String> {
    let status = status(node)
        .await
        .ok_or_else(|| "no JSON answer from /status".to_owned())?;
    match status.get(GAUGE) {
        None => Err(format!("no field {GAUGE:?} in /status")),
        Some(value) => value
            .as_u64()
            .ok_or_else(|| format!("{GAUGE} is {value}, not an integer")),
    }
}

/// Polls until the ring has settled over all `nodes` and the gauge reads 0 on every one, for at
/// most `GAUGE_WAIT`; returns how long it took.
async fn wait_fully_replicated(nodes: &[Node], round: &str) -> Duration {
    let started = Instant::now();
    let refs: Vec<&Node> = nodes.iter().collect();
    loop {
        let settled = ring_settled(&refs, REPLICAS).await;
        let mut values = Vec::new();
        for node in nodes {
            values.push(gauge(node).await);
        }
        if settled && values.iter().all(|v| *v == Ok(0)) {
            return started.elapsed();
        }
        if started.elapsed() >= GAUGE_WAIT {
            let all: Vec<String> = values
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Ok(value) => format!("node {i}: {value}"),
                    Err(why) => format!("node {i}: {why}"),
                })
                .collect();
            match values.iter().position(|v| *v != Ok(0)) {
                Some(i) => panic!(
                    "{round}: gauge never reached 0 on node {i} ({}) within {GAUGE_WAIT:?}; last \
                     value: {}; every node: [{}]; ring settled: {settled}",
                    nodes[i].http,
                    match &values[i] {
                        Ok(value) => value.to_string(),
                        Err(why) => why.clone(),
                    },
                    all.join(", ")
                ),
                None => panic!(
                    "{round}: the gauge reads 0 on every node but the ring did not settle (every \
                     vnode with {REPLICAS} replicas, ownership summing to 1) within {GAUGE_WAIT:?}"
                ),
            }
        }
        sleep(POLL).await;
    }
}

/// Polls until no survivor's `/status` ring lists a victim any more (they noticed the kill).
async fn wait_forgotten(nodes: &[Node], survivors: &[usize], victims: &[usize], round: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let mut remembered = Vec::new();
        for &survivor in survivors {
            let Some(status) = status(&nodes[survivor]).await else {
                remembered.push(format!("node {survivor} does not answer /status"));
                continue;
            };
            let hosts: Vec<&str> = status["ring"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|row| row["host"].as_str())
                .collect();
            for &victim in victims {
                if hosts.contains(&nodes[victim].ring.as_str()) {
                    remembered.push(format!("node {survivor} still lists node {victim}"));
                }
            }
        }
        if remembered.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{round}: the survivors did not drop the killed nodes from their ring within \
             {WAIT:?}: {}",
            remembered.join(", ")
        );
        sleep(POLL).await;
    }
}

/// Reads every pair through `con` by `MGET`; a batch answered with an error is sent again
/// until it is answered or `deadline` passes (nil and wrong values are counted, not retried).
/// Returns the tally of the last answer to each batch and the number of batches sent again.
async fn read_back(
    con: &MultiplexedConnection,
    path: &str,
    pairs: &[(String, String)],
    deadline: Instant,
) -> (Tally, u64) {
    let since = Instant::now();
    let mut con = con.clone();
    let mut tally = Tally::default();
    let mut retried = 0;
    for start in (0..pairs.len()).step_by(BATCH) {
        let end = (start + BATCH).min(pairs.len());
        loop {
            let batch = read_batch(&mut con, path, pairs, (start, end), since).await;
            if batch.errors + batch.timeouts == 0 || Instant::now() >= deadline {
                tally.merge(batch);
                break;
            }
            retried += 1;
            sleep(POLL).await;
        }
    }
    (tally, retried)
}

#[tokio::test]
async fn no_lost_acknowledged_writes_across_kill_restart_rounds() {
    let _one_cluster_at_a_time = ONE_AT_A_TIME.lock().await;
    let seed = seed(0x0B0B_5EED);
    let rounds = rounds();
    println!(
        "scenario B: seed {seed}, {rounds} rounds (DENDRITE_FAILOVER_SEED / DENDRITE_FAILOVER_ROUNDS)"
    );
    let mut rng = StdRng::seed_from_u64(seed);
    let test_started = Instant::now();
    let mut nodes = start_cluster(NODES, NODE_FLAGS).await;
    wait_settled(&nodes.iter().collect::<Vec<_>>(), REPLICAS).await;
    let mut cons = Vec::new();
    for node in &nodes {
        cons.push(session(node).await);
    }
    let fresh = |round: usize| -> Vec<(String, String)> {
        (0..KEYS_PER_ROUND)
            .map(|i| (format!("round{round}:{i}"), format!("r{round}-value-{i}")))
            .collect()
    };
    let mut writes = Writes::default();
    write_pairs(&cons, fresh(0), &mut rng, &mut writes).await;

    let mut to_gauge_zero = Vec::new();
    let mut between_rounds = Vec::new();
    for round in 1..=rounds {
        let count = rng.gen_range(1..=2);
        let victims = pick_nodes(&mut rng, count);
        let at_once = rng.gen_bool(0.5);
        let survivors: Vec<usize> = (0..NODES).filter(|i| !victims.contains(i)).collect();
        let label = format!(
            "round {round} (killed nodes {victims:?}, restarted {})",
            if at_once {
                "at once"
            } else {
                "once the survivors dropped them"
            }
        );
        for &victim in &victims {
            nodes[victim].kill().await.unwrap();
        }
        if !at_once {
            wait_forgotten(&nodes, &survivors, &victims, &label).await;
        }
        let seeds: Vec<String> = survivors.iter().map(|&s| nodes[s].ring.clone()).collect();
        let seeds: Vec<&str> = seeds.iter().map(String::as_str).collect();
        for &victim in &victims {
            let ring = nodes[victim].ring.clone();
            nodes[victim] = start_node(&ring, &seeds, NODE_FLAGS).await;
            assert_eq!(
                nodes[victim].ring, ring,
                "{label}: node {victim} did not restart on its old ring address"
            );
        }
        let took = wait_fully_replicated(&nodes, &label).await;
        to_gauge_zero.push(took);
        for &victim in &victims {
            cons[victim] = session(&nodes[victim]).await;
        }
        // Diagnostic only (the assertion is at the end): which round lost keys, if any.
        let via = rng.gen_range(0..NODES);
        let (tally, _) = read_back(
            &cons[via],
            &format!("MGET via node {via}"),
            &writes.acknowledged,
            Instant::now() + WAIT,
        )
        .await;
        let line = format!(
            "{label}: restart to gauge 0 in {took:.2?}; {} of {} acknowledged keys read nil \
             through node {via}, {} wrong, {} errors",
            tally.nil_keys.len(),
            writes.acknowledged.len(),
            tally.wrong_keys.len(),
            tally.errors + tally.timeouts
        );
        println!("scenario B: {line}");
        between_rounds.push(line);
        write_pairs(&cons, fresh(round), &mut rng, &mut writes).await;
    }

    // Every acknowledged key from every node, at read consistency 1 (each node's own path),
    // and from node 0 at read consistency 3 (every copy asked, newest wins).
    let acknowledged = &writes.acknowledged;
    let deadline = Instant::now() + WAIT;
    let mut report = String::new();
    let mut missing = 0;
    let mut wrong = 0;
    let mut unreadable = 0;
    for (index, con) in cons.iter().enumerate() {
        let path = format!("MGET via node {index}");
        let (tally, retried) = read_back(con, &path, acknowledged, deadline).await;
        missing += tally.nil_keys.len();
        wrong += tally.wrong_keys.len();
        unreadable += tally.errors + tally.timeouts;
        let _ = write!(
            report,
            "\n  node {index} ({retried} batches sent again after an error): {}",
            tally.report(acknowledged.len(), ACKNOWLEDGED)
        );
    }
    let mut all_copies = connect(&nodes[0].resp).await;
    set_consistency(&mut all_copies, COPIES, COPIES).await;
    let (tally, retried) = read_back(
        &all_copies,
        "MGET at read consistency 3 via node 0",
        acknowledged,
        deadline,
    )
    .await;
    let _ = write!(
        report,
        "\n  node 0 at read consistency {COPIES} ({retried} batches sent again after an error): {}",
        tally.report(acknowledged.len(), ACKNOWLEDGED)
    );

    let mut times = to_gauge_zero.clone();
    times.sort();
    let summary = format!(
        "seed {seed}, {rounds} rounds in {:.1?}: {} keys acknowledged at consistency {COPIES} \
         ({} write retries), {} never acknowledged; restart to gauge 0: min {:.2?}, median \
         {:.2?}, max {:.2?}\n  {}",
        test_started.elapsed(),
        acknowledged.len(),
        writes.retries,
        writes.refused.len(),
        times.first().copied().unwrap_or_default(),
        times.get(times.len() / 2).copied().unwrap_or_default(),
        times.last().copied().unwrap_or_default(),
        between_rounds.join("\n  ")
    );
    println!("scenario B: {summary}\n  read-back:{report}");
    assert!(
        missing == 0 && wrong == 0 && tally.nil == 0 && tally.wrong == 0,
        "lost acknowledged writes: of {} keys acknowledged at consistency {COPIES}, summed over \
         the {NODES} nodes {missing} reads came back nil and {wrong} wrong; at read consistency \
         {COPIES}, {} keys nil and {} wrong.\n{summary}\n  read-back:{report}",
        acknowledged.len(),
        tally.nil_keys.len(),
        tally.wrong_keys.len()
    );
    let unreadable = unreadable + tally.errors + tally.timeouts;
    assert!(
        unreadable == 0,
        "{unreadable} reads of acknowledged keys still failed (error reply or timeout) {WAIT:?} \
         after the last round, with the gauge at 0 everywhere.\n{summary}\n  read-back:{report}"
    );
    assert!(
        writes.refused.is_empty(),
        "{} writes at consistency {COPIES} were refused {WRITE_ATTEMPTS} times once the gauge \
         read 0 everywhere:{}\n{summary}",
        writes.refused.len(),
        writes.refused_report()
    );
}

// C. A later write does not lose to an earlier delete after a partition

/// Keys of each half of scenario C.
const PARTITION_KEYS: usize = 200;
/// Longest wait, from the heal, for every key to read its last write from every node.
/// 1.5 periodic anti-entropy rounds (`repair_interval`, 30 s): convergence takes 15-30 s when
/// the later write wins.
const HEAL_WAIT: Duration = Duration::from_secs(45);

/// Polls until every node in `side` lists exactly the ring hosts of `side` in its `/status`.
async fn wait_ring_is(nodes: &[Node], side: &[usize], what: &str) {
    let deadline = Instant::now() + WAIT;
    let wanted: BTreeSet<&str> = side.iter().map(|&i| nodes[i].ring.as_str()).collect();
    loop {
        let mut wrong = Vec::new();
        for &i in side {
            let hosts: Option<BTreeSet<String>> = status(&nodes[i]).await.map(|status| {
                status["ring"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|row| row["host"].as_str().map(str::to_owned))
                    .collect()
            });
            match hosts {
                Some(hosts) if hosts.iter().map(String::as_str).eq(wanted.iter().copied()) => {}
                Some(hosts) => wrong.push(format!("node {i} sees {hosts:?}")),
                None => wrong.push(format!("node {i} does not answer /status")),
            }
        }
        if wrong.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not every node of {side:?} saw the ring {wanted:?} within {WAIT:?}: {}",
            wrong.join("; ")
        );
        sleep(POLL).await;
    }
}

/// Sends `command` for `key` through one of `cons` (drawn from `rng`) until it is answered
/// without an error, at most `WRITE_ATTEMPTS` times; returns the reply or the last error.
async fn acknowledged<T: redis::FromRedisValue>(
    cons: &[MultiplexedConnection],
    command: &redis::Cmd,
    rng: &mut StdRng,
    retries: &mut u64,
) -> Result<T, String> {
    let mut last_error = String::new();
    for attempt in 0..WRITE_ATTEMPTS {
        if attempt > 0 {
            *retries += 1;
            sleep(Duration::from_millis(100 << (attempt - 1))).await;
        }
        let node = rng.gen_range(0..cons.len());
        let mut con = cons[node].clone();
        match timeout(REQUEST_TIMEOUT, command.query_async::<T>(&mut con)).await {
            Ok(Ok(reply)) => return Ok(reply),
            Ok(Err(error)) => last_error = describe_error(&error),
            Err(_) => last_error = format!("no reply within {REQUEST_TIMEOUT:?}"),
        }
    }
    Err(last_error)
}

/// What one partition of scenario C showed.
struct Cycle {
    cut: usize,
    /// How long after the heal every key read its later write from every node, if it did.
    converged: Option<Duration>,
    /// Per half, how many keys were not at their later write in the last sweep.
    halves: String,
    /// The last sweep, node by node.
    report: String,
}

/// One partition of scenario C: 2 x 200 keys written at consistency 3, node `cut` cut off from
/// the others; the keys of one half deleted on the cut-off node and, later, written again on
/// the other side, the keys of the other half the other way round; heal, then read every key
/// from every node until all read their later write, for at most `HEAL_WAIT`.
async fn partition_cycle(
    cycle: usize,
    cut: usize,
    netns: &Netns,
    nodes: &[Node],
    rng: &mut StdRng,
) -> Cycle {
    // Two halves: keys deleted on the minority side then written on the majority side, and
    // keys deleted on the majority side then written on the minority side.
    let majority: Vec<usize> = (0..NODES).filter(|&i| i != cut).collect();
    let halves = ["del-minority", "del-majority"];
    let key = |half: &str, i: usize| format!("partition{cycle}:{half}:{i}");
    let mut all = Vec::new();
    for node in nodes {
        all.push(session(node).await);
    }
    let mut writes = Writes::default();
    for half in halves {
        let pairs = (0..PARTITION_KEYS)
            .map(|i| (key(half, i), format!("before-{i}")))
            .collect();
        write_pairs(&all, pairs, rng, &mut writes).await;
    }
    assert!(
        writes.refused.is_empty(),
        "cycle {cycle}: {} writes at consistency {COPIES} were refused by a healthy settled cluster, before the \
         partition:{}",
        writes.refused.len(),
        writes.refused_report()
    );

    netns.cluster_link(cut, false).expect("cutting the link");
    let partitioned = Instant::now();
    println!("scenario C, cycle {cycle}: cut node {cut} off from {majority:?}");
    wait_ring_is(nodes, &majority, &format!("cycle {cycle}, after the cut")).await;
    wait_ring_is(nodes, &[cut], &format!("cycle {cycle}, after the cut")).await;
    println!(
        "scenario C, cycle {cycle}: both sides re-formed their rings {:.2?} after the cut",
        partitioned.elapsed()
    );
    // During the partition one copy is all either side can promise.
    let mut minority_cons = Vec::new();
    let mut majority_cons = Vec::new();
    for (index, node) in nodes.iter().enumerate() {
        let mut con = connect(&node.resp).await;
        set_consistency(&mut con, 1, 1).await;
        if index == cut {
            minority_cons.push(con);
        } else {
            majority_cons.push(con);
        }
    }
    let sides = |half: &str| {
        if half == "del-minority" {
            (&minority_cons, &majority_cons)
        } else {
            (&majority_cons, &minority_cons)
        }
    };

    // Deletes first, on one side...
    let mut retries = 0;
    let mut deleted: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for half in halves {
        let (deleting, _) = sides(half);
        for i in 0..PARTITION_KEYS {
            let command = redis::cmd("DEL").arg(key(half, i)).clone();
            match acknowledged::<usize>(deleting, &command, rng, &mut retries).await {
                Ok(count) => *deleted.entry(half).or_default() += count,
                Err(error) => failures.push(format!("DEL {}: {error}", key(half, i))),
            }
        }
    }
    // ...then, later by the wall clock (the versions' physical part is in milliseconds; this
    // pause orders the two phases, it synchronises nothing), writes on the other side.
    sleep(Duration::from_millis(20)).await;
    for half in halves {
        let (_, writing) = sides(half);
        for i in 0..PARTITION_KEYS {
            let command = redis::cmd("SET")
                .arg(key(half, i))
                .arg(format!("after-{i}"))
                .clone();
            if let Err(error) = acknowledged::<()>(writing, &command, rng, &mut retries).await {
                failures.push(format!("SET {}: {error}", key(half, i)));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "cycle {cycle}: {} deletes or writes at consistency 1 were refused {WRITE_ATTEMPTS} times during the \
         partition: {}",
        failures.len(),
        failures
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ")
    );
    println!(
        "scenario C, cycle {cycle}: during the partition, DEL found {deleted:?} of {PARTITION_KEYS} keys each; \
         every key then written again on the other side ({retries} retries)"
    );

    netns.cluster_link(cut, true).expect("restoring the link");
    let healed = Instant::now();
    let everyone: Vec<usize> = (0..NODES).collect();
    wait_ring_is(nodes, &everyone, &format!("cycle {cycle}, after the heal")).await;
    println!(
        "scenario C, cycle {cycle}: one ring again {:.2?} after the heal",
        healed.elapsed()
    );

    // Every key must read its later write from every node; poll until it does.
    let pairs: Vec<(String, String)> = halves
        .iter()
        .flat_map(|half| (0..PARTITION_KEYS).map(move |i| (key(half, i), format!("after-{i}"))))
        .collect();
    let (converged, last) = loop {
        let mut sweep = Vec::new();
        for (index, con) in all.iter().enumerate() {
            let read = read_by_mget(
                con.clone(),
                format!("MGET via node {index}"),
                &pairs,
                healed,
                Instant::now() + WAIT,
            );
            sweep.push(read);
        }
        let last: Vec<Tally> = join_all(sweep).await;
        if last.iter().all(Tally::clean) {
            break (Some(healed.elapsed()), last);
        }
        if healed.elapsed() >= HEAL_WAIT {
            break (None, last);
        }
        sleep(POLL).await;
    };
    let mut report = String::new();
    for (index, tally) in last.iter().enumerate() {
        let _ = write!(
            report,
            "\n  node {index}{}: {}",
            if index == cut { " (was cut off)" } else { "" },
            tally.report(pairs.len(), "keys written after a delete")
        );
    }
    let halves_report: Vec<String> = halves
        .iter()
        .map(|half| {
            let lost: BTreeSet<&String> = last
                .iter()
                .flat_map(|t| t.nil_keys.iter().chain(&t.wrong_keys))
                .map(|&i| &pairs[i].0)
                .filter(|k| k.contains(half))
                .collect();
            format!(
                "{half}: {} of {PARTITION_KEYS} keys not at their later write on some node",
                lost.len()
            )
        })
        .collect();
    println!(
        "scenario C, cycle {cycle}: {} after the heal; {}{report}",
        converged.map_or("NOT converged".to_owned(), |at| format!(
            "converged {at:.2?}"
        )),
        halves_report.join("; ")
    );
    Cycle {
        cut,
        converged,
        halves: halves_report.join("; "),
        report,
    }
}

#[tokio::test]
async fn later_write_beats_earlier_delete_across_a_partition() {
    let _one_cluster_at_a_time = ONE_AT_A_TIME.lock().await;
    if !is_root() {
        eprintln!(
            "\n*** SKIPPED later_write_beats_earlier_delete_across_a_partition: it cuts links \
             between network namespaces (ip netns), which needs root. Nothing was tested. ***\n"
        );
        return;
    }
    let seed = seed(0x0C0F_FEE5);
    println!("scenario C: seed {seed} (DENDRITE_FAILOVER_SEED)");
    let mut rng = StdRng::seed_from_u64(seed);
    // Declared before the nodes, so dropped after them: the nodes die before their namespaces.
    let netns = Netns::new(NODES).expect("setting up network namespaces");
    let mut nodes = Vec::new();
    for index in 0..NODES {
        let ring = netns.ring_address(index);
        let (resp, http) = (
            netns.client_address(index, 6380),
            netns.client_address(index, 8380),
        );
        let addresses = common::Addresses {
            netns: Some(&netns.namespaces[index]),
            listen: &ring,
            resp: &resp,
            http: &http,
            log: None,
        };
        let first = netns.ring_address(0);
        let join: &[&str] = if index == 0 { &[] } else { &[&first] };
        nodes.push(common::start_node_at(&addresses, join, NODE_FLAGS).await);
    }
    wait_settled(&nodes.iter().collect::<Vec<_>>(), REPLICAS).await;

    // Whether a partition loses the later writes depends on a race in how the cut-off node
    // rejoins: measured on the code of this commit, 5 of 16 partitions lost them (25 to 107
    // keys of 200), the others converged in 3-27 s. Three different nodes cut in turn.
    let cuts = pick_nodes(&mut rng, trials(3).min(NODES));
    let mut cycles = Vec::new();
    for (cycle, &cut) in cuts.iter().enumerate() {
        cycles.push(partition_cycle(cycle + 1, cut, &netns, &nodes, &mut rng).await);
    }
    let stuck: Vec<String> = cycles
        .iter()
        .enumerate()
        .filter(|(_, c)| c.converged.is_none())
        .map(|(i, c)| format!("cycle {} (node {} cut off): {}", i + 1, c.cut, c.halves))
        .collect();
    let reports: Vec<String> = cycles
        .iter()
        .enumerate()
        .map(|(i, c)| format!("cycle {}, last sweep:{}", i + 1, c.report))
        .collect();
    assert!(
        stuck.is_empty(),
        "the later write did not win everywhere within {HEAL_WAIT:?} of the heal in {} of {} \
         partitions (keys deleted on one side, then written on the other): {}; nil means the \
         earlier delete won, a wrong value that the value from before the partition came \
         back.\n{}",
        stuck.len(),
        cycles.len(),
        stuck.join("; "),
        reports.join("\n")
    );
}

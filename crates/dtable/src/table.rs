//! The networked table: a [`Table`] is one node's share of the replicated key/value store.
//!
//! - `query`: the client side (any node coordinates any key): placement by
//!   lookup, forwarding to the primary, consistency, read fallback and read repair, batching;
//! - `serve`: what a node does with the requests of other nodes;
//! - `repair`: anti-entropy between a primary and its replicas, which also moves
//!   ranges on joins and re-creates copies after failures (the heal loop), and tombstone
//!   collection;
//! - `ledger`: which local ranges are complete (authoritative for reads) and
//!   which lack copies (the under-replication gauge);
//! - `handback`: copies of ranges this node no longer serves go back to the
//!   copies that do, then are dropped;
//! - `replicate`: replica writes, coalesced in one queue per primary and replica and drained
//!   in batches;
//! - `members`: every vnode of the ring, each node's client address, and whether a key's
//!   primary is local (for the Redis Cluster front end);
//! - `view`: the coordinator's cached view of the ring, so most requests go straight to the
//!   primary without a lookup;
//! - `peer`: one typed request/reply exchange with a vnode;
//! - `witness`: a replica that sees a closer vnode act as the keys' owner refuses a farther
//!   primary's writes, and the refused primary steps back.

mod durability;
mod expiry;
mod handback;
mod inspect;
mod keyspace;
mod ledger;
mod members;
mod multikey;
mod peer;
mod pipelined;
mod query;
mod read;
mod read_modify_write;
mod repair;
mod replicate;
mod serve;
mod stall;
mod view;
mod witness;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use dendrite::{Config, Extensions, Id, Ring, Transport, Vnode};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::info;

pub use inspect::{CopyRead, VnodeRecords};
pub use keyspace::ScanPage;
pub use members::NodeAddresses;
pub use query::Query;

use crate::durable::{Log, Persistence};
use crate::error::TableError;
use crate::placement::Placement;
use crate::position::KeyPosition;
use crate::range::IdRange;
use crate::record::Record;
use crate::store::{Change, Store};
use crate::time::TimeSource;
use crate::version::{Clock, ClockError, Version};
use crate::wire::kind;

/// Settings of the table on one node (replica count comes from the ring's [`Config`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableConfig {
    /// Longest key accepted.
    pub max_key_len: usize,
    /// Longest value accepted.
    pub max_value_len: usize,
    /// Write consistency used when a query does not set one (1 = the primary's copy).
    pub default_consistency: usize,
    /// Deadline of one request to one vnode.
    pub request_timeout: Duration,
    /// Pause between two anti-entropy rounds of a vnode (ring events trigger extra rounds).
    pub repair_interval: Duration,
    /// How long a tombstone is kept after the delete before it may be purged. A range's primary
    /// purges only after an anti-entropy round in which every replica exchanged successfully
    /// (so every replica holds the tombstone), and then tells the replicas to purge too. A
    /// replica that is away longer than this *and* is replaced in the meantime could bring a
    /// stale value back when it returns: keep it above the longest expected absence.
    pub tombstone_grace: Duration,
    /// Records per batch in range scans, migrations and repair pushes (bounds memory: ~0.5 MiB
    /// per batch at 100-byte values). Each batch is one round trip, so small batches make a join
    /// slow on a busy machine: at 512, a 4th node joining 1 M keys under client load took
    /// 3.4–22 s to serve its ranges; at 4096, 1.9–4.3 s (docs/performance.md).
    pub batch_size: usize,
    /// Buckets a range is split into for digest comparison.
    pub digest_buckets: u32,
    /// Shards of the local store.
    pub shards: usize,
    /// Attempts to deliver a replica write in the background before leaving it to repair.
    pub replication_attempts: u32,
    /// How long a primary lets replica writes that nobody waits for (consistency 1) gather
    /// before it sends them, so that one request carries many. Under load this cuts the
    /// requests (and the syscalls and wake-ups on both ends) per write several-fold; the price
    /// is that replicas lag the primary by up to this much more, and a primary that crashes
    /// loses at most this much more of its consistency-1 writes (those were acknowledged on
    /// one copy anyway). A write that waits for replica acknowledgements (consistency > 1)
    /// cuts the pause short. Zero sends at once.
    pub replication_linger: Duration,
    /// How often the heal loop looks for ranges that lack copies (a grown range, a changed
    /// replica set, a restarted replica) and re-replicates them at once. Ring events wake it
    /// sooner; a restart on the same address raises no event, so this bounds how long a
    /// restarted replica stays empty.
    pub heal_interval: Duration,
    /// How long the ring must be quiet (no event) after a membership change before copies of
    /// ranges this node no longer serves are handed back and dropped.
    pub handback_delay: Duration,
    /// How long a read waits for a copy that can say "absent" with authority, when the key's
    /// primary is taking its range over and no copy holds the key. After it the read fails
    /// with [`TableError::Unavailable`] rather than answer "not found" without knowing.
    pub read_settle_timeout: Duration,
    /// Shifts this node's hybrid-clock readings by this many milliseconds (positive: ahead).
    /// For fault-injection tests of skewed clocks; leave it at 0 in production.
    pub clock_offset_ms: i64,
    /// How far ahead of this node's wall clock a version received from a peer may be (default
    /// 60 s). Versions are hybrid clock readings that every node follows, so without a bound one
    /// peer with a clock far ahead (or a forged `millis` near `u64::MAX`) would drag every
    /// node's versions there, and a saturated clock cannot order later writes after earlier
    /// ones. A record whose version is further ahead is not stored: it is counted in
    /// [`TableStats::versions_refused`], logged, and the request that carried it gets an error.
    /// Keep it well above the clock skew NTP leaves between nodes.
    pub max_clock_skew: Duration,
    /// Where the clock reads the time: the wall clock, or tokio's for paused-time tests and
    /// simulations (see [`TimeSource`]). Versions, deadlines and tombstone grace all follow it.
    pub time: TimeSource,
    /// Where clients reach this node (`host:port` of its RESP endpoint), told to every node
    /// that probes it (docs/wire.md §6.3) so that any node can send a cluster client here.
    /// `None` for a node that serves no clients.
    pub client_address: Option<String>,
    /// Where operators reach this node's console (`host:port` of its HTTP endpoint), told to
    /// every node that probes it (docs/wire.md §6.3) so that any node's console can show this
    /// node's own figures. `None` for a node without one.
    pub console_address: Option<String>,
}

impl Default for TableConfig {
    fn default() -> TableConfig {
        TableConfig {
            max_key_len: 64 << 10,
            max_value_len: 16 << 20,
            default_consistency: 1,
            request_timeout: Duration::from_secs(2),
            repair_interval: Duration::from_secs(30),
            tombstone_grace: Duration::from_secs(3600),
            batch_size: 4096,
            digest_buckets: 64,
            shards: 64,
            replication_attempts: 5,
            replication_linger: Duration::from_millis(1),
            heal_interval: Duration::from_millis(500),
            handback_delay: Duration::from_secs(3),
            read_settle_timeout: Duration::from_secs(4),
            clock_offset_ms: 0,
            max_clock_skew: Duration::from_secs(60),
            time: TimeSource::System,
            client_address: None,
            console_address: None,
        }
    }
}

/// Counters a node exports as metrics.
#[derive(Debug, Default)]
pub struct TableStats {
    /// Writes acknowledged to clients by this coordinator.
    pub writes: AtomicU64,
    /// Writes that returned an error.
    pub write_errors: AtomicU64,
    /// Reads served to clients by this coordinator.
    pub reads: AtomicU64,
    /// Reads that returned an error.
    pub read_errors: AtomicU64,
    /// Replica writes still being delivered in the background.
    pub replication_backlog: AtomicU64,
    /// Replica writes abandoned to anti-entropy after every attempt failed.
    pub replication_failures: AtomicU64,
    /// Records received by anti-entropy and migration (newer than what we held).
    pub repaired_in: AtomicU64,
    /// Records sent by anti-entropy and migration.
    pub repaired_out: AtomicU64,
    /// Records received from other copies (anti-entropy, repair and migration) that were
    /// written before this node started: what it caught up on after a restart (those it
    /// already held included: a measure of the transfer, not of what changed).
    pub caught_up_records: AtomicU64,
    /// Bytes (keys and values) of those records.
    pub caught_up_bytes: AtomicU64,
    /// Requests sent straight to the vnode that owned the key (no lookup, no redirect).
    pub direct_routes: AtomicU64,
    /// Requests that needed a lookup or followed a `moved` redirect.
    pub rerouted: AtomicU64,
    /// Anti-entropy rounds completed.
    pub repair_rounds: AtomicU64,
    /// Tombstones purged.
    pub tombstones_purged: AtomicU64,
    /// Records of ranges this node no longer serves, handed back to the copies that do and
    /// dropped here.
    pub handed_back: AtomicU64,
    /// Reads that found no record on a primary still taking its range over and had to ask the
    /// other copies (see [`TableConfig::read_settle_timeout`]).
    pub unsettled_reads: AtomicU64,
    /// Values past their deadline reclaimed as tombstones by this node's expiry sweep (as
    /// their primary): Redis's `expired_keys`.
    pub expired: AtomicU64,
    /// Records received from peers and not stored because their version was further ahead of
    /// this node's clock than `TableConfig::max_clock_skew` (a peer's clock is wrong).
    pub versions_refused: AtomicU64,
}

impl TableStats {
    fn bump(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }
}

/// The records of one received batch that the clock refused (see
/// `TableConfig::max_clock_skew`): counted per record, reported once per batch.
#[derive(Debug, Default)]
struct Refusals {
    count: u64,
    first: Option<ClockError>,
}

impl Refusals {
    /// Observes `version` on `clock`; false (and noted) when the clock refuses it, in which
    /// case the record carrying it must not be stored.
    fn admit(&mut self, clock: &Clock, version: &Version) -> bool {
        match clock.observe(version) {
            Ok(()) => true,
            Err(e) => {
                self.count += 1;
                self.first.get_or_insert(e);
                false
            }
        }
    }

    /// Counts the refusals in `stats` and logs them once for the batch from `peer`; returns the
    /// error text for the reply, or `None` when nothing was refused.
    fn report(self, stats: &TableStats, peer: impl FnOnce() -> String) -> Option<String> {
        let first = self.first?;
        TableStats::bump(&stats.versions_refused, self.count);
        let ClockError::TooFarAhead { seen, max, .. } = first;
        tracing::warn!(
            peer = %peer(),
            version = %seen,
            ahead_ms = first.ahead_millis(),
            max_ms = max,
            refused = self.count,
            "records refused: their versions are too far ahead of this node's clock"
        );
        Some(format!("{} record(s) not stored: {first}", self.count))
    }
}

pub(crate) struct TableInner {
    ring: Arc<Ring>,
    config: TableConfig,
    store: Arc<Store>,
    /// The durable log every accepted record is appended to (`None`: in memory only).
    log: Option<Arc<Log>>,
    clock: Clock,
    /// This node's clock when the table started: records stamped before it that arrive from
    /// other copies are what it catches up on after a restart (see `repair::count_catch_up`).
    started_millis: u64,
    stats: TableStats,
    tasks: parking_lot::Mutex<Vec<JoinHandle<()>>>,
    view: parking_lot::Mutex<view::RingView>,
    queues: replicate::Queues,
    /// Drawn at start: tells a restarted node from the one a primary synchronised with.
    incarnation: u64,
    ledger: parking_lot::Mutex<ledger::Ledger>,
    /// The primaries whose replica writes this node stored lately (see `witness.rs`).
    primaries: parking_lot::Mutex<witness::RecentPrimaries>,
    /// Wakes the heal loop (ring events).
    heal: Arc<Notify>,
    last_ring_change: parking_lot::Mutex<Instant>,
    /// Notices when this process was stalled (SIGSTOP, a frozen VM) long enough for the others
    /// to have moved its ranges meanwhile (see `stall.rs`).
    stall: stall::StallWatch,
    round_locks: parking_lot::Mutex<HashMap<Id, Arc<tokio::sync::Mutex<()>>>>,
    /// Striped by key position: held by a primary from reading a key's value to storing its
    /// new record, by plain writes and read-modify-writes alike, so none is lost between.
    key_locks: Box<[parking_lot::Mutex<()>]>,
}

/// One node's share of the replicated table.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), dtable::TableError> {
/// use dendrite::{mem::MemNetwork, Config};
/// use dtable::{Table, TableConfig};
/// let net = MemNetwork::new(1);
/// let table = Table::create(Config::new("a:1"), net.endpoint("a:1"), TableConfig::default()).await?;
/// table.query().set("greeting", "hello").await?;
/// assert_eq!(table.query().get("greeting").await?.as_deref(), Some(&b"hello"[..]));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Table {
    inner: Arc<TableInner>,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("host", &self.inner.ring.local_host())
            .field("keys", &self.inner.store.len_live())
            .finish()
    }
}

/// Receives dtable requests; bound to the table once it exists (it is registered before the
/// ring starts so the node is never reachable without it).
#[derive(Default)]
struct LateHandler {
    table: OnceLock<Weak<TableInner>>,
}

impl Table {
    /// Starts a new ring (this node alone) with a table on it.
    pub async fn create(
        ring_config: Config,
        transport: Arc<dyn Transport>,
        config: TableConfig,
    ) -> Result<Table, TableError> {
        Table::start(ring_config, transport, &[], config, None).await
    }

    /// [`create`](Table::create) on a store recovered from disk, logging every record it
    /// accepts from now on (see [`crate::durable`]). Recover before calling this: the node
    /// serves and joins only with its data loaded.
    pub async fn create_durable(
        ring_config: Config,
        transport: Arc<dyn Transport>,
        config: TableConfig,
        persistence: Persistence,
    ) -> Result<Table, TableError> {
        Table::start(ring_config, transport, &[], config, Some(persistence)).await
    }

    /// Joins the ring of `seeds` and takes over this node's ranges from their current holders.
    pub async fn join(
        ring_config: Config,
        transport: Arc<dyn Transport>,
        seeds: &[String],
        config: TableConfig,
    ) -> Result<Table, TableError> {
        if seeds.is_empty() {
            return Err(TableError::Ring(dendrite::RingError::NoSeed(Vec::new())));
        }
        Table::start(ring_config, transport, seeds, config, None).await
    }

    /// [`join`](Table::join) with a store recovered from disk (see
    /// [`create_durable`](Table::create_durable)): the node rejoins at its address with its
    /// data, and anti-entropy pulls only what changed while it was away.
    pub async fn join_durable(
        ring_config: Config,
        transport: Arc<dyn Transport>,
        seeds: &[String],
        config: TableConfig,
        persistence: Persistence,
    ) -> Result<Table, TableError> {
        if seeds.is_empty() {
            return Err(TableError::Ring(dendrite::RingError::NoSeed(Vec::new())));
        }
        Table::start(ring_config, transport, seeds, config, Some(persistence)).await
    }

    async fn start(
        mut ring_config: Config,
        transport: Arc<dyn Transport>,
        seeds: &[String],
        config: TableConfig,
        persistence: Option<Persistence>,
    ) -> Result<Table, TableError> {
        if ring_config.vnode_ids.is_empty() {
            // Whole hash slots per vnode, placed to even out ownership (crate::tokens), unless
            // the caller chose ids itself.
            let ring_now = if seeds.is_empty() {
                Vec::new()
            } else {
                Ring::survey(&transport, seeds, &ring_config).await?
            };
            ring_config.vnode_ids = crate::tokens::choose_vnode_ids(
                &ring_now,
                transport.local_host(),
                ring_config.num_vnodes,
            );
        }
        validate(&config, &ring_config)?;
        let handler = Arc::new(LateHandler::default());
        let extensions = Extensions::default();
        let kinds: Vec<u8> = (kind::STATUS..=kind::PROMOTE_KEY)
            .chain(kind::WRITE..=kind::PURGE)
            .chain([kind::PROBE, kind::MODIFY, kind::MODIFY_MANY])
            .collect();
        extensions
            .register(&kinds, handler.clone())
            .map_err(|e| TableError::Protocol {
                host: ring_config.host.clone(),
                reason: e.to_string(),
            })?;
        let node_id = node_id(transport.local_host());
        let ring = if seeds.is_empty() {
            Ring::create_with(ring_config, transport, extensions).await?
        } else {
            Ring::join_with(ring_config, transport, seeds, extensions).await?
        };
        let (store, log) = match persistence {
            Some(Persistence { store, log }) => {
                store.set_observer(log.appender());
                (store, Some(log))
            }
            None => (Arc::new(Store::new(config.shards)), None),
        };
        let clock = {
            let offset = config.clock_offset_ms;
            let time = config.time.clone();
            Clock::new(node_id, move || {
                time.now_millis().saturating_add_signed(offset)
            })
            .with_max_ahead(config.max_clock_skew)
        };
        if let Some(newest) = log.as_ref().and_then(|log| log.recovery().max_version) {
            // Versions issued from now on order after everything loaded from disk. One beyond
            // the skew bound is not observed (it was stored before the bound refused it).
            let _ = clock.observe(&newest);
        }
        let started_millis = clock.now_millis();
        let incarnation = incarnation(ring.config().rng_seed, started_millis);
        let inner = Arc::new(TableInner {
            ring,
            store,
            log,
            clock,
            started_millis,
            stats: TableStats::default(),
            tasks: parking_lot::Mutex::new(Vec::new()),
            view: parking_lot::Mutex::new(view::RingView::new()),
            queues: replicate::Queues::default(),
            incarnation,
            ledger: parking_lot::Mutex::new(ledger::Ledger::default()),
            primaries: parking_lot::Mutex::new(witness::RecentPrimaries::default()),
            heal: Arc::new(Notify::new()),
            last_ring_change: parking_lot::Mutex::new(Instant::now()),
            stall: stall::StallWatch::new(),
            round_locks: parking_lot::Mutex::new(HashMap::new()),
            key_locks: (0..KEY_LOCKS)
                .map(|_| parking_lot::Mutex::new(()))
                .collect(),
            config,
        });
        // Cannot fail: the handler was created above and is bound exactly once.
        let _ = handler.table.set(Arc::downgrade(&inner));
        let table = Table { inner };
        table.inner.spawn_maintenance();
        // Tell the nodes we know that this incarnation runs (a restarted node's peers then
        // refill it at once), then take over our ranges now rather than at the first periodic
        // round (a new ring's rounds are empty, and make its vnodes authoritative at once).
        let inner = table.inner.clone();
        inner.announce().await;
        for vnode in inner.ring.local_vnodes() {
            inner.repair_vnode(&vnode).await;
        }
        info!(host = %table.inner.ring.local_host(), "table started");
        Ok(table)
    }

    /// A query with the table's default consistency; chain settings, then an operation.
    pub fn query(&self) -> Query<'_> {
        Query::new(&self.inner)
    }

    /// The ring this table runs on.
    pub fn ring(&self) -> &Arc<Ring> {
        &self.inner.ring
    }

    /// The table's settings.
    pub fn config(&self) -> &TableConfig {
        &self.inner.config
    }

    /// Keys (holding a value) stored on this node, as primary or replica.
    pub fn local_keys(&self) -> Vec<Bytes> {
        self.inner.store.keys()
    }

    /// What this node holds for `key` (value or tombstone, with its version), if anything.
    pub fn local_record(&self, key: &[u8]) -> Option<Record> {
        self.inner.store.get(key)
    }

    /// Number of keys (holding a value) stored on this node.
    pub fn local_len(&self) -> usize {
        self.inner.store.len_live()
    }

    /// Values held on this node (primary and replica copies) that have a deadline, expired
    /// ones not yet reclaimed included: INFO keyspace's `expires=`.
    pub fn local_expiring(&self) -> usize {
        self.inner.store.len_expiring()
    }

    /// Calls `hook` for every record this node stores from now on (the Go original's item hook).
    /// On a durable table the log keeps receiving every record, before `hook`.
    pub fn set_hook(&self, hook: impl Fn(&[u8], &Record) + Send + Sync + 'static) {
        let append = self.inner.log.as_ref().map(|log| log.appender());
        self.inner.store.set_observer(Box::new(move |key, change| {
            if let Some(append) = &append {
                append(key, change);
            }
            if let Change::Stored(record) = change {
                hook(key, record);
            }
        }));
    }

    /// The durable log, when the table has one.
    pub fn log(&self) -> Option<&Arc<Log>> {
        self.inner.log.as_ref()
    }

    /// Counters for metrics.
    pub fn stats(&self) -> &TableStats {
        &self.inner.stats
    }

    /// Runs one anti-entropy round for every local vnode now, then hands back the copies of
    /// ranges this node no longer serves (tests and operators).
    pub async fn repair_now(&self) {
        for vnode in self.inner.ring.local_vnodes() {
            self.inner.repair_vnode(&vnode).await;
        }
        let _ = self.inner.hand_back().await;
    }

    /// How many local vnodes' ranges lack copies now: the range grew or the replica set changed
    /// since its last complete anti-entropy round, a replica restarted or does not answer, or
    /// the ring has fewer other hosts than `replicas`. 0 means every key this node is primary
    /// for has `replicas + 1` copies (as far as this node can tell): the durability guarantee
    /// holds again. The heal loop brings it to 0 within seconds of a change when the data is
    /// small (docs/performance.md has the time for 1 M keys).
    pub fn underreplicated_ranges(&self) -> usize {
        let replicas = self.inner.ring.config().replicas;
        let ledger = self.inner.ledger.lock();
        self.inner
            .ring
            .local_vnodes()
            .iter()
            .filter(|v| {
                self.inner
                    .current(v)
                    .is_none_or(|now| ledger.underreplicated(v, &now, replicas))
            })
            .count()
    }

    /// Hands every range this node owns to its successors, then leaves the ring.
    pub async fn leave(&self) -> Result<(), TableError> {
        self.inner.hand_off().await;
        self.inner.stop_tasks();
        self.inner.ring.leave().await?;
        if let Some(log) = &self.inner.log {
            // Flushes what is queued, whatever the fsync policy.
            log.close();
        }
        Ok(())
    }

    /// Stops at once without handing anything off (what a crash looks like to the others).
    pub fn shutdown(&self) {
        self.inner.stop_tasks();
        self.inner.ring.shutdown();
    }
}

/// A number drawn afresh each time a table starts (see [`crate::wire::Request::Probe`]): from
/// the OS, or, when the ring is seeded (simulations), from its seed and the start time, so
/// that a seed replays the same way while a restart at a later time still changes it.
fn incarnation(seed: Option<u64>, started_millis: u64) -> u64 {
    use rand::{Rng, SeedableRng};
    match seed {
        Some(seed) => {
            rand::rngs::SmallRng::seed_from_u64(seed ^ started_millis.rotate_left(32)).gen()
        }
        None => rand::random(),
    }
}

/// Stripes of [`TableInner::key_locks`]: enough that writers of different keys rarely meet.
const KEY_LOCKS: usize = 1024;

/// The stripe of [`TableInner::key_locks`] that guards the key at `position`.
fn stripe(position: &KeyPosition) -> usize {
    (position.id().high_u64() % KEY_LOCKS as u64) as usize
}

impl TableInner {
    /// The write lock of the key at `id` (a stripe shared with other keys; held for a few
    /// instructions, never across an `.await`).
    fn key_lock(&self, position: &KeyPosition) -> parking_lot::MutexGuard<'_, ()> {
        self.key_locks[stripe(position)].lock()
    }

    /// Each local vnode with the range it is primary for, `(predecessor, vnode]` (a vnode
    /// whose predecessor is not known yet is left out: it cannot tell what it owns).
    fn local_primaries(&self) -> Vec<(Vnode, IdRange)> {
        self.ring
            .local_vnodes()
            .into_iter()
            .filter_map(|v| {
                let pred = self.ring.predecessor(&v).ok()??;
                let range = IdRange::new(pred.id, v.id);
                Some((v, range))
            })
            .collect()
    }

    /// The write locks of several keys, taken in stripe order (so two multi-key operations
    /// never wait on each other in a cycle), each stripe once.
    fn key_locks(&self, positions: &[KeyPosition]) -> Vec<parking_lot::MutexGuard<'_, ()>> {
        let mut stripes: Vec<usize> = positions.iter().map(stripe).collect();
        stripes.sort_unstable();
        stripes.dedup();
        stripes
            .into_iter()
            .map(|stripe| self.key_locks[stripe].lock())
            .collect()
    }

    /// What local `vnode` owns and who holds its replicas now, for the ledger; `None` when the
    /// vnode is not local (any more).
    /// On every primary read: copies the predecessor and the replica set, not the successor
    /// list (which is only needed, rarely, when there is no predecessor).
    fn current(&self, vnode: &Vnode) -> Option<ledger::Current> {
        let range = match self.ring.predecessor(vnode).ok()? {
            Some(p) => Some(IdRange::new(p.id, vnode.id)),
            None => {
                // Alone on the ring: everything is ours.
                let successors = self.ring.neighbours(vnode).ok()?.successors;
                successors.is_empty().then(|| IdRange::whole_ring(vnode.id))
            }
        };
        let replicas = self.ring.replicas(vnode).ok()?;
        Some(ledger::Current { range, replicas })
    }

    /// Where the key at `id` lives by the cached ring view (rebuilt first when stale, see
    /// [`view`]); `None` while the view knows no vnode.
    fn view_placement(&self, id: Id) -> Option<Placement> {
        let wanted = self.ring.config().num_successors;
        let successors = {
            let mut view = self.view.lock();
            if view.is_stale() {
                view.rebuild(&self.ring);
            }
            view.successors(&id, wanted)
        };
        Placement::from_successors(&successors, self.ring.config().replicas).ok()
    }

    /// Is local vnode `vnode` authoritative for every key at `positions` (see [`ledger`])?
    fn is_authoritative(&self, vnode: &Vnode, positions: &[KeyPosition]) -> bool {
        !self.stall.in_doubt(self.ring.rejoin_epoch())
            && self
                .current(vnode)
                .is_some_and(|now| self.ledger.lock().authoritative(vnode, &now, positions))
    }

    fn stop_tasks(&self) {
        for task in self.tasks.lock().drain(..) {
            task.abort();
        }
    }
}

impl Drop for TableInner {
    fn drop(&mut self) {
        self.stop_tasks();
        // The observer holds the log's buffer (and through it the store): let both go.
        self.store.clear_observer();
    }
}

fn validate(config: &TableConfig, ring: &Config) -> Result<(), TableError> {
    let max = ring.replicas + 1;
    if config.default_consistency == 0 || config.default_consistency > max {
        return Err(TableError::InvalidConsistency {
            wanted: config.default_consistency,
            max,
        });
    }
    Ok(())
}

/// A node's id for version tie-breaks: stable across restarts of the same address.
fn node_id(host: &str) -> u64 {
    dendrite::Id::of_key(host.as_bytes()).high_u64()
}

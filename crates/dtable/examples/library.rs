//! dtable as a library, the way the Go original was used: three nodes on real TCP (loopback,
//! ports the system picks), a ring created by the first and joined through any member, writes
//! with a per-query consistency, reads from any node, the keys each node holds, a capture hook
//! that sees every record a node stores, and the ring's events.
//!
//! ```sh
//! cargo run -p dtable --example library
//! ```
//!
//! The body is [`tour`], which `tests/examples.rs` also runs, so the example cannot rot.

use std::error::Error;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use dendrite::{Config, RingEvent};
use dendrite_net::{NetConfig, ZmtpTransport};
use dtable::{Table, TableConfig};
use tokio::task::JoinHandle;
use tokio::time::{sleep, Instant};

/// Stabilization pauses far shorter than the defaults (1-3 s), so that the three nodes settle in
/// about a second; a real deployment keeps the defaults.
const STABILIZE: (Duration, Duration) = (Duration::from_millis(50), Duration::from_millis(150));

/// How long the tour waits for every range to have all its copies before it gives up.
const REPLICATION_DEADLINE: Duration = Duration::from_secs(60);

/// How often the tour reads the under-replication gauges while it waits for them to reach 0
/// (the gauge has no change notification; it is what operators poll too).
const GAUGE_POLL: Duration = Duration::from_millis(50);

/// What the tour saw, for the test that runs it.
#[derive(Debug)]
pub struct TableTour {
    /// `greeting` as read back from each node, in join order.
    pub greetings: Vec<Option<Bytes>>,
    /// Keys holding a value on each node, in join order.
    pub local_keys: Vec<usize>,
    /// Records the capture hook of the third node saw.
    pub captured: usize,
    /// `user:2` read after its delete.
    pub deleted: Option<Bytes>,
}

/// Starts three nodes, writes and reads through all of them, then lets them leave in turn.
pub async fn tour() -> Result<TableTour, Box<dyn Error>> {
    // The first node creates the ring; each later one joins through a member it knows (any
    // member will do: here the previous one).
    let mut tables: Vec<Table> = Vec::new();
    let mut listeners: Vec<JoinHandle<()>> = Vec::new();
    for _ in 0..3 {
        let transport = ZmtpTransport::bind("127.0.0.1:0", NetConfig::default()).await?;
        let mut config = Config::new(dendrite::Transport::local_host(&*transport));
        (config.stabilize_min, config.stabilize_max) = STABILIZE;
        let table = match tables.last() {
            None => Table::create(config, transport, TableConfig::default()).await?,
            Some(member) => {
                let seed = member.ring().local_host().to_string();
                Table::join(config, transport, &[seed], TableConfig::default()).await?
            }
        };
        println!("node {} is on the ring", table.ring().local_host());
        listeners.push(print_events(&table));
        tables.push(table);
    }

    // The capture hook sees every record the node stores: its own writes, replica copies and
    // ranges it takes over.
    let captured = Arc::new(AtomicUsize::new(0));
    if let Some(third) = tables.last() {
        let count = captured.clone();
        let host = third.ring().local_host().to_string();
        third.set_hook(move |key, record| {
            count.fetch_add(1, Ordering::Relaxed);
            let what = if record.value.is_some() {
                "value"
            } else {
                "tombstone"
            };
            println!(
                "  hook on {host}: {} ({what})",
                String::from_utf8_lossy(key)
            );
        });
    }

    // A write at consistency 2 is acknowledged once two copies on distinct hosts hold it, which
    // needs a replica set on another host: wait until no node lacks copies of any range.
    wait_fully_replicated(&tables).await?;

    let [first, second, third] = tables.as_slice() else {
        return Err("the tour runs three nodes".into());
    };
    first
        .query()
        .consistency(2)
        .set("greeting", "hello from dendrite")
        .await?;
    second
        .query()
        .consistency(3)
        .set_multi(vec![
            (Bytes::from("user:1"), Bytes::from("alice")),
            (Bytes::from("user:2"), Bytes::from("bob")),
        ])
        .await?;
    third.query().consistency(2).delete("user:2").await?;

    let mut greetings = Vec::new();
    for table in &tables {
        let greeting = table.query().get("greeting").await?;
        println!(
            "{} reads greeting = {greeting:?}",
            table.ring().local_host()
        );
        greetings.push(greeting);
    }
    let deleted = first.query().read_consistency(3).get("user:2").await?;
    println!("user:2 after its delete = {deleted:?}");

    // Every node holds the keys of the ranges it is primary or replica for: with two replicas
    // on a ring of three nodes, that is every key (the copies a write's consistency did not
    // wait for arrive in the background, within milliseconds).
    let local_keys: Vec<usize> = tables.iter().map(Table::local_len).collect();
    for table in &tables {
        let mut keys: Vec<String> = table
            .local_keys()
            .iter()
            .map(|key| String::from_utf8_lossy(key).into_owned())
            .collect();
        keys.sort();
        println!("{} holds {keys:?}", table.ring().local_host());
    }

    // Leaving hands each owned range to a successor on another node, then leaves the ring.
    for table in tables.iter().rev() {
        table.leave().await?;
    }
    for listener in listeners {
        listener.abort();
    }
    Ok(TableTour {
        greetings,
        local_keys,
        captured: captured.load(Ordering::Relaxed),
        deleted,
    })
}

/// Prints the ring events of `table`'s node as they happen.
fn print_events(table: &Table) -> JoinHandle<()> {
    let mut events = table.ring().subscribe();
    let host = table.ring().local_host().to_string();
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            let what = match &event {
                RingEvent::PredecessorJoined { new, .. } => format!("predecessor joined: {new}"),
                RingEvent::PredecessorLeft { old, .. } => format!("predecessor left: {old}"),
                RingEvent::ReplicasChanged { new, .. } => format!("replicas now {new:?}"),
            };
            println!("  event on {host} for {}: {what}", event.vnode());
        }
    })
}

/// Waits until every node's under-replication gauge reads 0.
async fn wait_fully_replicated(tables: &[Table]) -> Result<(), Box<dyn Error>> {
    let deadline = Instant::now() + REPLICATION_DEADLINE;
    loop {
        let lacking: usize = tables.iter().map(Table::underreplicated_ranges).sum();
        if lacking == 0 {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "{lacking} ranges still lack copies after {REPLICATION_DEADLINE:?}"
            )
            .into());
        }
        sleep(GAUGE_POLL).await;
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let seen = tour().await?;
    println!(
        "the capture hook saw {} records; keys per node: {:?}",
        seen.captured, seen.local_keys
    );
    Ok(())
}

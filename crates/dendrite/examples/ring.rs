//! The ring on its own, as an application uses it (the Go original's `CreateRing`, `JoinRing`,
//! `Lookup` and delegate hooks): one node creates a ring, two more join through any member, every
//! node looks the same key up, and the ring's events are printed as they happen.
//!
//! The nodes talk over the in-memory network ([`dendrite::mem::MemNetwork`]) so the example needs
//! no ports; a real node passes `dendrite_net::ZmtpTransport` instead (see the dtable example).
//!
//! ```sh
//! cargo run -p dendrite --example ring
//! ```
//!
//! The body is [`tour`], which `tests/examples.rs` also runs, so the example cannot rot.

use std::collections::BTreeMap;
use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use dendrite::mem::MemNetwork;
use dendrite::{Config, Id, Ring, RingEvent, Vnode};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{timeout, Instant};

/// Stabilization pauses far shorter than the Go defaults (1-3 s), so that the example converges
/// in well under a second; a real deployment keeps the defaults.
const STABILIZE: (Duration, Duration) = (Duration::from_millis(20), Duration::from_millis(60));

/// How long the tour waits for the ring to agree before it gives up.
const CONVERGENCE_DEADLINE: Duration = Duration::from_secs(30);

/// What the tour saw, for the test that runs it.
#[derive(Debug)]
pub struct RingTour {
    /// The vnode every node found responsible for the key, by host.
    pub owners: BTreeMap<String, Vnode>,
    /// The vnode that should own it: the first one clockwise from the key.
    pub expected_owner: Vnode,
    /// Events heard from every node while the ring formed and while a node left.
    pub events: usize,
}

/// Builds a ring of three nodes, looks a key up from each, and lets one node leave.
pub async fn tour() -> Result<RingTour, Box<dyn Error>> {
    let net = MemNetwork::new(1);
    let (sender, mut heard) = mpsc::unbounded_channel();

    // The first node creates the ring; the others join through any member they know.
    let a = Ring::create(config("a:7000"), net.endpoint("a:7000")).await?;
    let mut listeners = vec![listen(&a, sender.clone())];
    let b = Ring::join(config("b:7000"), net.endpoint("b:7000"), &["a:7000".into()]).await?;
    listeners.push(listen(&b, sender.clone()));
    let c = Ring::join(config("c:7000"), net.endpoint("c:7000"), &["b:7000".into()]).await?;
    listeners.push(listen(&c, sender));
    let rings = [a, b, c];

    let key = b"greeting";
    let position = Id::of_key(key);
    let expected_owner = rings
        .iter()
        .flat_map(|ring| ring.local_vnodes())
        .min_by_key(|vnode| position.distance_to(&vnode.id))
        .ok_or("the ring has no vnodes")?;

    // Lookups are answered as soon as they are made, but a node that joined a moment ago may
    // not be known everywhere yet: look again after each event or stabilization period until
    // every node names the same owner.
    let mut events = 0;
    let deadline = Instant::now() + CONVERGENCE_DEADLINE;
    let owners = loop {
        let mut owners = BTreeMap::new();
        for ring in &rings {
            let successors = ring.find_successors(position, 1).await?;
            if let Some(owner) = successors.into_iter().next() {
                owners.insert(ring.local_host().to_string(), owner);
            }
        }
        if owners.len() == rings.len() && owners.values().all(|owner| *owner == expected_owner) {
            break owners;
        }
        if Instant::now() >= deadline {
            return Err(
                format!("the ring did not agree on the owner of {key:?}: {owners:?}").into(),
            );
        }
        events += next_events(&mut heard, STABILIZE.1).await;
    };
    println!("{key:?} is at {position}; every node finds it on {expected_owner}");

    // A graceful leave tells the neighbours at once: their predecessor-left events follow.
    let [a, b, c] = rings;
    c.leave().await?;
    println!("c:7000 left the ring");
    events += next_events(&mut heard, STABILIZE.1).await;
    for ring in [&a, &b] {
        ring.shutdown();
    }
    for listener in listeners {
        listener.abort();
    }
    Ok(RingTour {
        owners,
        expected_owner,
        events,
    })
}

/// A node's configuration with the example's short stabilization pauses.
fn config(host: &str) -> Config {
    let mut config = Config::new(host);
    (config.stabilize_min, config.stabilize_max) = STABILIZE;
    config
}

/// Forwards every event of `ring` to one channel, tagged with the node's host.
fn listen(ring: &Arc<Ring>, sender: mpsc::UnboundedSender<(String, RingEvent)>) -> JoinHandle<()> {
    let mut events = ring.subscribe();
    let host = ring.local_host().to_string();
    tokio::spawn(async move {
        // A lagging subscriber is told how many events it missed; the example just goes on.
        while let Ok(event) = events.recv().await {
            if sender.send((host.clone(), event)).is_err() {
                break;
            }
        }
    })
}

/// Prints the events that arrive within `quiet` of each other; returns how many.
async fn next_events(
    heard: &mut mpsc::UnboundedReceiver<(String, RingEvent)>,
    quiet: Duration,
) -> usize {
    let mut count = 0;
    while let Ok(Some((host, event))) = timeout(quiet, heard.recv()).await {
        println!("  event on {host}: {event:?}");
        count += 1;
    }
    count
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let seen = tour().await?;
    println!("{} ring events in all", seen.events);
    Ok(())
}

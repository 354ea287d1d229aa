//! A ring over real TCP with every link encrypted and authenticated by CURVE: three nodes on
//! loopback (ports the system picks) share one cluster key pair for serving and each present a
//! node key pair of their own, which the others admit by their allowlist. The first node
//! creates the ring, two join through it, every node looks the same key up until they all name
//! the same owner, and a node whose key pair is not on the allowlist tries to join and is
//! refused.
//!
//! ```sh
//! cargo run -p dendrite-net --example secure_ring
//! ```
//!
//! The body is [`tour`], which `tests/examples.rs` also runs, so the example cannot rot.

use std::collections::{BTreeMap, HashSet};
use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use dendrite::{Config, Id, Ring, RingError, Transport, Vnode};
use dendrite_net::{NetConfig, NetSecurity, ZmtpTransport};
use tokio::time::{sleep, timeout, Instant};
use zmtp::KeyPair;

/// Stabilization pauses far shorter than the defaults (1-3 s), so that the three nodes settle in
/// well under a second; a real deployment keeps the defaults.
const STABILIZE: (Duration, Duration) = (Duration::from_millis(20), Duration::from_millis(60));

/// How long the tour waits for the ring to agree before it gives up.
const CONVERGENCE_DEADLINE: Duration = Duration::from_secs(30);

/// How long the node that is not on the allowlist may take to be turned away.
pub const REFUSAL_DEADLINE: Duration = Duration::from_secs(10);

/// What the tour saw, for the test that runs it.
#[derive(Debug)]
pub struct SecureRingTour {
    /// The vnode every node found responsible for the key, by host.
    pub owners: BTreeMap<String, Vnode>,
    /// The vnode that should own it: the first one clockwise from the key.
    pub expected_owner: Vnode,
    /// Why the node whose key is not on the allowlist could not join; `None` if it joined.
    pub stranger_error: Option<RingError>,
}

/// Builds a ring of three CURVE nodes, looks a key up from each, then lets a stranger try to
/// join.
pub async fn tour() -> Result<SecureRingTour, Box<dyn Error>> {
    // One key pair the whole cluster serves with; one key pair per node, each on the allowlist.
    let cluster = KeyPair::generate();
    let members: Vec<KeyPair> = (0..3).map(|_| KeyPair::generate()).collect();
    let allowlist: HashSet<_> = members.iter().map(|keys| keys.public).collect();
    println!("cluster public key: {}", cluster.public);
    let secure = |node_keys: &KeyPair| NetConfig {
        security: NetSecurity::Curve {
            cluster_secret: cluster.secret.clone(),
            node_keys: node_keys.clone(),
            allowlist: Some(allowlist.clone()),
        },
        ..NetConfig::default()
    };

    // The first node creates the ring; the others join through it.
    let mut rings: Vec<Arc<Ring>> = Vec::new();
    let mut transports: Vec<Arc<ZmtpTransport>> = Vec::new();
    for node_keys in &members {
        let transport = ZmtpTransport::bind("127.0.0.1:0", secure(node_keys)).await?;
        let host = transport.local_host().to_string();
        let ring = match rings.first() {
            None => Ring::create(config(&host), transport.clone()).await?,
            Some(first) => {
                let seed = first.local_host().to_string();
                Ring::join(config(&host), transport.clone(), &[seed]).await?
            }
        };
        println!("node {host} (key {}) is on the ring", node_keys.public);
        rings.push(ring);
        transports.push(transport);
    }

    let key = "greeting";
    let position = Id::of_key(key.as_bytes());
    let expected_owner = rings
        .iter()
        .flat_map(|ring| ring.local_vnodes())
        .min_by_key(|vnode| position.distance_to(&vnode.id))
        .ok_or("the ring has no vnodes")?;

    // A node that joined a moment ago may not be known everywhere yet: look again after each
    // stabilization period until every node names the same owner.
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
        sleep(STABILIZE.1).await;
    };
    println!("{key:?} is at {position}; every node finds it on {expected_owner}");

    // A stranger knows the cluster key but its own key is on nobody's allowlist: the seed
    // refuses it during the CURVE handshake, so it finds no member to join through.
    let stranger_keys = KeyPair::generate();
    let stranger = ZmtpTransport::bind("127.0.0.1:0", secure(&stranger_keys)).await?;
    let stranger_host = stranger.local_host().to_string();
    let seed = rings
        .first()
        .map(|ring| ring.local_host().to_string())
        .ok_or("the ring has no nodes")?;
    let joined = timeout(
        REFUSAL_DEADLINE,
        Ring::join(config(&stranger_host), stranger.clone(), &[seed]),
    )
    .await
    .map_err(|_| format!("the stranger's join did not end within {REFUSAL_DEADLINE:?}"))?;
    let stranger_error = match joined {
        Ok(ring) => {
            println!("node {stranger_host} joined without being on the allowlist!");
            ring.shutdown();
            None
        }
        Err(error) => {
            println!(
                "node {stranger_host} (key {}) was refused: {error}",
                stranger_keys.public
            );
            Some(error)
        }
    };
    stranger.shutdown().await;

    for ring in &rings {
        ring.shutdown();
    }
    for transport in &transports {
        transport.shutdown().await;
    }
    Ok(SecureRingTour {
        owners,
        expected_owner,
        stranger_error,
    })
}

/// A node's configuration with the example's short stabilization pauses.
fn config(host: &str) -> Config {
    let mut config = Config::new(host);
    (config.stabilize_min, config.stabilize_max) = STABILIZE;
    config
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let seen = tour().await?;
    println!(
        "{} nodes agree on the owner; the stranger was {}",
        seen.owners.len(),
        if seen.stranger_error.is_some() {
            "turned away"
        } else {
            "let in"
        }
    );
    Ok(())
}

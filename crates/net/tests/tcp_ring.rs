//! The ring and the table over real loopback TCP (ZMTP, NULL and CURVE).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use dendrite::chord::{ideal_state, successor_of};
use dendrite::{Config, Id, Ring, RingError, Transport, Vnode};
use dendrite_net::{NetConfig, NetSecurity, ZmtpTransport};
use dtable::{Table, TableConfig};
use zmtp::KeyPair;

fn config(host: &str) -> Config {
    let mut c = Config::new(host);
    c.stabilize_min = Duration::from_millis(30);
    c.stabilize_max = Duration::from_millis(90);
    c.rpc_timeout = Duration::from_millis(500);
    c
}

async fn node(
    net: NetConfig,
    seed: Option<&str>,
) -> Result<(Arc<Ring>, Arc<ZmtpTransport>), RingError> {
    let transport = ZmtpTransport::bind("127.0.0.1:0", net).await.unwrap();
    let host = transport.local_host().to_string();
    let ring = match seed {
        None => Ring::create(config(&host), transport.clone()).await?,
        Some(s) => Ring::join(config(&host), transport.clone(), &[s.to_string()]).await?,
    };
    Ok((ring, transport))
}

fn converged(rings: &[Arc<Ring>]) -> bool {
    let all: Vec<Vnode> = rings.iter().flat_map(|r| r.local_vnodes()).collect();
    rings.iter().all(|r| {
        r.snapshot().iter().all(|s| {
            let ideal = ideal_state(&s.vnode, &all, 8);
            s.predecessor.as_ref() == Some(&ideal.predecessor) && s.successors == ideal.successors
        })
    })
}

/// Polls until the ring is right, for at most 30 s.
async fn wait_converged(rings: &[Arc<Ring>]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !converged(rings) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "ring did not converge over TCP"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn assert_lookups(rings: &[Arc<Ring>]) {
    let mut all: Vec<Vnode> = rings.iter().flat_map(|r| r.local_vnodes()).collect();
    all.sort_by_key(|v| v.id);
    for i in 0..200u32 {
        let key = Id::of_key(&i.to_be_bytes());
        let ring = &rings[i as usize % rings.len()];
        let found = ring.find_successors(key, 1).await.unwrap();
        assert_eq!(found[0], successor_of(&all, &key), "key {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_nodes_form_a_ring_over_tcp_and_repair_after_a_crash() {
    let (first, t0) = node(NetConfig::default(), None).await.unwrap();
    let seed = t0.local_host().to_string();
    let mut rings = vec![first];
    let mut transports = vec![t0];
    for _ in 0..4 {
        let (r, t) = node(NetConfig::default(), Some(&seed)).await.unwrap();
        rings.push(r);
        transports.push(t);
    }
    wait_converged(&rings).await;
    assert_lookups(&rings).await;

    // Drop node 2 abruptly: its port closes, nobody is told.
    let victim = rings.remove(2);
    victim.shutdown();
    transports.remove(2).shutdown().await;
    wait_converged(&rings).await;
    assert_lookups(&rings).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curve_admits_allow_listed_nodes_only() {
    let cluster = KeyPair::generate();
    let members: Vec<KeyPair> = (0..3).map(|_| KeyPair::generate()).collect();
    let allow: HashSet<_> = members.iter().map(|k| k.public).collect();
    let secure = |keys: &KeyPair| NetConfig {
        security: NetSecurity::Curve {
            cluster_secret: cluster.secret.clone(),
            node_keys: keys.clone(),
            allowlist: Some(allow.clone()),
        },
        ..NetConfig::default()
    };
    let (first, t0) = node(secure(&members[0]), None).await.unwrap();
    let seed = t0.local_host().to_string();
    let mut rings = vec![first];
    for keys in &members[1..] {
        rings.push(node(secure(keys), Some(&seed)).await.unwrap().0);
    }
    wait_converged(&rings).await;
    assert_lookups(&rings).await;

    // A stranger knows the cluster key but is not on the allowlist: refused at the handshake.
    let stranger = KeyPair::generate();
    let refused = node(secure(&stranger), Some(&seed)).await;
    assert!(
        matches!(refused, Err(RingError::NoSeed(_))),
        "{:?}",
        refused.err()
    );
    // Without the cluster key (NULL), nothing gets through either.
    let plain = node(NetConfig::default(), Some(&seed)).await;
    assert!(matches!(plain, Err(RingError::NoSeed(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_table_works_over_tcp_and_survives_a_crash() {
    let mut tables = Vec::new();
    let mut transports = Vec::new();
    let mut seed: Option<String> = None;
    for _ in 0..5 {
        let t = ZmtpTransport::bind("127.0.0.1:0", NetConfig::default())
            .await
            .unwrap();
        let host = t.local_host().to_string();
        let table = match &seed {
            None => Table::create(config(&host), t.clone(), TableConfig::default()).await,
            Some(s) => {
                Table::join(
                    config(&host),
                    t.clone(),
                    std::slice::from_ref(s),
                    TableConfig::default(),
                )
                .await
            }
        }
        .unwrap();
        seed.get_or_insert(host);
        tables.push(table);
        transports.push(t);
    }
    let rings: Vec<_> = tables.iter().map(|t| t.ring().clone()).collect();
    wait_converged(&rings).await;
    for i in 0..300u32 {
        tables[i as usize % 5]
            .query()
            .consistency(3)
            .set(format!("k{i}"), format!("v{i}"))
            .await
            .unwrap();
    }
    let pairs = (300..400u32)
        .map(|i| (format!("k{i}").into(), format!("v{i}").into()))
        .collect();
    tables[0].query().set_multi(pairs).await.unwrap();
    for t in &tables {
        for i in (0..400u32).step_by(7) {
            assert_eq!(
                t.query().get(format!("k{i}")).await.unwrap(),
                Some(format!("v{i}").into())
            );
        }
    }
    // Kill one node abruptly; every key written at consistency 3 stays readable.
    let victim = tables.remove(3);
    victim.shutdown();
    transports.remove(3).shutdown().await;
    let rings: Vec<_> = tables.iter().map(|t| t.ring().clone()).collect();
    wait_converged(&rings).await;
    for i in 0..300u32 {
        let t = &tables[i as usize % 4];
        assert_eq!(
            t.query().get(format!("k{i}")).await.unwrap(),
            Some(format!("v{i}").into()),
            "k{i}"
        );
    }
    tables[1]
        .query()
        .consistency(3)
        .set("after", "crash")
        .await
        .unwrap();
}

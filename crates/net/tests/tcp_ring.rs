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
    let (first, t0) = table_node(None).await;
    let seed = t0.local_host().to_string();
    let mut tables = vec![first];
    let mut transports = vec![t0];
    for _ in 0..4 {
        let (table, transport) = table_node(Some(&seed)).await;
        tables.push(table);
        transports.push(transport);
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

/// Starts a table node over TCP; the first creates the ring, the others join `seed`.
async fn table_node(seed: Option<&str>) -> (Table, Arc<ZmtpTransport>) {
    let t = ZmtpTransport::bind("127.0.0.1:0", NetConfig::default())
        .await
        .unwrap();
    let host = t.local_host().to_string();
    let table = match seed {
        None => Table::create(config(&host), t.clone(), TableConfig::default()).await,
        Some(s) => {
            Table::join(
                config(&host),
                t.clone(),
                &[s.to_string()],
                TableConfig::default(),
            )
            .await
        }
    }
    .unwrap();
    (table, t)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_over_tcp_under_write_load_loses_no_acknowledged_write() {
    let (first, t0) = table_node(None).await;
    let seed = t0.local_host().to_string();
    let mut tables = vec![first];
    for _ in 0..2 {
        tables.push(table_node(Some(&seed)).await.0);
    }
    let rings: Vec<_> = tables.iter().map(|t| t.ring().clone()).collect();
    wait_converged(&rings).await;
    let writer = tables[1].clone();
    let load = tokio::spawn(async move {
        let mut acked = Vec::new();
        for round in 0..3u32 {
            for i in 0..200u32 {
                let value = format!("v{i}-{round}");
                if writer
                    .query()
                    .set(format!("k{i}"), value.clone())
                    .await
                    .is_ok()
                {
                    // Read-your-write through the same coordinator, during the join.
                    let read = writer.query().get(format!("k{i}")).await.unwrap();
                    assert_eq!(read, Some(value.clone().into()), "k{i} round {round}");
                    acked.push((i, value));
                }
            }
        }
        acked
    });
    let (joiner, _t) = table_node(Some(&seed)).await;
    let acked = load.await.unwrap();
    assert!(!acked.is_empty());
    let mut latest = std::collections::BTreeMap::new();
    for (i, v) in acked {
        latest.insert(i, v);
    }
    tables.push(joiner.clone());
    let rings: Vec<_> = tables.iter().map(|t| t.ring().clone()).collect();
    wait_converged(&rings).await;
    for (i, v) in &latest {
        let got = joiner.query().get(format!("k{i}")).await.unwrap();
        assert_eq!(got, Some(v.clone().into()), "k{i} after the join");
    }
    assert!(joiner.local_len() > 0, "the joiner took over no keys");
}

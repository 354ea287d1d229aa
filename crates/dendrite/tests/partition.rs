//! Partitions on the in-memory network, in virtual time: each side re-forms a ring of its own
//! while cut off, and the two rings merge again after the heal, whatever the sides' sizes.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use dendrite::mem::Cluster;
use dendrite::Config;

fn template() -> Config {
    let mut c = Config::new("template:1");
    c.num_vnodes = 3;
    c
}

/// Grows `nodes` nodes, cuts the first `minority` of them off from the others for `cut`, heals,
/// and returns how many convergence checks the merge took (or the last difference seen).
async fn cut_and_heal(
    seed: u64,
    nodes: usize,
    minority: usize,
    cut: Duration,
) -> Result<usize, String> {
    let (cluster, _) = cut_off(seed, nodes, minority, cut).await;
    cluster.network().heal();
    cluster.wait_converged(120).await
}

/// Grows `nodes` nodes and cuts the first `minority` of them off from the others for `cut`
/// (each side has re-formed a ring of its own by then); returns the cluster and the small
/// side's hosts.
async fn cut_off(
    seed: u64,
    nodes: usize,
    minority: usize,
    cut: Duration,
) -> (Cluster, Vec<String>) {
    let mut cluster = Cluster::new(seed, template());
    for _ in 0..nodes {
        cluster.add_node().await.expect("join");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    cluster
        .wait_converged(60)
        .await
        .expect("converged before the cut");
    let hosts: Vec<String> = cluster.nodes().keys().cloned().collect();
    let (small, large) = hosts.split_at(minority);
    for a in small {
        for b in large {
            cluster.network().partition(a, b);
        }
    }
    tokio::time::sleep(cut).await;
    for host in small {
        let ring = &cluster.nodes()[host];
        for snap in ring.snapshot() {
            assert!(
                snap.successors
                    .iter()
                    .all(|s| small.iter().any(|h| *h == *s.host)),
                "{}: still lists a vnode across the cut after {cut:?}: {:?}",
                snap.vnode,
                snap.successors
            );
        }
    }
    let small = small.to_vec();
    (cluster, small)
}

#[tokio::test(start_paused = true)]
async fn a_one_node_minority_finds_the_ring_again_after_the_heal() {
    for seed in [1, 2, 3] {
        let checks = cut_and_heal(seed, 5, 1, Duration::from_secs(30))
            .await
            .unwrap_or_else(|diff| panic!("seed {seed}: rings did not merge: {diff}"));
        println!("seed {seed}: merged after {checks} checks");
    }
}

#[tokio::test(start_paused = true)]
async fn a_two_node_minority_finds_the_ring_again_after_the_heal() {
    for seed in [1, 2, 3, 4, 5, 6] {
        let checks = cut_and_heal(seed, 5, 2, Duration::from_secs(30))
            .await
            .unwrap_or_else(|diff| panic!("seed {seed}: rings did not merge: {diff}"));
        println!("seed {seed}: merged after {checks} checks");
    }
}

#[tokio::test(start_paused = true)]
async fn two_halves_merge_back_into_one_ring() {
    for (seed, nodes, minority) in [(7, 6, 3), (8, 10, 5), (9, 10, 4)] {
        let checks = cut_and_heal(seed, nodes, minority, Duration::from_secs(60))
            .await
            .unwrap_or_else(|diff| panic!("seed {seed}: rings did not merge: {diff}"));
        println!("seed {seed}, {minority} of {nodes} cut: merged after {checks} checks");
    }
}

/// A node back from the small side stops *rejoining* (its copies vouch again, in dtable) only
/// with rings merged: at that moment every vnode of it has its true first successor. A merge
/// through a far host looks each vnode's own id up there; once the far side knew the vnode
/// (it notified one of theirs), the answer began with the vnode itself, which is no successor,
/// and the merge kept the small side's list: a replica set that skipped the vnodes that served
/// the range during the cut (docs/reliability.md, fix 33). Its predecessor must be the true one
/// too (fix 35).
#[tokio::test(start_paused = true)]
async fn a_node_stops_rejoining_only_with_its_true_successors() {
    for seed in [1, 2, 3, 4, 5, 6] {
        let (cluster, small) = cut_off(seed, 5, 2, Duration::from_secs(30)).await;
        cluster.network().heal();
        let mut pending = small.clone();
        let mut rejoined = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !pending.is_empty() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "seed {seed}: {pending:?} never rejoined"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
            let mut all: Vec<dendrite::Vnode> = cluster
                .nodes()
                .values()
                .flat_map(|ring| ring.local_vnodes())
                .collect();
            all.sort_by_key(|v| v.id);
            pending.retain(|host| {
                let ring = &cluster.nodes()[host];
                // Rejoining begins at the first answer from the far side and ends at the merge.
                if ring.rejoin_epoch() % 2 == 1 || ring.rejoin_epoch() < 2 {
                    return true;
                }
                for vnode in ring.local_vnodes() {
                    let at = all.iter().position(|v| v.id == vnode.id).unwrap();
                    let truth = &all[(at + 1) % all.len()];
                    let neighbours = ring.neighbours(&vnode).unwrap();
                    let first = neighbours.successors.first().cloned();
                    assert_eq!(
                        first.as_ref(),
                        Some(truth),
                        "seed {seed}: {vnode} stopped rejoining with successor {first:?}"
                    );
                    // And with its true predecessor: one of its side's would make it take the
                    // keys of the far vnodes between for its own (fix 35).
                    let before = &all[(at + all.len() - 1) % all.len()];
                    assert_eq!(
                        neighbours.predecessor.as_ref(),
                        Some(before),
                        "seed {seed}: {vnode} stopped rejoining with predecessor {:?}",
                        neighbours.predecessor
                    );
                }
                rejoined.push(host.clone());
                false
            });
        }
        println!("seed {seed}: {rejoined:?} rejoined with their true successors");
    }
}

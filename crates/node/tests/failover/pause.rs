//! Scenario D: two of five nodes paused (SIGSTOP) long enough for the others to drop them, then
//! resumed. Counters incremented at consistency 3 before, during and right after the pause
//! must count every acknowledged INCR: a resumed node must not take its ranges back with the
//! values it held when it stopped (docs/reliability.md, finding 1).

use super::*;

/// Counter keys: enough that some have their primary on the paused nodes.
const COUNTERS: usize = 24;
/// INCRs of every counter in each phase.
const PER_PHASE: usize = 4;

/// Acknowledged and unknown (errored: maybe applied) increments of one counter.
#[derive(Default, Clone, Copy)]
struct Count {
    acknowledged: i64,
    unknown: i64,
}

/// One INCR of every counter `PER_PHASE` times, each through a node drawn from `through`.
async fn phase(
    cons: &mut [MultiplexedConnection],
    through: &[usize],
    counts: &mut [Count],
    rng: &mut StdRng,
) {
    for _ in 0..PER_PHASE {
        for (i, count) in counts.iter_mut().enumerate() {
            let node = through[rng.gen_range(0..through.len())];
            let key = format!("counter:{i}");
            match timeout(REQUEST_TIMEOUT, cons[node].incr::<_, _, i64>(&key, 1)).await {
                Ok(Ok(_)) => count.acknowledged += 1,
                _ => count.unknown += 1,
            }
        }
    }
}

#[tokio::test]
async fn no_lost_increments_across_a_pause() {
    let _one = ONE_AT_A_TIME.lock().await;
    let seed = seed(4);
    let mut rng = StdRng::seed_from_u64(seed);
    let nodes = start_cluster(NODES, NODE_FLAGS).await;
    wait_settled(&nodes.iter().collect::<Vec<_>>(), REPLICAS).await;
    let mut cons = Vec::new();
    for node in &nodes {
        cons.push(session(node).await);
    }
    let all: Vec<usize> = (0..NODES).collect();
    let mut counts = vec![Count::default(); COUNTERS];
    phase(&mut cons, &all, &mut counts, &mut rng).await;
    let paused = pick_nodes(&mut rng, 2);
    let survivors: Vec<usize> = all
        .iter()
        .copied()
        .filter(|n| !paused.contains(n))
        .collect();
    for &n in &paused {
        nodes[n].pause().await.unwrap();
    }
    wait_forgotten(&nodes, &survivors, &paused, "pause").await;
    phase(&mut cons, &survivors, &mut counts, &mut rng).await;
    for &n in &paused {
        nodes[n].resume().await.unwrap();
    }
    // Right after the resume, through every node.
    phase(&mut cons, &all, &mut counts, &mut rng).await;
    wait_settled(&nodes.iter().collect::<Vec<_>>(), REPLICAS).await;
    let mut lost = Vec::new();
    for (i, count) in counts.iter().enumerate() {
        let key = format!("counter:{i}");
        for (n, con) in cons.iter_mut().enumerate() {
            let value: Option<i64> = eventually_answered(con, &key).await;
            let value = value.unwrap_or(0);
            if value < count.acknowledged || value > count.acknowledged + count.unknown {
                lost.push(format!(
                    "{key} reads {value} through node {n}: {} INCRs acknowledged, {} unknown",
                    count.acknowledged, count.unknown
                ));
            }
        }
    }
    assert!(
        lost.is_empty(),
        "seed {seed}, paused nodes {paused:?}: {} counters off:\n{}",
        lost.len(),
        lost.join("\n")
    );
}

/// GET `key` through `con` until it answers (errors while the ring settles are retried).
async fn eventually_answered(con: &mut MultiplexedConnection, key: &str) -> Option<i64> {
    let deadline = Instant::now() + WAIT;
    loop {
        match timeout(REQUEST_TIMEOUT, con.get::<_, Option<i64>>(key)).await {
            Ok(Ok(value)) => return value,
            _ if Instant::now() < deadline => sleep(POLL).await,
            other => panic!("GET {key} never answered: {other:?}"),
        }
    }
}

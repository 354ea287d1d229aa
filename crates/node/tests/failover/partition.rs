//! Scenario C: across a partition between network namespaces, a later write beats an earlier
//! delete made on the other side.

use super::*;

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

//! Scenario A: after `kill -9` of two of five nodes, the survivors never answer nil or a wrong
//! value for a key acknowledged at consistency 3, and soon read every key right.

use super::*;

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

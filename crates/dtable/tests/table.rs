//! dtable over the in-memory network, in virtual time (issue 5's scenarios).
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{key, value, Tables};
use dtable::TableError;

#[tokio::test(start_paused = true)]
async fn every_operation_round_trips_through_every_node() {
    let cluster = Tables::start(1, 5, 2).await;
    let writer = cluster.any().clone();
    for i in 0..200 {
        writer.query().set(key(i), value(i, 0)).await.unwrap();
    }
    let pairs: Vec<_> = (200..400).map(|i| (key(i), value(i, 0))).collect();
    writer
        .query()
        .consistency(2)
        .set_multi(pairs)
        .await
        .unwrap();
    for table in cluster.tables.values() {
        for i in 0..400 {
            assert_eq!(table.query().get(key(i)).await.unwrap(), Some(value(i, 0)));
        }
        let keys: Vec<Bytes> = (0..400).map(key).chain([Bytes::from("absent")]).collect();
        let got = table.query().get_multi(keys).await.unwrap();
        assert_eq!(got.len(), 401);
        assert!(got[..400]
            .iter()
            .enumerate()
            .all(|(i, v)| v.as_ref() == Some(&value(i, 0))));
        assert_eq!(got[400], None);
    }
    writer.query().delete(key(7)).await.unwrap();
    writer
        .query()
        .delete_multi(vec![key(8), key(9)])
        .await
        .unwrap();
    for table in cluster.tables.values() {
        assert_eq!(table.query().get(key(7)).await.unwrap(), None);
        assert_eq!(table.query().get(key(9)).await.unwrap(), None);
        assert_eq!(
            table.query().get(key(10)).await.unwrap(),
            Some(value(10, 0))
        );
    }
}

/// A batch that names a key several times (a pipelined client's `SET k 1`, `SET k 2`, ...)
/// leaves the key at its last write on every copy, whatever the other keys of the batch.
#[tokio::test(start_paused = true)]
async fn the_last_write_of_a_key_in_one_batch_wins() {
    let cluster = Tables::start(3, 3, 2).await;
    let writer = cluster.any().clone();
    let mut pairs = Vec::new();
    for round in 0..4 {
        for i in 0..60 {
            pairs.push((key(i), value(i, round)));
        }
    }
    // Keys 60.. once each, between the repeats, so that sorting cannot group by accident.
    pairs.splice(90..90, (60..120).map(|i| (key(i), value(i, 9))));
    writer
        .query()
        .consistency(3)
        .set_multi(pairs)
        .await
        .unwrap();
    for table in cluster.tables.values() {
        let keys: Vec<Bytes> = (0..120).map(key).collect();
        let got = table
            .query()
            .read_consistency(3)
            .get_multi(keys)
            .await
            .unwrap();
        for (i, got) in got.iter().enumerate() {
            let last = if i < 60 { value(i, 3) } else { value(i, 9) };
            assert_eq!(got.as_ref(), Some(&last), "key {i}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn keys_written_at_full_consistency_survive_a_crash_and_copies_come_back() {
    let mut cluster = Tables::start(2, 5, 2).await;
    let writer = cluster.any().clone();
    for i in 0..300 {
        writer
            .query()
            .consistency(3)
            .set(key(i), value(i, 0))
            .await
            .unwrap();
    }
    for i in 0..300 {
        assert_eq!(cluster.copies(&key(i)), 3, "key {i} before the crash");
    }
    let victim = cluster.tables.keys().nth(2).cloned().unwrap();
    cluster.crash(&victim);
    cluster.wait_ring().await;
    cluster.repair_all().await;
    let reader = cluster.any().clone();
    for i in 0..300 {
        assert_eq!(
            reader.query().get(key(i)).await.unwrap(),
            Some(value(i, 0)),
            "key {i}"
        );
        assert!(
            cluster.copies(&key(i)) >= 3,
            "key {i} has {} copies",
            cluster.copies(&key(i))
        );
    }
    // And the cluster takes new writes.
    reader
        .query()
        .consistency(3)
        .set("after", "crash")
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_join_under_write_load_loses_nothing_and_moves_ranges() {
    let mut cluster = Tables::start(3, 3, 2).await;
    let client = cluster.any().clone();
    let mut acknowledged = std::collections::BTreeMap::new();
    for i in 0..300 {
        client.query().set(key(i), value(i, 0)).await.unwrap();
        acknowledged.insert(i, value(i, 0));
    }
    // A writer keeps going while a node joins; it checks its own writes as it goes.
    let writer = client.clone();
    let load = tokio::spawn(async move {
        let mut acked = Vec::new();
        for round in 1..=5 {
            for i in 0..300 {
                let v = value(i, round);
                if writer.query().set(key(i), v.clone()).await.is_ok() {
                    acked.push((i, v.clone()));
                    // Never older than what this client was told is written.
                    let read = writer.query().get(key(i)).await.unwrap();
                    assert_eq!(read, Some(v), "read-your-write of key {i} round {round}");
                }
            }
        }
        acked
    });
    let joined = cluster.add().await;
    let acked = load.await.unwrap();
    for (i, v) in acked {
        acknowledged.insert(i, v);
    }
    // Straight after the join, before any repair: a multi-key read through the joiner (which
    // may not hold its new ranges yet, so its misses go to the replicas) sees every write.
    let keys: Vec<Bytes> = acknowledged.keys().map(|i| key(*i)).collect();
    let got = joined.query().get_multi(keys).await.unwrap();
    for ((i, v), read) in acknowledged.iter().zip(&got) {
        assert_eq!(
            read.as_ref(),
            Some(v),
            "multi-key read of key {i} after the join"
        );
    }
    cluster.wait_ring().await;
    cluster.repair_all().await;
    for (i, v) in &acknowledged {
        assert_eq!(
            client.query().get(key(*i)).await.unwrap().as_ref(),
            Some(v),
            "key {i}"
        );
    }
    // The joiner holds the ranges it now owns.
    assert!(joined.local_len() > 0, "the joining node received no keys");
    for vnode in joined.ring().local_vnodes() {
        let Some(pred) = joined.ring().neighbours(&vnode).unwrap().predecessor else {
            panic!("no predecessor");
        };
        for i in 0..300 {
            let k = key(i);
            if dtable::KeyPosition::of(&k)
                .id()
                .is_between_right_incl(&pred.id, &vnode.id)
            {
                assert!(
                    joined.local_keys().contains(&k),
                    "key {i} not moved to its new owner"
                );
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_replica_that_missed_a_delete_does_not_bring_the_key_back() {
    let cluster = Tables::start(4, 4, 2).await;
    let client = cluster.any().clone();
    client
        .query()
        .consistency(3)
        .set("doomed", "x")
        .await
        .unwrap();
    // Cut one holder of the key off, delete while it is away, bring it back.
    let holders: Vec<String> = cluster
        .tables
        .iter()
        .filter(|(_, t)| t.local_keys().iter().any(|k| k.as_ref() == b"doomed"))
        .map(|(h, _)| h.clone())
        .collect();
    assert_eq!(holders.len(), 3);
    let away = holders.last().unwrap().clone();
    for other in cluster.tables.keys().filter(|h| **h != away) {
        cluster.net.partition(&away, other);
    }
    let deleter = cluster
        .tables
        .iter()
        .find(|(h, _)| **h != away)
        .unwrap()
        .1
        .clone();
    deleter.query().delete("doomed").await.unwrap();
    // Long enough for background retries to give up: only anti-entropy can fix the copy now.
    tokio::time::sleep(Duration::from_secs(120)).await;
    cluster.net.heal();
    cluster.wait_ring().await;
    cluster.repair_all().await;
    for table in cluster.tables.values() {
        assert_eq!(table.query().get("doomed").await.unwrap(), None);
        assert!(!table.local_keys().iter().any(|k| k.as_ref() == b"doomed"));
    }
}

#[tokio::test(start_paused = true)]
async fn replicas_that_diverged_converge_without_reads() {
    let cluster = Tables::start(5, 4, 2).await;
    let client = cluster.any().clone();
    for i in 0..100 {
        client
            .query()
            .consistency(3)
            .set(key(i), value(i, 0))
            .await
            .unwrap();
    }
    let isolated = cluster.tables.keys().nth(1).cloned().unwrap();
    for other in cluster.tables.keys().filter(|h| **h != isolated) {
        cluster.net.partition(&isolated, other);
    }
    let writer = cluster
        .tables
        .iter()
        .find(|(h, _)| **h != isolated)
        .unwrap()
        .1
        .clone();
    let mut written = 0;
    for i in 0..100 {
        if writer.query().set(key(i), value(i, 1)).await.is_ok() {
            written += 1;
        }
    }
    assert!(written > 0);
    cluster.net.heal();
    cluster.wait_ring().await;
    // No client reads: only the periodic anti-entropy runs.
    tokio::time::sleep(Duration::from_secs(120)).await;
    let digests: Vec<_> = cluster.tables.values().map(|t| t.local_len()).collect();
    assert!(digests.iter().all(|n| *n > 0));
    // Every copy of every key holds the same value.
    for i in 0..100 {
        let k = key(i);
        let mut seen = std::collections::BTreeSet::new();
        for t in cluster.tables.values() {
            if t.local_keys().contains(&k) {
                seen.insert(t.local_record(&k).map(|r| r.version));
            }
        }
        assert_eq!(seen.len(), 1, "key {i} has diverging copies: {seen:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_write_that_cannot_reach_its_consistency_fails_and_keeps_the_old_value() {
    let cluster = Tables::start(6, 2, 2).await;
    let client = cluster.any().clone();
    client.query().consistency(2).set("k", "old").await.unwrap();
    // Two hosts: three copies on distinct hosts are impossible.
    let err = client
        .query()
        .consistency(3)
        .set("k", "new")
        .await
        .unwrap_err();
    assert!(
        matches!(err, TableError::ConsistencyNotReached { wanted: 3, .. }),
        "{err}"
    );
    for table in cluster.tables.values() {
        assert_eq!(
            table.query().get("k").await.unwrap().as_deref(),
            Some(&b"old"[..])
        );
    }
}

#[tokio::test(start_paused = true)]
async fn concurrent_writers_leave_every_copy_at_the_highest_version() {
    let cluster = Tables::start(7, 4, 2).await;
    let writers: Vec<_> = cluster.tables.values().cloned().collect();
    let mut tasks = Vec::new();
    for (n, w) in writers.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            for round in 0..20 {
                let _ = w.query().set("contended", format!("{n}-{round}")).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    cluster.repair_all().await;
    let mut seen = std::collections::BTreeSet::new();
    for t in cluster.tables.values() {
        if let Some(r) = t.local_record(b"contended") {
            seen.insert((r.version, r.value));
        }
    }
    assert_eq!(seen.len(), 1, "copies differ: {seen:?}");
}

#[tokio::test(start_paused = true)]
async fn invalid_input_gets_typed_errors() {
    let cluster = Tables::start(8, 1, 2).await;
    let t = cluster.any();
    assert_eq!(t.query().set("", "v").await, Err(TableError::EmptyKey));
    assert_eq!(t.query().get("").await, Err(TableError::EmptyKey));
    assert!(matches!(
        t.query().consistency(0).set("k", "v").await,
        Err(TableError::InvalidConsistency { wanted: 0, max: 3 })
    ));
    assert!(matches!(
        t.query().consistency(4).set("k", "v").await,
        Err(TableError::InvalidConsistency { wanted: 4, max: 3 })
    ));
    assert!(matches!(
        t.query().read_consistency(9).get("k").await,
        Err(TableError::InvalidConsistency { .. })
    ));
    let big = Bytes::from(vec![0u8; t.config().max_value_len + 1]);
    assert!(matches!(
        t.query().set("k", big).await,
        Err(TableError::ValueTooLarge { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn tombstones_are_purged_only_once_every_replica_holds_them() {
    let config = dtable::TableConfig {
        tombstone_grace: Duration::ZERO,
        ..dtable::TableConfig::default()
    };
    let cluster = Tables::start_with(9, 3, 2, config).await;
    let any = cluster.any().clone();
    any.query().consistency(3).set("gone", "x").await.unwrap();
    let owner = any
        .ring()
        .find_successors(dtable::KeyPosition::of(b"gone").id(), 1)
        .await
        .unwrap()[0]
        .host
        .to_string();
    let primary = cluster.tables[&owner].clone();
    // One replica is cut off and misses the delete.
    let away = cluster
        .tables
        .keys()
        .find(|h| **h != owner)
        .unwrap()
        .clone();
    for other in cluster.tables.keys().filter(|h| **h != away) {
        cluster.net.partition(&away, other);
    }
    primary.query().delete("gone").await.unwrap();
    primary.repair_now().await;
    // The exchange with the absent replica failed: the primary keeps the tombstone.
    let held = primary
        .local_record(b"gone")
        .expect("primary dropped the tombstone");
    assert!(held.is_tombstone());
    assert!(!cluster.tables[&away]
        .local_record(b"gone")
        .unwrap()
        .is_tombstone());

    cluster.net.heal();
    cluster.wait_ring().await;
    cluster.repair_all().await;
    // Every replica got the tombstone, then the primary purged it everywhere.
    for (host, table) in &cluster.tables {
        assert_eq!(
            table.local_record(b"gone"),
            None,
            "{host} still holds a record"
        );
        assert_eq!(table.query().get("gone").await.unwrap(), None);
    }
}

/// Consistency-1 replica writes wait up to `replication_linger` to travel together; a write that
/// waits for its replicas' acknowledgements cuts that wait short.
#[tokio::test(start_paused = true)]
async fn replica_writes_linger_unless_a_write_waits_for_them() {
    let linger = Duration::from_secs(60);
    let config = dtable::TableConfig {
        replication_linger: linger,
        // No anti-entropy round during the test: only replication moves the copies.
        repair_interval: Duration::from_secs(3600),
        ..dtable::TableConfig::default()
    };
    let cluster = Tables::start_with(11, 3, 2, config).await;
    let any = cluster.any().clone();
    let k = Bytes::from("k");

    any.query().set(k.clone(), "1").await.unwrap();
    // Long enough for any replica write sent at once to arrive.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        cluster.copies(&k),
        1,
        "replica writes went out before the linger"
    );

    // The replicas' queue is lingering; this write needs their acknowledgements now.
    let started = tokio::time::Instant::now();
    any.query()
        .consistency(3)
        .set(k.clone(), "2")
        .await
        .unwrap();
    assert!(
        started.elapsed() < linger / 2,
        "a consistency-3 write waited out the linger: {:?}",
        started.elapsed()
    );
    assert_eq!(cluster.copies(&k), 3);
    for table in cluster.tables.values() {
        let held = table.local_record(&k).unwrap();
        assert_eq!(held.value.as_deref(), Some(&b"2"[..]));
    }
}

/// After a join settles, the new node holds exactly the keys it is responsible for (primary or
/// replica): the join pulls no range too wide and loses nothing across scan and push batches.
#[tokio::test(start_paused = true)]
async fn a_joiner_holds_exactly_what_it_is_responsible_for() {
    // Small batches: ranges move in many scan and push batches, not one.
    let config = dtable::TableConfig {
        batch_size: 16,
        ..dtable::TableConfig::default()
    };
    let mut cluster = Tables::start_with(5, 3, 2, config).await;
    let n = 3000;
    cluster.load(n).await;
    let joined = cluster.add().await;
    cluster.wait_ring().await;
    cluster.repair_all().await;
    let host = joined.ring().local_host().to_string();
    let held: std::collections::HashSet<Bytes> = joined.local_keys().into_iter().collect();
    let mut responsible = 0;
    for i in 0..n {
        let successors = joined
            .ring()
            .find_successors(dtable::KeyPosition::of(&key(i)).id(), 8)
            .await
            .unwrap();
        let placement = dtable::Placement::from_successors(&successors, 2).unwrap();
        let ours = placement.copies().any(|copy| *copy.host == *host);
        responsible += usize::from(ours);
        assert_eq!(held.contains(&key(i)), ours, "key {i}: held vs responsible");
    }
    assert!(responsible > 0 && responsible < n, "{responsible} of {n}");
}

/// `Table::join` returns only once the new node holds the keys of the ranges it is primary for,
/// even when the other nodes stabilize only every 20-30 s: a joining vnode takes its successor's
/// old predecessor as its own during the join, so its first round covers its whole range.
#[tokio::test(start_paused = true)]
async fn a_join_returns_holding_the_new_primary_ranges() {
    let mut cluster = Tables::empty(7, 2, dtable::TableConfig::default());
    cluster.stabilize = Some((Duration::from_secs(20), Duration::from_secs(30)));
    for _ in 0..3 {
        cluster.add().await;
    }
    cluster.wait_ring().await;
    let n = 2000;
    cluster.load(n).await;
    let joined = cluster.add().await;
    let host = joined.ring().local_host().to_string();
    let mut owned = 0;
    for i in 0..n {
        let primary = joined
            .ring()
            .find_successors(dtable::KeyPosition::of(&key(i)).id(), 1)
            .await
            .unwrap()[0]
            .clone();
        if *primary.host == *host {
            owned += 1;
            assert!(
                joined.local_record(&key(i)).is_some(),
                "key {i}: the joiner is its primary but did not pull it before serving"
            );
        }
    }
    assert!(owned > 0, "the joiner owns no key: the test checks nothing");
}

/// Sends `request` from `sender` to the node at `to` over the ring's transport, as a peer would.
async fn call(sender: &dtable::Table, to: &str, request: dtable::Request) -> dtable::Reply {
    let reply = sender
        .ring()
        .call_frame(to, request.encode())
        .await
        .unwrap();
    dtable::Reply::decode(reply).unwrap()
}

/// Unix milliseconds by the clock the tables run on (virtual: a fixed anchor moved by tokio's
/// clock, see `dtable::mem`).
fn table_millis(table: &dtable::Table) -> u64 {
    table.config().time.now_millis()
}

/// A write's acknowledgement that stored `applied` records and reports a refusal for clock
/// skew (and sends nobody on).
fn assert_refused_for_skew(reply: dtable::Reply, applied: u32) {
    match reply {
        dtable::Reply::WriteAck {
            applied: stored,
            error,
            moved,
        } => {
            assert_eq!((stored, moved), (applied, None));
            let error = error.expect("the refusal is reported to the sender");
            assert!(error.contains("max_clock_skew"), "{error}");
        }
        other => panic!("unexpected reply {other:?}"),
    }
}

/// Records `table` refused so far for versions too far ahead of its clock.
fn versions_refused(table: &dtable::Table) -> u64 {
    table
        .stats()
        .versions_refused
        .load(std::sync::atomic::Ordering::Relaxed)
}

#[tokio::test(start_paused = true)]
async fn a_replica_write_an_hour_ahead_is_refused_counted_and_the_key_keeps_its_value() {
    use dtable::{Record, Reply, Request, Version, WriteRole};
    let cluster = Tables::start(31, 3, 2).await;
    let any = cluster.any().clone();
    any.query()
        .consistency(3)
        .set(key(1), value(1, 0))
        .await
        .unwrap();
    let hosts: Vec<String> = cluster.tables.keys().cloned().collect();
    let (holder, sender) = (&cluster.tables[&hosts[0]], &cluster.tables[&hosts[1]]);
    let before = holder
        .local_record(&key(1))
        .expect("every node holds a copy");
    let replica_write = |millis: u64, text: &'static str| Request::Write {
        dest: holder.ring().local_vnodes()[0].clone(),
        items: vec![(
            key(1),
            Record::value(
                Version {
                    millis,
                    logical: 0,
                    node: 77,
                },
                Bytes::from_static(text.as_bytes()),
            ),
        )],
        role: WriteRole::Replica,
        origin: None,
    };
    let send = |request: Request| call(sender, &hosts[0], request);

    let hour_ahead = table_millis(holder) + 3_600_000;
    assert_refused_for_skew(send(replica_write(hour_ahead, "from the future")).await, 0);
    assert_eq!(versions_refused(holder), 1);
    assert_eq!(holder.local_record(&key(1)), Some(before.clone()));
    // The next write is versioned from the real clock, not from an hour ahead.
    any.query()
        .consistency(3)
        .set(key(1), value(1, 1))
        .await
        .unwrap();
    let after = holder.local_record(&key(1)).unwrap();
    assert_eq!(after.value, Some(value(1, 1)));
    assert!(after.version.millis < hour_ahead - 3_000_000);

    // Within the bound (30 s ahead of a 60 s allowance), a replica write is stored.
    let slightly_ahead = table_millis(holder) + 30_000;
    match send(replica_write(slightly_ahead, "soon")).await {
        Reply::WriteAck { applied, error, .. } => {
            assert_eq!((applied, error), (1, None));
        }
        other => panic!("unexpected reply {other:?}"),
    }
    assert_eq!(
        holder.local_record(&key(1)).unwrap().value,
        Some(Bytes::from_static(b"soon"))
    );
}

/// A primary write whose batch mixes new writes (placeholder versions) with one record an hour
/// ahead of the primary's clock: the far one alone is refused and counted, the others are
/// stored with fresh versions of the primary's clock, in batch order around the gap.
#[tokio::test(start_paused = true)]
async fn a_primary_batch_refuses_only_its_record_from_the_future() {
    use dtable::{KeyPosition, Record, Request, Version, WriteRole};
    let cluster = Tables::start(37, 2, 1).await;
    let hosts: Vec<String> = cluster.tables.keys().cloned().collect();
    let (holder, sender) = (&cluster.tables[&hosts[0]], &cluster.tables[&hosts[1]]);
    let dest = holder.ring().local_vnodes()[0].clone();
    let pred = holder
        .ring()
        .predecessor(&dest)
        .unwrap()
        .expect("two nodes: every vnode has a predecessor");
    let range = dtable::IdRange::new(pred.id, dest.id);
    // Three keys the vnode owns.
    let keys: Vec<Bytes> = (0..10_000)
        .map(key)
        .filter(|k| range.contains(&KeyPosition::of(k).id()))
        .take(3)
        .collect();
    assert_eq!(keys.len(), 3, "the vnode owns some of 10 000 keys");
    let hour_ahead = Version {
        millis: table_millis(holder) + 3_600_000,
        logical: 0,
        node: 77,
    };
    let items = vec![
        (keys[0].clone(), Record::value(Version::ZERO, value(0, 0))),
        (keys[1].clone(), Record::value(hour_ahead, value(1, 0))),
        (keys[2].clone(), Record::value(Version::ZERO, value(2, 0))),
    ];
    let request = Request::Write {
        dest,
        items,
        role: WriteRole::Primary { min_acks: 1 },
        origin: None,
    };
    assert_refused_for_skew(call(sender, &hosts[0], request).await, 2);
    assert_eq!(versions_refused(holder), 1);
    let first = holder.local_record(&keys[0]).expect("stored");
    let third = holder.local_record(&keys[2]).expect("stored");
    assert_eq!(first.value, Some(value(0, 0)));
    assert_eq!(third.value, Some(value(2, 0)));
    assert!(Version::ZERO < first.version && first.version < third.version);
    assert!(third.version.millis < hour_ahead.millis);
    assert_eq!(holder.local_record(&keys[1]), None);
}

/// Witnessed owners (docs/design.md): a replica that stored a primary's writes for a key a
/// moment ago refuses another primary's writes for it when the first lies between the key and
/// the second, and names the first; the closer one goes on writing; once it has been silent
/// for the witness window, the farther one is accepted (it took the range of one that died).
#[tokio::test(start_paused = true)]
async fn a_replica_refuses_a_primary_farther_from_the_keys_than_one_that_wrote_them_lately() {
    use dendrite::{Id, Vnode};
    use dtable::{KeyPosition, Record, Reply, Request, Version, WriteRole};
    let cluster = Tables::start(47, 3, 2).await;
    let hosts: Vec<String> = cluster.tables.keys().cloned().collect();
    let (holder, sender) = (&cluster.tables[&hosts[0]], &cluster.tables[&hosts[1]]);
    let at = KeyPosition::of(&key(7)).id();
    // The closer primary sits at the key's position itself; the farther one anywhere else.
    let closer = Vnode::new(at, hosts[1].as_str());
    let farther = Vnode::new(
        Id::of_key(b"somewhere else on the circle"),
        hosts[2].as_str(),
    );
    assert_ne!(closer.id, farther.id);
    let mut millis = table_millis(holder);
    let mut write = |origin: &Vnode, text: &'static str| {
        millis += 1;
        Request::Write {
            dest: holder.ring().local_vnodes()[0].clone(),
            items: vec![(
                key(7),
                Record::value(
                    Version {
                        millis,
                        logical: 0,
                        node: 5,
                    },
                    Bytes::from_static(text.as_bytes()),
                ),
            )],
            role: WriteRole::Replica,
            origin: Some(origin.clone()),
        }
    };
    let send = |request: Request| async {
        match call(sender, &hosts[0], request).await {
            Reply::WriteAck {
                applied,
                error,
                moved,
            } => (applied, error, moved),
            other => panic!("unexpected reply {other:?}"),
        }
    };

    assert_eq!(send(write(&closer, "closer")).await, (1, None, None));
    let (applied, error, moved) = send(write(&farther, "farther")).await;
    assert_eq!(applied, 0, "the farther primary's write was stored");
    assert_eq!(moved.as_ref(), Some(&closer), "{error:?}");
    assert!(error.is_some_and(|e| e.contains("closer")));
    assert_eq!(
        holder.local_record(&key(7)).and_then(|r| r.value),
        Some(Bytes::from_static(b"closer"))
    );
    // The closer primary is never refused for the farther one's writes.
    assert_eq!(send(write(&closer, "closer again")).await, (1, None, None));
    // Without a name (repair, hand-off, a primary that knows the closer one gone) nothing is
    // refused.
    let mut unnamed = write(&farther, "unnamed");
    if let Request::Write { origin, .. } = &mut unnamed {
        *origin = None;
    }
    assert_eq!(send(unnamed).await, (1, None, None));
    // A closer primary silent for the witness window is no longer taken for alive.
    tokio::time::advance(Duration::from_millis(1_100)).await;
    assert_eq!(
        send(write(&farther, "farther, later")).await,
        (1, None, None)
    );
}

/// The item hook sees every record a node stores, primary and replica copies, tombstones
/// included (the Go original's ItemHook).
#[tokio::test(start_paused = true)]
async fn the_hook_sees_every_record_each_copy_stores() {
    use std::sync::{Arc, Mutex};
    let cluster = Tables::start(31, 3, 2).await;
    // (key, whether the record held a value rather than a tombstone)
    let seen = Arc::new(Mutex::new(Vec::<(Vec<u8>, bool)>::new()));
    for table in cluster.tables.values() {
        let sink = seen.clone();
        table.set_hook(move |key, record| {
            if let Ok(mut seen) = sink.lock() {
                seen.push((key.to_vec(), record.value.is_some()));
            }
        });
    }
    let any = cluster.any().clone();
    any.query()
        .consistency(3)
        .set(key(1), value(1, 0))
        .await
        .unwrap();
    any.query().consistency(3).delete(key(1)).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    let of_key: Vec<bool> = seen
        .iter()
        .filter(|(k, _)| k.as_slice() == key(1).as_ref())
        .map(|(_, value)| *value)
        .collect();
    // Three copies stored the value, then three stored the tombstone.
    assert_eq!(of_key.iter().filter(|v| **v).count(), 3, "{seen:?}");
    assert_eq!(of_key.iter().filter(|v| !**v).count(), 3, "{seen:?}");
}

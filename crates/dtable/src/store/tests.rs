//! Tests of the parent module, in a file of their own so the module itself stays short.

use super::*;
use crate::version::Version;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::Mutex;

fn ver(millis: u64, node: u64) -> Version {
    Version {
        millis,
        logical: 0,
        node,
    }
}

fn put(store: &Store, key: &str, millis: u64, value: &str) -> Applied {
    store.apply(
        Bytes::copy_from_slice(key.as_bytes()),
        Record::value(ver(millis, 1), Bytes::copy_from_slice(value.as_bytes())),
    )
}

fn full_scan(store: &Store, range: IdRange) -> Vec<(Bytes, Record)> {
    store.scan(range, None, usize::MAX)
}

fn batched_scan(store: &Store, range: IdRange, limit: usize) -> Vec<(Bytes, Record)> {
    let mut all = Vec::new();
    let mut cursor = None;
    for _ in 0..10_000 {
        let batch = store.scan(range, cursor.clone(), limit);
        let short = batch.len() < limit;
        if let Some((key, _)) = batch.last() {
            cursor = Some((KeyPosition::of(key).id(), key.clone()));
        }
        all.extend(batch);
        if short {
            return all;
        }
    }
    panic!("scan never finished");
}

#[test]
fn apply_keeps_the_newest_version() {
    let store = Store::new(4);
    assert_eq!(put(&store, "k", 5, "a"), Applied::Inserted);
    assert_eq!(put(&store, "k", 3, "old"), Applied::Stale);
    assert_eq!(put(&store, "k", 5, "a"), Applied::Stale);
    assert_eq!(put(&store, "k", 7, "b"), Applied::Replaced);
    assert_eq!(
        store.get(b"k").and_then(|r| r.value),
        Some(Bytes::from_static(b"b"))
    );
    assert_eq!(store.get(b"missing"), None);
}

#[test]
fn tombstones_count_as_records_not_as_live_keys() {
    let store = Store::new(2);
    put(&store, "a", 1, "x");
    put(&store, "b", 1, "y");
    assert_eq!(store.len_live(), 2);
    store.apply(Bytes::from_static(b"a"), Record::tombstone(ver(2, 1)));
    assert_eq!(store.len_live(), 1);
    assert_eq!(store.len(), 2);
    assert_eq!(store.keys(), vec![Bytes::from_static(b"b")]);
    // An old value arriving late does not resurrect the key.
    assert_eq!(put(&store, "a", 1, "x"), Applied::Stale);
    assert!(store.get(b"a").is_some_and(|r| r.is_tombstone()));
}

#[test]
fn purge_drops_only_old_tombstones() {
    let store = Store::new(3);
    put(&store, "live", 1, "x");
    store.apply(Bytes::from_static(b"old"), Record::tombstone(ver(10, 1)));
    store.apply(Bytes::from_static(b"new"), Record::tombstone(ver(100, 1)));
    assert_eq!(store.purge_tombstones(50), 1);
    assert_eq!(store.get(b"old"), None);
    assert!(store.get(b"new").is_some());
    assert_eq!(store.len(), 2);
    assert_eq!(store.len_live(), 1);
}

#[test]
fn scan_wraps_around_the_top_of_the_ring() {
    let store = Store::new(8);
    for i in 0..200 {
        put(&store, &format!("key{i}"), 1, "v");
    }
    let mut ids: Vec<Id> = (0..200)
        .map(|i| KeyPosition::of(format!("key{i}").as_bytes()).id())
        .collect();
    ids.sort();
    // (ids[150], ids[20]] wraps: ids 151..200 then 0..=20.
    let range = IdRange::new(ids[150], ids[20]);
    let scanned: Vec<Id> = full_scan(&store, range)
        .iter()
        .map(|(k, _)| KeyPosition::of(k).id())
        .collect();
    let expected: Vec<Id> = ids[151..].iter().chain(&ids[..=20]).copied().collect();
    assert_eq!(scanned, expected);
    // The whole ring from ids[150] starts just after it and ends with it.
    let whole: Vec<Id> = full_scan(&store, IdRange::whole_ring(ids[150]))
        .iter()
        .map(|(k, _)| KeyPosition::of(k).id())
        .collect();
    assert_eq!(whole.len(), 200);
    assert_eq!(whole[0], ids[151]);
    assert_eq!(whole[199], ids[150]);
}

#[test]
fn cursor_outside_the_range_yields_nothing() {
    let store = Store::new(2);
    put(&store, "a", 1, "x");
    let id = KeyPosition::of(b"a").id();
    let range = IdRange::new(id, id.add_pow2(10));
    assert!(store
        .scan(range, Some((id, Bytes::from_static(b"a"))), 10)
        .is_empty());
}

#[test]
fn remove_range_drops_exactly_the_range() {
    let store = Store::new(4);
    for i in 0..100 {
        put(&store, &format!("k{i}"), 1, "v");
    }
    let range = IdRange::new(Id::pow2(158), Id::pow2(159));
    let inside = full_scan(&store, range).len();
    assert_eq!(store.remove_range(range), inside);
    assert!(full_scan(&store, range).is_empty());
    assert_eq!(store.len(), 100 - inside);
    assert_eq!(store.len_live(), 100 - inside);
}

#[test]
fn observer_sees_accepted_records_and_dropped_copies() {
    let store = Store::new(2);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    store.set_observer(Box::new(move |key, change| {
        let (removed, version) = match change {
            Change::Stored(record) => (false, record.version),
            Change::Removed(version) => (true, version),
        };
        sink.lock()
            .unwrap()
            .push((key.to_vec(), removed, version.millis));
    }));
    put(&store, "k", 2, "a");
    put(&store, "k", 1, "stale");
    store.apply(Bytes::from_static(b"k"), Record::tombstone(ver(3, 1)));
    // A drop at another version changes nothing and is not reported; at the held one it is.
    assert!(!store.remove_if(b"k", ver(2, 1)));
    assert!(store.remove_if(b"k", ver(3, 1)));
    assert_eq!(store.get(b"k"), None);
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            (b"k".to_vec(), false, 2),
            (b"k".to_vec(), false, 3),
            (b"k".to_vec(), true, 3)
        ]
    );
    store.clear_observer();
    put(&store, "k", 4, "b");
    assert_eq!(seen.lock().unwrap().len(), 3);
}

#[test]
fn digests_detect_a_differing_bucket() {
    let a = Store::new(4);
    let b = Store::new(7);
    for i in 0..300 {
        put(&a, &format!("k{i}"), 1, "v");
        put(&b, &format!("k{i}"), 1, "v");
    }
    let range = IdRange::whole_ring(Id::ZERO);
    assert_eq!(a.digest_buckets(range, 64), b.digest_buckets(range, 64));
    assert_eq!(a.digest(range), b.digest(range));
    put(&b, "k7", 2, "newer");
    let (da, db) = (a.digest_buckets(range, 64), b.digest_buckets(range, 64));
    let differing: Vec<usize> = (0..64).filter(|&i| da[i] != db[i]).collect();
    assert_eq!(differing.len(), 1);
    let bucket = range.buckets(64).bucket_range(differing[0]);
    assert!(bucket.is_some_and(|r| r.contains(&KeyPosition::of(b"k7").id())));
    assert_ne!(a.digest(range), b.digest(range));
    assert_eq!(Store::new(1).digest(range), EMPTY_DIGEST);
}

#[test]
fn many_chunks_behave_like_one_sorted_map() {
    // Enough records (with a few large values) that every shard splits into many chunks.
    let store = Store::new(2);
    let mut model: BTreeMap<(Id, Vec<u8>), Record> = BTreeMap::new();
    for i in 0..3000u64 {
        let key = format!("key-{i}").into_bytes();
        let value = vec![b'v'; if i % 97 == 0 { 5000 } else { (i % 40) as usize }];
        let record = if i % 5 == 0 {
            Record::tombstone(ver(i, 1))
        } else {
            Record::value(ver(i, 1), Bytes::from(value))
        };
        assert_eq!(
            store.apply(Bytes::from(key.clone()), record.clone()),
            Applied::Inserted
        );
        model.insert((KeyPosition::of(&key).id(), key), record);
    }
    // Overwrite a third of them with newer versions of different sizes.
    for i in (0..3000u64).step_by(3) {
        let key = format!("key-{i}").into_bytes();
        let record = Record::value(
            ver(10_000 + i, 2),
            Bytes::from(vec![b'n'; (i % 70) as usize]),
        );
        assert_eq!(
            store.apply(Bytes::from(key.clone()), record.clone()),
            Applied::Replaced
        );
        model.insert((KeyPosition::of(&key).id(), key), record);
    }
    let expected: Vec<(Bytes, Record)> = model
        .iter()
        .map(|((_, k), r)| (Bytes::from(k.clone()), r.clone()))
        .collect();
    let whole = IdRange::whole_ring(Id::MAX);
    assert_eq!(full_scan(&store, whole), expected);
    assert_eq!(batched_scan(&store, whole, 7), expected);
    for ((_, key), record) in &model {
        assert_eq!(store.get(key).as_ref(), Some(record));
    }
    let live = model.values().filter(|r| !r.is_tombstone()).count();
    assert_eq!(store.len(), model.len());
    assert_eq!(store.len_live(), live);
    assert_eq!(store.keys().len(), live);

    let range = IdRange::new(Id::pow2(157), Id::pow2(159));
    let inside = model.keys().filter(|(id, _)| range.contains(id)).count();
    assert_eq!(store.remove_range(range), inside);
    model.retain(|(id, _), _| !range.contains(id));
    let dead = model
        .values()
        .filter(|r| r.is_tombstone() && r.version.millis < 1500)
        .count();
    assert_eq!(store.purge_tombstones(1500), dead);
    model.retain(|_, r| !(r.is_tombstone() && r.version.millis < 1500));
    let expected: Vec<(Bytes, Record)> = model
        .iter()
        .map(|((_, k), r)| (Bytes::from(k.clone()), r.clone()))
        .collect();
    assert_eq!(full_scan(&store, whole), expected);
    assert_eq!(store.len(), model.len());
    // Removed positions can be written again.
    assert_eq!(store.remove_range(whole), model.len());
    assert!(store.is_empty());
    assert_eq!(put(&store, "again", 1, "x"), Applied::Inserted);
    assert_eq!(store.len_live(), 1);
}

fn any_key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..6)
}

fn any_record() -> impl Strategy<Value = Record> {
    (
        0u64..6,
        0u64..3,
        prop::option::of(prop::collection::vec(any::<u8>(), 0..3)),
        prop::option::of(0u64..3),
    )
        .prop_map(|(millis, node, value, expires)| {
            let version = Version {
                millis,
                logical: 0,
                node,
            };
            Record::with_deadline(version, value.map(Bytes::from), expires)
        })
}

/// `record` packed on its own, under key `k`.
fn packed_alone(record: &Record) -> Vec<u8> {
    let mut chunk = Vec::new();
    packed::encode(&mut chunk, &Id::of_key(b"k"), b"k", record);
    chunk
}

fn any_id() -> impl Strategy<Value = Id> {
    prop::array::uniform20(any::<u8>()).prop_map(Id::new)
}

/// Positions that often share their first 8 bytes (and sometimes all 20), mixed with
/// random ones: what exercises the full compare behind the 8-byte prefix compare.
fn colliding_id() -> impl Strategy<Value = Id> {
    prop_oneof![
        // Two bytes of each integer the comparison splits a position into vary, so a
        // compare of the wrong bytes or in the wrong byte order shows up.
        3 => prop::array::uniform6(0u8..2).prop_map(|varying| {
            let mut bytes = [0x5a; 20];
            for (at, byte) in [0, 7, 8, 15, 16, 19].into_iter().zip(varying) {
                bytes[at] = byte;
            }
            Id::new(bytes)
        }),
        1 => any_id(),
    ]
}

/// One step of [`index_stays_in_sync_through_writes_removals_and_purges`].
#[derive(Debug, Clone)]
enum ShardOp {
    Apply(Id, Vec<u8>, Record),
    Remove(Id, Id),
    Purge(u64),
}

fn any_shard_op() -> impl Strategy<Value = ShardOp> {
    prop_oneof![
        8 => (colliding_id(), any_key(), any_record(), 0usize..400).prop_map(
            |(id, key, record, padding)| {
                let record = Record {
                    value: record
                        .value
                        .map(|v| Bytes::from([&v[..], &vec![7; padding]].concat())),
                    ..record
                };
                ShardOp::Apply(id, key, record)
            }
        ),
        1 => (colliding_id(), colliding_id()).prop_map(|(a, b)| ShardOp::Remove(a.min(b), a.max(b))),
        1 => (0u64..7).prop_map(ShardOp::Purge),
    ]
}

#[test]
fn a_record_too_large_for_its_chunk_is_refused_and_nothing_changes() {
    let mut shard = Shard {
        max_chunk_len: 600,
        ..Shard::default()
    };
    let small = Record::value(ver(1, 1), Bytes::from(vec![b's'; 100]));
    let large = Record::value(ver(2, 1), Bytes::from(vec![b'l'; 700]));
    assert_eq!(
        shard.apply(KeyPosition::of(b"a").id(), b"a", &small),
        Ok(Applied::Inserted)
    );
    assert_eq!(
        shard.apply(KeyPosition::of(b"b").id(), b"b", &small),
        Ok(Applied::Inserted)
    );
    // A new record, and a replacement, that would grow the chunk past the limit.
    let refused = shard.apply(KeyPosition::of(b"c").id(), b"c", &large);
    assert!(matches!(
        refused,
        Err(StoreError::ChunkTooLarge { limit: 600, .. })
    ));
    assert!(shard
        .apply(KeyPosition::of(b"a").id(), b"a", &large)
        .is_err());
    shard.check_index();
    assert_eq!(
        shard.get(&KeyPosition::of(b"a").id(), b"a"),
        Some(small.clone())
    );
    assert_eq!(shard.get(&KeyPosition::of(b"c").id(), b"c"), None);
    assert_eq!((shard.total, shard.live), (2, 2));
    // Through the store: reported as `Refused`, which is not a change.
    let store = Store::new(1);
    store.shards[0].write().max_chunk_len = 600;
    let outcome = store.apply(Bytes::from_static(b"c"), large);
    assert_eq!(outcome, Applied::Refused);
    assert!(!outcome.changed());
    assert!(store.is_empty());
    assert_eq!(
        store.apply(Bytes::from_static(b"c"), small),
        Applied::Inserted
    );
}

fn snapshot(store: &Store) -> Vec<(Bytes, Record)> {
    full_scan(store, IdRange::whole_ring(Id::ZERO))
}

proptest! {
    #[test]
    fn apply_order_does_not_matter(
        writes in prop::collection::vec((any_key(), any_record()), 0..40),
        seed in any::<u64>(),
    ) {
        let forward = Store::new(3);
        for (k, r) in &writes {
            forward.apply(Bytes::from(k.clone()), r.clone());
        }
        // A deterministic shuffle of the same writes, each applied twice.
        let mut shuffled = writes.clone();
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let other = Store::new(5);
        for (k, r) in shuffled.iter().chain(shuffled.iter().rev()) {
            other.apply(Bytes::from(k.clone()), r.clone());
        }
        prop_assert_eq!(snapshot(&forward), snapshot(&other));
        prop_assert_eq!(forward.len_live(), other.len_live());
        let range = IdRange::whole_ring(Id::ZERO);
        prop_assert_eq!(forward.digest_buckets(range, 16), other.digest_buckets(range, 16));
    }

    #[test]
    fn packed_comparison_matches_record_wins_over(a in any_record(), b in any_record()) {
        prop_assert_eq!(
            packed::wins_over(&a, &packed::decode(&packed_alone(&b), 0)),
            a.wins_over(&b)
        );
    }

    #[test]
    fn packed_records_round_trip(key in any_key(), record in any_record(), logical in any::<u32>(), millis in any::<u64>(), node in any::<u64>()) {
        let record = Record { version: Version { millis, logical, node }, ..record };
        let id = KeyPosition::of(&key).id();
        let mut chunk = Vec::new();
        packed::encode(&mut chunk, &id, &key, &record);
        prop_assert_eq!(chunk.len(), packed::encoded_len(&key, &record));
        let entries: Vec<_> = packed::entries(&chunk).collect();
        prop_assert_eq!(entries.len(), 1);
        prop_assert_eq!(entries[0].id, id);
        prop_assert_eq!(entries[0].key, &key[..]);
        prop_assert_eq!(entries[0].to_record(), record);
    }

    /// `find` on a chunk packed from a sorted model finds exactly the model's entries, and
    /// for anything else the rank of the first greater entry.
    #[test]
    fn find_agrees_with_a_sorted_model(
        held in prop::collection::btree_map((colliding_id(), any_key()), any_record(), 0..30),
        probes in prop::collection::vec((colliding_id(), any_key()), 0..30),
    ) {
        let mut bytes = Vec::new();
        for ((id, key), record) in &held {
            packed::encode(&mut bytes, id, key, record);
        }
        let chunk = Chunk::from_packed(bytes);
        chunk.check_index();
        let probes = held.keys().cloned().chain(probes);
        for (id, key) in probes {
            let rank = held.range(..(id, key.clone())).count();
            match chunk.find(&id, &key) {
                Ok((found, entry)) => {
                    prop_assert_eq!(held.get(&(id, key.clone())), Some(&entry.to_record()));
                    prop_assert_eq!(found, rank);
                    prop_assert_eq!(entry.id, id);
                    prop_assert_eq!(entry.key, &key[..]);
                }
                Err(at) => {
                    prop_assert!(!held.contains_key(&(id, key.clone())));
                    prop_assert_eq!(at, rank);
                }
            }
        }
    }

    /// A shard written under colliding positions, with values large enough to split its
    /// chunks, holds what a sorted map keeping the winning record would, and its chunks
    /// stay within their key ranges.
    #[test]
    fn shard_with_colliding_positions_behaves_like_a_sorted_map(
        writes in prop::collection::vec(
            (colliding_id(), any_key(), any_record(), 0usize..400), 0..80,
        ),
    ) {
        let mut shard = Shard::default();
        let mut model: BTreeMap<(Id, Vec<u8>), Record> = BTreeMap::new();
        for (id, key, record, padding) in writes {
            let record = Record {
                value: record.value.map(|v| Bytes::from([&v[..], &vec![7; padding]].concat())),
                ..record
            };
            let expected = match model.get(&(id, key.clone())) {
                None => Applied::Inserted,
                Some(held) if record.wins_over(held) => Applied::Replaced,
                Some(_) => Applied::Stale,
            };
            prop_assert_eq!(shard.apply(id, &key, &record), Ok(expected));
            shard.check_index();
            if expected.changed() {
                model.insert((id, key), record);
            }
        }
        let mut held = Vec::new();
        let _ = shard.for_each_in(&Id::ZERO, &Id::MAX, |entry| {
            held.push(((entry.id, entry.key.to_vec()), entry.to_record()));
            ControlFlow::Continue(())
        });
        let expected: Vec<_> = model.clone().into_iter().collect();
        prop_assert_eq!(held, expected);
        for ((id, key), record) in &model {
            prop_assert_eq!(shard.get(id, key), Some(record.clone()));
        }
        prop_assert_eq!(shard.total, model.len());
        prop_assert_eq!(shard.live, model.values().filter(|r| !r.is_tombstone()).count());
        let bounds: Vec<u64> = shard.chunks.iter().map(|(start, _)| start).collect();
        prop_assert_eq!(bounds.first(), Some(&0));
        for (i, (_, chunk)) in shard.chunks.iter().enumerate() {
            for entry in chunk.entries() {
                let prefix = packed::prefix(&entry.id);
                prop_assert!(bounds[i] <= prefix);
                prop_assert!(bounds.get(i + 1).is_none_or(|next| prefix < *next));
            }
        }
    }

    /// Random sequences of writes, range removals and purges (with colliding positions and
    /// values large enough to split chunks) keep every chunk's index in sync with its
    /// records, and the shard equal to a sorted model.
    #[test]
    fn index_stays_in_sync_through_writes_removals_and_purges(
        ops in prop::collection::vec(any_shard_op(), 0..120),
    ) {
        let mut shard = Shard::default();
        let mut model: BTreeMap<(Id, Vec<u8>), Record> = BTreeMap::new();
        for op in ops {
            match op {
                ShardOp::Apply(id, key, record) => {
                    let expected = match model.get(&(id, key.clone())) {
                        None => Applied::Inserted,
                        Some(held) if record.wins_over(held) => Applied::Replaced,
                        Some(_) => Applied::Stale,
                    };
                    prop_assert_eq!(shard.apply(id, &key, &record), Ok(expected));
                    if expected.changed() {
                        model.insert((id, key), record);
                    }
                }
                ShardOp::Remove(lo, hi) => {
                    let before = model.len();
                    model.retain(|(id, _), _| !(lo <= *id && *id <= hi));
                    let removed = shard.remove_where(&lo, &hi, |e| lo <= e.id && e.id <= hi);
                    prop_assert_eq!(removed, before - model.len());
                }
                ShardOp::Purge(millis) => {
                    let before = model.len();
                    model.retain(|_, r| !(r.is_tombstone() && r.version.millis < millis));
                    let purged = shard.remove_where(&Id::ZERO, &Id::MAX, |e| {
                        e.is_tombstone() && e.version.millis < millis
                    });
                    prop_assert_eq!(purged, before - model.len());
                }
            }
            shard.check_index();
        }
        let mut held = Vec::new();
        let _ = shard.for_each_in(&Id::ZERO, &Id::MAX, |entry| {
            held.push(((entry.id, entry.key.to_vec()), entry.to_record()));
            ControlFlow::Continue(())
        });
        prop_assert_eq!(held, model.clone().into_iter().collect::<Vec<_>>());
        for ((id, key), record) in &model {
            prop_assert_eq!(shard.get(id, key), Some(record.clone()));
        }
        prop_assert_eq!(shard.total, model.len());
        prop_assert_eq!(shard.live, model.values().filter(|r| !r.is_tombstone()).count());
    }

    #[test]
    fn batched_scan_equals_full_scan(
        keys in prop::collection::btree_set(any_key(), 0..60),
        from in any_id(), to in any_id(), limit in 1usize..9, shards in 1usize..9,
    ) {
        let store = Store::new(shards);
        for k in &keys {
            store.apply(Bytes::from(k.clone()), Record::value(ver(1, 1), Bytes::new()));
        }
        let range = IdRange::new(from, to);
        let full = full_scan(&store, range);
        prop_assert_eq!(&batched_scan(&store, range, limit), &full);
        // Exactly the keys whose position the range contains, in ring order.
        let mut expected: Vec<(Id, Vec<u8>)> = keys.iter()
            .map(|k| (KeyPosition::of(k).id(), k.clone()))
            .filter(|(id, _)| range.contains(id))
            .collect();
        expected.sort_by_key(|(id, k)| (from.distance_to(id).wrapping_sub(&Id::pow2(0)), k.clone()));
        let got: Vec<Vec<u8>> = full.iter().map(|(k, _)| k.to_vec()).collect();
        let want: Vec<Vec<u8>> = expected.into_iter().map(|(_, k)| k).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn ranges_partition_the_store(keys in prop::collection::btree_set(any_key(), 0..60), a in any_id(), b in any_id()) {
        prop_assume!(a != b);
        let store = Store::new(4);
        for k in &keys {
            store.apply(Bytes::from(k.clone()), Record::value(ver(1, 1), Bytes::new()));
        }
        let left = full_scan(&store, IdRange::new(a, b)).len();
        let right = full_scan(&store, IdRange::new(b, a)).len();
        prop_assert_eq!(left + right, keys.len());
        prop_assert_eq!(store.remove_range(IdRange::new(a, b)), left);
        prop_assert_eq!(store.len(), right);
    }
}

#[test]
fn count_in_agrees_with_a_scan_of_the_same_range() {
    // Enough records for many chunks per shard, so whole chunks are counted by their index.
    let store = Store::new(4);
    for i in 0..20_000 {
        put(&store, &format!("key{i}"), 1, "value");
    }
    store.apply(Bytes::from_static(b"key7"), Record::tombstone(ver(2, 1)));
    let mut ids: Vec<Id> = (0..20_000)
        .map(|i| KeyPosition::of(format!("key{i}").as_bytes()).id())
        .collect();
    ids.sort();
    let ranges = [
        IdRange::new(ids[100], ids[15_000]),
        IdRange::new(ids[19_000], ids[30]),
        IdRange::new(ids[5], ids[6]),
        IdRange::new(ids[5], ids[5]),
        IdRange::whole_ring(ids[1234]),
    ];
    for range in ranges {
        assert_eq!(
            store.count_in(range),
            full_scan(&store, range).len(),
            "{range:?}"
        );
    }
    assert_eq!(store.count_in(IdRange::whole_ring(ids[0])), 20_000);
}

#[test]
fn prefetching_a_batch_changes_nothing_it_reads() {
    let store = Store::new(4);
    for i in 0..2000 {
        put(&store, &format!("k{i}"), 1, &format!("v{i}"));
    }
    // Present and absent keys, across shards and chunks, and a batch of one (left alone).
    let keys: Vec<String> = (0..3000).step_by(7).map(|i| format!("k{i}")).collect();
    let positions: Vec<KeyPosition> = keys.iter().map(|k| KeyPosition::of(k.as_bytes())).collect();
    let before: Vec<Option<Record>> = keys.iter().map(|k| store.get(k.as_bytes())).collect();
    store.prefetch(&positions);
    store.prefetch(&positions[..1]);
    Store::new(1).prefetch(&positions);
    let after: Vec<Option<Record>> = keys.iter().map(|k| store.get(k.as_bytes())).collect();
    assert_eq!(before, after);
    assert_eq!(after.iter().filter(|r| r.is_some()).count(), 286);
    assert_eq!(store.len_live(), 2000);
}

#[test]
fn a_batch_read_finds_what_one_read_per_key_finds() {
    let store = Store::new(8);
    for i in 0..2000 {
        put(&store, &format!("k{i}"), 1, &format!("v{i}"));
    }
    store.apply(Bytes::from("k3"), Record::tombstone(ver(2, 1)));
    // Present, absent, deleted and repeated keys across shards and chunks.
    let mut keys: Vec<String> = (0..3000).step_by(7).map(|i| format!("k{i}")).collect();
    keys.extend(["k3", "k7", "k7", "absent"].map(String::from));
    let positions: Vec<KeyPosition> = keys.iter().map(|k| KeyPosition::of(k.as_bytes())).collect();
    let one_by_one: Vec<Option<Record>> = keys.iter().map(|k| store.get(k.as_bytes())).collect();
    assert_eq!(store.get_many_at(&positions, &keys), one_by_one);
    assert_eq!(one_by_one.iter().filter(|r| r.is_some()).count(), 286 + 3);
    assert_eq!(
        store.get_many_at(&positions[..1], &keys[..1]),
        one_by_one[..1]
    );
    assert!(store.get_many_at::<&[u8]>(&[], &[]).is_empty());
}

/// Batch reads (several shard locks at once) beside writers and scans (one at a time) finish:
/// the lock order of `get_many_at` admits no cycle. A deadlock fails the test at its deadline
/// instead of hanging it.
#[test]
fn batch_reads_beside_writers_never_deadlock() {
    use std::sync::mpsc;
    use std::time::Duration;
    let store = Arc::new(Store::new(16));
    let keys: Vec<String> = (0..512).map(|i| format!("k{i}")).collect();
    let (done, finished) = mpsc::channel();
    for worker in 0..6 {
        let (store, keys, done) = (store.clone(), keys.clone(), done.clone());
        std::thread::spawn(move || {
            for round in 0..300u64 {
                if worker % 2 == 0 {
                    // Batches in varying orders, so that shards are reached in every order.
                    let start = (round as usize * 37 + worker * 11) % keys.len();
                    let batch: Vec<&String> = keys
                        .iter()
                        .cycle()
                        .skip(start)
                        .step_by(13)
                        .take(128)
                        .collect();
                    let positions: Vec<KeyPosition> = batch
                        .iter()
                        .map(|k| KeyPosition::of(k.as_bytes()))
                        .collect();
                    let batch: Vec<&[u8]> = batch.iter().map(|k| k.as_bytes()).collect();
                    let _ = store.get_many_at(&positions, &batch);
                } else {
                    for key in keys.iter().skip(round as usize % 7).step_by(7) {
                        put(&store, key, round + 1, "value");
                    }
                    let _ = store.keys();
                }
            }
            let _ = done.send(());
        });
    }
    for _ in 0..6 {
        finished
            .recv_timeout(Duration::from_secs(60))
            .expect("a worker did not finish: batch reads and writes deadlocked");
    }
    assert_eq!(store.len_live(), 512);
}

#[test]
fn an_update_reads_and_writes_one_key_in_one_step() {
    let store = Store::new(4);
    let key = b"counter";
    let position = KeyPosition::of(key);
    // Nothing held: the change sees None and its record is inserted.
    let (applied, stored) = store.update_at(position, key, |held| {
        assert!(held.is_none());
        Some(Record::value(ver(5, 1), Bytes::from_static(b"1")))
    });
    assert_eq!(applied, Applied::Inserted);
    assert_eq!(stored.map(|r| r.version), Some(ver(5, 1)));
    // Held: the change sees it, and a newer record replaces it.
    let (applied, _) = store.update_at(position, key, |held| {
        assert_eq!(held.and_then(|r| r.value), Some(&b"1"[..]));
        Some(Record::value(ver(6, 1), Bytes::from_static(b"2")))
    });
    assert_eq!(applied, Applied::Replaced);
    // No record: nothing changes. An older one: returned, not stored.
    assert_eq!(
        store.update_at(position, key, |_| None),
        (Applied::Stale, None)
    );
    let older = Record::value(ver(1, 1), Bytes::from_static(b"0"));
    assert_eq!(
        store.update_at(position, key, |_| Some(older.clone())),
        (Applied::Stale, Some(older))
    );
    assert_eq!(
        store.get(key).and_then(|r| r.value),
        Some(Bytes::from_static(b"2"))
    );
    assert_eq!(store.len_live(), 1);
}

//! The durable log over real files: what is written comes back, in every shape a crash or a
//! bad disk leaves it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dtable::durable::{
    check, DataDir, DurableError, FsyncPolicy, LogConfig, LogStatus, Persistence,
};
use dtable::{Record, Version};

fn version(millis: u64) -> Version {
    Version {
        millis,
        logical: 0,
        node: 7,
    }
}

fn config(fsync: FsyncPolicy) -> LogConfig {
    LogConfig {
        fsync,
        ..LogConfig::default()
    }
}

fn open(path: &Path, config: LogConfig) -> Result<Persistence, DurableError> {
    Persistence::open_path(path, 4, config)
}

/// Opens `path`, logs what the store accepts, applies `records`, closes.
fn write_records(path: &Path, config: LogConfig, records: &[(Vec<u8>, Record)]) -> LogStatus {
    let persistence = open(path, config).unwrap();
    persistence.store.set_observer(persistence.log.appender());
    for (key, record) in records {
        persistence
            .store
            .apply(Bytes::copy_from_slice(key), record.clone());
    }
    persistence.log.close();
    persistence.store.clear_observer();
    persistence.log.status()
}

fn sample(count: u64) -> Vec<(Vec<u8>, Record)> {
    (0..count)
        .map(|i| {
            let key = format!("key:{i}").into_bytes();
            let record = match i % 4 {
                0 => Record::tombstone(version(i + 1)),
                1 => Record::expiring(version(i + 1), Bytes::from(vec![b'v'; 40]), Some(i + 1000)),
                _ => Record::value(version(i + 1), Bytes::from(format!("value {i}"))),
            };
            (key, record)
        })
        .collect()
}

fn assert_holds(persistence: &Persistence, records: &[(Vec<u8>, Record)]) {
    for (key, record) in records {
        assert_eq!(
            persistence.store.get(key).as_ref(),
            Some(record),
            "{}",
            String::from_utf8_lossy(key)
        );
    }
}

fn segments(path: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(path)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    files.sort();
    files
}

/// Polls `done` every few milliseconds until it holds or 10 s pass.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn every_record_comes_back_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let records = sample(500);
    for policy in [FsyncPolicy::Always, FsyncPolicy::EverySec, FsyncPolicy::No] {
        write_records(dir.path(), config(policy), &records);
    }
    let reopened = open(dir.path(), config(FsyncPolicy::EverySec)).unwrap();
    assert_holds(&reopened, &records);
    assert_eq!(reopened.store.len(), 500);
    let recovery = reopened.log.recovery();
    // The later runs loaded the records first, so applying them again changed nothing and
    // logged nothing.
    assert_eq!(recovery.records, 500);
    assert_eq!(recovery.max_version, Some(version(500)));
    assert_eq!(recovery.truncated_tails, 0);
}

#[test]
fn newer_versions_win_whatever_the_order_of_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let new = vec![(
        b"k".to_vec(),
        Record::value(version(9), Bytes::from_static(b"new")),
    )];
    let old = vec![(
        b"k".to_vec(),
        Record::value(version(3), Bytes::from_static(b"old")),
    )];
    write_records(dir.path(), config(FsyncPolicy::No), &new);
    write_records(dir.path(), config(FsyncPolicy::No), &old);
    let reopened = open(dir.path(), config(FsyncPolicy::No)).unwrap();
    assert_holds(&reopened, &new);
}

#[test]
fn a_dropped_copy_stays_dropped_after_a_restart_and_one_received_again_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let records = sample(40);
    let persistence = open(dir.path(), config(FsyncPolicy::Always)).unwrap();
    persistence.store.set_observer(persistence.log.appender());
    for (key, record) in &records {
        persistence
            .store
            .apply(Bytes::copy_from_slice(key), record.clone());
    }
    // Every other key dropped at its version, as a hand-back does; one of them then received
    // again (a later push of the same copy), one dropped at a version it no longer holds.
    let (dropped, kept): (Vec<_>, Vec<_>) = records.iter().cloned().partition(|(key, _)| {
        let index: u64 = String::from_utf8_lossy(&key[4..]).parse().unwrap();
        index % 2 == 0
    });
    for (key, record) in &dropped {
        assert!(persistence.store.remove_if(key, record.version));
    }
    let (again_key, again) = dropped[0].clone();
    persistence
        .store
        .apply(Bytes::copy_from_slice(&again_key), again.clone());
    assert!(!persistence.store.remove_if(&kept[0].0, version(99_999)));
    persistence.log.close();
    persistence.store.clear_observer();
    drop(persistence);

    let reopened = open(dir.path(), config(FsyncPolicy::EverySec)).unwrap();
    assert_holds(&reopened, &kept);
    assert_eq!(reopened.store.get(&again_key), Some(again));
    for (key, _) in &dropped[1..] {
        assert_eq!(
            reopened.store.get(key),
            None,
            "{} came back",
            String::from_utf8_lossy(key)
        );
    }
    assert_eq!(reopened.store.len(), kept.len() + 1);
    reopened.log.close();
    drop(reopened);
    // The directory checks clean with removals in its log.
    let report = check::check(dir.path(), false).unwrap();
    assert!(
        report.files.iter().all(|file| file.damage.is_none()),
        "{report}"
    );
}

#[test]
fn a_torn_tail_is_cut_off_with_a_warning_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let records = sample(50);
    write_records(dir.path(), config(FsyncPolicy::Always), &records);
    let last = segments(dir.path()).pop().unwrap();
    let good_len = std::fs::metadata(&last).unwrap().len();
    // Half of a record: a crash in the middle of a write.
    let mut torn = Vec::new();
    dtable::durable::format::encode(
        &mut torn,
        b"torn",
        &Record::value(version(99), Bytes::from_static(b"lost")),
    );
    torn.truncate(torn.len() / 2);
    append(&last, &torn);
    let reopened = open(dir.path(), config(FsyncPolicy::Always)).unwrap();
    assert_holds(&reopened, &records);
    assert_eq!(reopened.store.get(b"torn"), None);
    let recovery = reopened.log.recovery();
    assert_eq!(recovery.truncated_tails, 1);
    assert_eq!(recovery.truncated_bytes, torn.len() as u64);
    assert_eq!(
        std::fs::metadata(&last).unwrap().len(),
        good_len,
        "the file is cut"
    );
    drop(reopened);
    let again = open(dir.path(), config(FsyncPolicy::Always)).unwrap();
    assert_eq!(
        again.log.recovery().truncated_tails,
        0,
        "cut once, for good"
    );
}

#[test]
fn zeros_after_the_last_record_are_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), config(FsyncPolicy::Always), &sample(5));
    let last = segments(dir.path()).pop().unwrap();
    append(&last, &[0; 4096]);
    let reopened = open(dir.path(), config(FsyncPolicy::Always)).unwrap();
    assert_eq!(reopened.log.recovery().truncated_tails, 1);
}

#[test]
fn damage_before_the_end_refuses_to_start_and_check_data_fixes_it() {
    let dir = tempfile::tempdir().unwrap();
    let records = sample(40);
    write_records(dir.path(), config(FsyncPolicy::Always), &records);
    let first = segments(dir.path()).remove(0);
    let offset = 200;
    flip(&first, offset);
    let error = open(dir.path(), config(FsyncPolicy::Always)).unwrap_err();
    let DurableError::Damaged {
        path, offset: at, ..
    } = &error
    else {
        panic!("expected damage, got {error}");
    };
    assert_eq!(path, &first);
    assert!(
        *at <= offset as u64,
        "the bad record starts at or before the flipped byte"
    );
    let message = error.to_string();
    assert!(message.contains(&first.display().to_string()), "{message}");
    assert!(message.contains(&format!("byte {at}")), "{message}");
    assert!(message.contains("dendrite check-data"), "{message}");
    assert!(message.contains("--fix"), "{message}");

    let report = check(dir.path(), false).unwrap();
    assert!(!report.starts());
    assert!(report
        .to_string()
        .contains(&format!("damaged at byte {at}")));
    let fixed = check(dir.path(), true).unwrap();
    assert!(fixed.starts(), "{fixed}");
    assert!(check(dir.path(), false).unwrap().starts());
    let reopened = open(dir.path(), config(FsyncPolicy::Always)).unwrap();
    let kept = reopened.log.recovery().records;
    assert!(
        kept > 0 && kept < 40,
        "the records before the damage are kept: {kept}"
    );
}

#[test]
fn a_snapshot_replaces_the_segments_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let small = LogConfig {
        fsync: FsyncPolicy::EverySec,
        snapshot_min_bytes: 4096,
    };
    let persistence = open(dir.path(), small.clone()).unwrap();
    persistence.store.set_observer(persistence.log.appender());
    let records = sample(2000);
    for (key, record) in &records {
        persistence
            .store
            .apply(Bytes::copy_from_slice(key), record.clone());
    }
    eventually("a snapshot", || {
        let status = persistence.log.status();
        status.snapshots >= 1 && !status.snapshot_in_progress
    });
    // Overwrites after the snapshot: they are in the segments only.
    let newer: Vec<_> = records[..10]
        .iter()
        .map(|(key, _)| {
            (
                key.clone(),
                Record::value(version(5000), Bytes::from_static(b"newer")),
            )
        })
        .collect();
    for (key, record) in &newer {
        persistence
            .store
            .apply(Bytes::copy_from_slice(key), record.clone());
    }
    persistence.log.close();
    persistence.store.clear_observer();
    let status = persistence.log.status();
    assert!(status.last_snapshot_unix_ms.is_some());
    assert!(status.snapshot_bytes > 0);
    drop(persistence);
    let reopened = open(dir.path(), small).unwrap();
    assert_holds(&reopened, &records[10..]);
    assert_holds(&reopened, &newer);
    assert!(reopened.log.recovery().snapshot.is_some());
    let on_disk = std::fs::read_dir(dir.path()).unwrap().count();
    assert!(on_disk < 12, "old segments are deleted ({on_disk} files)");
}

#[test]
fn always_waits_for_the_fsync_and_one_fsync_covers_many_writes() {
    let dir = tempfile::tempdir().unwrap();
    let persistence = open(dir.path(), config(FsyncPolicy::Always)).unwrap();
    let log = persistence.log.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let records = sample(200);
    runtime.block_on(async {
        let mut marks = Vec::new();
        for (key, record) in &records {
            log.append(key, record);
            marks.push(log.mark());
        }
        let waits = marks.iter().map(|mark| log.wait_durable(*mark));
        for outcome in futures::future::join_all(waits).await {
            outcome.unwrap();
        }
    });
    let status = log.status();
    assert_eq!(status.unsynced_bytes, 0);
    assert!(status.fsyncs >= 1);
    assert!(
        status.fsyncs < 200,
        "group commit: {} fsyncs for 200 writes",
        status.fsyncs
    );
}

#[test]
fn a_second_node_cannot_open_a_locked_directory() {
    let dir = tempfile::tempdir().unwrap();
    let _first = open(dir.path(), config(FsyncPolicy::No)).unwrap();
    let second = open(dir.path(), config(FsyncPolicy::No)).unwrap_err();
    assert!(matches!(second, DurableError::Locked { .. }), "{second}");
    assert!(second.to_string().contains("in use by another process"));
    assert!(matches!(
        DataDir::open(dir.path()),
        Err(DurableError::Locked { .. })
    ));
}

fn append(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(bytes).unwrap();
}

fn flip(path: &Path, offset: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset] ^= 0xff;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn save_snapshots_everything_before_it_and_bgsave_answers_as_redis_does() {
    use dtable::durable::{BackgroundSave, SaveError, SaveRefused};
    let dir = tempfile::tempdir().unwrap();
    let persistence = open(dir.path(), config(FsyncPolicy::EverySec)).unwrap();
    persistence.store.set_observer(persistence.log.appender());
    let log = persistence.log.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // More than one batch of the snapshot's scan (4096): every batch must follow the last.
    let records = sample(10_000);
    for (key, record) in &records {
        persistence
            .store
            .apply(Bytes::copy_from_slice(key), record.clone());
    }
    let started = log.last_save_unix();
    assert!(
        started > 0,
        "before any snapshot, the start counts as a save"
    );
    runtime.block_on(log.save()).unwrap();
    let status = log.status();
    assert_eq!(status.snapshots, 1);
    assert!(!status.snapshot_in_progress);
    assert!(!status.last_snapshot_failed);
    assert!(log.last_save_unix() >= started);
    // SAVE waited for the snapshot: it is on disk now, holding every record.
    let snapshots: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "snap"))
        .collect();
    assert_eq!(snapshots.len(), 1, "{snapshots:?}");

    // BGSAVE is shown in progress from its reply on; a second one is refused until it ends.
    assert_eq!(log.background_save(false), Ok(BackgroundSave::Started));
    let during = log.status();
    assert!(during.snapshot_in_progress && during.snapshot_requested);
    let again = log.background_save(true);
    let saved = runtime.block_on(log.save());
    eventually("the background snapshot", || {
        let status = log.status();
        status.snapshots >= 2 && !status.snapshot_in_progress
    });
    // Unless it had already ended (a fast disk), the second request was refused.
    assert!(
        matches!(
            again,
            Err(SaveRefused::InProgress) | Ok(BackgroundSave::Started)
        ),
        "{again:?}"
    );
    assert!(
        matches!(
            saved,
            Ok(()) | Err(SaveError::Refused(SaveRefused::InProgress))
        ),
        "{saved:?}"
    );

    log.close();
    persistence.store.clear_observer();
    assert_eq!(log.background_save(false), Err(SaveRefused::Stopping));
    drop((persistence, log));
    let reopened = open(dir.path(), config(FsyncPolicy::EverySec)).unwrap();
    assert_holds(&reopened, &records);
    assert!(reopened.log.recovery().snapshot.is_some());
}

#[test]
fn a_removal_is_a_log_record_and_damage_in_a_snapshot() {
    use dtable::durable::format::{encode, encode_end, encode_removal};
    use dtable::durable::replay::{scan, SEGMENT_MAGIC, SNAPSHOT_MAGIC};
    let mut frames = Vec::new();
    encode(
        &mut frames,
        b"k",
        &Record::value(version(1), Bytes::from_static(b"v")),
    );
    encode_removal(&mut frames, b"k", &version(1));
    let mut segment = SEGMENT_MAGIC.to_vec();
    segment.extend_from_slice(&frames);
    let found = scan(&segment, SEGMENT_MAGIC, |_| {});
    assert_eq!((found.records, found.damage), (2, None));
    let mut snapshot = SNAPSHOT_MAGIC.to_vec();
    snapshot.extend_from_slice(&frames);
    encode_end(&mut snapshot, 2);
    let found = scan(&snapshot, SNAPSHOT_MAGIC, |_| {});
    assert_eq!(found.records, 1);
    assert_eq!(
        found.damage.map(|d| d.reason),
        Some("a removal in a snapshot")
    );
}

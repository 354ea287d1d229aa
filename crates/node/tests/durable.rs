//! Durability over real `dendrite node` processes with `--data-dir`: a whole cluster killed
//! with SIGKILL under load and restarted with the same command lines keeps every write
//! acknowledged under `--fsync always`; a log cut short mid-record is recovered with the
//! torn tail counted; a log damaged mid-file refuses to start, naming the file, the offset and
//! `dendrite check-data`, which repairs it; a data directory is locked and owned by one node.
//!
//! Every wait polls with a deadline; nothing sleeps to synchronise.

// Helpers outside #[test] functions are test code too; a failed unwrap is a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::{
    connect, dendrite, eventually, set_consistency, start_node, status, wait_settled, Node, WAIT,
};
use dendrite_node::http::client::http_get;
use redis::AsyncCommands;
use tokio::time::{sleep, timeout, Instant};

fn durable_args(dir: &Path, fsync: &str) -> Vec<String> {
    vec![
        "--replicas".into(),
        "2".into(),
        "--data-dir".into(),
        dir.display().to_string(),
        "--fsync".into(),
        fsync.into(),
    ]
}

async fn start(listen: &str, join: &[&str], args: &[String]) -> Node {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    start_node(listen, join, &args).await
}

/// The newest log segment of a data directory.
fn newest_segment(dir: &Path) -> PathBuf {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "log"))
        .collect();
    segments.sort();
    segments.pop().expect("no segment in the data directory")
}

/// What the writers of the load had acknowledged.
#[derive(Default)]
struct Acknowledged {
    /// Keys set (and never deleted), with their value.
    present: Vec<(String, String)>,
    /// Keys set then deleted.
    deleted: Vec<String>,
}

#[tokio::test]
async fn a_whole_cluster_killed_under_load_keeps_every_acknowledged_write() {
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let args: Vec<Vec<String>> = dirs
        .iter()
        .map(|dir| durable_args(dir.path(), "always"))
        .collect();
    let first = start("127.0.0.1:0", &[], &args[0]).await;
    let seed = first.ring.clone();
    let second = start("127.0.0.1:0", &[&seed], &args[1]).await;
    let third = start("127.0.0.1:0", &[&seed], &args[2]).await;
    let mut nodes = vec![first, second, third];
    wait_settled(&nodes.iter().collect::<Vec<_>>(), 2).await;

    // Writers on every node, at consistency 3, until the nodes die under them.
    let acknowledged = Arc::new(Mutex::new(Acknowledged::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for (index, node) in nodes.iter().enumerate() {
        let mut con = connect(&node.resp).await;
        set_consistency(&mut con, 1, 3).await;
        let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            for n in 0.. {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let key = format!("key:{index}:{n}");
                let value = format!("value:{index}:{n}");
                let set: redis::RedisResult<()> = con.set(&key, &value).await;
                if set.is_err() {
                    return;
                }
                if n % 5 == 0 {
                    let deleted: redis::RedisResult<u32> = con.del(&key).await;
                    match deleted {
                        Ok(_) => acknowledged.lock().unwrap().deleted.push(key),
                        Err(_) => return,
                    }
                } else {
                    acknowledged.lock().unwrap().present.push((key, value));
                }
            }
        }));
    }
    eventually("300 acknowledged writes", || async {
        let done = acknowledged.lock().unwrap().present.len() >= 300;
        done.then_some(())
    })
    .await;
    // kill -9 of the whole cluster while the writers are still writing.
    for node in &mut nodes {
        node.kill().await.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        timeout(WAIT, writer)
            .await
            .expect("a writer did not stop")
            .unwrap();
    }
    let acknowledged = std::mem::take(&mut *acknowledged.lock().unwrap());
    assert!(!acknowledged.deleted.is_empty());

    // The same command lines again (at the ring addresses the first run picked).
    let rings: Vec<String> = nodes.iter().map(|node| node.ring.clone()).collect();
    drop(nodes);
    let first = start(&rings[0], &[], &args[0]).await;
    let second = start(&rings[1], &[&rings[0]], &args[1]).await;
    let third = start(&rings[2], &[&rings[0]], &args[2]).await;
    let nodes = [first, second, third];
    wait_settled(&nodes.iter().collect::<Vec<_>>(), 2).await;
    for node in &nodes {
        let status = status(node).await.unwrap();
        let loaded = status["persistence"]["recovery"]["records"]
            .as_u64()
            .unwrap();
        assert!(loaded > 0, "{} loaded nothing", node.ring);
    }

    let mut con = connect(&nodes[0].resp).await;
    let deadline = Instant::now() + WAIT;
    loop {
        let mut wrong = Vec::new();
        for (key, value) in &acknowledged.present {
            let got: redis::RedisResult<Option<String>> = con.get(key).await;
            if got.as_ref().ok().and_then(Option::as_deref) != Some(value.as_str()) {
                wrong.push(format!("{key}: {got:?}, acknowledged {value}"));
            }
        }
        for key in &acknowledged.deleted {
            let got: redis::RedisResult<Option<String>> = con.get(key).await;
            if !matches!(got, Ok(None)) {
                wrong.push(format!("{key}: {got:?}, acknowledged deleted"));
            }
        }
        if wrong.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} acknowledged writes wrong after the restart, e.g. {:?}",
            wrong.len(),
            acknowledged.present.len() + acknowledged.deleted.len(),
            &wrong[..wrong.len().min(5)]
        );
        sleep(common::POLL).await;
    }
}

/// One node with a data directory, `count` keys written and acknowledged under `always`, then
/// killed: returns the directory and the node's ring address.
async fn written_then_killed(count: usize) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut node = start("127.0.0.1:0", &[], &durable_args(dir.path(), "always")).await;
    let mut con = connect(&node.resp).await;
    for n in 0..count {
        let () = con
            .set(format!("key:{n}"), format!("value:{n}"))
            .await
            .unwrap();
    }
    node.kill().await.unwrap();
    (dir, node.ring.clone())
}

#[tokio::test]
async fn a_record_cut_short_at_the_end_is_cut_off_and_counted() {
    let (dir, ring) = written_then_killed(50).await;
    let segment = newest_segment(dir.path());
    // The start of a record whose length says 64 bytes, and only 7 of them: a write cut short.
    let mut bytes = std::fs::read(&segment).unwrap();
    let good_len = bytes.len();
    bytes.extend_from_slice(&[64, 0, 0, 0, 1, 2, 3]);
    std::fs::write(&segment, &bytes).unwrap();

    let node = start(&ring, &[], &durable_args(dir.path(), "always")).await;
    let mut con = connect(&node.resp).await;
    for n in 0..50 {
        let got: Option<String> = con.get(format!("key:{n}")).await.unwrap();
        assert_eq!(got, Some(format!("value:{n}")));
    }
    let status = status(&node).await.unwrap();
    assert_eq!(status["persistence"]["recovery"]["truncated_tails"], 1);
    assert_eq!(status["persistence"]["recovery"]["truncated_bytes"], 7);
    assert_eq!(std::fs::metadata(&segment).unwrap().len(), good_len as u64);
    let metrics = http_get(&node.http, "/metrics", WAIT).await.unwrap();
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(
        text.contains("dendrite_recovery_truncated_tails 1"),
        "{text}"
    );
    let info: String = redis::cmd("INFO")
        .arg("persistence")
        .query_async(&mut con)
        .await
        .unwrap();
    assert!(info.contains("aof_enabled:1"), "{info}");
    assert!(info.contains("aof_fsync:always"), "{info}");
    assert!(info.contains("aof_load_truncated_tails:1"), "{info}");
}

#[tokio::test]
async fn damage_mid_file_refuses_to_start_and_check_data_fix_repairs_it() {
    let (dir, ring) = written_then_killed(50).await;
    let segment = newest_segment(dir.path());
    let mut bytes = std::fs::read(&segment).unwrap();
    assert!(bytes.len() > 1000, "50 records are more than a few bytes");
    bytes[300] ^= 0xff;
    std::fs::write(&segment, &bytes).unwrap();

    let args = durable_args(dir.path(), "always");
    let refused = dendrite()
        .args(["node", "--listen", &ring, "--resp", "127.0.0.1:0"])
        .args(["--http", "127.0.0.1:0", "--log", "warn"])
        .args(&args)
        .stderr(Stdio::piped())
        .output();
    let refused = timeout(WAIT, refused).await.unwrap().unwrap();
    assert!(!refused.status.success(), "started on a damaged log");
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains(&segment.display().to_string()),
        "{message}"
    );
    assert!(message.contains("damaged at byte"), "{message}");
    assert!(message.contains("dendrite check-data"), "{message}");

    let dir_arg = dir.path().display().to_string();
    let check = timeout(WAIT, dendrite().args(["check-data", &dir_arg]).output())
        .await
        .unwrap()
        .unwrap();
    assert!(!check.status.success(), "check-data found nothing wrong");
    assert!(String::from_utf8_lossy(&check.stdout).contains("damaged at byte"));
    let fix = timeout(
        WAIT,
        dendrite().args(["check-data", &dir_arg, "--fix"]).output(),
    )
    .await
    .unwrap()
    .unwrap();
    let fixed = String::from_utf8_lossy(&fix.stdout);
    assert!(fix.status.success(), "{fixed}");
    assert!(fixed.contains("fixed, cut there"), "{fixed}");

    let node = start(&ring, &[], &args).await;
    let mut con = connect(&node.resp).await;
    let kept: Option<String> = con.get("key:0").await.unwrap();
    assert_eq!(
        kept.as_deref(),
        Some("value:0"),
        "records before the damage are kept"
    );
}

#[tokio::test]
async fn a_data_directory_is_locked_and_belongs_to_one_node() {
    let dir = tempfile::tempdir().unwrap();
    let args = durable_args(dir.path(), "everysec");
    let mut owner = start("127.0.0.1:0", &[], &args).await;
    let run = |listen: String| {
        let args = args.clone();
        async move {
            let output = dendrite()
                .args(["node", "--listen", &listen, "--resp", "127.0.0.1:0"])
                .args(["--http", "127.0.0.1:0"])
                .args(&args)
                .stderr(Stdio::piped())
                .output();
            timeout(WAIT, output).await.unwrap().unwrap()
        }
    };
    let second = run("127.0.0.1:0".into()).await;
    assert!(!second.status.success());
    let message = String::from_utf8_lossy(&second.stderr);
    assert!(message.contains("in use by another process"), "{message}");

    owner.kill().await.unwrap();
    let other = run("127.0.0.1:0".into()).await;
    assert!(!other.status.success());
    let message = String::from_utf8_lossy(&other.stderr);
    assert!(
        message.contains(&format!("belongs to the node at {}", owner.ring)),
        "{message}"
    );
}

/// The `# Persistence` INFO section of a node, as `field -> value`.
async fn persistence_info(con: &mut redis::aio::MultiplexedConnection) -> Vec<(String, String)> {
    let info: String = redis::cmd("INFO")
        .arg("persistence")
        .query_async(con)
        .await
        .unwrap();
    info.lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(field, value)| (field.to_owned(), value.to_owned()))
        .collect()
}

fn field<'a>(info: &'a [(String, String)], name: &str) -> &'a str {
    info.iter()
        .find(|(field, _)| field == name)
        .map(|(_, value)| value.as_str())
        .unwrap_or_else(|| panic!("no {name} in INFO persistence: {info:?}"))
}

fn snapshots_in(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|ext| ext == "snap")
        })
        .count()
}

#[tokio::test]
async fn save_bgsave_and_lastsave_take_and_report_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let args = durable_args(dir.path(), "everysec");
    let mut node = start("127.0.0.1:0", &[], &args).await;
    let mut con = connect(&node.resp).await;
    for n in 0..200 {
        let () = con.set(format!("key:{n}"), n).await.unwrap();
    }
    let before: u64 = redis::cmd("LASTSAVE").query_async(&mut con).await.unwrap();
    assert!(
        before > 1_700_000_000,
        "LASTSAVE {before} is not a recent Unix time"
    );
    assert_eq!(snapshots_in(dir.path()), 0);

    // SAVE answers once the snapshot is on disk.
    let saved: String = redis::cmd("SAVE").query_async(&mut con).await.unwrap();
    assert_eq!(saved, "OK");
    assert_eq!(snapshots_in(dir.path()), 1);
    let last: u64 = redis::cmd("LASTSAVE").query_async(&mut con).await.unwrap();
    assert!(last >= before);
    let info = persistence_info(&mut con).await;
    assert_eq!(field(&info, "rdb_saves"), "1");
    assert_eq!(field(&info, "rdb_last_save_time"), last.to_string());
    assert_eq!(field(&info, "rdb_last_bgsave_status"), "ok");
    let appendonly: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("appendonly")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(
        appendonly,
        ["appendonly", "yes"],
        "agrees with aof_enabled:1"
    );

    // BGSAVE starts one in the background; INFO shows it until it ends.
    let started: String = redis::cmd("BGSAVE").query_async(&mut con).await.unwrap();
    assert_eq!(started, "Background saving started");
    eventually("the background save to end", || {
        let mut con = con.clone();
        async move {
            let info = persistence_info(&mut con).await;
            (field(&info, "rdb_bgsave_in_progress") == "0" && field(&info, "rdb_saves") == "2")
                .then_some(())
        }
    })
    .await;
    let refused: redis::RedisResult<String> = redis::cmd("BGSAVE")
        .arg("later")
        .query_async(&mut con)
        .await;
    assert!(
        refused.unwrap_err().to_string().contains("syntax error"),
        "BGSAVE later"
    );

    // The snapshot is what a restart loads.
    node.kill().await.unwrap();
    let node = start(&node.ring, &[], &args).await;
    let status = status(&node).await.unwrap();
    assert!(
        status["persistence"]["recovery"]["snapshot_bytes"]
            .as_u64()
            .unwrap()
            > 0
    );
    let mut con = connect(&node.resp).await;
    let value: Option<u32> = con.get("key:199").await.unwrap();
    assert_eq!(value, Some(199));

    // Without a data directory there is nowhere to save: the error says how to get one.
    let memory = start_node("127.0.0.1:0", &[], &[]).await;
    let mut con = connect(&memory.resp).await;
    for command in ["SAVE", "BGSAVE", "LASTSAVE"] {
        let refused: redis::RedisResult<redis::Value> =
            redis::cmd(command).query_async(&mut con).await;
        let error = refused.unwrap_err().to_string();
        assert!(error.contains("--data-dir"), "{command}: {error}");
    }
}

/// A tmpfs of `size` mounted on a fresh directory, unmounted when dropped.
struct TinyDisk {
    mount: tempfile::TempDir,
}

impl TinyDisk {
    /// `None` (said loudly) when this process cannot mount: not root.
    fn mount(size: &str) -> Option<TinyDisk> {
        if !dendrite_chaos::netns::is_root() {
            eprintln!(
                "\n*** SKIPPED: simulating a full disk mounts a tiny tmpfs, which needs root; \
                 run as root (.ci/run does) to test it ***\n"
            );
            return None;
        }
        let mount = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(mount.path())
            .status()
            .unwrap();
        assert!(status.success(), "mount -t tmpfs failed as root");
        Some(TinyDisk { mount })
    }

    fn path(&self) -> &Path {
        self.mount.path()
    }

    /// Gives the disk more room (space coming back).
    fn grow(&self, size: &str) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.path())
            .status()
            .unwrap();
        assert!(status.success(), "mount -o remount failed");
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.path())
            .status();
    }
}

/// The data directory on a 256 KiB tmpfs (mounted by the test, so it needs root: when not
/// root it prints a loud SKIPPED banner and returns, as the chaos test does for network
/// namespaces): writes fill it, then fail with `MISCONF` saying the disk is full, that nothing
/// was applied and what to do, while reads are still served and the failure shows in `/status`,
/// `/metrics` and INFO; once the tmpfs grows, writes succeed again and survive a restart.
#[tokio::test]
async fn a_full_disk_refuses_writes_serves_reads_and_recovers_when_space_returns() {
    let Some(disk) = TinyDisk::mount("256k") else {
        return;
    };
    let args = durable_args(disk.path(), "everysec");
    let mut node = start("127.0.0.1:0", &[], &args).await;
    let mut con = connect(&node.resp).await;
    let () = con.set("kept", "before the disk filled").await.unwrap();

    // Fill it: 8 KiB values until a write fails (256 KiB cannot take 100 of them).
    let value = "v".repeat(8192);
    let mut failure = None;
    for n in 0..100 {
        let set: redis::RedisResult<()> = con.set(format!("fill:{n}"), &value).await;
        if let Err(error) = set {
            failure = Some(error);
            break;
        }
    }
    if failure.is_none() {
        // Every write was acknowledged before the writer met the full disk: wait until it has.
        eventually("the log to report the full disk", || async {
            let state = status(&node).await?;
            state["persistence"]["error"].as_str().map(|_| ())
        })
        .await;
        let set: redis::RedisResult<()> = con.set("one more", &value).await;
        failure = set.err();
    }
    // The write that met the failure may have been applied just before (it then says so) or
    // refused: both name the disk and say what to do.
    let failure = failure.expect("writes never failed on a full 256 KiB disk");
    assert_eq!(failure.code(), Some("MISCONF"), "{failure}");
    let text = failure.to_string();
    assert!(text.contains("disk full or failing"), "{text}");
    assert!(text.contains("Free space"), "{text}");

    // Writes now are refused before anything is applied.
    let refused: redis::RedisResult<()> = con.set("refused", "x").await;
    let text = refused.unwrap_err().to_string();
    assert!(text.contains("Nothing was applied"), "{text}");
    assert!(
        text.contains(&node.ring),
        "the error names the node: {text}"
    );
    let absent: Option<String> = con.get("refused").await.unwrap();
    assert_eq!(absent, None);
    // Reads are still served.
    let kept: Option<String> = con.get("kept").await.unwrap();
    assert_eq!(kept.as_deref(), Some("before the disk filled"));
    // Counted and shown.
    let state = status(&node).await.unwrap();
    let persistence = &state["persistence"];
    assert!(persistence["error"].as_str().is_some(), "{persistence}");
    assert!(persistence["write_errors"].as_u64().unwrap() >= 1);
    assert!(persistence["refused_writes"].as_u64().unwrap() >= 1);
    let metrics = http_get(&node.http, "/metrics", WAIT).await.unwrap();
    let metrics = String::from_utf8_lossy(&metrics.body).into_owned();
    assert!(metrics.contains("dendrite_log_writable 0"), "{metrics}");
    let info = persistence_info(&mut con).await;
    assert_eq!(field(&info, "aof_last_write_status"), "err");

    // Space comes back: the queued records drain and writes succeed again.
    disk.grow("64m");
    eventually("writes to succeed again", || {
        let mut con = con.clone();
        async move {
            let set: redis::RedisResult<()> = con.set("after", "space returned").await;
            set.ok()
        }
    })
    .await;
    let state = status(&node).await.unwrap();
    assert!(state["persistence"]["error"].is_null(), "{state}");
    let metrics = http_get(&node.http, "/metrics", WAIT).await.unwrap();
    assert!(String::from_utf8_lossy(&metrics.body).contains("dendrite_log_writable 1"));

    // And what was written is on disk (once the backlog has drained and been fsynced): a
    // restart finds it.
    eventually("the backlog to reach the disk", || async {
        let state = status(&node).await?;
        (state["persistence"]["unsynced_bytes"].as_u64()? == 0).then_some(())
    })
    .await;
    node.kill().await.unwrap();
    let node = start(&node.ring, &[], &args).await;
    let mut con = connect(&node.resp).await;
    for (key, wanted) in [
        ("kept", "before the disk filled"),
        ("after", "space returned"),
    ] {
        let got: Option<String> = con.get(key).await.unwrap();
        assert_eq!(got.as_deref(), Some(wanted), "{key}");
    }
    drop(con);
    drop(node);
}

/// Sets `count` keys `prefix:N` to `value:N`, pipelined in batches.
async fn load_keys(con: &mut redis::aio::MultiplexedConnection, count: usize, value: &str) {
    for start in (0..count).step_by(500) {
        let mut pipe = redis::pipe();
        for n in start..(start + 500).min(count) {
            pipe.set(
                format!("key:{n:05}"),
                format!("{value}:{n:05}:{}", "x".repeat(64)),
            )
            .ignore();
        }
        let () = pipe.query_async(con).await.unwrap();
    }
}

/// A restarted node of a loaded three-node cluster (every node holds every key: 2 replicas)
/// loads its data directory, rejoins at its address and pulls about what changed while it was
/// away: with 1 % of 20 000 keys rewritten meanwhile, at most 5 % of its data
/// (`pulled_after_restart` in /status), and it then holds every new value.
#[tokio::test]
async fn a_restarted_node_pulls_little_more_than_what_changed_while_it_was_away() {
    const KEYS: usize = 20_000;
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let args: Vec<Vec<String>> = dirs
        .iter()
        .map(|dir| durable_args(dir.path(), "everysec"))
        .collect();
    let first = start("127.0.0.1:0", &[], &args[0]).await;
    let seed = first.ring.clone();
    let second = start("127.0.0.1:0", &[&seed], &args[1]).await;
    let mut third = start("127.0.0.1:0", &[&seed], &args[2]).await;
    wait_settled(&[&first, &second, &third], 2).await;
    let mut con = connect(&first.resp).await;
    set_consistency(&mut con, 1, 3).await;
    load_keys(&mut con, KEYS, "old").await;

    // Every record the third node holds is on its disk (handed to the OS) before it is killed.
    eventually("the third node to hold and log every key", || async {
        let state = status(&third).await?;
        let keys = state["keys"].as_u64()?;
        let unsynced = state["persistence"]["unsynced_bytes"].as_u64()?;
        (keys == KEYS as u64 && unsynced == 0).then_some(())
    })
    .await;
    third.kill().await.unwrap();

    // 1 % of the keys change while it is away.
    set_consistency(&mut con, 1, 2).await;
    let changed = KEYS / 100;
    let mut pipe = redis::pipe();
    for n in (0..KEYS).step_by(100) {
        pipe.set(format!("key:{n:05}"), format!("new:{n:05}"))
            .ignore();
    }
    let () = pipe.query_async(&mut con).await.unwrap();

    let third = start(&third.ring, &[&seed], &args[2]).await;
    let loaded = status(&third).await.unwrap()["persistence"]["recovery"]["records"]
        .as_u64()
        .unwrap();
    assert!(loaded >= KEYS as u64, "loaded {loaded} records from disk");
    wait_settled(&[&first, &second, &third], 2).await;
    // Caught up: the third node's own copy holds every new value (READONLY reads it).
    let mut own = connect(&third.resp).await;
    let () = redis::cmd("READONLY").query_async(&mut own).await.unwrap();
    eventually("the restarted node to hold every changed key", || {
        let mut own = own.clone();
        async move {
            for n in (0..KEYS).step_by(100) {
                let got: Option<String> = own.get(format!("key:{n:05}")).await.ok()?;
                if got != Some(format!("new:{n:05}")) {
                    return None;
                }
            }
            Some(())
        }
    })
    .await;
    eventually("every range to be fully replicated", || async {
        for node in [&first, &second, &third] {
            if status(node).await?["underreplicated_ranges"].as_u64()? != 0 {
                return None;
            }
        }
        Some(())
    })
    .await;
    let state = status(&third).await.unwrap();
    let pulled = &state["persistence"]["pulled_after_restart"];
    let (records, bytes) = (
        pulled["records"].as_u64().unwrap(),
        pulled["bytes"].as_u64().unwrap(),
    );
    let data_bytes = (KEYS * ("key:00000".len() + "old:00000:".len() + 64)) as u64;
    eprintln!(
        "restart pull: {records} records, {bytes} bytes for {changed} changed keys \
         ({:.2} % of {data_bytes} bytes of data)",
        bytes as f64 * 100.0 / data_bytes as f64
    );
    assert!(
        records >= changed as u64,
        "the changed keys came by anti-entropy"
    );
    assert!(
        bytes * 20 <= data_bytes,
        "pulled {bytes} bytes ({records} records) after the restart: more than 5 % of the \
         {data_bytes} bytes it holds, for 1 % changed"
    );
    let metrics = http_get(&third.http, "/metrics", WAIT).await.unwrap();
    let metrics = String::from_utf8_lossy(&metrics.body).into_owned();
    assert!(
        metrics.contains(&format!(
            "dendrite_pulled_after_restart{{unit=\"bytes\"}} {bytes}"
        )),
        "{metrics}"
    );
    let info = persistence_info(&mut own).await;
    assert_eq!(
        field(&info, "pulled_after_restart_bytes"),
        bytes.to_string()
    );
}

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

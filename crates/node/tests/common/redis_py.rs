//! A Python with redis-py, for the tests that run real redis-py clients (`real_clients.rs`,
//! `cluster_clients.rs`): a venv under the target directory, made once.

use std::path::{Path, PathBuf};
use std::process::Stdio;

/// A Python with redis-py 5 or later, in a venv under the target directory made once.
pub fn python() -> PathBuf {
    pyvenv::Venv {
        work: Path::new(env!("CARGO_TARGET_TMPDIR")),
        name: "redis-py-venv",
        packages: &["redis>=5"],
        probe: "import redis, sys; sys.exit(int(redis.__version__.split('.')[0]) < 5)",
    }
    .python()
}

/// Runs `script` with redis-py (the venv is made first if need be) and `port` as its argument,
/// within `wait`; fails the test unless it exits 0 and prints a line starting with `ok`.
pub async fn run_script(script: &str, port: &str, wait: std::time::Duration) {
    let python = tokio::task::spawn_blocking(python).await.unwrap();
    let run = tokio::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(port)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(wait, run)
        .await
        .expect("redis-py script timed out")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.starts_with("ok"),
        "redis-py failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Starts `script` with redis-py (the venv is made first if need be) and `args`, its output
/// captured: for scripts that run alongside the test (a load while nodes join), finished with
/// [`finish`].
pub async fn spawn_script(script: &str, args: &[&str]) -> tokio::process::Child {
    let python = tokio::task::spawn_blocking(python).await.unwrap();
    tokio::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// Waits up to `wait` for a script from [`spawn_script`] to end; fails the test unless it
/// exits 0 and prints a line starting with `ok`. Returns its output.
pub async fn finish(child: tokio::process::Child, wait: std::time::Duration) -> String {
    let output = tokio::time::timeout(wait, child.wait_with_output())
        .await
        .expect("redis-py script timed out")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success() && stdout.starts_with("ok"),
        "redis-py failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

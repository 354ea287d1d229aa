//! A Python with redis-py, for the tests that run real redis-py clients (`real_clients.rs`,
//! `cluster_clients.rs`): a venv under the target directory, made once.

use std::path::{Path, PathBuf};
use std::process::Stdio;

fn has_redis_py(python: &Path) -> bool {
    std::process::Command::new(python)
        .args([
            "-c",
            "import redis, sys; sys.exit(int(redis.__version__.split('.')[0]) < 5)",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// A Python with redis-py 5 or later, in a venv under the target directory made once.
pub fn python() -> PathBuf {
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let venv = work.join("redis-py-venv");
    let python = venv.join("bin").join("python");
    if has_redis_py(&python) {
        return python;
    }
    // Build privately and rename into place so a concurrent run never sees half a venv.
    let staging = work.join(format!("redis-py-venv.staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&work).unwrap();
    let created = std::process::Command::new("python3")
        .args(["-m", "venv"])
        .arg(&staging)
        .status();
    assert!(
        matches!(created, Ok(status) if status.success()),
        "the redis-py test needs `python3 -m venv` (got {created:?}); install python3-venv"
    );
    let installed = std::process::Command::new(staging.join("bin").join("python"))
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(["--timeout", "60", "redis>=5"])
        .status();
    assert!(
        matches!(installed, Ok(status) if status.success()),
        "could not `pip install redis>=5` into {} (got {installed:?}); the test needs PyPI \
         once to build the venv. This is a FAILURE, not a skip.",
        staging.display()
    );
    if std::fs::rename(&staging, &venv).is_err() {
        if has_redis_py(&python) {
            let _ = std::fs::remove_dir_all(&staging);
        } else {
            let _ = std::fs::remove_dir_all(&venv);
            std::fs::rename(&staging, &venv).unwrap();
        }
    }
    assert!(
        has_redis_py(&python),
        "redis-py is not importable from {}",
        python.display()
    );
    python
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

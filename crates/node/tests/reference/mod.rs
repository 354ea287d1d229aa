//! A real `redis-server` to compare Dendrite with, provisioned on first use.
//!
//! Redis 7.0 from Debian's packages (`apt-get download` of `redis-server`, `redis-tools` and
//! the two libraries Debian builds it against, `liblzf1` and `libjemalloc2`), unpacked with
//! `dpkg -x` under the target directory: no root install, no compiler, and the same binary on
//! every Debian 12 machine. A `redis-server` 7.0.x on PATH is used instead when there is one.
//! When neither works the tests FAIL saying why: a differential test that skips proves nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The Redis minor version the differential tests expect (reply texts differ between minors).
const REDIS_SERIES: &str = "v=7.0.";
/// Debian packages that make up a runnable redis-server.
const PACKAGES: &[&str] = &["redis-server", "redis-tools", "liblzf1", "libjemalloc2"];
/// How long a started server may take to accept connections.
const START_DEADLINE: Duration = Duration::from_secs(20);

fn work_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

/// How to run a redis-server binary: its path and the library directory it needs, if any.
#[derive(Debug, Clone)]
pub struct RedisBinary {
    program: PathBuf,
    library_dir: Option<PathBuf>,
}

impl RedisBinary {
    fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        if let Some(dir) = &self.library_dir {
            command.env("LD_LIBRARY_PATH", dir);
        }
        command
    }

    /// `redis-cli` from the same place as the server (Debian's `redis-tools`, unpacked beside
    /// it, or the one on PATH), with the same library directory.
    pub fn cli(&self) -> Command {
        let program = self.program.with_file_name("redis-cli");
        let mut command = Command::new(if self.program.is_absolute() {
            program
        } else {
            PathBuf::from("redis-cli")
        });
        if let Some(dir) = &self.library_dir {
            command.env("LD_LIBRARY_PATH", dir);
        }
        command
    }

    fn is_expected_series(&self) -> bool {
        self.command()
            .arg("--version")
            .stderr(Stdio::null())
            .output()
            .is_ok_and(|output| {
                output.status.success()
                    && String::from_utf8_lossy(&output.stdout).contains(REDIS_SERIES)
            })
    }
}

/// The redis-server to use, provisioning it once per test process.
pub fn redis_binary() -> RedisBinary {
    static BINARY: OnceLock<Mutex<Option<RedisBinary>>> = OnceLock::new();
    let cell = BINARY.get_or_init(|| Mutex::new(None));
    let mut guard = cell.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(binary) = guard.as_ref() {
        return binary.clone();
    }
    let on_path = RedisBinary {
        program: PathBuf::from("redis-server"),
        library_dir: None,
    };
    let binary = if on_path.is_expected_series() {
        on_path
    } else {
        provision_from_debian()
    };
    *guard = Some(binary.clone());
    binary
}

fn unpacked(root: &Path) -> RedisBinary {
    RedisBinary {
        program: root.join("usr/bin/redis-server"),
        library_dir: Some(root.join("usr/lib/x86_64-linux-gnu")),
    }
}

fn provision_from_debian() -> RedisBinary {
    let root = work_dir().join("redis-7.0");
    if unpacked(&root).is_expected_series() {
        return unpacked(&root);
    }
    // Unpack in a private directory and rename into place, so concurrent test processes never
    // run a half-unpacked server; the loser of a rename race uses the winner's copy.
    let staging = work_dir().join(format!("redis-7.0.staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).unwrap();
    let download = || {
        Command::new("apt-get")
            .arg("download")
            .args(PACKAGES)
            .current_dir(&staging)
            .status()
    };
    if !matches!(download(), Ok(status) if status.success()) {
        // A fresh machine may have no package lists yet.
        let updated = Command::new("apt-get").arg("update").status();
        let retried = download();
        assert!(
            matches!(retried, Ok(status) if status.success()),
            "the differential tests need redis-server 7.0: `apt-get download {}` failed \
             (apt-get update: {updated:?}, download: {retried:?}). They need Debian's package \
             archive once. This is a FAILURE, not a skip.",
            PACKAGES.join(" ")
        );
    }
    let unpack_root = staging.join("root");
    for entry in std::fs::read_dir(&staging).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "deb") {
            let status = Command::new("dpkg-deb")
                .arg("-x")
                .arg(&path)
                .arg(&unpack_root)
                .status();
            assert!(
                matches!(status, Ok(status) if status.success()),
                "dpkg-deb -x {} failed: {status:?}",
                path.display()
            );
        }
    }
    if std::fs::rename(&unpack_root, &root).is_err() && !unpacked(&root).is_expected_series() {
        let _ = std::fs::remove_dir_all(&root);
        std::fs::rename(&unpack_root, &root).unwrap();
    }
    let _ = std::fs::remove_dir_all(&staging);
    let binary = unpacked(&root);
    assert!(
        binary.is_expected_series(),
        "the redis-server unpacked into {} does not run or is not Redis 7.0",
        root.display()
    );
    binary
}

/// A running redis-server on a loopback port, killed when dropped.
pub struct RedisServer {
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts a redis-server configured as Dendrite describes itself (no persistence, one
    /// database), extra `config` arguments after (`--requirepass x`).
    pub fn start(config: &[&str]) -> RedisServer {
        let binary = redis_binary();
        // redis-server cannot listen on port 0, so take a free port from the kernel and hand
        // it over; another process may grab it meanwhile, hence the retries.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let dir = work_dir().join(format!("redis-run-{}-{port}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let child = binary
                .command()
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--databases", "1"])
                .args(["--daemonize", "no", "--logfile", ""])
                .arg("--dir")
                .arg(&dir)
                .args(config)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("starting redis-server");
            let mut server = RedisServer {
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                child,
                dir,
            };
            if server.wait_until_serving() {
                return server;
            }
        }
        panic!("redis-server did not start on any of 5 ports");
    }

    /// Polls until the server answers a connection, or it exited or the deadline passed.
    fn wait_until_serving(&mut self) -> bool {
        let deadline = Instant::now() + START_DEADLINE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(probe) = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)) {
                return said_goodbye(probe);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

/// PING, then QUIT and wait for the server to close: once this returns true the probe
/// connection is gone, so `CLIENT LIST` shows only the test's own clients.
fn said_goodbye(mut probe: TcpStream) -> bool {
    use std::io::{Read, Write};
    let _ = probe.set_read_timeout(Some(START_DEADLINE));
    if probe.write_all(b"PING\r\nQUIT\r\n").is_err() {
        return false;
    }
    let mut received = Vec::new();
    let _ = probe.read_to_end(&mut received);
    // PING answers PONG, or NOAUTH when the server wants a password; QUIT always OK.
    received.starts_with(b"+PONG\r\n")
        || received.starts_with(b"-NOAUTH") && received.ends_with(b"+OK\r\n")
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

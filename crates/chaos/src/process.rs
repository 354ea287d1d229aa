//! `dendrite node` processes: started on given addresses (in a network namespace or not),
//! their addresses read from the banner, killed with SIGKILL, paused with SIGSTOP and resumed
//! with SIGCONT. A node is killed when dropped.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::time::timeout;

/// Longest wait for a banner, or for a killed process to exit.
pub const START_WAIT: Duration = Duration::from_secs(30);

/// Why a node process could not be started or signalled.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The process could not be spawned.
    #[error("starting a node on {listen} failed: {source}")]
    Spawn {
        /// Its ring address.
        listen: String,
        /// Why.
        source: std::io::Error,
    },
    /// Its log file could not be opened.
    #[error("opening the node log {path:?} failed: {source}")]
    Log {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// No banner within [`START_WAIT`], or the process exited first.
    #[error("the node on {listen} printed no banner: {why}")]
    NoBanner {
        /// Its ring address.
        listen: String,
        /// What happened instead.
        why: String,
    },
    /// The banner lacks an address.
    #[error("no {label:?} in the banner {banner:?}")]
    Banner {
        /// The banner.
        banner: String,
        /// What is missing.
        label: &'static str,
    },
    /// A signal could not be sent, or the process did not exit after SIGKILL.
    #[error("{signal} to the node on {ring} failed: {why}")]
    Signal {
        /// The signal.
        signal: &'static str,
        /// The node's ring address.
        ring: String,
        /// Why.
        why: String,
    },
}

/// Where a node runs and listens.
#[derive(Debug, Clone, Copy)]
pub struct Addresses<'a> {
    /// The network namespace to run the node in (`ip netns exec`), or the caller's own.
    pub netns: Option<&'a str>,
    /// Ring address (port 0: any free port).
    pub listen: &'a str,
    /// RESP address.
    pub resp: &'a str,
    /// HTTP address.
    pub http: &'a str,
    /// A file the node's log is appended to; otherwise the log is dropped, unless
    /// `DENDRITE_TEST_LOGS` is set (then it goes to this process's stderr).
    pub log: Option<&'a Path>,
}

/// `program` (the binary, or a wrapper that execs it) with no config from the environment, no
/// stdin, stdout piped (the banner), killed when dropped, and logs to stderr only when
/// `DENDRITE_TEST_LOGS` is set.
pub fn command(program: &Path) -> Command {
    let mut command = Command::new(program);
    command
        .env_remove("DENDRITE_CONFIG")
        .kill_on_drop(true)
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    if std::env::var_os("DENDRITE_TEST_LOGS").is_some() {
        command.stderr(Stdio::inherit());
    } else {
        command.stderr(Stdio::null());
    }
    command
}

/// One `dendrite node` process and the addresses from its banner.
#[derive(Debug)]
pub struct Node {
    /// The process (with `ip netns exec`, the node itself: it execs).
    pub child: Child,
    /// Its RESP address.
    pub resp: String,
    /// Its HTTP address.
    pub http: String,
    /// Its ring address.
    pub ring: String,
    _stdout: Lines<BufReader<ChildStdout>>,
}

impl Node {
    /// Starts `binary` as a node at `addresses`, joining through `join` (none: a new ring),
    /// with fast stabilization (50-150 ms), warnings only in its log (or the filter in
    /// `DENDRITE_CHAOS_NODE_LOG`), and `extra` flags.
    pub async fn start(
        binary: &Path,
        addresses: &Addresses<'_>,
        join: &[&str],
        extra: &[&str],
    ) -> Result<Node, ProcessError> {
        let mut command = match addresses.netns {
            // `ip netns exec` enters the namespace and execs the binary: the child is the node.
            Some(netns) => {
                let mut command = self::command(Path::new("ip"));
                command.args(["netns", "exec", netns]).arg(binary);
                command
            }
            None => self::command(binary),
        };
        command.args([
            "node",
            "--listen",
            addresses.listen,
            "--resp",
            addresses.resp,
            "--http",
            addresses.http,
            "--stabilize-min-ms",
            "50",
            "--stabilize-max-ms",
            "150",
            "--log",
        ]);
        // The node log's filter: warnings, unless DENDRITE_CHAOS_NODE_LOG asks for more (for
        // example `warn,dtable=debug` to see ownership move while chasing an anomaly).
        command.arg(std::env::var("DENDRITE_CHAOS_NODE_LOG").unwrap_or_else(|_| "warn".into()));
        for seed in join {
            command.args(["--join", seed]);
        }
        command.args(extra);
        if let Some(path) = addresses.log {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|source| ProcessError::Log {
                    path: path.to_owned(),
                    source,
                })?;
            command.stderr(file);
        }
        let listen = addresses.listen.to_owned();
        let mut child = command.spawn().map_err(|source| ProcessError::Spawn {
            listen: listen.clone(),
            source,
        })?;
        let stdout = child.stdout.take().ok_or_else(|| ProcessError::NoBanner {
            listen: listen.clone(),
            why: "no stdout pipe".into(),
        })?;
        let mut stdout = BufReader::new(stdout).lines();
        let no_banner = |why: String| ProcessError::NoBanner {
            listen: listen.clone(),
            why,
        };
        let banner = timeout(START_WAIT, stdout.next_line())
            .await
            .map_err(|_| no_banner(format!("nothing within {START_WAIT:?}")))?
            .map_err(|e| no_banner(e.to_string()))?
            .ok_or_else(|| no_banner("it exited first".into()))?;
        Ok(Node {
            resp: banner_field(&banner, "RESP on ")?,
            http: banner_field(&banner, "HTTP on ")?,
            ring: banner_field(&banner, "ring on ")?,
            child,
            _stdout: stdout,
        })
    }

    /// `kill -9`: SIGKILL, then waits for the process to be gone.
    pub async fn kill(&mut self) -> Result<(), ProcessError> {
        let failed = |why: String| ProcessError::Signal {
            signal: "SIGKILL",
            ring: self.ring.clone(),
            why,
        };
        self.child.start_kill().map_err(|e| failed(e.to_string()))?;
        timeout(START_WAIT, self.child.wait())
            .await
            .map_err(|_| failed(format!("still running {START_WAIT:?} later")))?
            .map_err(|e| failed(e.to_string()))?;
        Ok(())
    }

    /// SIGSTOP: the process stops in place, sockets open, answering nothing.
    pub async fn pause(&self) -> Result<(), ProcessError> {
        self.signal("STOP").await
    }

    /// SIGCONT after [`Node::pause`].
    pub async fn resume(&self) -> Result<(), ProcessError> {
        self.signal("CONT").await
    }

    async fn signal(&self, name: &'static str) -> Result<(), ProcessError> {
        let failed = |why: String| ProcessError::Signal {
            signal: name,
            ring: self.ring.clone(),
            why,
        };
        let pid = self
            .child
            .id()
            .ok_or_else(|| failed("the process has exited".into()))?;
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(pid.to_string())
            .status()
            .await
            .map_err(|e| failed(e.to_string()))?;
        if status.success() {
            Ok(())
        } else {
            Err(failed(format!("`kill -{name} {pid}` exited with {status}")))
        }
    }
}

/// The text between `label` and the next comma (or the end) of the banner.
fn banner_field(banner: &str, label: &'static str) -> Result<String, ProcessError> {
    banner
        .split(label)
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .map(|field| field.trim().to_owned())
        .ok_or_else(|| ProcessError::Banner {
            banner: banner.to_owned(),
            label,
        })
}

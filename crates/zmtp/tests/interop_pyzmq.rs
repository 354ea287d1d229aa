//! Interoperability with real libzmq through pyzmq.
//!
//! The tests create a virtualenv with pyzmq under the target directory on first use
//! (`<target>/tmp/pyzmq-venv`). When pyzmq cannot be installed (no network), they FAIL with a
//! message saying so: an interop test that silently passes would prove nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns unwrap too

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use common::{echo_server, WAIT};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use zmtp::message_cipher::CipherKind;
use zmtp::security::Security;
use zmtp::{
    Client, ClientConfig, ClientSecurity, Connection, ConnectionConfig, Inbound, KeyPair,
    PublicKey, ServerConfig, ServerKeys, ServerSecurity,
};

const SCRIPT: &str = r#"
import sys, zmq

mode = sys.argv[1]
ctx = zmq.Context()
if mode == "req":
    # req <endpoint> <count> [<server public> <client public> <client secret>]
    s = ctx.socket(zmq.REQ)
    s.linger = 0
    s.rcvtimeo = 10000
    s.sndtimeo = 10000
    if len(sys.argv) > 4:
        s.curve_serverkey = sys.argv[4].encode()
        s.curve_publickey = sys.argv[5].encode()
        s.curve_secretkey = sys.argv[6].encode()
    s.connect(sys.argv[2])
    count = int(sys.argv[3])
    if count == 0:
        # Expect to be refused: one request that must get no reply.
        s.rcvtimeo = 1500
        s.send_multipart([b"req", b"refused?"])
        try:
            s.recv_multipart()
            print("replied", flush=True)
        except zmq.Again:
            print("no-reply", flush=True)
    for i in range(count):
        s.send_multipart([b"req", str(i).encode()])
        reply = s.recv_multipart()
        print(b"|".join(reply).decode(), flush=True)
elif mode in ("router", "rep"):
    # router|rep [curve]: prints "<port> <server public or ->", then serves until idle for 30 s
    s = ctx.socket(zmq.ROUTER if mode == "router" else zmq.REP)
    s.linger = 0
    s.rcvtimeo = 30000
    public = "-"
    if len(sys.argv) > 2 and sys.argv[2] == "curve":
        pub, sec = zmq.curve_keypair()
        s.curve_server = True
        s.curve_secretkey = sec
        s.curve_publickey = pub
        public = pub.decode()
    port = s.bind_to_random_port("tcp://127.0.0.1")
    print(port, public, flush=True)
    while True:
        try:
            msg = s.recv_multipart()
        except zmq.Again:
            break
        if mode == "rep":
            # REP strips the envelope itself and puts it back on the reply.
            s.send_multipart([b"py:" + b"".join(msg)])
            continue
        i = msg.index(b"", 1)
        envelope, body = msg[: i + 1], msg[i + 1 :]
        s.send_multipart(envelope + [b"py:" + b"".join(body)])
ctx.destroy(linger=0)
"#;

fn work_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

/// Path of a Python with pyzmq, creating the venv once. Panics with a clear message on failure.
fn python() -> PathBuf {
    static PYTHON: OnceLock<Mutex<Option<PathBuf>>> = OnceLock::new();
    let cell = PYTHON.get_or_init(|| Mutex::new(None));
    let mut guard = cell.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = guard.as_ref() {
        return path.clone();
    }
    let python = pyvenv::Venv {
        work: &work_dir(),
        name: "pyzmq-venv",
        packages: &["pyzmq"],
        probe: "import zmq; assert zmq.has('curve')",
    }
    .python();
    *guard = Some(python.clone());
    python
}

/// The helper script, written once per test process (atomically: temp file, then rename).
fn script_path() -> PathBuf {
    static SCRIPT_PATH: OnceLock<PathBuf> = OnceLock::new();
    SCRIPT_PATH
        .get_or_init(|| {
            let path = work_dir().join("zmtp_interop.py");
            let staging = work_dir().join(format!("zmtp_interop.py.{}", std::process::id()));
            std::fs::create_dir_all(work_dir()).unwrap();
            std::fs::write(&staging, SCRIPT).unwrap();
            std::fs::rename(&staging, &path).unwrap();
            path
        })
        .clone()
}

async fn python_command(args: &[String]) -> Command {
    let python = tokio::task::spawn_blocking(python).await.unwrap();
    let mut cmd = Command::new(python);
    cmd.arg(script_path())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    cmd
}

/// Runs a pyzmq REQ client to completion (bounded) and returns its output lines.
async fn run_req(args: Vec<String>) -> Vec<String> {
    let child = python_command(&args).await.spawn().unwrap();
    let output = tokio::time::timeout(WAIT * 3, child.wait_with_output())
        .await
        .expect("pyzmq REQ client did not finish")
        .unwrap();
    assert!(
        output.status.success(),
        "pyzmq REQ client failed: {:?}",
        output.status
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A pyzmq ROUTER server; killed when dropped.
struct PyRouter {
    child: Child,
    endpoint: String,
    public: Option<PublicKey>,
}

impl PyRouter {
    async fn start(curve: bool) -> PyRouter {
        PyRouter::start_as("router", curve).await
    }

    /// A pyzmq server of socket type `mode` ("router" or "rep").
    async fn start_as(mode: &str, curve: bool) -> PyRouter {
        let mut args = vec![mode.to_string()];
        if curve {
            args.push("curve".to_string());
        }
        let mut child = python_command(&args).await.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        tokio::time::timeout(WAIT, BufReader::new(stdout).read_line(&mut line))
            .await
            .expect("pyzmq ROUTER did not report its port")
            .unwrap();
        let mut fields = line.split_whitespace();
        let port: u16 = fields.next().unwrap().parse().unwrap();
        let public = match fields.next().unwrap() {
            "-" => None,
            text => Some(PublicKey::from_z85(text).unwrap()),
        };
        PyRouter {
            child,
            endpoint: format!("127.0.0.1:{port}"),
            public,
        }
    }

    async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(WAIT, self.child.wait()).await;
    }
}

#[tokio::test]
async fn pyzmq_req_to_our_null_server() {
    let server = echo_server(ServerConfig::default()).await;
    let lines = run_req(vec![
        "req".into(),
        format!("tcp://{}", server.local_addr()),
        "3".into(),
    ])
    .await;
    assert_eq!(lines, vec!["echo:|req|0", "echo:|req|1", "echo:|req|2"]);
}

#[tokio::test]
async fn pyzmq_req_to_our_curve_server() {
    let server_keys = KeyPair::generate();
    let client_keys = KeyPair::generate();
    let config = ServerConfig {
        security: ServerSecurity::Curve {
            secret_key: server_keys.secret.clone(),
            allowlist: Some([client_keys.public].into()),
        },
        ..Default::default()
    };
    let server = echo_server(config).await;
    let lines = run_req(vec![
        "req".into(),
        format!("tcp://{}", server.local_addr()),
        "3".into(),
        server_keys.public.to_z85(),
        client_keys.public.to_z85(),
        client_keys.secret.to_z85(),
    ])
    .await;
    assert_eq!(lines, vec!["echo:|req|0", "echo:|req|1", "echo:|req|2"]);
}

#[tokio::test]
async fn pyzmq_req_not_on_our_allowlist_is_refused() {
    let server_keys = KeyPair::generate();
    let allowed = KeyPair::generate();
    let stranger = KeyPair::generate();
    let config = ServerConfig {
        security: ServerSecurity::Curve {
            secret_key: server_keys.secret.clone(),
            allowlist: Some([allowed.public].into()),
        },
        ..Default::default()
    };
    let server = echo_server(config).await;
    let lines = run_req(vec![
        "req".into(),
        format!("tcp://{}", server.local_addr()),
        "0".into(),
        server_keys.public.to_z85(),
        stranger.public.to_z85(),
        stranger.secret.to_z85(),
    ])
    .await;
    assert_eq!(lines, vec!["no-reply"]);
}

async fn our_client_against(router: &PyRouter, security: ClientSecurity) {
    let client = Client::new(ClientConfig {
        security,
        ..Default::default()
    })
    .unwrap();
    let requests = (0..50u32).map(|i| {
        let client = client.clone();
        let addr = router.endpoint.clone();
        async move {
            let reply = client
                .request(&addr, vec![Bytes::from(format!("n{i}"))], WAIT)
                .await
                .unwrap();
            assert_eq!(reply, vec![Bytes::from(format!("py:n{i}"))]);
        }
    });
    futures::future::join_all(requests).await;
    // Long bodies: from 288 bytes on, our boxes are made and opened by libsodium's vectorised
    // code (message_box.rs); libzmq must read them and we must read its replies.
    for len in [286usize, 287, 300, 1000, 5000, 70_000] {
        let body = Bytes::from("L".repeat(len));
        let reply = client
            .request(&router.endpoint, vec![body.clone()], WAIT)
            .await
            .unwrap();
        assert_eq!(
            reply,
            vec![Bytes::from(format!("py:{}", "L".repeat(len)))],
            "{len}"
        );
    }
}

#[tokio::test]
async fn our_client_to_pyzmq_null_router() {
    let router = PyRouter::start(false).await;
    our_client_against(&router, ClientSecurity::Null).await;
    router.stop().await;
}

#[tokio::test]
async fn our_client_to_pyzmq_curve_router() {
    let router = PyRouter::start(true).await;
    let server_key = router.public.unwrap();
    our_client_against(
        &router,
        ClientSecurity::Curve {
            keys: KeyPair::generate(),
            server_keys: ServerKeys::cluster(server_key),
        },
    )
    .await;

    // libzmq answers our encrypted PING with a PONG carrying our context.
    let stream = TcpStream::connect(&router.endpoint).await.unwrap();
    let mut config = ConnectionConfig::new("DEALER");
    config.security = Security::CurveClient {
        keys: KeyPair::generate(),
        server: server_key,
    };
    let mut conn = Connection::over(stream, &config).await.unwrap();
    assert!(conn.peer.greeting.supports_heartbeat());
    // We offered AES-256-GCM (default on); libzmq does not, so the boxes are RFC 26's.
    assert!(config.aes_gcm);
    assert_eq!(conn.peer.cipher, Some(CipherKind::XSalsa20Poly1305));
    conn.ping(Duration::from_secs(5), b"ctx1").await.unwrap();
    let got = tokio::time::timeout(WAIT, conn.reader.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, Inbound::Pong(Bytes::from_static(b"ctx1")));
    router.stop().await;
}

#[tokio::test]
async fn our_client_to_pyzmq_rep_null_and_curve() {
    // A REP socket (the Go original's worker sockets) echoes our DEALER envelope by itself.
    let rep = PyRouter::start_as("rep", false).await;
    our_client_against(&rep, ClientSecurity::Null).await;
    rep.stop().await;
    let rep = PyRouter::start_as("rep", true).await;
    let server_key = rep.public.unwrap();
    our_client_against(
        &rep,
        ClientSecurity::Curve {
            keys: KeyPair::generate(),
            server_keys: ServerKeys::cluster(server_key),
        },
    )
    .await;
    rep.stop().await;
}

#[tokio::test]
async fn our_client_with_wrong_key_is_rejected_by_pyzmq() {
    let router = PyRouter::start(true).await;
    let client = Client::new(ClientConfig {
        security: ClientSecurity::Curve {
            keys: KeyPair::generate(),
            server_keys: ServerKeys::cluster(KeyPair::generate().public),
        },
        handshake_timeout: Duration::from_secs(2),
        ..Default::default()
    })
    .unwrap();
    let outcome = client
        .request(&router.endpoint, vec![Bytes::from_static(b"x")], WAIT)
        .await;
    assert!(
        outcome.is_err(),
        "request succeeded with a wrong server key"
    );
    router.stop().await;
}

//! Shared helpers for the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use zmtp::security::Security;
use zmtp::{
    Client, ClientConfig, ClientSecurity, Connection, ConnectionConfig, Handler, KeyPair, Server,
    ServerConfig, ServerKeys, ServerSecurity,
};

/// Generous bound for any single wait in tests (they end by themselves if something hangs).
pub const WAIT: Duration = Duration::from_secs(10);

/// Handler that replies with the request parts prefixed by "echo:".
pub fn echo_handler() -> Arc<dyn Handler> {
    let handler = |request: Vec<Bytes>| {
        async move {
            let mut reply = vec![Bytes::from_static(b"echo:")];
            reply.extend(request);
            reply
        }
        .boxed()
    };
    Arc::new(handler)
}

/// Starts an echo server on an ephemeral loopback port.
pub async fn echo_server(config: ServerConfig) -> Server {
    Server::bind("127.0.0.1:0", config, echo_handler())
        .await
        .unwrap()
}

/// A CURVE echo server and a client of it, each config adjusted by its closure first (to
/// switch an extension off on one side, say); returns the server and the client.
pub async fn curve_echo(
    server: impl FnOnce(&mut ServerConfig),
    client: impl FnOnce(&mut ClientConfig),
) -> (Server, Client) {
    let server_keys = KeyPair::generate();
    let mut server_config = ServerConfig {
        security: ServerSecurity::Curve {
            secret_key: server_keys.secret.clone(),
            allowlist: None,
        },
        ..Default::default()
    };
    server(&mut server_config);
    let mut client_config = ClientConfig {
        security: ClientSecurity::Curve {
            keys: KeyPair::generate(),
            server_keys: ServerKeys::cluster(server_keys.public),
        },
        ..Default::default()
    };
    client(&mut client_config);
    (
        echo_server(server_config).await,
        Client::new(client_config).unwrap(),
    )
}

/// Expected reply from the echo handler.
pub fn echoed(parts: &[&'static [u8]]) -> Vec<Bytes> {
    let mut out = vec![Bytes::from_static(b"echo:")];
    out.extend(parts.iter().map(|p| Bytes::from_static(p)));
    out
}

/// A fresh client made from `config` still gets an echo from `server`.
pub async fn assert_still_serves(server: &Server, config: ClientConfig) {
    let client = Client::new(config).unwrap();
    let reply = client
        .request(
            &server.local_addr().to_string(),
            vec![Bytes::from_static(b"ok")],
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(reply, echoed(&[b"ok"]));
}

/// Polls `check` until it returns true or `WAIT` passes; returns the last result.
pub async fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if check() {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One end of a ZMTP connection over TCP.
pub type Tcp = Connection<OwnedReadHalf, OwnedWriteHalf>;

/// CURVE connection configs, (DEALER client, ROUTER server), for a server with `server` keys.
pub fn curve_configs(server: &KeyPair) -> (ConnectionConfig, ConnectionConfig) {
    let mut client = ConnectionConfig::new("DEALER");
    client.security = Security::CurveClient {
        keys: KeyPair::generate(),
        server: server.public,
    };
    let mut serving = ConnectionConfig::new("ROUTER");
    serving.security = Security::CurveServer {
        secret: server.secret.clone(),
        allowlist: None,
    };
    (client, serving)
}

/// A connected (client, server) pair over loopback TCP with these configs.
pub async fn connected(client: &ConnectionConfig, server: &ConnectionConfig) -> (Tcp, Tcp) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = async {
        let (stream, _) = listener.accept().await.unwrap();
        let (r, w) = stream.into_split();
        Connection::establish(r, w, server).await.unwrap()
    };
    let connect = async {
        let (r, w) = TcpStream::connect(addr).await.unwrap().into_split();
        Connection::establish(r, w, client).await.unwrap()
    };
    tokio::time::timeout(WAIT, async { tokio::join!(connect, accept) })
        .await
        .unwrap()
}

/// Sends every message from `client` to `server` and back, checking each arrives intact.
pub async fn both_ways(client: &mut Tcp, server: &mut Tcp, messages: &[Vec<Bytes>]) {
    for msg in messages {
        let (sent, got) = tokio::join!(client.send(msg), server.recv());
        sent.unwrap();
        assert_eq!(&got.unwrap(), msg);
        let (sent, got) = tokio::join!(server.send(msg), client.recv());
        sent.unwrap();
        assert_eq!(&got.unwrap(), msg);
    }
}

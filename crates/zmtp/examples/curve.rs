//! Request/reply over CURVE, as a user of the crate sets it up: key pairs generated and written
//! down as Z85 text (the format of `zmq.curve_keypair()`), read back as a configuration file
//! would be, a [`Server`] that admits only the clients on its allowlist and serves a small
//! key/value [`Handler`], a [`Client`] that trusts the server's public key and keeps several
//! requests in flight on one encrypted connection, and a client whose key is not on the list
//! being refused during the handshake.
//!
//! Everything runs on loopback with a port the system picks.
//!
//! ```sh
//! cargo run -p zmtp --example curve
//! ```
//!
//! The body is [`tour`], which `tests/examples.rs` also runs, so the example cannot rot.

use std::collections::{HashMap, HashSet};
use std::error::Error;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures::future::{self, BoxFuture};
use tokio::time::Instant;
use zmtp::{
    Client, ClientConfig, ClientSecurity, Handler, KeyPair, PublicKey, SecretKey, Server,
    ServerConfig, ServerKeys, ServerSecurity, ZmtpError,
};

/// How long one request may take, connecting and the CURVE handshake included.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(5);

/// How many `SET` and then `GET` requests the tour keeps in flight at once.
const IN_FLIGHT: usize = 16;

/// A key/value store served over ZMTP. A request is `SET key value` (replied `OK`) or
/// `GET key` (replied with the value, or `NIL` when the key has none); anything else is
/// replied `ERR` and a reason.
#[derive(Debug, Default)]
pub struct KeyValueStore {
    values: Mutex<HashMap<Bytes, Bytes>>,
}

impl KeyValueStore {
    fn answer(&self, request: &[Bytes]) -> Vec<Bytes> {
        let mut values = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        match request {
            [verb, key, value] if verb.as_ref() == b"SET" => {
                values.insert(key.clone(), value.clone());
                vec![Bytes::from_static(b"OK")]
            }
            [verb, key] if verb.as_ref() == b"GET" => match values.get(key) {
                Some(value) => vec![value.clone()],
                None => vec![Bytes::from_static(b"NIL")],
            },
            _ => vec![
                Bytes::from_static(b"ERR"),
                Bytes::from_static(b"expected SET key value or GET key"),
            ],
        }
    }
}

impl Handler for KeyValueStore {
    fn handle(&self, request: Vec<Bytes>) -> BoxFuture<'static, Vec<Bytes>> {
        // The reply is ready at once; a handler that waits on something returns that future.
        let reply = self.answer(&request);
        Box::pin(future::ready(reply))
    }
}

/// What the tour saw, for the test that runs it.
#[derive(Debug)]
pub struct CurveTour {
    /// The server's public key as Z85 text, as an operator hands it to clients.
    pub server_key_text: String,
    /// The replies to the `SET` requests sent at once, in request order.
    pub set_replies: Vec<Vec<Bytes>>,
    /// The replies to the `GET` requests sent at once, in request order: `key` is read as
    /// `value` followed by the key's number.
    pub get_replies: Vec<Vec<Bytes>>,
    /// The values the `GET` requests should have returned, in request order.
    pub expected_values: Vec<Bytes>,
    /// The reply to a `GET` of a key nobody set.
    pub missing_reply: Vec<Bytes>,
    /// What a client whose key is not on the allowlist got: `None` if it was answered.
    pub stranger_error: Option<ZmtpError>,
    /// How long the stranger waited for its answer or refusal.
    pub stranger_waited: Duration,
}

/// Serves the key/value store over CURVE, calls it from an allowed client with many requests
/// at once, then calls it from a client the server does not know.
pub async fn tour() -> Result<CurveTour, Box<dyn Error>> {
    // Key pairs are generated once and kept as text (40 characters of Z85 per key).
    let server_keys = KeyPair::generate();
    let client_keys = KeyPair::generate();
    let server_key_text = server_keys.public.to_z85();
    let server_secret_text = server_keys.secret.to_z85();
    let client_key_text = client_keys.public.to_z85();
    println!("server public key: {server_key_text}");
    println!("client public key: {client_key_text}");

    // Each side reads back what it needs: the server its secret key and the client keys it
    // admits, the client the server's public key.
    let server_secret = SecretKey::from_z85(&server_secret_text)?;
    let allowlist = HashSet::from([PublicKey::from_z85(&client_key_text)?]);
    let trusted_server_key: PublicKey = server_key_text.parse()?;

    let server = Server::bind(
        "127.0.0.1:0",
        ServerConfig {
            security: ServerSecurity::Curve {
                secret_key: server_secret,
                allowlist: Some(allowlist),
            },
            ..ServerConfig::default()
        },
        Arc::new(KeyValueStore::default()),
    )
    .await?;
    let addr = server.local_addr().to_string();
    println!("serving the key/value store on {addr}");

    let client = curve_client(client_keys, ServerKeys::cluster(trusted_server_key))?;

    // All the writes at once, then all the reads at once: they share one connection, each
    // waits for its own reply.
    let set_replies = future::try_join_all((0..IN_FLIGHT).map(|n| {
        let body = vec![
            Bytes::from_static(b"SET"),
            Bytes::from(format!("key{n}")),
            Bytes::from(format!("value{n}")),
        ];
        client.request(&addr, body, REQUEST_DEADLINE)
    }))
    .await?;
    let get_replies = future::try_join_all((0..IN_FLIGHT).map(|n| {
        let body = vec![Bytes::from_static(b"GET"), Bytes::from(format!("key{n}"))];
        client.request(&addr, body, REQUEST_DEADLINE)
    }))
    .await?;
    let expected_values = (0..IN_FLIGHT)
        .map(|n| Bytes::from(format!("value{n}")))
        .collect();
    println!(
        "{IN_FLIGHT} SETs and {IN_FLIGHT} GETs answered; GET key0 -> {:?}",
        get_replies.first()
    );
    let missing_reply = client
        .request(
            &addr,
            vec![Bytes::from_static(b"GET"), Bytes::from_static(b"nobody")],
            REQUEST_DEADLINE,
        )
        .await?;

    // A client that knows the server's key but whose own key is not on the allowlist: the
    // server sends an ERROR command during the handshake and the request fails at once.
    let stranger = curve_client(KeyPair::generate(), ServerKeys::cluster(trusted_server_key))?;
    let started = Instant::now();
    let stranger_error = stranger
        .request(
            &addr,
            vec![Bytes::from_static(b"GET"), Bytes::from_static(b"key0")],
            REQUEST_DEADLINE,
        )
        .await
        .err();
    let stranger_waited = started.elapsed();
    match &stranger_error {
        Some(error) => println!("a client not on the allowlist: {error}"),
        None => println!("a client not on the allowlist was answered!"),
    }

    server.shutdown().await;
    Ok(CurveTour {
        server_key_text,
        set_replies,
        get_replies,
        expected_values,
        missing_reply,
        stranger_error,
        stranger_waited,
    })
}

/// A client that presents `keys` and expects the servers it calls to own `server_keys`.
fn curve_client(keys: KeyPair, server_keys: ServerKeys) -> Result<Client, ZmtpError> {
    Client::new(ClientConfig {
        security: ClientSecurity::Curve { keys, server_keys },
        ..ClientConfig::default()
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let seen = tour().await?;
    println!(
        "the stranger waited {:?} for its refusal",
        seen.stranger_waited
    );
    Ok(())
}

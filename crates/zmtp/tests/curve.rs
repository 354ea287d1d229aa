//! CURVE request/reply over real loopback TCP.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns unwrap too

mod common;

use std::collections::HashSet;

use bytes::Bytes;
use common::{echo_server, echoed, WAIT};
use zmtp::{
    Client, ClientConfig, ClientSecurity, KeyPair, ServerConfig, ServerKeys, ServerSecurity,
    ZmtpError,
};

fn curve_server_config(
    server: &KeyPair,
    allowlist: Option<HashSet<zmtp::PublicKey>>,
) -> ServerConfig {
    ServerConfig {
        security: ServerSecurity::Curve {
            secret_key: server.secret.clone(),
            allowlist,
        },
        ..Default::default()
    }
}

fn curve_client(keys: &KeyPair, server_keys: ServerKeys) -> Client {
    Client::new(ClientConfig {
        security: ClientSecurity::Curve {
            keys: keys.clone(),
            server_keys,
        },
        ..Default::default()
    })
    .unwrap()
}

#[tokio::test]
async fn curve_request_reply_with_allowlist() {
    let server_keys = KeyPair::generate();
    let client_keys = KeyPair::generate();
    let server = echo_server(curve_server_config(
        &server_keys,
        Some(HashSet::from([client_keys.public])),
    ))
    .await;
    let addr = server.local_addr().to_string();
    // Per-address key, to exercise that lookup path.
    let client = curve_client(
        &client_keys,
        ServerKeys::default().with(addr.clone(), server_keys.public),
    );
    let big = Bytes::from(vec![0xAB; 200_000]);
    let reply = client
        .request(
            &addr,
            vec![Bytes::from_static(b"secret"), big.clone()],
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(
        reply,
        vec![
            Bytes::from_static(b"echo:"),
            Bytes::from_static(b"secret"),
            big
        ]
    );
    // Many requests in flight on the encrypted connection keep their nonces in order.
    let requests = (0..200u32).map(|i| {
        let client = client.clone();
        let addr = addr.clone();
        async move {
            let body = Bytes::from(i.to_string());
            let reply = client
                .request(&addr, vec![body.clone()], WAIT)
                .await
                .unwrap();
            assert_eq!(reply[1], body);
        }
    });
    futures::future::join_all(requests).await;
}

#[tokio::test]
async fn curve_without_allowlist_admits_any_client() {
    let server_keys = KeyPair::generate();
    let server = echo_server(curve_server_config(&server_keys, None)).await;
    let client = curve_client(
        &KeyPair::generate(),
        ServerKeys::cluster(server_keys.public),
    );
    let reply = client
        .request(
            &server.local_addr().to_string(),
            vec![Bytes::from_static(b"x")],
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(reply, echoed(&[b"x"]));
}

#[tokio::test]
async fn curve_wrong_server_key_fails_the_handshake() {
    let server_keys = KeyPair::generate();
    let server = echo_server(curve_server_config(&server_keys, None)).await;
    let impostor = KeyPair::generate().public;
    let client = curve_client(&KeyPair::generate(), ServerKeys::cluster(impostor));
    let err = client
        .request(
            &server.local_addr().to_string(),
            vec![Bytes::from_static(b"x")],
            WAIT,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ZmtpError::Handshake(_)), "{err:?}");
}

#[tokio::test]
async fn curve_client_not_on_allowlist_is_refused() {
    let server_keys = KeyPair::generate();
    let allowed = KeyPair::generate();
    let server = echo_server(curve_server_config(
        &server_keys,
        Some(HashSet::from([allowed.public])),
    ))
    .await;
    let addr = server.local_addr().to_string();
    let stranger = curve_client(
        &KeyPair::generate(),
        ServerKeys::cluster(server_keys.public),
    );
    let err = stranger
        .request(&addr, vec![Bytes::from_static(b"x")], WAIT)
        .await
        .unwrap_err();
    assert!(matches!(err, ZmtpError::Refused { .. }), "{err:?}");
    // The allowed client still gets through afterwards.
    let friend = curve_client(&allowed, ServerKeys::cluster(server_keys.public));
    let reply = friend
        .request(&addr, vec![Bytes::from_static(b"y")], WAIT)
        .await
        .unwrap();
    assert_eq!(reply, echoed(&[b"y"]));
}

#[tokio::test]
async fn null_client_cannot_talk_to_curve_server() {
    let server_keys = KeyPair::generate();
    let server = echo_server(curve_server_config(&server_keys, None)).await;
    let client = Client::new(ClientConfig::default()).unwrap();
    let err = client
        .request(
            &server.local_addr().to_string(),
            vec![Bytes::from_static(b"x")],
            WAIT,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, ZmtpError::Handshake(_) | ZmtpError::Refused { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn curve_client_without_a_key_for_the_address_is_a_config_error() {
    let client = curve_client(&KeyPair::generate(), ServerKeys::default());
    let err = client
        .request("127.0.0.1:9", vec![], WAIT)
        .await
        .unwrap_err();
    assert!(matches!(err, ZmtpError::Config(_)), "{err:?}");
}

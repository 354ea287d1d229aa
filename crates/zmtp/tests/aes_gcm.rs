//! AES-256-GCM MESSAGE boxes (`X-Cipher: aes256gcm`, docs/wire.md §1.1) over loopback TCP:
//! negotiated between our own peers when both offer it, XSalsa20-Poly1305 (RFC 26) as soon as
//! one side does not, and traffic flows either way, with and without packing. On a CPU without
//! AES-NI nobody offers it, and the tests check that instead.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{both_ways, connected, curve_configs, curve_echo, echoed, Tcp, WAIT};
use tokio::net::{TcpListener, TcpStream};
use zmtp::aes_gcm;
use zmtp::message_cipher::CipherKind;
use zmtp::{Connection, ConnectionConfig, KeyPair};

/// What a connection between sides offering `client_aes` / `server_aes` must use.
fn expected(client_aes: bool, server_aes: bool) -> CipherKind {
    if client_aes && server_aes && aes_gcm::available() {
        CipherKind::Aes256Gcm
    } else {
        CipherKind::XSalsa20Poly1305
    }
}

/// A connected CURVE (client, server) pair over loopback TCP.
async fn pair(client_aes: bool, server_aes: bool, pack_parts: bool) -> (Tcp, Tcp) {
    let (mut client_cfg, mut server_cfg) = curve_configs(&KeyPair::generate());
    client_cfg.aes_gcm = client_aes;
    client_cfg.pack_parts = pack_parts;
    server_cfg.aes_gcm = server_aes;
    server_cfg.pack_parts = pack_parts;
    connected(&client_cfg, &server_cfg).await
}

/// Messages of several shapes both ways, a PING, and a burst of 300 queued before one flush.
async fn exchange(client: &mut Tcp, server: &mut Tcp) {
    let messages = vec![
        vec![
            Bytes::from_static(b"id-12345"),
            Bytes::new(),
            Bytes::from(vec![1u8; 1024]),
        ],
        vec![Bytes::from_static(b"single")],
        vec![Bytes::new()],
        vec![Bytes::from(vec![7u8; 70_000]), Bytes::from_static(b"tail")],
    ];
    both_ways(client, server, &messages).await;
    client.ping(Duration::from_secs(5), b"ctx").await.unwrap();
    let burst: Vec<Vec<Bytes>> = (0..300u32)
        .map(|i| {
            vec![
                Bytes::from(i.to_be_bytes().to_vec()),
                Bytes::from(vec![9u8; 1000]),
            ]
        })
        .collect();
    let send = async {
        for msg in &burst {
            client.writer.queue_message(msg).unwrap();
        }
        client.writer.flush().await.unwrap();
    };
    let receive = async {
        let mut got = Vec::new();
        for _ in 0..burst.len() {
            got.push(server.recv().await.unwrap());
        }
        got
    };
    let ((), got) = tokio::join!(send, receive);
    assert_eq!(got, burst);
}

#[tokio::test]
async fn our_peers_negotiate_aes_gcm() {
    let (mut client, mut server) = pair(true, true, true).await;
    let want = expected(true, true);
    assert_eq!(client.peer.cipher, Some(want));
    assert_eq!(server.peer.cipher, Some(want));
    if aes_gcm::available() {
        // This machine has AES-NI (the benchmarks' does): the feature is really exercised.
        assert_eq!(want, CipherKind::Aes256Gcm);
    }
    assert!(client.peer.packed_batches && server.peer.packed_batches);
    tokio::time::timeout(WAIT, exchange(&mut client, &mut server))
        .await
        .unwrap();
}

#[tokio::test]
async fn aes_gcm_without_packing() {
    // One box per message part, as RFC 26 frames them, but AES-256-GCM boxes.
    let (mut client, mut server) = pair(true, true, false).await;
    assert_eq!(client.peer.cipher, Some(expected(true, true)));
    assert!(!client.peer.packed_parts);
    tokio::time::timeout(WAIT, exchange(&mut client, &mut server))
        .await
        .unwrap();
}

#[tokio::test]
async fn one_side_without_aes_gcm_means_xsalsa20_poly1305() {
    for (client_aes, server_aes) in [(false, true), (true, false), (false, false)] {
        let (mut client, mut server) = pair(client_aes, server_aes, true).await;
        let want = Some(CipherKind::XSalsa20Poly1305);
        assert_eq!(client.peer.cipher, want, "{client_aes} {server_aes}");
        assert_eq!(server.peer.cipher, want, "{client_aes} {server_aes}");
        tokio::time::timeout(WAIT, exchange(&mut client, &mut server))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn null_connections_have_no_cipher() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = async {
        let (stream, _) = listener.accept().await.unwrap();
        let (r, w) = stream.into_split();
        Connection::establish(r, w, &ConnectionConfig::new("ROUTER"))
            .await
            .unwrap()
    };
    let connect = async {
        let (r, w) = TcpStream::connect(addr).await.unwrap().into_split();
        Connection::establish(r, w, &ConnectionConfig::new("DEALER"))
            .await
            .unwrap()
    };
    let (client, server) = tokio::join!(connect, accept);
    assert_eq!(client.peer.cipher, None);
    assert_eq!(server.peer.cipher, None);
    assert!(zmtp::frame::find_property(&server.peer.metadata, "X-Cipher").is_none());
}

#[tokio::test]
async fn clients_and_servers_with_the_knob_on_or_off_still_talk() {
    for (client_aes, server_aes) in [(true, true), (true, false), (false, true)] {
        let (server, client) =
            curve_echo(|s| s.aes_gcm = server_aes, |c| c.aes_gcm = client_aes).await;
        let addr = server.local_addr().to_string();
        let body = Bytes::from(vec![3u8; 1024]);
        for _ in 0..3 {
            let reply = client
                .request(&addr, vec![Bytes::from_static(b"a"), body.clone()], WAIT)
                .await
                .unwrap();
            assert_eq!(reply.len(), 3);
            assert_eq!(reply[..2], echoed(&[b"a"])[..]);
            assert_eq!(reply[2], body);
        }
    }
}

#[tokio::test]
async fn keys_change_every_4096_boxes_without_a_hitch() {
    // Unpacked, every single-part message is a box of its own: 2.5 epochs each way.
    let (mut client, mut server) = pair(true, true, false).await;
    let count = aes_gcm::EPOCH_BOXES as usize * 5 / 2;
    let run = async {
        for i in 0..count as u32 {
            let msg = vec![Bytes::from(i.to_be_bytes().to_vec())];
            let (sent, got) = tokio::join!(client.send(&msg), server.recv());
            sent.unwrap();
            assert_eq!(got.unwrap(), msg);
            let (sent, got) = tokio::join!(server.send(&msg), client.recv());
            sent.unwrap();
            assert_eq!(got.unwrap(), msg);
        }
    };
    tokio::time::timeout(WAIT * 3, run).await.unwrap();
}

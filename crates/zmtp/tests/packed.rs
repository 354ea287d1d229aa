//! Packed parts (one CURVE box per multipart message, `X-Packed-Parts`) and batches (the
//! messages of one flush in one box, `X-Packed-Batches`) over loopback TCP: negotiated between
//! our own peers, off towards peers that do not offer them, and a malformed packed box is a
//! connection error, never a panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{
    assert_still_serves, both_ways, connected, curve_configs, curve_echo, echo_server, echoed,
    eventually, Tcp, WAIT,
};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use zmtp::frame::Frame;
use zmtp::handshake;
use zmtp::security::{Sealer, Security};
use zmtp::wire::{FrameReader, FrameWriter};
use zmtp::{
    ClientConfig, ClientSecurity, Connection, ConnectionConfig, Inbound, KeyPair, ServerConfig,
    ServerKeys, ServerSecurity, ZmtpError,
};

fn configs(
    server: &KeyPair,
    client_packs: bool,
    server_packs: bool,
) -> (ConnectionConfig, ConnectionConfig) {
    let (mut client, mut serving) = curve_configs(server);
    client.pack_parts = client_packs;
    serving.pack_parts = server_packs;
    (client, serving)
}

/// A connected (client, server) pair over loopback TCP.
async fn pair(client_packs: bool, server_packs: bool) -> (Tcp, Tcp) {
    let (client_cfg, server_cfg) = configs(&KeyPair::generate(), client_packs, server_packs);
    connected(&client_cfg, &server_cfg).await
}

fn messages() -> Vec<Vec<Bytes>> {
    vec![
        vec![
            Bytes::from_static(b"id-12345"),
            Bytes::new(),
            Bytes::from_static(b"body"),
        ],
        vec![Bytes::from_static(b"single")],
        vec![Bytes::new(), Bytes::new()],
        vec![Bytes::from(vec![7u8; 70_000]), Bytes::from_static(b"tail")],
    ]
}

/// Sends every test message both ways (with a PING in between) and checks what arrives.
async fn exchange(client: &mut Tcp, server: &mut Tcp) {
    both_ways(client, server, &messages()).await;
    client.ping(Duration::from_secs(5), b"ctx").await.unwrap();
    let first = messages().swap_remove(0);
    let (sent, got) = tokio::join!(client.send(&first), server.reader.recv());
    sent.unwrap();
    assert!(matches!(got.unwrap(), Inbound::Ping(_)));
    assert_eq!(server.recv().await.unwrap(), first);
}

#[tokio::test]
async fn packed_between_our_own_peers() {
    let (mut client, mut server) = pair(true, true).await;
    assert!(client.peer.packed_parts && server.peer.packed_parts);
    tokio::time::timeout(WAIT, exchange(&mut client, &mut server))
        .await
        .unwrap();
}

#[tokio::test]
async fn messages_queued_before_one_flush_arrive_in_order_from_batches() {
    let (mut client, mut server) = pair(true, true).await;
    assert!(client.peer.packed_batches && server.peer.packed_batches);
    // Hundreds of small messages (several batch boxes), a message too long for any batch,
    // an empty message and a PING in between, all written by one flush.
    let mut sent = Vec::new();
    for i in 0..400u32 {
        sent.push(vec![
            Bytes::from(i.to_be_bytes().to_vec()),
            Bytes::from(vec![9u8; 100]),
        ]);
        if i == 150 {
            sent.push(vec![Bytes::from(vec![3u8; 40_000])]);
        }
        if i == 200 {
            sent.push(vec![]);
        }
    }
    for parts in &sent[..300] {
        client.writer.queue_message(parts).unwrap();
    }
    client
        .writer
        .queue_command(&zmtp::frame::Command::ping(50, b"mid"))
        .unwrap();
    for parts in &sent[300..] {
        client.writer.queue_message(parts).unwrap();
    }
    assert!(client.writer.pending() > 40_000);
    client.writer.flush().await.unwrap();
    let received = tokio::time::timeout(WAIT, async {
        let mut received = Vec::new();
        let mut pinged_after = None;
        while received.len() < sent.len() {
            match server.reader.recv().await.unwrap() {
                Inbound::Message(parts) => received.push(parts),
                Inbound::Ping(_) => pinged_after = Some(received.len()),
                Inbound::Pong(_) => panic!("unexpected PONG"),
            }
        }
        assert_eq!(pinged_after, Some(300), "the PING keeps its place");
        received
    })
    .await
    .unwrap();
    let mut expected = sent;
    // The empty message arrives as one empty part (ZMTP has no zero-part messages).
    for parts in expected.iter_mut().filter(|parts| parts.is_empty()) {
        *parts = vec![Bytes::new()];
    }
    assert_eq!(received.len(), expected.len());
    assert!(received == expected, "messages differ or are out of order");
    // And the other direction still works, batch by batch.
    tokio::time::timeout(WAIT, exchange(&mut client, &mut server))
        .await
        .unwrap();
}

#[tokio::test]
async fn unpacked_when_either_side_does_not_offer_it() {
    for (client_packs, server_packs) in [(false, true), (true, false), (false, false)] {
        let (mut client, mut server) = pair(client_packs, server_packs).await;
        assert!(!client.peer.packed_parts, "{client_packs} {server_packs}");
        assert!(!server.peer.packed_parts, "{client_packs} {server_packs}");
        assert!(!client.peer.packed_batches && !server.peer.packed_batches);
        tokio::time::timeout(WAIT, exchange(&mut client, &mut server))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn client_and_server_pack_or_not_and_still_talk() {
    for (client_packs, server_packs) in [(true, true), (true, false), (false, true)] {
        let (server, client) = curve_echo(
            |s| s.pack_parts = server_packs,
            |c| c.pack_parts = client_packs,
        )
        .await;
        let addr = server.local_addr().to_string();
        let reply = client
            .request(&addr, vec![Bytes::from_static(b"a"), Bytes::new()], WAIT)
            .await
            .unwrap();
        assert_eq!(reply, echoed(&[b"a", b""]));
    }
}

/// Connects to `addr` as a CURVE client that runs the handshake by hand, so it can send boxes
/// a well-behaved sealer never would. Returns the wire halves, the sealer and whether packing
/// was negotiated.
async fn raw_curve_client(
    addr: std::net::SocketAddr,
    server: &KeyPair,
) -> (
    FrameReader<OwnedReadHalf>,
    FrameWriter<OwnedWriteHalf>,
    Sealer,
    bool,
) {
    let (r, w) = TcpStream::connect(addr).await.unwrap().into_split();
    let mut reader = FrameReader::new(r, 1 << 20);
    let mut writer = FrameWriter::new(w);
    let security = Security::CurveClient {
        keys: KeyPair::generate(),
        server: server.public,
    };
    let offers = handshake::Offers {
        pack_parts: true,
        aes_gcm: true,
    };
    let (peer, sealer, _opener) =
        handshake::run(&mut reader, &mut writer, &security, "DEALER", None, offers)
            .await
            .unwrap();
    (reader, writer, sealer, peer.packed_parts)
}

async fn send_raw_box(
    writer: &mut FrameWriter<OwnedWriteHalf>,
    sealer: &mut Sealer,
    flags: u8,
    payload: &[u8],
) {
    let Sealer::Curve(sealer) = sealer else {
        panic!("expected a CURVE sealer");
    };
    let frame: Frame = sealer.seal_payload(flags, payload).unwrap();
    writer.queue_frame(&frame);
    writer.flush().await.unwrap();
}

#[tokio::test]
async fn malformed_packed_box_is_a_connection_error() {
    let bad_payloads: [&[u8]; 4] = [
        b"",
        b"\x01\x00\x00\x00\x02id",
        b"\x00\x00\x00\x00\x09short",
        b"\x00\x00\x00\x00\x01xTRAILING",
    ];
    for server_packs in [true, false] {
        for payload in bad_payloads {
            let keys = KeyPair::generate();
            let (_, server_cfg) = configs(&keys, true, server_packs);
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let serve = async {
                let (stream, _) = listener.accept().await.unwrap();
                let (r, w) = stream.into_split();
                let mut conn = Connection::establish(r, w, &server_cfg).await.unwrap();
                conn.recv().await
            };
            let attack = async {
                let (_reader, mut writer, mut sealer, packed) = raw_curve_client(addr, &keys).await;
                assert_eq!(packed, server_packs);
                send_raw_box(&mut writer, &mut sealer, zmtp::packed::FLAG_PACKED, payload).await;
                (_reader, writer)
            };
            let (outcome, _keep_open) =
                tokio::time::timeout(WAIT, async { tokio::join!(serve, attack) })
                    .await
                    .unwrap();
            assert!(
                matches!(outcome, Err(ZmtpError::Protocol(_))),
                "server packs: {server_packs}, payload {payload:?}: {outcome:?}"
            );
        }
    }
}

#[tokio::test]
async fn server_drops_a_peer_sending_a_malformed_packed_box_and_serves_others() {
    let keys = KeyPair::generate();
    let server = echo_server(ServerConfig {
        security: ServerSecurity::Curve {
            secret_key: keys.secret.clone(),
            allowlist: None,
        },
        ..Default::default()
    })
    .await;
    let (reader, mut writer, mut sealer, packed) =
        raw_curve_client(server.local_addr(), &keys).await;
    assert!(packed);
    assert!(eventually(|| server.active_connections() == 1).await);
    send_raw_box(
        &mut writer,
        &mut sealer,
        zmtp::packed::FLAG_PACKED,
        b"\x07garbage",
    )
    .await;
    assert!(eventually(|| server.active_connections() == 0).await);
    drop((reader, writer));

    assert_still_serves(
        &server,
        ClientConfig {
            security: ClientSecurity::Curve {
                keys: KeyPair::generate(),
                server_keys: ServerKeys::cluster(keys.public),
            },
            ..Default::default()
        },
    )
    .await;
}

//! Connection setup: greeting exchange, then the NULL or CURVE handshake, then a check that
//! the peer's socket type can talk to ours.

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::curve::{ClientHandshake, ServerHandshake};
use crate::error::{Result, ZmtpError};
use crate::frame::{find_property, Command, Frame, Greeting, Mechanism};
use crate::keys::PublicKey;
use crate::message_cipher::{self, CipherKind, CurveSession};
use crate::null;
use crate::packed;
use crate::security::{Opener, Sealer, Security};
use crate::wire::{FrameReader, FrameWriter};

/// Largest frame accepted during the handshake; handshake commands are small.
const HANDSHAKE_MAX_FRAME: u64 = 64 * 1024;

/// What we know about the peer after the handshake.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    /// The peer's greeting (version, mechanism).
    pub greeting: Greeting,
    /// The peer's metadata (Socket-Type, Identity, ...).
    pub metadata: Vec<(String, Bytes)>,
    /// The peer's long-term CURVE public key, for CURVE connections where we are the server.
    pub curve_key: Option<PublicKey>,
    /// Both sides advertised packed parts, so multipart messages travel in one CURVE box each
    /// ([`crate::packed`]); always false for NULL.
    pub packed_parts: bool,
    /// Both sides also advertised batches: the messages queued between two flushes travel in
    /// one CURVE box ([`crate::packed`]); always false for NULL.
    pub packed_batches: bool,
    /// The AEAD of the CURVE MESSAGE boxes: AES-256-GCM when both sides offered it
    /// ([`crate::message_cipher`]), else RFC 26's XSalsa20-Poly1305; `None` for NULL.
    pub cipher: Option<CipherKind>,
}

impl PeerInfo {
    /// The peer's Socket-Type property, if it sent one.
    pub fn socket_type(&self) -> Option<String> {
        find_property(&self.metadata, "Socket-Type")
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }
}

/// Socket types that may talk to `ours` (ZMTP RFC 23/28 compatibility table, the part we need).
fn compatible(ours: &str, theirs: &str) -> bool {
    match ours {
        "ROUTER" => matches!(theirs, "REQ" | "DEALER" | "ROUTER"),
        "DEALER" => matches!(theirs, "REP" | "DEALER" | "ROUTER"),
        "REQ" => matches!(theirs, "REP" | "ROUTER"),
        "REP" => matches!(theirs, "REQ" | "DEALER"),
        _ => true,
    }
}

async fn read_command<R: AsyncRead + Unpin>(reader: &mut FrameReader<R>) -> Result<Command> {
    let frame = reader.read_frame().await?;
    if !frame.command {
        return Err(ZmtpError::handshake(
            "peer sent a message during the handshake",
        ));
    }
    Command::decode(frame.body)
}

async fn send_command<W: AsyncWrite + Unpin>(
    writer: &mut FrameWriter<W>,
    cmd: &Command,
) -> Result<()> {
    writer.queue_frame(&Frame::command(cmd));
    writer.flush().await
}

/// CURVE extensions we offer our own peers (libzmq ignores them); no effect on NULL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offers {
    /// Packed parts and batches ([`crate::packed`]).
    pub pack_parts: bool,
    /// AES-256-GCM MESSAGE boxes where the CPU has AES-NI ([`crate::message_cipher`]).
    pub aes_gcm: bool,
}

/// The sealer and opener of a CURVE session with the negotiated cipher.
fn curve_transforms(session: CurveSession, cipher: CipherKind) -> Result<(Sealer, Opener)> {
    let (sealer, opener) = session.message_ciphers(cipher)?;
    Ok((
        Sealer::Curve(Box::new(sealer)),
        Opener::Curve(Box::new(opener)),
    ))
}

/// Runs greeting and security handshake. Returns the peer's info and the frame transforms.
///
/// The caller bounds this with its handshake timeout.
pub async fn run<R, W>(
    reader: &mut FrameReader<R>,
    writer: &mut FrameWriter<W>,
    security: &Security,
    socket_type: &str,
    identity: Option<&Bytes>,
    offers: Offers,
) -> Result<(PeerInfo, Sealer, Opener)>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    // Roles come from our configuration, not from the peer's as-server byte: libzmq always
    // sends 0 there, even for a CURVE server.
    writer.queue_raw(&Greeting::new(security.mechanism(), security.as_server()).encode());
    writer.flush().await?;
    let greeting = Greeting::decode(&reader.read_greeting().await?)?;
    if greeting.mechanism != security.mechanism() {
        let reason = format!(
            "security mechanism mismatch: we use {}, peer uses {}",
            security.mechanism().name(),
            greeting.mechanism.name()
        );
        let _ = send_command(writer, &Command::error(&reason)).await;
        return Err(ZmtpError::Handshake(reason));
    }

    let saved_max = reader_max_swap(reader, HANDSHAKE_MAX_FRAME);
    let mut metadata = vec![(
        "Socket-Type".to_string(),
        Bytes::copy_from_slice(socket_type.as_bytes()),
    )];
    if let Some(id) = identity {
        metadata.push(("Identity".to_string(), id.clone()));
    }
    // Packing only saves work under CURVE; NULL handshakes stay byte for byte as before.
    let curve = security.mechanism() == Mechanism::Curve;
    let offer_packing = offers.pack_parts && curve;
    if offer_packing {
        metadata.push((
            packed::PROPERTY.to_string(),
            Bytes::from_static(packed::VERSION),
        ));
        metadata.push((
            packed::BATCH_PROPERTY.to_string(),
            Bytes::from_static(packed::VERSION),
        ));
    }
    let cipher_offer = message_cipher::offer(offers.aes_gcm && curve);
    let offer_aes = cipher_offer.is_some();
    metadata.extend(cipher_offer);

    let (peer_metadata, curve_key, mut sealer, mut opener) = match security {
        Security::Null => {
            let peer = null::handshake(reader, writer, &metadata).await?;
            (peer, None, Sealer::Null, Opener::Null)
        }
        Security::CurveClient { keys, server } => {
            let mut hs = ClientHandshake::new(keys.clone(), *server);
            send_command(writer, &hs.hello()?).await?;
            let welcome = read_command(reader).await?;
            let initiate = hs.on_welcome(&welcome, &metadata)?;
            send_command(writer, &initiate).await?;
            let ready = read_command(reader).await?;
            let (peer, session) = hs.on_ready(&ready)?;
            let cipher = message_cipher::negotiate(offer_aes, &peer);
            let (sealer, opener) = curve_transforms(session, cipher)?;
            (peer, None, sealer, opener)
        }
        Security::CurveServer { secret, allowlist } => {
            let mut hs = ServerHandshake::new(secret.clone());
            let hello = read_command(reader).await?;
            let welcome = hs.on_hello(&hello)?;
            send_command(writer, &welcome).await?;
            let initiate = read_command(reader).await?;
            let client = hs.on_initiate(&initiate)?;
            if let Some(allowed) = allowlist {
                if !allowed.contains(&client.client_key) {
                    tracing::info!(client = %client.client_key, "CURVE client not on the allowlist; refusing");
                    let _ = send_command(writer, &Command::error("client key not allowed")).await;
                    return Err(ZmtpError::Refused {
                        reason: format!("client key {} is not on the allowlist", client.client_key),
                    });
                }
            }
            let cipher = message_cipher::negotiate(offer_aes, &client.metadata);
            let (ready, session) = hs.ready(&metadata)?;
            let (sealer, opener) = curve_transforms(session, cipher)?;
            send_command(writer, &ready).await?;
            (client.metadata, Some(client.client_key), sealer, opener)
        }
    };
    reader.set_max_frame(saved_max);

    let advertised =
        |name: &str| find_property(&peer_metadata, name).is_some_and(|v| v == packed::VERSION);
    let packed_parts = offer_packing && advertised(packed::PROPERTY);
    let packed_batches = packed_parts && advertised(packed::BATCH_PROPERTY);
    let mut cipher = None;
    if let (Sealer::Curve(sealer), Opener::Curve(opener)) = (&mut sealer, &mut opener) {
        cipher = Some(sealer.cipher());
        sealer.set_packed(packed_parts);
        opener.set_packed(packed_parts);
        sealer.set_batching(packed_batches);
        opener.set_batching(packed_batches);
    }
    let peer = PeerInfo {
        greeting,
        metadata: peer_metadata,
        curve_key,
        packed_parts,
        packed_batches,
        cipher,
    };
    if let Some(theirs) = peer.socket_type() {
        if !compatible(socket_type, &theirs) {
            let reason = format!("socket type {theirs} cannot talk to {socket_type}");
            let _ = send_command(writer, &Command::error(&reason)).await;
            return Err(ZmtpError::Handshake(reason));
        }
    }
    Ok((peer, sealer, opener))
}

fn reader_max_swap<R: AsyncRead + Unpin>(reader: &mut FrameReader<R>, during: u64) -> u64 {
    let saved = reader.max_frame();
    reader.set_max_frame(during);
    saved
}

//! CurveZMQ (RFC 26) handshake and message encryption, without I/O.
//!
//! The client and server handshakes are small state machines that turn received commands into
//! commands to send. Once done, each side gets a [`CurveSession`], which becomes a
//! [`crate::curve_message::MessageSealer`] and a [`crate::curve_message::MessageOpener`] once
//! the MESSAGE cipher is chosen ([`crate::message_cipher`]); they wrap every frame (message
//! parts and PING/PONG alike) into an encrypted MESSAGE command.
//!
//! Layouts (sizes include the command name):
//! - HELLO 200: version 1.0, 72 zero bytes, C', short nonce, box\[64 zeros\](C'->S)
//! - WELCOME 168: 16-byte nonce, box\[S' + cookie\](S->C'); cookie = 16-byte nonce + box\[C' + s'\](K)
//! - INITIATE >= 257: cookie, short nonce, box\[C + vouch + metadata\](C'->S');
//!   vouch = 16-byte nonce + box\[C' + S\](C->S')
//! - READY >= 30: short nonce, box\[metadata\](S'->C')
//! - MESSAGE: short nonce, box\[flags + payload\]; flags 0x01 MORE, 0x02 COMMAND

use bytes::{BufMut, Bytes, BytesMut};
use crypto_box::aead::{Aead, KeyInit};
use crypto_box::SalsaBox;
use crypto_secretbox::XSalsa20Poly1305;
use rand::rngs::OsRng;
use rand::RngCore;

use crate::curve_message::counter_at;
use crate::error::{Result, ZmtpError};
use crate::frame::{decode_properties, encode_properties, Command, Metadata};
use crate::keys::{KeyPair, PublicKey, SecretKey, KEY_LEN};
use crate::message_box::TAG_LEN;
use crate::message_cipher::{CurveSession, Role};

const HELLO_BODY_LEN: usize = 2 + 72 + 32 + 8 + 80;
const WELCOME_BODY_LEN: usize = 16 + 144;
const COOKIE_LEN: usize = 16 + 80;
const VOUCH_LEN: usize = 16 + 80;
const INITIATE_MIN_BODY_LEN: usize = COOKIE_LEN + 8 + TAG_LEN + KEY_LEN + VOUCH_LEN;
const READY_MIN_BODY_LEN: usize = 8 + TAG_LEN;

fn short_nonce(prefix: &[u8; 16], counter: u64) -> [u8; 24] {
    let mut nonce = [0u8; 24];
    nonce[..16].copy_from_slice(prefix);
    nonce[16..].copy_from_slice(&counter.to_be_bytes());
    nonce
}

fn long_nonce(prefix: &[u8; 8], random: &[u8]) -> [u8; 24] {
    let mut nonce = [0u8; 24];
    nonce[..8].copy_from_slice(prefix);
    nonce[8..].copy_from_slice(random);
    nonce
}

fn random16() -> [u8; 16] {
    let mut out = [0u8; 16];
    OsRng.fill_bytes(&mut out);
    out
}

fn seal(cipher: &SalsaBox, nonce: &[u8; 24], plaintext: &[u8]) -> Result<Vec<u8>> {
    cipher
        .encrypt(nonce.into(), plaintext)
        .map_err(|_| ZmtpError::handshake("CURVE encryption failed"))
}

fn open(cipher: &SalsaBox, nonce: &[u8; 24], boxed: &[u8], what: &str) -> Result<Vec<u8>> {
    cipher
        .decrypt(nonce.into(), boxed)
        .map_err(|_| ZmtpError::handshake(format!("cannot open CURVE {what} box (wrong key?)")))
}

fn key_at(raw: &[u8], at: usize) -> Result<PublicKey> {
    raw.get(at..at + KEY_LEN)
        .and_then(|s| <[u8; KEY_LEN]>::try_from(s).ok())
        .map(PublicKey::from_bytes)
        .ok_or_else(|| ZmtpError::handshake("truncated key in CURVE command"))
}

fn expect_command(cmd: &Command, name: &str, min_body: usize) -> Result<()> {
    if cmd.is("ERROR") {
        return Err(ZmtpError::Refused {
            reason: cmd.error_reason(),
        });
    }
    if !cmd.is(name) {
        return Err(ZmtpError::handshake(format!(
            "expected CURVE {name}, got {:?}",
            String::from_utf8_lossy(&cmd.name)
        )));
    }
    if cmd.body.len() < min_body {
        return Err(ZmtpError::handshake(format!(
            "CURVE {name} too short ({} bytes)",
            cmd.body.len()
        )));
    }
    Ok(())
}

/// Client side of the CurveZMQ handshake.
pub struct ClientHandshake {
    long_term: KeyPair,
    server: PublicKey,
    short_term: KeyPair,
    next_nonce: u64,
    server_short: Option<PublicKey>,
}

impl ClientHandshake {
    /// Starts a handshake with the server whose long-term public key is `server`.
    pub fn new(long_term: KeyPair, server: PublicKey) -> Self {
        ClientHandshake {
            long_term,
            server,
            short_term: KeyPair::generate(),
            next_nonce: 1,
            server_short: None,
        }
    }

    fn take_nonce(&mut self) -> u64 {
        let n = self.next_nonce;
        self.next_nonce += 1;
        n
    }

    /// The HELLO command.
    pub fn hello(&mut self) -> Result<Command> {
        let counter = self.take_nonce();
        let cipher = SalsaBox::new(
            &self.server.to_box_key(),
            &self.short_term.secret.to_box_key(),
        );
        let boxed = seal(
            &cipher,
            &short_nonce(b"CurveZMQHELLO---", counter),
            &[0u8; 64],
        )?;
        let mut body = BytesMut::with_capacity(HELLO_BODY_LEN);
        body.extend_from_slice(&[1, 0]);
        body.extend_from_slice(&[0u8; 72]);
        body.extend_from_slice(self.short_term.public.as_bytes());
        body.put_u64(counter);
        body.extend_from_slice(&boxed);
        Ok(Command::new("HELLO", body.freeze()))
    }

    /// Handles WELCOME and returns the INITIATE command carrying our `metadata`.
    pub fn on_welcome(
        &mut self,
        welcome: &Command,
        metadata: &[(String, Bytes)],
    ) -> Result<Command> {
        expect_command(welcome, "WELCOME", WELCOME_BODY_LEN)?;
        let cipher = SalsaBox::new(
            &self.server.to_box_key(),
            &self.short_term.secret.to_box_key(),
        );
        let nonce = long_nonce(b"WELCOME-", &welcome.body[..16]);
        let inner = open(
            &cipher,
            &nonce,
            &welcome.body[16..WELCOME_BODY_LEN],
            "WELCOME",
        )
        .map_err(|_| {
            ZmtpError::handshake(
                "cannot open CURVE WELCOME: the server key is not the expected one",
            )
        })?;
        let server_short = key_at(&inner, 0)?;
        let cookie = &inner[KEY_LEN..];

        // Vouch: proves we own C and bind it to C' and this server's S.
        let vouch_random = random16();
        let vouch_cipher = SalsaBox::new(
            &server_short.to_box_key(),
            &self.long_term.secret.to_box_key(),
        );
        let mut vouch_plain = Vec::with_capacity(64);
        vouch_plain.extend_from_slice(self.short_term.public.as_bytes());
        vouch_plain.extend_from_slice(self.server.as_bytes());
        let vouch_box = seal(
            &vouch_cipher,
            &long_nonce(b"VOUCH---", &vouch_random),
            &vouch_plain,
        )?;

        let mut plain = Vec::with_capacity(KEY_LEN + VOUCH_LEN + 64);
        plain.extend_from_slice(self.long_term.public.as_bytes());
        plain.extend_from_slice(&vouch_random);
        plain.extend_from_slice(&vouch_box);
        plain.extend_from_slice(&encode_properties(metadata));

        let counter = self.take_nonce();
        let session = SalsaBox::new(
            &server_short.to_box_key(),
            &self.short_term.secret.to_box_key(),
        );
        let boxed = seal(&session, &short_nonce(b"CurveZMQINITIATE", counter), &plain)?;
        let mut body = BytesMut::with_capacity(COOKIE_LEN + 8 + boxed.len());
        body.extend_from_slice(cookie);
        body.put_u64(counter);
        body.extend_from_slice(&boxed);
        self.server_short = Some(server_short);
        Ok(Command::new("INITIATE", body.freeze()))
    }

    /// Handles READY; returns the server's metadata and the session MESSAGE boxes use.
    pub fn on_ready(self, ready: &Command) -> Result<(Metadata, CurveSession)> {
        expect_command(ready, "READY", READY_MIN_BODY_LEN)?;
        let server_short = self
            .server_short
            .ok_or_else(|| ZmtpError::handshake("CURVE READY before WELCOME"))?;
        let secret = self.short_term.secret.to_box_key();
        let session = SalsaBox::new(&server_short.to_box_key(), &secret);
        let counter = counter_at(&ready.body, 0);
        let plain = open(
            &session,
            &short_nonce(b"CurveZMQREADY---", counter),
            &ready.body[8..],
            "READY",
        )?;
        let metadata = decode_properties(Bytes::from(plain))?;
        let session = CurveSession::new(
            &self.short_term.secret,
            &server_short,
            Role::Client,
            self.next_nonce,
            counter,
        );
        Ok((metadata, session))
    }
}

/// What the server learned from a client's INITIATE.
#[derive(Debug, Clone)]
pub struct ClientHello {
    /// The client's long-term public key (its identity; check it against an allowlist).
    pub client_key: PublicKey,
    /// The client's metadata (Socket-Type, Identity...).
    pub metadata: Vec<(String, Bytes)>,
}

/// Server side of the CurveZMQ handshake.
pub struct ServerHandshake {
    secret: SecretKey,
    public: PublicKey,
    short_term: KeyPair,
    cookie_key: [u8; 32],
    client_short: Option<PublicKey>,
    last_client_nonce: u64,
    next_nonce: u64,
}

impl ServerHandshake {
    /// Starts a handshake for a server with long-term secret key `secret`.
    ///
    /// The cookie key K lives only as long as this handshake: the cookie returns on the same
    /// connection, so a per-handshake key keeps the "server forgets state" property of RFC 26.
    pub fn new(secret: SecretKey) -> Self {
        let mut cookie_key = [0u8; 32];
        OsRng.fill_bytes(&mut cookie_key);
        ServerHandshake {
            public: secret.public_key(),
            secret,
            short_term: KeyPair::generate(),
            cookie_key,
            client_short: None,
            last_client_nonce: 0,
            next_nonce: 1,
        }
    }

    /// Handles HELLO and returns WELCOME.
    pub fn on_hello(&mut self, hello: &Command) -> Result<Command> {
        expect_command(hello, "HELLO", HELLO_BODY_LEN)?;
        if hello.body.len() != HELLO_BODY_LEN {
            return Err(ZmtpError::handshake("CURVE HELLO has the wrong size"));
        }
        if hello.body[..2] != [1, 0] {
            return Err(ZmtpError::handshake("unsupported CURVE version in HELLO"));
        }
        let client_short = key_at(&hello.body, 74)?;
        let counter = counter_at(&hello.body, 106);
        let cipher = SalsaBox::new(&client_short.to_box_key(), &self.secret.to_box_key());
        let plain = open(
            &cipher,
            &short_nonce(b"CurveZMQHELLO---", counter),
            &hello.body[114..],
            "HELLO",
        )?;
        if plain.iter().any(|b| *b != 0) {
            return Err(ZmtpError::handshake("CURVE HELLO signature is not zeros"));
        }
        self.last_client_nonce = counter;

        let cookie_random = random16();
        let mut cookie_plain = Vec::with_capacity(64);
        cookie_plain.extend_from_slice(client_short.as_bytes());
        cookie_plain.extend_from_slice(self.short_term.secret.as_bytes());
        let cookie_box = XSalsa20Poly1305::new((&self.cookie_key).into())
            .encrypt(
                (&long_nonce(b"COOKIE--", &cookie_random)).into(),
                &cookie_plain[..],
            )
            .map_err(|_| ZmtpError::handshake("CURVE cookie encryption failed"))?;

        let mut welcome_plain = Vec::with_capacity(KEY_LEN + COOKIE_LEN);
        welcome_plain.extend_from_slice(self.short_term.public.as_bytes());
        welcome_plain.extend_from_slice(&cookie_random);
        welcome_plain.extend_from_slice(&cookie_box);
        let welcome_random = random16();
        let boxed = seal(
            &cipher,
            &long_nonce(b"WELCOME-", &welcome_random),
            &welcome_plain,
        )?;
        let mut body = BytesMut::with_capacity(WELCOME_BODY_LEN);
        body.extend_from_slice(&welcome_random);
        body.extend_from_slice(&boxed);
        self.client_short = Some(client_short);
        Ok(Command::new("WELCOME", body.freeze()))
    }

    /// Handles INITIATE: checks cookie and vouch, returns the client's identity and metadata.
    pub fn on_initiate(&mut self, initiate: &Command) -> Result<ClientHello> {
        expect_command(initiate, "INITIATE", INITIATE_MIN_BODY_LEN)?;
        let client_short = self
            .client_short
            .ok_or_else(|| ZmtpError::handshake("CURVE INITIATE before HELLO"))?;
        let body = &initiate.body;
        let cookie_plain = XSalsa20Poly1305::new((&self.cookie_key).into())
            .decrypt(
                (&long_nonce(b"COOKIE--", &body[..16])).into(),
                &body[16..COOKIE_LEN],
            )
            .map_err(|_| ZmtpError::handshake("CURVE INITIATE carries an invalid cookie"))?;
        if cookie_plain[..KEY_LEN] != client_short.as_bytes()[..]
            || cookie_plain[KEY_LEN..] != self.short_term.secret.as_bytes()[..]
        {
            return Err(ZmtpError::handshake(
                "CURVE cookie does not match this handshake",
            ));
        }
        let counter = counter_at(body, COOKIE_LEN);
        if counter <= self.last_client_nonce {
            return Err(ZmtpError::handshake(
                "CURVE INITIATE nonce is not increasing",
            ));
        }
        let session = SalsaBox::new(
            &client_short.to_box_key(),
            &self.short_term.secret.to_box_key(),
        );
        let plain = open(
            &session,
            &short_nonce(b"CurveZMQINITIATE", counter),
            &body[COOKIE_LEN + 8..],
            "INITIATE",
        )?;
        self.last_client_nonce = counter;
        if plain.len() < KEY_LEN + VOUCH_LEN {
            return Err(ZmtpError::handshake("CURVE INITIATE box too short"));
        }
        let client_key = key_at(&plain, 0)?;
        let vouch_cipher = SalsaBox::new(
            &client_key.to_box_key(),
            &self.short_term.secret.to_box_key(),
        );
        let vouch = open(
            &vouch_cipher,
            &long_nonce(b"VOUCH---", &plain[KEY_LEN..KEY_LEN + 16]),
            &plain[KEY_LEN + 16..KEY_LEN + VOUCH_LEN],
            "vouch",
        )?;
        if vouch[..KEY_LEN] != client_short.as_bytes()[..]
            || vouch[KEY_LEN..] != self.public.as_bytes()[..]
        {
            return Err(ZmtpError::handshake(
                "CURVE vouch does not match the handshake",
            ));
        }
        let metadata = decode_properties(Bytes::copy_from_slice(&plain[KEY_LEN + VOUCH_LEN..]))?;
        Ok(ClientHello {
            client_key,
            metadata,
        })
    }

    /// Builds READY with our `metadata`; returns it and the session MESSAGE boxes use.
    pub fn ready(mut self, metadata: &[(String, Bytes)]) -> Result<(Command, CurveSession)> {
        let client_short = self
            .client_short
            .ok_or_else(|| ZmtpError::handshake("CURVE READY before HELLO"))?;
        let secret = self.short_term.secret.to_box_key();
        let session = SalsaBox::new(&client_short.to_box_key(), &secret);
        let counter = self.next_nonce;
        self.next_nonce += 1;
        let boxed = seal(
            &session,
            &short_nonce(b"CurveZMQREADY---", counter),
            &encode_properties(metadata),
        )?;
        let mut body = BytesMut::with_capacity(8 + boxed.len());
        body.put_u64(counter);
        body.extend_from_slice(&boxed);
        let session = CurveSession::new(
            &self.short_term.secret,
            &client_short,
            Role::Server,
            self.next_nonce,
            self.last_client_nonce,
        );
        Ok((Command::new("READY", body.freeze()), session))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::curve_message::{MessageOpener, MessageSealer, Opened};
    use crate::frame::Frame;
    use crate::message_cipher::CipherKind;
    use crate::packed;
    use bytes::BytesMut;

    fn meta(socket: &str) -> Vec<(String, Bytes)> {
        vec![(
            "Socket-Type".to_string(),
            Bytes::copy_from_slice(socket.as_bytes()),
        )]
    }

    fn full_name_len(cmd: &Command) -> usize {
        cmd.encode().len()
    }

    #[test]
    fn handshake_sizes_and_message_round_trip() {
        let server_keys = KeyPair::generate();
        let client_keys = KeyPair::generate();
        let mut client = ClientHandshake::new(client_keys.clone(), server_keys.public);
        let mut server = ServerHandshake::new(server_keys.secret.clone());

        let hello = client.hello().unwrap();
        assert_eq!(full_name_len(&hello), 200);
        let welcome = server.on_hello(&hello).unwrap();
        assert_eq!(full_name_len(&welcome), 168);
        let initiate = client.on_welcome(&welcome, &meta("DEALER")).unwrap();
        assert!(full_name_len(&initiate) >= 257);
        let hello_info = server.on_initiate(&initiate).unwrap();
        assert_eq!(hello_info.client_key, client_keys.public);
        assert_eq!(hello_info.metadata, meta("DEALER"));
        let (ready, session) = server.ready(&meta("ROUTER")).unwrap();
        let (mut s_seal, mut s_open) = rfc26(session);
        assert!(full_name_len(&ready) >= 30);
        let (server_meta, session) = client.on_ready(&ready).unwrap();
        let (mut c_seal, mut c_open) = rfc26(session);
        assert_eq!(server_meta, meta("ROUTER"));

        let part = Frame::part(Bytes::from_static(b"hello"), true);
        let wire = c_seal.seal(&part).unwrap();
        assert!(wire.body.starts_with(b"\x07MESSAGE"));
        assert_eq!(s_open.open(wire.clone()).unwrap(), part);
        // Replaying the same MESSAGE is refused.
        assert!(s_open.open(wire).is_err());

        let ping = Frame::command(&Command::ping(10, b"x"));
        let wire = s_seal.seal(&ping).unwrap();
        assert_eq!(c_open.open(wire).unwrap(), ping);
    }

    fn rfc26(session: CurveSession) -> (MessageSealer, MessageOpener) {
        session
            .message_ciphers(CipherKind::XSalsa20Poly1305)
            .unwrap()
    }

    fn sealed_pair() -> (MessageSealer, MessageOpener) {
        let server_keys = KeyPair::generate();
        let mut client = ClientHandshake::new(KeyPair::generate(), server_keys.public);
        let mut server = ServerHandshake::new(server_keys.secret);
        let welcome = server.on_hello(&client.hello().unwrap()).unwrap();
        let initiate = client.on_welcome(&welcome, &meta("DEALER")).unwrap();
        server.on_initiate(&initiate).unwrap();
        let (ready, server_session) = server.ready(&meta("ROUTER")).unwrap();
        let (_, client_session) = client.on_ready(&ready).unwrap();
        (rfc26(client_session).0, rfc26(server_session).1)
    }

    fn wire_frames(mut out: BytesMut) -> Vec<Frame> {
        let mut frames = Vec::new();
        while let Some(frame) = Frame::decode(&mut out, 1 << 20).unwrap() {
            frames.push(frame);
        }
        assert!(out.is_empty());
        frames
    }

    #[test]
    fn packing_seals_a_multipart_message_into_one_box() {
        let parts = vec![
            Bytes::from_static(b"12345678"),
            Bytes::new(),
            Bytes::from_static(b"body"),
        ];
        let (mut seal, mut open) = sealed_pair();
        let mut out = BytesMut::new();
        seal.queue_message(&parts, &mut out).unwrap();
        assert_eq!(wire_frames(out).len(), 3, "unpacked: one box per part");

        seal.set_packed(true);
        open.set_packed(true);
        let mut out = BytesMut::new();
        seal.queue_message(&parts, &mut out).unwrap();
        seal.queue_message(&parts[..1], &mut out).unwrap();
        let frames = wire_frames(out);
        assert_eq!(
            frames.len(),
            2,
            "packed box, then a single part as a plain box"
        );
        let mut frames = frames.into_iter();
        assert_eq!(
            open.open_any(frames.next().unwrap(), 16).unwrap(),
            Opened::Message(parts.clone())
        );
        assert_eq!(
            open.open_any(frames.next().unwrap(), 16).unwrap(),
            Opened::Frame(Frame::part(parts[0].clone(), false))
        );
    }

    #[test]
    fn packed_box_is_refused_unless_negotiated() {
        let (mut seal, mut open) = sealed_pair();
        seal.set_packed(true);
        let mut out = BytesMut::new();
        seal.queue_message(&[Bytes::new(), Bytes::new()], &mut out)
            .unwrap();
        let frame = wire_frames(out).remove(0);
        assert!(matches!(
            open.open_any(frame, 16),
            Err(ZmtpError::Protocol(_))
        ));
    }

    fn batching_pair() -> (MessageSealer, MessageOpener) {
        let (mut seal, mut open) = sealed_pair();
        seal.set_packed(true);
        seal.set_batching(true);
        open.set_packed(true);
        open.set_batching(true);
        (seal, open)
    }

    #[test]
    fn batching_gathers_messages_until_finish() {
        let (mut seal, mut open) = batching_pair();
        let messages = vec![
            vec![
                Bytes::from_static(b"id"),
                Bytes::new(),
                Bytes::from_static(b"x"),
            ],
            vec![Bytes::from_static(b"single")],
            vec![Bytes::new()],
        ];
        let mut out = BytesMut::new();
        for parts in &messages[..2] {
            seal.queue_message(parts, &mut out).unwrap();
        }
        seal.queue_message(&[], &mut out).unwrap();
        assert!(out.is_empty(), "nothing sealed before finish_batch");
        assert!(seal.batched() > 0);
        seal.finish_batch(&mut out).unwrap();
        assert_eq!(seal.batched(), 0);
        seal.finish_batch(&mut out).unwrap();
        let frames = wire_frames(out);
        assert_eq!(
            frames.len(),
            1,
            "one box for the whole batch; none for an empty one"
        );
        let frame = frames.into_iter().next().unwrap();
        assert_eq!(open.open_any(frame, 16).unwrap(), Opened::Batch(messages));
    }

    #[test]
    fn batches_are_bounded_and_keep_the_order() {
        let (mut seal, mut open) = batching_pair();
        let small = vec![Bytes::from(vec![1u8; 100])];
        let big = vec![Bytes::from(vec![2u8; packed::BATCH_MAX]), Bytes::new()];
        let mut out = BytesMut::new();
        seal.queue_message(&small, &mut out).unwrap();
        seal.queue_message(&big, &mut out).unwrap();
        seal.queue_command(&Command::ping(1, b"p"), &mut out)
            .unwrap();
        // Enough small messages for two batch boxes.
        let count = packed::BATCH_MAX / 100 + 10;
        for _ in 0..count {
            seal.queue_message(&small, &mut out).unwrap();
        }
        seal.finish_batch(&mut out).unwrap();
        let mut received = Vec::new();
        for frame in wire_frames(out) {
            assert!(frame.body.len() <= packed::BATCH_MAX + 64 || received.len() == 1);
            match open.open_any(frame, 16).unwrap() {
                Opened::Batch(messages) => received.push(format!("batch {}", messages.len())),
                Opened::Message(parts) => {
                    assert_eq!(parts, big);
                    received.push("big".into());
                }
                Opened::Frame(frame) => {
                    assert!(frame.command);
                    received.push("ping".into());
                }
            }
        }
        assert_eq!(received.len(), 5, "{received:?}");
        assert_eq!(&received[..3], ["batch 1", "big", "ping"]);
        let batched: usize = received[3..]
            .iter()
            .map(|r| r["batch ".len()..].parse::<usize>().unwrap())
            .sum();
        assert_eq!(batched, count);
    }

    #[test]
    fn batch_box_is_refused_unless_negotiated() {
        let (mut seal, mut open) = sealed_pair();
        seal.set_packed(true);
        seal.set_batching(true);
        open.set_packed(true);
        let mut out = BytesMut::new();
        seal.queue_message(&[Bytes::from_static(b"x")], &mut out)
            .unwrap();
        seal.finish_batch(&mut out).unwrap();
        let frame = wire_frames(out).remove(0);
        assert!(matches!(
            open.open_any(frame, 16),
            Err(ZmtpError::Protocol(_))
        ));
    }

    #[test]
    fn wrong_server_key_fails_at_welcome() {
        let server_keys = KeyPair::generate();
        let wrong = KeyPair::generate();
        let mut client = ClientHandshake::new(KeyPair::generate(), wrong.public);
        let mut server = ServerHandshake::new(server_keys.secret);
        let hello = client.hello().unwrap();
        // The server cannot even open HELLO: it was boxed to another key.
        assert!(matches!(
            server.on_hello(&hello),
            Err(ZmtpError::Handshake(_))
        ));
    }

    #[test]
    fn tampered_initiate_is_refused() {
        let server_keys = KeyPair::generate();
        let mut client = ClientHandshake::new(KeyPair::generate(), server_keys.public);
        let mut server = ServerHandshake::new(server_keys.secret);
        let welcome = server.on_hello(&client.hello().unwrap()).unwrap();
        let initiate = client.on_welcome(&welcome, &meta("DEALER")).unwrap();
        let mut body = initiate.body.to_vec();
        let last = body.len() - 1;
        body[last] ^= 1;
        let tampered = Command::new("INITIATE", Bytes::from(body));
        assert!(server.on_initiate(&tampered).is_err());
    }

    #[test]
    fn error_command_during_handshake_is_refused() {
        let mut client = ClientHandshake::new(KeyPair::generate(), KeyPair::generate().public);
        let _ = client.hello().unwrap();
        let err = client
            .on_welcome(&Command::error("go away"), &meta("DEALER"))
            .unwrap_err();
        assert!(matches!(err, ZmtpError::Refused { reason } if reason == "go away"));
    }
}

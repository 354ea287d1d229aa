//! ZMTP: frames, commands and metadata; the CURVE server handshake; Z85 and keys.

use bytes::{Bytes, BytesMut};
use zmtp::curve::ServerHandshake;
use zmtp::frame::{decode_properties, Command, Frame, Greeting, GREETING_LEN};
use zmtp::keys::{PublicKey, SecretKey};
use zmtp::z85;

/// Largest frame body the decoder is asked to accept: far above any fuzz input, so the limit
/// never hides a body the decoder mishandles.
const MAX_BODY: u64 = 1 << 20;

/// Greeting, frame, command and metadata decoding of arbitrary bytes: never a panic, and every
/// decoded frame encodes back to itself.
pub fn frame_decode(data: &[u8]) {
    if let Some(raw) = data.first_chunk::<GREETING_LEN>() {
        let _ = Greeting::decode(raw);
    }
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = Frame::decode(&mut buf, MAX_BODY) {
        let mut again = BytesMut::new();
        frame.encode(&mut again);
        let round = Frame::decode(&mut again, MAX_BODY);
        assert_eq!(round.ok().flatten().as_ref(), Some(&frame));
        if let Ok(cmd) = Command::decode(frame.body) {
            let _ = decode_properties(cmd.body.clone());
            let _ = cmd.error_reason();
        }
    }
}

/// Arbitrary HELLO and INITIATE bodies fed to the CURVE server handshake: it must fail cleanly
/// (only a real client holding the keys can produce a HELLO that opens).
pub fn curve_server(data: &[u8]) {
    let server_key = || SecretKey::from_bytes([7u8; 32]);
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let (hello, initiate) = data.split_at(split);
    let mut server = ServerHandshake::new(server_key());
    let hello = Command::new("HELLO", Bytes::copy_from_slice(hello));
    if server.on_hello(&hello).is_ok() {
        let _ = server.on_initiate(&Command::new("INITIATE", Bytes::copy_from_slice(initiate)));
    }
    let mut fresh = ServerHandshake::new(server_key());
    let _ = fresh.on_initiate(&Command::new("INITIATE", Bytes::copy_from_slice(data)));
    if let Ok(cmd) = Command::decode(Bytes::copy_from_slice(data)) {
        let _ = ServerHandshake::new(server_key()).on_hello(&cmd);
    }
}

/// Arbitrary text through Z85 and key parsing; valid decodings round-trip, and every byte
/// string of a multiple of 4 bytes encodes and decodes back.
pub fn z85_decode(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(raw) = z85::decode(text) {
            assert_eq!(z85::encode(&raw).as_deref(), Some(text));
        }
        if let Ok(key) = PublicKey::from_z85(text) {
            assert_eq!(key.to_z85(), text.trim());
        }
    }
    if data.len() % 4 == 0 {
        let text = z85::encode(data).unwrap_or_default();
        assert_eq!(z85::decode(&text).ok().as_deref(), Some(data));
    }
}

#![no_main]
//! Arbitrary HELLO and INITIATE bodies fed to the CURVE server handshake: must fail cleanly.

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use zmtp::curve::ServerHandshake;
use zmtp::frame::Command;
use zmtp::keys::SecretKey;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let (hello, initiate) = data.split_at(split);
    let mut server = ServerHandshake::new(SecretKey::from_bytes([7u8; 32]));
    let hello = Command::new("HELLO", Bytes::copy_from_slice(hello));
    if server.on_hello(&hello).is_ok() {
        // Only a real client can produce a valid HELLO; reaching here would mean a forgery.
        let _ = server.on_initiate(&Command::new("INITIATE", Bytes::copy_from_slice(initiate)));
    }
    let mut fresh = ServerHandshake::new(SecretKey::from_bytes([7u8; 32]));
    let _ = fresh.on_initiate(&Command::new("INITIATE", Bytes::copy_from_slice(data)));
    if let Ok(cmd) = Command::decode(Bytes::copy_from_slice(data)) {
        let _ = ServerHandshake::new(SecretKey::from_bytes([7u8; 32])).on_hello(&cmd);
    }
});

#![no_main]
//! Arbitrary bytes through the pure ZMTP decoders: must never panic or allocate unboundedly.

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use zmtp::frame::{decode_properties, Command, Frame, Greeting, GREETING_LEN};

fuzz_target!(|data: &[u8]| {
    if data.len() >= GREETING_LEN {
        let mut raw = [0u8; GREETING_LEN];
        raw.copy_from_slice(&data[..GREETING_LEN]);
        let _ = Greeting::decode(&raw);
    }
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = Frame::decode(&mut buf, 1 << 20) {
        let mut again = BytesMut::new();
        frame.encode(&mut again);
        let round = Frame::decode(&mut again, 1 << 20);
        assert_eq!(round.ok().flatten().as_ref(), Some(&frame));
        if let Ok(cmd) = Command::decode(frame.body) {
            let _ = decode_properties(cmd.body.clone());
            let _ = cmd.error_reason();
        }
    }
});

#![no_main]
//! Arbitrary text through Z85 and key parsing; valid decodings must round-trip.

use libfuzzer_sys::fuzz_target;
use zmtp::keys::PublicKey;
use zmtp::z85;

fuzz_target!(|data: &[u8]| {
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
});

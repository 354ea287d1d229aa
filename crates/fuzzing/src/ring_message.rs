//! Ring (Chord) messages: `[type: u8][protobuf payload]` (docs/wire.md).

use bytes::Bytes;
use dendrite::Message;

/// Decodes arbitrary bytes as a ring message: never a panic, and whatever decodes encodes to
/// a frame that decodes to the same message.
pub fn ring_message(data: &[u8]) {
    if let Ok(message) = Message::decode(Bytes::copy_from_slice(data)) {
        let again = Message::decode(message.encode());
        assert_eq!(
            again.as_ref(),
            Ok(&message),
            "re-encoded ring message differs"
        );
    }
}

//! dtable requests and replies: the payload of the ring's extension messages (docs/wire.md
//! §5 and §6).

use bytes::Bytes;
use dtable::{Reply, Request};

/// Decodes arbitrary bytes both as a dtable request and as a reply: never a panic, and
/// whatever decodes encodes to a frame that decodes to the same value.
pub fn dtable_message(data: &[u8]) {
    let frame = Bytes::copy_from_slice(data);
    if let Ok(request) = Request::decode(frame.clone()) {
        let again = Request::decode(request.encode());
        assert_eq!(again.as_ref(), Ok(&request), "re-encoded request differs");
    }
    if let Ok(reply) = Reply::decode(frame) {
        let again = Reply::decode(reply.encode());
        assert_eq!(again.as_ref(), Ok(&reply), "re-encoded reply differs");
    }
}

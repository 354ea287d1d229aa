//! Packed parts: a whole multipart message in one CURVE MESSAGE box, between our own peers.
//!
//! RFC 26 seals every message part in its own MESSAGE box, so a request of three parts (id,
//! empty delimiter, body) costs three boxes to seal and three to open. When both sides of a
//! CURVE connection advertise the metadata property [`PROPERTY`] = `1` in READY/INITIATE, each
//! multipart message instead travels in one MESSAGE whose flags byte is [`FLAG_PACKED`]
//! (0x04, reserved in RFC 26) and whose payload is, for every part in order:
//!
//! ```text
//! flags (1 byte: 0x01 = more parts follow, other bits zero) | length (4 bytes, big endian) | bytes
//! ```
//!
//! The last part has flags 0, all others 0x01; nothing may follow it. A peer that does not
//! advertise the property (libzmq, pyzmq) never sees a packed box, and one it sends is refused.
//! Messages of a single part are sent as plain MESSAGE boxes either way.
//!
//! Batches: when both sides also advertise [`BATCH_PROPERTY`] = `1`, the messages queued
//! between two flushes of a connection travel together in MESSAGE boxes whose flags byte is
//! [`FLAG_BATCH`] (0x08, reserved in RFC 26) and whose payload is one or more messages, each
//! encoded as above (its last part, flags 0, ends it and the next message follows), at most
//! [`BATCH_MAX`] bytes. A message too long for that goes in a box of its own, after the batch
//! queued before it. Every box has a fixed cost on top of its bytes (keystream block 0,
//! Poly1305 finish, a frame header, an allocation on the receiving side) and long boxes take
//! libsodium's vectorised path (`message_box.rs`): with 128 requests of 100 bytes in flight a
//! request went from 3.85 to 2.40 µs of CPU (NULL: 2.15; docs/performance.md). The property is
//! separate from [`PROPERTY`] so that peers which only pack parts (earlier versions) keep
//! doing that.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::{Result, ZmtpError};

/// Metadata property that announces support for packed parts.
pub const PROPERTY: &str = "X-Packed-Parts";
/// Value of [`PROPERTY`] for the encoding described here.
pub const VERSION: &[u8] = b"1";
/// MESSAGE flags value of a packed box.
pub const FLAG_PACKED: u8 = 0x04;
/// Bytes each part adds to a packed payload.
pub const PART_OVERHEAD: usize = 5;
/// Metadata property that announces support for batches of messages in one box.
pub const BATCH_PROPERTY: &str = "X-Packed-Batches";
/// MESSAGE flags value of a batch box.
pub const FLAG_BATCH: u8 = 0x08;
/// Largest payload of a batch box. A receiver accepts frames this long whatever its message
/// size limit (the CURVE opener's overhead allowance exceeds it), so batches never trip it.
pub const BATCH_MAX: usize = 16 * 1024;

/// Whether `parts` can and should be packed (more than one part, each under 4 GiB).
pub fn worth_packing(parts: &[Bytes]) -> bool {
    parts.len() > 1 && parts.iter().all(|p| u32::try_from(p.len()).is_ok())
}

/// Size of the packed payload of `parts`.
pub fn packed_len(parts: &[Bytes]) -> usize {
    parts.iter().map(|p| PART_OVERHEAD + p.len()).sum()
}

/// Appends the packed payload of `parts` (see [`worth_packing`] for the size limit).
pub fn encode(parts: &[Bytes], out: &mut BytesMut) {
    let last = parts.len().saturating_sub(1);
    for (i, part) in parts.iter().enumerate() {
        out.put_u8(u8::from(i < last));
        out.put_u32(u32::try_from(part.len()).unwrap_or(u32::MAX));
        out.extend_from_slice(part);
    }
}

/// Splits a packed payload into its parts (which share `payload`'s memory).
///
/// Refuses truncated parts, reserved flag bits, trailing bytes, an empty payload and more than
/// `max_parts` parts, so a broken or hostile peer gets a protocol error, never a panic.
pub fn decode(mut payload: Bytes, max_parts: usize) -> Result<Vec<Bytes>> {
    let parts = decode_next(&mut payload, max_parts)?;
    if !payload.is_empty() {
        return Err(ZmtpError::protocol(
            "packed CURVE MESSAGE: bytes after the last part",
        ));
    }
    Ok(parts)
}

/// Splits a batch payload into its messages (sharing `payload`'s memory); the same checks as
/// [`decode`] for every message, which may each have up to `max_parts` parts.
pub fn decode_batch(mut payload: Bytes, max_parts: usize) -> Result<Vec<Vec<Bytes>>> {
    let mut messages = Vec::new();
    loop {
        messages.push(decode_next(&mut payload, max_parts)?);
        if payload.is_empty() {
            return Ok(messages);
        }
    }
}

/// Takes the parts of one message off the front of `payload`, up to its last part.
fn decode_next(payload: &mut Bytes, max_parts: usize) -> Result<Vec<Bytes>> {
    let mut parts = Vec::with_capacity(4);
    loop {
        if payload.len() < PART_OVERHEAD {
            return Err(ZmtpError::protocol(
                "packed CURVE MESSAGE: truncated part header",
            ));
        }
        let flags = payload.get_u8();
        if flags & !0x01 != 0 {
            return Err(ZmtpError::protocol(
                "packed CURVE MESSAGE: part has reserved flags set",
            ));
        }
        let len = payload.get_u32() as usize;
        if payload.len() < len {
            return Err(ZmtpError::protocol(
                "packed CURVE MESSAGE: part longer than the box",
            ));
        }
        parts.push(payload.split_to(len));
        if parts.len() > max_parts {
            return Err(ZmtpError::protocol(format!(
                "packed CURVE MESSAGE has more than {max_parts} parts"
            )));
        }
        if flags == 0 {
            return Ok(parts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pack(parts: &[Bytes]) -> Bytes {
        let mut out = BytesMut::new();
        encode(parts, &mut out);
        assert_eq!(out.len(), packed_len(parts));
        out.freeze()
    }

    #[test]
    fn layout() {
        let packed = pack(&[
            Bytes::from_static(b"id"),
            Bytes::new(),
            Bytes::from_static(b"x"),
        ]);
        assert_eq!(
            &packed[..],
            b"\x01\x00\x00\x00\x02id\x01\x00\x00\x00\x00\x00\x00\x00\x00\x01x"
        );
    }

    #[test]
    fn malformed_payloads_are_errors() {
        let bad: [&[u8]; 6] = [
            b"",
            b"\x00\x00\x00",
            b"\x00\x00\x00\x00\x05abc",
            b"\x02\x00\x00\x00\x00",
            b"\x00\x00\x00\x00\x00x",
            b"\x01\x00\x00\x00\x00",
        ];
        for raw in bad {
            assert!(
                matches!(
                    decode(Bytes::from_static(raw), 16),
                    Err(ZmtpError::Protocol(_))
                ),
                "{raw:?}"
            );
        }
        let many = pack(&vec![Bytes::new(); 5]);
        assert!(decode(many.clone(), 4).is_err());
        assert_eq!(decode(many, 5).unwrap().len(), 5);
    }

    #[test]
    fn malformed_batches_are_errors() {
        // Empty, a message cut short after a whole one, reserved flags in the second message.
        let bad: [&[u8]; 3] = [
            b"",
            b"\x00\x00\x00\x00\x01a\x01\x00\x00\x00\x00",
            b"\x00\x00\x00\x00\x01a\x04\x00\x00\x00\x00",
        ];
        for raw in bad {
            assert!(
                matches!(
                    decode_batch(Bytes::from_static(raw), 16),
                    Err(ZmtpError::Protocol(_))
                ),
                "{raw:?}"
            );
        }
        let two =
            Bytes::from_static(b"\x00\x00\x00\x00\x01a\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00");
        assert_eq!(
            decode_batch(two.clone(), 16).unwrap(),
            vec![
                vec![Bytes::from_static(b"a")],
                vec![Bytes::new(), Bytes::new()]
            ]
        );
        assert!(
            decode(two, 16).is_err(),
            "a plain packed box holds one message"
        );
        let many = pack(&vec![Bytes::new(); 5]);
        assert!(decode_batch(many, 4).is_err(), "part limit per message");
    }

    #[test]
    fn packing_needs_two_parts() {
        assert!(!worth_packing(&[Bytes::from_static(b"x")]));
        assert!(worth_packing(&[Bytes::new(), Bytes::new()]));
    }

    proptest! {
        #[test]
        fn round_trip(parts in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from), 1..10)) {
            prop_assert_eq!(decode(pack(&parts), 64).unwrap(), parts);
        }

        #[test]
        fn decode_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(Bytes::from(raw.clone()), 8);
            let _ = decode_batch(Bytes::from(raw), 8);
        }

        #[test]
        fn batch_round_trip(messages in proptest::collection::vec(
            proptest::collection::vec(
                proptest::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from), 1..5),
            1..8)) {
            let mut out = BytesMut::new();
            for parts in &messages {
                encode(parts, &mut out);
            }
            prop_assert_eq!(decode_batch(out.freeze(), 64).unwrap(), messages);
        }
    }
}

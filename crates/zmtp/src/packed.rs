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
            if !payload.is_empty() {
                return Err(ZmtpError::protocol(
                    "packed CURVE MESSAGE: bytes after the last part",
                ));
            }
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
            let _ = decode(Bytes::from(raw), 8);
        }
    }
}

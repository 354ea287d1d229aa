//! Which top-level fields a protobuf payload carries.
//!
//! prost decodes a missing proto2 `required` scalar as its default value, silently. docs/wire.md
//! §3 asks a reader to reject such a message, so the codec first walks the payload's top-level
//! tags (cheap: no allocation, lengths are skipped) and checks the required numbers are there.

/// Bit `n` is set when field number `n` (< 64) occurs at the top level of `payload`.
///
/// Returns `None` when the payload is not well-formed protobuf (bad varint, truncated field,
/// unknown wire type); the real decoder will then report the precise error.
pub fn top_level_fields(payload: &[u8]) -> Option<u64> {
    let mut seen = 0u64;
    let mut rest = payload;
    while !rest.is_empty() {
        let (tag, after) = varint(rest)?;
        rest = after;
        let field = tag >> 3;
        if field < 64 {
            seen |= 1 << field;
        }
        rest = match tag & 7 {
            0 => varint(rest)?.1,
            1 => rest.get(8..)?,
            2 => {
                let (len, after) = varint(rest)?;
                after.get(usize::try_from(len).ok()?..)?
            }
            5 => rest.get(4..)?,
            _ => return None,
        };
    }
    Some(seen)
}

/// Checks that every field number in `required` occurs in `payload`; returns the first missing one.
pub fn first_missing(payload: &[u8], required: &[u32]) -> Option<u32> {
    let seen = top_level_fields(payload).unwrap_or(u64::MAX);
    required
        .iter()
        .copied()
        .find(|&n| n < 64 && seen & (1 << n) == 0)
}

fn varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut value = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, &bytes[i + 1..]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_fields_of_each_wire_type() {
        // field 1 varint 150, field 2 length-delimited "hi", field 3 fixed64, field 4 fixed32.
        let mut p = vec![0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i', 0x19];
        p.extend_from_slice(&[0; 8]);
        p.push(0x25);
        p.extend_from_slice(&[0; 4]);
        assert_eq!(top_level_fields(&p), Some(0b11110));
        assert_eq!(first_missing(&p, &[1, 2]), None);
        assert_eq!(first_missing(&p, &[1, 5]), Some(5));
    }

    #[test]
    fn malformed_payloads_are_none() {
        assert_eq!(top_level_fields(&[0x12, 0x05, b'a']), None);
        assert_eq!(top_level_fields(&[0x08]), None);
        assert_eq!(top_level_fields(&[0x0b]), None);
        assert_eq!(top_level_fields(&[]), Some(0));
    }
}

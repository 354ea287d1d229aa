//! Z85 text encoding (ZeroMQ RFC 32), used to print and parse 32-byte CURVE keys as 40 characters.

/// The 85 characters of Z85, in value order.
const ALPHABET: &[u8; 85] =
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/// Why a Z85 text could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Z85Error {
    /// Z85 text length must be a multiple of 5 (and, for keys, exactly 40).
    #[error("Z85 text has {len} characters; expected {expected}")]
    WrongLength {
        /// Characters given.
        len: usize,
        /// Characters expected.
        expected: usize,
    },
    /// A character outside the Z85 alphabet.
    #[error("character {character:?} at position {position} is not in the Z85 alphabet")]
    InvalidCharacter {
        /// The offending character.
        character: char,
        /// Its index in the text.
        position: usize,
    },
    /// A 5-character group encodes a value above 2^32-1.
    #[error("Z85 group starting at position {position} overflows 32 bits")]
    Overflow {
        /// Index of the group's first character.
        position: usize,
    },
}

/// Encodes bytes whose length is a multiple of 4. Returns `None` otherwise.
pub fn encode(raw: &[u8]) -> Option<String> {
    if raw.len() % 4 != 0 {
        return None;
    }
    let mut out = String::with_capacity(raw.len() / 4 * 5);
    for chunk in raw.chunks_exact(4) {
        let mut value = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        let mut group = [0u8; 5];
        for slot in group.iter_mut().rev() {
            *slot = ALPHABET[(value % 85) as usize];
            value /= 85;
        }
        out.extend(group.iter().map(|b| char::from(*b)));
    }
    Some(out)
}

fn digit(byte: u8) -> Option<u32> {
    ALPHABET.iter().position(|c| *c == byte).map(|p| p as u32)
}

/// Decodes Z85 text whose length is a multiple of 5.
pub fn decode(text: &str) -> Result<Vec<u8>, Z85Error> {
    let raw = text.as_bytes();
    if raw.len() % 5 != 0 {
        return Err(Z85Error::WrongLength {
            len: text.chars().count(),
            expected: raw.len().div_ceil(5) * 5,
        });
    }
    let mut out = Vec::with_capacity(raw.len() / 5 * 4);
    for (group_index, group) in raw.chunks_exact(5).enumerate() {
        let mut value: u64 = 0;
        for (i, byte) in group.iter().enumerate() {
            let position = group_index * 5 + i;
            let d = digit(*byte).ok_or_else(|| Z85Error::InvalidCharacter {
                character: text
                    .get(position..)
                    .and_then(|rest| rest.chars().next())
                    .unwrap_or(char::REPLACEMENT_CHARACTER),
                position,
            })?;
            value = value * 85 + u64::from(d);
        }
        let value = u32::try_from(value).map_err(|_| Z85Error::Overflow {
            position: group_index * 5,
        })?;
        out.extend_from_slice(&value.to_be_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_test_vector() {
        let raw = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B];
        assert_eq!(encode(&raw).unwrap(), "HelloWorld");
        assert_eq!(decode("HelloWorld").unwrap(), raw);
    }

    #[test]
    fn rfc32_curve_key_vector() {
        // Client public key from RFC 32 / the libzmq test suite.
        let text = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
        let raw = decode(text).unwrap();
        assert_eq!(raw.len(), 32);
        assert_eq!(encode(&raw).unwrap(), text);
    }

    #[test]
    fn bad_input_is_typed() {
        assert!(encode(&[1, 2, 3]).is_none());
        assert!(matches!(
            decode("abcd"),
            Err(Z85Error::WrongLength { len: 4, .. })
        ));
        assert!(matches!(
            decode("Hello Worl"),
            Err(Z85Error::InvalidCharacter {
                character: ' ',
                position: 5
            })
        ));
        assert!(matches!(
            decode("#####"),
            Err(Z85Error::Overflow { position: 0 })
        ));
    }

    proptest! {
        #[test]
        fn round_trip(words in proptest::collection::vec(any::<[u8; 4]>(), 0..16)) {
            let raw: Vec<u8> = words.concat();
            let text = encode(&raw).unwrap();
            prop_assert_eq!(text.len(), raw.len() / 4 * 5);
            prop_assert_eq!(decode(&text).unwrap(), raw);
        }
    }
}

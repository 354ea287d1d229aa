//! CURVE key types: Curve25519 public and secret keys, and key pairs, printable as Z85.
//!
//! Keys are plain 32-byte values; Z85 text (40 characters) is the format libzmq and pyzmq use
//! (`zmq.curve_keypair()`), so keys can be copied between tools and configuration files.

use std::fmt;
use std::str::FromStr;

use rand::rngs::OsRng;

use crate::z85::{self, Z85Error};

/// Length of a CURVE key in bytes.
pub const KEY_LEN: usize = 32;
/// Length of a CURVE key as Z85 text.
pub const KEY_TEXT_LEN: usize = 40;

fn parse_key(text: &str) -> Result<[u8; KEY_LEN], Z85Error> {
    let text = text.trim();
    if text.len() != KEY_TEXT_LEN {
        return Err(Z85Error::WrongLength {
            len: text.chars().count(),
            expected: KEY_TEXT_LEN,
        });
    }
    let raw = z85::decode(text)?;
    let mut key = [0u8; KEY_LEN];
    key.copy_from_slice(&raw);
    Ok(key)
}

fn key_text(raw: &[u8; KEY_LEN]) -> String {
    // 32 is a multiple of 4, so encoding always succeeds.
    z85::encode(raw).unwrap_or_default()
}

/// A Curve25519 public key (long-term identity of a server or client).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey([u8; KEY_LEN]);

impl PublicKey {
    /// Wraps raw key bytes.
    pub fn from_bytes(raw: [u8; KEY_LEN]) -> Self {
        PublicKey(raw)
    }

    /// Raw key bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// Parses 40 characters of Z85.
    pub fn from_z85(text: &str) -> Result<Self, Z85Error> {
        parse_key(text).map(PublicKey)
    }

    /// The key as 40 characters of Z85.
    pub fn to_z85(&self) -> String {
        key_text(&self.0)
    }

    pub(crate) fn to_box_key(self) -> crypto_box::PublicKey {
        crypto_box::PublicKey::from(self.0)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_z85())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_z85())
    }
}

impl FromStr for PublicKey {
    type Err = Z85Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PublicKey::from_z85(s)
    }
}

/// A Curve25519 secret key. Its `Debug` output never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey([u8; KEY_LEN]);

impl SecretKey {
    /// Wraps raw key bytes.
    pub fn from_bytes(raw: [u8; KEY_LEN]) -> Self {
        SecretKey(raw)
    }

    /// Raw key bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// Parses 40 characters of Z85.
    pub fn from_z85(text: &str) -> Result<Self, Z85Error> {
        parse_key(text).map(SecretKey)
    }

    /// The key as 40 characters of Z85 (handle with care).
    pub fn to_z85(&self) -> String {
        key_text(&self.0)
    }

    /// The public key that belongs to this secret key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(*self.to_box_key().public_key().as_bytes())
    }

    pub(crate) fn to_box_key(&self) -> crypto_box::SecretKey {
        crypto_box::SecretKey::from(self.0)
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl FromStr for SecretKey {
    type Err = Z85Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SecretKey::from_z85(s)
    }
}

/// A public key and its secret key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPair {
    /// The public half, shared with peers.
    pub public: PublicKey,
    /// The secret half, kept private.
    pub secret: SecretKey,
}

impl KeyPair {
    /// Generates a fresh key pair from the operating system's random source.
    pub fn generate() -> Self {
        let secret = crypto_box::SecretKey::generate(&mut OsRng);
        KeyPair::from_secret(SecretKey(secret.to_bytes()))
    }

    /// Rebuilds the pair from its secret key.
    pub fn from_secret(secret: SecretKey) -> Self {
        KeyPair {
            public: secret.public_key(),
            secret,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn z85_round_trip_and_public_derivation() {
        let pair = KeyPair::generate();
        let text = pair.public.to_z85();
        assert_eq!(text.len(), KEY_TEXT_LEN);
        assert_eq!(text.parse::<PublicKey>().unwrap(), pair.public);
        let secret = SecretKey::from_z85(&pair.secret.to_z85()).unwrap();
        assert_eq!(KeyPair::from_secret(secret), pair);
    }

    #[test]
    fn libzmq_test_keys_match() {
        // Server key pair from the libzmq test suite (tests/testutil_security.hpp).
        let public = PublicKey::from_z85("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7").unwrap();
        let secret = SecretKey::from_z85("JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6").unwrap();
        assert_eq!(secret.public_key(), public);
    }

    #[test]
    fn bad_text_is_a_typed_error() {
        assert!(matches!(
            PublicKey::from_z85("short"),
            Err(Z85Error::WrongLength {
                len: 5,
                expected: 40
            })
        ));
        let bad = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf ";
        assert!(matches!(
            PublicKey::from_z85(&format!("{bad}x")),
            Err(Z85Error::WrongLength { .. })
        ));
        assert!(matches!(
            PublicKey::from_z85("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf~"),
            Err(Z85Error::InvalidCharacter {
                character: '~',
                position: 39
            })
        ));
    }

    #[test]
    fn secret_key_debug_is_redacted() {
        let pair = KeyPair::generate();
        assert!(!format!("{:?}", pair.secret).contains(&pair.secret.to_z85()));
    }
}

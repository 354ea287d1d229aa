//! The XSalsa20-Poly1305 box of CURVE MESSAGE commands, with the per-direction work done once.
//!
//! A MESSAGE nonce is a fixed 16-byte prefix (`CurveZMQMESSAGEC` or `...S`) followed by an
//! 8-byte counter. XSalsa20 first derives a subkey with HSalsa20 from the key and the first 16
//! nonce bytes, which are the same for every message of a direction, so [`MessageKey`] derives
//! that subkey once per connection and each box only runs Salsa20 with the counter as its
//! nonce, plus Poly1305 (both our own, see `salsa20.rs` and `poly1305.rs` for why). The result is byte for byte NaCl's `crypto_box_afternm`, which is
//! what libzmq uses (tests compare it with `crypto_box`).

use curve25519_dalek::montgomery::MontgomeryPoint;

use crate::keys::{PublicKey, SecretKey};
use crate::poly1305;
use crate::salsa20::{hsalsa20, Salsa20Key};

/// Length of the Poly1305 tag that precedes the ciphertext in a box.
pub const TAG_LEN: usize = 16;

/// Key of one direction of a CURVE connection's MESSAGE traffic.
pub struct MessageKey {
    subkey: Salsa20Key,
}

/// Keystream bytes that key Poly1305; the message is encrypted with the rest of block 0 on.
const MAC_KEY_LEN: usize = 32;

impl MessageKey {
    /// Key for boxes between `ours` and `theirs` whose nonces start with `prefix`.
    pub fn new(ours: &SecretKey, theirs: &PublicKey, prefix: &[u8; 16]) -> Self {
        // crypto_box_beforenm: HSalsa20 of the X25519 shared secret with a zero input.
        let shared = MontgomeryPoint(*theirs.as_bytes()).mul_clamped(*ours.as_bytes());
        let box_key = hsalsa20(shared.as_bytes(), &[0u8; 16]);
        MessageKey {
            subkey: Salsa20Key::new(&hsalsa20(&box_key, prefix)),
        }
    }

    fn mac_key(&self, nonce: &[u8; 8]) -> [u8; MAC_KEY_LEN] {
        let block = self.subkey.block(nonce, 0);
        let mut key = [0u8; MAC_KEY_LEN];
        key.copy_from_slice(&block[..MAC_KEY_LEN]);
        key
    }

    /// Encrypts `buffer` in place and returns the tag to send in front of it.
    pub fn seal(&self, counter: u64, buffer: &mut [u8]) -> [u8; TAG_LEN] {
        let nonce = counter.to_be_bytes();
        let first = self.subkey.xor_from(&nonce, MAC_KEY_LEN, buffer);
        let mut mac_key = [0u8; MAC_KEY_LEN];
        mac_key.copy_from_slice(&first[..MAC_KEY_LEN]);
        poly1305::tag(&mac_key, buffer)
    }

    /// Checks `tag` and decrypts `buffer` in place; `false` (buffer untouched) if the tag is
    /// wrong.
    pub fn open(&self, counter: u64, tag: &[u8], buffer: &mut [u8]) -> bool {
        let nonce = counter.to_be_bytes();
        let expected = poly1305::tag(&self.mac_key(&nonce), buffer);
        // Constant-time comparison: fold all differences before deciding.
        let diff = expected
            .iter()
            .zip(tag.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff != 0 || tag.len() != TAG_LEN {
            return false;
        }
        self.subkey.xor_from(&nonce, MAC_KEY_LEN, buffer);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyPair;
    use crypto_box::aead::Aead;
    use crypto_box::SalsaBox;
    use proptest::prelude::*;

    fn nonce(prefix: &[u8; 16], counter: u64) -> [u8; 24] {
        let mut n = [0u8; 24];
        n[..16].copy_from_slice(prefix);
        n[16..].copy_from_slice(&counter.to_be_bytes());
        n
    }

    proptest! {
        #[test]
        fn same_bytes_as_crypto_box(
            plaintext in proptest::collection::vec(any::<u8>(), 0..600),
            counter in any::<u64>(),
        ) {
            let a = KeyPair::generate();
            let b = KeyPair::generate();
            let prefix = b"CurveZMQMESSAGEC";
            let ours = MessageKey::new(&a.secret, &b.public, prefix);
            let reference = SalsaBox::new(&b.public.to_box_key(), &a.secret.to_box_key());
            let expected = reference
                .encrypt((&nonce(prefix, counter)).into(), &plaintext[..])
                .unwrap();
            let mut buffer = plaintext.clone();
            let tag = ours.seal(counter, &mut buffer);
            prop_assert_eq!(&expected[..TAG_LEN], &tag[..]);
            prop_assert_eq!(&expected[TAG_LEN..], &buffer[..]);

            // The other side opens it with its own key pair's view of the same secret.
            let theirs = MessageKey::new(&b.secret, &a.public, prefix);
            prop_assert!(theirs.open(counter, &tag, &mut buffer));
            prop_assert_eq!(&buffer, &plaintext);
        }
    }

    #[test]
    fn tampering_is_detected() {
        let a = KeyPair::generate();
        let b = KeyPair::generate();
        let key = MessageKey::new(&a.secret, &b.public, b"CurveZMQMESSAGES");
        let mut buffer = b"hello world".to_vec();
        let tag = key.seal(5, &mut buffer);
        let sealed = buffer.clone();
        buffer[3] ^= 1;
        assert!(!key.open(5, &tag, &mut buffer));
        let mut buffer = sealed.clone();
        assert!(!key.open(6, &tag, &mut buffer), "wrong counter");
        let mut buffer = sealed;
        assert!(!key.open(5, &tag[..15], &mut buffer), "short tag");
    }
}

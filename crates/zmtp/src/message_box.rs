//! The XSalsa20-Poly1305 box of CURVE MESSAGE commands, with the per-direction work done once.
//!
//! A MESSAGE nonce is a fixed 16-byte prefix (`CurveZMQMESSAGEC` or `...S`) followed by an
//! 8-byte counter. XSalsa20 first derives a subkey with HSalsa20 from the key and the first 16
//! nonce bytes, which are the same for every message of a direction, so [`MessageKey`] derives
//! that subkey once per connection and each box only runs Salsa20 with the counter as its
//! nonce, plus Poly1305. The result is byte for byte NaCl's `crypto_box_afternm`, which is
//! what libzmq uses (tests compare it with `crypto_box`).

use curve25519_dalek::montgomery::MontgomeryPoint;
use salsa20::cipher::consts::U10;
use salsa20::cipher::generic_array::GenericArray;
use salsa20::cipher::{KeyIvInit, StreamCipher};
use salsa20::Salsa20;

use crate::keys::{PublicKey, SecretKey};
use crate::poly1305;

/// Length of the Poly1305 tag that precedes the ciphertext in a box.
pub const TAG_LEN: usize = 16;

/// Key of one direction of a CURVE connection's MESSAGE traffic.
pub struct MessageKey {
    subkey: salsa20::Key,
}

impl MessageKey {
    /// Key for boxes between `ours` and `theirs` whose nonces start with `prefix`.
    pub fn new(ours: &SecretKey, theirs: &PublicKey, prefix: &[u8; 16]) -> Self {
        // crypto_box_beforenm: HSalsa20 of the X25519 shared secret with a zero input.
        let shared = MontgomeryPoint(*theirs.as_bytes()).mul_clamped(*ours.as_bytes());
        let box_key = salsa20::hsalsa::<U10>(
            GenericArray::from_slice(shared.as_bytes()),
            &GenericArray::default(),
        );
        let subkey = salsa20::hsalsa::<U10>(&box_key, GenericArray::from_slice(prefix));
        MessageKey { subkey }
    }

    /// The stream for `counter`, already past the 32 bytes that key Poly1305.
    fn stream(&self, counter: u64) -> (Salsa20, [u8; 32]) {
        let nonce = counter.to_be_bytes();
        let mut cipher = Salsa20::new(&self.subkey, GenericArray::from_slice(&nonce));
        let mut mac_key = [0u8; 32];
        cipher.apply_keystream(&mut mac_key);
        (cipher, mac_key)
    }

    /// Encrypts `buffer` in place and returns the tag to send in front of it.
    pub fn seal(&self, counter: u64, buffer: &mut [u8]) -> [u8; TAG_LEN] {
        let (mut cipher, mac_key) = self.stream(counter);
        cipher.apply_keystream(buffer);
        poly1305::tag(&mac_key, buffer)
    }

    /// Checks `tag` and decrypts `buffer` in place; `false` (buffer untouched) if the tag is
    /// wrong.
    pub fn open(&self, counter: u64, tag: &[u8], buffer: &mut [u8]) -> bool {
        let (mut cipher, mac_key) = self.stream(counter);
        let expected = poly1305::tag(&mac_key, buffer);
        // Constant-time comparison: fold all differences before deciding.
        let diff = expected
            .iter()
            .zip(tag.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff != 0 || tag.len() != TAG_LEN {
            return false;
        }
        cipher.apply_keystream(buffer);
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

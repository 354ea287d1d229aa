//! The XSalsa20-Poly1305 box of CURVE MESSAGE commands, with the per-direction work done once.
//!
//! A MESSAGE nonce is a fixed 16-byte prefix (`CurveZMQMESSAGEC` or `...S`) followed by an
//! 8-byte counter. XSalsa20 first derives a subkey with HSalsa20 from the key and the first 16
//! nonce bytes, which are the same for every message of a direction, so [`MessageKey`] derives
//! that subkey once per connection (`salsa20::hsalsa`) and each box only runs Salsa20 with the
//! counter as its nonce (`salsa20::SalsaCore`), plus Poly1305 (`poly1305::Poly1305`) keyed with
//! the first 32 keystream bytes; the tag is compared in constant time with `subtle`. All
//! primitives come from the RustCrypto crates; this module only composes them the way NaCl's
//! `crypto_box_afternm` does, which is what libzmq uses (tests compare every box byte for byte
//! with `crypto_box`).
//!
//! Speed: the `poly1305` crate's AVX2 backend spends ~700 ns setting up every message, several
//! times the cost of hashing a short box, so the workspace builds it with its portable backend
//! (`--cfg poly1305_force_soft` in `.cargo/config.toml`; see BENCH.md for the numbers).

use curve25519_dalek::montgomery::MontgomeryPoint;
use poly1305::universal_hash::KeyInit;
use poly1305::Poly1305;
use salsa20::cipher::consts::U10;
use salsa20::cipher::{Block, KeyIvInit, StreamCipherCore};
use salsa20::SalsaCore;
use subtle::ConstantTimeEq;

use crate::keys::{PublicKey, SecretKey};

/// Length of the Poly1305 tag that precedes the ciphertext in a box.
pub const TAG_LEN: usize = 16;

/// Keystream bytes (the first half of block 0) that key Poly1305.
const MAC_KEY_LEN: usize = 32;

/// Key of one direction of a CURVE connection's MESSAGE traffic.
pub struct MessageKey {
    /// HSalsa20(box key, nonce prefix): the Salsa20 key of every box in this direction.
    subkey: salsa20::Key,
}

impl MessageKey {
    /// Key for boxes between `ours` and `theirs` whose nonces start with `prefix`.
    pub fn new(ours: &SecretKey, theirs: &PublicKey, prefix: &[u8; 16]) -> Self {
        // crypto_box_beforenm: HSalsa20 of the X25519 shared secret with a zero input.
        let shared = MontgomeryPoint(*theirs.as_bytes()).mul_clamped(*ours.as_bytes());
        let box_key = salsa20::hsalsa::<U10>(shared.as_bytes().into(), &[0u8; 16].into());
        MessageKey {
            subkey: salsa20::hsalsa::<U10>(&box_key, prefix.into()),
        }
    }

    /// Salsa20 for box `counter` and its keystream block 0, whose first 32 bytes key
    /// Poly1305 and whose last 32 encrypt the start of the message (as in `crypto_secretbox`).
    /// Block-level `SalsaCore` rather than the buffering `Salsa20` wrapper: 5-10 % more CURVE
    /// requests per second in the benchmark (BENCH.md).
    fn first_block(&self, counter: u64) -> (SalsaCore<U10>, Block<SalsaCore<U10>>) {
        let mut core = SalsaCore::<U10>::new(&self.subkey, &counter.to_be_bytes().into());
        let mut block = Block::<SalsaCore<U10>>::default();
        core.write_keystream_block(&mut block);
        (core, block)
    }

    /// XORs `buffer` with the keystream from byte 32 of block 0 on: the rest of `first` by
    /// hand, then blocks 1.. straight from `core`.
    fn apply_keystream(core: SalsaCore<U10>, first: &[u8], buffer: &mut [u8]) {
        let (head, rest) = buffer.split_at_mut(buffer.len().min(MAC_KEY_LEN));
        for (byte, key) in head.iter_mut().zip(&first[MAC_KEY_LEN..]) {
            *byte ^= key;
        }
        core.apply_keystream_partial(rest.into());
    }

    /// Encrypts `buffer` in place and returns the tag to send in front of it.
    pub fn seal(&self, counter: u64, buffer: &mut [u8]) -> [u8; TAG_LEN] {
        let (core, first) = self.first_block(counter);
        Self::apply_keystream(core, &first, buffer);
        Poly1305::new(first[..MAC_KEY_LEN].into())
            .compute_unpadded(buffer)
            .into()
    }

    /// Checks `tag` and decrypts `buffer` in place; `false` (buffer untouched) if the tag is
    /// wrong.
    pub fn open(&self, counter: u64, tag: &[u8], buffer: &mut [u8]) -> bool {
        let (core, first) = self.first_block(counter);
        let expected = Poly1305::new(first[..MAC_KEY_LEN].into()).compute_unpadded(buffer);
        // Constant time for equal lengths; a tag of the wrong length never matches.
        if !bool::from(expected.as_slice().ct_eq(tag)) {
            return false;
        }
        Self::apply_keystream(core, &first, buffer);
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
    fn block_boundaries_match_crypto_box() {
        // The keystream is split at byte 32 of block 0 and then runs in 64-byte blocks.
        let a = KeyPair::generate();
        let b = KeyPair::generate();
        let prefix = b"CurveZMQMESSAGES";
        let ours = MessageKey::new(&a.secret, &b.public, prefix);
        let reference = SalsaBox::new(&b.public.to_box_key(), &a.secret.to_box_key());
        for len in [
            0usize, 1, 31, 32, 33, 63, 64, 65, 95, 96, 97, 159, 160, 161, 4096,
        ] {
            let plaintext: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let expected = reference
                .encrypt((&nonce(prefix, 7)).into(), &plaintext[..])
                .unwrap();
            let mut buffer = plaintext.clone();
            let tag = ours.seal(7, &mut buffer);
            assert_eq!(&expected[..TAG_LEN], &tag[..], "tag, len {len}");
            assert_eq!(&expected[TAG_LEN..], &buffer[..], "ciphertext, len {len}");
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

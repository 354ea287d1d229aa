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
//! (`--cfg poly1305_force_soft` in `.cargo/config.toml`; see BENCH.md for the numbers). Boxes of
//! [`SODIUM_MIN_LEN`] bytes or more run their Salsa20 blocks after block 0 and their Poly1305
//! through libsodium's SSE2/AVX2 code instead ([`crate::sodium`]): same bytes, 1.7x faster
//! at 1 KiB and 3x at 4 KiB; below that length the portable code is the faster one.

use curve25519_dalek::montgomery::MontgomeryPoint;
use poly1305::universal_hash::KeyInit;
use poly1305::Poly1305;
use salsa20::cipher::consts::U10;
use salsa20::cipher::{Block, KeyIvInit, StreamCipherCore};
use salsa20::SalsaCore;
use subtle::ConstantTimeEq;

use crate::keys::{PublicKey, SecretKey};
use crate::sodium;

/// Length of the Poly1305 tag that precedes the ciphertext in a box.
pub const TAG_LEN: usize = 16;

/// Keystream bytes (the first half of block 0) that key Poly1305.
const MAC_KEY_LEN: usize = 32;

/// Boxes at least this long go through libsodium: from here on at least 4 whole keystream
/// blocks follow block 0, enough for its 4-block SSE2 path (8 blocks with AVX2). Shorter ones
/// are faster on the portable code (measured crossover 256-320 bytes, docs/performance.md).
pub const SODIUM_MIN_LEN: usize = MAC_KEY_LEN + 4 * 64;

/// Key of one direction of a CURVE connection's MESSAGE traffic.
pub struct MessageKey {
    /// HSalsa20(box key, nonce prefix): the Salsa20 key of every box in this direction.
    subkey: [u8; 32],
}

/// `crypto_box_beforenm(theirs, ours)`: HSalsa20 of the X25519 shared secret with a zero
/// input, the key of every box between the two key pairs.
pub fn box_key(ours: &SecretKey, theirs: &PublicKey) -> [u8; 32] {
    let shared = MontgomeryPoint(*theirs.as_bytes()).mul_clamped(*ours.as_bytes());
    salsa20::hsalsa::<U10>(shared.as_bytes().into(), &[0u8; 16].into()).into()
}

impl MessageKey {
    /// Key for boxes between `ours` and `theirs` whose nonces start with `prefix`.
    pub fn new(ours: &SecretKey, theirs: &PublicKey, prefix: &[u8; 16]) -> Self {
        Self::from_box_key(&box_key(ours, theirs), prefix)
    }

    /// Key for boxes under the precomputed [`box_key`] whose nonces start with `prefix`.
    pub fn from_box_key(box_key: &[u8; 32], prefix: &[u8; 16]) -> Self {
        sodium::init();
        MessageKey {
            subkey: salsa20::hsalsa::<U10>(box_key.into(), prefix.into()).into(),
        }
    }

    /// Salsa20 for box `counter` and its keystream block 0, whose first 32 bytes key
    /// Poly1305 and whose last 32 encrypt the start of the message (as in `crypto_secretbox`).
    /// Block-level `SalsaCore` rather than the buffering `Salsa20` wrapper: 5-10 % more CURVE
    /// requests per second in the benchmark (BENCH.md).
    fn first_block(&self, counter: u64) -> (SalsaCore<U10>, Block<SalsaCore<U10>>) {
        let mut core = SalsaCore::<U10>::new(&self.subkey.into(), &counter.to_be_bytes().into());
        let mut block = Block::<SalsaCore<U10>>::default();
        core.write_keystream_block(&mut block);
        (core, block)
    }

    /// XORs `buffer` with the keystream from byte 32 of block 0 on: the rest of `first` by
    /// hand, then blocks 1.. from `core`, or from libsodium for a long box.
    fn apply_keystream(&self, counter: u64, core: SalsaCore<U10>, first: &[u8], buffer: &mut [u8]) {
        let long = buffer.len() >= SODIUM_MIN_LEN;
        let (head, rest) = buffer.split_at_mut(buffer.len().min(MAC_KEY_LEN));
        for (byte, key) in head.iter_mut().zip(&first[MAC_KEY_LEN..]) {
            *byte ^= key;
        }
        if long {
            sodium::xor_keystream(&self.subkey, &counter.to_be_bytes(), 1, rest);
        } else {
            core.apply_keystream_partial(rest.into());
        }
    }

    /// Encrypts `buffer` in place and returns the tag to send in front of it.
    pub fn seal(&self, counter: u64, buffer: &mut [u8]) -> [u8; TAG_LEN] {
        let (core, first) = self.first_block(counter);
        self.apply_keystream(counter, core, &first, buffer);
        let mac_key = mac_key(&first);
        if buffer.len() >= SODIUM_MIN_LEN {
            return sodium::poly1305(&mac_key, buffer);
        }
        Poly1305::new(&mac_key.into())
            .compute_unpadded(buffer)
            .into()
    }

    /// Checks `tag` and decrypts `buffer` in place; `false` (buffer untouched) if the tag is
    /// wrong.
    pub fn open(&self, counter: u64, tag: &[u8], buffer: &mut [u8]) -> bool {
        let (core, first) = self.first_block(counter);
        let mac_key = mac_key(&first);
        let authentic = if buffer.len() >= SODIUM_MIN_LEN {
            sodium::poly1305_verify(&mac_key, buffer, tag)
        } else {
            let expected = Poly1305::new(&mac_key.into()).compute_unpadded(buffer);
            // Constant time for equal lengths; a tag of the wrong length never matches.
            bool::from(expected.as_slice().ct_eq(tag))
        };
        if !authentic {
            return false;
        }
        self.apply_keystream(counter, core, &first, buffer);
        true
    }
}

/// The Poly1305 key of a box: the first 32 bytes of its keystream block 0.
fn mac_key(first: &Block<SalsaCore<U10>>) -> [u8; MAC_KEY_LEN] {
    let mut key = [0u8; MAC_KEY_LEN];
    key.copy_from_slice(&first[..MAC_KEY_LEN]);
    key
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
            plaintext in proptest::collection::vec(any::<u8>(), 0..2000),
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
        // Around SODIUM_MIN_LEN the keystream and MAC switch to libsodium; 544 and 800 are
        // where its 4- and 8-block paths start, 1061 a packed 1 KiB request.
        for len in [
            0usize, 1, 31, 32, 33, 63, 64, 65, 95, 96, 97, 159, 160, 161, 287, 288, 289, 543, 544,
            545, 799, 800, 801, 1061, 4096, 65_537,
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

    #[test]
    fn tampering_is_detected_in_long_boxes() {
        // Long boxes are checked by libsodium's Poly1305 (SODIUM_MIN_LEN).
        let a = KeyPair::generate();
        let b = KeyPair::generate();
        let key = MessageKey::new(&a.secret, &b.public, b"CurveZMQMESSAGEC");
        let plaintext = vec![0x5Au8; SODIUM_MIN_LEN + 700];
        let mut buffer = plaintext.clone();
        let tag = key.seal(9, &mut buffer);
        let sealed = buffer.clone();
        for at in [0, 40, SODIUM_MIN_LEN, sealed.len() - 1] {
            let mut buffer = sealed.clone();
            buffer[at] ^= 0x80;
            assert!(!key.open(9, &tag, &mut buffer), "flipped byte {at}");
            assert_eq!(buffer[at], sealed[at] ^ 0x80, "left untouched on failure");
        }
        let mut buffer = sealed.clone();
        assert!(!key.open(9, &tag[..15], &mut buffer), "short tag");
        let mut bad_tag = tag;
        bad_tag[15] ^= 1;
        let mut buffer = sealed.clone();
        assert!(!key.open(9, &bad_tag, &mut buffer), "wrong tag");
        let mut buffer = sealed;
        assert!(key.open(9, &tag, &mut buffer));
        assert_eq!(buffer, plaintext);
    }
}

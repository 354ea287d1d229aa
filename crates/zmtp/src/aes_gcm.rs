//! AES-256-GCM MESSAGE boxes through libsodium, for CURVE connections between our own peers
//! that negotiated `X-Cipher: aes256gcm` (design: docs/wire.md §1.1; negotiation and the
//! choice of cipher: [`crate::message_cipher`]).
//!
//! One [`AesGcmKey`] seals or opens one direction of a connection. Its key changes every
//! [`EPOCH_BOXES`] boxes: key = `crypto_kdf_blake2b_derive_from_key(subkey_id = counter >>
//! 12, ctx = direction label, master = the CURVE session key)`, expanded once per epoch with
//! `crypto_aead_aes256gcm_beforenm` (round keys and powers of H), so a box costs only the
//! AES-NI/PCLMUL pass over its bytes. The 12-byte nonce is 4 zero bytes then the MESSAGE
//! counter, big-endian.
//!
//! `unsafe`: the libsodium calls below are plain C functions that read and write exactly the
//! lengths passed with their pointers. Every pointer comes from a live Rust slice, array or
//! boxed state whose length is the one passed (fixed-size arrays for keys, nonces, tags and
//! the 8-byte context; `crypto_aead_aes256gcm_state` is the 512-byte, 16-byte-aligned struct of
//! the bindings), so no call touches memory we do not own. libsodium documents in-place use
//! (same input and output pointer) of the AEAD functions as supported, keeps no pointer past a
//! call and is safe to call from several threads at once. The AES-NI code must only run on a
//! CPU that has AES-NI and PCLMULQDQ: [`AesGcmKey::new`] refuses to build a key unless
//! [`available`] says so.
#![allow(unsafe_code)]

use libsodium_sys as ffi;

use crate::error::{Result, ZmtpError};
use crate::sodium;

/// Length of a GCM tag.
pub const TAG_LEN: usize = 16;

/// Boxes sealed under one key: the key of box `counter` is the one of epoch
/// `counter >> EPOCH_SHIFT`.
pub const EPOCH_SHIFT: u32 = 12;

/// Boxes per key (4096). With boxes of at most 64 MiB a key seals at most 2^38 bytes, 2^34 AES
/// blocks, inside TLS 1.3's limit for AES-GCM (docs/wire.md §1.1).
pub const EPOCH_BOXES: u64 = 1 << EPOCH_SHIFT;

/// Whether this CPU runs libsodium's AES-256-GCM (AES-NI and PCLMULQDQ on x86-64, the ARMv8
/// crypto extensions on ARM). Without it we never offer the cipher.
pub fn available() -> bool {
    sodium::init();
    // SAFETY: no arguments; it reads the CPU features sodium_init detected.
    unsafe { ffi::crypto_aead_aes256gcm_is_available() == 1 }
}

/// The expanded key of one epoch (round keys and powers of H), boxed: it is 512 bytes.
struct Expanded {
    epoch: u64,
    state: Box<ffi::crypto_aead_aes256gcm_state>,
}

impl Expanded {
    fn new(master: &[u8; 32], context: &[u8; 8], epoch: u64) -> Self {
        let mut key = [0u8; 32];
        // SAFETY: `key` has the 32 bytes written, `context` the 8 bytes of a KDF context and
        // `master` the 32 bytes of a KDF key. It returns -1 only for a subkey length outside
        // 16..=64 bytes, and 32 is inside.
        unsafe {
            ffi::crypto_kdf_blake2b_derive_from_key(
                key.as_mut_ptr(),
                key.len(),
                epoch,
                context.as_ptr().cast(),
                master.as_ptr(),
            );
        }
        let mut state = Box::new(ffi::crypto_aead_aes256gcm_state { opaque: [0; 512] });
        // SAFETY: `state` is a live, aligned state struct of the size libsodium expects (the
        // bindings' type) and `key` has the 32 bytes read. Only called once `available()` was
        // checked ([`AesGcmKey::new`]). It always returns 0.
        unsafe {
            ffi::crypto_aead_aes256gcm_beforenm(&mut *state, key.as_ptr());
        }
        sodium::memzero(&mut key);
        Expanded { epoch, state }
    }
}

impl Drop for Expanded {
    fn drop(&mut self) {
        sodium::memzero(&mut self.state.opaque);
    }
}

/// The 12-byte GCM nonce of box `counter`: 4 zero bytes, then the counter big-endian.
fn nonce(counter: u64) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&counter.to_be_bytes());
    nonce
}

/// AES-256-GCM keys of one direction of a CURVE connection.
pub struct AesGcmKey {
    /// The CURVE session key (`crypto_box_beforenm` of the short-term keys).
    master: [u8; 32],
    /// The direction's KDF context label.
    context: [u8; 8],
    /// The key of the current epoch.
    current: Expanded,
}

impl AesGcmKey {
    /// Keys for the direction labelled `context`, derived from the session key `master`.
    /// Fails when this CPU cannot run libsodium's AES-GCM ([`available`]).
    pub fn new(master: &[u8; 32], context: &[u8; 8]) -> Result<Self> {
        if !available() {
            return Err(ZmtpError::handshake(
                "AES-256-GCM is not available on this CPU",
            ));
        }
        Ok(AesGcmKey {
            master: *master,
            context: *context,
            current: Expanded::new(master, context, 0),
        })
    }

    fn expanded(&self, epoch: u64) -> Expanded {
        Expanded::new(&self.master, &self.context, epoch)
    }

    /// Encrypts `buffer` in place as box `counter` and returns its tag. Fails only for a box
    /// longer than GCM allows (about 64 GiB).
    pub fn seal(&mut self, counter: u64, buffer: &mut [u8]) -> Result<[u8; TAG_LEN]> {
        let epoch = counter >> EPOCH_SHIFT;
        if epoch != self.current.epoch {
            self.current = self.expanded(epoch);
        }
        let mut tag = [0u8; TAG_LEN];
        let data = buffer.as_mut_ptr();
        let nonce = nonce(counter);
        // SAFETY: `data` is valid for reads and writes of `buffer.len()` bytes and in-place use
        // is supported; `tag` has the 16 bytes written, `nonce` the 12 read; no associated
        // data (null, length 0) and no secret nonce (null, unused by libsodium); the state is
        // this epoch's expanded key. It returns -1 (and writes a dummy tag) for a message too
        // long for GCM.
        let status = unsafe {
            ffi::crypto_aead_aes256gcm_encrypt_detached_afternm(
                data,
                tag.as_mut_ptr(),
                std::ptr::null_mut(),
                data,
                buffer.len() as u64,
                std::ptr::null(),
                0,
                std::ptr::null(),
                nonce.as_ptr(),
                &*self.current.state,
            )
        };
        if status != 0 {
            return Err(ZmtpError::protocol(
                "CURVE MESSAGE too long for AES-256-GCM",
            ));
        }
        Ok(tag)
    }

    /// Checks `tag` and decrypts `buffer` in place as box `counter`; `false` if the tag (or its
    /// length) is wrong, in which case `buffer` holds garbage and must be dropped. The caller
    /// checks that counters increase; a valid box of a later epoch moves the key forward.
    pub fn open(&mut self, counter: u64, tag: &[u8], buffer: &mut [u8]) -> bool {
        let Ok(tag) = <&[u8; TAG_LEN]>::try_from(tag) else {
            return false;
        };
        let epoch = counter >> EPOCH_SHIFT;
        let next = (epoch != self.current.epoch).then(|| self.expanded(epoch));
        let state = next.as_ref().unwrap_or(&self.current);
        let data = buffer.as_mut_ptr();
        let nonce = nonce(counter);
        // SAFETY: `data` is valid for reads and writes of `buffer.len()` bytes and in-place use
        // is supported; `tag` has the 16 bytes read, `nonce` the 12; no associated data and no
        // secret nonce (null); `state` is an expanded key. It returns 0 when the tag is
        // valid, -1 otherwise (then it overwrites the output, which we drop).
        let status = unsafe {
            ffi::crypto_aead_aes256gcm_decrypt_detached_afternm(
                data,
                std::ptr::null_mut(),
                data,
                buffer.len() as u64,
                tag.as_ptr(),
                std::ptr::null(),
                0,
                nonce.as_ptr(),
                &*state.state,
            )
        };
        if status != 0 {
            return false;
        }
        if let Some(next) = next {
            self.current = next;
        }
        true
    }
}

impl Drop for AesGcmKey {
    fn drop(&mut self) {
        sodium::memzero(&mut self.master);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Option<(AesGcmKey, AesGcmKey)> {
        if !available() {
            eprintln!("no AES-NI: AES-256-GCM tests skipped");
            return None;
        }
        let master = [42u8; 32];
        Some((
            AesGcmKey::new(&master, b"ZMQGCM-C").unwrap(),
            AesGcmKey::new(&master, b"ZMQGCM-C").unwrap(),
        ))
    }

    #[test]
    fn round_trip_across_epochs_and_lengths() {
        let Some((mut sealer, mut opener)) = keys() else {
            return;
        };
        let counters = [
            3,
            4,
            EPOCH_BOXES - 1,
            EPOCH_BOXES,
            5 * EPOCH_BOXES + 7,
            u64::MAX,
        ];
        for (i, counter) in counters.into_iter().enumerate() {
            let len = [0usize, 1, 15, 16, 17, 1025, 16_384][i % 7];
            let plaintext: Vec<u8> = (0..len).map(|b| b as u8).collect();
            let mut buffer = plaintext.clone();
            let tag = sealer.seal(counter, &mut buffer).unwrap();
            assert!(len == 0 || buffer != plaintext, "encrypted, len {len}");
            assert!(opener.open(counter, &tag, &mut buffer), "counter {counter}");
            assert_eq!(buffer, plaintext);
        }
    }

    #[test]
    fn same_bytes_as_libsodium_combined_api() {
        // The detached, precomputed-key calls give the bytes of the plain combined API.
        let Some((mut sealer, _)) = keys() else {
            return;
        };
        let counter = 2 * EPOCH_BOXES + 9;
        let mut key = [0u8; 32];
        // SAFETY: as in Expanded::new.
        unsafe {
            ffi::crypto_kdf_blake2b_derive_from_key(
                key.as_mut_ptr(),
                32,
                2,
                b"ZMQGCM-C".as_ptr().cast(),
                [42u8; 32].as_ptr(),
            );
        }
        let plaintext = b"the quick brown fox".to_vec();
        let mut expected = vec![0u8; plaintext.len() + TAG_LEN];
        // SAFETY: `expected` has room for ciphertext and tag, the other arrays their sizes.
        unsafe {
            ffi::crypto_aead_aes256gcm_encrypt(
                expected.as_mut_ptr(),
                std::ptr::null_mut(),
                plaintext.as_ptr(),
                plaintext.len() as u64,
                std::ptr::null(),
                0,
                std::ptr::null(),
                nonce(counter).as_ptr(),
                key.as_ptr(),
            );
        }
        let mut buffer = plaintext.clone();
        let tag = sealer.seal(counter, &mut buffer).unwrap();
        assert_eq!(&expected[..plaintext.len()], &buffer[..]);
        assert_eq!(&expected[plaintext.len()..], &tag[..]);
    }

    #[test]
    fn tampering_is_detected() {
        let Some((mut sealer, mut opener)) = keys() else {
            return;
        };
        let plaintext = vec![0x5Au8; 1061];
        let mut sealed = plaintext.clone();
        let tag = sealer.seal(7, &mut sealed).unwrap();
        for at in [0, 16, 500, sealed.len() - 1] {
            let mut buffer = sealed.clone();
            buffer[at] ^= 0x01;
            assert!(!opener.open(7, &tag, &mut buffer), "flipped byte {at}");
        }
        let mut bad_tag = tag;
        bad_tag[15] ^= 0x80;
        assert!(!opener.open(7, &bad_tag, &mut sealed.clone()), "wrong tag");
        assert!(
            !opener.open(7, &tag[..15], &mut sealed.clone()),
            "short tag"
        );
        assert!(!opener.open(8, &tag, &mut sealed.clone()), "other counter");
        let mut truncated = sealed[..sealed.len() - 1].to_vec();
        assert!(!opener.open(7, &tag, &mut truncated), "truncated");
        // A forged box of a later epoch does not move the key forward.
        assert!(!opener.open(EPOCH_BOXES * 3, &tag, &mut sealed.clone()));
        assert_eq!(opener.current.epoch, 0);
        assert!(opener.open(7, &tag, &mut sealed));
        assert_eq!(sealed, plaintext);
    }

    #[test]
    fn directions_and_sessions_have_different_keys() {
        if !available() {
            return;
        }
        let master = [42u8; 32];
        let mut to_server = AesGcmKey::new(&master, b"ZMQGCM-C").unwrap();
        let mut to_client = AesGcmKey::new(&master, b"ZMQGCM-S").unwrap();
        let mut other_session = AesGcmKey::new(&[43u8; 32], b"ZMQGCM-C").unwrap();
        let mut buffer = b"hello".to_vec();
        let tag = to_server.seal(3, &mut buffer).unwrap();
        assert!(!to_client.open(3, &tag, &mut buffer.clone()));
        assert!(!other_session.open(3, &tag, &mut buffer.clone()));
        // The two directions' keystreams differ for the same counter.
        let mut a = vec![0u8; 64];
        let mut b = vec![0u8; 64];
        let _ = AesGcmKey::new(&master, b"ZMQGCM-C")
            .unwrap()
            .seal(9, &mut a)
            .unwrap();
        let _ = to_client.seal(9, &mut b).unwrap();
        assert_ne!(a, b);
    }
}

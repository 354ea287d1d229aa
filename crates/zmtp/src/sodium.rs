//! libsodium's vectorised Salsa20 and Poly1305, used for long CURVE MESSAGE boxes (and its
//! `sodium_memzero` for keys that are dropped).
//!
//! The RustCrypto `salsa20` crate has only a portable backend (one 64-byte block at a time,
//! ~1.4 ns per byte here) and `poly1305` is built portable for the workspace (its AVX2
//! backend's per-message set-up costs more than it saves on short boxes, see
//! `.cargo/config.toml`). With 1 KiB payloads those two were ~65 % of a CURVE benchmark's CPU
//! time. libsodium's Salsa20 runs 4 blocks at once with SSE2 and 8 with AVX2, its Poly1305 uses
//! SSE2, and `sodium_init` picks them for the CPU at run time, so a generic build is fast on
//! every machine. It is only used for boxes long enough to reach its multi-block paths
//! ([`crate::message_box`] decides); short boxes stay on the RustCrypto code, which is faster
//! there. Numbers: docs/performance.md, "CURVE at the speed of NULL".
//!
//! `unsafe`: the libsodium calls below are plain C functions that read and write exactly
//! the lengths passed with their pointers. Every pointer comes from a live Rust slice or array
//! whose length is the one passed (fixed-size arrays for keys, nonces and tags), so no call
//! reads or writes outside memory we own; libsodium documents in-place use (same input and
//! output pointer) of `crypto_stream_salsa20_xor_ic` as supported. libsodium keeps no pointer
//! past a call, and its functions are safe to call from several threads at once.
#![allow(unsafe_code)]

use std::sync::OnceLock;

use libsodium_sys as ffi;

/// Length of a Poly1305 tag.
const TAG_LEN: usize = 16;

/// Runs `sodium_init` once per process. It selects libsodium's SSE2/AVX2 implementations for
/// this CPU; before it (or if it failed) libsodium uses its portable ones, which are correct
/// too, only slower, so a failure is logged and otherwise ignored.
pub fn init() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        // SAFETY: no arguments; libsodium documents sodium_init as thread-safe and idempotent.
        if unsafe { ffi::sodium_init() } < 0 {
            tracing::warn!("sodium_init failed; long CURVE boxes use libsodium's portable code");
        }
    });
}

/// Keystream bytes libsodium's widest path produces at once (8 Salsa20 blocks with AVX2).
const WIDE_CHUNK: usize = 8 * 64;

/// A tail longer than this is XORed with a whole [`WIDE_CHUNK`] of keystream made on the wide
/// path instead of being passed to libsodium, which would run it 4 blocks and then 1 block at
/// a time, each block several times the cost of a block on the wide path.
const NARROW_TAIL_MAX: usize = 2 * 64;

/// XORs `buffer` in place with the Salsa20 keystream of `key` and `nonce`, starting at
/// keystream block `first_block` (as `crypto_stream_salsa20_xor_ic`).
///
/// Whole chunks of 8 blocks go to libsodium in place. A longer tail (a 1 KiB box leaves about 490
/// bytes) is XORed with one more wide chunk of keystream from a stack buffer: making 8 blocks
/// at once and XORing them costs less than the 4-block and 1-block paths libsodium would take.
pub fn xor_keystream(key: &[u8; 32], nonce: &[u8; 8], first_block: u64, buffer: &mut [u8]) {
    let whole = buffer.len() - buffer.len() % WIDE_CHUNK;
    let (bulk, tail) = buffer.split_at_mut(whole);
    xor_keystream_ic(key, nonce, first_block, bulk);
    let tail_block = first_block + (whole / 64) as u64;
    if tail.len() <= NARROW_TAIL_MAX {
        xor_keystream_ic(key, nonce, tail_block, tail);
        return;
    }
    let mut stream = [0u8; WIDE_CHUNK];
    xor_keystream_ic(key, nonce, tail_block, &mut stream);
    for (byte, key) in tail.iter_mut().zip(&stream) {
        *byte ^= key;
    }
}

/// `crypto_stream_salsa20_xor_ic` over `buffer`, in place.
fn xor_keystream_ic(key: &[u8; 32], nonce: &[u8; 8], first_block: u64, buffer: &mut [u8]) {
    if buffer.is_empty() {
        return;
    }
    let len = buffer.len() as u64;
    let data = buffer.as_mut_ptr();
    // SAFETY: `data` is valid for reads and writes of `len` bytes (it is `buffer`), in-place use
    // is documented as supported; `nonce` and `key` are arrays of the 8 and 32 bytes libsodium
    // reads. The function always returns 0.
    unsafe {
        ffi::crypto_stream_salsa20_xor_ic(
            data,
            data,
            len,
            nonce.as_ptr(),
            first_block,
            key.as_ptr(),
        );
    }
}

/// Overwrites `bytes` with zeros in a way the compiler keeps (`sodium_memzero`): for keys that
/// are dropped.
pub fn memzero(bytes: &mut [u8]) {
    // SAFETY: `bytes` is valid for writes of `bytes.len()` bytes.
    unsafe { ffi::sodium_memzero(bytes.as_mut_ptr().cast(), bytes.len()) }
}

/// Poly1305 tag of `data` under the one-time `key`.
pub fn poly1305(key: &[u8; 32], data: &[u8]) -> [u8; TAG_LEN] {
    let mut tag = [0u8; TAG_LEN];
    // SAFETY: `tag` has the 16 bytes libsodium writes, `data` is valid for `data.len()` bytes and
    // `key` has the 32 bytes it reads. The function always returns 0.
    unsafe {
        ffi::crypto_onetimeauth_poly1305(
            tag.as_mut_ptr(),
            data.as_ptr(),
            data.len() as u64,
            key.as_ptr(),
        );
    }
    tag
}

/// Whether `tag` is the Poly1305 tag of `data` under `key`, compared in constant time
/// (`crypto_onetimeauth_poly1305_verify`). A tag of the wrong length never matches.
pub fn poly1305_verify(key: &[u8; 32], data: &[u8], tag: &[u8]) -> bool {
    let Ok(tag) = <&[u8; TAG_LEN]>::try_from(tag) else {
        return false;
    };
    // SAFETY: `tag` has the 16 bytes libsodium reads, `data` is valid for `data.len()` bytes and
    // `key` has 32 bytes. It returns 0 for a match, -1 otherwise.
    let status = unsafe {
        ffi::crypto_onetimeauth_poly1305_verify(
            tag.as_ptr(),
            data.as_ptr(),
            data.len() as u64,
            key.as_ptr(),
        )
    };
    status == 0
}

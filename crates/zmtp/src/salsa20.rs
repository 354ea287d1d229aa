//! Salsa20/20 and HSalsa20 (Bernstein, "Salsa20 specification"; "Extending the Salsa20
//! nonce"), the stream cipher of NaCl boxes.
//!
//! Why our own: MESSAGE boxes are short, and the `salsa20` crate's generic stream wrapper
//! spent ~140 ns per 64-byte block on them, the largest single cost in CURVE profiles once
//! Poly1305 was fixed. This is the plain 32-bit word algorithm, one block at a time; tests
//! compare whole boxes with `crypto_box`.

const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

/// Length of one keystream block.
pub(crate) const BLOCK_LEN: usize = 64;

fn words<const N: usize>(bytes: &[u8]) -> [u32; N] {
    let mut out = [0u32; N];
    for (word, chunk) in out.iter_mut().zip(bytes.chunks_exact(4)) {
        *word = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    out
}

#[inline(always)]
fn quarter(x: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    x[b] ^= x[a].wrapping_add(x[d]).rotate_left(7);
    x[c] ^= x[b].wrapping_add(x[a]).rotate_left(9);
    x[d] ^= x[c].wrapping_add(x[b]).rotate_left(13);
    x[a] ^= x[d].wrapping_add(x[c]).rotate_left(18);
}

/// The 20 rounds (10 column/row double rounds) applied to `x`.
fn rounds(x: &mut [u32; 16]) {
    for _ in 0..10 {
        quarter(x, 0, 4, 8, 12);
        quarter(x, 5, 9, 13, 1);
        quarter(x, 10, 14, 2, 6);
        quarter(x, 15, 3, 7, 11);
        quarter(x, 0, 1, 2, 3);
        quarter(x, 5, 6, 7, 4);
        quarter(x, 10, 11, 8, 9);
        quarter(x, 15, 12, 13, 14);
    }
}

fn state(key: &[u32; 8], middle: [u32; 4]) -> [u32; 16] {
    [
        SIGMA[0], key[0], key[1], key[2], key[3], SIGMA[1], middle[0], middle[1], middle[2],
        middle[3], SIGMA[2], key[4], key[5], key[6], key[7], SIGMA[3],
    ]
}

/// HSalsa20: derives a 32-byte key from `key` and a 16-byte `input`.
pub(crate) fn hsalsa20(key: &[u8; 32], input: &[u8; 16]) -> [u8; 32] {
    let mut x = state(&words(key), words(input));
    rounds(&mut x);
    let mut out = [0u8; 32];
    for (chunk, i) in out.chunks_exact_mut(4).zip([0, 5, 10, 15, 6, 7, 8, 9]) {
        chunk.copy_from_slice(&x[i].to_le_bytes());
    }
    out
}

/// A Salsa20/20 key, kept as words.
#[derive(Clone)]
pub(crate) struct Salsa20Key([u32; 8]);

impl Salsa20Key {
    /// Wraps 32 key bytes.
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        Salsa20Key(words(key))
    }

    /// Keystream block number `block` for the 8-byte `nonce`.
    pub(crate) fn block(&self, nonce: &[u8; 8], block: u64) -> [u8; BLOCK_LEN] {
        let [n0, n1] = words::<2>(nonce);
        let input = state(&self.0, [n0, n1, block as u32, (block >> 32) as u32]);
        let mut x = input;
        rounds(&mut x);
        let mut out = [0u8; BLOCK_LEN];
        for ((chunk, word), start) in out.chunks_exact_mut(4).zip(x).zip(input) {
            chunk.copy_from_slice(&word.wrapping_add(start).to_le_bytes());
        }
        out
    }

    /// XORs `buffer` with the keystream for `nonce` starting `skip` bytes into block 0
    /// (`skip` < 64), and returns the first `skip` keystream bytes' block for the caller.
    pub(crate) fn xor_from(
        &self,
        nonce: &[u8; 8],
        skip: usize,
        buffer: &mut [u8],
    ) -> [u8; BLOCK_LEN] {
        let first = self.block(nonce, 0);
        let (head, rest) = buffer.split_at_mut(buffer.len().min(BLOCK_LEN - skip));
        for (b, k) in head.iter_mut().zip(&first[skip..]) {
            *b ^= k;
        }
        for (i, chunk) in rest.chunks_mut(BLOCK_LEN).enumerate() {
            let stream = self.block(nonce, i as u64 + 1);
            for (b, k) in chunk.iter_mut().zip(stream.iter()) {
                *b ^= k;
            }
        }
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_key_and_nonce_block() {
        // Salsa20/20 with an all-zero key and nonce: the well-known first keystream bytes.
        let block = Salsa20Key::new(&[0u8; 32]).block(&[0u8; 8], 0);
        assert_eq!(
            hex::encode(&block[..16]),
            "9a97f65b9b4c721b960a672145fca8d4"
        );
    }

    #[test]
    fn xor_spans_blocks_like_the_plain_stream() {
        let key = Salsa20Key::new(&[3u8; 32]);
        let nonce = [9u8; 8];
        let mut stream = Vec::new();
        for i in 0..4 {
            stream.extend_from_slice(&key.block(&nonce, i));
        }
        for len in [0usize, 1, 31, 32, 33, 95, 96, 97, 150] {
            let mut buffer = vec![0u8; len];
            let first = key.xor_from(&nonce, 32, &mut buffer);
            assert_eq!(&first[..], &stream[..64]);
            assert_eq!(&buffer[..], &stream[32..32 + len], "len {len}");
        }
    }
}

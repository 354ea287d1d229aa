//! One-shot Poly1305 (RFC 8439 §2.5) for the short MESSAGE boxes of CURVE.
//!
//! Why our own: the `poly1305` crate picks its AVX2 backend at run time, whose per-message
//! set-up (powers of r) costs more than the whole computation for the 30-200 byte boxes a
//! request/reply exchange seals, and it dominated CURVE profiles. This is the plain scalar
//! algorithm with three 44/44/42-bit limbs and 128-bit products; tests check it against the
//! RFC vector and, through whole boxes, against `crypto_secretbox`.

const MASK44: u64 = (1 << 44) - 1;
const MASK42: u64 = (1 << 42) - 1;

fn le64(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(word)
}

/// The 16-byte tag of `message` under the one-time key `key` (r || s).
pub(crate) fn tag(key: &[u8; 32], message: &[u8]) -> [u8; 16] {
    // r, clamped, split into limbs of 44, 44 and 42 bits.
    let t0 = le64(&key[0..8]);
    let t1 = le64(&key[8..16]);
    let r0 = t0 & 0xffc_0fff_ffff;
    let r1 = ((t0 >> 44) | (t1 << 20)) & 0xfff_ffc0_ffff;
    let r2 = (t1 >> 24) & 0x00f_ffff_fc0f;
    // 2^130 = 5 (mod p); a product landing at bit 132 wraps around times 4 * 5.
    let s1 = r1 * 20;
    let s2 = r2 * 20;
    let (mut h0, mut h1, mut h2) = (0u64, 0u64, 0u64);

    let mut block = |chunk: &[u8; 16], high_bit: u64| {
        let m0 = le64(&chunk[0..8]);
        let m1 = le64(&chunk[8..16]);
        h0 += m0 & MASK44;
        h1 += ((m0 >> 44) | (m1 << 20)) & MASK44;
        h2 += ((m1 >> 24) & MASK42) | high_bit;
        let (h0w, h1w, h2w) = (u128::from(h0), u128::from(h1), u128::from(h2));
        let d0 = h0w * u128::from(r0) + h1w * u128::from(s2) + h2w * u128::from(s1);
        let mut d1 = h0w * u128::from(r1) + h1w * u128::from(r0) + h2w * u128::from(s2);
        let mut d2 = h0w * u128::from(r2) + h1w * u128::from(r1) + h2w * u128::from(r0);
        let mut carry = d0 >> 44;
        h0 = (d0 as u64) & MASK44;
        d1 += carry;
        carry = d1 >> 44;
        h1 = (d1 as u64) & MASK44;
        d2 += carry;
        let c = (d2 >> 42) as u64;
        h2 = (d2 as u64) & MASK42;
        h0 += c * 5;
        let c = h0 >> 44;
        h0 &= MASK44;
        h1 += c;
    };

    let mut chunks = message.chunks_exact(16);
    for chunk in &mut chunks {
        let mut full = [0u8; 16];
        full.copy_from_slice(chunk);
        block(&full, 1 << 40);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 16];
        last[..rest.len()].copy_from_slice(rest);
        last[rest.len()] = 1;
        block(&last, 0);
    }

    // Full carry, then subtract p if h >= p (constant time).
    let mut c = h1 >> 44;
    h1 &= MASK44;
    h2 += c;
    c = h2 >> 42;
    h2 &= MASK42;
    h0 += c * 5;
    c = h0 >> 44;
    h0 &= MASK44;
    h1 += c;
    c = h1 >> 44;
    h1 &= MASK44;
    h2 += c;
    c = h2 >> 42;
    h2 &= MASK42;
    h0 += c * 5;
    c = h0 >> 44;
    h0 &= MASK44;
    h1 += c;

    let mut g0 = h0 + 5;
    c = g0 >> 44;
    g0 &= MASK44;
    let mut g1 = h1 + c;
    c = g1 >> 44;
    g1 &= MASK44;
    let g2 = (h2 + c).wrapping_sub(1 << 42);
    // All ones when g2 did not go negative, i.e. h + 5 >= 2^130: take g.
    let take_g = (g2 >> 63).wrapping_sub(1);
    h0 = (h0 & !take_g) | (g0 & take_g);
    h1 = (h1 & !take_g) | (g1 & take_g);
    h2 = (h2 & !take_g) | (g2 & take_g);

    // h + s mod 2^128.
    let s0 = le64(&key[16..24]);
    let s1 = le64(&key[24..32]);
    h0 += s0 & MASK44;
    c = h0 >> 44;
    h0 &= MASK44;
    h1 += (((s0 >> 44) | (s1 << 20)) & MASK44) + c;
    c = h1 >> 44;
    h1 &= MASK44;
    h2 += ((s1 >> 24) & MASK42) + c;
    h2 &= MASK42;
    let lo = h0 | (h1 << 44);
    let hi = (h1 >> 20) | (h2 << 24);

    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&lo.to_le_bytes());
    out[8..].copy_from_slice(&hi.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8439_vector() {
        let key = hex::decode("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b")
            .unwrap();
        let key: [u8; 32] = key.try_into().unwrap();
        let tag = tag(&key, b"Cryptographic Forum Research Group");
        assert_eq!(hex::encode(tag), "a8061dc1305136c6c22b8baf0c0127a9");
    }

    #[test]
    fn empty_message_is_s() {
        let mut key = [0u8; 32];
        key[16..].copy_from_slice(&[7u8; 16]);
        assert_eq!(tag(&key, b""), [7u8; 16]);
    }
}

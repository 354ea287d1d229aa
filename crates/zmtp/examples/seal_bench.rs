//! Micro benchmark of one CURVE MESSAGE box: RFC 26's XSalsa20-Poly1305 (`message_box.rs`)
//! against AES-256-GCM (`aes_gcm.rs`, libsodium with a precomputed key schedule), seal and
//! open, for several box lengths.
//!
//! ```text
//! cargo run --release -p zmtp --example seal_bench -- [iterations]
//! ```
//! Each figure is the fastest of 5 rounds of `iterations` boxes (default 100000), wall time per
//! box: the minimum is the figure least disturbed by other load on the machine. Opening
//! includes copying the sealed box into the buffer first (it is decrypted in place), for both.

use std::time::Instant;

use zmtp::aes_gcm::{self, AesGcmKey};
use zmtp::keys::KeyPair;
use zmtp::message_box::{self, MessageKey};

/// Fastest of 5 rounds of `iterations` calls of `step(counter)`, in ns per call.
fn fastest(iterations: u64, mut step: impl FnMut(u64)) -> f64 {
    (0..5)
        .map(|round| {
            let start = Instant::now();
            for i in 0..iterations {
                step(round * iterations + i + 1);
            }
            start.elapsed().as_nanos() as f64 / iterations as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let iterations: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let a = KeyPair::generate();
    let b = KeyPair::generate();
    let box_key = message_box::box_key(&a.secret, &b.public);
    let salsa = MessageKey::from_box_key(&box_key, b"CurveZMQMESSAGEC");
    if !aes_gcm::available() {
        println!("this CPU has no AES-NI/PCLMUL: libsodium's AES-256-GCM is not available");
        return;
    }
    let Ok(mut aes) = AesGcmKey::new(&box_key, b"ZMQGCM-C") else {
        return;
    };
    println!(
        "{:>6}  {:>12} {:>12}  {:>12} {:>12}  {:>8}",
        "bytes", "xsalsa seal", "xsalsa open", "aes seal", "aes open", "speed-up"
    );
    for len in [100usize, 1024, 4096, 16384] {
        let mut buffer = vec![0x5Au8; len];
        let mut sink = 0u8;
        let salsa_seal = fastest(iterations, |counter| {
            sink ^= salsa.seal(counter, &mut buffer)[0];
        });
        let mut sealed = buffer.clone();
        let tag = salsa.seal(1, &mut sealed);
        let salsa_open = fastest(iterations, |_| {
            // A fresh copy of the box every time (opening decrypts in place).
            buffer.copy_from_slice(&sealed);
            sink ^= u8::from(salsa.open(1, &tag, &mut buffer));
        });
        let aes_seal = fastest(iterations, |counter| {
            if let Ok(tag) = aes.seal(counter, &mut buffer) {
                sink ^= tag[0];
            }
        });
        let mut sealed = buffer.clone();
        let tag = aes.seal(1, &mut sealed).unwrap_or_default();
        let aes_open = fastest(iterations, |_| {
            buffer.copy_from_slice(&sealed);
            sink ^= u8::from(aes.open(1, &tag, &mut buffer));
        });
        println!(
            "{len:>6}  {salsa_seal:>9.0} ns {salsa_open:>9.0} ns  {aes_seal:>9.0} ns {aes_open:>9.0} ns  {:>7.1}x   ({:.2} vs {:.2} ns/byte sealed) [{sink}]",
            (salsa_seal + salsa_open) / (aes_seal + aes_open),
            salsa_seal / len as f64,
            aes_seal / len as f64,
        );
    }
}

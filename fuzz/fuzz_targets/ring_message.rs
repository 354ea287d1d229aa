#![no_main]
//! cargo-fuzz driver for `dendrite_fuzzing::ring_message::ring_message` (the body and its properties live there).

libfuzzer_sys::fuzz_target!(|data: &[u8]| dendrite_fuzzing::ring_message::ring_message(data));

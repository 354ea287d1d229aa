#![no_main]
//! cargo-fuzz driver for `dendrite_fuzzing::zmtp_targets::curve_server` (the body and its properties live there).

libfuzzer_sys::fuzz_target!(|data: &[u8]| dendrite_fuzzing::zmtp_targets::curve_server(data));

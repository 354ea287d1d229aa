#![no_main]
//! cargo-fuzz driver for `dendrite_fuzzing::log_format::log_format` (the body and its properties live there).

libfuzzer_sys::fuzz_target!(|data: &[u8]| dendrite_fuzzing::log_format::log_format(data));

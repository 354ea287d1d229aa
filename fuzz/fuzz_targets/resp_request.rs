#![no_main]
//! cargo-fuzz driver for `dendrite_fuzzing::resp_request::resp_request` (the body and its properties live there).

libfuzzer_sys::fuzz_target!(|data: &[u8]| dendrite_fuzzing::resp_request::resp_request(data));

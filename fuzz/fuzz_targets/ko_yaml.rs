//! cargo-fuzz target: see `kiln_fuzz::ko_yaml`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kiln_fuzz::ko_yaml(data));

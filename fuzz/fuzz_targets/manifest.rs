//! cargo-fuzz target: see `kiln_fuzz::manifest`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kiln_fuzz::manifest(data));

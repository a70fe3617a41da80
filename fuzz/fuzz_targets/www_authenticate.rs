//! cargo-fuzz target: see `kiln_fuzz::www_authenticate`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kiln_fuzz::www_authenticate(data));

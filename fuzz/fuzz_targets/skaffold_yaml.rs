//! cargo-fuzz target: see `kiln_fuzz::skaffold_yaml`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kiln_fuzz::skaffold_yaml(data));

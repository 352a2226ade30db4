//! Fuzz target: see `perpspread::fuzz::config_files`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| perpspread::fuzz::config_files(data));

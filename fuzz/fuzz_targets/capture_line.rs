//! Fuzz target: see `perpspread_stream::fuzz::capture_bytes`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| perpspread_stream::fuzz::capture_bytes(data));

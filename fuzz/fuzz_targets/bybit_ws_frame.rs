//! Fuzz target: see `perpspread_stream::fuzz::bybit_frames`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| perpspread_stream::fuzz::bybit_frames(data));

//! Fuzz target: see `perpspread_stream::fuzz::rest_bodies`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| perpspread_stream::fuzz::rest_bodies(data));

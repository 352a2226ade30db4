//! OKX v5 adapter: wire messages, symbol rules, REST market data and the book checksum.
//!
//! OKX quotes swap sizes in **contracts**: one contract of `BTC-USDT-SWAP` is `ctVal × ctMult` BTC.
//! Prices are per one unit of the base asset. Inverse swaps (`BTC-USD-SWAP`, `ctType = inverse`) are
//! listed but never paired with linear contracts.

pub mod account;
pub mod adapter;
pub mod checksum;
pub mod feed;
pub mod messages;
pub mod rest;
pub mod symbols;
pub mod ws;

pub use adapter::OkxAdapter;
pub use rest::{OkxRest, DEFAULT_REST_URL};

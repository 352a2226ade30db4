//! Binance USDⓈ-M futures adapter: wire messages, symbol rules and REST market data.
//!
//! Binance quotes sizes in base units, except for `1000`-prefixed symbols (`1000PEPEUSDT`,
//! `1000000MOGUSDT`, `1MBABYDOGEUSDT`) whose price and size both refer to 1000 (or 10^6) base units.

pub mod account;
pub mod adapter;
pub mod feed;
pub mod messages;
pub mod rest;
pub mod symbols;
pub mod ws;

pub use adapter::BinanceAdapter;
pub use rest::{BinanceRest, DEFAULT_REST_URL};

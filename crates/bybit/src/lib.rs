//! Bybit v5 adapter (linear perpetuals, USDT and USDC): wire messages, symbol rules, REST market data, the
//! WebSocket protocol and the sans-IO book feed.
//!
//! Bybit quotes linear sizes and prices in the base coin, except for scaled coins (`1000PEPEUSDT`,
//! `10000SATSUSDT`, `SHIB1000USDT`) whose price and size refer to 1000 (or 10 000, …) coins.

pub mod account;
pub mod adapter;
pub mod feed;
pub mod messages;
pub mod rest;
pub mod symbols;
pub mod ws;

pub use adapter::BybitAdapter;
pub use rest::{BybitRest, DEFAULT_REST_URL};

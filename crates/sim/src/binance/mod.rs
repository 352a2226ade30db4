//! The Binance USDⓈ-M futures side of the simulator: `/fapi` REST with request weights, and the market
//! streams WebSocket.

pub mod rest;
pub mod weight;
pub mod ws;

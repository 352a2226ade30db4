//! The Bybit v5 side of the simulator (linear perpetuals): public REST and the public linear WebSocket.

pub mod rest;
pub mod ws;

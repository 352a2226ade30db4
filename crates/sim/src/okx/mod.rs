//! The OKX v5 side of the simulator: public REST and the public WebSocket.

pub mod rest;
pub mod ws;

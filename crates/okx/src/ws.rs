//! OKX public WebSocket protocol: subscribe messages, heartbeat and limits.

use std::time::Duration;

use perpspread_core::Venue;
use perpspread_net::ws::WsVenue;
use serde_json::json;

/// The real OKX public WebSocket endpoint.
pub const DEFAULT_WS_URL: &str = "wss://ws.okx.com:8443/ws/v5/public";

/// Channel arguments per subscribe request (keeps each request far below OKX's 64 KB limit).
const ARGS_PER_REQUEST: usize = 50;

/// Connection settings for OKX's public channels.
#[derive(Debug, Clone)]
pub struct OkxWs {
    pub url: String,
    /// Book channel: `books` (400 levels, incremental), `books5` or `bbo-tbt`.
    pub book_channel: String,
    /// Also subscribe `funding-rate` for each instrument.
    pub funding: bool,
    /// Send `ping` after this much silence (OKX closes idle connections after 30 s).
    pub heartbeat_after: Duration,
    /// Reconnect after this much silence (a `pong` should have arrived long before).
    pub stall_timeout: Duration,
}

impl OkxWs {
    /// Defaults for the real venue.
    pub fn new(url: impl Into<String>) -> Self {
        OkxWs {
            url: url.into(),
            book_channel: "books".into(),
            funding: false,
            heartbeat_after: Duration::from_secs(25),
            stall_timeout: Duration::from_secs(30),
        }
    }

    fn requests(&self, op: &str, symbols: &[String]) -> Vec<String> {
        let mut args = Vec::new();
        for symbol in symbols {
            args.push(json!({"channel": self.book_channel, "instId": symbol}));
            if self.funding {
                args.push(json!({"channel": "funding-rate", "instId": symbol}));
            }
        }
        args.chunks(ARGS_PER_REQUEST).map(|chunk| json!({"op": op, "args": chunk}).to_string()).collect()
    }
}

impl WsVenue for OkxWs {
    fn venue(&self) -> Venue {
        Venue::Okx
    }
    fn url(&self) -> String {
        self.url.clone()
    }
    fn subscribe(&self, symbols: &[String]) -> Vec<String> {
        self.requests("subscribe", symbols)
    }
    fn unsubscribe(&self, symbols: &[String]) -> Vec<String> {
        self.requests("unsubscribe", symbols)
    }
    fn heartbeat(&self) -> Option<&'static str> {
        Some("ping")
    }
    fn heartbeat_after(&self) -> Duration {
        self.heartbeat_after
    }
    fn stall_timeout(&self) -> Duration {
        self.stall_timeout
    }
    fn max_lifetime(&self) -> Option<Duration> {
        None
    }
    fn outgoing_per_second(&self) -> u32 {
        // OKX allows 480 subscribe/unsubscribe requests per hour per connection and 3 connects/s per IP.
        3
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_subscriptions() {
        let ws = OkxWs::new(DEFAULT_WS_URL);
        let symbols: Vec<String> = (0..120).map(|i| format!("C{i}-USDT-SWAP")).collect();
        let requests = ws.subscribe(&symbols);
        assert_eq!(requests.len(), 3);
        let first: serde_json::Value = serde_json::from_str(&requests[0]).unwrap();
        assert_eq!(first["op"], "subscribe");
        assert_eq!(first["args"][0], json!({"channel": "books", "instId": "C0-USDT-SWAP"}));
        assert_eq!(first["args"].as_array().unwrap().len(), 50);
        assert!(ws.unsubscribe(&symbols[..1])[0].contains("\"unsubscribe\""));
    }
}

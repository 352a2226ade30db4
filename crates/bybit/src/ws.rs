//! Bybit v5 public linear WebSocket protocol: `orderbook.{depth}.{symbol}` and `tickers.{symbol}`
//! subscriptions, `{"op":"ping"}` heartbeats, and the venue's limits.
//!
//! Followed: Bybit V5 "WebSocket Stream → Connect", "Authentication → Public channel args limits" and
//! "Orderbook" (Bybit docs repository of 2026-07-24, read 2026-12-07): endpoint
//! `wss://stream.bybit.com/v5/public/linear`; send a ping every 20 s; the `args` of one public connection may
//! total at most 21,000 characters (the 10-args-per-request cap is Spot's; linear has none, and 10 a request
//! is kept as a courtesy); linear order book depths 1 (10 ms), 50 (20 ms), 200 (100 ms) and 1000 (200 ms); at
//! most 500 new connections per 5 minutes per IP.

use std::sync::Arc;
use std::time::Duration;

use perpspread_core::health::StreamKind;
use perpspread_core::Venue;
use perpspread_net::limiter::RateLimiter;
use perpspread_net::ws::{Keepalive, WsVenue};
use serde_json::json;

/// The real public linear endpoint.
pub const DEFAULT_WS_URL: &str = "wss://stream.bybit.com/v5/public/linear";

/// Order book depths of the linear streams.
pub(crate) const BOOK_DEPTHS: [u32; 4] = [1, 50, 200, 1000];

/// Topics in one subscribe request (linear has no documented cap; Spot's 10 is kept).
pub const ARGS_PER_REQUEST: usize = 10;

/// Characters the `args` of one public connection may total.
pub const MAX_ARGS_CHARS_PER_CONNECTION: usize = 21_000;

/// Instruments per connection (two topics each): within [`MAX_ARGS_CHARS_PER_CONNECTION`] for the longest
/// symbols (see the tests).
pub(crate) const SYMBOLS_PER_CONNECTION: usize = 100;

/// The heartbeat Bybit expects (`{"op":"ping"}`; the answer is `{"op":"pong",…}` or `"ret_msg":"pong"`).
pub const PING: &str = r#"{"op":"ping"}"#;

/// Bybit public linear channels for a set of instruments.
#[derive(Debug, Clone)]
pub(crate) struct BybitWs {
    pub url: String,
    /// Order book depth: 1, 50 (default), 200 or 1000.
    pub book_depth: u32,
    /// Also subscribe `tickers.{symbol}` (funding rate, next funding time and interval).
    pub funding: bool,
    /// The JSON ping every 20 s (Bybit's recommendation); reconnect after 30 s of silence.
    pub keepalive: Keepalive,
    /// Shared by every connection made with these settings (Bybit counts connections per IP).
    connects: Arc<RateLimiter>,
}

impl BybitWs {
    /// Defaults for the real venue.
    pub(crate) fn new(url: impl Into<String>) -> Self {
        BybitWs {
            url: url.into(),
            book_depth: 50,
            funding: false,
            keepalive: Keepalive {
                heartbeat: Some(PING),
                heartbeat_after: Duration::from_secs(20),
                stall_timeout: Duration::from_secs(30),
                max_lifetime: None,
            },
            // 500 per 5 minutes, spent as a burst of 10 then one every 0.6 s.
            connects: Arc::new(RateLimiter::new(10, Duration::from_secs(6))),
        }
    }

    fn topics(&self, symbols: &[String]) -> Vec<String> {
        let mut topics = Vec::with_capacity(symbols.len() * 2);
        for symbol in symbols {
            topics.push(format!("orderbook.{}.{symbol}", self.book_depth));
            if self.funding {
                topics.push(format!("tickers.{symbol}"));
            }
        }
        topics
    }

    fn requests(&self, op: &str, symbols: &[String]) -> Vec<String> {
        let topics = self.topics(symbols);
        topics.chunks(ARGS_PER_REQUEST).map(|chunk| json!({"op": op, "args": chunk}).to_string()).collect()
    }
}

impl WsVenue for BybitWs {
    fn venue(&self) -> Venue {
        Venue::Bybit
    }
    fn url(&self) -> String {
        self.url.clone()
    }
    fn stream_kinds(&self) -> Vec<StreamKind> {
        let mut kinds = vec![StreamKind::Book];
        if self.funding {
            kinds.push(StreamKind::Funding);
        }
        kinds
    }
    fn normal_quiet(&self, kind: StreamKind) -> Duration {
        match kind {
            // An unchanged book sends nothing; tickers push every 100 ms while anything moves.
            StreamKind::Book => Duration::from_secs(60),
            StreamKind::Funding => Duration::from_secs(60),
        }
    }
    fn symbols_per_connection(&self) -> usize {
        SYMBOLS_PER_CONNECTION
    }
    fn subscribe(&self, symbols: &[String]) -> Vec<String> {
        self.requests("subscribe", symbols)
    }
    fn unsubscribe(&self, symbols: &[String]) -> Vec<String> {
        self.requests("unsubscribe", symbols)
    }
    fn keepalive(&self) -> Keepalive {
        self.keepalive
    }
    fn outgoing_per_second(&self) -> u32 {
        10
    }
    fn connect_limiter(&self) -> Option<&RateLimiter> {
        Some(&self.connects)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_are_batched_ten_topics_a_request() {
        let mut ws = BybitWs::new(DEFAULT_WS_URL);
        ws.funding = true;
        let symbols: Vec<String> = (0..7).map(|i| format!("S{i}USDT")).collect();
        let requests = ws.subscribe(&symbols);
        assert_eq!(requests.len(), 2, "14 topics: 10 + 4");
        let first: serde_json::Value = serde_json::from_str(&requests[0]).unwrap();
        assert_eq!(first["op"], "subscribe");
        assert_eq!(first["args"][0], "orderbook.50.S0USDT");
        assert_eq!(first["args"][1], "tickers.S0USDT");
        assert_eq!(first["args"].as_array().unwrap().len(), ARGS_PER_REQUEST);
        assert!(ws.unsubscribe(&symbols[..1])[0].contains(r#""op":"unsubscribe""#));
        assert_eq!(ws.stream_kinds(), [StreamKind::Book, StreamKind::Funding]);
        assert_eq!(ws.keepalive().heartbeat, Some(r#"{"op":"ping"}"#));
    }

    /// A full connection of the longest symbols on the deepest book keeps its args under Bybit's budget.
    #[test]
    fn a_full_connection_fits_the_args_budget() {
        let mut ws = BybitWs::new(DEFAULT_WS_URL);
        ws.funding = true;
        ws.book_depth = 1000;
        let symbols: Vec<String> = (0..SYMBOLS_PER_CONNECTION).map(|i| format!("1000000BABYDOGE{i:03}USDT")).collect();
        let chars: usize = ws
            .subscribe(&symbols)
            .iter()
            .map(|request| serde_json::from_str::<serde_json::Value>(request).unwrap())
            .flat_map(|request| request["args"].as_array().unwrap().clone())
            .map(|topic| topic.as_str().unwrap().len())
            .sum();
        assert!(chars < MAX_ARGS_CHARS_PER_CONNECTION, "{chars}");
    }
}

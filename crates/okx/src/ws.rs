//! OKX public WebSocket protocol: subscribe messages, heartbeat and limits.
//!
//! Followed: OKX v5 docs "WebSocket → Connect / Subscribe" and "Order book channel" (updated 2026-09-08),
//! read 2026-12-06: new connections at most 3 per second per IP; at most 480 subscribe/unsubscribe/login
//! requests per hour per connection; a connection with nothing pushed for 30 s is closed (send the text
//! `ping` before, expect `pong`); fewer than 30 channels of 50/400 depth levels per connection recommended;
//! a subscribe request at most 64 KB.

use std::sync::Arc;
use std::time::Duration;

use perpspread_core::health::StreamKind;
use perpspread_core::Venue;
use perpspread_net::limiter::RateLimiter;
use perpspread_net::ws::{Keepalive, RequestBudget, WsVenue};
use serde_json::json;

/// The real OKX public WebSocket endpoint.
pub const DEFAULT_WS_URL: &str = "wss://ws.okx.com:8443/ws/v5/public";

/// Channel arguments per subscribe request (keeps each request far below OKX's 64 KB limit).
const ARGS_PER_REQUEST: usize = 50;

/// Instruments per connection: OKX recommends fewer than 30 channels of 50/400 depth levels per connection.
pub(crate) const BOOKS_PER_CONNECTION: usize = 25;

/// New connections allowed per second per IP.
pub const CONNECTS_PER_SECOND: u32 = 3;

/// Subscribe/unsubscribe/login requests allowed per hour per connection.
pub(crate) const REQUESTS_PER_HOUR: u32 = 480;

/// Connection settings for OKX's public channels.
#[derive(Debug, Clone)]
pub struct OkxWs {
    pub url: String,
    /// Book channel: `books` (400 levels, incremental), `books5` or `bbo-tbt`.
    pub book_channel: String,
    /// Also subscribe `funding-rate` for each instrument.
    pub funding: bool,
    /// `ping` after 25 s of silence (OKX closes idle connections after 30 s); reconnect after 30 s of silence
    /// (a `pong` should have arrived long before).
    pub keepalive: Keepalive,
    /// Subscribe/unsubscribe requests allowed per connection per hour ([`REQUESTS_PER_HOUR`]).
    pub requests_per_hour: u32,
    /// How long a healthy `books` subscription may be quiet: an unchanged book gets a keep-alive about every
    /// 60 s.
    pub quiet_books: Duration,
    /// How long a healthy `funding-rate` subscription may be quiet: OKX pushes it every 30 to 90 s.
    pub quiet_funding: Duration,
    /// Shared by every connection made with these settings (OKX counts connection attempts per IP).
    connects: Arc<RateLimiter>,
}

impl OkxWs {
    /// Defaults for the real venue.
    pub fn new(url: impl Into<String>) -> Self {
        OkxWs {
            url: url.into(),
            book_channel: "books".into(),
            funding: false,
            keepalive: Keepalive {
                heartbeat: Some("ping"),
                heartbeat_after: Duration::from_secs(25),
                stall_timeout: Duration::from_secs(30),
                max_lifetime: None,
            },
            requests_per_hour: REQUESTS_PER_HOUR,
            quiet_books: Duration::from_secs(90),
            quiet_funding: Duration::from_secs(120),
            connects: Arc::new(connect_limiter()),
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

/// One connection attempt per 400 ms: never more than [`CONNECTS_PER_SECOND`] in any one-second window (a
/// bucket of three would allow a fourth within the same second once it refills).
fn connect_limiter() -> RateLimiter {
    RateLimiter::new(1, Duration::from_millis(400))
}

impl WsVenue for OkxWs {
    fn venue(&self) -> Venue {
        Venue::Okx
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
    fn symbols_per_connection(&self) -> usize {
        BOOKS_PER_CONNECTION
    }
    fn normal_quiet(&self, kind: StreamKind) -> Duration {
        match kind {
            StreamKind::Book => self.quiet_books,
            StreamKind::Funding => self.quiet_funding,
        }
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
        3
    }
    fn connect_limiter(&self) -> Option<&RateLimiter> {
        Some(&self.connects)
    }
    fn request_budget(&self) -> Option<RequestBudget> {
        // Keep a margin of 4 % for the subscription requests of a reconnect's new session.
        let margin = self.requests_per_hour / 25;
        Some(RequestBudget { requests: self.requests_per_hour - margin, window: Duration::from_secs(3600) })
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

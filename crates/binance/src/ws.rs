//! Binance USDⓈ-M WebSocket protocol: combined streams, runtime SUBSCRIBE, limits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use perpspread_core::Venue;
use perpspread_net::ws::WsVenue;
use serde_json::json;

/// The real Binance USDⓈ-M combined-stream endpoint.
pub const DEFAULT_WS_URL: &str = "wss://fstream.binance.com/stream";

/// Streams per connection (Binance allows more; perpspread shards at 200).
pub const STREAMS_PER_CONNECTION: usize = 200;

/// Streams per SUBSCRIBE request.
const STREAMS_PER_REQUEST: usize = 100;

/// Connection settings for Binance USDⓈ-M market streams.
#[derive(Debug)]
pub struct BinanceWs {
    pub url: String,
    /// Diff-depth update speed suffix: `@100ms` (default), `@0ms`, `@500ms` or empty for 250 ms.
    pub depth_speed: String,
    /// Also subscribe `<symbol>@bookTicker`.
    pub book_ticker: bool,
    /// Also subscribe `<symbol>@markPrice@1s` (funding).
    pub mark_price: bool,
    /// Reconnect after this much silence.
    pub stall_timeout: Duration,
    /// Reconnect before Binance's 24-hour connection limit.
    pub max_lifetime: Duration,
    next_id: AtomicU64,
}

impl BinanceWs {
    /// Defaults for the real venue.
    pub fn new(url: impl Into<String>) -> Self {
        BinanceWs {
            url: url.into(),
            depth_speed: "@100ms".into(),
            book_ticker: false,
            mark_price: false,
            stall_timeout: Duration::from_secs(30),
            max_lifetime: Duration::from_secs(23 * 3600 + 50 * 60),
            next_id: AtomicU64::new(1),
        }
    }

    /// Stream names of one symbol.
    pub fn streams(&self, symbol: &str) -> Vec<String> {
        let lower = symbol.to_ascii_lowercase();
        let mut streams = vec![format!("{lower}@depth{}", self.depth_speed)];
        if self.book_ticker {
            streams.push(format!("{lower}@bookTicker"));
        }
        if self.mark_price {
            streams.push(format!("{lower}@markPrice@1s"));
        }
        streams
    }

    /// Symbols per connection so that no connection exceeds [`STREAMS_PER_CONNECTION`].
    pub fn symbols_per_connection(&self) -> usize {
        (STREAMS_PER_CONNECTION / self.streams("x").len()).max(1)
    }

    fn requests(&self, method: &str, symbols: &[String]) -> Vec<String> {
        let streams: Vec<String> = symbols.iter().flat_map(|s| self.streams(s)).collect();
        streams
            .chunks(STREAMS_PER_REQUEST)
            .map(|chunk| {
                let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                json!({"method": method, "params": chunk, "id": id}).to_string()
            })
            .collect()
    }
}

impl WsVenue for BinanceWs {
    fn venue(&self) -> Venue {
        Venue::Binance
    }
    fn url(&self) -> String {
        self.url.clone()
    }
    fn subscribe(&self, symbols: &[String]) -> Vec<String> {
        self.requests("SUBSCRIBE", symbols)
    }
    fn unsubscribe(&self, symbols: &[String]) -> Vec<String> {
        self.requests("UNSUBSCRIBE", symbols)
    }
    fn heartbeat(&self) -> Option<&'static str> {
        None // the server pings; tungstenite answers with pongs
    }
    fn heartbeat_after(&self) -> Duration {
        Duration::from_secs(60)
    }
    fn stall_timeout(&self) -> Duration {
        self.stall_timeout
    }
    fn max_lifetime(&self) -> Option<Duration> {
        Some(self.max_lifetime)
    }
    fn outgoing_per_second(&self) -> u32 {
        // Binance drops connections sending more than 10 messages per second; stay well below.
        5
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_requests_and_sharding() {
        let mut ws = BinanceWs::new(DEFAULT_WS_URL);
        ws.book_ticker = true;
        assert_eq!(ws.streams("BTCUSDT"), ["btcusdt@depth@100ms", "btcusdt@bookTicker"]);
        assert_eq!(ws.symbols_per_connection(), 100);
        let symbols: Vec<String> = (0..60).map(|i| format!("C{i}USDT")).collect();
        let requests = ws.subscribe(&symbols);
        assert_eq!(requests.len(), 2);
        let first: serde_json::Value = serde_json::from_str(&requests[0]).unwrap();
        assert_eq!(first["method"], "SUBSCRIBE");
        assert_eq!(first["params"][0], "c0usdt@depth@100ms");
        let second: serde_json::Value = serde_json::from_str(&requests[1]).unwrap();
        assert_ne!(first["id"], second["id"]);
    }
}

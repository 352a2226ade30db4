//! Binance USDⓈ-M WebSocket protocol: routed endpoints, combined streams, runtime SUBSCRIBE, limits.
//!
//! Followed: Binance USDⓈ-M "WebSocket Market Streams" and its "Important WebSocket Change Notice"
//! (announced 2026-03-06, legacy unrouted URLs decommissioned 2026-04-23), read 2026-12-06. The market-stream
//! base URL is split by traffic type, and a stream subscribed on the wrong route is acknowledged and then
//! never delivered:
//!
//! | route | streams |
//! |---|---|
//! | `/public` | high-frequency book data: `@depth…`, `@bookTicker`, `!bookTicker` |
//! | `/market` | regular market data: `@markPrice…`, `@aggTrade`, `@kline_…`, tickers, `@forceOrder`, … |
//! | `/private` | user data (listen keys) |
//!
//! Each route serves `/ws/<stream>` and `/stream?streams=a/b`. [`route_of`] is the one place that decides a
//! stream's route; perpspread opens separate connections per route and never mixes routes on one.
//! Limits (same page): 1024 streams per connection, 10 incoming messages per second per connection, a
//! connection lasts at most 24 h, the server pings every 3 minutes and closes the connection without a pong
//! within 10 minutes (tungstenite answers pings), at most 300 connection attempts per 5 minutes per IP.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use perpspread_core::health::StreamKind;
use perpspread_core::Venue;
use perpspread_net::limiter::RateLimiter;
use perpspread_net::ws::{Keepalive, WsVenue};
use serde_json::json;

/// The real Binance USDⓈ-M market-stream base URL; routes are appended by [`route_url`].
pub const DEFAULT_WS_URL: &str = "wss://fstream.binance.com";

/// Streams Binance allows on one connection.
pub const MAX_STREAMS_PER_CONNECTION: usize = 1024;

/// Streams perpspread puts on one connection (well below [`MAX_STREAMS_PER_CONNECTION`], so one connection's
/// resubscribe storm or loss touches few books).
pub(crate) const STREAMS_PER_CONNECTION: usize = 200;

/// Incoming messages (SUBSCRIBE, pong, …) Binance accepts per second on one connection.
pub(crate) const MAX_MESSAGES_PER_SECOND: u32 = 10;

/// Streams per SUBSCRIBE request.
const STREAMS_PER_REQUEST: usize = 100;

/// Diff-depth update speeds the current docs list: `@depth` (250 ms), `@depth@500ms`, `@depth@100ms`.
pub(crate) const DEPTH_SPEEDS: [&str; 3] = ["", "@500ms", "@100ms"];

/// Where a stream is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// High-frequency book data.
    Public,
    /// Regular market data (funding, trades, klines, tickers, liquidations).
    Market,
    /// User data.
    Private,
}

impl Route {
    /// Every route.
    pub const ALL: [Route; 3] = [Route::Public, Route::Market, Route::Private];

    /// The path segment: `public`, `market` or `private`.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Public => "public",
            Route::Market => "market",
            Route::Private => "private",
        }
    }

    /// The route named by a path segment.
    pub fn parse(segment: &str) -> Option<Route> {
        Route::ALL.into_iter().find(|route| route.as_str() == segment)
    }
}

/// The route a stream name belongs to: book data (`<symbol>@depth…`, `@bookTicker`, `!bookTicker`) is
/// public, a listen key (a name with neither `@` nor a leading `!`) is private, everything else is market data.
pub(crate) fn route_of(stream: &str) -> Route {
    /// Market streams named without `@` or `!`.
    const BARE_MARKET: [&str; 1] = ["tradingSession"];
    let channel = match stream.split_once('@') {
        Some((symbol, channel)) if !symbol.starts_with('!') => channel,
        _ if stream.starts_with('!') => stream.trim_start_matches('!'),
        _ if BARE_MARKET.contains(&stream) => return Route::Market,
        _ => return Route::Private,
    };
    let public = ["depth", "rpiDepth", "bookTicker"].iter().any(|p| channel.starts_with(p)) || channel == "trade";
    if public {
        Route::Public
    } else {
        Route::Market
    }
}

/// The base URL (scheme and host, plus any prefix) of a configured Binance WebSocket URL: a bare base is
/// kept, and a full URL — routed (`…/public/stream`, `…/market/ws`) or legacy (`…/stream`, `…/ws`) — is
/// reduced to its base, so routes can be derived from it.
pub fn base_url(url: &str) -> &str {
    let without_query = url.split(['?', '#']).next().unwrap_or(url);
    let mut base = without_query.trim_end_matches('/');
    if let Some((head, last)) = base.rsplit_once('/') {
        if matches!(last, "stream" | "ws") {
            base = head;
        } else if let Some((before_ws, _)) = base.rsplit_once("/ws/") {
            base = before_ws; // `…/ws/<stream>`
        }
    }
    if let Some((head, last)) = base.rsplit_once('/') {
        if Route::parse(last).is_some() && !head.ends_with('/') {
            base = head;
        }
    }
    base
}

/// The combined-stream URL of `route` under a base URL: `<base>/<route>/stream`.
pub(crate) fn route_url(base: &str, route: Route) -> String {
    format!("{}/{}/stream", base_url(base), route.as_str())
}

/// Connection settings for Binance USDⓈ-M market streams (all routes).
#[derive(Debug, Clone)]
pub struct BinanceWs {
    /// Base URL (`wss://fstream.binance.com`); a full URL is accepted and reduced with [`base_url`].
    pub url: String,
    /// Diff-depth update speed suffix, one of [`DEPTH_SPEEDS`]: `@100ms` (default), `@500ms` or empty (250 ms).
    pub depth_speed: String,
    /// Also subscribe `<symbol>@bookTicker`.
    pub book_ticker: bool,
    /// Also subscribe `<symbol>@markPrice@1s` (funding), on the market route.
    pub mark_price: bool,
    /// No client heartbeat (the server pings; tungstenite answers with pongs); reconnect after 30 s of
    /// silence, and before Binance's 24-hour connection limit.
    pub keepalive: Keepalive,
}

impl BinanceWs {
    /// Defaults for the real venue.
    pub fn new(url: impl Into<String>) -> Self {
        BinanceWs {
            url: url.into(),
            depth_speed: "@100ms".into(),
            book_ticker: false,
            mark_price: false,
            keepalive: Keepalive {
                heartbeat: None,
                heartbeat_after: Duration::from_secs(60),
                stall_timeout: Duration::from_secs(30),
                max_lifetime: Some(Duration::from_secs(23 * 3600 + 50 * 60)),
            },
        }
    }

    /// Every stream name of one symbol, whatever its route.
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

    /// One protocol per route that carries at least one stream, each to run on its own connections. The
    /// routes share one connection-attempt budget (Binance counts attempts per IP).
    pub fn routes(&self) -> Vec<BinanceRouteWs> {
        // 300 attempts per 5 minutes per IP: a burst of 10, then 0.89 a second (at most 277 in any 5 minutes).
        let connects = Arc::new(RateLimiter::new(10, Duration::from_millis(11_250)));
        [Route::Public, Route::Market]
            .into_iter()
            .filter(|route| self.streams("x").iter().any(|s| route_of(s) == *route))
            .map(|route| BinanceRouteWs {
                settings: self.clone(),
                route,
                connects: Arc::clone(&connects),
                next_id: AtomicU64::new(1),
            })
            .collect()
    }
}

/// The Binance protocol on one route: only that route's streams are subscribed on its connections.
#[derive(Debug)]
pub struct BinanceRouteWs {
    settings: BinanceWs,
    route: Route,
    connects: Arc<RateLimiter>,
    next_id: AtomicU64,
}

impl BinanceRouteWs {
    /// The route served.
    pub fn route(&self) -> Route {
        self.route
    }

    /// Stream names of one symbol on this route.
    pub fn streams(&self, symbol: &str) -> Vec<String> {
        self.settings.streams(symbol).into_iter().filter(|s| route_of(s) == self.route).collect()
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

impl WsVenue for BinanceRouteWs {
    fn venue(&self) -> Venue {
        Venue::Binance
    }
    fn url(&self) -> String {
        route_url(&self.settings.url, self.route)
    }
    fn route(&self) -> &'static str {
        self.route.as_str()
    }
    fn stream_kinds(&self) -> Vec<StreamKind> {
        let streams = self.streams("x");
        let mut kinds = Vec::new();
        if streams.iter().any(|s| s.contains("@depth")) {
            kinds.push(StreamKind::Book);
        }
        if streams.iter().any(|s| s.contains("@markPrice")) {
            kinds.push(StreamKind::Funding);
        }
        kinds
    }
    fn carries_books(&self) -> bool {
        self.route == Route::Public
    }
    fn symbols_per_connection(&self) -> usize {
        (STREAMS_PER_CONNECTION / self.streams("x").len().max(1)).max(1)
    }
    fn subscribe(&self, symbols: &[String]) -> Vec<String> {
        self.requests("SUBSCRIBE", symbols)
    }
    fn unsubscribe(&self, symbols: &[String]) -> Vec<String> {
        self.requests("UNSUBSCRIBE", symbols)
    }
    fn keepalive(&self) -> Keepalive {
        self.settings.keepalive
    }
    fn outgoing_per_second(&self) -> u32 {
        // Binance drops connections sending more than 10 messages per second; stay well below.
        MAX_MESSAGES_PER_SECOND / 2
    }
    fn connect_limiter(&self) -> Option<&RateLimiter> {
        Some(&self.connects)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stream_kind_has_its_route() {
        for stream in ["btcusdt@depth", "btcusdt@depth@100ms", "btcusdt@depth@500ms", "btcusdt@depth5@100ms"] {
            assert_eq!(route_of(stream), Route::Public, "{stream}");
        }
        assert_eq!(route_of("btcusdt@bookTicker"), Route::Public);
        assert_eq!(route_of("!bookTicker"), Route::Public);
        assert_eq!(route_of("btcusdt@rpiDepth@500ms"), Route::Public);
        assert_eq!(route_of("btcusdt@trade"), Route::Public, "observed on /public (not documented for USDⓈ-M)");
        assert_eq!(route_of("tradingSession"), Route::Market);
        for stream in [
            "btcusdt@markPrice",
            "btcusdt@markPrice@1s",
            "!markPrice@arr@1s",
            "btcusdt@aggTrade",
            "btcusdt@kline_1m",
            "btcusdt_perpetual@continuousKline_1m",
            "btcusdt@miniTicker",
            "!miniTicker@arr",
            "btcusdt@ticker",
            "!ticker@arr",
            "btcusdt@forceOrder",
            "!forceOrder@arr",
            "defiusdt@compositeIndex",
            "!contractInfo",
            "!assetIndex@arr",
        ] {
            assert_eq!(route_of(stream), Route::Market, "{stream}");
        }
        assert_eq!(route_of("pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"), Route::Private);
    }

    #[test]
    fn a_base_or_a_full_url_gives_the_routed_urls() {
        for given in [
            "wss://fstream.binance.com",
            "wss://fstream.binance.com/",
            "wss://fstream.binance.com/stream",
            "wss://fstream.binance.com/ws",
            "wss://fstream.binance.com/ws/btcusdt@depth",
            "wss://fstream.binance.com/public/stream",
            "wss://fstream.binance.com/market/ws",
            "wss://fstream.binance.com/stream?streams=btcusdt@depth",
            "wss://fstream.binance.com/public/stream?streams=btcusdt@depth/ethusdt@depth",
        ] {
            assert_eq!(base_url(given), "wss://fstream.binance.com", "{given}");
            assert_eq!(route_url(given, Route::Market), "wss://fstream.binance.com/market/stream");
            assert_eq!(route_url(given, Route::Public), "wss://fstream.binance.com/public/stream");
        }
        assert_eq!(route_url("ws://127.0.0.1:9000/prefix", Route::Public), "ws://127.0.0.1:9000/prefix/public/stream");
    }

    #[test]
    fn streams_are_split_by_route_and_never_mixed() {
        let mut ws = BinanceWs::new(DEFAULT_WS_URL);
        ws.book_ticker = true;
        ws.mark_price = true;
        let routes = ws.routes();
        assert_eq!(routes.iter().map(|r| r.route()).collect::<Vec<_>>(), [Route::Public, Route::Market]);
        let (public, market) = (&routes[0], &routes[1]);
        assert_eq!(public.streams("BTCUSDT"), ["btcusdt@depth@100ms", "btcusdt@bookTicker"]);
        assert_eq!(market.streams("BTCUSDT"), ["btcusdt@markPrice@1s"]);
        assert_eq!(public.url(), "wss://fstream.binance.com/public/stream");
        assert_eq!(market.url(), "wss://fstream.binance.com/market/stream");
        assert_eq!(public.stream_kinds(), [StreamKind::Book]);
        assert_eq!(market.stream_kinds(), [StreamKind::Funding]);
        assert!(public.carries_books() && !market.carries_books());
        for request in public.subscribe(&["BTCUSDT".into(), "ETHUSDT".into()]) {
            assert!(!request.contains("markPrice"), "{request}");
        }
        ws.mark_price = false;
        assert_eq!(ws.routes().len(), 1, "no market connection without a market stream");
    }

    #[test]
    fn subscribe_requests_and_sharding() {
        let mut ws = BinanceWs::new(DEFAULT_WS_URL);
        ws.book_ticker = true;
        let public = ws.routes().remove(0);
        assert_eq!(public.symbols_per_connection(), 100);
        assert!(public.symbols_per_connection() * public.streams("x").len() <= MAX_STREAMS_PER_CONNECTION);
        let symbols: Vec<String> = (0..60).map(|i| format!("C{i}USDT")).collect();
        let requests = public.subscribe(&symbols);
        assert_eq!(requests.len(), 2);
        let first: serde_json::Value = serde_json::from_str(&requests[0]).unwrap();
        assert_eq!(first["method"], "SUBSCRIBE");
        assert_eq!(first["params"][0], "c0usdt@depth@100ms");
        let second: serde_json::Value = serde_json::from_str(&requests[1]).unwrap();
        assert_ne!(first["id"], second["id"]);
        assert!(public.outgoing_per_second() < MAX_MESSAGES_PER_SECOND);
    }
}

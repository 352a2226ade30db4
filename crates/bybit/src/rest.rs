//! Bybit v5 REST market data (category `linear`), within the documented IP limit.
//!
//! Followed: Bybit V5 "Market" endpoints (instruments-info, orderbook, tickers, funding/history) and "Rate
//! Limit" (docs repository as of 2026-07-24, the newest available), read 2026-12-07: public market endpoints
//! allow 600 requests per 5 s per IP, beyond which Bybit answers HTTP 403 "access too frequent" and asks for 10
//! minutes of silence; `retCode` 10006 is a rate limit, 10016 and 10000 are transient server errors.

use std::collections::HashMap;
use std::time::Duration;

use perpspread_core::{Instrument, Venue};
use perpspread_net::auth::Credentials;
use perpspread_net::body::{decimal, decode, millis};
use perpspread_net::limiter::RateLimiter;
use perpspread_net::rest::{ResponseObserver, RestClient, RestConfig, RestError, Verdict};
use perpspread_net::venue::{last_settled_each, BoxFuture, VenueRest};
use perpspread_net::{book_from_levels, Activity, BodyError, Funding, Listing, RestBook};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::messages::{Envelope, FundingHistoryResult, TickersResult};

/// The real Bybit REST endpoint.
pub const DEFAULT_REST_URL: &str = "https://api.bybit.com";

/// Most levels `GET /v5/market/orderbook` returns for linear contracts (1000 since 2026-05-18; 500 before).
pub const MAX_REST_DEPTH: usize = 1000;

/// How long Bybit bans an IP that exceeded its REST limit (HTTP 403): "stop all HTTP sessions for 10 minutes"
/// (rate-limit page of the Bybit docs, 2026-07-24).
pub const IP_BAN: Duration = Duration::from_secs(600);

/// Instruments per page of `instruments-info` (its maximum).
pub(crate) const INSTRUMENTS_PAGE: usize = 1000;

/// Bybit v5 public market data over REST.
#[derive(Debug)]
pub struct BybitRest {
    client: RestClient,
    /// Public market data: 600 requests per 5 s per IP; perpspread uses half, leaving room for other tools.
    public: RateLimiter,
}

impl BybitRest {
    /// A client for `config.base_url`.
    pub fn new(config: RestConfig) -> Result<Self, RestError> {
        Ok(BybitRest {
            client: RestClient::new(Venue::Bybit, config, classify)?,
            public: RateLimiter::new(300, Duration::from_secs(5)),
        })
    }

    /// The underlying HTTP client.
    pub fn client(&self) -> &RestClient {
        &self.client
    }

    pub(crate) fn limiter(&self) -> &RateLimiter {
        &self.public
    }

    async fn data<T>(&self, path: &str, parse: impl FnOnce(&[u8]) -> Result<T, BodyError>) -> Result<T, RestError> {
        Ok(self.client.get_parsed(path, &self.public, 1, parse).await?.0)
    }

    async fn all_instruments(&self) -> Result<Listing, RestError> {
        let mut listing = Listing::default();
        let mut cursor: Option<String> = None;
        // Pages until the cursor runs out (a bound against a venue that never stops).
        for _ in 0..50 {
            let mut path = format!("/v5/market/instruments-info?category=linear&limit={INSTRUMENTS_PAGE}");
            if let Some(cursor) = &cursor {
                path.push_str("&cursor=");
                path.push_str(cursor);
            }
            let (page, next) = self.data(&path, crate::symbols::parse_instruments_page).await?;
            listing.instruments.extend(page.instruments);
            listing.skipped.extend(page.skipped);
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        Ok(listing)
    }

    async fn funding_of(&self, instruments: &[&Instrument]) -> Result<HashMap<String, Funding>, RestError> {
        let wanted: std::collections::HashSet<&str> = instruments.iter().map(|i| i.symbol.as_str()).collect();
        let all = self.data("/v5/market/tickers?category=linear", parse_funding).await?;
        Ok(all.into_iter().filter(|(symbol, _)| wanted.contains(symbol.as_str())).collect())
    }
}

impl VenueRest for BybitRest {
    fn venue(&self) -> Venue {
        Venue::Bybit
    }

    fn instruments(&self) -> BoxFuture<'_, Result<Listing, RestError>> {
        Box::pin(self.all_instruments())
    }

    fn book<'a>(&'a self, instrument: &'a Instrument, depth: usize) -> BoxFuture<'a, Result<RestBook, RestError>> {
        Box::pin(async move {
            let depth = depth.clamp(1, MAX_REST_DEPTH);
            let path = format!("/v5/market/orderbook?category=linear&symbol={}&limit={depth}", instrument.symbol);
            let (book, latency) =
                self.client.get_parsed(&path, &self.public, 1, |body| parse_book(body, instrument, depth)).await?;
            Ok(RestBook { latency, ..book })
        })
    }

    fn activity(&self) -> BoxFuture<'_, Result<HashMap<String, Activity>, RestError>> {
        Box::pin(self.data("/v5/market/tickers?category=linear", parse_activity))
    }

    fn funding<'a>(
        &'a self,
        instruments: &'a [&'a Instrument],
    ) -> BoxFuture<'a, Result<HashMap<String, Funding>, RestError>> {
        Box::pin(self.funding_of(instruments))
    }

    /// From `GET /v5/market/funding/history?category=linear&symbol=…&limit=1`, one request per symbol.
    fn last_settled<'a>(&'a self, symbols: &'a [&'a str]) -> BoxFuture<'a, HashMap<String, (Decimal, u64)>> {
        Box::pin(last_settled_each(Venue::Bybit, symbols, move |symbol| async move {
            let path = format!("/v5/market/funding/history?category=linear&symbol={symbol}&limit=1");
            self.data(&path, parse_funding_history).await
        }))
    }

    fn account_taker_fees<'a>(
        &'a self,
        credentials: &'a Credentials,
        instruments: &'a [Instrument],
    ) -> BoxFuture<'a, Result<HashMap<String, f64>, RestError>> {
        Box::pin(crate::account::taker_fees(self, credentials, instruments))
    }

    fn observe(&mut self, observer: std::sync::Arc<dyn ResponseObserver>) {
        self.client = self.client.clone().with_observer(observer);
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    ret_code: i64,
    #[serde(default)]
    ret_msg: String,
}

/// Reads Bybit answers: HTTP 403 is an IP ban (10 minutes), HTTP 429 and `retCode` 10006 (too many visits) are
/// rate limits, 5xx and 10000/10016 transient, any other non-zero `retCode` an API error.
pub fn classify(status: u16, body: &[u8]) -> Verdict {
    let parsed: Option<Status> = serde_json::from_slice(body).ok();
    match (status, parsed) {
        (403, _) => Verdict::Banned(Some(IP_BAN)),
        (429, _) => Verdict::RateLimited,
        (_, Some(s)) if s.ret_code == 10006 => Verdict::RateLimited,
        (_, Some(s)) if matches!(s.ret_code, 10000 | 10016) => Verdict::Transient,
        (500..=599, _) => Verdict::Transient,
        (_, Some(s)) if s.ret_code != 0 => Verdict::Api { code: s.ret_code.to_string(), message: s.ret_msg },
        (200..=299, _) => Verdict::Ok,
        (status, _) => Verdict::Api {
            code: format!("HTTP {status}"),
            message: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
        },
    }
}

/// The `result` of a v5 envelope, or the venue's error (`retCode` ≠ 0).
pub(crate) fn result<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, BodyError> {
    let envelope: Envelope<T> = decode(body)?;
    if envelope.ret_code != 0 {
        return Err(BodyError::Api { code: envelope.ret_code.to_string(), message: envelope.ret_msg.to_string() });
    }
    envelope.result.ok_or(BodyError::Missing("no result"))
}

#[derive(Deserialize)]
struct BookResult<'a> {
    #[serde(borrow, default)]
    b: Vec<(&'a str, &'a str)>,
    #[serde(borrow, default)]
    a: Vec<(&'a str, &'a str)>,
    #[serde(default)]
    ts: Option<u64>,
    #[serde(default)]
    u: Option<u64>,
}

/// Parses a `GET /v5/market/orderbook` body.
pub fn parse_book(body: &[u8], instrument: &Instrument, depth: usize) -> Result<RestBook, BodyError> {
    let book: BookResult = result(body)?;
    if book.b.is_empty() || book.a.is_empty() {
        return Err(BodyError::Book(format!("empty side for {} (zero depth)", instrument.symbol)));
    }
    let levels = book_from_levels(instrument, depth, book.b.iter().copied(), book.a.iter().copied())?;
    Ok(RestBook { book: levels, exchange_ts_ms: book.ts, sequence: book.u, latency: Duration::ZERO })
}

/// Parses `GET /v5/market/tickers?category=linear` into 24 h quote volume (`turnover24h`) per symbol.
pub fn parse_activity(body: &[u8]) -> Result<HashMap<String, Activity>, BodyError> {
    let tickers: TickersResult = result(body)?;
    Ok(tickers
        .list
        .into_iter()
        .filter_map(|t| {
            let volume = t.turnover24h.as_deref()?.parse::<f64>().ok()?;
            Some((t.symbol?, Activity { quote_volume_24h: volume }))
        })
        .collect())
}

/// Parses `GET /v5/market/tickers?category=linear` into funding per symbol: the predicted rate
/// (`fundingRate`), the next settlement, the interval (`fundingIntervalHour`) and the cap (`fundingCap`, also
/// the floor's magnitude).
pub fn parse_funding(body: &[u8]) -> Result<HashMap<String, Funding>, BodyError> {
    let tickers: TickersResult = result(body)?;
    let mut out = HashMap::new();
    for ticker in tickers.list {
        let (Some(symbol), Some(rate)) = (ticker.symbol, ticker.funding_rate.filter(|r| !r.is_empty())) else {
            continue;
        };
        let rate = decimal("fundingRate", &rate).map_err(|e| e.within(&symbol))?;
        let cap = ticker.funding_cap.as_deref().and_then(|c| c.parse::<Decimal>().ok()).filter(|c| !c.is_zero());
        let funding = Funding {
            next_funding_ms: ticker.next_funding_time.as_deref().and_then(|t| t.parse().ok()).filter(|t| *t > 0),
            interval_hours: ticker.funding_interval_hour.as_deref().and_then(|h| h.parse().ok()).filter(|h| *h > 0),
            cap,
            floor: cap.map(|c| -c),
            ..Funding::with_rate(rate)
        };
        out.insert(symbol, funding);
    }
    Ok(out)
}

/// Parses `GET /v5/market/funding/history` into `(rate, settlement time ms)`, oldest first.
pub fn parse_funding_history(body: &[u8]) -> Result<Vec<(Decimal, u64)>, BodyError> {
    let history: FundingHistoryResult = result(body)?;
    let mut out = history
        .list
        .into_iter()
        .map(|h| {
            let rate = decimal("fundingRate", &h.funding_rate)?;
            let time = millis("fundingRateTimestamp", &h.funding_rate_timestamp)?
                .ok_or(BodyError::Missing("fundingRateTimestamp"))?;
            Ok((rate, time))
        })
        .collect::<Result<Vec<_>, BodyError>>()?;
    out.sort_by_key(|(_, t)| *t);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use perpspread_core::Side;

    fn btc() -> Instrument {
        perpspread_core::testkit::bybit_linear("BTC").tick("0.10").build()
    }

    #[test]
    fn order_book_of_the_documented_shape() {
        let body = br#"{"retCode":0,"retMsg":"OK","result":{"s":"BTCUSDT","a":[["65557.7","16.606555"]],"b":[["65485.47","47.081829"]],"ts":1716863719031,"u":230704,"seq":1432604333,"cts":1716863718905},"retExtInfo":{},"time":1716863719382}"#;
        let book = parse_book(body, &btc(), 50).unwrap();
        assert_eq!((book.exchange_ts_ms, book.sequence), (Some(1716863719031), Some(230704)));
        assert_eq!(book.book.depth(Side::Bid), 1);
        let empty = br#"{"retCode":0,"retMsg":"OK","result":{"s":"BTCUSDT","a":[],"b":[],"ts":1,"u":1}}"#;
        assert!(matches!(parse_book(empty, &btc(), 50), Err(BodyError::Book(m)) if m.contains("zero depth")));
        let error = br#"{"retCode":10001,"retMsg":"params error: symbol invalid","result":{}}"#;
        assert!(matches!(parse_book(error, &btc(), 50), Err(BodyError::Api { code, .. }) if code == "10001"));
    }

    #[test]
    fn tickers_give_volume_and_funding() {
        let body = br#"{"retCode":0,"retMsg":"OK","result":{"category":"linear","list":[{"symbol":"BTCUSDT","lastPrice":"16597.00","indexPrice":"16598.54","markPrice":"16596.00","turnover24h":"30744001.5000","volume24h":"1854.8890","fundingRate":"-0.000212","nextFundingTime":"1672387200000","fundingIntervalHour":"8","fundingCap":"0.005"},{"symbol":"1000PEPEUSDT","turnover24h":"1000.5","fundingRate":"0.0001","nextFundingTime":"1672372800000","fundingIntervalHour":"4","fundingCap":"0.02"}]},"retExtInfo":{},"time":1672376496682}"#;
        let activity = parse_activity(body).unwrap();
        assert!((activity["BTCUSDT"].quote_volume_24h - 30744001.5).abs() < 1e-6);
        let funding = parse_funding(body).unwrap();
        let btc = &funding["BTCUSDT"];
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!((btc.rate, btc.next_funding_ms, btc.interval_hours), (d("-0.000212"), Some(1672387200000), Some(8)));
        assert_eq!((btc.cap, btc.floor), (Some(d("0.005")), Some(d("-0.005"))));
        assert_eq!(funding["1000PEPEUSDT"].interval_hours, Some(4));
    }

    #[test]
    fn funding_history_oldest_first() {
        let body = br#"{"retCode":0,"retMsg":"OK","result":{"category":"linear","list":[{"symbol":"ETHPERP","fundingRate":"0.0001","fundingRateTimestamp":"1672041600000"},{"symbol":"ETHPERP","fundingRate":"0.0002","fundingRateTimestamp":"1672012800000"}]},"retExtInfo":{},"time":1672051897447}"#;
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(
            parse_funding_history(body).unwrap(),
            vec![(d("0.0002"), 1672012800000), (d("0.0001"), 1672041600000)]
        );
    }

    /// The documented REST order book and fee rates (fixtures/docs-examples/bybit, via nautilus_trader).
    #[test]
    fn documented_order_book_and_fee_rates() {
        let body = include_bytes!("../../../fixtures/docs-examples/bybit/http_get_orderbook.json");
        let book = parse_book(body, &btc(), 50).unwrap();
        assert_eq!((book.exchange_ts_ms, book.sequence), (Some(1709891679000), Some(1234567)));
        assert_eq!((book.book.depth(Side::Bid), book.book.depth(Side::Ask)), (3, 3));
        let fees = crate::account::parse_fee_rates(include_bytes!(
            "../../../fixtures/docs-examples/bybit/http_get_fee_rate.json"
        ))
        .unwrap();
        assert!((fees["SOLUSDT"] - 7.5).abs() < 1e-9 && (fees["BTCUSDT"] - 6.0).abs() < 1e-9, "{fees:?}");
    }

    #[test]
    fn classifies_errors() {
        assert_eq!(classify(200, br#"{"retCode":0,"retMsg":"OK","result":{}}"#), Verdict::Ok);
        assert_eq!(classify(200, br#"{"retCode":10006,"retMsg":"Too many visits!"}"#), Verdict::RateLimited);
        assert_eq!(classify(403, b"access too frequent"), Verdict::Banned(Some(IP_BAN)));
        assert_eq!(classify(429, b""), Verdict::RateLimited);
        assert_eq!(classify(200, br#"{"retCode":10016,"retMsg":"Server error"}"#), Verdict::Transient);
        assert_eq!(
            classify(200, br#"{"retCode":10001,"retMsg":"params error"}"#),
            Verdict::Api { code: "10001".into(), message: "params error".into() }
        );
    }
}

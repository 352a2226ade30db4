//! Binance USDⓈ-M REST market data, within the documented IP request-weight limit.

use std::collections::HashMap;
use std::time::Duration;

use perpspread_core::{Instrument, Venue};
use perpspread_net::auth::Credentials;
use perpspread_net::body::{decimal, decode};
use perpspread_net::limiter::RateLimiter;
use perpspread_net::rest::ResponseObserver;
use perpspread_net::rest::{RestClient, RestConfig, RestError, Verdict};
use perpspread_net::venue::{last_settled_each, BoxFuture, VenueRest};
use perpspread_net::{book_from_levels, Activity, BodyError, Funding, Listing, RawSnapshot, RestBook};
use rust_decimal::Decimal;

use crate::messages::{DepthMsg, ErrorMsg, OneOrMany, PremiumIndexMsg, Ticker24hMsg};

/// The real Binance USDⓈ-M REST endpoint.
pub const DEFAULT_REST_URL: &str = "https://fapi.binance.com";

/// Request weight allowed per minute per IP (`REQUEST_WEIGHT` in `exchangeInfo.rateLimits`).
pub(crate) const WEIGHT_PER_MINUTE: u32 = 2400;

/// Depth limits `GET /fapi/v1/depth` accepts, with their request weights.
const DEPTH_WEIGHTS: [(usize, u32); 7] = [(5, 2), (10, 2), (20, 2), (50, 2), (100, 5), (500, 10), (1000, 20)];

/// Binance USDⓈ-M public market data over REST.
#[derive(Debug)]
pub struct BinanceRest {
    client: RestClient,
    weight: RateLimiter,
    /// `/fapi/v1/fundingRate` and `/fapi/v1/fundingInfo` carry no weight but share 500 requests per 5 minutes per
    /// IP ("Get Funding Rate History" / "Get Funding Rate Info" pages, read 2026-12-07); half of it is spent at most.
    funding: RateLimiter,
}

impl BinanceRest {
    /// A client for `config.base_url`, spending at most `weight_per_minute` request weight a minute.
    pub fn new(config: RestConfig, weight_per_minute: u32) -> Result<Self, RestError> {
        Ok(BinanceRest {
            client: RestClient::new(Venue::Binance, config, classify)?,
            weight: RateLimiter::new(weight_per_minute, Duration::from_secs(60)),
            funding: RateLimiter::new(250, Duration::from_secs(300)),
        })
    }

    /// The request-weight budget shared by every call.
    pub(crate) fn weight_limiter(&self) -> &RateLimiter {
        &self.weight
    }

    /// The underlying HTTP client.
    pub fn client(&self) -> &RestClient {
        &self.client
    }

    /// The underlying HTTP client (to attach a recorder).
    pub fn client_mut(&mut self) -> &mut RestClient {
        &mut self.client
    }

    async fn fetch<T>(
        &self,
        path: &str,
        weight: u32,
        parse: impl FnOnce(&[u8]) -> Result<T, BodyError>,
    ) -> Result<(T, Duration), RestError> {
        self.client.get_parsed(path, &self.weight, weight, parse).await
    }
}

impl BinanceRest {
    /// Fetches a raw depth snapshot body for the streaming book sync; returns the request path too. The
    /// response is not reported to the recorder: the live loop records it when it processes it.
    pub(crate) async fn depth_snapshot(&self, symbol: &str, depth: usize) -> Result<RawSnapshot, RestError> {
        let (limit, weight) = depth_limit(depth);
        let path = format!("/fapi/v1/depth?symbol={symbol}&limit={limit}");
        let response = self.client.get_unobserved(&path, &self.weight, weight).await?;
        Ok((path, response))
    }
}

/// The smallest accepted depth limit covering `depth`, and its weight.
pub fn depth_limit(depth: usize) -> (usize, u32) {
    DEPTH_WEIGHTS.iter().copied().find(|(limit, _)| *limit >= depth).unwrap_or(DEPTH_WEIGHTS[DEPTH_WEIGHTS.len() - 1])
}

impl VenueRest for BinanceRest {
    fn venue(&self) -> Venue {
        Venue::Binance
    }

    fn instruments(&self) -> BoxFuture<'_, Result<Listing, RestError>> {
        Box::pin(
            async move { Ok(self.fetch("/fapi/v1/exchangeInfo", 1, crate::symbols::parse_exchange_info).await?.0) },
        )
    }

    fn book<'a>(&'a self, instrument: &'a Instrument, depth: usize) -> BoxFuture<'a, Result<RestBook, RestError>> {
        Box::pin(async move {
            let (limit, weight) = depth_limit(depth);
            let path = format!("/fapi/v1/depth?symbol={}&limit={limit}", instrument.symbol);
            let (book, latency) = self.fetch(&path, weight, |body| parse_depth(body, instrument, limit)).await?;
            Ok(RestBook { latency, ..book })
        })
    }

    fn activity(&self) -> BoxFuture<'_, Result<HashMap<String, Activity>, RestError>> {
        Box::pin(async move { Ok(self.fetch("/fapi/v1/ticker/24hr", 40, parse_activity).await?.0) })
    }

    /// Funding with each symbol's interval: `fundingInfo` lists the symbols whose interval was adjusted (4 h,
    /// 1 h); the others fund every [`DEFAULT_FUNDING_HOURS`]. Without `fundingInfo` the interval stays unknown
    /// (no carry is shown rather than a wrong one).
    fn funding<'a>(
        &'a self,
        instruments: &'a [&'a Instrument],
    ) -> BoxFuture<'a, Result<HashMap<String, Funding>, RestError>> {
        Box::pin(self.funding_of(instruments))
    }

    /// From `GET /fapi/v1/fundingRate?symbol=…&limit=1` (one request each, sharing a 500-per-5-minutes IP limit:
    /// meant for the few rows a command shows). Symbols whose request fails are left out.
    fn last_settled<'a>(&'a self, symbols: &'a [&'a str]) -> BoxFuture<'a, HashMap<String, (Decimal, u64)>> {
        Box::pin(last_settled_each(Venue::Binance, symbols, move |symbol| async move {
            let path = format!("/fapi/v1/fundingRate?symbol={symbol}&limit=1");
            self.client.get_parsed(&path, &self.funding, 1, parse_funding_history).await.map(|(history, _)| history)
        }))
    }

    fn snapshot<'a>(&'a self, symbol: &'a str, depth: usize) -> BoxFuture<'a, Result<RawSnapshot, RestError>> {
        Box::pin(self.depth_snapshot(symbol, depth))
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

impl BinanceRest {
    async fn funding_of(&self, instruments: &[&Instrument]) -> Result<HashMap<String, Funding>, RestError> {
        let (premium, info) = tokio::join!(
            self.fetch("/fapi/v1/premiumIndex", 10, parse_premium_index),
            self.client.get_parsed("/fapi/v1/fundingInfo", &self.funding, 1, parse_funding_info),
        );
        let (mut all, _) = premium?;
        let adjusted = match info {
            Ok((known, _)) => Some(known),
            Err(error) => {
                tracing::warn!("Binance fundingInfo unavailable, funding intervals unknown: {error}");
                None
            }
        };
        Ok(instruments
            .iter()
            .filter_map(|i| {
                let mut funding = all.remove(&i.symbol)?;
                if let Some(adjusted) = &adjusted {
                    let info = adjusted.get(&i.symbol);
                    funding.interval_hours = Some(info.and_then(|f| f.interval_hours).unwrap_or(DEFAULT_FUNDING_HOURS));
                    (funding.cap, funding.floor) = info.map_or((None, None), |f| (f.cap, f.floor));
                }
                Some((i.symbol.clone(), funding))
            })
            .collect())
    }
}

/// Reads Binance responses: HTTP 429 / code -1003 are rate limits, 418 a ban, 5xx and -1001/-1007
/// transient, any other error body an API error.
pub fn classify(status: u16, body: &[u8]) -> Verdict {
    let error: Option<ErrorMsg> = if (200..300).contains(&status) && body.first() != Some(&b'{') {
        None
    } else {
        serde_json::from_slice(body).ok()
    };
    match (status, error) {
        (418, _) => Verdict::Banned(None),
        (429, _) => Verdict::RateLimited,
        (_, Some(e)) if e.code == -1003 => Verdict::RateLimited,
        (_, Some(e)) if matches!(e.code, -1001 | -1007 | -1008) => Verdict::Transient,
        (500..=599, _) => Verdict::Transient,
        (_, Some(e)) if e.code < 0 => Verdict::Api { code: e.code.to_string(), message: e.msg.into_owned() },
        (200..=299, _) => Verdict::Ok,
        (status, _) => Verdict::Api {
            code: format!("HTTP {status}"),
            message: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
        },
    }
}

/// Parses a `GET /fapi/v1/depth` body.
pub fn parse_depth(body: &[u8], instrument: &Instrument, depth: usize) -> Result<RestBook, BodyError> {
    let msg: DepthMsg = decode(body)?;
    if msg.bids.is_empty() || msg.asks.is_empty() {
        return Err(BodyError::Book(format!("empty side for {} (zero depth)", instrument.symbol)));
    }
    let book = book_from_levels(instrument, depth, msg.bids.iter().copied(), msg.asks.iter().copied())?;
    Ok(RestBook {
        book,
        exchange_ts_ms: msg.event_time.or(msg.transaction_time),
        sequence: Some(msg.last_update_id),
        latency: Duration::ZERO,
    })
}

/// Parses `GET /fapi/v1/ticker/24hr` into 24 h quote volume per symbol.
pub fn parse_activity(body: &[u8]) -> Result<HashMap<String, Activity>, BodyError> {
    let tickers: OneOrMany<Ticker24hMsg> = decode(body)?;
    Ok(tickers
        .into_vec()
        .into_iter()
        .filter_map(|t| {
            let volume = t.quote_volume.parse::<f64>().ok()?;
            Some((t.symbol.to_owned(), Activity { quote_volume_24h: volume }))
        })
        .collect())
}

/// Funding interval of symbols not listed by `fundingInfo`, hours.
pub(crate) const DEFAULT_FUNDING_HOURS: u32 = 8;

/// What `GET /fapi/v1/fundingInfo` says of one adjusted symbol.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FundingInfo {
    pub interval_hours: Option<u32>,
    pub cap: Option<Decimal>,
    pub floor: Option<Decimal>,
}

/// Parses `GET /fapi/v1/fundingInfo`: the symbols whose funding interval, cap or floor was adjusted.
pub fn parse_funding_info(body: &[u8]) -> Result<HashMap<String, FundingInfo>, BodyError> {
    let entries: Vec<crate::messages::FundingInfoMsg> = decode(body)?;
    let rate = |field, text: Option<&str>| text.map(|t| decimal(field, t)).transpose();
    entries
        .into_iter()
        .map(|e| {
            let info = (|| {
                Ok(FundingInfo {
                    interval_hours: e.funding_interval_hours,
                    cap: rate("adjustedFundingRateCap", e.adjusted_funding_rate_cap)?,
                    floor: rate("adjustedFundingRateFloor", e.adjusted_funding_rate_floor)?,
                })
            })()
            .map_err(|error: BodyError| error.within(e.symbol))?;
            Ok((e.symbol.to_owned(), info))
        })
        .collect()
}

/// Parses `GET /fapi/v1/fundingRate` into `(rate, settlement time ms)`, oldest first.
pub fn parse_funding_history(body: &[u8]) -> Result<Vec<(Decimal, u64)>, BodyError> {
    let entries: Vec<crate::messages::FundingRateMsg> = decode(body)?;
    let mut history = entries
        .into_iter()
        .map(|e| Ok((decimal("fundingRate", e.funding_rate)?, e.funding_time)))
        .collect::<Result<Vec<_>, BodyError>>()?;
    history.sort_by_key(|(_, t)| *t);
    Ok(history)
}

/// Parses `GET /fapi/v1/premiumIndex` into funding per symbol.
pub fn parse_premium_index(body: &[u8]) -> Result<HashMap<String, Funding>, BodyError> {
    let entries: OneOrMany<PremiumIndexMsg> = decode(body)?;
    entries
        .into_vec()
        .into_iter()
        .map(|m| {
            let rate = decimal("lastFundingRate", m.last_funding_rate).map_err(|e| e.within(m.symbol))?;
            Ok((
                m.symbol.to_owned(),
                Funding { next_funding_ms: m.next_funding_time.filter(|t| *t > 0), ..Funding::with_rate(rate) },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use perpspread_core::Side;

    fn btc() -> Instrument {
        perpspread_core::testkit::binance_linear("BTC").build()
    }

    #[test]
    fn depth_limits_and_weights() {
        assert_eq!(depth_limit(1), (5, 2));
        assert_eq!(depth_limit(100), (100, 5));
        assert_eq!(depth_limit(400), (500, 10));
        assert_eq!(depth_limit(5000), (1000, 20));
    }

    #[test]
    fn docs_shapes_parse() {
        let depth = include_bytes!("../../../fixtures/docs-examples/binance-usdm/http_futures_market_depth.json");
        let rest = parse_depth(depth, &btc(), 100).unwrap();
        assert_eq!(rest.sequence, Some(1027024));
        let best = rest.book.best_bid().unwrap();
        assert_eq!(rest.book.price_of(&best).to_string(), "4.00000000");
        assert_eq!(rest.book.depth(Side::Ask), 1);
        let premium =
            include_bytes!("../../../fixtures/docs-examples/binance-usdm/http_futures_market_premium_index.json");
        let funding = parse_premium_index(premium).unwrap();
        assert_eq!(funding["BTCUSDT"].rate, "0.00038246".parse::<Decimal>().unwrap());
        assert_eq!(funding["BTCUSDT"].next_funding_ms, Some(1597392000000));
        let ticker =
            include_bytes!("../../../fixtures/docs-examples/binance-usdm/http_futures_market_ticker_24hr.json");
        assert_eq!(parse_activity(ticker).unwrap()["BTCUSDT"].quote_volume_24h, 15.3);
    }

    #[test]
    fn real_rest_snapshot_in_capture_parses() {
        let capture = include_str!("../../../fixtures/real/binance_usdm_depth_sushi-akro_2021-07-22.jsonl");
        let line = capture.lines().find(|l| l.contains("\"src\":\"rest\"")).unwrap();
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        let body = record["data"].as_str().unwrap();
        let mut sushi = btc();
        sushi.symbol = "SUSHIUSDT".into();
        let rest = parse_depth(body.as_bytes(), &sushi, 1000).unwrap();
        assert!(rest.book.depth(Side::Bid) > 100);
        assert!(!rest.book.is_crossed());
    }

    #[test]
    fn funding_info_intervals() {
        // The response example of "Get Funding Rate Info" (Binance USDⓈ-M docs, December 2026).
        let body = br#"[{"symbol":"BLZUSDT","adjustedFundingRateCap":"0.02500000","adjustedFundingRateFloor":"-0.02500000","fundingIntervalHours":4,"disclaimer":false}]"#;
        let info = parse_funding_info(body).unwrap();
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(
            info.get("BLZUSDT"),
            Some(&FundingInfo { interval_hours: Some(4), cap: Some(d("0.025")), floor: Some(d("-0.025")) })
        );
        assert!(parse_funding_info(b"[]").unwrap().is_empty());
        assert!(parse_funding_info(b"{").is_err());
        let cap = parse_funding_info(br#"[{"symbol":"X","adjustedFundingRateCap":"lots"}]"#).unwrap_err();
        assert!(matches!(&cap, BodyError::In { key, .. } if key == "X"), "{cap}");
    }

    #[test]
    fn funding_history_is_sorted_oldest_first() {
        // "Get Funding Rate History" response shape (Binance USDⓈ-M docs, December 2026).
        let body = br#"[{"symbol":"BTCUSDT","fundingRate":"-0.03750000","fundingTime":1570636800000,"markPrice":"34287.54619963"},{"symbol":"BTCUSDT","fundingRate":"0.00010000","fundingTime":1570608000000,"markPrice":"34287.54619963"}]"#;
        let history = parse_funding_history(body).unwrap();
        assert_eq!(
            history,
            vec![("0.0001".parse().unwrap(), 1570608000000), ("-0.0375".parse().unwrap(), 1570636800000)]
        );
        assert!(parse_funding_history(br#"[{"symbol":"X","fundingRate":"?","fundingTime":1}]"#).is_err());
    }

    #[test]
    fn classifies_errors() {
        assert_eq!(classify(200, b"[]"), Verdict::Ok);
        assert_eq!(classify(200, br#"{"lastUpdateId":1}"#), Verdict::Ok);
        assert_eq!(classify(429, br#"{"code":-1003,"msg":"Too many requests"}"#), Verdict::RateLimited);
        assert_eq!(classify(418, br#"{"code":-1003,"msg":"banned"}"#), Verdict::Banned(None));
        assert_eq!(classify(503, b""), Verdict::Transient);
        assert_eq!(
            classify(400, br#"{"code":-1121,"msg":"Invalid symbol."}"#),
            Verdict::Api { code: "-1121".into(), message: "Invalid symbol.".into() }
        );
        let empty = parse_depth(br#"{"lastUpdateId":1,"bids":[],"asks":[]}"#, &btc(), 5);
        assert!(matches!(empty, Err(BodyError::Book(m)) if m.contains("zero depth")));
        assert!(parse_depth(br#"{"bids":[],"asks":[]}"#, &btc(), 5).is_err());
    }
}

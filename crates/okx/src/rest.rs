//! OKX v5 REST market data.

use std::collections::HashMap;
use std::time::Duration;

use perpspread_core::{Instrument, Venue};
use perpspread_net::auth::Credentials;
use perpspread_net::body::{decimal, decode, millis, optional_decimal};
use perpspread_net::limiter::RateLimiter;
use perpspread_net::rest::ResponseObserver;
use perpspread_net::rest::{RestClient, RestConfig, RestError, Verdict};
use perpspread_net::venue::{BoxFuture, VenueRest};
use perpspread_net::{book_from_levels, Activity, BodyError, Funding, Listing, RawSnapshot, RestBook};
use rust_decimal::Decimal;

use crate::messages::{BookMsg, Envelope, FundingMsg, Status, TickerMsg};

/// The real OKX REST endpoint.
pub const DEFAULT_REST_URL: &str = "https://www.okx.com";

/// Most levels `GET /api/v5/market/books` returns.
pub const MAX_REST_DEPTH: usize = 400;

/// OKX public market data over REST, within OKX's documented per-endpoint limits.
#[derive(Debug)]
pub struct OkxRest {
    client: RestClient,
    instruments_limit: RateLimiter,
    books_limit: RateLimiter,
    tickers_limit: RateLimiter,
    funding_limit: RateLimiter,
    mark_limit: RateLimiter,
}

impl OkxRest {
    /// A client for `config.base_url`.
    pub fn new(config: RestConfig) -> Result<Self, RestError> {
        let two_s = Duration::from_secs(2);
        Ok(OkxRest {
            client: RestClient::new(Venue::Okx, config, classify)?,
            instruments_limit: RateLimiter::new(20, two_s),
            books_limit: RateLimiter::new(40, two_s),
            tickers_limit: RateLimiter::new(20, two_s),
            funding_limit: RateLimiter::new(20, two_s),
            mark_limit: RateLimiter::new(10, two_s),
        })
    }

    /// The underlying HTTP client.
    pub fn client(&self) -> &RestClient {
        &self.client
    }

    /// The underlying HTTP client (to attach a recorder).
    pub fn client_mut(&mut self) -> &mut RestClient {
        &mut self.client
    }

    async fn data<T>(
        &self,
        path: &str,
        limiter: &RateLimiter,
        parse: impl FnOnce(&[u8]) -> Result<T, BodyError>,
    ) -> Result<(T, Duration), RestError> {
        self.client.get_parsed(path, limiter, 1, parse).await
    }

    /// Mark prices of every swap, keyed by instId.
    pub async fn mark_prices(&self) -> Result<HashMap<String, Decimal>, RestError> {
        let path = "/api/v5/public/mark-price?instType=SWAP";
        let (marks, _) = self
            .data(path, &self.mark_limit, |body| {
                let envelope: Envelope<Vec<crate::messages::MarkPriceMsg>> = decode(body)?;
                envelope
                    .data
                    .unwrap_or_default()
                    .iter()
                    .map(|m| Ok((m.inst_id.to_owned(), decimal("markPx", m.mark_px)?)))
                    .collect::<Result<HashMap<_, _>, BodyError>>()
            })
            .await?;
        Ok(marks)
    }
}

impl OkxRest {
    /// A raw `GET /api/v5/market/books` snapshot of up to 400 levels a side, with its `seqId`, for seeding a
    /// streamed `books` book (OKX "How to manage a local order book correctly": the buffered updates are
    /// bridged by `prevSeqId <= seqId(snapshot) < seqId`). Not reported to the observer: the live layer
    /// records it when it processes it.
    pub async fn book_snapshot(&self, inst_id: &str, depth: usize) -> Result<RawSnapshot, RestError> {
        let path = format!("/api/v5/market/books?instId={inst_id}&sz={}", depth.clamp(1, MAX_REST_DEPTH));
        let response = self.client.get_unobserved(&path, &self.books_limit, 1).await?;
        Ok((path, response))
    }
}

impl VenueRest for OkxRest {
    fn venue(&self) -> Venue {
        Venue::Okx
    }

    fn instruments(&self) -> BoxFuture<'_, Result<Listing, RestError>> {
        Box::pin(async move {
            let path = "/api/v5/public/instruments?instType=SWAP";
            Ok(self.data(path, &self.instruments_limit, crate::symbols::parse_instruments).await?.0)
        })
    }

    fn book<'a>(&'a self, instrument: &'a Instrument, depth: usize) -> BoxFuture<'a, Result<RestBook, RestError>> {
        Box::pin(async move {
            let depth = depth.clamp(1, MAX_REST_DEPTH);
            let path = format!("/api/v5/market/books?instId={}&sz={depth}", instrument.symbol);
            let (book, latency) =
                self.data(&path, &self.books_limit, |body| parse_book(body, instrument, depth)).await?;
            Ok(RestBook { latency, ..book })
        })
    }

    fn activity(&self) -> BoxFuture<'_, Result<HashMap<String, Activity>, RestError>> {
        Box::pin(async move {
            let path = "/api/v5/market/tickers?instType=SWAP";
            Ok(self.data(path, &self.tickers_limit, parse_activity).await?.0)
        })
    }

    fn funding<'a>(
        &'a self,
        instruments: &'a [&'a Instrument],
    ) -> BoxFuture<'a, Result<HashMap<String, Funding>, RestError>> {
        Box::pin(async move {
            let requests = instruments.iter().map(|instrument| async move {
                let path = format!("/api/v5/public/funding-rate?instId={}", instrument.symbol);
                let (funding, _) = self.data(&path, &self.funding_limit, parse_funding).await?;
                Ok::<_, RestError>((instrument.symbol.clone(), funding))
            });
            futures::future::try_join_all(requests).await.map(|v| v.into_iter().collect())
        })
    }

    fn snapshot<'a>(&'a self, symbol: &'a str, depth: usize) -> BoxFuture<'a, Result<RawSnapshot, RestError>> {
        Box::pin(self.book_snapshot(symbol, depth))
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

/// Reads OKX responses: HTTP 429 or code 50011 are rate limits, 5xx and 50001/50004/50013 transient,
/// any other non-zero code an API error.
pub fn classify(status: u16, body: &[u8]) -> Verdict {
    let parsed: Option<Status> = serde_json::from_slice(body).ok();
    match (status, parsed) {
        (429, _) => Verdict::RateLimited,
        (_, Some(s)) if s.code == "50011" || s.code == "50061" => Verdict::RateLimited,
        (_, Some(s)) if matches!(s.code.as_ref(), "50001" | "50004" | "50013" | "50026") => Verdict::Transient,
        (500..=599, _) => Verdict::Transient,
        (_, Some(s)) if s.code != "0" => Verdict::Api { code: s.code.into_owned(), message: s.msg.into_owned() },
        (200..=299, _) => Verdict::Ok,
        (status, _) => Verdict::Api {
            code: format!("HTTP {status}"),
            message: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
        },
    }
}

/// Parses a `GET /api/v5/market/books` body.
pub fn parse_book(body: &[u8], instrument: &Instrument, depth: usize) -> Result<RestBook, BodyError> {
    let envelope: Envelope<Vec<BookMsg>> = decode(body)?;
    let data = envelope.data.unwrap_or_default();
    let msg = data.first().ok_or(BodyError::Missing("no book in response (unknown instrument?)"))?;
    if msg.bids.is_empty() || msg.asks.is_empty() {
        return Err(BodyError::Book(format!("empty side for {} (zero depth)", instrument.symbol)));
    }
    let book =
        book_from_levels(instrument, depth, msg.bids.iter().map(|l| (l.0, l.1)), msg.asks.iter().map(|l| (l.0, l.1)))?;
    Ok(RestBook {
        book,
        exchange_ts_ms: msg.ts.map(|ts| millis("ts", ts)).transpose()?.flatten(),
        sequence: msg.seq_id.and_then(|s| u64::try_from(s).ok()),
        latency: Duration::ZERO,
    })
}

/// Parses `GET /api/v5/market/tickers?instType=SWAP` into 24 h quote volume per instId.
pub fn parse_activity(body: &[u8]) -> Result<HashMap<String, Activity>, BodyError> {
    let envelope: Envelope<Vec<TickerMsg>> = decode(body)?;
    let mut out = HashMap::new();
    for ticker in envelope.data.unwrap_or_default() {
        // For swaps volCcy24h is in base currency; quote volume ≈ base volume × last price.
        let (Ok(base), Ok(last)) = (ticker.vol_ccy24h.parse::<f64>(), ticker.last.parse::<f64>()) else {
            continue;
        };
        out.insert(ticker.inst_id.to_owned(), Activity { quote_volume_24h: base * last });
    }
    Ok(out)
}

/// Parses `GET /api/v5/public/funding-rate`.
pub fn parse_funding(body: &[u8]) -> Result<Funding, BodyError> {
    let envelope: Envelope<Vec<FundingMsg>> = decode(body)?;
    let data = envelope.data.unwrap_or_default();
    let msg = data.first().ok_or(BodyError::Missing("no funding rate in response"))?;
    funding_from(msg)
}

/// Normalizes one funding message (REST or WebSocket).
pub(crate) fn funding_from(msg: &FundingMsg<'_>) -> Result<Funding, BodyError> {
    let next_funding_ms = millis("fundingTime", msg.funding_time)?;
    let after = millis("nextFundingTime", msg.next_funding_time)?;
    let interval_hours = match (next_funding_ms, after) {
        (Some(a), Some(b)) if b > a => Some(((b - a) / 3_600_000) as u32),
        _ => None,
    };
    Ok(Funding {
        rate: decimal("fundingRate", msg.funding_rate)?,
        next_rate: optional_decimal("nextFundingRate", msg.next_funding_rate)?,
        next_funding_ms,
        interval_hours,
        cap: optional_decimal("maxFundingRate", msg.max_funding_rate)?,
        floor: optional_decimal("minFundingRate", msg.min_funding_rate)?,
        last_settled_rate: optional_decimal("settFundingRate", msg.sett_funding_rate)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use perpspread_core::Side;

    fn btc() -> Instrument {
        perpspread_core::testkit::okx_linear("BTC").build()
    }

    #[test]
    fn docs_order_book_parses_and_keeps_strings() {
        let body = include_bytes!("../../../fixtures/docs-examples/okx/http_get_order_book.json");
        let rest = parse_book(body, &btc(), 400).unwrap();
        let best = rest.book.best_ask().unwrap();
        assert_eq!(rest.book.price_of(&best).to_string(), "41006.8");
        let worst_ask = rest.book.levels(Side::Ask).last().unwrap();
        assert_eq!(rest.book.price_of(worst_ask).to_string(), "41007.0");
        assert_eq!(rest.exchange_ts_ms, Some(1704067200000));
    }

    #[test]
    fn empty_or_malformed_books_are_errors() {
        let empty = parse_book(br#"{"code":"0","msg":"","data":[]}"#, &btc(), 400).unwrap_err();
        assert!(matches!(empty, BodyError::Missing(m) if m.contains("no book")));
        let side = parse_book(br#"{"code":"0","msg":"","data":[{"asks":[],"bids":[],"ts":"1"}]}"#, &btc(), 400);
        assert!(matches!(side, Err(BodyError::Book(m)) if m.contains("zero depth")));
        let price = parse_book(
            br#"{"code":"0","msg":"","data":[{"asks":[["x","1","0","1"]],"bids":[["1","1","0","1"]],"ts":"1"}]}"#,
            &btc(),
            400,
        );
        assert!(matches!(price, Err(BodyError::Field { field: "price", .. })), "{price:?}");
        assert!(matches!(parse_book(b"<html>", &btc(), 400), Err(BodyError::Json(_))));
    }

    #[test]
    fn funding_docs_shape() {
        // The response example of "Get funding rate" (OKX v5 docs, December 2026), trimmed to the fields read.
        let body = br#"{"code":"0","msg":"","data":[{"formulaType":"noRate","fundingRate":"0.0000792386885340","fundingTime":"1703088000000","impactValue":"","instId":"BTC-USDT-SWAP","instType":"SWAP","interestRate":"","maxFundingRate":"0.00375","method":"current_period","minFundingRate":"-0.00375","nextFundingRate":"","nextFundingTime":"1703116800000","premium":"0.0000578386885340","settFundingRate":"0.0000691508560252","settState":"settled","ts":"1703070685309"}]}"#;
        let funding = parse_funding(body).unwrap();
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(funding.rate, d("0.0000792386885340"));
        assert_eq!(funding.next_rate, None);
        assert_eq!(funding.interval_hours, Some(8));
        assert_eq!((funding.cap, funding.floor), (Some(d("0.00375")), Some(d("-0.00375"))));
        assert_eq!(funding.last_settled_rate, Some(d("0.0000691508560252")));
        assert!(!funding.at_limit());
        let capped = br#"{"code":"0","msg":"","data":[{"instId":"X-USDT-SWAP","fundingRate":"-0.00375","minFundingRate":"-0.00375","maxFundingRate":"0.00375","fundingTime":"1","nextFundingTime":"3600001"}]}"#;
        let capped = parse_funding(capped).unwrap();
        assert!(capped.at_limit() && capped.last_settled_rate.is_none() && capped.interval_hours == Some(1));
        let bad = br#"{"code":"0","msg":"","data":[{"instId":"X","fundingRate":"0","maxFundingRate":"high"}]}"#;
        assert!(matches!(parse_funding(bad), Err(BodyError::Field { field: "maxFundingRate", .. })));
    }

    #[test]
    fn classifies_errors() {
        assert_eq!(classify(200, br#"{"code":"0","msg":"","data":[]}"#), Verdict::Ok);
        assert_eq!(classify(429, br#"{"code":"50011","msg":"Too Many Requests"}"#), Verdict::RateLimited);
        assert_eq!(classify(200, br#"{"code":"50011","msg":"Too Many Requests"}"#), Verdict::RateLimited);
        assert_eq!(classify(503, b"oops"), Verdict::Transient);
        assert_eq!(
            classify(200, br#"{"code":"51001","msg":"Instrument ID does not exist"}"#),
            Verdict::Api { code: "51001".into(), message: "Instrument ID does not exist".into() }
        );
        assert!(matches!(classify(404, b"not found"), Verdict::Api { .. }));
    }
}

//! perpspread-net: what every venue adapter shares.
//!
//! * [`rest::RestClient`]: HTTP GET with per-venue rate limiting ([`limiter::RateLimiter`]), retries with
//!   capped exponential backoff and jitter, and the server's back-off hints (HTTP 429/418, `Retry-After`).
//! * [`venue`]: the adapter every venue provides ([`venue::VenueAdapter`], [`venue::VenueRest`]), so the CLI,
//!   the live loop and replay are written once for all venues.

pub mod auth;
pub mod backoff;
pub mod body;
pub mod limiter;
pub mod rest;
pub mod venue;
pub mod ws;

use std::time::Duration;

use perpspread_core::{Instrument, OrderBook, Skipped, Venue};
use rust_decimal::Decimal;
use serde::Serialize;

pub use body::BodyError;
pub use rest::{RestClient, RestConfig, RestError, RestResponse};

/// A URL fit to print: the password of its user info (`redis://:secret@host`, `wss://user:secret@host`) becomes
/// `***`, and so does a user info without a password (often a token). Anything else is kept as given.
pub fn redact_url(url: &str) -> std::borrow::Cow<'_, str> {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return url.into() };
    let authority_end = url[scheme_end..].find(['/', '?', '#']).map_or(url.len(), |i| scheme_end + i);
    // An '@' after a '/', '?' or '#' may still end a password that holds one of them unencoded (base64 has '/'):
    // when a ':' comes before it, everything up to that '@' is treated as user info — too much hidden rather
    // than a secret shown.
    let rest = &url[scheme_end..];
    let at = rest[..authority_end - scheme_end]
        .rfind('@')
        .or_else(|| rest.rfind('@').filter(|at| rest[..*at].contains(':')))
        .map(|i| scheme_end + i);
    let Some(at) = at else { return url.into() };
    let userinfo = &url[scheme_end..at];
    let shown = match userinfo.split_once(':') {
        Some((user, _password)) => format!("{user}:***"),
        None => "***".to_owned(),
    };
    format!("{}{shown}{}", &url[..scheme_end], &url[at..]).into()
}

#[cfg(test)]
mod redact_tests {
    use super::redact_url;

    #[test]
    fn credentials_in_urls_are_never_shown() {
        assert_eq!(redact_url("redis://:WRONG@127.0.0.1:6379/0"), "redis://:***@127.0.0.1:6379/0");
        assert_eq!(
            redact_url("rediss://default:s3cr@t@redis.example.com:6380"),
            "rediss://default:***@redis.example.com:6380"
        );
        assert_eq!(redact_url("wss://token@stream.example.com/ws"), "wss://***@stream.example.com/ws");
        assert_eq!(redact_url("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(redact_url("https://www.okx.com/api?x=a@b"), "https://www.okx.com/api?x=a@b");
        assert_eq!(redact_url("not a url"), "not a url");
        // A base64 password with '/' in it, unencoded.
        let shown = redact_url("rediss://default:ab/cd+ef==@redis.example.com:6380/0");
        assert!(!shown.contains("ab/cd") && shown.ends_with("@redis.example.com:6380/0"), "{shown}");
    }
}

/// The instruments a venue lists, and those it lists but perpspread cannot use (with the reason).
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub instruments: Vec<Instrument>,
    pub skipped: Vec<Skipped>,
}

impl Listing {
    /// Adds one listed contract: the instrument, or the reason it was skipped.
    pub fn add(&mut self, venue: Venue, symbol: &str, mapped: Result<Instrument, BodyError>) {
        match mapped {
            Ok(instrument) => self.instruments.push(instrument),
            Err(reason) => self.skipped.push(Skipped { venue, symbol: symbol.to_owned(), reason: reason.to_string() }),
        }
    }
}

/// An order book fetched over REST.
#[derive(Debug, Clone)]
pub struct RestBook {
    pub book: OrderBook,
    /// Exchange timestamp of the snapshot, Unix ms, when the venue sends one.
    pub exchange_ts_ms: Option<u64>,
    /// Venue sequence number of the snapshot (Binance `lastUpdateId`, OKX `seqId`), when present.
    pub sequence: Option<u64>,
    /// Round-trip time of the request.
    pub latency: Duration,
}

/// Funding information of one perpetual.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Funding {
    /// Rate applied at the next funding time, as a fraction (0.0001 = 1 bp).
    pub rate: Decimal,
    /// Predicted rate of the funding after that, when the venue publishes one.
    pub next_rate: Option<Decimal>,
    /// Next funding time, Unix ms.
    pub next_funding_ms: Option<u64>,
    /// Hours between fundings, when known.
    pub interval_hours: Option<u32>,
    /// Highest and lowest rate the venue allows for this instrument, fractions (OKX `maxFundingRate` /
    /// `minFundingRate`; Binance `fundingInfo` caps of adjusted symbols), when published.
    pub cap: Option<Decimal>,
    pub floor: Option<Decimal>,
    /// Rate of the last settlement, fraction (OKX `settFundingRate`; Binance `/fapi/v1/fundingRate`), when known.
    pub last_settled_rate: Option<Decimal>,
}

impl Funding {
    /// Funding with a rate and nothing else known.
    pub fn with_rate(rate: Decimal) -> Self {
        Funding {
            rate,
            next_rate: None,
            next_funding_ms: None,
            interval_hours: None,
            cap: None,
            floor: None,
            last_settled_rate: None,
        }
    }

    /// Whether the current rate sits at the venue's cap or floor (a clamped rate says little about the premium).
    pub fn at_limit(&self) -> bool {
        self.cap.is_some_and(|cap| self.rate >= cap) || self.floor.is_some_and(|floor| self.rate <= floor)
    }
}

/// 24-hour activity of one instrument, used to rank pairs by liquidity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Activity {
    /// Traded notional over 24 h, in quote currency.
    pub quote_volume_24h: f64,
}

/// A fetched REST order-book snapshot: the request's path and query (how the feed handler recognises it) and
/// the raw response, to be fed through the pipeline like any frame (and recorded).
pub type RawSnapshot = (String, RestResponse);

/// Builds a book for `instrument` from `(price, size)` strings as the venue sent them.
pub fn book_from_levels<'a>(
    instrument: &Instrument,
    depth: usize,
    bids: impl IntoIterator<Item = (&'a str, &'a str)>,
    asks: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<OrderBook, BodyError> {
    use perpspread_core::wire::RawLevel;
    use perpspread_core::Dec64;
    let decode = |levels: Vec<(&str, &str)>| -> Result<Vec<RawLevel>, BodyError> {
        levels
            .into_iter()
            .map(|(price, qty)| {
                let price =
                    Dec64::parse(price).map_err(|_| BodyError::field("price", price, "is not a decimal number"))?;
                let qty = Dec64::parse(qty).map_err(|_| BodyError::field("size", qty, "is not a decimal number"))?;
                Ok((price, qty))
            })
            .collect()
    };
    let (bids, asks) = (decode(bids.into_iter().collect())?, decode(asks.into_iter().collect())?);
    let mut book = OrderBook::new(instrument.price_scale, instrument.qty_scale, depth);
    book.replace(&bids, &asks).map_err(|e| BodyError::Book(e.to_string()))?;
    if book.is_crossed() {
        return Err(BodyError::Book("crossed (best bid at or above best ask)".to_owned()));
    }
    Ok(book)
}

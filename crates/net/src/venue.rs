//! One adapter per venue: everything perpspread needs of a venue, behind two object-safe traits, so that the
//! CLI, the live loop, replay and the simulator wiring hold venues in one list and never name one.
//!
//! * [`VenueAdapter`]: the venue's identity and defaults, its sans-IO feed handler, how a broken book is
//!   rebuilt, its WebSocket protocol (one [`WsVenue`] per route) and a factory for its REST client.
//! * [`VenueRest`]: REST market data (instruments, books, 24 h activity, funding), REST book snapshots for the
//!   live loop, and the account's taker fees when API keys are given.
//!
//! A venue crate implements both; `perpspread-venues` lists the adapters.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use perpspread_core::{Feed, Instrument, Venue};
use rust_decimal::Decimal;

use crate::auth::Credentials;
use crate::rest::{ResponseObserver, RestConfig};
use crate::ws::WsVenue;
use crate::{Activity, BodyError, Funding, Listing, RawSnapshot, RestBook, RestError};

/// A boxed future, as object-safe traits return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Venue-specific settings of `[venues.<name>]` beyond the common ones (e.g. Binance `weight_per_minute`),
/// as JSON values; each adapter reads and checks its own.
pub type VenueOptions = serde_json::Map<String, serde_json::Value>;

/// How a venue's broken book is rebuilt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResyncPolicy {
    /// Unsubscribe and subscribe the instrument again (the venue answers with a fresh snapshot, or the feed
    /// asks for a REST snapshot when none comes).
    Resubscribe,
    /// Fetch a REST snapshot and bridge the buffered stream onto it.
    RestSnapshot,
}

/// A venue's endpoints and options, as configured.
#[derive(Debug, Clone, PartialEq)]
pub struct VenueSettings {
    pub rest_url: String,
    pub ws_url: String,
    /// Levels a side a REST book fetch asks for (`scan`, snapshots), clamped to what the venue serves.
    pub book_depth: usize,
    pub options: VenueOptions,
}

/// Everything perpspread needs of one venue.
pub trait VenueAdapter: Send + Sync {
    /// The venue.
    fn venue(&self) -> Venue;
    /// The live venue's REST base URL and WebSocket URL, as documented.
    fn default_endpoints(&self) -> (&'static str, &'static str);
    /// The deepest REST book the venue serves, levels a side (the default `book_depth`).
    fn max_book_depth(&self) -> usize;
    /// Checks the venue-specific options (unknown keys and bad values are errors naming the key).
    fn check_options(&self, options: &VenueOptions) -> Result<(), OptionError>;
    /// A fresh sans-IO feed handler.
    fn new_feed(&self) -> Box<dyn Feed>;
    /// The venue's instrument list, when `url` (a recorded REST request) is the venue's instruments endpoint:
    /// how replay finds the universe in a capture.
    fn parse_listing(&self, url: &str, body: &[u8]) -> Option<Result<Listing, BodyError>>;
    /// The request path (and query) of the venue's instrument list, as recorded in captures.
    fn listing_path(&self) -> &'static str;
    /// The Tardis.dev exchange id of these perpetuals (`okex-swap`, `binance-futures`, `bybit`).
    fn tardis_exchange(&self) -> &'static str;
    /// One message of a Tardis.dev exchange-native replay as a capture record: a WebSocket frame as received,
    /// unless Tardis generated it from a REST request (Binance's `depthSnapshot`), which becomes that REST
    /// response.
    fn import_tardis_message(&self, message: &str) -> Result<Imported, BodyError> {
        Ok(Imported::Ws(message.to_owned()))
    }
    /// How a broken book is rebuilt.
    fn resync(&self) -> ResyncPolicy;
    /// The REST client for `settings`.
    fn rest(&self, config: RestConfig, settings: &VenueSettings) -> Result<Box<dyn VenueRest>, RestError>;
    /// The WebSocket protocol, one per route (each route gets its own connections).
    fn ws_routes(&self, settings: &VenueSettings) -> Vec<Arc<dyn WsVenue>>;
}

/// A venue's REST market data; see the [module docs](self).
pub trait VenueRest: Send + Sync {
    /// The venue served.
    fn venue(&self) -> Venue;
    /// Perpetual swaps listed by the venue.
    fn instruments(&self) -> BoxFuture<'_, Result<Listing, RestError>>;
    /// An order book of up to `depth` levels a side.
    fn book<'a>(&'a self, instrument: &'a Instrument, depth: usize) -> BoxFuture<'a, Result<RestBook, RestError>>;
    /// 24 h activity of every perpetual, keyed by venue symbol.
    fn activity(&self) -> BoxFuture<'_, Result<HashMap<String, Activity>, RestError>>;
    /// Funding of the given instruments, keyed by venue symbol.
    fn funding<'a>(
        &'a self,
        instruments: &'a [&'a Instrument],
    ) -> BoxFuture<'a, Result<HashMap<String, Funding>, RestError>>;
    /// The last settled funding rate and its time (Unix ms) of each symbol, where [`VenueRest::funding`] does
    /// not carry it and the venue publishes it elsewhere (one request each: for the few legs a command shows).
    fn last_settled<'a>(&'a self, _symbols: &'a [&'a str]) -> BoxFuture<'a, HashMap<String, (Decimal, u64)>> {
        Box::pin(async { HashMap::new() })
    }
    /// The raw REST book snapshot of `symbol` that seeds or repairs a streamed book (the request path, for the
    /// feed handler to recognise it, and the response, fed through the pipeline like any frame and recorded).
    /// A venue whose books are seeded by its stream alone (Bybit: a snapshot message, and a resubscription to
    /// repair) never asks; the default says so.
    fn snapshot<'a>(&'a self, symbol: &'a str, _depth: usize) -> BoxFuture<'a, Result<RawSnapshot, RestError>> {
        Box::pin(async move {
            Err(RestError::Api {
                venue: self.venue(),
                path: symbol.to_owned(),
                code: "unused".to_owned(),
                message: "this venue's books are seeded from its stream, never from a REST snapshot".to_owned(),
            })
        })
    }
    /// With the account's API keys: the taker fee of each of `instruments` it could read, bp, keyed by symbol
    /// (instruments left out keep the configured fee); logs a summary.
    fn account_taker_fees<'a>(
        &'a self,
        credentials: &'a Credentials,
        instruments: &'a [Instrument],
    ) -> BoxFuture<'a, Result<HashMap<String, f64>, RestError>>;
    /// Reports every successful response to `observer` (the recorder).
    fn observe(&mut self, observer: Arc<dyn ResponseObserver>);
}

/// The last settled funding `(rate, settlement time ms)` of each of `symbols`, one request each through
/// `history` (the venue's funding-history endpoint, oldest entry last): the shared body of
/// [`VenueRest::last_settled`] for venues that publish it only per symbol. A symbol whose request fails is
/// left out and logged.
pub async fn last_settled_each<'a, F, Fut>(
    venue: Venue,
    symbols: &'a [&'a str],
    history: F,
) -> HashMap<String, (Decimal, u64)>
where
    F: Fn(&'a str) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<(Decimal, u64)>, RestError>>,
{
    let requests = symbols.iter().map(|symbol| {
        let request = history(symbol);
        async move {
            match request.await {
                Ok(mut history) => history.pop().map(|last| ((*symbol).to_owned(), last)),
                Err(error) => {
                    tracing::warn!("{venue} settled funding of {symbol} unavailable: {error}");
                    None
                }
            }
        }
    });
    futures::future::join_all(requests).await.into_iter().flatten().collect()
}

/// A third-party dataset's message as a capture record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Imported {
    /// A WebSocket frame, as received.
    Ws(String),
    /// A REST response to `url` (path and query).
    Rest { url: String, body: String },
}

/// A venue setting (`[venues.<name>]` key) that is unknown or holds a value the venue does not take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    #[error("unknown setting {key} ({known})")]
    Unknown { key: String, known: String },
    #[error("{key} = {value}: expected {expected}")]
    Invalid { key: String, value: String, expected: String },
}

impl OptionError {
    fn invalid(key: &str, value: impl std::fmt::Display, expected: impl Into<String>) -> Self {
        OptionError::Invalid { key: key.to_owned(), value: value.to_string(), expected: expected.into() }
    }
}

/// Fails on an option not in `known`, naming it and the known ones.
pub fn check_option_keys(options: &VenueOptions, known: &[&str]) -> Result<(), OptionError> {
    match options.keys().find(|key| !known.contains(&key.as_str())) {
        Some(key) => Err(OptionError::Unknown {
            key: key.clone(),
            known: if known.is_empty() {
                "this venue has no other settings".to_owned()
            } else {
                format!("known: {}", known.join(", "))
            },
        }),
        None => Ok(()),
    }
}

/// A string option, if set.
pub fn option_str<'a>(options: &'a VenueOptions, key: &str) -> Result<Option<&'a str>, OptionError> {
    match options.get(key) {
        None => Ok(None),
        Some(serde_json::Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(OptionError::invalid(key, other, "a string")),
    }
}

/// A positive whole-number option, if set.
pub fn option_u32(options: &VenueOptions, key: &str) -> Result<Option<u32>, OptionError> {
    match options.get(key) {
        None => Ok(None),
        Some(value) => match value.as_u64().and_then(|v| u32::try_from(v).ok()).filter(|v| *v > 0) {
            Some(v) => Ok(Some(v)),
            None => Err(OptionError::invalid(key, value, "a positive whole number")),
        },
    }
}

/// A string option that must be one of `allowed` (described by `expected` in the error), if set.
pub fn option_str_in<'a>(
    options: &'a VenueOptions,
    key: &str,
    allowed: &[&str],
    expected: &str,
) -> Result<Option<&'a str>, OptionError> {
    match option_str(options, key)? {
        Some(value) if !allowed.contains(&value) => Err(OptionError::invalid(key, format!("{value:?}"), expected)),
        value => Ok(value),
    }
}

/// A whole-number option that must be one of `allowed` (described by `expected` in the error), if set.
pub fn option_u32_in(
    options: &VenueOptions,
    key: &str,
    allowed: &[u32],
    expected: &str,
) -> Result<Option<u32>, OptionError> {
    match option_u32(options, key)? {
        Some(value) if !allowed.contains(&value) => Err(OptionError::invalid(key, value, expected)),
        value => Ok(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked_by_name_and_type() {
        let options: VenueOptions =
            serde_json::from_str(r#"{"depth_speed":"@100ms","weight_per_minute":2400}"#).unwrap();
        assert!(check_option_keys(&options, &["depth_speed", "weight_per_minute"]).is_ok());
        assert!(check_option_keys(&options, &["depth_speed"]).unwrap_err().to_string().contains("weight_per_minute"));
        assert_eq!(option_str(&options, "depth_speed"), Ok(Some("@100ms")));
        assert_eq!(option_u32(&options, "weight_per_minute"), Ok(Some(2400)));
        assert!(option_u32(&options, "depth_speed").is_err());
        assert!(option_str(&options, "weight_per_minute").is_err());
        assert_eq!(option_str(&options, "missing"), Ok(None));
        assert_eq!(option_str_in(&options, "depth_speed", &["@100ms"], "@100ms"), Ok(Some("@100ms")));
        assert_eq!(
            option_str_in(&options, "depth_speed", &["@500ms"], "@500ms").unwrap_err().to_string(),
            r#"depth_speed = "@100ms": expected @500ms"#
        );
        assert!(option_u32_in(&options, "weight_per_minute", &[1200], "1200").is_err());
    }
}

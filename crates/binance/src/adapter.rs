//! The Binance USDⓈ-M adapter: what perpspread needs of Binance perpetual futures, in one place (see
//! [`perpspread_net::venue`]). Venue options (`[venues.binance]`): `weight_per_minute` (the IP request-weight
//! budget, default 2400) and `depth_speed` (`@100ms` default, `@500ms` or `""` for 250 ms).

use std::sync::Arc;

use perpspread_core::{Feed, Venue};
use perpspread_net::rest::{RestConfig, RestError};
use perpspread_net::venue::{
    check_option_keys, option_str, option_str_in, option_u32, Imported, OptionError, ResyncPolicy, VenueAdapter,
    VenueOptions, VenueRest, VenueSettings,
};
use perpspread_net::ws::WsVenue;
use perpspread_net::{BodyError, Listing};

use crate::feed::BinanceFeed;
use crate::rest::{BinanceRest, DEFAULT_REST_URL, WEIGHT_PER_MINUTE};
use crate::ws::{BinanceWs, DEFAULT_WS_URL, DEPTH_SPEEDS};

/// Most levels `GET /fapi/v1/depth` returns.
pub const MAX_REST_DEPTH: usize = 1000;

/// Binance USDⓈ-M perpetual futures.
#[derive(Debug, Clone, Copy, Default)]
pub struct BinanceAdapter;

impl VenueAdapter for BinanceAdapter {
    fn venue(&self) -> Venue {
        Venue::Binance
    }

    fn default_endpoints(&self) -> (&'static str, &'static str) {
        (DEFAULT_REST_URL, DEFAULT_WS_URL)
    }

    fn max_book_depth(&self) -> usize {
        MAX_REST_DEPTH
    }

    fn check_options(&self, options: &VenueOptions) -> Result<(), OptionError> {
        check_option_keys(options, &["weight_per_minute", "depth_speed"])?;
        option_u32(options, "weight_per_minute")?;
        let expected = "@100ms, @500ms or \"\" (250 ms), the speeds Binance documents";
        option_str_in(options, "depth_speed", &DEPTH_SPEEDS, expected)?;
        Ok(())
    }

    fn new_feed(&self) -> Box<dyn Feed> {
        Box::new(BinanceFeed::default())
    }

    fn parse_listing(&self, url: &str, body: &[u8]) -> Option<Result<Listing, BodyError>> {
        url.starts_with("/fapi/v1/exchangeInfo").then(|| crate::symbols::parse_exchange_info(body))
    }

    fn listing_path(&self) -> &'static str {
        "/fapi/v1/exchangeInfo"
    }

    fn tardis_exchange(&self) -> &'static str {
        "binance-futures"
    }

    /// Tardis.dev records the REST snapshot it takes when a depth stream starts as a generated
    /// `<symbol>@depthSnapshot` message holding the response body; it becomes that `GET /fapi/v1/depth`
    /// response, so the feed bridges the diffs onto it exactly as live.
    fn import_tardis_message(&self, message: &str) -> Result<Imported, BodyError> {
        #[derive(serde::Deserialize)]
        struct Combined<'a> {
            #[serde(borrow)]
            stream: std::borrow::Cow<'a, str>,
            #[serde(borrow)]
            data: &'a serde_json::value::RawValue,
        }
        if !message.contains("@depthSnapshot") {
            return Ok(Imported::Ws(message.to_owned()));
        }
        let combined: Combined<'_> = perpspread_net::body::decode(message.as_bytes())?;
        let Some(symbol) = combined.stream.strip_suffix("@depthSnapshot") else {
            return Ok(Imported::Ws(message.to_owned()));
        };
        let url = format!("/fapi/v1/depth?symbol={}&limit=1000", symbol.to_ascii_uppercase());
        Ok(Imported::Rest { url, body: combined.data.get().to_owned() })
    }

    fn resync(&self) -> ResyncPolicy {
        ResyncPolicy::RestSnapshot
    }

    fn rest(&self, config: RestConfig, settings: &VenueSettings) -> Result<Box<dyn VenueRest>, RestError> {
        let weight = option_u32(&settings.options, "weight_per_minute").ok().flatten().unwrap_or(WEIGHT_PER_MINUTE);
        Ok(Box::new(BinanceRest::new(config, weight)?))
    }

    fn ws_routes(&self, settings: &VenueSettings) -> Vec<Arc<dyn WsVenue>> {
        let mut ws = BinanceWs::new(&settings.ws_url);
        if let Ok(Some(speed)) = option_str(&settings.options, "depth_speed") {
            ws.depth_speed = speed.to_owned();
        }
        ws.mark_price = true;
        ws.routes().into_iter().map(|route| Arc::new(route) as Arc<dyn WsVenue>).collect()
    }
}

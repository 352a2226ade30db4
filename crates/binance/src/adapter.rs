//! The Binance USDⓈ-M adapter: what perpspread needs of Binance perpetual futures, in one place (see
//! [`perpspread_net::venue`]). Venue options (`[venues.binance]`): `weight_per_minute` (the IP request-weight
//! budget, default 2400) and `depth_speed` (`@100ms` default, `@500ms` or `""` for 250 ms).

use std::sync::Arc;

use perpspread_core::{Feed, Venue};
use perpspread_net::rest::{RestConfig, RestError};
use perpspread_net::venue::{
    check_option_keys, option_str, option_str_in, option_u32, OptionError, ResyncPolicy, VenueAdapter, VenueOptions,
    VenueRest, VenueSettings,
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

//! The Bybit adapter: what perpspread needs of Bybit v5 linear perpetuals (USDT and USDC), in one place (see
//! [`perpspread_net::venue`]). Venue options (`[venues.bybit]`): `book_depth_stream` = 1, 50 (default), 200 or
//! 1000 levels of the `orderbook` stream.

use std::sync::Arc;

use perpspread_core::{Feed, Venue};
use perpspread_net::rest::{RestConfig, RestError};
use perpspread_net::venue::{
    check_option_keys, option_u32, option_u32_in, OptionError, ResyncPolicy, VenueAdapter, VenueOptions, VenueRest,
    VenueSettings,
};
use perpspread_net::ws::WsVenue;
use perpspread_net::{BodyError, Listing};

use crate::feed::BybitFeed;
use crate::rest::{BybitRest, DEFAULT_REST_URL, MAX_REST_DEPTH};
use crate::ws::{BybitWs, BOOK_DEPTHS, DEFAULT_WS_URL};

/// Bybit v5 linear perpetuals.
#[derive(Debug, Clone, Copy, Default)]
pub struct BybitAdapter;

impl VenueAdapter for BybitAdapter {
    fn venue(&self) -> Venue {
        Venue::Bybit
    }

    fn default_endpoints(&self) -> (&'static str, &'static str) {
        (DEFAULT_REST_URL, DEFAULT_WS_URL)
    }

    fn max_book_depth(&self) -> usize {
        MAX_REST_DEPTH
    }

    fn check_options(&self, options: &VenueOptions) -> Result<(), OptionError> {
        check_option_keys(options, &["book_depth_stream"])?;
        option_u32_in(options, "book_depth_stream", &BOOK_DEPTHS, "1, 50, 200 or 1000")?;
        Ok(())
    }

    fn new_feed(&self) -> Box<dyn Feed> {
        Box::new(BybitFeed::default())
    }

    fn parse_listing(&self, url: &str, body: &[u8]) -> Option<Result<Listing, BodyError>> {
        url.starts_with("/v5/market/instruments-info").then(|| crate::symbols::parse_instruments(body))
    }

    fn listing_path(&self) -> &'static str {
        "/v5/market/instruments-info?category=linear&limit=1000"
    }

    fn tardis_exchange(&self) -> &'static str {
        "bybit"
    }

    fn resync(&self) -> ResyncPolicy {
        ResyncPolicy::Resubscribe
    }

    fn rest(&self, config: RestConfig, _settings: &VenueSettings) -> Result<Box<dyn VenueRest>, RestError> {
        Ok(Box::new(BybitRest::new(config)?))
    }

    fn ws_routes(&self, settings: &VenueSettings) -> Vec<Arc<dyn WsVenue>> {
        let mut ws = BybitWs::new(&settings.ws_url);
        if let Ok(Some(depth)) = option_u32(&settings.options, "book_depth_stream") {
            ws.book_depth = depth;
        }
        ws.funding = true;
        vec![Arc::new(ws)]
    }
}

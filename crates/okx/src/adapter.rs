//! The OKX adapter: what perpspread needs of OKX v5 public swaps, in one place (see
//! [`perpspread_net::venue`]). Venue options (`[venues.okx]`): `book_channel` = `books` (400 levels, `seqId`
//! chain; default), `books5` or `bbo-tbt`.

use std::sync::Arc;

use perpspread_core::{Feed, Venue};
use perpspread_net::rest::{RestConfig, RestError};
use perpspread_net::venue::{
    check_option_keys, option_str, option_str_in, Imported, OptionError, ResyncPolicy, VenueAdapter, VenueOptions,
    VenueRest, VenueSettings,
};
use perpspread_net::ws::WsVenue;
use perpspread_net::{BodyError, Listing};

use crate::feed::OkxFeed;
use crate::rest::{OkxRest, DEFAULT_REST_URL, MAX_REST_DEPTH};
use crate::ws::{OkxWs, DEFAULT_WS_URL};

/// Book channels a subscription may use.
pub(crate) const BOOK_CHANNELS: [&str; 3] = ["books", "books5", "bbo-tbt"];

/// OKX v5 public swaps.
#[derive(Debug, Clone, Copy, Default)]
pub struct OkxAdapter;

impl VenueAdapter for OkxAdapter {
    fn venue(&self) -> Venue {
        Venue::Okx
    }

    fn default_endpoints(&self) -> (&'static str, &'static str) {
        (DEFAULT_REST_URL, DEFAULT_WS_URL)
    }

    fn max_book_depth(&self) -> usize {
        MAX_REST_DEPTH
    }

    fn check_options(&self, options: &VenueOptions) -> Result<(), OptionError> {
        check_option_keys(options, &["book_channel"])?;
        option_str_in(options, "book_channel", &BOOK_CHANNELS, "books, books5 or bbo-tbt")?;
        Ok(())
    }

    fn new_feed(&self) -> Box<dyn Feed> {
        Box::new(OkxFeed::default())
    }

    fn parse_listing(&self, url: &str, body: &[u8]) -> Option<Result<Listing, BodyError>> {
        url.starts_with("/api/v5/public/instruments").then(|| crate::symbols::parse_instruments(body))
    }

    fn listing_path(&self) -> &'static str {
        "/api/v5/public/instruments?instType=SWAP"
    }

    fn tardis_exchange(&self) -> &'static str {
        "okex-swap"
    }

    /// Tardis's `okex-swap` data before OKX's v5 API holds v3 messages (`{"table":"swap/depth_l2_tbt",…}`),
    /// which no v5 feed reads: refused by name instead of replaying as unknown frames.
    fn import_tardis_message(&self, message: &str) -> Result<Imported, BodyError> {
        if message.trim_start().starts_with(r#"{"table""#) {
            return Err(BodyError::Unusable(
                "an OKEx v3 message (\"table\"): data recorded before OKX's v5 API; only v5 messages are read".into(),
            ));
        }
        Ok(Imported::Ws(message.to_owned()))
    }

    fn resync(&self) -> ResyncPolicy {
        ResyncPolicy::Resubscribe
    }

    fn rest(&self, config: RestConfig, _settings: &VenueSettings) -> Result<Box<dyn VenueRest>, RestError> {
        Ok(Box::new(OkxRest::new(config)?))
    }

    fn ws_routes(&self, settings: &VenueSettings) -> Vec<Arc<dyn WsVenue>> {
        let mut ws = OkxWs::new(&settings.ws_url);
        if let Ok(Some(channel)) = option_str(&settings.options, "book_channel") {
            ws.book_channel = channel.to_owned();
        }
        ws.funding = true;
        vec![Arc::new(ws)]
    }
}

//! perpspread-venues: the list of venue adapters. This crate and [`Venue`] are the only places that know which
//! venues exist; everything else iterates [`all`] or asks [`adapter`] (see [`perpspread_net::venue`]).
//!
//! Adding a venue (e.g. Bitget or Hyperliquid): a crate implementing `VenueAdapter` and `VenueRest` (REST,
//! WebSocket routes and limits, the sans-IO feed with its book sync, symbol rules, fee fetch), a `Venue` variant,
//! one arm below, its defaults in `config/default.toml`, and its wire protocol in the simulator.

use perpspread_core::{Feed, Venue, VenueMap};
use perpspread_net::venue::VenueAdapter;

/// The adapter of `venue`.
pub fn adapter(venue: Venue) -> &'static dyn VenueAdapter {
    match venue {
        Venue::Okx => &perpspread_okx::OkxAdapter,
        Venue::Binance => &perpspread_binance::BinanceAdapter,
        Venue::Bybit => &perpspread_bybit::BybitAdapter,
    }
}

/// Every adapter, in [`Venue::ALL`] order.
pub fn all() -> impl Iterator<Item = &'static dyn VenueAdapter> {
    Venue::ALL.into_iter().map(adapter)
}

/// A fresh feed handler for every venue.
pub fn feeds() -> VenueMap<Box<dyn Feed>> {
    VenueMap::from_fn(|venue| adapter(venue).new_feed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_venue_has_its_own_adapter_and_feed() {
        for venue in Venue::ALL {
            assert_eq!(adapter(venue).venue(), venue);
            assert_eq!(adapter(venue).new_feed().venue(), venue);
            let (rest, ws) = adapter(venue).default_endpoints();
            assert!(rest.starts_with("https://") && ws.starts_with("wss://"), "{venue}: {rest} {ws}");
            assert!(adapter(venue).check_options(&Default::default()).is_ok());
        }
        assert_eq!(all().count(), Venue::COUNT);
    }
}

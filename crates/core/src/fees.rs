//! Trading fees in basis points (1 bp = 0.01 % = 0.0001).

use crate::instrument::Instrument;
use crate::venue::{Venue, VenueMap};

/// Taker fees per venue and whether closing the position is charged as well.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeeModel {
    taker_bp: VenueMap<f64>,
    /// When true (the default) a round trip is charged: opening both legs and closing both legs,
    /// i.e. four taker fees. When false only the two opening legs are charged.
    pub count_exit: bool,
}

impl Default for FeeModel {
    fn default() -> Self {
        FeeModel::uniform(5.0, true)
    }
}

impl FeeModel {
    /// Builds a model from per-venue taker fees in bp.
    pub fn new(taker_bp: VenueMap<f64>, count_exit: bool) -> Self {
        FeeModel { taker_bp, count_exit }
    }

    /// The same taker fee on every venue, bp.
    pub fn uniform(taker_bp: f64, count_exit: bool) -> Self {
        FeeModel { taker_bp: VenueMap::from_fn(|_| taker_bp), count_exit }
    }

    /// This model with `venue`'s taker fee set to `bp`.
    pub fn with_taker_bp(mut self, venue: Venue, bp: f64) -> Self {
        self.taker_bp[venue] = bp;
        self
    }

    /// Taker fee of one venue, in bp of traded notional.
    pub fn taker_bp(&self, venue: Venue) -> f64 {
        self.taker_bp[venue]
    }

    /// Total fees of the trade, in bp of notional: buy leg + sell leg, doubled when the exit is counted.
    pub fn total_bp(&self, buy: Venue, sell: Venue) -> f64 {
        self.round_trip(self.taker_bp(buy) + self.taker_bp(sell))
    }

    /// Taker fee of one instrument, bp: the account's rate for it when known, else its venue's.
    pub fn instrument_taker_bp(&self, instrument: &Instrument) -> f64 {
        instrument.taker_fee_bp.unwrap_or_else(|| self.taker_bp(instrument.venue))
    }

    /// [`FeeModel::total_bp`] with each leg's own rate ([`FeeModel::instrument_taker_bp`]).
    pub fn total_bp_of(&self, buy: &Instrument, sell: &Instrument) -> f64 {
        self.round_trip(self.instrument_taker_bp(buy) + self.instrument_taker_bp(sell))
    }

    fn round_trip(&self, legs_bp: f64) -> f64 {
        if self.count_exit {
            2.0 * legs_bp
        } else {
            legs_bp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_counts_four_legs() {
        let fees = FeeModel::uniform(5.0, true).with_taker_bp(Venue::Binance, 4.5);
        assert_eq!(fees.total_bp(Venue::Okx, Venue::Binance), 19.0);
        let entry_only = FeeModel { count_exit: false, ..fees };
        assert_eq!(entry_only.total_bp(Venue::Binance, Venue::Okx), 9.5);
        assert_eq!(FeeModel::default().total_bp(Venue::Okx, Venue::Binance), 20.0);
    }

    #[test]
    fn an_instruments_own_rate_wins_over_its_venues() {
        let instrument = |venue, fee: Option<f64>| Instrument {
            taker_fee_bp: fee,
            ..crate::testkit::instrument(venue, "X", "BTC", "USDT").build()
        };
        let fees = FeeModel::uniform(5.0, true).with_taker_bp(Venue::Binance, 4.5);
        let (okx, binance) = (instrument(Venue::Okx, Some(2.0)), instrument(Venue::Binance, None));
        assert_eq!(fees.instrument_taker_bp(&okx), 2.0);
        assert_eq!(fees.instrument_taker_bp(&binance), 4.5);
        assert_eq!(fees.total_bp_of(&okx, &binance), 13.0);
    }
}

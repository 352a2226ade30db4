//! Test kit (cargo feature `test-util`; always compiled for this crate's own tests): short builders for
//! the instruments, pairs and books that every crate's tests need, so that none types out an
//! [`Instrument::new`] of ten arguments. Helpers panic on bad literals — they are for tests only.

use rust_decimal::Decimal;

use crate::book::OrderBook;
use crate::feed::{BookState, RecvTime, TrackedBook};
use crate::instrument::{ContractKind, Instrument, PairKey};
use crate::num::Dec64;
use crate::universe::Pair;
use crate::venue::Venue;

/// A decimal literal.
pub fn dec(text: &str) -> Decimal {
    text.parse().unwrap_or_else(|_| panic!("{text:?} is not a decimal"))
}

/// A fixed-point literal.
pub fn dec64(text: &str) -> Dec64 {
    Dec64::parse(text).unwrap_or_else(|_| panic!("{text:?} is not a fixed-point number"))
}

/// Builds an [`Instrument`]: linear, settled in the quote asset, one base unit per size and price unit,
/// tick 0.1, lot and minimum size 1 unless set otherwise.
#[derive(Debug, Clone)]
pub struct InstrumentBuilder {
    venue: Venue,
    symbol: String,
    key: PairKey,
    kind: ContractKind,
    base_per_qty: Decimal,
    base_per_price: Decimal,
    tick: Decimal,
    lot: Decimal,
    min: Option<Decimal>,
    taker_fee_bp: Option<f64>,
}

/// A `base/quote` contract called `symbol` on `venue` (see [`InstrumentBuilder`] for the defaults).
pub fn instrument(venue: Venue, symbol: &str, base: &str, quote: &str) -> InstrumentBuilder {
    InstrumentBuilder {
        venue,
        symbol: symbol.to_owned(),
        key: PairKey::new(base, quote),
        kind: ContractKind::Linear,
        base_per_qty: Decimal::ONE,
        base_per_price: Decimal::ONE,
        tick: dec("0.1"),
        lot: Decimal::ONE,
        min: None,
        taker_fee_bp: None,
    }
}

impl InstrumentBuilder {
    /// Base units per unit of size (OKX `ctVal`, Binance's `1000` prefix).
    pub fn base_per_qty(mut self, value: &str) -> Self {
        self.base_per_qty = dec(value);
        self
    }

    /// Base units a quoted price refers to.
    pub fn base_per_price(mut self, value: &str) -> Self {
        self.base_per_price = dec(value);
        self
    }

    /// Price tick.
    pub fn tick(mut self, value: &str) -> Self {
        self.tick = dec(value);
        self
    }

    /// Lot size (also the minimum size unless [`InstrumentBuilder::min`] is set).
    pub fn lot(mut self, value: &str) -> Self {
        self.lot = dec(value);
        self
    }

    /// Minimum order size.
    pub fn min(mut self, value: &str) -> Self {
        self.min = Some(dec(value));
        self
    }

    /// An inverse (coin-margined) contract.
    pub fn inverse(mut self) -> Self {
        self.kind = ContractKind::Inverse;
        self
    }

    /// The taker fee the venue reported for this instrument, bp.
    pub fn taker_fee_bp(mut self, bp: f64) -> Self {
        self.taker_fee_bp = Some(bp);
        self
    }

    /// The instrument.
    pub fn build(self) -> Instrument {
        let settle = match self.kind {
            ContractKind::Linear => self.key.quote.clone(),
            ContractKind::Inverse => self.key.base.clone(),
        };
        let min = self.min.unwrap_or(self.lot);
        let instrument = Instrument::new(
            self.venue,
            self.symbol,
            self.key,
            settle,
            self.kind,
            self.base_per_qty,
            self.base_per_price,
            self.tick,
            self.lot,
            min,
        );
        Instrument { taker_fee_bp: self.taker_fee_bp, ..instrument }
    }
}

/// OKX `<BASE>-USDT-SWAP` with `ctVal` 0.01 and lot 1 (BTC's rules).
pub fn okx_linear(base: &str) -> InstrumentBuilder {
    instrument(Venue::Okx, &format!("{base}-USDT-SWAP"), base, "USDT").base_per_qty("0.01")
}

/// Binance `<BASE>USDT` with lot 0.001 (BTC's rules).
pub fn binance_linear(base: &str) -> InstrumentBuilder {
    instrument(Venue::Binance, &format!("{base}USDT"), base, "USDT").lot("0.001")
}

/// Bybit `<BASE>USDT` with lot 0.001 (BTC's rules).
pub fn bybit_linear(base: &str) -> InstrumentBuilder {
    instrument(Venue::Bybit, &format!("{base}USDT"), base, "USDT").lot("0.001")
}

/// The pair of two legs (keyed by the first leg's market).
pub fn pair(first: Instrument, second: Instrument) -> Pair {
    Pair { key: first.key.clone(), legs: [first, second] }
}

/// `<BASE>/USDT` on OKX and Binance with BTC's rules ([`okx_linear`], [`binance_linear`]).
pub fn okx_binance_pair(base: &str) -> Pair {
    pair(okx_linear(base).build(), binance_linear(base).build())
}

/// A live book of one level a side (price scale 1, size scale 3), received at `recv_ns` and sent by the
/// venue 5 ms earlier.
pub fn live_book(bid: &str, ask: &str, qty: &str, recv_ns: u64) -> TrackedBook {
    let mut book = OrderBook::new(1, 3, 400);
    book.load_snapshot([(dec64(bid), dec64(qty))], [(dec64(ask), dec64(qty))]).expect("a valid one-level book");
    let mut tracked = TrackedBook::new(book);
    tracked.state = BookState::Live;
    tracked.recv = RecvTime { wall_ns: recv_ns, mono_ns: recv_ns };
    tracked.exchange_ms = Some(recv_ns / 1_000_000 - 5);
    tracked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_defaults_and_settings() {
        let okx = okx_linear("BTC").build();
        assert_eq!(
            (okx.symbol.as_str(), okx.base_per_qty_unit, okx.lot_size),
            ("BTC-USDT-SWAP", dec("0.01"), dec("1"))
        );
        let pepe = instrument(Venue::Binance, "1000PEPEUSDT", "PEPE", "USDT")
            .base_per_qty("1000")
            .base_per_price("1000")
            .tick("0.0000001")
            .lot("1")
            .min("5")
            .taker_fee_bp(4.0)
            .build();
        assert_eq!(pepe.key, PairKey::new("PEPE", "USDT"));
        assert_eq!((pepe.min_size, pepe.price_scale, pepe.taker_fee_bp), (dec("5"), 7, Some(4.0)));
        let inverse = instrument(Venue::Okx, "BTC-USD-SWAP", "BTC", "USD").inverse().build();
        assert_eq!(inverse.settle, "BTC");
        let book = live_book("99.5", "100.5", "2", 1_000_000_000);
        assert_eq!(book.state, BookState::Live);
        assert_eq!(book.exchange_ms, Some(995));
    }
}

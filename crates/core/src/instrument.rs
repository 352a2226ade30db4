//! Venues and instruments, normalized so that the same contract on two venues can be compared.

use rust_decimal::Decimal;
use serde::Serialize;
use std::fmt;

use crate::num::decimals_of;
pub use crate::venue::Venue;

/// How a contract's value relates to its base asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ContractKind {
    /// Margined and settled in the quote asset; one contract is a fixed amount of base.
    Linear,
    /// Margined and settled in the base asset; one contract is a fixed amount of quote (e.g. 100 USD).
    Inverse,
}

/// The normalized market a pair trades: base and quote asset, e.g. `BTC/USDT`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct PairKey {
    pub base: String,
    pub quote: String,
}

impl PairKey {
    /// Builds a key from asset names (upper-cased).
    pub fn new(base: &str, quote: &str) -> Self {
        PairKey { base: base.to_ascii_uppercase(), quote: quote.to_ascii_uppercase() }
    }
}

impl fmt::Display for PairKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.quote)
    }
}

/// One tradable contract on one venue, with everything needed to convert its prices and sizes
/// into base-asset units.
///
/// * A size of `q` (in the venue's size unit: contracts on OKX, coins or `1000`-coin units on Binance)
///   is `q × base_per_qty_unit` base units.
/// * A price of `p` is the quote paid for `base_per_price_unit` base units, so the price of one base unit
///   is `p / base_per_price_unit` (Binance `1000PEPEUSDT` quotes 1000 PEPE; OKX quotes one coin).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Instrument {
    pub venue: Venue,
    /// The venue's own symbol, e.g. `BTC-USDT-SWAP` or `1000PEPEUSDT`.
    pub symbol: String,
    /// Normalized market, e.g. `PEPE/USDT`.
    pub key: PairKey,
    /// Asset used for margin and settlement.
    pub settle: String,
    pub kind: ContractKind,
    /// Base units represented by one unit of size (OKX `ctVal × ctMult`; Binance the `1000` prefix).
    pub base_per_qty_unit: Decimal,
    /// Base units a quoted price refers to (1 on OKX; the `1000` prefix on Binance).
    pub base_per_price_unit: Decimal,
    /// Minimum price increment, in the venue's price unit.
    pub tick_size: Decimal,
    /// Size increment, in the venue's size unit.
    pub lot_size: Decimal,
    /// Minimum order size, in the venue's size unit.
    pub min_size: Decimal,
    /// Decimals of the integer grid prices are stored on (from the tick size).
    pub price_scale: u8,
    /// Decimals of the integer grid sizes are stored on (from the lot size).
    pub qty_scale: u8,
    /// The venue's trading-fee group of the instrument, when it has one (OKX `groupId`).
    pub fee_group: Option<String>,
    /// The account's taker fee on this instrument, bp, when read from the venue (else the venue's default).
    pub taker_fee_bp: Option<f64>,
}

impl Instrument {
    /// Builds an instrument, deriving the integer grids from tick and lot sizes.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        venue: Venue,
        symbol: impl Into<String>,
        key: PairKey,
        settle: impl Into<String>,
        kind: ContractKind,
        base_per_qty_unit: Decimal,
        base_per_price_unit: Decimal,
        tick_size: Decimal,
        lot_size: Decimal,
        min_size: Decimal,
    ) -> Self {
        Instrument {
            venue,
            symbol: symbol.into(),
            key,
            settle: settle.into(),
            kind,
            base_per_qty_unit,
            base_per_price_unit,
            tick_size,
            lot_size,
            min_size,
            price_scale: decimals_of(tick_size),
            qty_scale: decimals_of(lot_size),
            fee_group: None,
            taker_fee_bp: None,
        }
    }

    /// The same instrument in the venue's fee group `group`.
    pub fn with_fee_group(mut self, group: impl Into<String>) -> Self {
        self.fee_group = Some(group.into());
        self
    }

    /// Lot size expressed in base units.
    pub(crate) fn lot_base(&self) -> Decimal {
        self.lot_size * self.base_per_qty_unit
    }

    /// Converts a venue price into the price of one base unit.
    pub fn price_per_base(&self, venue_price: Decimal) -> Decimal {
        venue_price / self.base_per_price_unit
    }
}

/// Splits a scaled base asset into the underlying asset and its multiplier: a leading or trailing power of ten
/// of at least 1000 (a coin may end in `100`; no venue scales by 100), or Binance's `1M`: `1000PEPE` → PEPE ×
/// 1000, `1000000MOG` → MOG × 10⁶, `1MBABYDOGE` → BABYDOGE × 10⁶, Bybit's `10000SATS` → SATS × 10 000 and
/// `SHIB1000` → SHIB × 1000. Assets that merely contain digits (`1INCH`, `C98`, `API3`) are left alone.
pub fn split_scaled_asset(asset: &str) -> (&str, u64) {
    let power = |digits: &str| -> Option<u64> {
        (digits.len() >= 4 && digits.starts_with('1') && digits[1..].bytes().all(|b| b == b'0'))
            .then(|| digits.parse().ok())
            .flatten()
    };
    let letters = |rest: &str| rest.len() >= 2 && rest.bytes().all(|b| b.is_ascii_alphabetic());
    if let Some(rest) = asset.strip_prefix("1M").filter(|rest| letters(rest)) {
        return (rest, 1_000_000);
    }
    let leading = asset.bytes().take_while(u8::is_ascii_digit).count();
    if let Some(multiplier) = power(&asset[..leading]).filter(|_| letters(&asset[leading..])) {
        return (&asset[leading..], multiplier);
    }
    let trailing = asset.bytes().rev().take_while(u8::is_ascii_digit).count();
    let (rest, digits) = asset.split_at(asset.len() - trailing);
    match power(digits).filter(|_| letters(rest)) {
        Some(multiplier) => (rest, multiplier),
        None => (asset, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_scaling_prefixes_only() {
        assert_eq!(split_scaled_asset("1000PEPE"), ("PEPE", 1000));
        assert_eq!(split_scaled_asset("1000SHIB"), ("SHIB", 1000));
        assert_eq!(split_scaled_asset("1000000MOG"), ("MOG", 1_000_000));
        assert_eq!(split_scaled_asset("1MBABYDOGE"), ("BABYDOGE", 1_000_000));
        assert_eq!(split_scaled_asset("1INCH"), ("1INCH", 1));
        assert_eq!(split_scaled_asset("BTC"), ("BTC", 1));
        assert_eq!(split_scaled_asset("1000"), ("1000", 1));
        assert_eq!(split_scaled_asset("10000SATS"), ("SATS", 10_000));
        assert_eq!(split_scaled_asset("SHIB1000"), ("SHIB", 1000));
        for asset in ["C98", "API3", "10X", "1MX", "SYN100", "100X"] {
            assert_eq!(split_scaled_asset(asset), (asset, 1), "{asset}");
        }
    }

    #[test]
    fn derives_grids_and_units() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let pepe = Instrument::new(
            Venue::Binance,
            "1000PEPEUSDT",
            PairKey::new("PEPE", "USDT"),
            "USDT",
            ContractKind::Linear,
            d("1000"),
            d("1000"),
            d("0.0000001"),
            d("1"),
            d("1"),
        );
        assert_eq!(pepe.price_scale, 7);
        assert_eq!(pepe.qty_scale, 0);
        assert_eq!(pepe.price_per_base(d("0.0123")), d("0.0000123"));
        assert_eq!(pepe.lot_base(), d("1000"));
    }
}

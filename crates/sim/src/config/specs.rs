//! How each venue lists a simulated contract: the fields of its instruments endpoint, with the defaults
//! the live venues show.

use perpspread_core::ContractKind;
use serde::{Deserialize, Serialize};

use super::*;

/// How OKX lists a swap (`GET /api/v5/public/instruments?instType=SWAP`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OkxSpec {
    /// e.g. `BTC-USDT-SWAP`.
    pub inst_id: String,
    /// Contract value: base units per contract (linear) or quote units (inverse).
    pub ct_val: Decimal,
    #[serde(with = "contract_kind")]
    pub ct_type: ContractKind,
    pub tick_sz: Decimal,
    pub lot_sz: Decimal,
    pub min_sz: Decimal,
    /// `live`, `suspend`, `preopen`, …
    #[serde(default = "live")]
    pub state: String,
}

fn live() -> String {
    "live".into()
}

/// How Binance USDⓈ-M lists a symbol (`GET /fapi/v1/exchangeInfo`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BinanceSpec {
    /// e.g. `BTCUSDT`, `1000PEPEUSDT`, `BTCUSDT_260626`.
    pub symbol: String,
    /// Base units per price and size unit: 1, or 1000 for `1000PEPEUSDT`.
    #[serde(default = "one")]
    pub multiplier: u32,
    pub tick_size: Decimal,
    pub step_size: Decimal,
    pub min_qty: Decimal,
    /// Decimals prices are written with (prices are padded, e.g. `"7.6110"`).
    pub price_precision: u8,
    /// Decimals sizes are written with.
    pub quantity_precision: u8,
    /// `PERPETUAL`, `CURRENT_QUARTER`, …
    #[serde(default = "perpetual")]
    pub contract_type: String,
    /// `TRADING`, `SETTLING`, `PENDING_TRADING`, …
    #[serde(default = "trading")]
    pub status: String,
    /// Delivery date, Unix ms (4133404800000 for perpetuals).
    #[serde(default = "perpetual_delivery")]
    pub delivery_date: u64,
}

fn one() -> u32 {
    1
}
fn perpetual() -> String {
    "PERPETUAL".into()
}
fn trading() -> String {
    "TRADING".into()
}
fn perpetual_delivery() -> u64 {
    4_133_404_800_000
}

impl OkxSpec {
    /// A linear USDⓈ swap spec from decimal strings.
    pub fn linear(inst_id: &str, ct_val: &str, tick_sz: &str, lot_sz: &str) -> Self {
        OkxSpec {
            inst_id: inst_id.into(),
            ct_val: dec(ct_val),
            ct_type: ContractKind::Linear,
            tick_sz: dec(tick_sz),
            lot_sz: dec(lot_sz),
            min_sz: dec(lot_sz),
            state: live(),
        }
    }

    /// The normalized instrument for `pair`.
    pub fn instrument(&self, pair: &SimPair) -> Instrument {
        let settle = match self.ct_type {
            ContractKind::Linear => pair.quote.clone(),
            ContractKind::Inverse => pair.base.clone(),
        };
        Instrument::new(
            Venue::Okx,
            &self.inst_id,
            pair.key(),
            settle,
            self.ct_type,
            self.ct_val,
            Decimal::ONE,
            self.tick_sz,
            self.lot_sz,
            self.min_sz,
        )
    }
}

impl BinanceSpec {
    /// A USDⓈ-M perpetual spec from decimal strings.
    pub fn perpetual(symbol: &str, tick: &str, step: &str, price_precision: u8, quantity_precision: u8) -> Self {
        BinanceSpec {
            symbol: symbol.into(),
            multiplier: if symbol.starts_with("1000") { 1000 } else { 1 },
            tick_size: dec(tick),
            step_size: dec(step),
            min_qty: dec(step),
            price_precision,
            quantity_precision,
            contract_type: perpetual(),
            status: trading(),
            delivery_date: perpetual_delivery(),
        }
    }

    /// The asset Binance names as base (`1000PEPE` for a 1000-multiplied symbol).
    pub fn base_asset(&self, pair: &SimPair) -> String {
        scaled_base(self.multiplier, &pair.base)
    }

    /// The normalized instrument for `pair`.
    pub fn instrument(&self, pair: &SimPair) -> Instrument {
        let grid = (self.tick_size, self.step_size, self.min_qty);
        scaled_linear(Venue::Binance, &self.symbol, pair, self.multiplier, grid)
    }
}

/// A Bybit v5 linear perpetual (`contractType` `LinearPerpetual`, status `Trading`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BybitSpec {
    /// e.g. `BTCUSDT`, `1000PEPEUSDT`, `BTCPERP` (USDC).
    pub symbol: String,
    /// Base units per price and size unit: 1, or 1000 for `1000PEPEUSDT` (base coin `1000PEPE`).
    #[serde(default = "one")]
    pub multiplier: u32,
    pub tick_size: Decimal,
    pub qty_step: Decimal,
    /// Decimals prices are written with (`priceScale`).
    pub price_scale: u8,
    /// Decimals sizes are written with.
    pub qty_decimals: u8,
}

impl BybitSpec {
    /// A linear perpetual spec from decimal strings.
    pub fn perpetual(symbol: &str, tick: &str, step: &str, price_scale: u8, qty_decimals: u8) -> Self {
        BybitSpec {
            symbol: symbol.into(),
            multiplier: if symbol.starts_with("1000") { 1000 } else { 1 },
            tick_size: dec(tick),
            qty_step: dec(step),
            price_scale,
            qty_decimals,
        }
    }

    /// The coin Bybit names as base (`1000PEPE` for a 1000-multiplied symbol).
    pub fn base_coin(&self, pair: &SimPair) -> String {
        scaled_base(self.multiplier, &pair.base)
    }

    /// The normalized instrument for `pair`.
    pub fn instrument(&self, pair: &SimPair) -> Instrument {
        scaled_linear(Venue::Bybit, &self.symbol, pair, self.multiplier, (self.tick_size, self.qty_step, self.qty_step))
    }
}

/// The base a venue that prefixes a multiplier names (`1000PEPE` for 1000 PEPE; `PEPE` for 1).
fn scaled_base(multiplier: u32, base: &str) -> String {
    if multiplier == 1 {
        base.to_owned()
    } else {
        format!("{multiplier}{base}")
    }
}

/// A linear contract whose prices and sizes are per `multiplier` base units, on a `(tick, lot, min)` grid.
fn scaled_linear(
    venue: Venue,
    symbol: &str,
    pair: &SimPair,
    multiplier: u32,
    (tick, lot, min): (Decimal, Decimal, Decimal),
) -> Instrument {
    let multiplier = Decimal::from(multiplier);
    let settle = pair.quote.clone();
    Instrument::new(venue, symbol, pair.key(), settle, ContractKind::Linear, multiplier, multiplier, tick, lot, min)
}

//! The executable cross-venue spread: buy at one venue's asks, sell at the other's bids, both walked
//! through the book for the same size in base units, net of taker fees.
//!
//! Formulas (all figures per base unit of the pair, so contract sizes and `1000`-prefixes cancel out):
//! * `buy_vwap  = cost of buying  s base units at the buy venue's asks / s`
//! * `sell_vwap = proceeds of selling s base units at the sell venue's bids / s`
//! * `gross_bp  = (sell_vwap − buy_vwap) / buy_vwap × 10 000`
//! * `fees_bp   = (taker_buy + taker_sell) × 2` (open and close both legs; × 1 if exit is not counted)
//! * `net_bp    = gross_bp − fees_bp`
//!
//! Sizes are whole multiples of the pair's common step (the least common multiple of both lot sizes in
//! base units), so both legs are executable at exactly the same base quantity. The walks accumulate
//! exact integer notionals on the books' grids; only the final ratios are floating point.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::book::{OrderBook, Side};
use crate::fees::FeeModel;
use crate::instrument::{Instrument, Venue};
use crate::num::POW10;
use crate::universe::Pair;
pub use crate::venue::Direction;

/// How large a trade to evaluate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "unit", content = "amount")]
pub enum SizeTarget {
    /// A quantity of the base asset (e.g. 0.5 BTC).
    Base(Decimal),
    /// A quote notional (e.g. 10 000 USDT), converted to base at the buy venue's executable VWAP.
    Quote(Decimal),
}

/// One venue's book together with the instrument that gives its units meaning.
#[derive(Debug, Clone, Copy)]
pub struct LegBook<'a> {
    pub instrument: &'a Instrument,
    pub book: &'a OrderBook,
}

/// A leg's unit conversions for one pair and one pair of book grids: computed once and reused for every
/// evaluation while the book's scales stay the same (see [`LegUnits::fits`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LegUnits {
    price_scale: u8,
    qty_scale: u8,
    /// Base units per unit of size on the book's grid.
    base_per_qty: f64,
    /// Quote per base unit for one unit of the book's price grid.
    quote_per_price: f64,
    /// Size units in one common step, on the qty grid refined by `10^extra`: `(units_per_step, extra)`.
    per_step: Option<(i64, u8)>,
    /// Quote currency per unit of `price × qty` on the price grid and the refined qty grid (a product
    /// instead of a division in every walk).
    quote_per_refined_notional: f64,
}

impl LegUnits {
    /// Conversions for `instrument` quoted in `book`, with the pair's common step `step_base`.
    pub fn new(instrument: &Instrument, book: &OrderBook, step_base: Decimal) -> Self {
        let (price_scale, qty_scale) = (book.price_scale(), book.qty_scale());
        let per_qty = instrument.base_per_qty_unit.to_f64().unwrap_or(f64::NAN);
        let per_price = instrument.base_per_price_unit.to_f64().unwrap_or(f64::NAN);
        let per_step = {
            let units = step_base / instrument.base_per_qty_unit * Decimal::from(POW10[usize::from(qty_scale)]);
            let extra = crate::num::decimals_of(units);
            POW10.get(usize::from(extra)).and_then(|p| (units * Decimal::from(*p)).to_i64()).map(|u| (u, extra))
        };
        let quote_per_notional = per_qty / per_price / pow10_f64(price_scale) / pow10_f64(qty_scale);
        LegUnits {
            price_scale,
            qty_scale,
            quote_per_refined_notional: per_step.map_or(f64::NAN, |(_, extra)| quote_per_notional / pow10_f64(extra)),
            base_per_qty: per_qty / pow10_f64(qty_scale),
            quote_per_price: 1.0 / per_price / pow10_f64(price_scale),
            per_step,
        }
    }

    /// Whether these conversions match the book's current grids.
    pub fn fits(&self, book: &OrderBook) -> bool {
        (self.price_scale, self.qty_scale) == (book.price_scale(), book.qty_scale())
    }

    /// A level as (quote per base unit, base units).
    fn per_base(&self, price: i64, qty: i64) -> (f64, f64) {
        (price as f64 * self.quote_per_price, qty as f64 * self.base_per_qty)
    }
}

/// A leg's book with its unit conversions.
#[derive(Debug, Clone, Copy)]
struct Leg<'a> {
    view: LegBook<'a>,
    units: LegUnits,
}

impl Leg<'_> {
    fn per_base(&self, price: i64, qty: i64) -> (f64, f64) {
        self.units.per_base(price, qty)
    }
}

/// A pair's common lot step in the forms the calculator needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LotStep {
    base: Decimal,
    as_f64: f64,
    /// `1 / as_f64`: step counts by a product instead of a division.
    per_base: f64,
    /// The step's mantissa when it fits 64 bits (it nearly always does), for cheap multiples.
    mantissa: Option<i64>,
}

impl LotStep {
    /// The step, in base units (see [`Pair::common_step_base`]).
    pub fn new(base: Decimal) -> Self {
        let as_f64 = base.to_f64().unwrap_or(f64::NAN);
        LotStep { base, as_f64, per_base: 1.0 / as_f64, mantissa: i64::try_from(base.mantissa()).ok() }
    }

    /// The step, in base units.
    pub fn base(&self) -> Decimal {
        self.base
    }

    /// `steps` whole steps, in base units.
    fn times(&self, steps: i64) -> Result<Decimal, NotExecutable> {
        match self.mantissa.and_then(|m| m.checked_mul(steps)) {
            Some(mantissa) => Decimal::try_new(mantissa, self.base.scale()).or_else(|_| self.times_wide(steps)),
            None => self.times_wide(steps),
        }
    }

    /// [`LotStep::times`] beyond 64-bit mantissas.
    #[cold]
    fn times_wide(&self, steps: i64) -> Result<Decimal, NotExecutable> {
        self.base.checked_mul(Decimal::from(steps)).ok_or(NotExecutable::TooLarge)
    }
}

/// A size target resolved against a pair's lot step once: a base size becomes a whole number of steps
/// (rounded down), a quote notional is kept for conversion at the buy venue's executable VWAP.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PreparedSize {
    Steps(i64),
    Quote(f64),
}

impl PreparedSize {
    /// Resolves `target` for a pair with lot step `step`.
    pub fn new(target: SizeTarget, step: &LotStep) -> Self {
        match target {
            SizeTarget::Base(base) => PreparedSize::Steps((base / step.base).floor().to_i64().unwrap_or(0)),
            SizeTarget::Quote(quote) => PreparedSize::Quote(quote.to_f64().unwrap_or(0.0)),
        }
    }
}

/// The executable spread at one size.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpreadQuote {
    pub direction: Direction,
    /// Size of each leg, in base units.
    pub size_base: Decimal,
    /// Cost of the buy leg, in quote currency.
    pub buy_cost_quote: f64,
    /// Proceeds of the sell leg, in quote currency.
    pub sell_proceeds_quote: f64,
    /// Volume-weighted buy price, quote per base unit.
    pub buy_vwap: f64,
    /// Volume-weighted sell price, quote per base unit.
    pub sell_vwap: f64,
    pub gross_bp: f64,
    pub fees_bp: f64,
    pub net_bp: f64,
}

/// Why a size could not be evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum NotExecutable {
    #[error("not enough depth: {venue} {side} side holds {available_base} base units, {wanted_base} wanted")]
    NotEnoughDepth { venue: Venue, side: &'static str, available_base: f64, wanted_base: f64 },
    #[error("size rounds to zero: smaller than the common lot step {step_base}")]
    BelowLotStep { step_base: Decimal },
    #[error("lot sizes of the two legs do not fit the books' size grids")]
    IncompatibleGrid,
    #[error("size too large to express in base units")]
    TooLarge,
}

/// The largest size whose net spread still meets a threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MaxSize {
    /// Largest qualifying size in base units (zero if even one lot step falls short).
    pub size_base: Decimal,
    /// Buy cost of that size, in quote currency.
    pub size_quote: f64,
    /// Net bp at that size (`None` when the size is zero).
    pub net_bp: Option<f64>,
    /// True when the books ran out before the spread fell below the threshold (size is a lower bound).
    pub depth_limited: bool,
}

/// Evaluates executable spreads for one pair.
#[derive(Debug, Clone, Copy)]
pub struct SpreadCalculator<'a> {
    buy: Leg<'a>,
    sell: Leg<'a>,
    step: LotStep,
    fees_bp: f64,
    direction: Direction,
}

impl<'a> SpreadCalculator<'a> {
    /// A calculator for buying on `buy` and selling on `sell`.
    pub fn new(pair: &Pair, buy: LegBook<'a>, sell: LegBook<'a>, fees: &FeeModel) -> Self {
        let step = LotStep::new(pair.common_step_base());
        let units = |leg: &LegBook<'_>| LegUnits::new(leg.instrument, leg.book, step.base);
        Self::with_units(step, (buy, units(&buy)), (sell, units(&sell)), fees)
    }

    /// Like [`SpreadCalculator::new`] with the pair's lot step and each leg's [`LegUnits`] already known
    /// (the engine keeps them between evaluations).
    pub fn with_units(
        step: LotStep,
        (buy, buy_units): (LegBook<'a>, LegUnits),
        (sell, sell_units): (LegBook<'a>, LegUnits),
        fees: &FeeModel,
    ) -> Self {
        let direction = Direction { buy: buy.instrument.venue, sell: sell.instrument.venue };
        SpreadCalculator {
            buy: Leg { view: buy, units: buy_units },
            sell: Leg { view: sell, units: sell_units },
            step,
            fees_bp: fees.total_bp_of(buy.instrument, sell.instrument),
            direction,
        }
    }

    /// Buy/sell venues.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// Converts a target into a whole number of common steps (rounded down).
    pub fn steps_for(&self, target: SizeTarget) -> Result<i64, NotExecutable> {
        self.steps_for_prepared(PreparedSize::new(target, &self.step))
    }

    /// [`SpreadCalculator::steps_for`] for a target resolved beforehand.
    pub fn steps_for_prepared(&self, size: PreparedSize) -> Result<i64, NotExecutable> {
        let steps = match size {
            PreparedSize::Steps(steps) => steps,
            PreparedSize::Quote(quote) => {
                let base = base_for_cost(&self.buy, quote).ok_or_else(|| self.depth_error(&self.buy, quote))?;
                whole_steps(base * self.step.per_base)
            }
        };
        if steps <= 0 {
            return Err(NotExecutable::BelowLotStep { step_base: self.step.base });
        }
        Ok(steps)
    }

    /// The executable spread at a size target.
    pub fn quote(&self, target: SizeTarget) -> Result<SpreadQuote, NotExecutable> {
        self.quote_prepared(PreparedSize::new(target, &self.step))
    }

    /// [`SpreadCalculator::quote`] for a target resolved beforehand.
    pub fn quote_prepared(&self, size: PreparedSize) -> Result<SpreadQuote, NotExecutable> {
        let steps = self.steps_for_prepared(size)?;
        self.quote_steps(steps)
    }

    /// The executable spread at `steps` common lot steps.
    pub fn quote_steps(&self, steps: i64) -> Result<SpreadQuote, NotExecutable> {
        let buy_cost = self.walk_leg(&self.buy, Side::Ask, steps)?;
        let sell_proceeds = self.walk_leg(&self.sell, Side::Bid, steps)?;
        let per_base = 1.0 / (steps as f64 * self.step.as_f64);
        let gross_bp = (sell_proceeds - buy_cost) / buy_cost * 10_000.0;
        Ok(SpreadQuote {
            direction: self.direction,
            size_base: self.step.times(steps)?,
            buy_cost_quote: buy_cost,
            sell_proceeds_quote: sell_proceeds,
            buy_vwap: buy_cost * per_base,
            sell_vwap: sell_proceeds * per_base,
            gross_bp,
            fees_bp: self.fees_bp,
            net_bp: gross_bp - self.fees_bp,
        })
    }

    /// Largest size (whole common steps) whose net spread is at least `threshold_bp`.
    pub fn max_size(&self, threshold_bp: f64) -> MaxSize {
        let zero = MaxSize { size_base: Decimal::ZERO, size_quote: 0.0, net_bp: None, depth_limited: false };
        let step = self.step.as_f64;
        if step.is_nan() || step <= 0.0 {
            return zero;
        }
        let (limit_base, depth_limited) = self.threshold_crossing(threshold_bp);
        if limit_base.is_nan() || limit_base <= 0.0 {
            // The threshold fails at the very first unit (the usual case): nothing to confirm.
            return zero;
        }
        let estimate = whole_steps(limit_base * self.step.per_base);
        // The crossing is found in floating point; confirm exactly. Rounding can leave the estimate one step
        // short, so one more step is tried first; net falls as size grows, so when the estimate overshoots,
        // a binary search finds the largest qualifying step count.
        let qualifies = |steps: i64| self.quote_steps(steps).ok().filter(|q| q.net_bp >= threshold_bp);
        let best = match qualifies(estimate.saturating_add(1))
            .or_else(|| (estimate > 0).then(|| qualifies(estimate)).flatten())
        {
            Some(quote) => Some(quote),
            None => {
                let (mut lo, mut hi) = (0i64, estimate - 1);
                while lo < hi {
                    let mid = lo + (hi - lo + 1) / 2;
                    if qualifies(mid).is_some() {
                        lo = mid;
                    } else {
                        hi = mid - 1;
                    }
                }
                (lo > 0).then(|| qualifies(lo)).flatten()
            }
        };
        match best {
            Some(quote) => MaxSize {
                size_base: quote.size_base,
                size_quote: quote.buy_cost_quote,
                net_bp: Some(quote.net_bp),
                depth_limited,
            },
            _ => zero,
        }
    }

    /// Base size at which `net_bp` falls to `threshold_bp`, walking both books together; the flag is
    /// true when a book ran out first.
    fn threshold_crossing(&self, threshold_bp: f64) -> (f64, bool) {
        let k = 1.0 + (self.fees_bp + threshold_bp) / 10_000.0;
        let mut asks = self.buy.view.book.levels(Side::Ask).map(|l| self.buy.per_base(l.price, l.qty));
        let mut bids = self.sell.view.book.levels(Side::Bid).map(|l| self.sell.per_base(l.price, l.qty));
        let (Some(mut ask), Some(mut bid)) = (asks.next(), bids.next()) else {
            return (0.0, true);
        };
        let (mut filled, mut cost, mut proceeds) = (0.0f64, 0.0f64, 0.0f64);
        loop {
            let (ask_px, bid_px) = (ask.0, bid.0);
            let segment = ask.1.min(bid.1);
            let surplus = proceeds - k * cost; // ≥ 0 while the threshold holds
            let slope = bid_px - k * ask_px;
            if slope < 0.0 {
                let room = surplus.max(0.0) / -slope;
                if room < segment {
                    return (filled + room, false);
                }
            }
            filled += segment;
            cost += ask_px * segment;
            proceeds += bid_px * segment;
            ask.1 -= segment;
            bid.1 -= segment;
            if ask.1 <= 0.0 {
                match asks.next() {
                    Some(next) => ask = next,
                    None => return (filled, true),
                }
            }
            if bid.1 <= 0.0 {
                match bids.next() {
                    Some(next) => bid = next,
                    None => return (filled, true),
                }
            }
        }
    }

    /// Quote amount of walking `steps` common steps through one side of a leg's book.
    fn walk_leg(&self, leg: &Leg<'_>, side: Side, steps: i64) -> Result<f64, NotExecutable> {
        let (per_step, extra) = leg.units.per_step.ok_or(NotExecutable::IncompatibleGrid)?;
        let refine = POW10[usize::from(extra)];
        let wanted = per_step.checked_mul(steps).ok_or(NotExecutable::IncompatibleGrid)?;
        // Exact integer notionals; nearly all fit 64 bits, whose arithmetic and conversion to f64 are much
        // cheaper than 128-bit's.
        let filled = match walk_notional_64(leg.view.book, side, wanted, refine) {
            Walk::Filled(notional) => Some(notional as f64),
            Walk::Overflow => walk_notional_128(leg.view.book, side, wanted, refine),
            Walk::Short => None,
        };
        let Some(notional) = filled else {
            let available: i64 = leg.view.book.levels(side).map(|l| l.qty).sum();
            return Err(NotExecutable::NotEnoughDepth {
                venue: leg.view.instrument.venue,
                side: side_name(side),
                available_base: crate::num::shown_f64(available as f64 * leg.units.base_per_qty),
                wanted_base: crate::num::shown_f64(wanted as f64 / refine as f64 * leg.units.base_per_qty),
            });
        };
        Ok(notional * leg.units.quote_per_refined_notional)
    }

    fn depth_error(&self, leg: &Leg<'_>, wanted_quote: f64) -> NotExecutable {
        let available: i64 = leg.view.book.levels(Side::Ask).map(|l| l.qty).sum();
        let available_base = crate::num::shown_f64(available as f64 * leg.units.base_per_qty);
        let best = leg.view.book.best_ask().map(|l| leg.per_base(l.price, l.qty).0).unwrap_or(0.0);
        NotExecutable::NotEnoughDepth {
            venue: leg.view.instrument.venue,
            side: "ask",
            available_base,
            wanted_base: if best > 0.0 { crate::num::shown_f64(wanted_quote / best) } else { f64::INFINITY },
        }
    }
}

/// Outcome of summing `price × qty` along one side of a book for a wanted size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    Filled(i64),
    /// The side holds less than the wanted size.
    Short,
    /// The sum does not fit 64 bits (see [`walk_notional_128`]).
    Overflow,
}

/// Sums `price × take` over the levels from the best until `wanted` units of the qty grid refined by
/// `refine` are taken, in 64-bit arithmetic.
fn walk_notional_64(book: &OrderBook, side: Side, wanted: i64, refine: i64) -> Walk {
    let mut remaining = wanted;
    let mut notional: i64 = 0;
    for level in book.levels(side) {
        let Some(available) = level.qty.checked_mul(refine) else { return Walk::Overflow };
        let take = remaining.min(available);
        let Some(sum) = level.price.checked_mul(take).and_then(|cost| notional.checked_add(cost)) else {
            return Walk::Overflow;
        };
        notional = sum;
        remaining -= take;
        if remaining == 0 {
            return Walk::Filled(notional);
        }
    }
    Walk::Short
}

/// [`walk_notional_64`] in 128-bit arithmetic, for the rare walk that overflows 64 bits; `None` when the
/// side is short.
#[cold]
#[inline(never)]
fn walk_notional_128(book: &OrderBook, side: Side, wanted: i64, refine: i64) -> Option<f64> {
    let mut remaining = i128::from(wanted);
    let mut notional: i128 = 0;
    for level in book.levels(side) {
        let take = remaining.min(i128::from(level.qty) * i128::from(refine));
        notional += i128::from(level.price) * take;
        remaining -= take;
        if remaining == 0 {
            return Some(notional as f64);
        }
    }
    None
}

/// Base size whose buy cost through the asks reaches `quote`; `None` if the book is too thin.
fn base_for_cost(leg: &Leg<'_>, quote: f64) -> Option<f64> {
    let mut spent = 0.0;
    let mut base = 0.0;
    for level in leg.view.book.levels(Side::Ask) {
        let (price, qty) = leg.per_base(level.price, level.qty);
        let level_cost = price * qty;
        if spent + level_cost >= quote {
            return Some(base + (quote - spent) / price);
        }
        spent += level_cost;
        base += qty;
    }
    None
}

/// Whole steps in a non-negative step count, tolerating float error just below an integer (`2.9999999999`
/// is 3). Truncation is the floor here, and much cheaper than `f64::floor` without SSE4.1.
fn whole_steps(steps: f64) -> i64 {
    (steps + 1e-9) as i64
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Bid => "bid",
        Side::Ask => "ask",
    }
}

fn pow10_f64(exp: u8) -> f64 {
    10f64.powi(i32::from(exp))
}

/// Best bid and ask of a leg, quote per base unit.
pub fn top_per_base(leg: &LegBook<'_>) -> (Option<f64>, Option<f64>) {
    // One division of exact values (grid units by `10^scale × base per price unit`) gives the f64 nearest the
    // true price, so a price of 64822.7 prints as `64822.7`, not as `64822.700000000004` (a product by 0.1).
    let divisor = pow10_f64(leg.book.price_scale()) * leg.instrument.base_per_price_unit.to_f64().unwrap_or(f64::NAN);
    let price = |level: Option<crate::book::Level>| level.map(|l| l.price as f64 / divisor);
    (price(leg.book.best_bid()), price(leg.book.best_ask()))
}

/// Mid price per base unit of a leg (information only; never used for signals).
pub fn mid_per_base(leg: &LegBook<'_>) -> Option<f64> {
    let (bid, ask) = top_per_base(leg);
    Some((bid? + ask?) / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instrument::PairKey;
    use crate::num::Dec64;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn instrument(venue: Venue, symbol: &str, per_qty: &str, per_price: &str, tick: &str, lot: &str) -> Instrument {
        crate::testkit::instrument(venue, symbol, "PEPE", "USDT")
            .base_per_qty(per_qty)
            .base_per_price(per_price)
            .tick(tick)
            .lot(lot)
            .build()
    }

    fn book(bids: &[(&str, &str)], asks: &[(&str, &str)]) -> OrderBook {
        let mut book = OrderBook::new(0, 0, 400);
        let conv = |levels: &[(&str, &str)]| -> Vec<(Dec64, Dec64)> {
            levels.iter().map(|(p, q)| (Dec64::parse(p).unwrap(), Dec64::parse(q).unwrap())).collect()
        };
        book.load_snapshot(conv(bids), conv(asks)).unwrap();
        book
    }

    /// OKX PEPE-USDT-SWAP: 1 contract = 10 000 000 PEPE, price per PEPE.
    /// Binance 1000PEPEUSDT: size in 1000-PEPE units, price per 1000 PEPE.
    fn pepe_pair() -> Pair {
        Pair {
            key: PairKey::new("PEPE", "USDT"),
            legs: [
                instrument(Venue::Okx, "PEPE-USDT-SWAP", "10000000", "1", "0.0000000001", "1"),
                instrument(Venue::Binance, "1000PEPEUSDT", "1000", "1000", "0.0000001", "1"),
            ],
        }
    }

    #[test]
    fn thousand_prefix_and_contract_size_are_rescaled() {
        let pair = pepe_pair();
        // OKX asks at 0.0000100 and 0.0000101 USDT/PEPE, 2 contracts (20M PEPE) each.
        let okx = book(&[("0.0000099", "5")], &[("0.0000100", "2"), ("0.0000101", "2")]);
        // Binance bids at 0.0102 USDT per 1000 PEPE (= 0.0000102 per PEPE), 30 000 units (30M PEPE).
        let binance = book(&[("0.0102", "30000"), ("0.0098", "100000")], &[("0.0105", "1")]);
        let fees = FeeModel::uniform(5.0, true);
        let calc = SpreadCalculator::new(
            &pair,
            LegBook { instrument: &pair.legs[0], book: &okx },
            LegBook { instrument: &pair.legs[1], book: &binance },
            &fees,
        );
        assert_eq!(pair.common_step_base(), d("10000000"));
        // Buy 30M PEPE: 20M at 0.0000100 + 10M at 0.0000101 = 200 + 101 = 301 USDT.
        // Sell 30M PEPE at 0.0000102 = 306 USDT. Gross = 5/301 = 166.11 bp, net = 146.11 bp.
        let q = calc.quote(SizeTarget::Base(d("30000000"))).unwrap();
        assert_eq!(q.size_base, d("30000000"));
        assert!((q.buy_cost_quote - 301.0).abs() < 1e-9, "{q:?}");
        assert!((q.sell_proceeds_quote - 306.0).abs() < 1e-9);
        assert!((q.buy_vwap - 301.0 / 30e6).abs() < 1e-15);
        assert!((q.gross_bp - 5.0 / 301.0 * 1e4).abs() < 1e-9);
        assert_eq!(q.fees_bp, 20.0);
        assert!((q.net_bp - (5.0 / 301.0 * 1e4 - 20.0)).abs() < 1e-9);
        // 35M PEPE rounds down to 30M (step is one OKX contract = 10M PEPE).
        assert_eq!(calc.quote(SizeTarget::Base(d("35000000"))).unwrap().size_base, d("30000000"));
    }

    #[test]
    fn walks_that_overflow_64_bits_are_summed_in_128() {
        // Each level's notional, about 10^19, is beyond i64::MAX.
        let big = book(&[], &[("1000000000000", "10000000"), ("1000000000001", "10000000")]);
        assert_eq!(walk_notional_64(&big, Side::Ask, 15_000_000, 1), Walk::Overflow);
        let expected = 1_000_000_000_000i128 * 10_000_000 + 1_000_000_000_001i128 * 5_000_000;
        assert_eq!(walk_notional_128(&big, Side::Ask, 15_000_000, 1), Some(expected as f64));
        assert_eq!(walk_notional_128(&big, Side::Ask, 25_000_000, 1), None, "a short side is not a fill");
        // 30 refined units at 100, then 20 of 40 at 101.
        let small = book(&[], &[("100", "3"), ("101", "4")]);
        assert_eq!(walk_notional_64(&small, Side::Ask, 50, 10), Walk::Filled(5020));
        assert_eq!(walk_notional_128(&small, Side::Ask, 50, 10), Some(5020.0));
        assert_eq!(walk_notional_64(&small, Side::Ask, 71, 10), Walk::Short);
    }

    proptest::proptest! {
        /// The threshold search returns the largest whole number of steps whose net spread meets it.
        #[test]
        fn max_size_is_the_largest_qualifying_size(
            asks in proptest::collection::vec((10_000i64..10_060, 1i64..40), 1..10),
            bids in proptest::collection::vec((10_000i64..10_060, 1i64..40), 1..10),
            threshold in -40.0f64..40.0,
        ) {
            let leg = |venue, symbol: &str| instrument(venue, symbol, "1", "1", "1", "1");
            let pair = Pair { key: PairKey::new("PEPE", "USDT"), legs: [leg(Venue::Okx, "A"), leg(Venue::Binance, "B")] };
            let levels = |levels: &[(i64, i64)]| -> Vec<(Dec64, Dec64)> {
                levels.iter().map(|&(p, q)| (Dec64::new(p, 0), Dec64::new(q, 0))).collect()
            };
            let (mut buy, mut sell) = (OrderBook::new(0, 0, 400), OrderBook::new(0, 0, 400));
            buy.load_snapshot([], levels(&asks)).unwrap();
            sell.load_snapshot(levels(&bids), []).unwrap();
            let fees = FeeModel::uniform(2.0, true).with_taker_bp(Venue::Binance, 3.0);
            let calc = SpreadCalculator::new(
                &pair,
                LegBook { instrument: &pair.legs[0], book: &buy },
                LegBook { instrument: &pair.legs[1], book: &sell },
                &fees,
            );
            let max = calc.max_size(threshold);
            let steps = max.size_base.to_i64().unwrap();
            if steps > 0 {
                proptest::prop_assert!(calc.quote_steps(steps).unwrap().net_bp >= threshold, "{:?}", max);
            }
            let more = calc.quote_steps(steps + 1);
            proptest::prop_assert!(more.as_ref().map_or(true, |q| q.net_bp < threshold), "{:?} then {:?}", max, more);
        }

        /// The 64-bit walk, when it does not overflow, gives exactly the 128-bit walk's result.
        #[test]
        fn walk_widths_agree(
            levels in proptest::collection::vec((1i64..1_000_000_000_000, 1i64..10_000_000), 0..8),
            wanted in 1i64..100_000_000,
            extra in 0usize..4,
        ) {
            let mut side = OrderBook::new(0, 0, 400);
            side.load_snapshot([], levels.iter().map(|&(p, q)| (Dec64::new(p, 0), Dec64::new(q, 0)))).unwrap();
            let wide = walk_notional_128(&side, Side::Ask, wanted, POW10[extra]);
            match walk_notional_64(&side, Side::Ask, wanted, POW10[extra]) {
                Walk::Filled(notional) => proptest::prop_assert_eq!(wide, Some(notional as f64)),
                Walk::Short => proptest::prop_assert_eq!(wide, None),
                Walk::Overflow => {}
            }
        }
    }

    #[test]
    fn insufficient_depth_is_reported_not_guessed() {
        let pair = pepe_pair();
        let okx = book(&[("0.0000099", "5")], &[("0.0000100", "2")]);
        let binance = book(&[("0.0102", "30000")], &[("0.0105", "1")]);
        let fees = FeeModel::default();
        let calc = SpreadCalculator::new(
            &pair,
            LegBook { instrument: &pair.legs[0], book: &okx },
            LegBook { instrument: &pair.legs[1], book: &binance },
            &fees,
        );
        let err = calc.quote(SizeTarget::Base(d("30000000"))).unwrap_err();
        assert_eq!(
            err,
            NotExecutable::NotEnoughDepth { venue: Venue::Okx, side: "ask", available_base: 20e6, wanted_base: 30e6 }
        );
        assert!(err.to_string().contains("not enough depth"));
        assert!(matches!(calc.quote(SizeTarget::Base(d("1000"))), Err(NotExecutable::BelowLotStep { .. })));
        let empty = book(&[], &[]);
        let calc = SpreadCalculator::new(
            &pair,
            LegBook { instrument: &pair.legs[0], book: &empty },
            LegBook { instrument: &pair.legs[1], book: &binance },
            &fees,
        );
        assert!(matches!(calc.quote(SizeTarget::Quote(d("100"))), Err(NotExecutable::NotEnoughDepth { .. })));
        assert_eq!(calc.max_size(0.0).size_base, Decimal::ZERO);
    }

    fn btc_pair() -> Pair {
        let mut okx = instrument(Venue::Okx, "BTC-USDT-SWAP", "0.01", "1", "0.1", "1");
        okx.key = PairKey::new("BTC", "USDT");
        let mut binance = instrument(Venue::Binance, "BTCUSDT", "1", "1", "0.1", "0.001");
        binance.key = PairKey::new("BTC", "USDT");
        Pair { key: PairKey::new("BTC", "USDT"), legs: [okx, binance] }
    }

    #[test]
    fn quote_target_and_max_size_at_threshold() {
        let pair = btc_pair();
        // OKX asks: 100 contracts (1 BTC) at 10000, 1000 contracts (10 BTC) at 10010.
        let okx = book(&[("9990", "100")], &[("10000", "100"), ("10010", "1000")]);
        // Binance bids: 1.5 BTC at 10040, 5 BTC at 10015.
        let binance = book(&[("10040", "1.5"), ("10015", "5")], &[("10050", "1")]);
        let fees = FeeModel::uniform(5.0, true);
        let calc = SpreadCalculator::new(
            &pair,
            LegBook { instrument: &pair.legs[0], book: &okx },
            LegBook { instrument: &pair.legs[1], book: &binance },
            &fees,
        );
        assert_eq!(pair.common_step_base(), d("0.01"));
        // 5000 USDT at 10000 = 0.5 BTC.
        let q = calc.quote(SizeTarget::Quote(d("5000"))).unwrap();
        assert_eq!(q.size_base, d("0.5"));
        assert!((q.gross_bp - 40.0).abs() < 1e-9);
        // Threshold 0 bp net means gross ≥ 20 bp. At 1 BTC: gross 40 bp. Beyond 1 BTC the marginal buy is
        // 10010 and marginal sell 10040 (until 1.5 BTC), then 10015 (< 10010 × 1.002): the crossing is
        // where proceeds = 1.002 × cost.
        let max = calc.max_size(0.0);
        let s = max.size_base.to_f64().unwrap();
        let cost = |s: f64| {
            if s <= 1.0 {
                10000.0 * s
            } else {
                10000.0 + 10010.0 * (s - 1.0)
            }
        };
        let proceeds = |s: f64| {
            if s <= 1.5 {
                10040.0 * s
            } else {
                15060.0 + 10015.0 * (s - 1.5)
            }
        };
        assert!(proceeds(s) >= 1.002 * cost(s), "{max:?}");
        assert!(proceeds(s + 0.01) < 1.002 * cost(s + 0.01), "{max:?} is not the largest");
        assert!(!max.depth_limited);
        assert_eq!(max.size_base, d("3.16")); // solves 37.5 + 10015 s = 1.002 × (10010 s − 10)
        assert!(max.net_bp.unwrap() >= 0.0);
        // A threshold no size meets gives zero.
        assert_eq!(calc.max_size(100.0).size_base, Decimal::ZERO);
        // Entry-only fees: 10 bp.
        let entry_only = FeeModel::uniform(5.0, false);
        let calc2 = SpreadCalculator::new(
            &pair,
            LegBook { instrument: &pair.legs[0], book: &okx },
            LegBook { instrument: &pair.legs[1], book: &binance },
            &entry_only,
        );
        assert!((calc2.quote(SizeTarget::Base(d("1"))).unwrap().net_bp - 30.0).abs() < 1e-9);
        assert!(calc2.max_size(0.0).size_base > max.size_base);
    }

    #[test]
    fn max_size_is_depth_limited_when_books_run_out() {
        let pair = btc_pair();
        let okx = book(&[("9990", "100")], &[("10000", "50")]);
        let binance = book(&[("10100", "3")], &[("10150", "1")]);
        let fees = FeeModel::default();
        let calc = SpreadCalculator::new(
            &pair,
            LegBook { instrument: &pair.legs[0], book: &okx },
            LegBook { instrument: &pair.legs[1], book: &binance },
            &fees,
        );
        let max = calc.max_size(0.0);
        assert_eq!(max.size_base, d("0.5"));
        assert!(max.depth_limited);
        let mid = mid_per_base(&LegBook { instrument: &pair.legs[0], book: &okx }).unwrap();
        assert!((mid - 9995.0).abs() < 1e-9);
    }

    #[test]
    fn top_of_book_prints_as_the_venue_wrote_it() {
        let btc = btc_pair();
        let okx = book(&[("64822.7", "1")], &[("64822.8", "2")]);
        let (bid, ask) = top_per_base(&LegBook { instrument: &btc.legs[0], book: &okx });
        assert_eq!((bid.unwrap().to_string(), ask.unwrap().to_string()), ("64822.7".into(), "64822.8".into()));
        // Binance 1000PEPE: a price per 1000 PEPE shown per PEPE.
        let pepe = pepe_pair();
        let binance = book(&[("0.0123456", "10")], &[("0.0123457", "10")]);
        let (bid, _) = top_per_base(&LegBook { instrument: &pepe.legs[1], book: &binance });
        assert_eq!(bid.unwrap().to_string(), "0.0000123456");
    }
}

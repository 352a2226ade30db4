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
pub(crate) struct LegUnits {
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
    pub(crate) fn new(instrument: &Instrument, book: &OrderBook, step_base: Decimal) -> Self {
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
    pub(crate) fn fits(&self, book: &OrderBook) -> bool {
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
pub(crate) struct LotStep {
    base: Decimal,
    as_f64: f64,
    /// `1 / as_f64`: step counts by a product instead of a division.
    per_base: f64,
    /// The step's mantissa when it fits 64 bits (it nearly always does), for cheap multiples.
    mantissa: Option<i64>,
}

impl LotStep {
    /// The step, in base units (see [`Pair::common_step_base`]).
    pub(crate) fn new(base: Decimal) -> Self {
        let as_f64 = base.to_f64().unwrap_or(f64::NAN);
        LotStep { base, as_f64, per_base: 1.0 / as_f64, mantissa: i64::try_from(base.mantissa()).ok() }
    }

    /// The step, in base units.
    pub(crate) fn base(&self) -> Decimal {
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
pub(crate) enum PreparedSize {
    Steps(i64),
    Quote(f64),
}

impl PreparedSize {
    /// Resolves `target` for a pair with lot step `step`.
    pub(crate) fn new(target: SizeTarget, step: &LotStep) -> Self {
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
    pub(crate) fn with_units(
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

    /// Converts a size target resolved beforehand into a whole number of common steps (rounded down).
    pub(crate) fn steps_for_prepared(&self, size: PreparedSize) -> Result<i64, NotExecutable> {
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
    pub(crate) fn quote_prepared(&self, size: PreparedSize) -> Result<SpreadQuote, NotExecutable> {
        let steps = self.steps_for_prepared(size)?;
        self.quote_steps(steps)
    }

    /// The executable spread at `steps` common lot steps.
    pub(crate) fn quote_steps(&self, steps: i64) -> Result<SpreadQuote, NotExecutable> {
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
mod tests;

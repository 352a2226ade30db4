//! A lean L2 order book on integer grids.
//!
//! Each side is a ring buffer (`VecDeque`) sorted so that the **best level is at the back**: bids
//! ascending, asks descending. Inserts and deletes move only the shorter side of the buffer, so changes at
//! the top (most activity) and at the bottom (levels entering and leaving the published depth as prices
//! move) are both cheap; best-price access is `back()`; nothing is allocated once the buffers have grown to
//! the book's depth. Every level remembers how many decimals the venue wrote for its price and size, so it
//! can be re-rendered exactly as received (the OKX checksum is computed over those strings).

use std::cmp::Ordering;
use std::collections::VecDeque;
use std::fmt;

use crate::num::{rescale, write_fixed, Dec64, NumError, MAX_DECIMALS};
use crate::wire::RawLevel;

/// Bid or ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Bid,
    Ask,
}

/// One price level: price and size on the book's grids, plus the decimals as written by the venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    /// Price in units of `10^-price_scale`.
    pub price: i64,
    /// Size in units of `10^-qty_scale`.
    pub qty: i64,
    /// Decimals the venue wrote for the price.
    pub price_dp: u8,
    /// Decimals the venue wrote for the size.
    pub qty_dp: u8,
}

/// Why an update could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookError {
    #[error("bad number in book update: {0}")]
    Number(#[from] NumError),
    #[error("negative {what} {value} in book update")]
    Negative { what: &'static str, value: Dec64 },
}

/// An L2 order book for one instrument.
#[derive(Debug, Clone)]
pub struct OrderBook {
    bids: VecDeque<Level>,
    asks: VecDeque<Level>,
    price_scale: u8,
    qty_scale: u8,
    max_depth: usize,
}

impl OrderBook {
    /// An empty book storing prices with `price_scale` decimals and sizes with `qty_scale` decimals,
    /// keeping at most `max_depth` levels a side. Scales widen automatically if a finer number arrives.
    pub fn new(price_scale: u8, qty_scale: u8, max_depth: usize) -> Self {
        let capacity = max_depth.min(1024) + 1;
        OrderBook {
            bids: VecDeque::with_capacity(capacity),
            asks: VecDeque::with_capacity(capacity),
            price_scale,
            qty_scale,
            max_depth: max_depth.max(1),
        }
    }

    /// Decimals of the price grid.
    pub fn price_scale(&self) -> u8 {
        self.price_scale
    }

    /// Decimals of the size grid.
    pub fn qty_scale(&self) -> u8 {
        self.qty_scale
    }

    /// Removes every level (the grids are kept).
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
    }

    /// Sets the size at a price; a zero size deletes the level (deleting an absent level is a no-op).
    pub fn set(&mut self, side: Side, price: Dec64, qty: Dec64) -> Result<(), BookError> {
        let result = self.set_below(side, price, qty, 0).map(drop);
        self.trim_to_depth();
        result
    }

    /// [`OrderBook::set`] for a level expected below the best `above` levels of its side (all better than
    /// its price), so the search starts there; returns how many levels are then at or above the price, where
    /// the search for a worse price may start. A wrong guess costs a full search, never a wrong answer.
    ///
    /// The side may grow past `max_depth` here: the depth bound is applied by [`OrderBook::trim_to_depth`]
    /// once a whole event is applied. Trimming level by level would evict a valid level whenever an event
    /// inserts one level before it deletes another (Binance lists bids worst first), and the lost level
    /// would never come back although the finished event fits the bound.
    fn set_below(&mut self, side: Side, price: Dec64, qty: Dec64, above: usize) -> Result<usize, BookError> {
        // Not `make_level(..)?` on this, the per-level path: its `Result` was built on the stack field by field
        // and read back a word at a time, a store-forwarding stall on every level (real OKX −2.5 %).
        let level = match self.level_on_grids(price, qty) {
            Some(level) => level,
            None => self.make_level_slow(price, qty)?,
        };
        let levels = self.side_mut(side);
        // `at`: the index from which on every level is at or above this price, once the change is made.
        let at = match search_below(levels, side, level.price, above) {
            Ok(index) if level.qty == 0 => {
                levels.remove(index);
                index
            }
            Ok(index) => {
                levels[index] = level;
                index
            }
            Err(index) if level.qty == 0 => index,
            Err(index) => {
                levels.insert(index, level);
                index
            }
        };
        Ok(levels.len() - at)
    }

    /// Replaces the whole book with a snapshot given as `(price, size)` levels in any order.
    pub fn load_snapshot<B, A>(&mut self, bids: B, asks: A) -> Result<(), BookError>
    where
        B: IntoIterator<Item = (Dec64, Dec64)>,
        A: IntoIterator<Item = (Dec64, Dec64)>,
    {
        self.clear();
        for (side, levels) in
            [(Side::Bid, bids.into_iter().collect::<Vec<_>>()), (Side::Ask, asks.into_iter().collect::<Vec<_>>())]
        {
            for (price, qty) in levels {
                let level = self.make_level(price, qty)?;
                if level.qty != 0 {
                    self.side_mut(side).push_back(level);
                }
            }
        }
        self.normalize_after_bulk_load();
        Ok(())
    }

    /// Starts a snapshot that is streamed level by level with [`OrderBook::push_snapshot_level`] and closed
    /// by [`OrderBook::finish_snapshot`]; avoids collecting the levels first.
    pub(crate) fn begin_snapshot(&mut self) {
        self.clear();
    }

    /// Adds one snapshot level (any order; zero sizes are ignored).
    pub(crate) fn push_snapshot_level(&mut self, side: Side, price: Dec64, qty: Dec64) -> Result<(), BookError> {
        let level = self.make_level(price, qty)?;
        if level.qty != 0 {
            self.side_mut(side).push_back(level);
        }
        Ok(())
    }

    /// Sorts, de-duplicates (last write wins) and trims the levels pushed since `begin_snapshot`.
    pub(crate) fn finish_snapshot(&mut self) {
        self.normalize_after_bulk_load();
    }

    fn normalize_after_bulk_load(&mut self) {
        let depth = self.max_depth;
        for side in [Side::Bid, Side::Ask] {
            let levels = self.side_mut(side);
            // Stable sort keeps arrival order among equal prices so the last one can win.
            let levels = levels.make_contiguous();
            levels.sort_by(|a, b| worse_first(side, a.price, b.price));
            let mut deduped = 0;
            for i in 0..levels.len() {
                if deduped > 0 && levels[deduped - 1].price == levels[i].price {
                    levels[deduped - 1] = levels[i];
                } else {
                    levels[deduped] = levels[i];
                    deduped += 1;
                }
            }
            let levels = self.side_mut(side);
            levels.truncate(deduped);
            if levels.len() > depth {
                let excess = levels.len() - depth;
                levels.drain(..excess);
            }
        }
    }

    /// Replaces the book with snapshot levels decoded from the wire (any order; zero sizes ignored).
    pub fn replace(&mut self, bids: &[RawLevel], asks: &[RawLevel]) -> Result<(), BookError> {
        self.begin_snapshot();
        for (side, levels) in [(Side::Bid, bids), (Side::Ask, asks)] {
            for &(price, qty) in levels {
                self.push_snapshot_level(side, price, qty)?;
            }
        }
        self.finish_snapshot();
        Ok(())
    }

    /// Applies incremental levels decoded from the wire (a zero size deletes the level). OKX lists each side
    /// best first, so each level's search starts where the previous one ended; levels in any other order
    /// (Binance lists both sides by ascending price, so its bids come worst first) are applied just as well,
    /// each with a full search, which gallops from the best level. (Walking up from the previous level for
    /// Binance's bids was measured: −1 % on the liquid mix, −2.5 % on the real Binance recording.)
    ///
    /// The depth bound holds after the whole event: levels beyond `max_depth` are dropped (worst first) only
    /// once every level of the event is in, so a level deleted later in the same event makes room first.
    pub fn apply(&mut self, bids: &[RawLevel], asks: &[RawLevel]) -> Result<(), BookError> {
        let result = self.apply_levels(bids, asks);
        self.trim_to_depth();
        result
    }

    fn apply_levels(&mut self, bids: &[RawLevel], asks: &[RawLevel]) -> Result<(), BookError> {
        for (side, levels) in [(Side::Bid, bids), (Side::Ask, asks)] {
            let mut above = 0;
            for &(price, qty) in levels {
                above = self.set_below(side, price, qty, above)?;
            }
        }
        Ok(())
    }

    /// Drops the worst levels of each side beyond `max_depth`.
    fn trim_to_depth(&mut self) {
        let depth = self.max_depth;
        for levels in [&mut self.bids, &mut self.asks] {
            if levels.len() > depth {
                levels.drain(..levels.len() - depth);
            }
        }
    }

    /// Best (highest) bid.
    pub fn best_bid(&self) -> Option<Level> {
        self.bids.back().copied()
    }

    /// Best (lowest) ask.
    pub fn best_ask(&self) -> Option<Level> {
        self.asks.back().copied()
    }

    /// Number of levels on a side.
    pub fn depth(&self, side: Side) -> usize {
        self.side(side).len()
    }

    /// Whether the book has no level at all.
    pub fn is_empty(&self) -> bool {
        self.bids.is_empty() && self.asks.is_empty()
    }

    /// A crossed or locked book (best bid ≥ best ask) is never valid market data.
    pub fn is_crossed(&self) -> bool {
        matches!((self.best_bid(), self.best_ask()), (Some(b), Some(a)) if b.price >= a.price)
    }

    /// Levels of a side, best first.
    pub fn levels(&self, side: Side) -> impl DoubleEndedIterator<Item = &Level> + ExactSizeIterator {
        self.side(side).iter().rev()
    }

    /// A level's price as the venue wrote it.
    pub fn price_of(&self, level: &Level) -> Dec64 {
        Dec64::new(shown_mantissa(level.price, self.price_scale, level.price_dp), level.price_dp)
    }

    /// A level's size as the venue wrote it.
    pub fn qty_of(&self, level: &Level) -> Dec64 {
        Dec64::new(shown_mantissa(level.qty, self.qty_scale, level.qty_dp), level.qty_dp)
    }

    /// Writes a level as `price:size` exactly as received (used by checksums).
    pub fn write_level<W: fmt::Write>(&self, out: &mut W, level: &Level) -> fmt::Result {
        write_fixed(out, level.price, self.price_scale, level.price_dp)?;
        out.write_char(':')?;
        write_fixed(out, level.qty, self.qty_scale, level.qty_dp)
    }

    fn side(&self, side: Side) -> &VecDeque<Level> {
        match side {
            Side::Bid => &self.bids,
            Side::Ask => &self.asks,
        }
    }

    fn side_mut(&mut self, side: Side) -> &mut VecDeque<Level> {
        match side {
            Side::Bid => &mut self.bids,
            Side::Ask => &mut self.asks,
        }
    }

    /// The level for `(price, qty)` on the book's grids, widening them if the venue wrote more decimals.
    #[inline]
    fn make_level(&mut self, price: Dec64, qty: Dec64) -> Result<Level, BookError> {
        // Nearly always: non-negative and no finer than the grids, built inline without the error paths.
        match self.level_on_grids(price, qty) {
            Some(level) => Ok(level),
            None => self.make_level_slow(price, qty),
        }
    }

    /// The level for `(price, qty)` when both are non-negative and no finer than the grids.
    #[inline(always)]
    fn level_on_grids(&self, price: Dec64, qty: Dec64) -> Option<Level> {
        let on_grid = |value: Dec64, scale: u8| {
            (value.mantissa >= 0 && value.decimals <= scale).then(|| rescale(value.mantissa, value.decimals, scale))?
        };
        let (price_units, qty_units) = (on_grid(price, self.price_scale)?, on_grid(qty, self.qty_scale)?);
        Some(Level { price: price_units, qty: qty_units, price_dp: price.decimals, qty_dp: qty.decimals })
    }

    /// [`OrderBook::make_level`] for negative values, finer decimals and overflow.
    #[cold]
    fn make_level_slow(&mut self, price: Dec64, qty: Dec64) -> Result<Level, BookError> {
        if price.mantissa < 0 {
            return Err(BookError::Negative { what: "price", value: price });
        }
        if qty.mantissa < 0 {
            return Err(BookError::Negative { what: "size", value: qty });
        }
        if price.decimals > self.price_scale && rescale(price.mantissa, price.decimals, self.price_scale).is_none() {
            self.widen(price.decimals, self.qty_scale)?;
        }
        if qty.decimals > self.qty_scale && rescale(qty.mantissa, qty.decimals, self.qty_scale).is_none() {
            self.widen(self.price_scale, qty.decimals)?;
        }
        Ok(Level {
            price: price.at_scale(self.price_scale)?,
            qty: qty.at_scale(self.qty_scale)?,
            price_dp: price.decimals,
            qty_dp: qty.decimals,
        })
    }

    /// Moves every level onto finer grids (rare: a venue sent more decimals than its tick size implies).
    fn widen(&mut self, price_scale: u8, qty_scale: u8) -> Result<(), BookError> {
        let price_scale = price_scale.min(MAX_DECIMALS);
        let qty_scale = qty_scale.min(MAX_DECIMALS);
        let overflow = || NumError::Overflow(format!("book rescale to {price_scale}/{qty_scale} decimals"));
        let mut bids = self.bids.clone();
        let mut asks = self.asks.clone();
        for level in bids.iter_mut().chain(asks.iter_mut()) {
            level.price = rescale(level.price, self.price_scale, price_scale).ok_or_else(overflow)?;
            level.qty = rescale(level.qty, self.qty_scale, qty_scale).ok_or_else(overflow)?;
        }
        self.bids = bids;
        self.asks = asks;
        self.price_scale = price_scale;
        self.qty_scale = qty_scale;
        Ok(())
    }
}

/// Mantissa of a value on a `scale` grid when shown with `shown` decimals (dropped digits are zeros).
fn shown_mantissa(value: i64, scale: u8, shown: u8) -> i64 {
    rescale(value, scale, shown).unwrap_or(value)
}

/// Ordering in which the worst level comes first (bids ascending, asks descending).
fn worse_first(side: Side, a: i64, b: i64) -> Ordering {
    match side {
        Side::Bid => a.cmp(&b),
        Side::Ask => b.cmp(&a),
    }
}

/// Levels walked one by one below a known boundary before the search gallops through what is left.
const LINEAR_STEPS: usize = 16;

/// Finds `price` (as [`search`]) given that the best `above` levels are better than it: walks down from
/// there a level at a time (updates listed best first land a few levels apart, and a walk mispredicts once
/// where a bisection mispredicts at every other probe), then searches what is left. Falls back to
/// [`search`] when the premise does not hold.
fn search_below(levels: &VecDeque<Level>, side: Side, price: i64, above: usize) -> Result<usize, usize> {
    let len = levels.len();
    let order = |index: usize| worse_first(side, levels[index].price, price);
    if above == 0 || above > len || order(len - above) != Ordering::Greater {
        return search(levels, side, price);
    }
    // `levels[index..]` are better than `price`.
    let mut index = len - above;
    let stop = index.saturating_sub(LINEAR_STEPS);
    while index > stop {
        match order(index - 1) {
            Ordering::Greater => index -= 1,
            Ordering::Equal => return Ok(index - 1),
            Ordering::Less => return Err(index),
        }
    }
    search_under(levels, side, price, index)
}

/// Finds `price` on a side: `Ok(index)` of its level, or `Err(index)` where a level for it would go.
fn search(levels: &VecDeque<Level>, side: Side, price: i64) -> Result<usize, usize> {
    search_under(levels, side, price, levels.len())
}

/// [`search`] given that `levels[top..]` are better than `price`.
fn search_under(levels: &VecDeque<Level>, side: Side, price: i64, top: usize) -> Result<usize, usize> {
    let order = |index: usize| worse_first(side, levels[index].price, price);
    // Most updates touch the top of the book: check the best end first.
    let Some(best) = top.checked_sub(1) else {
        return Err(0);
    };
    match order(best) {
        Ordering::Equal => return Ok(best),
        Ordering::Less => return Err(top),
        Ordering::Greater => {}
    }
    // The next most common place is the bottom, where levels enter and leave the published depth.
    match order(0) {
        Ordering::Equal => return Ok(0),
        Ordering::Greater => return Err(0),
        Ordering::Less => {}
    }
    // Now `levels[lo] < price < levels[hi]` (in worse-first order). Gallop down from the top, which
    // brackets a change `d` levels deep in about 2·log2(d) probes, then bisect the bracket.
    let (mut lo, mut hi) = (0, best);
    let mut step = 1;
    while hi - lo > 1 {
        let probe = hi.saturating_sub(step).max(lo + 1);
        match order(probe) {
            Ordering::Equal => return Ok(probe),
            Ordering::Greater => hi = probe,
            Ordering::Less => {
                lo = probe;
                break;
            }
        }
        step *= 2;
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        match order(mid) {
            Ordering::Equal => return Ok(mid),
            Ordering::Greater => hi = mid,
            Ordering::Less => lo = mid,
        }
    }
    Err(hi)
}

#[cfg(test)]
mod tests;

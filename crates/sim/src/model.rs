//! The market model: one latent fair price per pair, and each venue's L2 book built around it.
//!
//! Every step (`tick_ms` of exchange time) the fair price takes a seeded random-walk step, each venue's
//! small private offset mean-reverts, and each book is re-priced around `fair × (1 + offset) ± half-spread`
//! on the venue's tick grid with sizes on its lot grid. The changes a step makes are recorded per book so
//! the WebSocket servers can publish them as deltas; the books themselves are
//! [`perpspread_core::OrderBook`]s rendered with exactly the strings the venue would send, so OKX checksums
//! computed from them match what a client re-computes.
//!
//! Outside dislocations the venues never cross: venue offsets stay within 40 % of the half-spread and
//! prices are rounded away from the mid. During a [`Dislocation`] the buy venue's whole book is moved
//! down so that its best ask is exactly `size_bp` (rounded down to its tick) below the other venue's
//! best bid, with meaningful size on the top levels of both.
//!
//! One file on purpose (about 700 lines without its tests): the fair price, the venue offsets, book
//! re-pricing, dislocations and funding all step together under one seeded RNG per venue, and splitting
//! the step would scatter the order of its random draws, which every recorded seed depends on.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use perpspread_core::num::{write_fixed, POW10};
use perpspread_core::{ContractKind, Dec64, Instrument, Level, OrderBook, Side, Venue};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::config::{Dislocation, SimConfig, SimPair};
use crate::SimError;

/// Most levels a side the OKX books keep (the `books` channel and REST maximum).
pub(crate) const OKX_DEPTH: usize = 400;
/// Most levels a side the Binance books keep (the `/fapi/v1/depth` maximum).
pub(crate) const BINANCE_DEPTH: usize = 1000;
/// Levels per side of a Bybit book (the deepest linear stream, `orderbook.1000`).
pub(crate) const BYBIT_DEPTH: usize = 1000;
/// Levels a side included in every [`BookDelta`] for top-N channels.
pub(crate) const TOP_LEVELS: usize = 25;
/// Levels near the top kept at meaningful size while a dislocation is active.
const DISLOCATION_LEVELS: usize = 3;

/// One level change: a new size at a price (`qty == 0` deletes the level), on the book's integer grids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub side: Side,
    pub price: i64,
    pub qty: i64,
}

/// Static facts about one listed instrument and how its numbers are written on the wire.
#[derive(Debug, Clone)]
pub struct BookMeta {
    pub venue: Venue,
    /// Index of the pair in [`Market::pairs`].
    pub pair: usize,
    pub instrument: Instrument,
    /// Tick size in price-grid units.
    pub tick: i64,
    /// Lot size in size-grid units.
    pub lot: i64,
    /// Decimals prices are written with; `None` = trailing zeros trimmed (OKX).
    pub price_dp: Option<u8>,
    /// Decimals sizes are written with; `None` = trailing zeros trimmed (OKX).
    pub qty_dp: Option<u8>,
    /// Levels kept per side.
    pub depth: usize,
    /// Venue price units per quote price of one base unit (1000 for `1000PEPEUSDT`).
    pub price_mult: f64,
}

impl BookMeta {
    fn new(venue: Venue, pair: usize, spec: &SimPair) -> Option<Self> {
        let (instrument, price_dp, qty_dp, depth) = match venue {
            Venue::Okx => (spec.okx.as_ref()?.instrument(spec), None, None, OKX_DEPTH),
            Venue::Binance => {
                let b = spec.binance.as_ref()?;
                (b.instrument(spec), Some(b.price_precision), Some(b.quantity_precision), BINANCE_DEPTH)
            }
            Venue::Bybit => {
                let b = spec.bybit.as_ref()?;
                (b.instrument(spec), Some(b.price_scale), Some(b.qty_decimals), BYBIT_DEPTH)
            }
        };
        let units =
            |step: Decimal, scale: u8| (step * Decimal::from(POW10[usize::from(scale)])).to_i64().unwrap_or(1).max(1);
        Some(BookMeta {
            venue,
            pair,
            tick: units(instrument.tick_size, instrument.price_scale),
            lot: units(instrument.lot_size, instrument.qty_scale),
            price_mult: instrument.base_per_price_unit.to_f64().unwrap_or(1.0),
            instrument,
            price_dp,
            qty_dp,
            depth,
        })
    }

    /// The venue symbol.
    pub fn symbol(&self) -> &str {
        &self.instrument.symbol
    }

    /// A price on the grid as the venue writes it.
    pub(crate) fn price_dec(&self, units: i64) -> Dec64 {
        as_written(units, self.instrument.price_scale, self.price_dp)
    }

    /// A size on the grid as the venue writes it.
    pub(crate) fn qty_dec(&self, units: i64) -> Dec64 {
        as_written(units, self.instrument.qty_scale, self.qty_dp)
    }

    /// Writes a grid price as the venue does.
    pub(crate) fn write_price<W: fmt::Write>(&self, out: &mut W, units: i64) -> fmt::Result {
        let d = self.price_dec(units);
        write_fixed(out, d.mantissa, d.decimals, d.decimals)
    }

    /// Writes a grid size as the venue does.
    pub(crate) fn write_qty<W: fmt::Write>(&self, out: &mut W, units: i64) -> fmt::Result {
        let d = self.qty_dec(units);
        write_fixed(out, d.mantissa, d.decimals, d.decimals)
    }

    /// Price of one base unit for a grid price.
    pub fn price_per_base(&self, units: i64) -> f64 {
        units as f64 / POW10[usize::from(self.instrument.price_scale)] as f64 / self.price_mult
    }

    /// Grid price (a multiple of the tick) at or below `per_base` (`up = false`) or at or above it.
    fn to_grid(&self, per_base: f64, up: bool) -> i64 {
        let ticks =
            per_base * self.price_mult * POW10[usize::from(self.instrument.price_scale)] as f64 / self.tick as f64;
        // A relative epsilon keeps exact grid values from rounding one tick away.
        let ticks = if up { (ticks * (1.0 - 1e-12)).ceil() } else { (ticks * (1.0 + 1e-12)).floor() };
        (ticks.max(1.0) as i64) * self.tick
    }

    /// Size in grid units holding about `notional` quote at `price` (at least one lot).
    fn qty_for(&self, notional: f64, price: i64) -> i64 {
        let venue_units = match self.instrument.kind {
            ContractKind::Linear => {
                notional / self.price_per_base(price) / self.instrument.base_per_qty_unit.to_f64().unwrap_or(1.0)
            }
            ContractKind::Inverse => notional / self.instrument.base_per_qty_unit.to_f64().unwrap_or(1.0),
        };
        let lots = venue_units * POW10[usize::from(self.instrument.qty_scale)] as f64 / self.lot as f64;
        (lots.round().clamp(1.0, 1e12) as i64) * self.lot
    }
}

fn as_written(units: i64, scale: u8, dp: Option<u8>) -> Dec64 {
    match dp {
        Some(dp) if dp >= scale => Dec64::new(units * POW10[usize::from(dp - scale)], dp),
        Some(dp) => Dec64::new(units / POW10[usize::from(scale - dp)], dp),
        None => {
            let (mut mantissa, mut decimals) = (units, scale);
            while decimals > 0 && mantissa % 10 == 0 {
                mantissa /= 10;
                decimals -= 1;
            }
            Dec64::new(mantissa, decimals)
        }
    }
}

/// One venue's live book for one instrument.
#[derive(Debug, Clone)]
pub struct VenueBook {
    pub meta: Arc<BookMeta>,
    /// The true book, rendered exactly as the venue writes it.
    pub book: OrderBook,
    /// Sequence after the last step: OKX `seqId`, Binance final update id `u`.
    pub seq: u64,
    /// Sequence before the last step (OKX `prevSeqId`, Binance `pu`).
    pub prev_seq: u64,
    /// Changes made by the last step, in order (a level may change more than once).
    pub changes: Vec<Change>,
    /// This venue's private price offset, as a fraction.
    offset: f64,
}

impl VenueBook {
    fn new(meta: BookMeta, rng: &mut StdRng) -> Self {
        let book = OrderBook::new(meta.instrument.price_scale, meta.instrument.qty_scale, meta.depth * 4 + 64);
        let seq = match meta.venue {
            Venue::Okx => rng.gen_range(1_000_000_000..2_000_000_000),
            Venue::Binance => rng.gen_range(600_000_000_000..700_000_000_000),
            Venue::Bybit => rng.gen_range(10_000_000..20_000_000),
        };
        VenueBook { meta: Arc::new(meta), book, seq, prev_seq: seq, changes: Vec::new(), offset: 0.0 }
    }

    /// Sets a level and records the change.
    fn set(&mut self, side: Side, price: i64, qty: i64) {
        let (px, sz) = (self.meta.price_dec(price), self.meta.qty_dec(qty));
        // Grid values are valid by construction; a failure would be a model bug, not bad input.
        if self.book.set(side, px, sz).is_ok() {
            self.changes.push(Change { side, price, qty });
        }
    }

    /// Best level price of a side.
    fn best(&self, side: Side) -> Option<i64> {
        match side {
            Side::Bid => self.book.best_bid(),
            Side::Ask => self.book.best_ask(),
        }
        .map(|l| l.price)
    }

    /// The `index`-th level from the top of a side.
    fn nth(&self, side: Side, index: usize) -> Option<Level> {
        self.book.levels(side).nth(index).copied()
    }

    /// Moves a side so that its best price is `best`, keeps `depth` levels and perturbs a few sizes.
    fn reprice(&mut self, side: Side, best: i64, notional: f64, rng: &mut StdRng) {
        let meta = Arc::clone(&self.meta);
        let better = |a: i64, b: i64| if side == Side::Bid { a > b } else { a < b };
        let worse_by = |p: i64, ticks: i64| {
            if side == Side::Bid {
                p - ticks * meta.tick
            } else {
                p + ticks * meta.tick
            }
        };
        while let Some(top) = self.best(side).filter(|&top| better(top, best)) {
            self.set(side, top, 0);
        }
        let old_top = self.best(side);
        let mut price = best;
        let mut inserted = 0;
        while old_top.is_none_or(|top| better(price, top)) && inserted < meta.depth && price > 0 {
            let qty = meta.qty_for(notional * size_factor(rng), price);
            self.set(side, price, qty);
            inserted += 1;
            price = worse_by(price, gap(rng));
        }
        self.perturb(side, notional, rng);
        while self.book.depth(side) > meta.depth {
            let worst = self.book.levels(side).next_back().map(|l| l.price);
            if let Some(worst) = worst {
                self.set(side, worst, 0);
            }
        }
        while self.book.depth(side) < meta.depth {
            let worst = self.book.levels(side).next_back().map(|l| l.price);
            let Some(worst) = worst else { break };
            let price = worse_by(worst, gap(rng));
            if price <= 0 {
                break;
            }
            let qty = meta.qty_for(notional * size_factor(rng), price);
            self.set(side, price, qty);
        }
    }

    /// Changes a few sizes near the top, occasionally removing a level below the best.
    fn perturb(&mut self, side: Side, notional: f64, rng: &mut StdRng) {
        let count = rng.gen_range(1..=4);
        for _ in 0..count {
            let depth = self.book.depth(side);
            if depth == 0 {
                return;
            }
            let index = ((-rng.gen::<f64>().max(1e-9).ln() * 8.0) as usize).min(depth - 1);
            let Some(level) = self.nth(side, index) else {
                continue;
            };
            if index > 0 && rng.gen_bool(0.1) {
                self.set(side, level.price, 0);
            } else {
                let qty = self.meta.qty_for(notional * size_factor(rng), level.price);
                if qty != level.qty {
                    self.set(side, level.price, qty);
                }
            }
        }
    }

    /// Makes the top levels of a side hold at least `notional` each.
    fn ensure_top_size(&mut self, side: Side, notional: f64) {
        for index in 0..DISLOCATION_LEVELS {
            let Some(level) = self.nth(side, index) else {
                break;
            };
            let wanted = self.meta.qty_for(notional, level.price);
            if level.qty < wanted {
                self.set(side, level.price, wanted);
            }
        }
    }

    /// Advances the sequence numbers after a step's changes.
    fn bump_sequence(&mut self, rng: &mut StdRng) {
        self.prev_seq = self.seq;
        if !self.changes.is_empty() {
            self.seq += match self.meta.venue {
                Venue::Okx => rng.gen_range(1..4),
                Venue::Binance => self.changes.len() as u64 + rng.gen_range(0..3),
                Venue::Bybit => 1,
            };
        }
    }

    /// A delta of the last step (one net change per level, bids then asks, ascending price), with the
    /// top levels after it.
    pub fn delta(&self, checksum: Option<i32>) -> BookDelta {
        let net: std::collections::BTreeMap<(u8, i64), i64> =
            self.changes.iter().map(|c| ((u8::from(c.side == Side::Ask), c.price), c.qty)).collect();
        let changes = net
            .into_iter()
            .map(|((side, price), qty)| Change { side: if side == 0 { Side::Bid } else { Side::Ask }, price, qty })
            .collect();
        BookDelta {
            meta: Arc::clone(&self.meta),
            seq: self.seq,
            prev_seq: self.prev_seq,
            changes,
            bids: self.book.levels(Side::Bid).take(TOP_LEVELS).copied().collect(),
            asks: self.book.levels(Side::Ask).take(TOP_LEVELS).copied().collect(),
            checksum,
        }
    }
}

/// Spacing between adjacent levels, in ticks: mostly dense, sometimes gaps.
fn gap(rng: &mut StdRng) -> i64 {
    if rng.gen_bool(0.6) {
        1
    } else {
        rng.gen_range(2..=4)
    }
}

/// A log-normal size multiplier around 1.
fn size_factor(rng: &mut StdRng) -> f64 {
    (0.7 * normal(rng)).exp().clamp(0.05, 8.0)
}

/// A standard normal draw (Box–Muller), so no extra distribution crate is needed.
fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.gen::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A book's change over one step, with its top levels after the step (for WebSocket publishing).
#[derive(Debug, Clone)]
pub struct BookDelta {
    pub meta: Arc<BookMeta>,
    pub seq: u64,
    pub prev_seq: u64,
    /// Net changes: one per level, bids then asks, each in ascending price.
    pub changes: Vec<Change>,
    /// Top [`TOP_LEVELS`] bids and asks after the step, best first.
    pub bids: Vec<Level>,
    pub asks: Vec<Level>,
    /// OKX checksum of the book after the step, when enabled.
    pub checksum: Option<i32>,
}

/// A market listed on one or both venues.
#[derive(Debug, Clone)]
pub struct PairState {
    pub spec: SimPair,
    /// Latent fair price of one base unit, in quote currency.
    pub fair: f64,
    /// Lowest and highest fair price seen (tickers' 24 h range).
    pub low: f64,
    pub high: f64,
    pub okx: Option<VenueBook>,
    pub binance: Option<VenueBook>,
    pub bybit: Option<VenueBook>,
}

/// One venue's funding of one pair at an instant of the funding clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FundingTruth {
    /// Rate announced for the next settlement, fraction.
    pub rate: f64,
    /// Next settlement, Unix ms (funding clock).
    pub next_ms: u64,
    pub interval_hours: u32,
    /// Rate and time of the last settlement.
    pub last_settled: (f64, u64),
}

impl PairState {
    /// The rate settled at `settlement_ms`: the configured rate plus a small wobble that changes every hour,
    /// the same on both venues.
    pub fn rate_at(&self, settlement_ms: u64) -> f64 {
        let hour = settlement_ms / 3_600_000;
        let wobble = ((hour.wrapping_mul(2_654_435_761) % 1000) as f64 / 1000.0 - 0.5) * 0.2;
        self.spec.funding_rate * (1.0 + wobble)
    }

    /// The book on `venue`, if listed there.
    pub fn venue(&self, venue: Venue) -> Option<&VenueBook> {
        match venue {
            Venue::Okx => self.okx.as_ref(),
            Venue::Binance => self.binance.as_ref(),
            Venue::Bybit => self.bybit.as_ref(),
        }
    }

    fn venue_mut(&mut self, venue: Venue) -> Option<&mut VenueBook> {
        match venue {
            Venue::Okx => self.okx.as_mut(),
            Venue::Binance => self.binance.as_mut(),
            Venue::Bybit => self.bybit.as_mut(),
        }
    }
}

/// A dislocation that has just begun, as written to the ground-truth log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroundTruth {
    pub pair: String,
    pub buy_venue: Venue,
    pub sell_venue: Venue,
    /// First exchange time at which the cross is on the books, Unix ns.
    pub start_ns: u64,
    /// First exchange time at which it is gone again, Unix ns.
    pub end_ns: u64,
    pub size_bp: f64,
}

/// The whole simulated market.
#[derive(Debug)]
pub struct Market {
    pairs: Vec<PairState>,
    index: HashMap<(Venue, String), usize>,
    dislocations: Vec<(Dislocation, usize, bool)>,
    rng: StdRng,
    step: u64,
    epoch_ms: u64,
    tick_ms: u64,
    /// Fair-price standard deviation per step, as a fraction.
    step_sigma: f64,
    /// Funding time runs this many times faster than exchange time.
    funding_speed: u64,
    /// Bybit's books draw from their own generator, so that the OKX and Binance markets of a seed are the same
    /// with or without Bybit.
    bybit_rng: StdRng,
}

impl Market {
    /// Builds the market at step 0 from a configuration.
    pub fn new(config: &SimConfig, epoch_ms: u64) -> Result<Self, SimError> {
        config.validate()?;
        let mut rng = StdRng::seed_from_u64(config.seed);
        let mut bybit_rng = StdRng::seed_from_u64(config.seed ^ 0xB1B1_7000);
        let mut pairs = Vec::with_capacity(config.pairs.len());
        let mut index = HashMap::new();
        for (i, spec) in config.pairs.iter().enumerate() {
            let mut books = Venue::ALL.map(|venue| {
                let rng = if venue == Venue::Bybit { &mut bybit_rng } else { &mut rng };
                BookMeta::new(venue, i, spec).map(|meta| VenueBook::new(meta, rng))
            });
            for book in books.iter().flatten() {
                let key = (book.meta.venue, book.meta.symbol().to_owned());
                if index.insert(key, i).is_some() {
                    return Err(SimError::Config(format!(
                        "{} listed twice on {}",
                        book.meta.symbol(),
                        book.meta.venue
                    )));
                }
            }
            let [okx, binance, bybit] = std::mem::take(&mut books);
            pairs.push(PairState {
                spec: spec.clone(),
                fair: spec.start_price,
                low: spec.start_price,
                high: spec.start_price,
                okx,
                binance,
                bybit,
            });
        }
        let dislocations = config
            .dislocations
            .iter()
            .map(|d| {
                let listed = |p: &PairState| p.spec.lists(d.buy_venue) && p.spec.lists(d.sell_venue());
                let pair = pairs.iter().position(|p| p.spec.matches(&d.base, &d.quote) && listed(p));
                pair.map(|p| (d.clone(), p, false))
                    .ok_or_else(|| SimError::Config(format!("dislocation on unlisted {}/{}", d.base, d.quote)))
            })
            .collect::<Result<_, _>>()?;
        let dt_s = config.tick_ms as f64 / 1000.0;
        let mut market = Market {
            pairs,
            index,
            dislocations,
            rng,
            step: 0,
            epoch_ms,
            tick_ms: config.tick_ms,
            step_sigma: config.volatility_bp_per_s / 1e4 * dt_s.sqrt(),
            funding_speed: config.funding_clock_speed.max(1),
            bybit_rng,
        };
        market.quote_all();
        Ok(market)
    }

    /// Steps taken so far.
    pub(crate) fn step_index(&self) -> u64 {
        self.step
    }

    /// Exchange time of the current state, Unix ms.
    pub fn now_ms(&self) -> u64 {
        self.epoch_ms + self.step * self.tick_ms
    }

    /// Exchange time of step 0, Unix ms.
    pub fn epoch_ms(&self) -> u64 {
        self.epoch_ms
    }

    /// The funding clock, Unix ms: exchange time, sped up by `funding_clock_speed` from step 0.
    pub(crate) fn funding_now_ms(&self) -> u64 {
        self.epoch_ms + (self.now_ms() - self.epoch_ms).saturating_mul(self.funding_speed)
    }

    /// The funding of `pair` on `venue` now: the one source of every funding figure both venues publish.
    pub fn funding(&self, pair: &PairState, venue: Venue) -> FundingTruth {
        let hours = pair.spec.funding_hours(venue);
        let interval_ms = u64::from(hours) * 3_600_000;
        let next_ms = crate::clock::next_funding_every(self.funding_now_ms(), hours);
        let last_ms = next_ms - interval_ms;
        FundingTruth {
            rate: pair.rate_at(next_ms),
            next_ms,
            interval_hours: hours,
            last_settled: (pair.rate_at(last_ms), last_ms),
        }
    }

    /// Changes the funding interval of `symbol` on `venue` (venues do this in volatile markets); the next
    /// settlement follows the new schedule at once.
    pub fn set_funding_hours(&mut self, venue: Venue, symbol: &str, hours: u32) -> Result<(), SimError> {
        if !crate::config::FUNDING_HOURS.contains(&hours) {
            return Err(SimError::Config(format!("funding hours must be 1, 2, 4 or 8, not {hours}")));
        }
        let index = *self
            .index
            .get(&(venue, symbol.to_owned()))
            .ok_or_else(|| SimError::Config(format!("{symbol} is not listed on {venue}")))?;
        let spec = &mut self.pairs[index].spec;
        match venue {
            Venue::Okx => spec.okx_funding_hours = hours,
            Venue::Binance => spec.binance_funding_hours = hours,
            Venue::Bybit => spec.bybit_funding_hours = hours,
        }
        Ok(())
    }

    /// Restarts the update ids of `symbol` on `venue` at 1 (a service restart; the next step continues from there).
    pub(crate) fn restart_sequence(&mut self, venue: Venue, symbol: &str) {
        let Some(&index) = self.index.get(&(venue, symbol.to_owned())) else { return };
        if let Some(book) = self.pairs[index].venue_mut(venue) {
            (book.seq, book.prev_seq) = (1, 1);
        }
    }

    /// Model step length in ms.
    pub fn tick_ms(&self) -> u64 {
        self.tick_ms
    }

    /// All markets, in configuration order.
    pub fn pairs(&self) -> &[PairState] {
        &self.pairs
    }

    /// The pair listing `symbol` on `venue`.
    pub(crate) fn pair_of(&self, venue: Venue, symbol: &str) -> Option<&PairState> {
        self.index.get(&(venue, symbol.to_owned())).map(|&i| &self.pairs[i])
    }

    /// The true book of `symbol` on `venue`.
    pub fn book(&self, venue: Venue, symbol: &str) -> Option<&VenueBook> {
        self.pair_of(venue, symbol)?.venue(venue)
    }

    /// Position of `symbol` among [`Market::books`] of `venue` (and in [`crate::server::StepEvent`]).
    pub(crate) fn book_slot(&self, venue: Venue, symbol: &str) -> Option<usize> {
        self.books(venue).position(|b| b.meta.symbol() == symbol)
    }

    /// Every listed book on `venue`, in configuration order.
    pub fn books(&self, venue: Venue) -> impl Iterator<Item = &VenueBook> {
        self.pairs.iter().filter_map(move |p| p.venue(venue))
    }

    /// Advances the market by one step; returns dislocations that began with it.
    pub fn step(&mut self) -> Vec<GroundTruth> {
        self.step += 1;
        for pair in &mut self.pairs {
            let shock = self.step_sigma * normal(&mut self.rng);
            pair.fair *= shock.exp();
            pair.low = pair.low.min(pair.fair);
            pair.high = pair.high.max(pair.fair);
        }
        self.quote_all();
        self.announce_dislocations()
    }

    /// Elapsed exchange time since step 0, ms.
    fn elapsed_ms(&self) -> u64 {
        self.step * self.tick_ms
    }

    fn quote_all(&mut self) {
        let elapsed = self.elapsed_ms();
        for i in 0..self.pairs.len() {
            let active =
                self.dislocations.iter().find(|(d, p, _)| *p == i && d.active_at(elapsed)).map(|(d, _, _)| d.clone());
            self.quote_pair(i, active.as_ref());
        }
    }

    /// Re-prices both venues' books of pair `i`.
    fn quote_pair(&mut self, i: usize, dislocation: Option<&Dislocation>) {
        let (main_rng, bybit_rng) = (&mut self.rng, &mut self.bybit_rng);
        let pair = &mut self.pairs[i];
        let half = pair.spec.half_spread_bp / 1e4;
        let (fair, notional) = (pair.fair, pair.spec.level_notional);
        let mut targets = [None; Venue::COUNT];
        for (slot, venue) in Venue::ALL.into_iter().enumerate() {
            let Some(book) = pair.venue_mut(venue) else {
                continue;
            };
            let rng = if venue == Venue::Bybit { &mut *bybit_rng } else { &mut *main_rng };
            book.changes.clear();
            let limit = 0.4 * half;
            book.offset = (0.9 * book.offset + 0.25 * limit * normal(rng)).clamp(-limit, limit);
            let mid = fair * (1.0 + book.offset);
            let bid = book.meta.to_grid(mid * (1.0 - half), false);
            let ask = book.meta.to_grid(mid * (1.0 + half), true).max(bid + book.meta.tick);
            targets[slot] = Some((bid, ask));
        }
        if let Some(d) = dislocation {
            dislocate(pair, d, &mut targets);
        }
        for (slot, venue) in Venue::ALL.into_iter().enumerate() {
            let (Some(book), Some((bid, ask))) = (pair.venue_mut(venue), targets[slot]) else {
                continue;
            };
            let rng = if venue == Venue::Bybit { &mut *bybit_rng } else { &mut *main_rng };
            book.reprice(Side::Bid, bid, notional, rng);
            book.reprice(Side::Ask, ask, notional, rng);
        }
        if let Some(d) = dislocation {
            if let Some(book) = pair.venue_mut(d.buy_venue) {
                book.ensure_top_size(Side::Ask, notional);
            }
            if let Some(book) = pair.venue_mut(d.sell_venue()) {
                book.ensure_top_size(Side::Bid, notional);
            }
        }
        for venue in Venue::ALL {
            let rng = if venue == Venue::Bybit { &mut *bybit_rng } else { &mut *main_rng };
            if let Some(book) = pair.venue_mut(venue) {
                book.bump_sequence(rng);
            }
        }
    }

    fn announce_dislocations(&mut self) -> Vec<GroundTruth> {
        let elapsed = self.elapsed_ms();
        let (epoch, tick) = (self.epoch_ms, self.tick_ms);
        let mut started = Vec::new();
        for (d, pair, announced) in &mut self.dislocations {
            if *announced || !d.active_at(elapsed) {
                continue;
            }
            *announced = true;
            // The cross is on the books from the first step at or after start until the first step at or
            // after the end.
            let first_step_at = |ms: u64| ms.div_ceil(tick) * tick;
            started.push(GroundTruth {
                pair: self.pairs[*pair].spec.key().to_string(),
                buy_venue: d.buy_venue,
                sell_venue: d.sell_venue(),
                start_ns: (epoch + first_step_at(d.start_ms)) * 1_000_000,
                end_ns: (epoch + first_step_at(d.start_ms + d.duration_ms)) * 1_000_000,
                size_bp: d.size_bp,
            });
        }
        started
    }
}

/// Moves the buy venue's targets so its best ask is `size_bp` below the sell venue's best bid.
fn dislocate(pair: &PairState, d: &Dislocation, targets: &mut [Option<(i64, i64)>; Venue::COUNT]) {
    let slot = |v: Venue| v.index();
    let (buy_slot, sell_slot) = (slot(d.buy_venue), slot(d.sell_venue()));
    let (Some(buy), Some(sell)) = (pair.venue(d.buy_venue), pair.venue(d.sell_venue())) else {
        return;
    };
    let (Some((buy_bid, buy_ask)), Some((sell_bid, _))) = (targets[buy_slot], targets[sell_slot]) else {
        return;
    };
    let sell_bid_base = sell.meta.price_per_base(sell_bid);
    let ask = buy.meta.to_grid(sell_bid_base / (1.0 + d.size_bp / 1e4), false);
    targets[buy_slot] = Some((ask - (buy_ask - buy_bid), ask));
}

#[cfg(test)]
mod tests;

//! [`SpreadSnapshot`]: one pair's executable spread in one direction at one instant — buy on one venue, sell on
//! the other — sampled at a fixed rate by [`SnapshotSampler`] for Redis (`perpspread:spreads:<pair>`) and files.
//!
//! Legs are described as the buy leg and the sell leg, each with its venue and symbol: no field names a venue,
//! so a new venue changes no schema. Field names follow the opportunity JSON lines (`pair`, `direction`,
//! `buy_venue`, `size_base`, `buy_vwap`, `net_bp`, …); prices are quote currency per **base unit** (contract
//! sizes and `1000`-prefixes already divided out).

use perpspread_core::engine::{Engine, Suppression};
use perpspread_core::feed::{BookState, Feed, TrackedBook};
use perpspread_core::spread::{top_per_base, LegBook};
use perpspread_core::{Direction, Venue};
use rust_decimal::Decimal;
use serde::Serialize;

/// One evaluated size of a snapshot's direction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnapshotQuote {
    /// Index of the size in the engine's configured sizes.
    pub size_index: usize,
    /// Size of each leg, base units.
    pub size_base: Decimal,
    /// Buy cost, quote currency.
    #[serde(serialize_with = "perpspread_core::num::serialize_shown")]
    pub size_quote: f64,
    #[serde(serialize_with = "perpspread_core::num::serialize_shown")]
    pub buy_vwap: f64,
    #[serde(serialize_with = "perpspread_core::num::serialize_shown")]
    pub sell_vwap: f64,
    #[serde(serialize_with = "perpspread_core::num::serialize_shown")]
    pub gross_bp: f64,
    #[serde(serialize_with = "perpspread_core::num::serialize_shown")]
    pub fees_bp: f64,
    #[serde(serialize_with = "perpspread_core::num::serialize_shown")]
    pub net_bp: f64,
    /// Largest size (base units, quote cost) whose net is at least the open threshold.
    pub max_size_base: Decimal,
    #[serde(serialize_with = "perpspread_core::num::serialize_shown")]
    pub max_size_quote: f64,
}

/// A pair's spread in one direction at `ts_ns`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpreadSnapshot {
    /// `BASE/QUOTE`.
    pub pair: String,
    /// Sampling time, Unix ns (UTC).
    pub ts_ns: u64,
    /// `buy_<venue>_sell_<venue>`.
    pub direction: Direction,
    pub buy_venue: Venue,
    pub sell_venue: Venue,
    pub buy_symbol: String,
    pub sell_symbol: String,
    /// Best ask of the buy leg and best bid of the sell leg, per base unit (`None` when that book is not
    /// `Live` or that side is empty).
    #[serde(serialize_with = "perpspread_core::num::serialize_shown_opt")]
    pub buy_ask: Option<f64>,
    #[serde(serialize_with = "perpspread_core::num::serialize_shown_opt")]
    pub sell_bid: Option<f64>,
    /// The engine guard suppressing this pair (`not_live`, `stale`, `crossed`, `latency`), if any.
    pub suppressed: Option<Suppression>,
    /// Funding of the legs, bp per hour at their current rates (`None` until known).
    #[serde(serialize_with = "perpspread_core::num::serialize_shown_opt")]
    pub buy_funding_bp_per_h: Option<f64>,
    #[serde(serialize_with = "perpspread_core::num::serialize_shown_opt")]
    pub sell_funding_bp_per_h: Option<f64>,
    /// Funding received over the holding horizon by holding this direction (long the buy leg, short the
    /// sell leg), bp: each leg's settlements on its own schedule (see `perpspread_core::funding`).
    #[serde(serialize_with = "perpspread_core::num::serialize_shown_opt")]
    pub funding_carry_bp: Option<f64>,
    /// Holding horizon of `funding_carry_bp`, hours.
    pub funding_horizon_h: f64,
    /// Every executable size, in engine order.
    pub quotes: Vec<SnapshotQuote>,
}

impl SpreadSnapshot {
    /// The snapshots of engine pair `pair`, both directions, from its books (in the order of `pair.legs`).
    /// Returns `None` when `pair` is out of range.
    pub fn capture(
        engine: &Engine,
        pair: usize,
        books: [Option<&TrackedBook>; 2],
        ts_ns: u64,
    ) -> Option<[SpreadSnapshot; 2]> {
        let p = engine.pairs().get(pair)?;
        let funding = engine.funding(pair);
        let per_hour = |leg: usize| funding[leg].and_then(|f| f.schedule()).map(|s| s.bp_per_hour());
        let tops = [0, 1].map(|leg| {
            let book = books[leg].filter(|b| b.state == BookState::Live)?;
            Some(top_per_base(&LegBook { instrument: &p.legs[leg], book: &book.book }))
        });
        let quotes = engine.quotes(pair);
        let snapshot = |(buy, sell): (usize, usize)| {
            let direction = Direction::new(p.legs[buy].venue, p.legs[sell].venue);
            SpreadSnapshot {
                pair: p.key.to_string(),
                ts_ns,
                direction,
                buy_venue: direction.buy,
                sell_venue: direction.sell,
                buy_symbol: p.legs[buy].symbol.clone(),
                sell_symbol: p.legs[sell].symbol.clone(),
                buy_ask: tops[buy].and_then(|(_, ask)| ask),
                sell_bid: tops[sell].and_then(|(bid, _)| bid),
                suppressed: engine.suppression(pair),
                buy_funding_bp_per_h: per_hour(buy),
                sell_funding_bp_per_h: per_hour(sell),
                funding_carry_bp: engine.funding_carry_bp(pair, (buy, sell), ts_ns / 1_000_000),
                funding_horizon_h: engine.config().funding_horizon_ms as f64 / 3_600_000.0,
                quotes: quotes
                    .iter()
                    .flatten()
                    .filter(|q| q.direction == direction)
                    .map(|q| SnapshotQuote {
                        size_index: q.size_index,
                        size_base: q.size_base,
                        size_quote: q.size_quote,
                        buy_vwap: q.buy_vwap,
                        sell_vwap: q.sell_vwap,
                        gross_bp: q.gross_bp,
                        fees_bp: q.fees_bp,
                        net_bp: q.net_bp,
                        max_size_base: q.max_size_base,
                        max_size_quote: q.max_size_quote,
                    })
                    .collect(),
            }
        };
        Some([snapshot((0, 1)), snapshot((1, 0))])
    }

    /// Like [`SpreadSnapshot::capture`], looking the books up in the venues' feed handlers
    /// (e.g. `|venue| pipeline.feed(venue)`).
    pub(crate) fn from_feeds<'a>(
        engine: &Engine,
        pair: usize,
        feed: &impl Fn(Venue) -> &'a dyn Feed,
        ts_ns: u64,
    ) -> Option<[SpreadSnapshot; 2]> {
        let legs = &engine.pairs().get(pair)?.legs;
        let book = |i: usize| {
            let f = feed(legs[i].venue);
            f.slot(&legs[i].symbol).and_then(|slot| f.book(slot))
        };
        Self::capture(engine, pair, [book(0), book(1)], ts_ns)
    }

    /// The best net spread over the evaluated sizes, bp.
    pub fn best_net_bp(&self) -> Option<f64> {
        self.quotes.iter().map(|q| q.net_bp).max_by(f64::total_cmp)
    }
}

/// Samples every pair's [`SpreadSnapshot`] at a fixed interval.
#[derive(Debug, Clone)]
pub struct SnapshotSampler {
    interval_ns: u64,
    next_ns: u64,
}

impl SnapshotSampler {
    /// A sampler taking one round of snapshots every `interval` (at least 1 ms).
    pub fn new(interval: std::time::Duration) -> Self {
        SnapshotSampler { interval_ns: (interval.as_nanos() as u64).max(1_000_000), next_ns: 0 }
    }

    /// Whether a round is due at `now_ns` (Unix ns); when it is, schedules the next one.
    pub fn due(&mut self, now_ns: u64) -> bool {
        if now_ns < self.next_ns {
            return false;
        }
        // Align rounds to multiples of the interval so that shards sample at the same instants.
        self.next_ns = (now_ns / self.interval_ns + 1) * self.interval_ns;
        true
    }

    /// When due at `now_ns`, appends the snapshots of every pair and direction with at least one executable
    /// quote or a live book to `out`; returns whether a round was taken.
    pub fn sample<'a>(
        &mut self,
        engine: &Engine,
        feed: impl Fn(Venue) -> &'a dyn Feed,
        now_ns: u64,
        out: &mut Vec<SpreadSnapshot>,
    ) -> bool {
        if !self.due(now_ns) {
            return false;
        }
        for pair in 0..engine.pairs().len() {
            for snapshot in SpreadSnapshot::from_feeds(engine, pair, &feed, now_ns).into_iter().flatten() {
                let has_book = snapshot.buy_ask.is_some() || snapshot.sell_bid.is_some();
                if has_book || !snapshot.quotes.is_empty() {
                    out.push(snapshot);
                }
            }
        }
        true
    }
}

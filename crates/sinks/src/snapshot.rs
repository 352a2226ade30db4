//! [`SpreadSnapshot`]: one pair's top of book on both venues and its executable spreads at one instant,
//! sampled at a fixed rate by [`SnapshotSampler`] for Redis (`perpspread:spreads:<pair>`) and files.
//!
//! Field names follow the opportunity JSON lines (`pair`, `direction`, `size_base`, `size_quote`,
//! `buy_vwap`, `sell_vwap`, `gross_bp`, `fees_bp`, `net_bp`, `max_size_base`, `max_size_quote`); prices
//! are quote currency per **base unit** (contract sizes and `1000`-prefixes already divided out).

use perpspread_core::engine::Engine;
use perpspread_core::feed::{BookState, Feed, TrackedBook};
use perpspread_core::spread::{top_per_base, LegBook};
use perpspread_core::Venue;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// One evaluated (direction, size) inside a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotQuote {
    /// `buy_okx_sell_binance` or `buy_binance_sell_okx`.
    pub direction: String,
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
    /// Funding of the legs, bp per hour at their current rates (`None` until known).
    #[serde(default, serialize_with = "perpspread_core::num::serialize_shown_opt")]
    pub buy_funding_bp_per_h: Option<f64>,
    #[serde(default, serialize_with = "perpspread_core::num::serialize_shown_opt")]
    pub sell_funding_bp_per_h: Option<f64>,
    /// Funding received over the holding horizon by holding this direction (long the buy leg, short the
    /// sell leg), bp: each leg's settlements on its own schedule (see `perpspread_core::funding`).
    #[serde(default, serialize_with = "perpspread_core::num::serialize_shown_opt")]
    pub funding_carry_bp: Option<f64>,
}

/// A pair's top of book and executable spreads at `ts_ns`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpreadSnapshot {
    /// `BASE/QUOTE`.
    pub pair: String,
    /// Sampling time, Unix ns (UTC).
    pub ts_ns: u64,
    /// Best bid / ask per base unit of each venue (`None` when that book is not `Live` or that side is empty).
    #[serde(serialize_with = "perpspread_core::num::serialize_shown_opt")]
    pub okx_bid: Option<f64>,
    #[serde(serialize_with = "perpspread_core::num::serialize_shown_opt")]
    pub okx_ask: Option<f64>,
    #[serde(serialize_with = "perpspread_core::num::serialize_shown_opt")]
    pub binance_bid: Option<f64>,
    #[serde(serialize_with = "perpspread_core::num::serialize_shown_opt")]
    pub binance_ask: Option<f64>,
    /// Direction of the best net spread over all evaluated sizes.
    pub best_direction: Option<String>,
    #[serde(serialize_with = "perpspread_core::num::serialize_shown_opt")]
    pub best_gross_bp: Option<f64>,
    #[serde(serialize_with = "perpspread_core::num::serialize_shown_opt")]
    pub best_net_bp: Option<f64>,
    /// Largest size at the open threshold in the best direction.
    pub max_size_base: Option<Decimal>,
    #[serde(serialize_with = "perpspread_core::num::serialize_shown_opt")]
    pub max_size_quote: Option<f64>,
    /// The engine guard suppressing this pair (`not_live`, `stale`, `crossed`, `latency`), if any.
    pub suppressed: Option<String>,
    /// Holding horizon of the quotes' `funding_carry_bp`, hours.
    #[serde(default)]
    pub funding_horizon_h: f64,
    /// Every executable (direction, size), in engine order.
    pub quotes: Vec<SnapshotQuote>,
}

impl SpreadSnapshot {
    /// The snapshot of engine pair `pair` from its books (in the order of `pair.legs`).
    /// Returns `None` when `pair` is out of range.
    pub fn capture(
        engine: &Engine,
        pair: usize,
        books: [Option<&TrackedBook>; 2],
        ts_ns: u64,
    ) -> Option<SpreadSnapshot> {
        let p = engine.pairs().get(pair)?;
        let mut snapshot = SpreadSnapshot {
            pair: p.key.to_string(),
            ts_ns,
            okx_bid: None,
            okx_ask: None,
            binance_bid: None,
            binance_ask: None,
            best_direction: None,
            best_gross_bp: None,
            best_net_bp: None,
            max_size_base: None,
            max_size_quote: None,
            suppressed: engine.suppression(pair).map(|s| s.label().to_owned()),
            funding_horizon_h: engine.config().funding_horizon_ms as f64 / 3_600_000.0,
            quotes: Vec::new(),
        };
        let funding = engine.funding(pair);
        let leg_of = |venue: Venue| p.legs.iter().position(|leg| leg.venue == venue);
        let per_hour = |leg: Option<usize>| leg.and_then(|l| funding[l]?.schedule()).map(|s| s.bp_per_hour());
        let now_ms = ts_ns / 1_000_000;
        for (leg, book) in p.legs.iter().zip(books) {
            let Some(book) = book.filter(|b| b.state == BookState::Live) else {
                continue;
            };
            let (bid, ask) = top_per_base(&LegBook { instrument: leg, book: &book.book });
            match leg.venue {
                Venue::Okx => (snapshot.okx_bid, snapshot.okx_ask) = (bid, ask),
                Venue::Binance => (snapshot.binance_bid, snapshot.binance_ask) = (bid, ask),
            }
        }
        let mut best: Option<&perpspread_core::engine::Quote> = None;
        for quote in engine.quotes(pair).iter().flatten() {
            snapshot.quotes.push(SnapshotQuote {
                direction: quote.direction.label(),
                size_index: quote.size_index,
                size_base: quote.size_base,
                size_quote: quote.size_quote,
                buy_vwap: quote.buy_vwap,
                sell_vwap: quote.sell_vwap,
                gross_bp: quote.gross_bp,
                fees_bp: quote.fees_bp,
                net_bp: quote.net_bp,
                max_size_base: quote.max_size_base,
                max_size_quote: quote.max_size_quote,
                buy_funding_bp_per_h: per_hour(leg_of(quote.direction.buy)),
                sell_funding_bp_per_h: per_hour(leg_of(quote.direction.sell)),
                funding_carry_bp: leg_of(quote.direction.buy)
                    .zip(leg_of(quote.direction.sell))
                    .and_then(|legs| engine.funding_carry_bp(pair, legs, now_ms)),
            });
            if best.is_none_or(|b| quote.net_bp > b.net_bp) {
                best = Some(quote);
            }
        }
        if let Some(best) = best {
            snapshot.best_direction = Some(best.direction.label());
            snapshot.best_gross_bp = Some(best.gross_bp);
            snapshot.best_net_bp = Some(best.net_bp);
            snapshot.max_size_base = Some(best.max_size_base);
            snapshot.max_size_quote = Some(best.max_size_quote);
        }
        Some(snapshot)
    }

    /// Like [`SpreadSnapshot::capture`], looking the books up in the venues' feed handlers
    /// (e.g. `|venue| pipeline.feed(venue)`).
    pub fn from_feeds<'a>(
        engine: &Engine,
        pair: usize,
        feed: &impl Fn(Venue) -> &'a dyn Feed,
        ts_ns: u64,
    ) -> Option<SpreadSnapshot> {
        let legs = &engine.pairs().get(pair)?.legs;
        let book = |i: usize| {
            let f = feed(legs[i].venue);
            f.slot(&legs[i].symbol).and_then(|slot| f.book(slot))
        };
        Self::capture(engine, pair, [book(0), book(1)], ts_ns)
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

    /// When due at `now_ns`, appends a snapshot of every pair that has at least one executable quote or a
    /// live book to `out`; returns whether a round was taken.
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
            if let Some(snapshot) = SpreadSnapshot::from_feeds(engine, pair, &feed, now_ns) {
                let has_book = [snapshot.okx_bid, snapshot.okx_ask, snapshot.binance_bid, snapshot.binance_ask]
                    .iter()
                    .any(Option::is_some);
                if has_book || !snapshot.quotes.is_empty() {
                    out.push(snapshot);
                }
            }
        }
        true
    }
}

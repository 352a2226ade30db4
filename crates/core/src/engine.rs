//! The live spread engine: re-evaluates one pair per book update and tracks opportunities from open to
//! close.
//!
//! * **Incremental.** [`Engine::on_update`] evaluates only the pair whose book changed; other pairs keep
//!   their last evaluation.
//! * **Guards.** No signal is taken from a book that is not `Live`, is older than `max_book_age`, is
//!   crossed, or whose exchange→receive latency exceeds `max_latency_ms`; every suppressed evaluation is
//!   counted by reason, and any open opportunity on that pair closes.
//! * **Lifecycle with hysteresis.** An opportunity (pair, direction, size) opens when `net_bp ≥ open_bp`
//!   and closes when `net_bp < close_bp` or a guard fails. It carries its peak and time-weighted mean net,
//!   its largest executable size at the open threshold, its update count, and the leg latencies at open.
//! * **Confidence** in `[0, 1]` is the mean of four documented factors (see [`confidence`]).

use rust_decimal::Decimal;
use serde::Serialize;

use crate::funding::FundingSchedule;

use crate::feed::{receive_delay_ms, BookState, RecvTime, TrackedBook};
use crate::fees::FeeModel;
use crate::spread::{LegBook, LegUnits, LotStep, PreparedSize, SizeTarget, SpreadCalculator};
use crate::universe::Pair;

mod opportunity;

use opportunity::{advance, apply_quote};
pub use opportunity::{confidence, CloseReason, EventKind, Opportunity, OpportunityEvent, Quote, Suppression};

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub fees: FeeModel,
    /// Sizes evaluated for every pair and direction.
    pub sizes: Vec<SizeTarget>,
    /// Open when net ≥ this (bp).
    pub open_bp: f64,
    /// Close when net < this (bp); must be ≤ `open_bp`.
    pub close_bp: f64,
    /// Books older than this (since their last update, local receive time) are stale, ns.
    pub max_book_age_ns: u64,
    /// Messages slower than this from exchange to receive are distrusted, ms.
    pub max_latency_ms: f64,
    /// At most one `updated` event per opportunity per this interval, ns.
    pub update_interval_ns: u64,
    /// Add the funding carry over the horizon to the net spread.
    pub include_funding: bool,
    /// Holding horizon of the funding carry, ms (see [`crate::funding`]).
    pub funding_horizon_ms: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            fees: FeeModel::default(),
            sizes: vec![
                SizeTarget::Quote(Decimal::from(1_000)),
                SizeTarget::Quote(Decimal::from(10_000)),
                SizeTarget::Quote(Decimal::from(100_000)),
            ],
            open_bp: 0.0,
            close_bp: -2.0,
            max_book_age_ns: 5_000_000_000,
            max_latency_ms: 1_000.0,
            update_interval_ns: 1_000_000_000,
            include_funding: false,
            funding_horizon_ms: 24 * 3_600_000,
        }
    }
}

/// Funding of one leg.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct LegFunding {
    /// Rate applied at the next funding, as a fraction (0.0001 = 1 bp).
    pub rate: f64,
    /// Next funding time, Unix ms.
    pub next_funding_ms: Option<u64>,
    /// Hours between fundings.
    pub interval_hours: Option<u32>,
}

impl LegFunding {
    /// The leg's settlement schedule, when its interval and next time are known.
    pub fn schedule(&self) -> Option<FundingSchedule> {
        Some(FundingSchedule { rate: self.rate, interval_hours: self.interval_hours?, next_ms: self.next_funding_ms? })
    }
}

/// Per-pair state.
#[derive(Debug, Clone, Default)]
struct PairState {
    /// Latest quotes, indexed `direction × sizes + size`.
    quotes: Vec<Option<Quote>>,
    open: Vec<Option<Opportunity>>,
    funding: [Option<LegFunding>; 2],
    /// Carry of each direction over the horizon, and until when it holds (Unix ms).
    carry: Option<(u64, [Option<f64>; 2])>,
    suppressed: Option<Suppression>,
    latency_ms: [Option<f64>; 2],
}

/// Counters of the engine.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EngineStats {
    pub evaluations: u64,
    pub suppressed_not_live: u64,
    pub suppressed_stale: u64,
    pub suppressed_crossed: u64,
    pub suppressed_latency: u64,
    pub opened: u64,
    pub closed: u64,
    /// Funding intervals found to have changed in the streams (the next settlement moved by a new step).
    pub funding_interval_changes: u64,
}

/// The spread engine over a fixed list of pairs.
#[derive(Debug, Clone)]
pub struct Engine {
    config: EngineConfig,
    pairs: Vec<Pair>,
    /// Common lot step of each pair (computed once).
    steps: Vec<LotStep>,
    /// The configured sizes resolved against each pair's lot step (computed once).
    sizes: Vec<Vec<PreparedSize>>,
    /// Each pair's leg unit conversions for the books' current grids (recomputed when a grid widens).
    units: Vec<[Option<LegUnits>; 2]>,
    states: Vec<PairState>,
    /// Reused buffer of one evaluation's quotes, before they are tracked.
    evaluated: Vec<Evaluated>,
    next_id: u64,
    stats: EngineStats,
}

/// One (direction, size) of an evaluation, waiting to be tracked.
#[derive(Debug, Clone)]
struct Evaluated {
    /// `direction × sizes + size`, as in [`PairState::quotes`].
    slot: usize,
    quote: Option<Quote>,
    carry: Option<f64>,
}

/// The two directions, as leg indexes `(buy, sell)`.
const DIRECTIONS: [(usize, usize); 2] = [(0, 1), (1, 0)];

impl Engine {
    /// An engine for `pairs`.
    pub fn new(config: EngineConfig, pairs: Vec<Pair>) -> Self {
        let slots = DIRECTIONS.len() * config.sizes.len();
        let states = pairs
            .iter()
            .map(|_| PairState { quotes: vec![None; slots], open: vec![None; slots], ..PairState::default() })
            .collect();
        let steps: Vec<LotStep> = pairs.iter().map(|p| LotStep::new(p.common_step_base())).collect();
        let sizes: Vec<Vec<PreparedSize>> =
            steps.iter().map(|step| config.sizes.iter().map(|t| PreparedSize::new(*t, step)).collect()).collect();
        let units = vec![[None; 2]; pairs.len()];
        Engine {
            config,
            pairs,
            steps,
            sizes,
            units,
            states,
            evaluated: Vec::new(),
            next_id: 1,
            stats: EngineStats::default(),
        }
    }

    /// The pairs, in index order.
    pub fn pairs(&self) -> &[Pair] {
        &self.pairs
    }

    /// Settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Counters.
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    /// Latest quotes of a pair (`None` where not executable or suppressed).
    pub fn quotes(&self, pair: usize) -> &[Option<Quote>] {
        &self.states[pair].quotes
    }

    /// Open opportunities of a pair.
    pub fn open(&self, pair: usize) -> impl Iterator<Item = &Opportunity> {
        self.states[pair].open.iter().flatten()
    }

    /// The guard currently suppressing a pair, if any.
    pub fn suppression(&self, pair: usize) -> Option<Suppression> {
        self.states[pair].suppressed
    }

    /// Exchange→receive latency of each leg's last message, ms.
    pub fn latency_ms(&self, pair: usize) -> [Option<f64>; 2] {
        self.states[pair].latency_ms
    }

    /// Funding of each leg.
    pub fn funding(&self, pair: usize) -> [Option<LegFunding>; 2] {
        self.states[pair].funding
    }

    /// Sets a leg's funding (leg index as in `pair.legs`). A message without an interval (Binance's mark price)
    /// keeps the one known before — unless its next settlement time moved on by a whole number of hours other
    /// than that interval: the venue changed the interval (as Binance and OKX do in volatile markets), and the
    /// step is the new one.
    pub fn set_funding(&mut self, pair: usize, leg: usize, mut funding: LegFunding) {
        if let Some(state) = self.states.get_mut(pair) {
            if funding.interval_hours.is_none() {
                let before = state.funding[leg];
                funding.interval_hours = before.and_then(|f| f.interval_hours);
                let step_ms = funding
                    .next_funding_ms
                    .zip(before.and_then(|f| f.next_funding_ms))
                    .map(|(n, p)| n.saturating_sub(p));
                // A step that is a whole multiple of the known interval is settlements missed (a gap in the
                // stream), not a change.
                let known_ms = funding.interval_hours.map_or(0, |h| u64::from(h) * 3_600_000);
                let changed = |s: &u64| *s > 0 && s.is_multiple_of(3_600_000) && *s <= 8 * 3_600_000;
                if let Some(step) = step_ms.filter(changed).filter(|s| known_ms == 0 || !s.is_multiple_of(known_ms)) {
                    funding.interval_hours = Some((step / 3_600_000) as u32);
                    self.stats.funding_interval_changes += u64::from(known_ms != 0);
                }
            }
            state.funding[leg] = Some(funding);
            state.carry = None;
        }
    }

    /// Carry of a direction (long the `buy` leg, short the `sell` leg) over the funding horizon at `now_ms`,
    /// bp: each leg's settlements on its own schedule, current rates assumed to persist ([`crate::funding`]).
    /// `None` until both legs' rates, intervals and next settlement times are known.
    pub fn funding_carry_bp(&self, pair: usize, (buy, sell): (usize, usize), now_ms: u64) -> Option<f64> {
        let funding = &self.states[pair].funding;
        let (long, short) = (funding[buy]?.schedule()?, funding[sell]?.schedule()?);
        Some(crate::funding::carry_bp(&long, &short, now_ms, self.config.funding_horizon_ms))
    }

    /// [`Engine::funding_carry_bp`] of both directions, kept until a settlement leaves or enters the window
    /// (the evaluation path asks on every book update).
    fn carry_at(&mut self, pair: usize, now_ms: u64) -> [Option<f64>; 2] {
        if let Some((until, carry)) = self.states[pair].carry {
            if now_ms < until {
                return carry;
            }
        }
        let horizon = self.config.funding_horizon_ms;
        let until = self.states[pair]
            .funding
            .iter()
            .filter_map(|f| f.and_then(|f| f.schedule()))
            .map(|s| s.window_changes_at(now_ms, horizon))
            .min()
            .unwrap_or(u64::MAX);
        let carry = DIRECTIONS.map(|direction| self.funding_carry_bp(pair, direction, now_ms));
        self.states[pair].carry = Some((until, carry));
        carry
    }

    /// Re-evaluates `pair` after one of its books changed; appends lifecycle events to `out`.
    /// `books` are in the order of `pair.legs`; `now` is the receive time of the triggering message.
    pub fn on_update(&mut self, pair: usize, books: [&TrackedBook; 2], now: RecvTime, out: &mut Vec<OpportunityEvent>) {
        self.stats.evaluations += 1;
        let latency = books.map(latency_ms);
        self.states[pair].latency_ms = latency;
        if let Some(reason) = self.guard(books, now, latency) {
            self.count(reason);
            self.states[pair].suppressed = Some(reason);
            self.states[pair].quotes.iter_mut().for_each(|q| *q = None);
            self.close_all(pair, CloseReason::Guard(reason), now.wall_ns, out);
            return;
        }
        self.states[pair].suppressed = None;
        let carries = self.carry_at(pair, now.wall_ns / 1_000_000);
        let age_ns = books.iter().map(|b| now.mono_ns.saturating_sub(b.recv.mono_ns)).max().unwrap_or(0);
        let legs: [LegBook<'_>; 2] =
            std::array::from_fn(|leg| LegBook { instrument: &self.pairs[pair].legs[leg], book: &books[leg].book });
        let units: [LegUnits; 2] = std::array::from_fn(|leg| match self.units[pair][leg] {
            Some(units) if units.fits(legs[leg].book) => units,
            _ => LegUnits::new(legs[leg].instrument, legs[leg].book, self.steps[pair].base()),
        });
        self.units[pair] = units.map(Some);
        // Quote every (direction, size) first, then track them: tracking needs `&mut self`, quoting borrows
        // the pairs and sizes.
        let mut evaluated = std::mem::take(&mut self.evaluated);
        let sizes = &self.sizes[pair];
        for (d, &(buy, sell)) in DIRECTIONS.iter().enumerate() {
            let calc = SpreadCalculator::with_units(
                self.steps[pair],
                (legs[buy], units[buy]),
                (legs[sell], units[sell]),
                &self.config.fees,
            );
            let carry = carries[d];
            let extra = if self.config.include_funding { carry.unwrap_or(0.0) } else { 0.0 };
            let max = calc.max_size(self.config.open_bp - extra);
            for (size_index, size) in sizes.iter().enumerate() {
                let quote = calc.quote_prepared(*size).ok().map(|q| Quote {
                    direction: q.direction,
                    size_index,
                    size_base: q.size_base,
                    size_quote: q.buy_cost_quote,
                    buy_vwap: q.buy_vwap,
                    sell_vwap: q.sell_vwap,
                    gross_bp: q.gross_bp,
                    fees_bp: q.fees_bp,
                    net_bp: q.net_bp + extra,
                    max_size_base: max.size_base,
                    max_size_quote: max.size_quote,
                });
                evaluated.push(Evaluated { slot: d * sizes.len() + size_index, quote, carry });
            }
        }
        let per_direction = sizes.len();
        for Evaluated { slot, quote, carry } in evaluated.drain(..) {
            let legs = DIRECTIONS[slot / per_direction];
            self.track(pair, slot, legs, quote.as_ref(), carry, (latency, age_ns), now.wall_ns, out);
            self.states[pair].quotes[slot] = quote;
        }
        self.evaluated = evaluated;
    }

    /// Closes every open opportunity (reason `shutdown`).
    pub fn shutdown(&mut self, now_ns: u64, out: &mut Vec<OpportunityEvent>) {
        for pair in 0..self.pairs.len() {
            self.close_all(pair, CloseReason::Shutdown, now_ns, out);
        }
    }

    fn guard(&self, books: [&TrackedBook; 2], now: RecvTime, latency: [Option<f64>; 2]) -> Option<Suppression> {
        if books.iter().any(|b| b.state != BookState::Live) {
            return Some(Suppression::NotLive);
        }
        if books.iter().any(|b| b.book.is_crossed()) {
            return Some(Suppression::Crossed);
        }
        if books.iter().any(|b| b.state_at(now.mono_ns, self.config.max_book_age_ns) == BookState::Stale) {
            return Some(Suppression::Stale);
        }
        if latency.iter().flatten().any(|ms| *ms > self.config.max_latency_ms) {
            return Some(Suppression::Latency);
        }
        None
    }

    fn count(&mut self, reason: Suppression) {
        let counter = match reason {
            Suppression::NotLive => &mut self.stats.suppressed_not_live,
            Suppression::Stale => &mut self.stats.suppressed_stale,
            Suppression::Crossed => &mut self.stats.suppressed_crossed,
            Suppression::Latency => &mut self.stats.suppressed_latency,
        };
        *counter += 1;
    }

    #[allow(clippy::too_many_arguments)]
    fn track(
        &mut self,
        pair: usize,
        slot: usize,
        (buy, sell): (usize, usize),
        quote: Option<&Quote>,
        carry: Option<f64>,
        (latency, age_ns): ([Option<f64>; 2], u64),
        now_ns: u64,
        out: &mut Vec<OpportunityEvent>,
    ) {
        let (open_bp, close_bp, interval) = (self.config.open_bp, self.config.close_bp, self.config.update_interval_ns);
        let max_age = self.config.max_book_age_ns;
        let max_latency = self.config.max_latency_ms;
        // Nothing open and nothing to open, the common case: decided without moving the slot's state.
        if self.states[pair].open[slot].is_none() && quote.is_none_or(|q| q.net_bp < open_bp) {
            return;
        }
        let existing = self.states[pair].open[slot].take();
        match (existing, quote) {
            (None, Some(q)) if q.net_bp >= open_bp => {
                let p = &self.pairs[pair];
                let mut opportunity = Opportunity {
                    id: self.next_id,
                    pair: p.key.to_string(),
                    direction: q.direction,
                    buy_venue: p.legs[buy].venue,
                    sell_venue: p.legs[sell].venue,
                    buy_symbol: p.legs[buy].symbol.clone(),
                    sell_symbol: p.legs[sell].symbol.clone(),
                    size_target: self.config.sizes[q.size_index],
                    opened_ns: now_ns,
                    last_ns: now_ns,
                    closed_ns: None,
                    duration_ms: 0.0,
                    size_base: q.size_base,
                    size_quote: q.size_quote,
                    buy_vwap: q.buy_vwap,
                    sell_vwap: q.sell_vwap,
                    gross_bp: q.gross_bp,
                    fees_bp: q.fees_bp,
                    net_bp: q.net_bp,
                    peak_net_bp: q.net_bp,
                    mean_net_bp: q.net_bp,
                    max_size_base: q.max_size_base,
                    max_size_quote: q.max_size_quote,
                    updates: 1,
                    open_latency_buy_ms: latency[buy],
                    open_latency_sell_ms: latency[sell],
                    funding_carry_bp: carry,
                    confidence: 0.0,
                    close_reason: None,
                    weighted_sum: 0.0,
                    last_emit_ns: now_ns,
                };
                self.next_id += 1;
                self.stats.opened += 1;
                opportunity.confidence = confidence(&opportunity, latency, age_ns, max_age, max_latency);
                out.push(OpportunityEvent { event: EventKind::Opened, opportunity: opportunity.clone() });
                self.states[pair].open[slot] = Some(opportunity);
            }
            (Some(mut opportunity), Some(q)) if q.net_bp >= close_bp => {
                advance(&mut opportunity, now_ns);
                apply_quote(&mut opportunity, q, carry);
                opportunity.updates += 1;
                opportunity.confidence = confidence(&opportunity, latency, age_ns, max_age, max_latency);
                if now_ns.saturating_sub(opportunity.last_emit_ns) >= interval {
                    opportunity.last_emit_ns = now_ns;
                    out.push(OpportunityEvent { event: EventKind::Updated, opportunity: opportunity.clone() });
                }
                self.states[pair].open[slot] = Some(opportunity);
            }
            (Some(mut opportunity), quote) => {
                let reason = match quote {
                    Some(q) => {
                        // Record the figures that closed it (after integrating the previous net).
                        advance(&mut opportunity, now_ns);
                        apply_quote(&mut opportunity, q, carry);
                        CloseReason::BelowThreshold
                    }
                    None => CloseReason::NotExecutable,
                };
                self.close(opportunity, reason, now_ns, out);
            }
            (None, _) => {}
        }
    }

    fn close_all(&mut self, pair: usize, reason: CloseReason, now_ns: u64, out: &mut Vec<OpportunityEvent>) {
        for slot in 0..self.states[pair].open.len() {
            if let Some(opportunity) = self.states[pair].open[slot].take() {
                self.close(opportunity, reason, now_ns, out);
            }
        }
    }

    fn close(
        &mut self,
        mut opportunity: Opportunity,
        reason: CloseReason,
        now_ns: u64,
        out: &mut Vec<OpportunityEvent>,
    ) {
        advance(&mut opportunity, now_ns);
        opportunity.closed_ns = Some(now_ns);
        opportunity.close_reason = Some(reason);
        self.stats.closed += 1;
        out.push(OpportunityEvent { event: EventKind::Closed, opportunity });
    }
}

fn latency_ms(book: &TrackedBook) -> Option<f64> {
    receive_delay_ms(book.exchange_ms?, book.recv.wall_ns)
}

#[cfg(test)]
mod tests;

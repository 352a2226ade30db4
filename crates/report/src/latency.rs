//! Capture rate at a reaction latency: for every opportunity of a replay, what a trader who reacts `L` ms
//! after the message that opened it would have found — the executable net spread at the same size, on both
//! books as they stood at `t_open + L` (after the last message received by then), and whether the
//! opportunity was still open.
//!
//! The figures are read from the replay's own engine and books ([`ReplayStep`]): the same evaluation that
//! opened the opportunity prices it `L` ms later, so there is no second model to disagree with the first.
//! An opportunity opened less than `L` before the capture's last message is not counted at `L`
//! (`unobserved`): what happened after the capture is unknown.

use perpspread_core::engine::{Engine, EventKind, Opportunity};
use perpspread_sinks::files::OpportunityRecord;
use perpspread_stream::ReplayStep;
use serde::Serialize;

/// What the books offered for one opportunity at one latency.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Seen {
    /// Net bp at the opportunity's size, `None` when not executable there (depth, a guard).
    net_bp: Option<f64>,
    /// Cost of the buy leg at that size, quote currency.
    size_quote: Option<f64>,
    /// Whether the opportunity was still open (net not yet below the close threshold, no guard).
    open: bool,
}

/// An opportunity waiting for `t_open + L`.
#[derive(Debug)]
struct Pending {
    due_ns: u64,
    latency: usize,
    group: usize,
    pair: usize,
    slot: usize,
    id: u64,
    seen: Seen,
}

/// Collects, during a replay, what each opportunity offered `L` ms after it opened (feed it every
/// [`ReplayStep`], then [`LatencyProbe::finish`]).
#[derive(Debug)]
pub struct LatencyProbe {
    latencies_ms: Vec<u64>,
    open_bp: f64,
    /// `(pair, direction, size)` of each group, in order of first opportunity.
    groups: Vec<(String, String, String)>,
    pending: Vec<Pending>,
    /// `(latency, group, seen)` of every observed checkpoint.
    outcomes: Vec<(usize, usize, Seen)>,
    /// `(latency, group)` of the checkpoints a capture ended before.
    unobserved: Vec<(usize, usize)>,
}

/// Capture figures of one latency, for one (pair, direction, size) or for all (`pair` = `all`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencyRow {
    pub latency_ms: u64,
    pub pair: String,
    pub direction: String,
    /// `base 1`, `quote 10000`, … or `all`.
    pub size: String,
    /// Opportunities observed `latency_ms` after they opened.
    pub opportunities: u64,
    /// Share (0–1) still at or above the open threshold: still worth taking.
    pub share_at_threshold: f64,
    /// Share (0–1) still open (net not yet below the close threshold).
    pub share_open: f64,
    /// Share (0–1) executable at the size at all.
    pub share_executable: f64,
    /// Mean net bp over the executable ones: what reacting at this latency earns on average.
    pub mean_net_bp: Option<f64>,
    /// Σ size × net over those still at or above the threshold, quote currency: the money left on the table.
    pub available_quote: f64,
    /// Opened less than `latency_ms` before the capture ended: not counted.
    pub unobserved: u64,
}

impl LatencyProbe {
    /// A probe for these reaction latencies (ms) and the engine's open threshold (bp).
    pub fn new(latencies_ms: &[u64], open_bp: f64) -> Self {
        LatencyProbe {
            latencies_ms: latencies_ms.to_vec(),
            open_bp,
            groups: Vec::new(),
            pending: Vec::new(),
            outcomes: Vec::new(),
            unobserved: Vec::new(),
        }
    }

    /// Takes one replay step: settles the checkpoints it passed, refreshes the ones of the pairs it
    /// evaluated, and starts checkpoints for the opportunities it opened.
    pub fn on_step(&mut self, step: &ReplayStep<'_>) {
        let now = step.recv.wall_ns;
        let mut i = 0;
        while i < self.pending.len() {
            if self.pending[i].due_ns < now {
                let done = self.pending.swap_remove(i);
                self.outcomes.push((done.latency, done.group, done.seen));
            } else {
                i += 1;
            }
        }
        let Some(engine) = step.engine else { return };
        if !step.evaluated.is_empty() {
            for pending in &mut self.pending {
                if step.evaluated.contains(&pending.pair) {
                    pending.seen = seen(engine, pending.pair, pending.slot, pending.id);
                }
            }
        }
        for event in step.events.iter().filter(|e| e.event == EventKind::Opened) {
            let opportunity = &event.opportunity;
            let Some((pair, slot)) = locate(engine, opportunity) else { continue };
            let group = self.group_of(opportunity);
            let seen = seen(engine, pair, slot, opportunity.id);
            for (latency, ms) in self.latencies_ms.iter().enumerate() {
                let due_ns = opportunity.opened_ns.saturating_add(ms.saturating_mul(1_000_000));
                self.pending.push(Pending { due_ns, latency, group, pair, slot, id: opportunity.id, seen });
            }
        }
    }

    fn group_of(&mut self, opportunity: &Opportunity) -> usize {
        let record = OpportunityRecord::from_opportunity(opportunity);
        let key = (record.pair, record.direction, format!("{} {}", record.size_target_unit, record.size_target_amount));
        match self.groups.iter().position(|g| *g == key) {
            Some(index) => index,
            None => {
                self.groups.push(key);
                self.groups.len() - 1
            }
        }
    }

    /// Ends a capture: its checkpoints not yet reached stay unobserved (the next capture's clock is not
    /// this one's).
    pub fn end_capture(&mut self) {
        self.unobserved.extend(self.pending.drain(..).map(|p| (p.latency, p.group)));
    }

    /// Per latency: one row for all opportunities, then one per (pair, direction, size).
    pub fn finish(mut self) -> Vec<LatencyRow> {
        self.end_capture();
        let mut rows = Vec::new();
        for (latency, &ms) in self.latencies_ms.iter().enumerate() {
            let unobserved = |group: Option<usize>| {
                self.unobserved.iter().filter(|(l, g)| *l == latency && group.is_none_or(|wanted| *g == wanted)).count()
                    as u64
            };
            let seen = |group: Option<usize>| -> Vec<Seen> {
                self.outcomes
                    .iter()
                    .filter(|(l, g, _)| *l == latency && group.is_none_or(|wanted| *g == wanted))
                    .map(|(_, _, seen)| *seen)
                    .collect()
            };
            let all = ("all".to_owned(), "all".to_owned(), "all".to_owned());
            rows.push(self.row(ms, &all, &seen(None), unobserved(None)));
            for (group, key) in self.groups.iter().enumerate() {
                rows.push(self.row(ms, key, &seen(Some(group)), unobserved(Some(group))));
            }
        }
        rows
    }

    fn row(
        &self,
        latency_ms: u64,
        (pair, direction, size): &(String, String, String),
        seen: &[Seen],
        unobserved: u64,
    ) -> LatencyRow {
        let n = seen.len() as f64;
        let share = |count: usize| if seen.is_empty() { 0.0 } else { count as f64 / n };
        let nets: Vec<f64> = seen.iter().filter_map(|s| s.net_bp).collect();
        let worth = |s: &&Seen| s.net_bp.is_some_and(|net| net >= self.open_bp);
        LatencyRow {
            latency_ms,
            pair: pair.clone(),
            direction: direction.clone(),
            size: size.clone(),
            opportunities: seen.len() as u64,
            share_at_threshold: share(seen.iter().filter(worth).count()),
            share_open: share(seen.iter().filter(|s| s.open).count()),
            share_executable: share(nets.len()),
            mean_net_bp: (!nets.is_empty()).then(|| nets.iter().sum::<f64>() / nets.len() as f64),
            available_quote: seen
                .iter()
                .filter(worth)
                .map(|s| s.size_quote.unwrap_or(0.0) * s.net_bp.unwrap_or(0.0) / 10_000.0)
                .fold(0.0, |total, quote| total + quote),
            unobserved,
        }
    }
}

/// The engine's pair index and quote slot (`direction × sizes + size`) of an opportunity.
fn locate(engine: &Engine, opportunity: &Opportunity) -> Option<(usize, usize)> {
    let is = |leg: &perpspread_core::Instrument, venue, symbol: &str| leg.venue == venue && leg.symbol == symbol;
    let (buy, sell) =
        ((opportunity.buy_venue, &opportunity.buy_symbol), (opportunity.sell_venue, &opportunity.sell_symbol));
    let pair = engine.pairs().iter().position(|p| {
        is(&p.legs[0], buy.0, buy.1) && is(&p.legs[1], sell.0, sell.1)
            || is(&p.legs[1], buy.0, buy.1) && is(&p.legs[0], sell.0, sell.1)
    })?;
    let sizes = &engine.config().sizes;
    let size = sizes.iter().position(|s| *s == opportunity.size_target)?;
    let direction = usize::from(engine.pairs()[pair].legs[0].venue != opportunity.buy_venue);
    Some((pair, direction * sizes.len() + size))
}

fn seen(engine: &Engine, pair: usize, slot: usize, id: u64) -> Seen {
    let quote = engine.quotes(pair).get(slot).and_then(Option::as_ref);
    Seen {
        net_bp: quote.map(|q| q.net_bp),
        size_quote: quote.map(|q| q.size_quote),
        open: engine.open(pair).any(|o| o.id == id),
    }
}

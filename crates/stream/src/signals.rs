//! Glue between the feed pipeline and the spread engine: which pair a book update belongs to.

use std::collections::HashMap;

use perpspread_core::engine::{Engine, LegFunding, OpportunityEvent};
use perpspread_core::feed::{FeedEvent, RecvTime};
use perpspread_core::{Venue, VenueMap};

use crate::pipeline::Pipeline;

/// Runs the engine on the pairs touched by each frame's book events.
#[derive(Debug)]
pub struct Signals {
    pub engine: Engine,
    /// The pairs each venue symbol belongs to (with three venues, BTCUSDT on Binance is a leg of two pairs).
    by_symbol: HashMap<(Venue, String), Vec<usize>>,
    /// Cached `by_symbol` lookups per venue and slot (resolved once per slot): a range of `slot_pairs`.
    by_slot: VenueMap<Vec<Option<(u32, u32)>>>,
    /// The pair lists of the cached slots, back to back.
    slot_pairs: Vec<usize>,
    /// Pairs evaluated by the last `on_events` call.
    touched: Vec<usize>,
    /// Book slot of each pair's legs, resolved once (slots never move once assigned).
    leg_slots: Vec<[Option<u32>; 2]>,
}

impl Signals {
    /// Wraps an engine.
    pub fn new(engine: Engine) -> Self {
        let mut by_symbol: HashMap<(Venue, String), Vec<usize>> = HashMap::new();
        for (index, pair) in engine.pairs().iter().enumerate() {
            for leg in &pair.legs {
                by_symbol.entry((leg.venue, leg.symbol.clone())).or_default().push(index);
            }
        }
        let leg_slots = vec![[None; 2]; engine.pairs().len()];
        Signals {
            engine,
            by_symbol,
            by_slot: VenueMap::default(),
            slot_pairs: Vec::new(),
            touched: Vec::new(),
            leg_slots,
        }
    }

    /// Evaluates every pair whose book changed or broke in `events`; appends opportunity events to `out`.
    pub fn on_events(
        &mut self,
        pipeline: &Pipeline,
        venue: Venue,
        events: &[FeedEvent],
        recv: RecvTime,
        out: &mut Vec<OpportunityEvent>,
    ) {
        self.touched.clear();
        for event in events {
            let slot = match *event {
                FeedEvent::BookUpdated { slot } | FeedEvent::Resync { slot, .. } => slot,
                FeedEvent::Funding { slot, rate, next_funding_ms, interval_hours } => {
                    let (start, end) = self.pairs_of(pipeline, venue, slot);
                    for k in start..end {
                        let pair = self.slot_pairs[k as usize];
                        let legs = &self.engine.pairs()[pair].legs;
                        if let Some(leg) = legs.iter().position(|l| l.venue == venue) {
                            let funding = LegFunding { rate, next_funding_ms, interval_hours };
                            self.engine.set_funding(pair, leg, funding);
                        }
                    }
                    continue;
                }
                _ => continue,
            };
            let (start, end) = self.pairs_of(pipeline, venue, slot);
            for k in start..end {
                let pair = self.slot_pairs[k as usize];
                self.evaluate(pipeline, pair, recv, out);
                self.touched.push(pair);
            }
        }
    }

    /// Pairs evaluated by the last [`Signals::on_events`] call.
    pub fn touched(&self) -> &[usize] {
        &self.touched
    }

    /// Re-evaluates one pair from the pipeline's current books.
    pub fn evaluate(&mut self, pipeline: &Pipeline, pair: usize, recv: RecvTime, out: &mut Vec<OpportunityEvent>) {
        let legs = &self.engine.pairs()[pair].legs;
        let slots = &mut self.leg_slots[pair];
        for (i, leg) in legs.iter().enumerate() {
            if slots[i].is_none() {
                slots[i] = pipeline.feed(leg.venue).slot(&leg.symbol);
            }
        }
        let book = |i: usize| slots[i].and_then(|slot| pipeline.feed(legs[i].venue).book(slot));
        if let (Some(a), Some(b)) = (book(0), book(1)) {
            self.engine.on_update(pair, [a, b], recv, out);
        }
    }

    /// The pairs with a leg in `slot` of `venue`, as a range of `slot_pairs` (looked up once per slot).
    fn pairs_of(&mut self, pipeline: &Pipeline, venue: Venue, slot: u32) -> (u32, u32) {
        let cache = &mut self.by_slot[venue];
        let index = slot as usize;
        if cache.len() <= index {
            cache.resize(index + 1, None);
        }
        if let Some(range) = cache[index] {
            return range;
        }
        let symbol = pipeline.feed(venue).symbol(slot).unwrap_or_default();
        let pairs = self.by_symbol.get(&(venue, symbol.to_owned())).map_or(&[][..], Vec::as_slice);
        let start = self.slot_pairs.len() as u32;
        self.slot_pairs.extend_from_slice(pairs);
        let range = (start, self.slot_pairs.len() as u32);
        cache[index] = Some(range);
        range
    }
}

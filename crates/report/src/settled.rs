//! Realised funding over a replayed capture: every settlement that fell inside it, per leg, and what each
//! direction of each pair (long one venue, short the other) received net.
//!
//! Settlements are found in the funding messages themselves ([`SettlementWatch`]): a leg settled at `T`
//! when a message's next funding time moves past `T`, at the last rate announced for `T`. A capture that
//! ends before a leg's next funding time, or that holds no funding messages, shows no settlement for it.

use std::collections::HashMap;

use perpspread_core::feed::{Feed, FeedEvent};
use perpspread_core::funding::{Settlement, SettlementWatch};
use perpspread_core::{Pair, Venue};
use serde::Serialize;

/// Collects settlements while a capture is replayed (call [`SettledFunding::on_events`] from the replay's
/// observer with `pipeline.last_events()`).
#[derive(Debug, Default)]
pub struct SettledFunding {
    legs: HashMap<(Venue, String), Leg>,
}

#[derive(Debug, Default)]
struct Leg {
    watch: SettlementWatch,
    settled: Vec<Settlement>,
}

/// One direction of one pair: long `long_venue`, short `short_venue`, over the capture.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RealisedFunding {
    pub pair: String,
    pub long_venue: Venue,
    pub short_venue: Venue,
    /// Settlements of each leg inside the capture.
    pub long_settlements: usize,
    pub short_settlements: usize,
    /// Funding the long leg paid and the short leg received, bp of notional (negative: the other way).
    pub long_paid_bp: f64,
    pub short_received_bp: f64,
    /// `short_received_bp − long_paid_bp`.
    pub carry_bp: f64,
}

impl SettledFunding {
    /// A collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the funding messages among one frame's events.
    pub fn on_events(&mut self, venue: Venue, feed: &dyn Feed, events: &[FeedEvent]) {
        for event in events {
            let FeedEvent::Funding { slot, rate, next_funding_ms: Some(next_ms), .. } = *event else {
                continue;
            };
            let Some(symbol) = feed.symbol(slot) else {
                continue;
            };
            let leg = match self.legs.get_mut(&(venue, symbol.to_owned())) {
                Some(leg) => leg,
                None => self.legs.entry((venue, symbol.to_owned())).or_default(),
            };
            if let Some(settlement) = leg.watch.observe(rate, next_ms) {
                leg.settled.push(settlement);
            }
        }
    }

    /// The settlements of one leg, oldest first.
    pub fn settlements(&self, venue: Venue, symbol: &str) -> &[Settlement] {
        self.legs.get(&(venue, symbol.to_owned())).map_or(&[], |leg| &leg.settled)
    }

    /// Both directions of every pair with at least one settlement on either leg.
    pub(crate) fn realised(&self, pairs: &[Pair]) -> Vec<RealisedFunding> {
        let sum_bp = |s: &[Settlement]| s.iter().map(|s| s.rate * 10_000.0).sum::<f64>();
        let mut rows = Vec::new();
        for pair in pairs {
            let [a, b] = &pair.legs;
            let (settled_a, settled_b) = (self.settlements(a.venue, &a.symbol), self.settlements(b.venue, &b.symbol));
            if settled_a.is_empty() && settled_b.is_empty() {
                continue;
            }
            for ((long, long_settled), (short, short_settled)) in
                [((a, settled_a), (b, settled_b)), ((b, settled_b), (a, settled_a))]
            {
                let (paid, received) = (sum_bp(long_settled), sum_bp(short_settled));
                rows.push(RealisedFunding {
                    pair: pair.key.to_string(),
                    long_venue: long.venue,
                    short_venue: short.venue,
                    long_settlements: long_settled.len(),
                    short_settlements: short_settled.len(),
                    long_paid_bp: paid,
                    short_received_bp: received,
                    carry_bp: received - paid,
                });
            }
        }
        rows
    }
}

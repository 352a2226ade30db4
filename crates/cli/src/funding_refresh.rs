//! Keeps `monitor`'s funding schedules current: every leg's funding is re-read over REST on a schedule
//! (`funding.refresh_min`) and at once when a stream shows that a leg's interval changed (Binance's mark
//! price carries no interval: its `fundingInfo` must be read again). The streams update rates between reads.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use perpspread_core::engine::{Engine, LegFunding};
use perpspread_core::{Pair, Venue};
use perpspread_net::Funding;
use rust_decimal::prelude::ToPrimitive;
use tokio::sync::{mpsc, Notify};

use crate::venues::RestVenues;

/// One leg's funding for the engine: `(pair index, leg index, funding)`.
pub(crate) type LegUpdate = (usize, usize, LegFunding);

/// A background task re-reading funding, and the updates it produced.
pub(crate) struct FundingRefresh {
    trigger: Arc<Notify>,
    updates: mpsc::UnboundedReceiver<Vec<LegUpdate>>,
    task: tokio::task::JoinHandle<()>,
    /// Interval changes the engine had seen at the last check.
    seen_changes: u64,
}

impl FundingRefresh {
    /// Starts re-reading the funding of `pairs`' legs every `every` with `venues`.
    pub fn start(venues: RestVenues, pairs: Vec<Pair>, every: Duration) -> Self {
        let trigger = Arc::new(Notify::new());
        let (sender, updates) = mpsc::unbounded_channel();
        let task = tokio::spawn(refresh_loop(venues, pairs, every, Arc::clone(&trigger), sender));
        FundingRefresh { trigger, updates, task, seen_changes: 0 }
    }

    /// Applies what was read since the last call and asks for a read now when the engine saw an interval change.
    pub fn apply(&mut self, engine: &mut Engine) {
        while let Ok(updates) = self.updates.try_recv() {
            for (pair, leg, funding) in updates {
                engine.set_funding(pair, leg, funding);
            }
        }
        let changes = engine.stats().funding_interval_changes;
        if changes > self.seen_changes {
            self.seen_changes = changes;
            tracing::info!("a funding interval changed: re-reading funding over REST");
            self.trigger.notify_one();
        }
    }
}

impl Drop for FundingRefresh {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn refresh_loop(
    venues: RestVenues,
    pairs: Vec<Pair>,
    every: Duration,
    trigger: Arc<Notify>,
    sender: mpsc::UnboundedSender<Vec<LegUpdate>>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = trigger.notified() => {}
        }
        let funding = crate::commands::scan::fetch_funding(&venues, &pairs).await;
        if sender.send(leg_updates(&pairs, &funding)).is_err() {
            return;
        }
    }
}

/// The engine's updates for every leg with fetched funding.
pub(crate) fn leg_updates(pairs: &[Pair], funding: &HashMap<(Venue, String), Funding>) -> Vec<LegUpdate> {
    let mut updates = Vec::new();
    for (index, pair) in pairs.iter().enumerate() {
        for (leg_index, leg) in pair.legs.iter().enumerate() {
            if let Some(f) = funding.get(&(leg.venue, leg.symbol.clone())) {
                let funding = LegFunding {
                    rate: f.rate.to_f64().unwrap_or(0.0),
                    next_funding_ms: f.next_funding_ms,
                    interval_hours: f.interval_hours,
                };
                updates.push((index, leg_index, funding));
            }
        }
    }
    updates
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    /// Against the simulator: the schedule restores what the REST endpoints say, and a Binance interval
    /// change seen in the stream (the next settlement moving by a new step) makes it read `fundingInfo` at
    /// once, which brings the new interval and the true next settlement.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn funding_is_re_read_on_schedule_and_when_an_interval_changes() {
        let sim = perpspread_sim::start(perpspread_sim::SimConfig::default()).await.unwrap();
        let mut config = Config::load(None).unwrap();
        crate::commands::sim::point_at(&mut config, &sim);
        let venues = RestVenues::from_config(&config).unwrap();
        let universe = crate::commands::fetch_universe(&venues).await.unwrap();
        let pair = universe.find("BTC").unwrap().clone();
        let binance_leg = pair.legs.iter().position(|l| l.venue == Venue::Binance).unwrap();
        let mut engine = Engine::new(Default::default(), vec![pair.clone()]);
        crate::commands::monitor::load_funding(&venues, std::slice::from_ref(&pair), &mut engine).await;
        let truth = engine.funding(0)[binance_leg].unwrap();
        assert_eq!(truth.interval_hours, Some(8));

        // An hour between scheduled reads: only a change triggers one.
        let mut refresh = FundingRefresh::start(venues, vec![pair], Duration::from_secs(3600));
        // Binance moves BTCUSDT to 4-hourly funding; its stream shows the next settlement 4 h on.
        sim.set_funding_hours(Venue::Binance, "BTCUSDT", 4).unwrap();
        let h = 3_600_000;
        let moved =
            LegFunding { next_funding_ms: truth.next_funding_ms.map(|t| t + 4 * h), interval_hours: None, ..truth };
        engine.set_funding(0, binance_leg, moved);
        assert_eq!(engine.funding(0)[binance_leg].unwrap().interval_hours, Some(4), "inferred from the step");
        refresh.apply(&mut engine);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let truth_now = sim.with_market(|m| {
            let state = m.pairs().iter().find(|p| p.spec.base == "BTC" && p.spec.quote == "USDT").unwrap();
            m.funding(state, Venue::Binance)
        });
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            refresh.apply(&mut engine);
            let leg = engine.funding(0)[binance_leg].unwrap();
            if leg.next_funding_ms == Some(truth_now.next_ms) {
                assert_eq!(leg.interval_hours, Some(4), "fundingInfo lists the new interval");
                break;
            }
            assert!(std::time::Instant::now() < deadline, "funding not re-read: {leg:?}, truth {truth_now:?}");
        }
        // The schedule: a short one re-reads without any trigger.
        let venues = RestVenues::from_config(&config).unwrap();
        let mut scheduled = FundingRefresh::start(venues, engine.pairs().to_vec(), Duration::from_millis(100));
        engine.set_funding(0, binance_leg, LegFunding { rate: 1.0, next_funding_ms: Some(1), interval_hours: Some(1) });
        tokio::time::sleep(Duration::from_millis(600)).await;
        scheduled.apply(&mut engine);
        let leg = engine.funding(0)[binance_leg].unwrap();
        assert!(leg.rate < 0.01 && leg.interval_hours == Some(4), "{leg:?}");
        sim.shutdown().await;
    }
}

//! Detection quality against the simulator's ground truth, over real sockets on 127.0.0.1.
//!
//! Every injected dislocation larger than fees + 2 bp and lasting ≥ 500 ms must be detected (recall 100 %),
//! and no opportunity may open when none was injected (precision 100 %). Detection delays are printed.
mod common;

use std::time::Duration;

use perpspread_core::engine::{Engine, EngineConfig, EventKind, OpportunityEvent};
use perpspread_core::spread::SizeTarget;
use perpspread_core::Venue;
use perpspread_sim::{Dislocation, SimConfig};
use perpspread_stream::{run_live, Signals};
use rust_decimal::Decimal;

#[derive(Debug, serde::Deserialize)]
struct Truth {
    pair: String,
    buy_venue: String,
    start_ns: u64,
    end_ns: u64,
    size_bp: f64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dislocation_is_found_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let truth_path = dir.path().join("truth.jsonl");
    let mut config =
        SimConfig { seed: 11, tick_ms: 50, ground_truth_log: Some(truth_path.clone()), ..Default::default() };
    let bases: Vec<String> = config.pairs.iter().filter(|p| p.is_cross_listed()).map(|p| p.base.clone()).collect();
    // Fees are 20 bp: dislocations of 23–38 bp, 0.6–1.6 s long, alternating venues and pairs.
    config.dislocations = (0..8)
        .map(|i| Dislocation {
            base: bases[i % bases.len()].clone(),
            quote: "USDT".into(),
            buy_venue: if i % 2 == 0 { Venue::Okx } else { Venue::Binance },
            sell_on: None,
            size_bp: 23.0 + (i % 4) as f64 * 5.0,
            start_ms: 2_500 + i as u64 * 1_500,
            duration_ms: 600 + (i % 3) as u64 * 500,
        })
        .collect();
    let sim = perpspread_sim::start(config).await.unwrap();

    let (universe, live) = common::connect(&sim, None, common::Timing::Real).await;
    assert!(universe.pairs.len() >= 5);

    let engine_config =
        EngineConfig { sizes: vec![SizeTarget::Quote(Decimal::from(1_000))], ..EngineConfig::default() };
    let mut signals = Signals::new(Engine::new(engine_config, universe.pairs.clone()));
    let mut events: Vec<OpportunityEvent> = Vec::new();
    let mut opened: Vec<OpportunityEvent> = Vec::new();
    let result =
        run_live(live, tokio::time::sleep(Duration::from_millis(16_500)), |pipeline, venue, feed_events, recv| {
            signals.on_events(pipeline, venue, feed_events, recv, &mut events);
            opened.extend(events.drain(..).filter(|e| e.event == EventKind::Opened));
        })
        .await;
    sim.shutdown().await;
    assert_eq!(result.stats.pipeline.malformed, 0);

    let truths: Vec<Truth> =
        std::fs::read_to_string(&truth_path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(truths.len(), 8, "every dislocation is logged");
    let matches = |t: &Truth, e: &OpportunityEvent| {
        let o = &e.opportunity;
        o.pair == t.pair
            && o.buy_venue.as_str() == t.buy_venue
            && o.opened_ns + 200_000_000 >= t.start_ns
            && o.opened_ns <= t.end_ns + 200_000_000
    };
    // Recall: every qualifying dislocation is detected.
    let mut delays_ms = Vec::new();
    for truth in truths.iter().filter(|t| t.size_bp > 22.0 && t.end_ns - t.start_ns >= 500_000_000) {
        let first = opened.iter().filter(|e| matches(truth, e)).map(|e| e.opportunity.opened_ns).min();
        let first = first.unwrap_or_else(|| panic!("missed {truth:?}"));
        delays_ms.push(first.saturating_sub(truth.start_ns) as f64 / 1e6);
    }
    // Precision: every opportunity belongs to an injected dislocation.
    for event in &opened {
        assert!(truths.iter().any(|t| matches(t, event)), "false positive: {:?}", event.opportunity);
    }
    delays_ms.sort_by(f64::total_cmp);
    let median = delays_ms[delays_ms.len() / 2];
    let p99 = delays_ms[((delays_ms.len() as f64 * 0.99).ceil() as usize).min(delays_ms.len()) - 1];
    println!("detection delay over {} dislocations: median {median:.1} ms, p99 {p99:.1} ms", delays_ms.len());
    assert!(median < 500.0, "median detection delay {median} ms");
}

//! A capture recorded live replays to the same opportunities, every time.

mod common;
use std::time::Duration;

use perpspread_capture::Rotation;
use perpspread_core::engine::{CloseReason, Engine, EngineConfig, EventKind, OpportunityEvent};
use perpspread_core::spread::SizeTarget;
use perpspread_core::Venue;
use perpspread_sim::{Dislocation, SimConfig};
use perpspread_stream::{replay, run_live, Recorder, ReplayOptions, Signals};
use rust_decimal::Decimal;

/// The parts of an opportunity that must be identical between live and replay.
fn key(event: &OpportunityEvent) -> (u64, String, String, u64, Option<u64>, String) {
    let o = &event.opportunity;
    (o.id, o.pair.clone(), o.direction.clone(), o.opened_ns, o.closed_ns, format!("{:.9}", o.peak_net_bp))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_finds_what_live_found() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("live.jsonl.zst");
    let mut config = SimConfig { seed: 21, tick_ms: 50, ..Default::default() };
    config.dislocations = ["BTC", "ETH", "SOL"]
        .iter()
        .enumerate()
        .map(|(i, base)| Dislocation {
            base: (*base).into(),
            quote: "USDT".into(),
            buy_venue: if i % 2 == 0 { Venue::Binance } else { Venue::Okx },
            size_bp: 30.0,
            start_ms: 2_000 + i as u64 * 1_500,
            duration_ms: 800,
        })
        .collect();
    let sim = perpspread_sim::start(config).await.unwrap();
    let recorder = Recorder::create(&capture, Rotation::default()).unwrap();
    let (universe, live) = common::connect(&sim, Some(&recorder), common::Timing::Real).await;
    let engine_config =
        EngineConfig { sizes: vec![SizeTarget::Quote(Decimal::from(2_000))], ..EngineConfig::default() };
    let mut signals = Signals::new(Engine::new(engine_config.clone(), universe.pairs.clone()));
    let mut events = Vec::new();
    let mut live_closed = Vec::new();
    run_live(live, tokio::time::sleep(Duration::from_millis(7_500)), |pipeline, venue, feed_events, recv| {
        signals.on_events(pipeline, venue, feed_events, recv, &mut events);
        live_closed.extend(events.drain(..).filter(|e| e.event == EventKind::Closed));
    })
    .await;
    recorder.finish().unwrap();
    sim.shutdown().await;
    assert!(live_closed.len() >= 3, "the dislocations were seen live: {}", live_closed.len());

    let options = ReplayOptions { engine: Some(engine_config), ..ReplayOptions::default() };
    let first = replay(&capture, &options).unwrap();
    let second = replay(&capture, &options).unwrap();
    assert_eq!(first.pairs, Some(universe.pairs.len()));
    let replayed = first.opportunities.clone().unwrap();
    assert_eq!(replayed, second.opportunities.unwrap(), "replay is deterministic");
    let finished: Vec<_> =
        replayed.iter().filter(|e| e.opportunity.close_reason != Some(CloseReason::Shutdown)).map(key).collect();
    let live_keys: Vec<_> = live_closed.iter().map(key).collect();
    assert_eq!(finished, live_keys, "replay finds exactly the opportunities found live");
    assert!(first.books.iter().all(|b| b.resyncs == 0));
}

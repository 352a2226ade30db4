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
    (o.id, o.pair.clone(), o.direction.label(), o.opened_ns, o.closed_ns, format!("{:.9}", o.peak_net_bp))
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
            sell_on: None,
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
    let first = replay(std::slice::from_ref(&capture), &options).unwrap();
    let second = replay(std::slice::from_ref(&capture), &options).unwrap();
    assert_eq!(first.pairs, Some(universe.pairs.len()));
    let replayed = first.opportunities.clone().unwrap();
    assert_eq!(replayed, second.opportunities.unwrap(), "replay is deterministic");
    let finished: Vec<_> =
        replayed.iter().filter(|e| e.opportunity.close_reason != Some(CloseReason::Shutdown)).map(key).collect();
    let live_keys: Vec<_> = live_closed.iter().map(key).collect();
    assert_eq!(finished, live_keys, "replay finds exactly the opportunities found live");
    assert!(first.books.iter().all(|b| b.resyncs == 0));

    // The same recording rotated into parts (given in any order) replays as one, to the same result.
    let parts = rotate_copy(&capture, &dir.path().join("rotated.jsonl"));
    assert!(parts.len() >= 5, "{parts:?}");
    let mut given = parts.clone();
    given.reverse();
    let recordings = perpspread_capture::group_parts(&given);
    assert_eq!(recordings, std::slice::from_ref(&parts));
    let rotated = replay(&recordings[0], &options).unwrap();
    assert_eq!(rotated.error, None);
    assert_eq!(rotated.opportunities, first.opportunities);
    assert_eq!(format!("{:?}", rotated.books), format!("{:?}", first.books));
    // A later part alone has no snapshots to start from: its books never go live.
    let alone = replay(&parts[parts.len() - 1..], &options).unwrap();
    assert!(rotated.books.iter().any(|b| b.state == perpspread_core::BookState::Live));
    assert!(alone.books.iter().all(|b| b.state != perpspread_core::BookState::Live), "{:?}", alone.books);
}

/// Copies `capture` record by record into a recording rotated every 256 kB; its parts.
fn rotate_copy(capture: &std::path::Path, base: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut reader = perpspread_capture::CaptureReader::open(capture).unwrap();
    let rotation = Rotation { max_bytes: Some(256 << 10), max_age: None };
    let mut writer = perpspread_capture::CaptureWriter::create(base, rotation).unwrap();
    let mut record = perpspread_capture::Record::default();
    while reader.next_into(&mut record).unwrap() {
        writer.write(record.as_ref()).unwrap();
    }
    let parts = writer.parts().to_vec();
    writer.finish().unwrap();
    parts
}

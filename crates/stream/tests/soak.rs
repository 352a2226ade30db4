//! Soak: the live pipeline against the simulator with a fault every couple of seconds.
//!
//! Short by default (CI); run it long with `PERPSPREAD_SOAK_SECS=600 cargo test --release -p perpspread-stream
//! --test soak -- --nocapture`. It checks that nothing panics, every injected book fault is detected, every
//! book is `Live` and equal to the simulator's at the end, no opportunity ever opens from a book that is not
//! `Live`, memory stays flat, and the capture recorded meanwhile replays to the same books.
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use perpspread_capture::Rotation;
use perpspread_core::engine::{Engine, EngineConfig, EventKind};
use perpspread_core::{BookState, Venue};
use perpspread_sim::{Dislocation, Fault, FaultKind, SimConfig};
use perpspread_stream::{replay, run_live, Recorder, ReplayOptions, Signals};

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A fault schedule cycling through every kind, one every `every_ms`.
fn schedule(seconds: u64, every_ms: u64) -> (Vec<Fault>, u64, u64) {
    let okx = ["BTC-USDT-SWAP", "ETH-USDT-SWAP", "SOL-USDT-SWAP", "XRP-USDT-SWAP"];
    let binance = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"];
    let (mut faults, mut gaps, mut checksums) = (Vec::new(), 0, 0);
    let mut at = 2_000;
    let mut i = 0usize;
    // Leave the last 4 s quiet so every book can recover before the checks.
    while at + 4_000 < seconds * 1_000 {
        let kind = match i % 10 {
            0 => FaultKind::SequenceGap { venue: Venue::Okx, symbol: okx[i / 10 % 4].into() },
            1 => FaultKind::SequenceGap { venue: Venue::Binance, symbol: binance[i / 10 % 4].into() },
            2 => FaultKind::WrongChecksum { symbol: okx[(i / 10 + 1) % 4].into() },
            3 => FaultKind::Malformed { venue: if i % 20 < 10 { Venue::Okx } else { Venue::Binance }, truncate: true },
            4 => FaultKind::Duplicate { venue: Venue::Binance, symbol: binance[(i / 10 + 2) % 4].into() },
            5 => FaultKind::DropConnection { venue: Venue::Okx, close_frame: i % 20 < 10 },
            6 => FaultKind::RestStatus { venue: Venue::Binance, status: 429, count: 1 },
            7 => FaultKind::OutOfOrder { venue: Venue::Okx, symbol: okx[(i / 10 + 3) % 4].into() },
            8 => FaultKind::DropConnection { venue: Venue::Binance, close_frame: i % 20 >= 10 },
            _ => FaultKind::Stall { venue: Venue::Okx, duration_ms: 2_000 },
        };
        match kind {
            FaultKind::SequenceGap { .. } => gaps += 1,
            FaultKind::WrongChecksum { .. } => checksums += 1,
            _ => {}
        }
        faults.push(Fault { at_ms: Some(at), kind });
        at += every_ms;
        i += 1;
    }
    (faults, gaps, checksums)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_a_fault_every_few_seconds() {
    let seconds: u64 = std::env::var("PERPSPREAD_SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(24);
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("soak.jsonl.zst");
    let (faults, gaps_injected, checksums_injected) = schedule(seconds, 1_500);
    let mut config = SimConfig { seed: 9, tick_ms: 50, faults, ..Default::default() };
    config.dislocations = (0..seconds / 5)
        .map(|i| Dislocation {
            base: if i % 2 == 0 { "DOGE".into() } else { "LTC".into() },
            quote: "USDT".into(),
            buy_venue: if i % 2 == 0 { Venue::Okx } else { Venue::Binance },
            sell_on: None,
            size_bp: 35.0,
            start_ms: 1_500 + i * 5_000,
            duration_ms: 1_000,
        })
        .collect();
    let sim = Arc::new(perpspread_sim::start(config).await.unwrap());
    let recorder = Recorder::create(&capture, Rotation::default()).unwrap();
    let (universe, live) = common::connect(&sim, Some(&recorder), common::Timing::Fast).await;

    let mut signals = Signals::new(Engine::new(EngineConfig::default(), universe.pairs.clone()));
    let mut events = Vec::new();
    let (mut opened, mut rss, mut last_sample) = (0u64, Vec::new(), Instant::now());
    let result =
        run_live(live, tokio::time::sleep(Duration::from_secs(seconds)), |pipeline, venue, feed_events, recv| {
            signals.on_events(pipeline, venue, feed_events, recv, &mut events);
            for event in events.drain(..).filter(|e| e.event == EventKind::Opened) {
                opened += 1;
                // Never from a book that is not Live.
                let pair = signals.engine.pairs().iter().find(|p| p.key.to_string() == event.opportunity.pair).unwrap();
                for leg in &pair.legs {
                    let feed = pipeline.feed(leg.venue);
                    let state = feed.slot(&leg.symbol).and_then(|s| feed.book(s)).map(|b| b.state);
                    assert_eq!(state, Some(BookState::Live), "opened from a {state:?} book: {:?}", event.opportunity);
                }
            }
            if last_sample.elapsed() >= Duration::from_secs(1) {
                rss.push(rss_mb());
                last_sample = Instant::now();
            }
        })
        .await;
    recorder.finish().unwrap();

    let (mut gaps, mut checksum_failures) = (0, 0);
    for venue in Venue::ALL {
        let feed = result.pipeline.feed(venue);
        for slot in 0..feed.slots() {
            let book = feed.book(slot).unwrap();
            assert_eq!(book.state, BookState::Live, "{venue} {} did not recover", feed.symbol(slot).unwrap());
            gaps += book.stats.sequence_gaps;
            checksum_failures += book.stats.checksum_failures;
        }
    }
    assert!(gaps >= gaps_injected, "{gaps} gaps detected, {gaps_injected} injected");
    assert!(checksum_failures >= checksums_injected, "{checksum_failures} vs {checksums_injected}");
    assert!(opened > 0, "the dislocations were detected despite the faults");
    let half = rss.len() / 2;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let (early, late) = (mean(&rss[..half]), mean(&rss[half..]));
    println!(
        "soak {seconds} s: {} messages, {gaps} gaps / {checksum_failures} checksum failures detected, disconnects {:?}, {opened} opened, RSS {early:.1} → {late:.1} MB",
        result.stats.pipeline.messages, result.stats.disconnects
    );
    assert!(late - early < 64.0, "memory grew from {early:.1} MB to {late:.1} MB");

    // The recording replays to the same final books.
    let replayed = replay(std::slice::from_ref(&capture), &ReplayOptions::default()).unwrap();
    for book in &replayed.books {
        let feed = result.pipeline.feed(book.venue);
        let live_book = &feed.book(feed.slot(&book.instrument).unwrap()).unwrap().book;
        let best = |level: Option<perpspread_core::Level>| level.map(|l| live_book.price_of(&l).to_string());
        assert_eq!(
            (book.best_bid.clone(), book.best_ask.clone()),
            (best(live_book.best_bid()), best(live_book.best_ask())),
            "{} {}",
            book.venue,
            book.instrument
        );
    }
}

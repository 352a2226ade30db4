//! Every injectable fault, over real sockets against the simulator: detected, counted, recovered; only
//! the affected instrument resyncs; and whenever our sequence matches the simulator's, our book equals
//! the simulator's true book level for level.
mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use perpspread_core::feed::FeedEvent;
use perpspread_core::{BookState, OrderBook, Side, Venue};
use perpspread_sim::{Fault, FaultKind, SimConfig, SimHandle};
use perpspread_stream::{run_live, Live, Pipeline};

/// Top levels compared between our book and the simulator's.
const COMPARED_LEVELS: usize = 50;

fn same_levels(ours: &OrderBook, truth: &OrderBook) -> bool {
    [Side::Bid, Side::Ask].into_iter().all(|side| {
        let render = |book: &OrderBook| {
            book.levels(side)
                .take(COMPARED_LEVELS)
                .map(|l| (book.price_of(l).to_string(), book.qty_of(l).to_string()))
                .collect::<Vec<_>>()
        };
        render(ours) == render(truth)
    })
}

/// Per-book comparison counts: (equal, different).
type Comparisons = HashMap<(Venue, String), (u32, u32)>;

fn compare(sim: &SimHandle, pipeline: &Pipeline, venue: Venue, events: &[FeedEvent], out: &mut Comparisons) {
    let feed = pipeline.feed(venue);
    for event in events {
        let FeedEvent::BookUpdated { slot } = *event else { continue };
        let (Some(symbol), Some(ours)) = (feed.symbol(slot), feed.book(slot)) else { continue };
        let Some((truth, sequence)) = sim.book(venue, symbol) else { continue };
        if ours.state != BookState::Live || ours.sequence != Some(sequence) {
            continue;
        }
        let entry = out.entry((venue, symbol.to_owned())).or_default();
        if same_levels(&ours.book, &truth) {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
    }
}

async fn run_scenario(faults: Vec<Fault>, seconds: u64) -> (Live, Comparisons, Arc<SimHandle>) {
    run_with(SimConfig { seed: 3, tick_ms: 50, faults, ..Default::default() }, seconds).await
}

async fn run_with(config: SimConfig, seconds: u64) -> (Live, Comparisons, Arc<SimHandle>) {
    let sim = Arc::new(perpspread_sim::start(config).await.unwrap());
    let (_, live) = common::connect(&sim, None, common::Timing::Fast).await;
    let mut comparisons = Comparisons::new();
    let checker = sim.clone();
    let result = run_live(live, tokio::time::sleep(Duration::from_secs(seconds)), |pipeline, venue, events, _| {
        compare(&checker, pipeline, venue, events, &mut comparisons);
    })
    .await;
    (result, comparisons, sim)
}

fn at(ms: u64, kind: FaultKind) -> Fault {
    Fault { at_ms: Some(ms), kind }
}

fn stats(live: &Live, venue: Venue, symbol: &str) -> perpspread_core::feed::BookStats {
    let feed = live.pipeline.feed(venue);
    feed.book(feed.slot(symbol).unwrap()).unwrap().stats
}

fn assert_all_live_and_true(live: &Live, comparisons: &Comparisons) {
    for venue in Venue::ALL {
        let feed = live.pipeline.feed(venue);
        for slot in 0..feed.slots() {
            let symbol = feed.symbol(slot).unwrap();
            assert_eq!(feed.book(slot).unwrap().state, BookState::Live, "{venue} {symbol} did not recover");
            let (equal, different) = comparisons.get(&(venue, symbol.to_owned())).copied().unwrap_or_default();
            assert!(equal > 0, "{venue} {symbol} was never compared with the true book");
            assert_eq!(different, 0, "{venue} {symbol} differed from the true book {different} times");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn book_faults_resync_only_the_affected_instrument() {
    let faults = vec![
        at(2_000, FaultKind::SequenceGap { venue: Venue::Okx, symbol: "BTC-USDT-SWAP".into() }),
        at(2_500, FaultKind::SequenceGap { venue: Venue::Binance, symbol: "ETHUSDT".into() }),
        at(3_000, FaultKind::WrongChecksum { symbol: "SOL-USDT-SWAP".into() }),
        at(3_500, FaultKind::Duplicate { venue: Venue::Okx, symbol: "XRP-USDT-SWAP".into() }),
        at(3_700, FaultKind::Duplicate { venue: Venue::Binance, symbol: "XRPUSDT".into() }),
        at(4_000, FaultKind::OutOfOrder { venue: Venue::Binance, symbol: "DOGEUSDT".into() }),
        at(4_300, FaultKind::OutOfOrder { venue: Venue::Okx, symbol: "DOGE-USDT-SWAP".into() }),
        at(4_600, FaultKind::UnknownMessage { venue: Venue::Okx }),
        at(4_700, FaultKind::UnknownMessage { venue: Venue::Binance }),
        at(5_000, FaultKind::Burst { venue: Venue::Okx, symbol: "BTC-USDT-SWAP".into(), messages: 500 }),
        at(5_200, FaultKind::Burst { venue: Venue::Binance, symbol: "BTCUSDT".into(), messages: 500 }),
    ];
    let (live, comparisons, _sim) = run_scenario(faults, 9).await;
    let okx_btc = stats(&live, Venue::Okx, "BTC-USDT-SWAP");
    assert_eq!((okx_btc.sequence_gaps, okx_btc.resyncs), (1, 1), "{okx_btc:?}");
    let eth = stats(&live, Venue::Binance, "ETHUSDT");
    assert_eq!((eth.sequence_gaps, eth.resyncs), (1, 1), "{eth:?}");
    let sol = stats(&live, Venue::Okx, "SOL-USDT-SWAP");
    assert_eq!((sol.checksum_failures, sol.resyncs), (1, 1), "{sol:?}");
    for (venue, symbol) in [(Venue::Okx, "XRP-USDT-SWAP"), (Venue::Binance, "XRPUSDT")] {
        let xrp = stats(&live, venue, symbol);
        assert_eq!((xrp.duplicates, xrp.resyncs), (1, 0), "{venue} {xrp:?}");
    }
    for (venue, symbol) in [(Venue::Okx, "DOGE-USDT-SWAP"), (Venue::Binance, "DOGEUSDT")] {
        let doge = stats(&live, venue, symbol);
        assert!(doge.resyncs <= 1, "{venue} {doge:?}");
    }
    // Nothing else resynced.
    let affected = ["BTC-USDT-SWAP", "ETHUSDT", "SOL-USDT-SWAP", "DOGE-USDT-SWAP", "DOGEUSDT"];
    for venue in Venue::ALL {
        let feed = live.pipeline.feed(venue);
        for slot in 0..feed.slots() {
            let symbol = feed.symbol(slot).unwrap();
            if !affected.contains(&symbol) {
                assert_eq!(feed.book(slot).unwrap().stats.resyncs, 0, "{venue} {symbol} resynced");
            }
        }
    }
    assert!(live.stats.pipeline.unknown >= 2, "{:?}", live.stats);
    assert_eq!(live.stats.disconnects.values().sum::<u64>(), 0, "{:?}", live.stats.disconnects);
    assert_all_live_and_true(&live, &comparisons);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_and_rest_faults_recover() {
    let faults = vec![
        at(2_000, FaultKind::DropConnection { venue: Venue::Okx, close_frame: true }),
        at(3_000, FaultKind::DropConnection { venue: Venue::Binance, close_frame: false }),
        at(4_500, FaultKind::Stall { venue: Venue::Okx, duration_ms: 3_000 }),
        at(5_000, FaultKind::Malformed { venue: Venue::Binance, truncate: true }),
        at(8_200, FaultKind::Malformed { venue: Venue::Okx, truncate: false }),
        at(5_500, FaultKind::RestStatus { venue: Venue::Binance, status: 429, count: 2 }),
        at(5_600, FaultKind::SequenceGap { venue: Venue::Binance, symbol: "BTCUSDT".into() }),
        at(6_500, FaultKind::RestStatus { venue: Venue::Binance, status: 418, count: 1 }),
        at(6_550, FaultKind::SequenceGap { venue: Venue::Binance, symbol: "SOLUSDT".into() }),
        at(7_500, FaultKind::SlowRest { venue: Venue::Binance, delay_ms: 400, count: 2 }),
        at(7_550, FaultKind::SequenceGap { venue: Venue::Binance, symbol: "XRPUSDT".into() }),
        at(9_000, FaultKind::RefuseSubscription { venue: Venue::Okx, count: 1 }),
        at(9_050, FaultKind::DropConnection { venue: Venue::Okx, close_frame: true }),
    ];
    let (live, comparisons, _sim) = run_scenario(faults, 16).await;
    let disconnects = &live.stats.disconnects;
    assert!(disconnects.get("closed").copied().unwrap_or(0) >= 3, "{disconnects:?}");
    assert!(disconnects.get("stalled").copied().unwrap_or(0) >= 1, "{disconnects:?}");
    assert!(live.stats.pipeline.malformed >= 2, "{:?}", live.stats.pipeline);
    for symbol in ["BTCUSDT", "SOLUSDT", "XRPUSDT"] {
        assert!(stats(&live, Venue::Binance, symbol).sequence_gaps >= 1, "{symbol}");
    }
    assert!(live.stats.pipeline.venue_errors >= 1, "the refused subscription is reported: {:?}", live.stats.pipeline);
    assert_all_live_and_true(&live, &comparisons);
}

/// OKX as announced: `books` subscriptions start without a WebSocket snapshot and checksums are 0. Books are
/// seeded from `GET /api/v5/market/books` and bridged by `seqId`; a broken book is repaired over REST.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okx_books_without_websocket_snapshots_are_seeded_over_rest() {
    let faults = vec![
        at(4_000, FaultKind::SequenceGap { venue: Venue::Okx, symbol: "BTC-USDT-SWAP".into() }),
        at(4_500, FaultKind::OutOfOrder { venue: Venue::Okx, symbol: "ETH-USDT-SWAP".into() }),
        at(5_000, FaultKind::DropConnection { venue: Venue::Okx, close_frame: true }),
    ];
    let config =
        SimConfig { seed: 4, tick_ms: 50, okx_ws_snapshots: false, okx_checksum: false, faults, ..Default::default() };
    let (live, comparisons, _sim) = run_with(config, 10).await;
    let okx = live.pipeline.feed(Venue::Okx);
    assert!(okx.repairs_over_rest(), "the feed noticed no snapshot comes");
    assert!(
        live.stats.snapshots_fetched >= u64::from(okx.slots()) * 2,
        "seeded, and again after the drop: {:?}",
        live.stats
    );
    let btc = stats(&live, Venue::Okx, "BTC-USDT-SWAP");
    assert_eq!(btc.sequence_gaps, 1, "{btc:?}");
    for slot in 0..okx.slots() {
        assert_eq!(okx.book(slot).unwrap().stats.checksums_verified, 0, "checksum 0 is never verified");
    }
    assert_all_live_and_true(&live, &comparisons);
}

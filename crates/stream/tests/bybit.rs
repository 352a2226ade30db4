//! Bybit over real sockets against the simulator, wired through its adapter as the product does: books go live
//! from the WebSocket snapshot, a gap in `u` resyncs that one book (by resubscribing), a repeated delta is
//! ignored, a service restart (`u` from 1 again, with a snapshot) replaces the book without a resync, funding
//! arrives from `tickers`, and no documented limit is broken.

use std::sync::Arc;
use std::time::Duration;

use perpspread_core::feed::FeedEvent;
use perpspread_core::{BookState, Side, Venue};
use perpspread_net::venue::VenueSettings;
use perpspread_net::RestConfig;
use perpspread_sim::{Fault, FaultKind, SimConfig};
use perpspread_stream::{run_live, LiveConfig, LiveVenue};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bybit_books_follow_the_u_chain_and_resync_after_a_gap() {
    let at = |ms: u64, kind: FaultKind| Fault { at_ms: Some(ms), kind };
    let faults = vec![
        at(2_000, FaultKind::SequenceGap { venue: Venue::Bybit, symbol: "BTCUSDT".into() }),
        at(2_500, FaultKind::Duplicate { venue: Venue::Bybit, symbol: "ETHUSDT".into() }),
        at(3_000, FaultKind::ServiceRestart { venue: Venue::Bybit, symbol: "SOLUSDT".into() }),
    ];
    let config = SimConfig { seed: 3, tick_ms: 50, funding_push_interval_ms: 200, faults, ..SimConfig::default() };
    let sim = perpspread_sim::start(config).await.unwrap();
    let adapter = perpspread_venues::adapter(Venue::Bybit);
    let (rest_url, ws_url) = sim.endpoints(Venue::Bybit).unwrap();
    let settings = VenueSettings { rest_url: rest_url.clone(), ws_url, book_depth: 200, options: Default::default() };
    let rest = adapter.rest(RestConfig::new(&rest_url), &settings).unwrap();
    let listing = rest.instruments().await.unwrap();
    let symbols: Vec<String> = listing.instruments.iter().map(|i| i.symbol.clone()).collect();
    assert_eq!(symbols, ["BTCUSDT", "ETHUSDT", "SOLUSDT", "1000PEPEUSDT", "BTCPERP"]);
    let mut live = LiveConfig::new();
    live.venues = vec![LiveVenue::new(adapter, &settings, symbols.clone()).with_snapshots(Arc::from(rest))];
    let mut funding = 0;
    let live = run_live(live, tokio::time::sleep(Duration::from_secs(5)), |_, _, events, _| {
        funding += events.iter().filter(|e| matches!(e, FeedEvent::Funding { .. })).count();
    })
    .await;
    let feed = live.pipeline.feed(Venue::Bybit);
    assert_eq!(feed.slots() as usize, symbols.len());
    for symbol in &symbols {
        let book = feed.book(feed.slot(symbol).unwrap()).unwrap();
        assert_eq!(book.state, BookState::Live, "{symbol}: {:?}", book.stats);
        assert!(book.stats.updates_applied > 10, "{symbol}: {:?}", book.stats);
        // `orderbook.50`: Bybit keeps the subscriber's book at 50 levels a side (levels leaving the top are deleted).
        for side in [Side::Bid, Side::Ask] {
            assert_eq!(book.book.depth(side), 50, "{symbol} {side:?}");
        }
    }
    let btc = feed.book(feed.slot("BTCUSDT").unwrap()).unwrap().stats;
    assert!(btc.sequence_gaps >= 1 && btc.resyncs >= 1, "the gap was seen and repaired: {btc:?}");
    let eth = feed.book(feed.slot("ETHUSDT").unwrap()).unwrap().stats;
    assert!(eth.duplicates >= 1 && eth.sequence_gaps == 0, "the repeated delta was ignored: {eth:?}");
    // After the restart `u` started again at 1 with a snapshot: replaced, followed, and not taken for a gap.
    let sol = feed.book(feed.slot("SOLUSDT").unwrap()).unwrap();
    assert!(sol.sequence.unwrap() < 1_000, "u restarted: {:?}", sol.sequence);
    assert_eq!((sol.stats.sequence_gaps, sol.stats.resyncs), (0, 0), "{:?}", sol.stats);
    assert!(funding >= symbols.len(), "funding from tickers: {funding}");
    assert!(live.stats.pipeline.malformed == 0 && live.stats.pipeline.unknown == 0, "{:?}", live.stats.pipeline);
    assert!(sim.limit_violations().is_empty(), "{:?}", sim.limit_violations());
    sim.shutdown().await;
}

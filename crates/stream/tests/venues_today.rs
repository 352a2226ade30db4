//! The venues as they are today, over real sockets against the simulator: Binance books from `/public` and
//! funding from `/market`; a misrouted or muted stream is reported silent within the timeout and repaired;
//! a whole universe and a resync storm stay within every documented connection and subscription limit.
mod common;

use std::sync::Arc;
use std::time::Duration;

use perpspread_core::feed::FeedEvent;
use perpspread_core::health::{StreamHealth, StreamKind};
use perpspread_core::{BookState, Venue};
use perpspread_net::ws::{Keepalive, WsVenue};
use perpspread_sim::{BinanceSpec, Fault, FaultKind, OkxSpec, SimConfig, SimHandle, SimPair};
use perpspread_stream::{run_live, Live, LiveConfig, LiveVenue, ResyncPolicy};

fn fast_sim() -> SimConfig {
    SimConfig { seed: 5, tick_ms: 50, funding_push_interval_ms: 200, ..SimConfig::default() }
}

/// Funding events of `venue` seen during the run.
async fn run(live: LiveConfig, seconds: f64) -> (Live, [u64; 2], Vec<Vec<String>>) {
    let health = live.health.clone();
    let mut funding = [0u64; 2];
    let silent_seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let watcher = watch_health(health, silent_seen.clone());
    let live = run_live(live, tokio::time::sleep(Duration::from_secs_f64(seconds)), |_, venue, events, _| {
        let index = Venue::ALL.iter().position(|v| *v == venue).unwrap();
        funding[index] += events.iter().filter(|e| matches!(e, FeedEvent::Funding { .. })).count() as u64;
    })
    .await;
    watcher.abort();
    let seen = silent_seen.lock().unwrap().clone();
    (live, funding, seen)
}

/// Samples the published silent streams every 100 ms (as a `/healthz` scrape would).
fn watch_health(health: StreamHealth, seen: Arc<std::sync::Mutex<Vec<Vec<String>>>>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let now: Vec<String> =
                health.silent().iter().map(|s| format!("{} {} {} {}", s.venue, s.stream, s.url, s.repairs)).collect();
            seen.lock().unwrap().push(now);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

fn okx_index() -> usize {
    Venue::ALL.iter().position(|v| *v == Venue::Okx).unwrap()
}

fn binance_index() -> usize {
    Venue::ALL.iter().position(|v| *v == Venue::Binance).unwrap()
}

fn all_live(live: &Live) -> bool {
    let not_live: Vec<String> = Venue::ALL
        .into_iter()
        .flat_map(|venue| {
            let feed = live.pipeline.feed(venue);
            (0..feed.slots())
                .filter(|slot| feed.book(*slot).unwrap().state != BookState::Live)
                .map(|slot| format!("{venue} {} {:?}", feed.symbol(slot).unwrap(), feed.book(slot).unwrap().state))
                .collect::<Vec<_>>()
        })
        .collect();
    if !not_live.is_empty() {
        eprintln!("not live: {not_live:?}\n{:?}", live.stats);
    }
    not_live.is_empty()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_books_come_from_public_and_funding_from_market() {
    let sim = perpspread_sim::start(fast_sim()).await.unwrap();
    let (_, mut live) = common::connect(&sim, None, common::Timing::Fast).await;
    live.silence_timeout = Duration::from_secs(2);
    let binance = live.venue_mut(Venue::Binance).unwrap();
    let urls: Vec<String> = binance.routes.iter().map(|r| r.url()).collect();
    assert_eq!(
        urls,
        [format!("{}/public/stream", sim.binance_ws_url), format!("{}/market/stream", sim.binance_ws_url)]
    );
    let (live, funding, silent) = run(live, 4.0).await;
    assert!(all_live(&live), "every book live from /public");
    assert!(funding[binance_index()] > 0, "Binance funding arrives over /market: {funding:?}");
    assert!(funding[okx_index()] > 0, "{funding:?}");
    assert!(silent.iter().all(Vec::is_empty), "nothing silent: {silent:?}");
    assert!(sim.limit_violations().is_empty(), "{:?}", sim.limit_violations());
}

/// Binance mark price subscribed where the venue does not serve it: acknowledged, then nothing.
struct Misrouted {
    url: String,
}

impl WsVenue for Misrouted {
    fn venue(&self) -> Venue {
        Venue::Binance
    }
    fn url(&self) -> String {
        self.url.clone()
    }
    fn stream_kinds(&self) -> Vec<StreamKind> {
        vec![StreamKind::Funding]
    }
    fn carries_books(&self) -> bool {
        false
    }
    fn symbols_per_connection(&self) -> usize {
        100
    }
    fn subscribe(&self, symbols: &[String]) -> Vec<String> {
        let params: Vec<String> = symbols.iter().map(|s| format!("{}@markPrice@1s", s.to_lowercase())).collect();
        vec![serde_json::json!({"method": "SUBSCRIBE", "params": params, "id": 1}).to_string()]
    }
    fn unsubscribe(&self, symbols: &[String]) -> Vec<String> {
        let params: Vec<String> = symbols.iter().map(|s| format!("{}@markPrice@1s", s.to_lowercase())).collect();
        vec![serde_json::json!({"method": "UNSUBSCRIBE", "params": params, "id": 2}).to_string()]
    }
    fn keepalive(&self) -> Keepalive {
        Keepalive {
            heartbeat: None,
            heartbeat_after: Duration::from_secs(60),
            stall_timeout: Duration::from_secs(60),
            max_lifetime: None,
        }
    }
    fn outgoing_per_second(&self) -> u32 {
        5
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misrouted_stream_is_reported_silent_and_named() {
    let sim = perpspread_sim::start(fast_sim()).await.unwrap();
    for path in ["/public/stream", "/stream"] {
        let url = format!("{}{path}", sim.binance_ws_url);
        let mut live = LiveConfig::new();
        live.silence_timeout = Duration::from_millis(1_000);
        live.venues = vec![LiveVenue {
            venue: Venue::Binance,
            routes: vec![Arc::new(Misrouted { url: url.clone() })],
            symbols: vec!["BTCUSDT".into(), "ETHUSDT".into()],
            snapshots: None,
            resync: ResyncPolicy::RestSnapshot,
        }];
        let (live, funding, silent) = run(live, 3.5).await;
        assert_eq!(funding[binance_index()], 0, "{path}: a misrouted stream delivers nothing");
        let first = silent.iter().position(|s| !s.is_empty()).expect("reported silent");
        assert!(first <= 15, "{path}: reported within the timeout and a check interval ({first} samples)");
        let named = &silent[first][0];
        assert!(named.starts_with(&format!("binance funding {url}")), "{named}");
        assert!(silent.last().unwrap().iter().any(|s| s.starts_with("binance funding")), "still silent at the end");
        assert!(live.stats.silence_repairs >= 2, "resubscribed, then reconnected: {:?}", live.stats);
        assert!(live.stats.disconnects.get("requested").copied().unwrap_or(0) >= 1, "{:?}", live.stats);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_muted_stream_is_reported_and_repaired() {
    let faults = vec![
        Fault { at_ms: Some(2_000), kind: FaultKind::Mute { venue: Venue::Binance, stream: StreamKind::Funding } },
        Fault { at_ms: Some(2_000), kind: FaultKind::Mute { venue: Venue::Okx, stream: StreamKind::Book } },
    ];
    let sim = perpspread_sim::start(SimConfig { faults, ..fast_sim() }).await.unwrap();
    let (_, mut live) = common::connect(&sim, None, common::Timing::Fast).await;
    // Below the 1.5 s stall timeout, so the silence is what finds the muted streams.
    live.silence_timeout = Duration::from_millis(1_000);
    let (live, funding, silent) = run(live, 7.0).await;
    let reported: Vec<&String> = silent.iter().flatten().collect();
    assert!(reported.iter().any(|s| s.starts_with("binance funding")), "{reported:?}");
    assert!(reported.iter().any(|s| s.starts_with("okx book")), "{reported:?}");
    assert!(silent.last().unwrap().is_empty(), "repaired by the end: {:?}", silent.last());
    assert!(live.stats.silent_streams >= 2 && live.stats.silence_repairs >= 2, "{:?}", live.stats);
    assert!(funding[binance_index()] > 0);
    assert!(all_live(&live), "books live again after the repair");
}

/// `n` synthetic pairs listed on both venues.
fn many_pairs(n: usize) -> Vec<SimPair> {
    (0..n)
        .map(|i| {
            let base = format!("SYN{i}");
            SimPair::new(&base, "USDT", 10.0 + i as f64, 20_000.0, 1e8)
                .with_okx(OkxSpec::linear(&format!("{base}-USDT-SWAP"), "1", "0.001", "1"))
                .with_binance(BinanceSpec::perpetual(&format!("{base}USDT"), "0.001", "1", 3, 0))
        })
        .collect()
}

fn gaps(sim_pairs: usize, every_ms: u64) -> Vec<Fault> {
    (0..sim_pairs)
        .flat_map(|i| {
            [
                Fault {
                    at_ms: Some(1_500 + i as u64 * every_ms),
                    kind: FaultKind::SequenceGap { venue: Venue::Okx, symbol: format!("SYN{i}-USDT-SWAP") },
                },
                Fault {
                    at_ms: Some(1_500 + i as u64 * every_ms),
                    kind: FaultKind::SequenceGap { venue: Venue::Binance, symbol: format!("SYN{i}USDT") },
                },
            ]
        })
        .collect()
}

async fn whole_universe(sim: &SimHandle, seconds: f64, requests_per_hour: Option<u32>) -> Live {
    let (universe, mut live) = common::connect(sim, None, common::Timing::Fast).await;
    assert_eq!(universe.pairs.len(), sim.config().pairs.len());
    // Weight 5 (limit 100) or 10 (limit 500) a snapshot: every initial and storm snapshot fits the
    // 2400-a-minute budget.
    live.snapshot_depth = if universe.pairs.len() > 100 { 100 } else { 500 };
    if let Some(requests) = requests_per_hour {
        let okx = live.venue_mut(Venue::Okx).unwrap();
        let mut ws = perpspread_okx::ws::OkxWs::new(&sim.okx_ws_url);
        ws.funding = true;
        ws.keepalive.heartbeat_after = Duration::from_millis(800);
        ws.keepalive.stall_timeout = Duration::from_millis(1_500);
        ws.requests_per_hour = requests;
        okx.routes = vec![Arc::new(ws)];
    }
    run(live, seconds).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_universe_and_a_resync_storm_stay_within_every_limit() {
    let config = SimConfig { pairs: many_pairs(80), faults: gaps(80, 20), ..fast_sim() };
    let sim = perpspread_sim::start(config).await.unwrap();
    let live = whole_universe(&sim, 6.0, None).await;
    assert!(sim.limit_violations().is_empty(), "{:?}", sim.limit_violations());
    // 80 OKX books at 25 a connection, opened at most 3 a second; Binance books and funding on their routes.
    assert_eq!(live.stats.connects, 4 + 2, "{:?}", live.stats);
    assert!(live.stats.pipeline.resync_requests >= 100, "a storm: {:?}", live.stats.pipeline);
    assert!(all_live(&live), "every book recovered");
}

/// The size of the real common universe (about 260 USDT pairs listed on both venues): 11 OKX connections opened
/// within the per-IP rate, Binance books and funding on two connections each, a storm on 60 OKX books; no limit
/// broken, every book live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_sized_universe_stays_within_every_limit() {
    let faults = gaps(60, 30).into_iter().filter(|f| f.kind.venue() == Venue::Okx).collect();
    let config = SimConfig { pairs: many_pairs(260), faults, tick_ms: 250, ..fast_sim() };
    let sim = perpspread_sim::start(config).await.unwrap();
    let live = whole_universe(&sim, 10.0, None).await;
    assert!(sim.limit_violations().is_empty(), "{:?}", sim.limit_violations());
    assert_eq!(live.stats.connects, 11 + 2 + 2, "{:?}", live.stats);
    assert!(all_live(&live), "every book live");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_subscription_budget_reconnects_instead_of_breaking_the_limit() {
    // A venue allowing 10 subscription requests an hour per connection: 20 resyncs over 4 OKX connections
    // (2 requests each) must reconnect rather than exceed it.
    let config = SimConfig { pairs: many_pairs(80), faults: gaps(20, 50), okx_requests_per_hour: 10, ..fast_sim() };
    let sim = perpspread_sim::start(config).await.unwrap();
    let live = whole_universe(&sim, 6.0, Some(10)).await;
    assert!(sim.limit_violations().is_empty(), "{:?}", sim.limit_violations());
    assert!(live.stats.disconnects.get("request_budget").copied().unwrap_or(0) >= 1, "{:?}", live.stats);
    assert!(all_live(&live), "every book recovered");
}

/// A message larger than the venues ever send (5 MiB) is refused, counted and logged as a fault of that
/// connection, which reconnects; the books come back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_is_a_fault_of_its_connection() {
    let faults = vec![Fault { at_ms: Some(2_000), kind: FaultKind::Oversized { venue: Venue::Okx, bytes: 5 << 20 } }];
    let sim = perpspread_sim::start(SimConfig { faults, ..fast_sim() }).await.unwrap();
    let (_, live) = common::connect(&sim, None, common::Timing::Fast).await;
    let (live, _, _) = run(live, 5.0).await;
    assert_eq!(live.stats.disconnects.get("oversized").copied(), Some(1), "{:?}", live.stats.disconnects);
    assert!(all_live(&live), "books back after the reconnect");
}

/// A burst splits a Binance diff into many small events; like the venue's own events, each must leave a real
/// (uncrossed) book, so none of them makes the client resync as `crossed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_bursts_never_cross_the_book() {
    let symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT"];
    let faults = (0..20u64)
        .map(|i| Fault {
            at_ms: Some(1_500 + i * 150),
            kind: FaultKind::Burst { venue: Venue::Binance, symbol: symbols[i as usize % 5].into(), messages: 200 },
        })
        .collect();
    let sim = perpspread_sim::start(SimConfig { faults, ..fast_sim() }).await.unwrap();
    let (_, live) = common::connect(&sim, None, common::Timing::Fast).await;
    let (live, _, _) = run(live, 5.5).await;
    let feed = live.pipeline.feed(Venue::Binance);
    for slot in 0..feed.slots() {
        let stats = feed.book(slot).unwrap().stats;
        assert_eq!(stats.crossed, 0, "{} {stats:?}", feed.symbol(slot).unwrap());
    }
    assert!(all_live(&live));
}

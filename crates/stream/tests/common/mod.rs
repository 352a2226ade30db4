#![allow(dead_code)] // each test binary uses part of the shared setup
//! Shared setup of the tests that stream from the simulator over real sockets.

use std::sync::Arc;
use std::time::Duration;

use perpspread_binance::rest::BinanceRest;
use perpspread_binance::ws::BinanceWs;
use perpspread_core::{Universe, Venue};
use perpspread_net::backoff::Backoff;
use perpspread_net::venue::{ResyncPolicy, VenueRest};
use perpspread_net::RestConfig;
use perpspread_okx::ws::OkxWs;
use perpspread_okx::OkxRest;
use perpspread_sim::SimHandle;
use perpspread_stream::{LiveConfig, LiveVenue, Recorder};

/// How quickly the client gives up on a silent or broken connection.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// The defaults used against the real venues.
    Real,
    /// Short heartbeats, stall detection, backoff and watchdog, for fault tests.
    Fast,
}

/// Fetches both venues' instruments from the simulator (recording them when asked) and prepares a live
/// configuration for every pair.
pub async fn connect(sim: &SimHandle, recorder: Option<&Recorder>, timing: Timing) -> (Universe, LiveConfig) {
    let fast = timing == Timing::Fast;
    let mut okx = OkxRest::new(RestConfig::new(&sim.okx_rest_url)).unwrap();
    let mut rest = RestConfig::new(&sim.binance_rest_url);
    if fast {
        rest.backoff_base = Duration::from_millis(100);
    }
    let mut binance = BinanceRest::new(rest, 2400).unwrap();
    if let Some(recorder) = recorder {
        for client in [okx.client_mut(), binance.client_mut()] {
            *client = client.clone().with_observer(Arc::new(recorder.clone()));
        }
    }
    let (a, b) = tokio::try_join!(okx.instruments(), binance.instruments()).unwrap();
    let universe = Universe::build(
        a.instruments.into_iter().chain(b.instruments).collect(),
        a.skipped.into_iter().chain(b.skipped).collect(),
    );
    let symbols = |venue: Venue| universe.pairs.iter().filter_map(|p| p.leg(venue)).map(|i| i.symbol.clone()).collect();
    // Books and funding, as `monitor` subscribes them.
    let mut okx_ws = OkxWs::new(&sim.okx_ws_url);
    okx_ws.funding = true;
    let mut binance_ws = BinanceWs::new(&sim.binance_ws_url);
    binance_ws.mark_price = true;
    let mut live = LiveConfig::new();
    if fast {
        okx_ws.keepalive.heartbeat_after = Duration::from_millis(800);
        okx_ws.keepalive.stall_timeout = Duration::from_millis(1_500);
        // The simulator pushes far more often than OKX's 60 s keep-alives and 30–90 s funding.
        (okx_ws.quiet_books, okx_ws.quiet_funding) = (Duration::ZERO, Duration::ZERO);
        binance_ws.keepalive.stall_timeout = Duration::from_millis(1_500);
        live.backoff = Backoff { base: Duration::from_millis(100), cap: Duration::from_millis(500) };
        live.resync_timeout = Duration::from_secs(2);
    }
    // The venues' own WebSocket settings, tuned for the test (the product builds them through the adapters).
    live.venues = vec![
        LiveVenue {
            venue: Venue::Okx,
            routes: vec![Arc::new(okx_ws)],
            symbols: symbols(Venue::Okx),
            snapshots: Some(Arc::new(okx)),
            resync: ResyncPolicy::Resubscribe,
        },
        LiveVenue {
            venue: Venue::Binance,
            routes: binance_ws
                .routes()
                .into_iter()
                .map(|r| Arc::new(r) as Arc<dyn perpspread_net::ws::WsVenue>)
                .collect(),
            symbols: symbols(Venue::Binance),
            snapshots: Some(Arc::new(binance)),
            resync: ResyncPolicy::RestSnapshot,
        },
    ];
    live.recorder = recorder.cloned();
    (universe, live)
}

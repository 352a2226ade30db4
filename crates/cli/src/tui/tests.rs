//! Tests of the dashboard.

use super::render::delay_text;
use super::*;
use perpspread_core::engine::{Engine, EngineConfig};
use perpspread_core::testkit;
use perpspread_core::Venue;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

#[test]
fn summary_delays_say_their_unit_or_that_there_is_none() {
    assert_eq!(delay_text(Some(6.14)), "6.1 ms");
    assert_eq!(delay_text(None), "n/a");
}

fn signals() -> Signals {
    let leg = |venue, symbol: &str| testkit::instrument(venue, symbol, "BTC", "USDT").base_per_qty("0.01").build();
    let pair = testkit::pair(leg(Venue::Okx, "BTC-USDT-SWAP"), leg(Venue::Binance, "BTCUSDT"));
    Signals::new(Engine::new(EngineConfig::default(), vec![pair]))
}

#[test]
fn renders_rows_opportunities_and_status() {
    let signals = signals();
    let mut board = Dashboard::new(&signals);
    board.rows[0].bid = [Some(64999.9), Some(65010.0)];
    board.rows[0].ask = [Some(65000.0), Some(65010.1)];
    board.rows[0].state = [Some(BookState::Live), Some(BookState::Resyncing)];
    board.rows[0].net_bp = vec![Some(1.5), Some(-0.5), None];
    board.rows[0].direction = "okx→binance".into();
    board.messages = 1234;
    board.resyncs = 2;
    assert_eq!(board.sizes, ["1k", "10k", "100k"]);
    let mut terminal = Terminal::new(TestBackend::new(200, 30)).unwrap();
    terminal.draw(|frame| render(frame, &board)).unwrap();
    let screen: String = terminal.backend().buffer().content().iter().map(|c| c.symbol()).collect();
    for expected in [
        "BTC/USDT",
        "okx 64999.9/65000",
        "binance 65010/65010.1",
        "okx→binance",
        "1.50",
        "live/resync",
        "NET bp 10k",
        "1234 msgs",
        "resyncs 2",
        "q quit",
    ] {
        assert!(screen.contains(expected), "missing {expected:?} in\n{screen}");
    }
    // Six seconds without an update: a live book is shown stale (the engine's 5 s guard).
    board.rows[0].updated_ns = [1_000_000_000, 7_000_000_000];
    board.now_ns = 7_000_000_000;
    terminal.draw(|frame| render(frame, &board)).unwrap();
    let screen: String = terminal.backend().buffer().content().iter().map(|c| c.symbol()).collect();
    assert!(screen.contains("stale/resync"), "{screen}");
    assert!(board.on_key(KeyCode::Char('q')));
    assert!(!board.on_key(KeyCode::Char('s')));
    assert_eq!(board.sort, SortBy::Pair);
}

/// `e` cycles the venue filter through every venue and back to all; a pair shows while one of its legs is
/// on the chosen venue.
#[test]
fn the_venue_filter_cycles_through_the_venues() {
    let mut board = Dashboard::new(&signals());
    assert_eq!(board.sorted_rows().len(), 1);
    for venue in Venue::ALL {
        board.on_key(KeyCode::Char('e'));
        assert_eq!(board.venue_filter, Some(venue));
        let listed = board.rows[0].venues.iter().any(|v| v == venue.as_str());
        assert_eq!(board.sorted_rows().len(), usize::from(listed), "{venue}");
    }
    board.rows[0].venues = ["x".into(), "y".into()];
    board.on_key(KeyCode::Char('e'));
    assert_eq!(board.venue_filter, None);
    assert_eq!(board.sorted_rows().len(), 1);
    board.on_key(KeyCode::Char('e'));
    assert!(board.sorted_rows().is_empty(), "no leg on the chosen venue");
}

#[test]
fn the_funding_view_shows_the_best_trade_of_each_pair() {
    use perpspread_core::funding::{round_trip_bp, trade, FundingSchedule};
    let mut board = Dashboard::new(&signals());
    let h = 3_600_000;
    let (long, short) = (
        FundingSchedule { rate: 0.0001, interval_hours: 8, next_ms: 10 * h },
        FundingSchedule { rate: 0.0001, interval_hours: 4, next_ms: 10 * h },
    );
    let round_trip = round_trip_bp(-1.0, -1.0, 10.0);
    board.rows[0].funding = Some(FundingRow {
        direction: "okx→binance".into(),
        rate_bp: [1.0, 1.0],
        interval_h: [8, 4],
        next_min: [60.0, 60.0],
        apr_pct: [long.apr_pct(), short.apr_pct()],
        round_trip_bp: round_trip,
        trade: trade(&long, &short, round_trip, 9 * h, 72 * h),
    });
    assert!(!board.on_key(KeyCode::Char('v')));
    assert_eq!(board.view, View::Funding);
    let mut terminal = Terminal::new(TestBackend::new(220, 30)).unwrap();
    terminal.draw(|frame| render(frame, &board)).unwrap();
    let screen: String = terminal.backend().buffer().content().iter().map(|c| c.symbol()).collect();
    // 72 h: the 4-hourly short settles 18 times, the 8-hourly long 9: 9 bp carry, round trip 22 bp.
    for expected in ["funding trades", "okx→binance", "8/4", "10.95/21.90", "22.00", "9.00", "-13.00", "v view"] {
        assert!(screen.contains(expected), "missing {expected:?} in\n{screen}");
    }
    board.on_key(KeyCode::Char('v'));
    assert_eq!(board.view, View::Spreads);
}

#[test]
fn a_silent_stream_is_named_on_the_status_line() {
    use perpspread_core::health::{SilentStream, StreamKind};
    let board = Dashboard::new(&signals());
    let mut terminal = Terminal::new(TestBackend::new(220, 30)).unwrap();
    terminal.draw(|frame| render(frame, &board)).unwrap();
    let screen: String = terminal.backend().buffer().content().iter().map(|c| c.symbol()).collect();
    assert!(!screen.contains("SILENT"), "{screen}");
    board.streams.set(vec![SilentStream {
        venue: Venue::Binance,
        stream: StreamKind::Funding,
        url: "wss://fstream.binance.com/public/stream".into(),
        connection: 3,
        silent_for: Duration::from_secs(45),
        repairs: 1,
    }]);
    terminal.draw(|frame| render(frame, &board)).unwrap();
    let screen: String = terminal.backend().buffer().content().iter().map(|c| c.symbol()).collect();
    assert!(screen.contains("SILENT binance funding 45 s"), "{screen}");
}

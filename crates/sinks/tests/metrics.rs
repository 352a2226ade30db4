//! Metrics from a real OKX recording and a real engine run; `/metrics` and `/healthz` over HTTP.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use perpspread_core::feed::{BookState, Feed, Frame, FrameError, RecvTime, ResyncReason, Source};
use perpspread_core::Venue;
use perpspread_okx::feed::OkxFeed;
use perpspread_sinks::metrics::{BookAge, HealthConfig, Metrics, MetricsConfig};
use perpspread_sinks::RedisStats;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Feeds the OKX BTC-USDT recording through a feed handler, reporting every frame to `metrics`.
fn replay_okx(metrics: &mut Metrics) -> OkxFeed {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/real/okx_books_btc-usdt_2022-05-13.jsonl");
    let text = std::fs::read_to_string(path).unwrap();
    let mut feed = OkxFeed::default();
    let mut events = Vec::new();
    for line in text.lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        let ts = record["ts_ns"].as_u64().unwrap();
        let data = record["data"].as_str().unwrap();
        let recv = RecvTime { wall_ns: ts, mono_ns: ts };
        events.clear();
        let result = feed.on_frame(Frame { source: Source::Ws, data, recv }, &mut events);
        metrics.on_frame(Venue::Okx, Source::Ws, data.len(), result.as_ref().err());
        metrics.on_feed_events(Venue::Okx, &feed, &events, recv);
    }
    feed
}

/// Observation right after the feed's last frame (every book fresh), with a 5 s age limit.
fn fresh(feed: &OkxFeed) -> BookAge {
    let last = (0..feed.slots()).filter_map(|slot| feed.book(slot)).map(|b| b.recv.mono_ns).max().unwrap_or(0);
    BookAge { now_mono_ns: last, max_ns: 5_000_000_000 }
}

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

#[test]
fn records_feed_engine_and_opportunity_series() {
    let mut metrics = Metrics::new(&MetricsConfig { top_n: 1, ..MetricsConfig::default() }).unwrap();
    let feed = replay_okx(&mut metrics);
    metrics.on_parse_error(Venue::Binance, &FrameError::Malformed("x".into()));
    metrics.observe_feed(&feed, fresh(&feed));
    let s = perpspread_sinks::testkit::scenario(60);
    for event in &s.events {
        metrics.on_opportunity(event);
    }
    metrics.observe_engine(&s.engine);
    metrics.observe_signal_latency(Venue::Okx, 42_000);
    metrics.observe_connections(3, [("stalled", 2), ("closed", 1)]);
    metrics.observe_redis(&RedisStats { published: 5, dropped: 1, reconnects: 2, buffered: 3, ..Default::default() });
    let text = metrics.render();

    let bytes: usize = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/real/okx_books_btc-usdt_2022-05-13.jsonl"),
    )
    .unwrap()
    .lines()
    .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["data"].as_str().unwrap().len())
    .sum();
    assert_eq!(value(&text, r#"perpspread_messages_total{venue="okx",channel="ws"}"#), Some(198.0), "{text}");
    assert_eq!(value(&text, r#"perpspread_bytes_total{venue="okx",channel="ws"}"#), Some(bytes as f64));
    assert_eq!(value(&text, r#"perpspread_parse_errors_total{venue="binance",kind="malformed"}"#), Some(1.0));
    assert_eq!(value(&text, r#"perpspread_checksums_total{venue="okx",result="verified"}"#), Some(98.0));
    assert_eq!(value(&text, r#"perpspread_checksums_total{venue="okx",result="failed"}"#), Some(0.0));
    assert_eq!(value(&text, r#"perpspread_sequence_gaps_total{venue="okx"}"#), Some(0.0));
    assert_eq!(value(&text, r#"perpspread_book_state{venue="okx",symbol="BTC-USDT"}"#), Some(1.0));
    assert_eq!(value(&text, r#"perpspread_books{venue="okx",state="live"}"#), Some(1.0));
    assert!(text.contains("# TYPE perpspread_exchange_latency_ms histogram"), "{text}");
    assert!(value(&text, r#"perpspread_exchange_latency_ms_count{venue="okx"}"#).unwrap() >= 98.0);
    assert!(value(&text, r#"perpspread_clock_offset_ms{venue="okx"}"#).is_some());
    assert_eq!(value(&text, r#"perpspread_signal_latency_ms_count{venue="okx"}"#), Some(1.0));
    // Engine: 60 s, BTC opens 6× and ETH 6× per size (2 sizes); all closed by shutdown or threshold.
    let opened = value(&text, r#"perpspread_opportunities_opened_total{direction="buy_okx_sell_binance"}"#);
    assert_eq!(opened, Some(s.engine.stats().opened as f64));
    let closed_below = value(
        &text,
        r#"perpspread_opportunities_closed_total{direction="buy_okx_sell_binance",reason="below_threshold"}"#,
    )
    .unwrap();
    assert_eq!(closed_below + 0.0, 24.0);
    assert_eq!(value(&text, "perpspread_opportunities_open"), Some(0.0));
    assert_eq!(value(&text, "perpspread_evaluations_total"), Some(s.engine.stats().evaluations as f64));
    assert_eq!(value(&text, r#"perpspread_suppressions_total{reason="stale"}"#), Some(0.0));
    assert_eq!(value(&text, "perpspread_opportunity_duration_seconds_count"), Some(24.0));
    assert_eq!(value(&text, "perpspread_connects_total"), Some(3.0));
    assert_eq!(value(&text, r#"perpspread_reconnects_total{cause="stalled"}"#), Some(2.0));
    assert_eq!(value(&text, "perpspread_redis_published_total"), Some(5.0));
    assert_eq!(value(&text, "perpspread_redis_buffered"), Some(3.0));
    // Top-N with N = 1: the last evaluation of both pairs is at -20 bp; one line only.
    let top: Vec<&str> = text.lines().filter(|l| l.starts_with("perpspread_best_net_bp{")).collect();
    assert_eq!(top.len(), 1, "{top:?}");
    assert!(top[0].contains(r#"direction="buy_okx_sell_binance""#), "{top:?}");
    assert!(text.contains("# HELP perpspread_messages_total"));

    // Every series the Grafana dashboard queries is one that perpspread exports.
    let dashboard =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/grafana/perpspread.json"))
            .unwrap();
    let _: serde_json::Value = serde_json::from_str(&dashboard).expect("dashboard is valid JSON");
    let mut used: Vec<&str> = dashboard
        .match_indices("perpspread_")
        .map(|(at, _)| {
            let rest = &dashboard[at..];
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
            let name = &rest[..end];
            name.strip_suffix("_bucket").unwrap_or(name)
        })
        .collect();
    used.sort_unstable();
    used.dedup();
    assert!(used.len() >= 20, "{used:?}");
    for name in used {
        assert!(text.contains(&format!("# TYPE {name} ")), "dashboard uses {name}, which is not exported");
    }
}

/// Metrics whose health allows a book 10 s out of `Live` and 30 s between observations.
fn with_10s_grace() -> Metrics {
    let config = MetricsConfig {
        health: HealthConfig { resync_grace: Duration::from_secs(10), max_observation_age: Duration::from_secs(30) },
        ..MetricsConfig::default()
    };
    Metrics::new(&config).unwrap()
}

#[test]
fn health_requires_live_books_or_short_resyncs() {
    let mut metrics = with_10s_grace();
    let health = metrics.health();
    assert!(!health.ready);
    assert_eq!(health.reason, "no book subscribed yet");
    let mut feed = replay_okx(&mut metrics);
    let t0 = Instant::now();
    metrics.observe_feed_at(&feed, fresh(&feed), t0);
    assert!(metrics.health_at(t0).ready, "{:?}", metrics.health_at(t0));
    // The book breaks: ready while resyncing < 10 s, not ready after; live again → ready.
    let slot = feed.slot("BTC-USDT").unwrap();
    feed.invalidate(slot, ResyncReason::ChecksumMismatch);
    assert_eq!(feed.book(slot).unwrap().state, BookState::Resyncing);
    metrics.observe_feed_at(&feed, fresh(&feed), t0 + Duration::from_secs(1));
    assert!(metrics.health_at(t0 + Duration::from_secs(5)).ready);
    let late = metrics.health_at(t0 + Duration::from_secs(12));
    assert!(!late.ready);
    assert_eq!(late.not_live.len(), 1);
    assert_eq!((late.not_live[0].symbol.as_str(), late.not_live[0].state), ("BTC-USDT", "resyncing"));
    assert!(late.reason.contains("1 of 1 books"), "{}", late.reason);
    // No observation for longer than max_observation_age: not ready either.
    let stalled = metrics.health_at(t0 + Duration::from_secs(60));
    assert!(stalled.reason.contains("not observed"), "{}", stalled.reason);
    let text = metrics.render();
    assert_eq!(value(&text, r#"perpspread_resyncs_total{venue="okx"}"#), Some(1.0));
    assert_eq!(value(&text, r#"perpspread_checksums_total{venue="okx",result="failed"}"#), Some(1.0));
    assert_eq!(value(&text, r#"perpspread_book_state{venue="okx",symbol="BTC-USDT"}"#), Some(3.0));
}

#[test]
fn a_live_book_without_updates_shows_stale() {
    let mut metrics = with_10s_grace();
    let feed = replay_okx(&mut metrics);
    let (t0, age) = (Instant::now(), fresh(&feed));
    let gauge = |metrics: &Metrics| value(&metrics.render(), r#"perpspread_book_state{venue="okx",symbol="BTC-USDT"}"#);
    metrics.observe_feed_at(&feed, age, t0);
    assert_eq!(gauge(&metrics), Some(1.0));
    // 3 s without an update is still live (the scrape ages it by the little real time since); past 5 s stale.
    let later = |ns: u64| BookAge { now_mono_ns: age.now_mono_ns + ns, ..age };
    metrics.observe_feed_at(&feed, later(3_000_000_000), t0);
    assert_eq!(gauge(&metrics), Some(1.0));
    metrics.observe_feed_at(&feed, later(5_000_000_001), t0 + Duration::from_secs(1));
    assert_eq!(gauge(&metrics), Some(2.0));
    assert_eq!(value(&metrics.render(), r#"perpspread_books{venue="okx",state="stale"}"#), Some(1.0));
    // Between observations the books age at every look: live when last observed, stale by the time of the
    // scrape (nothing arrived meanwhile, so nothing was observed).
    metrics.observe_feed_at(&feed, later(4_000_000_000), t0 + Duration::from_secs(2));
    assert_eq!(metrics.health_at(t0 + Duration::from_secs(2)).live, 1);
    let stale = metrics.health_at(t0 + Duration::from_secs(3) + Duration::from_millis(1));
    assert_eq!((stale.live, stale.not_live[0].state), (0, "stale"));
    // One book of a venue, stale: a quiet market, ready — until it has been quiet for a minute and a half.
    assert!(stale.ready, "{stale:?}");
    let stalled = metrics.health_at(t0 + Duration::from_secs(94));
    assert!(!stalled.ready && stalled.reason.contains("no okx book live"), "{stalled:?}");
    // An update makes it live again (here: looking at the time of its last update).
    metrics.observe_feed_at(&feed, age, t0 + Duration::from_secs(13));
    assert_eq!(gauge(&metrics), Some(1.0));
    assert_eq!(metrics.health_at(t0 + Duration::from_secs(13)).live, 1);
}

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn serves_metrics_and_healthz_over_http() {
    let mut metrics = Metrics::new(&MetricsConfig::default()).unwrap();
    let server = metrics.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = server.local_addr();
    assert!(addr.ip().is_loopback());
    let (status, body) = get(addr, "/healthz").await;
    assert_eq!(status, 503);
    assert!(body.contains(r#""ready":false"#), "{body}");
    let feed = replay_okx(&mut metrics);
    metrics.observe_feed(&feed, fresh(&feed));
    let (status, body) = get(addr, "/healthz").await;
    assert_eq!(status, 200, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (health["ready"].as_bool(), health["books"].as_u64(), health["live"].as_u64()),
        (Some(true), Some(1), Some(1))
    );
    let (status, body) = get(addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(body.contains(r#"perpspread_messages_total{venue="okx",channel="ws"} 198"#), "{body}");
    assert_eq!(get(addr, "/nope").await.0, 404);
    server.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "server stopped");
}

#[tokio::test]
async fn bind_errors_are_reported() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let metrics = Metrics::new(&MetricsConfig::default()).unwrap();
    let error = metrics.serve(taken.local_addr().unwrap()).await.unwrap_err();
    assert!(error.to_string().contains("cannot listen"), "{error}");
}

/// With three venues a leg belongs to two pairs: its funding rate per hour is one series, and each direction of
/// each venue pair has its APR difference.
#[test]
fn funding_series_with_three_venues_are_written_once() {
    use perpspread_core::engine::{Engine, EngineConfig, LegFunding};
    use perpspread_core::Pair;
    let base = perpspread_core::testkit::okx_binance_pair("BTC");
    let [okx, binance] = base.legs.clone();
    let bybit = perpspread_core::Instrument { venue: Venue::Bybit, symbol: "BTCUSDT".into(), ..binance.clone() };
    let pairs = vec![
        Pair { key: base.key.clone(), legs: [okx.clone(), binance.clone()] },
        Pair { key: base.key.clone(), legs: [okx, bybit.clone()] },
        Pair { key: base.key.clone(), legs: [binance, bybit] },
    ];
    let mut engine = Engine::new(EngineConfig::default(), pairs);
    let h = 3_600_000;
    let leg = |rate: f64, hours: u32| LegFunding { rate, next_funding_ms: Some(8 * h), interval_hours: Some(hours) };
    // OKX 1 bp / 8 h, Binance 1 bp / 4 h, Bybit 2 bp / 8 h, set on every pair they are a leg of.
    for (pair, legs) in [
        (0, [leg(0.0001, 8), leg(0.0001, 4)]),
        (1, [leg(0.0001, 8), leg(0.0002, 8)]),
        (2, [leg(0.0001, 4), leg(0.0002, 8)]),
    ] {
        for (index, funding) in legs.into_iter().enumerate() {
            engine.set_funding(pair, index, funding);
        }
    }
    let mut metrics = Metrics::new(&MetricsConfig::default()).unwrap();
    metrics.observe_engine(&engine);
    let text = metrics.render();
    let rates: Vec<&str> = text.lines().filter(|l| l.starts_with("perpspread_funding_rate_per_hour_bp{")).collect();
    assert_eq!(rates.len(), 3, "one series per venue: {rates:?}");
    assert_eq!(value(&text, r#"perpspread_funding_rate_per_hour_bp{venue="binance",pair="BTC/USDT"}"#), Some(0.25));
    assert_eq!(value(&text, r#"perpspread_funding_rate_per_hour_bp{venue="bybit",pair="BTC/USDT"}"#), Some(0.25));
    let diffs = text.lines().filter(|l| l.starts_with("perpspread_funding_apr_diff_pct{")).count();
    assert_eq!(diffs, 6, "two directions of three venue pairs");
    let okx_bybit = value(&text, r#"perpspread_funding_apr_diff_pct{pair="BTC/USDT",direction="buy_okx_sell_bybit"}"#);
    assert!((okx_bybit.unwrap() - 10.95).abs() < 1e-9, "(0.25 − 0.125) bp/h × 8760 h = 10.95 %: {okx_bybit:?}");
}

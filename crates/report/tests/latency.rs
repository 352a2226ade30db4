//! `report --latency` on a hand-made capture whose answer is known: OKX and Bybit BTC/USDT books where one
//! opportunity opens, fades below the open threshold, then closes, checked at four reaction latencies.

use perpspread_capture::{CaptureWriter, RecordRef, Src};
use perpspread_core::engine::EngineConfig;
use perpspread_core::spread::SizeTarget;
use perpspread_core::testkit::dec;
use perpspread_core::FeeModel;
use perpspread_report::replay::report_from_captures;
use perpspread_report::{LatencyRow, ReportOptions};
use serde_json::json;

/// Unix ms of the capture's start.
const T0: u64 = 1_700_000_000_000;

fn docs(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../../fixtures/docs-examples/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// OKX `books` message (sizes in contracts of 0.01 BTC); the checksum is 0, as OKX sends today.
fn okx(action: &str, at_ms: u64, seq: i64, prev: i64, bids: &[(&str, &str)], asks: &[(&str, &str)]) -> String {
    let levels = |side: &[(&str, &str)]| side.iter().map(|(p, q)| json!([p, q, "0", "1"])).collect::<Vec<_>>();
    json!({
        "arg": {"channel": "books", "instId": "BTC-USDT-SWAP"},
        "action": action,
        "data": [{"asks": levels(asks), "bids": levels(bids), "ts": (T0 + at_ms).to_string(), "checksum": 0,
                  "seqId": seq, "prevSeqId": prev}]
    })
    .to_string()
}

/// Bybit `orderbook.50` message (sizes in BTC).
fn bybit(kind: &str, at_ms: u64, update: u64, bids: &[(&str, &str)], asks: &[(&str, &str)]) -> String {
    json!({
        "topic": "orderbook.50.BTCUSDT", "type": kind, "ts": T0 + at_ms, "cts": T0 + at_ms,
        "data": {"s": "BTCUSDT", "b": bids, "a": asks, "u": update, "seq": update}
    })
    .to_string()
}

const HOUR_MS: u64 = 3_600_000;

/// OKX `funding-rate`: 1 bp every 8 h, next at T0 + 1 h.
fn okx_funding() -> String {
    json!({
        "arg": {"channel": "funding-rate", "instId": "BTC-USDT-SWAP"},
        "data": [{"instId": "BTC-USDT-SWAP", "instType": "SWAP", "fundingRate": "0.0001",
                  "fundingTime": (T0 + HOUR_MS).to_string(), "nextFundingTime": (T0 + 9 * HOUR_MS).to_string()}]
    })
    .to_string()
}

/// Bybit `tickers`: 3 bp every 8 h, next at T0 + 1 h.
fn bybit_funding() -> String {
    json!({
        "topic": "tickers.BTCUSDT", "type": "snapshot", "cs": 1, "ts": T0 + 2,
        "data": {"symbol": "BTCUSDT", "fundingRate": "0.0003", "nextFundingTime": (T0 + HOUR_MS).to_string(),
                 "fundingIntervalHour": "8"}
    })
    .to_string()
}

/// The timeline (ms after T0), buying on OKX and selling on Bybit, 1 BTC, no fees:
/// * 1: both books 99.5 / 100.0 — nothing;
/// * 2: funding: OKX 1 bp, Bybit 3 bp, both every 8 h from T0 + 1 h;
/// * 100: Bybit moves up to 100.5 / 101.0 — buy 100.0, sell 100.5: +50 bp, opens (threshold 30 bp);
/// * 120: OKX's 100.0 ask is gone, next 100.3 — +19.94 bp: below the threshold, still open (close at 0);
/// * 300: Bybit's 100.5 bid is gone — buy 100.3, sell 99.5: −79.76 bp, closes;
/// * 1000: a subscription acknowledgement, the capture's last message.
fn write_capture(path: &std::path::Path) {
    let okx_instruments = docs("okx/http_get_instruments_swap.json");
    let bybit_instruments = docs("bybit/http_get_instruments_linear.json");
    let records: Vec<(u64, &str, Src, Option<&str>, String)> = vec![
        (0, "okx", Src::Rest, Some("/api/v5/public/instruments?instType=SWAP"), okx_instruments),
        (0, "bybit", Src::Rest, Some("/v5/market/instruments-info?category=linear&limit=1000"), bybit_instruments),
        (1, "okx", Src::Ws, None, okx("snapshot", 1, 10, -1, &[("99.5", "1000")], &[("100.0", "1000")])),
        (1, "bybit", Src::Ws, None, bybit("snapshot", 1, 1, &[("99.5", "10")], &[("100.0", "10")])),
        (2, "okx", Src::Ws, None, okx_funding()),
        (2, "bybit", Src::Ws, None, bybit_funding()),
        (100, "bybit", Src::Ws, None, bybit("delta", 100, 2, &[("100.5", "10")], &[("100.0", "0"), ("101.0", "10")])),
        (120, "okx", Src::Ws, None, okx("update", 120, 11, 10, &[], &[("100.0", "0"), ("100.3", "1000")])),
        (300, "bybit", Src::Ws, None, bybit("delta", 300, 3, &[("100.5", "0")], &[])),
        (
            1000,
            "okx",
            Src::Ws,
            None,
            r#"{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT-SWAP"}}"#.into(),
        ),
    ];
    let mut writer = CaptureWriter::create(path, Default::default()).unwrap();
    for (at_ms, venue, src, url, data) in &records {
        let ts_ns = (T0 + at_ms) * 1_000_000;
        writer.write(RecordRef { ts_ns, venue, src: *src, url: *url, data }).unwrap();
    }
    writer.finish().unwrap();
}

fn row(rows: &[LatencyRow], latency_ms: u64, pair: &str) -> LatencyRow {
    rows.iter().find(|r| r.latency_ms == latency_ms && r.pair == pair).cloned().unwrap_or_else(|| panic!("{rows:#?}"))
}

/// No fees, 1 BTC, open at 30 bp, close below 0 bp.
fn hand_engine() -> EngineConfig {
    EngineConfig {
        fees: FeeModel::uniform(0.0, false),
        sizes: vec![SizeTarget::Base(dec("1"))],
        open_bp: 30.0,
        close_bp: 0.0,
        ..EngineConfig::default()
    }
}

#[test]
fn capture_at_latency_matches_the_hand_computed_books() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("hand.jsonl");
    write_capture(&capture);
    let engine = hand_engine();
    let options = ReportOptions { latencies_ms: vec![10, 50, 250, 2000], ..ReportOptions::default() };
    let report = report_from_captures(&[capture], &engine, &options).unwrap().report;
    assert_eq!(report.opportunities, 1, "{:#?}", report.groups);
    let rows = &report.capture_at_latency;

    // 10 ms: the books of t = 100 ms, still +50 bp on 1 BTC bought at 100.0.
    let at10 = row(rows, 10, "BTC/USDT");
    assert_eq!((at10.opportunities, at10.unobserved), (1, 0));
    assert_eq!((at10.share_at_threshold, at10.share_open, at10.share_executable), (1.0, 1.0, 1.0));
    assert!((at10.mean_net_bp.unwrap() - 50.0).abs() < 1e-9, "{at10:?}");
    assert!((at10.available_quote - 100.0 * 50.0 / 10_000.0).abs() < 1e-9, "{at10:?}");
    assert_eq!((at10.direction.as_str(), at10.size.as_str()), ("buy_okx_sell_bybit", "base 1"));

    // 50 ms: the books of t = 120 ms: (100.5 − 100.3) / 100.3 — below the threshold, not yet closed.
    let at50 = row(rows, 50, "BTC/USDT");
    let expected = (100.5 - 100.3) / 100.3 * 10_000.0;
    assert!((at50.mean_net_bp.unwrap() - expected).abs() < 1e-6, "{at50:?}");
    assert_eq!((at50.share_at_threshold, at50.share_open, at50.available_quote), (0.0, 1.0, 0.0));

    // 250 ms: the books of t = 300 ms: (99.5 − 100.3) / 100.3, closed.
    let at250 = row(rows, 250, "BTC/USDT");
    let expected = (99.5 - 100.3) / 100.3 * 10_000.0;
    assert!((at250.mean_net_bp.unwrap() - expected).abs() < 1e-6, "{at250:?}");
    assert_eq!((at250.share_at_threshold, at250.share_open), (0.0, 0.0));

    // 2 s: after the capture's last message (1 s): unknown, not counted.
    let at2000 = row(rows, 2000, "all");
    assert_eq!((at2000.opportunities, at2000.unobserved, at2000.mean_net_bp), (0, 1, None));

    // The overall rows agree with the only group's.
    assert_eq!(row(rows, 50, "all").mean_net_bp, at50.mean_net_bp);
    let text = report.render_text();
    assert!(text.contains("capture at a reaction latency") && text.contains("buy_okx_sell_bybit"), "{text}");
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["capture_at_latency"][0]["latency_ms"], 10);
}

/// The replay's timelines and charts: the pair's best net per direction follows the hand-computed books, the
/// funding carry over 24 h is three settlements of each leg (short Bybit receives 3 × 3 bp, long OKX pays
/// 3 × 1 bp: +6 bp), every book is Live at the end, and the charts and the HTML page are written.
#[test]
fn timelines_and_charts_of_the_hand_made_capture() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("hand.jsonl");
    write_capture(&capture);
    let engine = hand_engine();
    let options = ReportOptions { timelines: true, ..ReportOptions::default() };
    let replayed = report_from_captures(&[capture], &engine, &options).unwrap();
    let timelines = replayed.timelines.unwrap();
    let pair = timelines.pairs.iter().find(|p| p.pair == "BTC/USDT").unwrap();
    let (direction, best, carry) = &pair.directions[0];
    assert_eq!(direction.as_str(), "buy_okx_sell_bybit");
    let maxima: Vec<f64> = best.points().map(|(_, b)| b.max).collect();
    assert!((maxima.iter().copied().fold(f64::MIN, f64::max) - 50.0).abs() < 1e-9, "{maxima:?}");
    let carried: Vec<f64> = carry.points().map(|(_, b)| b.last).collect();
    assert!(!carried.is_empty() && carried.iter().all(|bp| (bp - 6.0).abs() < 1e-9), "{carried:?}");
    assert!(pair.directions[1].2.points().all(|(_, b)| (b.last + 6.0).abs() < 1e-9));
    assert_eq!(timelines.open_bp, Some(30.0));
    let live: Vec<(perpspread_core::Venue, f64)> =
        timelines.health.iter().map(|(v, [live, ..])| (*v, live.points().last().unwrap().1.last)).collect();
    assert!(
        live.contains(&(perpspread_core::Venue::Okx, 1.0)) && live.contains(&(perpspread_core::Venue::Bybit, 1.0)),
        "{live:?}"
    );
    // Every book message of this capture was stamped at its receive time: 0 ms, the "0–1 ms" bin.
    assert!(timelines.latency.iter().all(|(_, bins)| bins[1] > 0 && bins.iter().sum::<u64>() == bins[1]));

    let charts = perpspread_report::plot::replay_charts(&timelines, &replayed.records, &Default::default()).unwrap();
    let names: Vec<&str> = charts.iter().map(|c| c.file_name.as_str()).collect();
    assert_eq!(names, ["spread-BTC_USDT-okx-bybit.png", "latency.png", "book-health.png", "durations.png"]);
    let out = std::env::var_os("PERPSPREAD_KEEP_CHARTS").map_or_else(|| dir.path().join("charts"), Into::into);
    let written = perpspread_report::plot::write_charts(&out, &charts).unwrap();
    for path in &written {
        let bytes = std::fs::read(path).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 2_000, "{}", path.display());
    }
    let page = perpspread_report::html::html_report(&replayed.report, &charts, "hand.jsonl");
    assert_eq!(page.matches("data:image/png;base64,").count(), 4);
    assert!(page.contains("BTC/USDT") && page.contains("book health"));
}

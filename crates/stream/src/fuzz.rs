//! Entry points that take arbitrary bytes, shared by the cargo-fuzz targets in `fuzz/` and by the regression
//! test that replays their corpora (`tests/fuzz_corpus.rs`). None of them may panic, hang or grow without
//! bound, whatever the input.

use perpspread_binance::feed::BinanceFeed;
use perpspread_bybit::feed::BybitFeed;
use perpspread_capture::{parse_line, CaptureReader, Record};
use perpspread_core::feed::{Feed, Frame, RecvTime, Source};
use perpspread_core::testkit;
use perpspread_okx::feed::OkxFeed;

/// Frames separated by `0xff` bytes (never valid UTF-8, so never inside a frame).
fn frames(data: &[u8]) -> impl Iterator<Item = &str> {
    data.split(|b| *b == 0xff).filter_map(|chunk| std::str::from_utf8(chunk).ok())
}

/// A sequence of OKX WebSocket frames, then the checksum of every book.
pub fn okx_frames(data: &[u8]) {
    let mut feed = OkxFeed::default();
    let mut events = Vec::new();
    for text in frames(data) {
        let _ = feed.on_frame(Frame { source: Source::Ws, data: text, recv: RecvTime::default() }, &mut events);
        events.clear();
    }
    for slot in 0..feed.slots() {
        if let Some(book) = feed.book(slot) {
            let _ = perpspread_okx::checksum::book_checksum(&book.book, &mut String::new());
        }
    }
}

/// A sequence of Binance frames where every third one is a REST depth snapshot.
pub fn binance_frames(data: &[u8]) {
    let mut feed = BinanceFeed::default();
    let mut events = Vec::new();
    for (i, text) in frames(data).enumerate() {
        let source =
            if i % 3 == 2 { Source::Rest { url: "/fapi/v1/depth?symbol=BTCUSDT&limit=1000" } } else { Source::Ws };
        let _ = feed.on_frame(Frame { source, data: text, recv: RecvTime::default() }, &mut events);
        events.clear();
    }
}

/// A sequence of Bybit WebSocket frames (Bybit books are synced from the stream's own snapshots).
pub fn bybit_frames(data: &[u8]) {
    let mut feed = BybitFeed::default();
    let mut events = Vec::new();
    for text in frames(data) {
        let _ = feed.on_frame(Frame { source: Source::Ws, data: text, recv: RecvTime::default() }, &mut events);
        events.clear();
    }
}

/// Every REST body parser of every venue.
pub fn rest_bodies(data: &[u8]) {
    let instrument = testkit::okx_linear("BTC").build();
    let _ = perpspread_okx::symbols::parse_instruments(data);
    let _ = perpspread_okx::rest::parse_book(data, &instrument, 400);
    let _ = perpspread_okx::rest::parse_activity(data);
    let _ = perpspread_okx::rest::parse_funding(data);
    let _ = perpspread_okx::account::parse_trade_fee(data);
    let _ = perpspread_okx::rest::classify(429, data);
    let _ = perpspread_binance::symbols::parse_exchange_info(data);
    let _ = perpspread_binance::rest::parse_depth(data, &instrument, 1000);
    let _ = perpspread_binance::rest::parse_activity(data);
    let _ = perpspread_binance::rest::parse_premium_index(data);
    let _ = perpspread_binance::account::parse_commission(data);
    let _ = perpspread_binance::rest::classify(400, data);
    let _ = perpspread_bybit::symbols::parse_instruments_page(data);
    let _ = perpspread_bybit::rest::parse_book(data, &instrument, 50);
    let _ = perpspread_bybit::rest::parse_activity(data);
    let _ = perpspread_bybit::rest::parse_funding(data);
    let _ = perpspread_bybit::rest::parse_funding_history(data);
    let _ = perpspread_bybit::account::parse_fee_rates(data);
    let _ = perpspread_bybit::rest::classify(403, data);
}

/// Capture lines, and the same bytes read as a zstd capture.
pub fn capture_bytes(data: &[u8]) {
    let mut record = Record::default();
    if let Ok(text) = std::str::from_utf8(data) {
        for line in text.lines() {
            let _ = parse_line(line, &mut record);
        }
    }
    let Ok(decoder) = perpspread_capture::zstd_reader(data) else {
        return;
    };
    let mut reader = CaptureReader::from_reader(decoder, "fuzz".into());
    for _ in 0..10_000 {
        if !matches!(reader.next_into(&mut record), Ok(true)) {
            break;
        }
    }
}

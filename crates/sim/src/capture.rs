//! Fast generation of capture-format-v1 files (see `fixtures/README.md`) from the market model, for
//! replay tests and benchmarks without any socket.
//!
//! The file is self-contained: it starts with every venue's instrument list (REST records) and each OKX
//! book's 400-level `books` snapshot, then streams one OKX `books` update and one Binance combined
//! `@depth@100ms` diff event per instrument per model step, plus a Binance `@bookTicker` event whenever a
//! step moved that book's best bid or offer (when enabled). Each Binance `/fapi/v1/depth` snapshot is
//! recorded right after the first diff event, so its `lastUpdateId` equals that event's `u` and the
//! documented bridging rule (`U <= lastUpdateId <= u`) holds.
//!
//! The model step sets the message mix: the default 100 ms step moves prices far enough between updates
//! that about one update in eight re-prices a whole side (100+ levels); a 10 ms step gives the mix seen on
//! liquid perpetuals, mostly 1–20 changed levels per update.

use perpspread_capture::{CaptureWriter, RecordRef, Rotation, Src};
use std::path::Path;

use perpspread_core::{Side, Venue};

use crate::binance::rest::{depth_body, exchange_info_body};
use crate::binance::ws::{book_ticker_event, diff_event, mark_price_event};
use crate::bybit::rest::instruments_body as bybit_instruments_body;
use crate::bybit::ws::{snapshot_frame as bybit_snapshot, step_delta_frame as bybit_delta};
use crate::config::SimConfig;
use crate::model::{BookDelta, Market};
use crate::okx::rest::instruments_body;
use crate::okx::ws::{funding_frame, snapshot_frame, update_frame};
use crate::SimError;

/// Exchange time of the first generated record, Unix ms.
const EPOCH_MS: u64 = 1_700_000_000_000;

/// What [`generate_capture`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureStats {
    /// Lines written (REST and WebSocket records).
    pub records: u64,
    /// Model steps simulated.
    pub steps: u64,
    pub bytes: u64,
    /// Incremental book updates written (OKX `books` updates and Binance diff events).
    pub book_updates: u64,
    /// Changed levels in those updates, both sides.
    pub changed_levels: u64,
}

impl CaptureStats {
    /// Mean changed levels per incremental book update.
    pub fn mean_changed_levels(&self) -> f64 {
        self.changed_levels as f64 / self.book_updates.max(1) as f64
    }
}

/// What [`generate_capture`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureOptions {
    /// Records to write (REST and WebSocket).
    pub messages: u64,
    /// Cross-listed pairs of the default universe to include (at least one).
    pub instruments: usize,
    /// Seed of the market model.
    pub seed: u64,
    /// Model step, ms: one book update per venue and instrument per step.
    pub tick_ms: u64,
    /// Also write Binance `@bookTicker` events when a step moves the best bid or offer.
    pub book_ticker: bool,
    /// Write each instrument's funding (OKX `funding-rate`, Binance `@markPrice@1s`) every this many steps.
    pub funding_every_steps: Option<u64>,
    /// Funding time runs this many times faster than exchange time (see `SimConfig::funding_clock_speed`), so
    /// a short capture crosses settlements.
    pub funding_clock_speed: u64,
    /// Also write Bybit: its instrument pages, each book's `orderbook.1000` snapshot and one delta per step.
    pub bybit: bool,
}

impl Default for CaptureOptions {
    fn default() -> Self {
        CaptureOptions {
            messages: 100_000,
            instruments: 5,
            seed: 1,
            tick_ms: 100,
            book_ticker: false,
            funding_every_steps: None,
            funding_clock_speed: 1,
            bybit: false,
        }
    }
}

/// Writes a capture of the default universe's market model as described by `options`.
pub fn generate_capture(path: &Path, options: &CaptureOptions) -> Result<CaptureStats, SimError> {
    let mut config = SimConfig {
        seed: options.seed,
        tick_ms: options.tick_ms,
        funding_clock_speed: options.funding_clock_speed,
        ..SimConfig::default()
    };
    config.pairs.retain(|p| p.is_cross_listed());
    config.pairs.truncate(options.instruments.max(1));
    let mut market = Market::new(&config, EPOCH_MS)?;
    let capture = |e: perpspread_capture::CaptureError| SimError::Capture(e.to_string());
    let mut writer = Writer {
        out: CaptureWriter::create_or_replace(path, Rotation::default()).map_err(capture)?,
        limit: options.messages,
        error: None,
        book_updates: 0,
        changed_levels: 0,
    };
    let mut ts_ns = EPOCH_MS * 1_000_000;
    writer.record(&mut ts_ns, Venue::Okx, Some("/api/v5/public/instruments?instType=SWAP"), &instruments_body(&market));
    writer.record(&mut ts_ns, Venue::Binance, Some("/fapi/v1/exchangeInfo"), &exchange_info_body(&market, 2400));
    // Every venue's list before any stream, as `record` writes them: replay pairs the venues listed by the
    // first frame.
    if options.bybit {
        let url = "/v5/market/instruments-info?category=linear&limit=1000";
        writer.record(&mut ts_ns, Venue::Bybit, Some(url), &bybit_instruments_body(&market));
    }
    let mut scratch = String::new();
    let mut frame = String::new();
    for book in market.books(Venue::Okx) {
        let checksum = perpspread_okx::checksum::book_checksum(&book.book, &mut scratch);
        writer.record(&mut ts_ns, Venue::Okx, None, &snapshot_frame(book, market.now_ms(), checksum));
    }
    if options.bybit {
        for book in market.books(Venue::Bybit) {
            let topic = format!("orderbook.1000.{}", book.meta.symbol());
            writer.record(
                &mut ts_ns,
                Venue::Bybit,
                None,
                &bybit_snapshot(&topic, book, 1000, book.seq, market.now_ms()),
            );
        }
    }
    let mut steps = 0;
    while !writer.full() {
        market.step();
        steps += 1;
        ts_ns = ts_ns.max((market.now_ms() + 5) * 1_000_000);
        for book in market.books(Venue::Okx) {
            let checksum = perpspread_okx::checksum::book_checksum(&book.book, &mut scratch);
            let delta = book.delta(Some(checksum));
            if writer.record(&mut ts_ns, Venue::Okx, None, &update_frame(&delta, market.now_ms(), false)) {
                writer.count_update(&delta);
            }
        }
        for book in market.books(Venue::Binance) {
            let delta = book.delta(None);
            if delta.changes.is_empty() {
                continue;
            }
            binance_frame(&mut frame, &delta, market.now_ms());
            if writer.record(&mut ts_ns, Venue::Binance, None, &frame) {
                writer.count_update(&delta);
            }
            if options.book_ticker && top_moved(&delta) {
                book_ticker_frame(&mut frame, &delta, market.now_ms());
                writer.record(&mut ts_ns, Venue::Binance, None, &frame);
            }
        }
        if options.bybit {
            for book in market.books(Venue::Bybit) {
                let delta = book.delta(None);
                if delta.changes.is_empty() {
                    continue;
                }
                let topic = format!("orderbook.1000.{}", delta.meta.symbol());
                if writer.record(&mut ts_ns, Venue::Bybit, None, &bybit_delta(&topic, &delta, market.now_ms())) {
                    writer.count_update(&delta);
                }
            }
        }
        if options.funding_every_steps.is_some_and(|every| steps % every.max(1) == 1 % every.max(1)) {
            let bybit = options.bybit.then_some(if steps == 1 { "snapshot" } else { "delta" });
            write_funding(&mut writer, &mut ts_ns, &market, &mut frame, bybit);
        }
        if steps == 1 {
            for book in market.books(Venue::Binance) {
                let url = format!("/fapi/v1/depth?symbol={}&limit=1000", book.meta.symbol());
                writer.record(&mut ts_ns, Venue::Binance, Some(&url), &depth_body(book, market.now_ms(), 1000));
            }
        }
    }
    if let Some(e) = writer.error.take() {
        return Err(capture(e));
    }
    let (records, bytes) = (writer.out.records(), writer.out.total_bytes());
    writer.out.finish().map_err(capture)?;
    let (book_updates, changed_levels) = (writer.book_updates, writer.changed_levels);
    Ok(CaptureStats { records, steps, bytes, book_updates, changed_levels })
}

/// Every instrument's funding push on every venue of the capture (Bybit's `tickers` only with `bybit`: a
/// snapshot the first time, then the funding fields as deltas).
fn write_funding(writer: &mut Writer, ts_ns: &mut u64, market: &Market, frame: &mut String, bybit: Option<&str>) {
    for pair in market.pairs() {
        if let Some(book) = &pair.okx {
            writer.record(ts_ns, Venue::Okx, None, &funding_frame(market, pair, book));
        }
        if let Some(event) = pair.binance.as_ref().and_then(|b| mark_price_event(market, b.meta.symbol())) {
            let symbol = pair.binance.as_ref().map(|b| b.meta.symbol().to_ascii_lowercase()).unwrap_or_default();
            frame.clear();
            frame.push_str(&format!(r#"{{"stream":"{symbol}@markPrice@1s","data":{event}}}"#));
            writer.record(ts_ns, Venue::Binance, None, frame);
        }
        let bybit_ticker = bybit
            .zip(pair.bybit.as_ref())
            .and_then(|(kind, book)| crate::bybit::ws::ticker_frame(market, book.meta.symbol(), kind));
        if let Some(ticker) = bybit_ticker {
            writer.record(ts_ns, Venue::Bybit, None, &ticker);
        }
    }
}

/// A combined-stream `@depth@100ms` frame for one step's delta.
fn binance_frame(out: &mut String, delta: &BookDelta, now: u64) {
    let changes: Vec<((u8, i64), i64)> =
        delta.changes.iter().map(|c| ((u8::from(c.side == Side::Ask), c.price), c.qty)).collect();
    let event = diff_event(&delta.meta, (delta.prev_seq + 1, delta.seq, delta.prev_seq), &changes, now);
    combined(out, delta, "depth@100ms", &event);
}

/// Whether a step changed a level at or better than the new best bid or offer.
fn top_moved(delta: &BookDelta) -> bool {
    let best = |levels: &[perpspread_core::Level]| levels.first().map(|l| l.price);
    let (bid, ask) = (best(&delta.bids), best(&delta.asks));
    delta.changes.iter().any(|c| match c.side {
        Side::Bid => bid.is_none_or(|b| c.price >= b),
        Side::Ask => ask.is_none_or(|a| c.price <= a),
    })
}

/// A combined-stream `@bookTicker` frame with the best bid and offer after the step.
fn book_ticker_frame(out: &mut String, delta: &BookDelta, now: u64) {
    if let (Some(bid), Some(ask)) = (delta.bids.first(), delta.asks.first()) {
        let event = book_ticker_event(&delta.meta, delta.seq, *bid, *ask, now);
        combined(out, delta, "bookTicker", &event);
    }
}

/// Wraps an event as Binance's combined stream `{"stream":"<symbol>@<kind>","data":…}`.
fn combined(out: &mut String, delta: &BookDelta, kind: &str, event: &str) {
    out.clear();
    out.push_str(r#"{"stream":""#);
    out.extend(delta.meta.symbol().chars().map(|c| c.to_ascii_lowercase()));
    out.push('@');
    out.push_str(kind);
    out.push_str(r#"","data":"#);
    out.push_str(event);
    out.push('}');
}

/// Writes records through the shared capture writer (plain or zstd by extension) up to a limit.
struct Writer {
    out: CaptureWriter,
    limit: u64,
    /// The first write error; writing stops there.
    error: Option<perpspread_capture::CaptureError>,
    book_updates: u64,
    changed_levels: u64,
}

impl Writer {
    fn full(&self) -> bool {
        self.out.records() >= self.limit || self.error.is_some()
    }

    /// Writes one record (REST when `url` is given) if the limit is not reached, advancing `ts_ns` by 1 µs;
    /// returns whether it was written.
    fn record(&mut self, ts_ns: &mut u64, venue: Venue, url: Option<&str>, data: &str) -> bool {
        if self.full() {
            return false;
        }
        let src = if url.is_some() { Src::Rest } else { Src::Ws };
        let record = RecordRef { ts_ns: *ts_ns, venue: venue.as_str(), src, url, data };
        if let Err(e) = self.out.write(record) {
            self.error = Some(e);
        }
        *ts_ns += 1_000;
        self.error.is_none()
    }

    fn count_update(&mut self, delta: &BookDelta) {
        self.book_updates += 1;
        self.changed_levels += delta.changes.len() as u64;
    }
}

//! Deterministic replay of a capture through the same parsers, books and checks as the live path.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use perpspread_capture::{CaptureError, CaptureReader, Record, Src};
use perpspread_core::feed::{Frame, RecvTime, Source};
use perpspread_core::{BookState, Venue, VenueMap};
use serde::Serialize;

use perpspread_core::engine::{Engine, EngineConfig, EventKind, OpportunityEvent};
use perpspread_core::Universe;
use perpspread_net::Listing;

use crate::pipeline::{Pipeline, PipelineStats};
use crate::signals::Signals;

/// Slowest and fastest paced replay (slower would take days for a minute of capture; faster is `max`).
const MIN_SPEED: f64 = 0.01;
const MAX_SPEED: f64 = 10_000.0;

/// How fast to replay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// As fast as possible.
    Max,
    /// Recorded pace multiplied by the factor (1.0 = real time).
    Factor(f64),
}

impl std::str::FromStr for Speed {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.eq_ignore_ascii_case("max") {
            return Ok(Speed::Max);
        }
        let factor = text
            .strip_suffix(['x', 'X'])
            .and_then(|f| f.parse::<f64>().ok())
            .filter(|f| (MIN_SPEED..=MAX_SPEED).contains(f))
            .ok_or_else(|| {
                format!("invalid speed {text:?}: use max, or a factor from 0.01x to 10000x (1x, 10x, 0.5x …)")
            })?;
        Ok(Speed::Factor(factor))
    }
}

/// Final state of one book after a replay.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BookReport {
    pub venue: Venue,
    pub instrument: String,
    pub updates_applied: u64,
    pub checksums_verified: u64,
    /// Book messages with a checksum of 0 (not sent: the sequence chain alone protected the book).
    pub checksums_absent: u64,
    pub checksum_failures: u64,
    pub sequence_gaps: u64,
    pub resyncs: u64,
    pub state: BookState,
    /// Best prices as the venue wrote them.
    pub best_bid: Option<String>,
    pub best_ask: Option<String>,
}

/// What a replay found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayReport {
    pub books: Vec<BookReport>,
    /// Pipeline counters, flattened into the report (`messages`, `malformed`, …).
    #[serde(flatten)]
    pub stats: PipelineStats,
    /// Records whose venue is none perpspread reads.
    pub unknown_venue: u64,
    /// Set when the capture ended with an unreadable (e.g. truncated) line.
    pub error: Option<String>,
    /// The capture merely ends in the middle of a record (a recording that was killed): everything before the
    /// cut was replayed, and nothing is damaged.
    pub cut_short: bool,
    /// With the engine: pairs found in the capture's instrument lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pairs: Option<usize>,
    /// With the engine: those pairs.
    #[serde(skip)]
    pub pair_list: Vec<perpspread_core::Pair>,
    /// With the engine: opportunities opened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opportunities_opened: Option<u64>,
    /// With the engine: every opportunity, as its `closed` event (full lifecycle), in closing order;
    /// those still open at the end of the capture close with reason `shutdown`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opportunities: Option<Vec<OpportunityEvent>>,
}

impl ReplayReport {
    /// Whether the capture held no record at all (and was not cut short by damage).
    pub fn is_empty(&self) -> bool {
        self.stats.messages == 0 && self.unknown_venue == 0 && self.error.is_none()
    }
}

/// What to do besides rebuilding books.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub speed: Speed,
    /// Run the spread engine on the pairs found in the capture's instrument lists.
    pub engine: Option<EngineConfig>,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions { speed: Speed::Max, engine: None }
    }
}

/// What [`replay_with`]'s observer sees after each frame.
#[derive(Clone, Copy)]
pub struct ReplayStep<'a> {
    pub pipeline: &'a Pipeline,
    /// The venue of the frame.
    pub venue: Venue,
    /// The frame's recorded receive time (the replay's clock).
    pub recv: RecvTime,
    /// The spread engine after this frame: `None` until the capture's instrument lists gave pairs, or
    /// without `options.engine`.
    pub engine: Option<&'a Engine>,
    /// Pairs the engine evaluated on this frame.
    pub evaluated: &'a [usize],
    /// Opportunity events this frame caused (opened, updated, closed).
    pub events: &'a [OpportunityEvent],
}

/// Replays one recording (a capture file, or the parts a rotated recording was written to, in order; see
/// [`perpspread_capture::group_parts`]) through a fresh [`Pipeline`] (and, with `options.engine`, the spread
/// engine on the pairs listed in the capture's instrument lists), with the recorded receive times as the clock.
pub fn replay(parts: &[PathBuf], options: &ReplayOptions) -> Result<ReplayReport, CaptureError> {
    replay_with(parts, options, |_| {}).map(|(report, _)| report)
}

/// Like [`replay`], calling `observe` after every frame (with `pipeline.last_events()` current, and the
/// engine's state and events of that frame) and also returning the final pipeline.
pub fn replay_with(
    parts: &[PathBuf],
    options: &ReplayOptions,
    mut observe: impl FnMut(&ReplayStep<'_>),
) -> Result<(ReplayReport, Pipeline), CaptureError> {
    let mut reader = CaptureReader::open_parts(parts)?;
    let mut pipeline = Pipeline::new();
    let mut record = Record::default();
    let mut unknown_venue = 0;
    let mut pace = Pace::new(options.speed);
    let mut records = 0u64;
    let mut universe = UniverseBuilder::default();
    let mut signals: Option<Signals> = None;
    let mut events = Vec::new();
    let mut closed = Vec::new();
    let mut last_ns = 0;
    let mut cut_short = false;
    let error = loop {
        match reader.next_into(&mut record) {
            Ok(true) => records += 1,
            Ok(false) => break None,
            // A damaged tail (e.g. a truncated file) keeps what was replayed; a file that is not a
            // capture at all is an error.
            Err(error) if records > 0 => {
                cut_short = error.is_cut_short();
                break Some(error.to_string());
            }
            Err(error) => return Err(error),
        }
        let Ok(venue) = record.venue.parse::<Venue>() else {
            unknown_venue += 1;
            continue;
        };
        pace.wait_until(record.ts_ns);
        last_ns = record.ts_ns;
        // Every venue's instrument list is recorded before its streams: the engine starts with the first
        // record that is not one, over every venue listed by then.
        let listing = record.src == Src::Rest && universe.offer(venue, &record.url, &record.data);
        if let (false, Some(config), None) = (listing, &options.engine, &signals) {
            if let Some(pairs) = universe.pairs() {
                signals = Some(Signals::new(Engine::new(config.clone(), pairs)));
            }
        }
        let frame = frame_of(&record);
        let recv = frame.recv;
        if let Err(error) = pipeline.on_frame(venue, frame) {
            tracing::debug!(%venue, line = reader.line_number(), "frame not used: {error}");
        }
        if let Some(signals) = signals.as_mut() {
            signals.on_events(&pipeline, venue, pipeline.last_events(), recv, &mut events);
        }
        observe(&ReplayStep {
            pipeline: &pipeline,
            venue,
            recv,
            engine: signals.as_ref().map(|s| &s.engine),
            evaluated: signals.as_ref().map_or(&[], |s| s.touched()),
            events: &events,
        });
        closed.extend(events.drain(..).filter(|e| e.event == EventKind::Closed));
    };
    let mut report = report(&pipeline, unknown_venue, error);
    report.cut_short = cut_short;
    if let Some(mut signals) = signals {
        signals.engine.shutdown(last_ns, &mut events);
        closed.extend(events.drain(..).filter(|e| e.event == EventKind::Closed));
        report.pairs = Some(signals.engine.pairs().len());
        report.pair_list = signals.engine.pairs().to_vec();
        report.opportunities_opened = Some(signals.engine.stats().opened);
        report.opportunities = Some(closed);
    }
    Ok((report, pipeline))
}

/// A record as the frame a feed would have received, at its recorded receive time.
pub(crate) fn frame_of(record: &Record) -> Frame<'_> {
    let source = match record.src {
        Src::Ws => Source::Ws,
        Src::Rest => Source::Rest { url: &record.url },
    };
    Frame { source, data: &record.data, recv: RecvTime { wall_ns: record.ts_ns, mono_ns: record.ts_ns } }
}

/// Collects the venues' instrument lists from REST records (each venue's adapter recognises its own).
#[derive(Debug, Default)]
pub(crate) struct UniverseBuilder {
    listings: VenueMap<Option<Listing>>,
}

impl UniverseBuilder {
    /// Takes a REST record; returns whether it was (a page of) a venue's instrument list. Pages add up (Bybit
    /// lists in pages); an instrument listed again replaces its earlier entry.
    pub(crate) fn offer(&mut self, venue: Venue, url: &str, body: &str) -> bool {
        match perpspread_venues::adapter(venue).parse_listing(url, body.as_bytes()) {
            Some(Ok(page)) => {
                let listing = self.listings[venue].get_or_insert_with(Listing::default);
                for instrument in page.instruments {
                    listing.instruments.retain(|known| known.symbol != instrument.symbol);
                    listing.instruments.push(instrument);
                }
                true
            }
            Some(Err(error)) => {
                tracing::warn!(%venue, url, "instrument list not readable: {error}");
                true
            }
            None => false,
        }
    }

    /// The paired universe, once at least two venues' lists have been seen.
    pub(crate) fn pairs(&self) -> Option<Vec<perpspread_core::Pair>> {
        // Asked on every record until the engine starts: no allocation while fewer than two venues listed.
        if self.listings.iter().flatten().count() < 2 {
            return None;
        }
        let instruments = self.listings.iter().flatten().flat_map(|l| l.instruments.iter().cloned()).collect();
        Some(Universe::build(instruments, Vec::new()).pairs)
    }
}

fn report(pipeline: &Pipeline, unknown_venue: u64, error: Option<String>) -> ReplayReport {
    let mut books = Vec::new();
    for venue in Venue::ALL {
        let feed = pipeline.feed(venue);
        for slot in 0..feed.slots() {
            let (Some(symbol), Some(tracked)) = (feed.symbol(slot), feed.book(slot)) else {
                continue;
            };
            let book = &tracked.book;
            let best = |level: Option<perpspread_core::Level>| level.map(|l| book.price_of(&l).to_string());
            books.push(BookReport {
                venue,
                instrument: symbol.to_owned(),
                updates_applied: tracked.stats.updates_applied,
                checksums_verified: tracked.stats.checksums_verified,
                checksums_absent: tracked.stats.checksums_absent,
                checksum_failures: tracked.stats.checksum_failures,
                sequence_gaps: tracked.stats.sequence_gaps,
                resyncs: tracked.stats.resyncs,
                state: tracked.state,
                best_bid: best(book.best_bid()),
                best_ask: best(book.best_ask()),
            });
        }
    }
    let stats = pipeline.stats();
    ReplayReport {
        books,
        stats,
        unknown_venue,
        error,
        cut_short: false,
        pairs: None,
        pair_list: Vec::new(),
        opportunities_opened: None,
        opportunities: None,
    }
}

/// Sleeps so that records are handed over at the recorded pace (scaled).
struct Pace {
    speed: Speed,
    start: Option<(u64, Instant)>,
}

impl Pace {
    fn new(speed: Speed) -> Self {
        Pace { speed, start: None }
    }

    fn wait_until(&mut self, ts_ns: u64) {
        let Speed::Factor(factor) = self.speed else {
            return;
        };
        let (first_ts, started) = *self.start.get_or_insert((ts_ns, Instant::now()));
        let due = Duration::from_nanos(ts_ns.saturating_sub(first_ts)).div_f64(factor);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
    }
}

#[cfg(test)]
mod universe_tests {
    use super::*;

    fn bybit_page(symbols: &[&str], next: &str) -> String {
        let list: Vec<String> = symbols
            .iter()
            .map(|s| {
                let base = s.trim_end_matches("USDT");
                format!(
                    r#"{{"symbol":"{s}","contractType":"LinearPerpetual","status":"Trading","baseCoin":"{base}","quoteCoin":"USDT","settleCoin":"USDT","priceFilter":{{"tickSize":"0.1"}},"lotSizeFilter":{{"qtyStep":"0.001","minOrderQty":"0.001"}}}}"#
                )
            })
            .collect();
        format!(
            r#"{{"retCode":0,"retMsg":"OK","result":{{"category":"linear","list":[{}],"nextPageCursor":"{next}"}}}}"#,
            list.join(",")
        )
    }

    /// Bybit's instruments come in pages, each recorded as its own REST response: a capture's universe is every
    /// page's instruments together.
    #[test]
    fn listing_pages_add_up() {
        let mut builder = UniverseBuilder::default();
        let okx = include_str!("../../../fixtures/real/okx_instruments_swap_2022-05-13.json");
        assert!(builder.offer(Venue::Okx, "/api/v5/public/instruments?instType=SWAP", okx));
        assert!(builder.offer(
            Venue::Bybit,
            "/v5/market/instruments-info?category=linear&limit=1000",
            &bybit_page(&["BTCUSDT"], "next%3D1")
        ));
        assert!(builder.offer(
            Venue::Bybit,
            "/v5/market/instruments-info?category=linear&limit=1000&cursor=next%3D1",
            &bybit_page(&["ETHUSDT", "BTCUSDT"], "")
        ));
        assert!(!builder.offer(Venue::Bybit, "/v5/market/orderbook?category=linear&symbol=BTCUSDT", "{}"));
        let pairs = builder.pairs().unwrap();
        let bybit: Vec<&str> =
            pairs.iter().flat_map(|p| &p.legs).filter(|l| l.venue == Venue::Bybit).map(|l| l.symbol.as_str()).collect();
        assert_eq!(bybit, ["BTCUSDT", "ETHUSDT"], "both pages, BTCUSDT once");
    }
}

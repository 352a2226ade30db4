//! Binance USDⓈ-M feed handler (sans-IO): local books per "How to manage a local order book correctly".
//!
//! 1. Buffer `<symbol>@depth` events and ask for a REST snapshot (`/fapi/v1/depth?limit=1000`).
//! 2. Drop buffered events with `u < lastUpdateId`.
//! 3. The first applied event must have `U <= lastUpdateId <= u`; otherwise the snapshot is too old.
//! 4. Each later event's `pu` must equal the previous event's `u`; otherwise resync the symbol.
//!
//! While a symbol waits for a snapshot its events keep being buffered, so nothing is lost once the
//! snapshot lands. Partial-depth streams (`@depth5/10/20`) are complete snapshots each time.

use std::borrow::Cow;

use perpspread_core::feed::{
    BookSlots, Feed, FeedEvent, Frame, FrameError, HasBook, ResyncReason, Slots, Source, TrackedBook,
};
use perpspread_core::wire::{JsonCursor, JsonError, RawLevel};
use perpspread_core::{BookState, OrderBook, Venue};
use serde::Deserialize;

/// Levels per side kept by default (the largest REST snapshot).
pub(crate) const DEFAULT_DEPTH: usize = 1000;

/// Event types of Binance USDⓈ-M market streams that perpspread reads or deliberately ignores.
const KNOWN_EVENTS: [&str; 10] = [
    "bookTicker",
    "markPriceUpdate",
    "aggTrade",
    "trade",
    "kline",
    "24hrTicker",
    "24hrMiniTicker",
    "forceOrder",
    "continuous_kline",
    "compositeIndex",
];

/// Most events buffered per symbol while waiting for a snapshot.
const MAX_BUFFERED: usize = 20_000;

/// Where a symbol's book stands in the snapshot/diff protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sync {
    /// Buffering events until a REST snapshot arrives.
    AwaitingSnapshot,
    /// Snapshot loaded; the next event must straddle `last_update_id`.
    Bridging { last_update_id: u64 },
    /// In sequence; the next event's `pu` must equal `last_u`.
    Live { last_u: u64 },
}

/// A depth event kept while waiting for a snapshot.
#[derive(Debug, Clone)]
struct Buffered {
    header: DepthHeader,
    bids: Vec<RawLevel>,
    asks: Vec<RawLevel>,
}

#[derive(Debug, Clone)]
struct SymbolBook {
    tracked: TrackedBook,
    sync: Sync,
    buffer: Vec<Buffered>,
    snapshot_requested: bool,
}

impl HasBook for SymbolBook {
    fn tracked(&self) -> &TrackedBook {
        &self.tracked
    }
}

/// Header fields of a depth event or snapshot.
#[derive(Debug, Clone, Copy, Default)]
struct DepthHeader {
    event: Option<DepthKind>,
    event_ms: Option<u64>,
    first_id: Option<u64>,
    last_id: Option<u64>,
    prev_last_id: Option<u64>,
    last_update_id: Option<u64>,
    has_symbol: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DepthKind {
    Depth,
    Other,
}

/// Feed handler for Binance USDⓈ-M streams.
#[derive(Debug)]
pub struct BinanceFeed {
    books: Slots<SymbolBook>,
    depth: usize,
    bids: Vec<RawLevel>,
    asks: Vec<RawLevel>,
    /// Symbol of the last decoded depth object (reused buffer).
    symbol: String,
}

impl Default for BinanceFeed {
    fn default() -> Self {
        Self::new(DEFAULT_DEPTH)
    }
}

/// The top level of a Binance frame: a combined-stream envelope, a raw event, or a reply.
#[derive(Debug, Default)]
struct Envelope<'a> {
    stream: Option<Cow<'a, str>>,
    /// `data`, when it was not decoded in the same pass.
    data: Option<&'a str>,
    /// A depth object decoded in the same pass (combined stream named before its `data`).
    depth: Option<DepthHeader>,
    /// `data` of a stream perpspread does not read, validated and skipped.
    ignored: bool,
    e: Option<Cow<'a, str>>,
    error: Option<&'a str>,
    result: bool,
    id: bool,
    s: Option<Cow<'a, str>>,
}

/// Reads a whole Binance WebSocket frame; a depth event in a combined stream is decoded on the way.
fn parse_envelope<'a>(text: &'a str, out: &mut Envelope<'a>, scratch: &mut DepthScratch<'_>) -> Result<(), JsonError> {
    let mut cursor = JsonCursor::new(text);
    cursor.object(|cursor, key| {
        match key {
            "stream" => out.stream = Some(cursor.string()?),
            "data" => match out.stream.as_deref().map(stream_kind) {
                Some(StreamKind::Diff | StreamKind::Partial) => out.depth = Some(parse_depth(cursor, scratch)?),
                Some(StreamKind::Other) => {
                    cursor.skip()?;
                    out.ignored = true;
                }
                _ => out.data = Some(cursor.raw()?),
            },
            "e" => out.e = Some(cursor.string()?),
            "error" => out.error = Some(cursor.raw()?).filter(|raw| *raw != "null"),
            "result" => out.result = cursor.raw()? != "null",
            "id" => out.id = cursor.raw()? != "null",
            "s" => out.s = Some(cursor.string()?),
            _ => cursor.skip()?,
        }
        Ok(())
    })?;
    cursor.end()
}

/// Where a depth object's levels and symbol are decoded to.
struct DepthScratch<'s> {
    bids: &'s mut Vec<RawLevel>,
    asks: &'s mut Vec<RawLevel>,
    symbol: &'s mut String,
}

/// Reads a depth event (`e, E, s, U, u, pu, b, a`) or REST snapshot (`lastUpdateId, E, bids, asks`).
fn parse_depth(cursor: &mut JsonCursor<'_>, scratch: &mut DepthScratch<'_>) -> Result<DepthHeader, JsonError> {
    let mut header = DepthHeader::default();
    scratch.bids.clear();
    scratch.asks.clear();
    cursor.object(|cursor, key| {
        match key {
            "b" | "bids" => cursor.levels(scratch.bids)?,
            "a" | "asks" => cursor.levels(scratch.asks)?,
            "e" => {
                let kind = cursor.string()?;
                header.event = Some(if kind == "depthUpdate" { DepthKind::Depth } else { DepthKind::Other });
            }
            "E" => header.event_ms = Some(cursor.u64()?),
            "U" => header.first_id = Some(cursor.u64()?),
            "u" => header.last_id = Some(cursor.u64()?),
            "pu" => header.prev_last_id = Some(cursor.u64()?),
            "lastUpdateId" => header.last_update_id = Some(cursor.u64()?),
            "s" => {
                let symbol = cursor.string()?;
                scratch.symbol.clear();
                scratch.symbol.push_str(&symbol);
                header.has_symbol = true;
            }
            _ => cursor.skip()?,
        }
        Ok(())
    })?;
    Ok(header)
}

impl BinanceFeed {
    /// A handler keeping up to `depth` levels per side.
    pub fn new(depth: usize) -> Self {
        BinanceFeed {
            books: Slots::default(),
            depth,
            bids: Vec::with_capacity(DEFAULT_DEPTH),
            asks: Vec::with_capacity(DEFAULT_DEPTH),
            symbol: String::new(),
        }
    }

    fn on_ws(&mut self, frame: Frame<'_>, events: &mut Vec<FeedEvent>) -> Result<(), FrameError> {
        let mut envelope = Envelope::default();
        parse_envelope(frame.data, &mut envelope, &mut self.scratch())
            .map_err(|e| FrameError::Malformed(e.to_string()))?;
        if let Some(error) = envelope.error {
            events.push(FeedEvent::SubscriptionRefused { slot: None });
            return Err(FrameError::Venue { code: "error".into(), message: error.to_owned() });
        }
        let has_data = envelope.data.is_some() || envelope.depth.is_some() || envelope.ignored;
        if envelope.result || (envelope.id && !has_data && envelope.e.is_none()) {
            return Ok(()); // reply to SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS
        }
        if envelope.ignored {
            return Ok(());
        }
        let stream = envelope.stream.as_deref().filter(|_| has_data);
        let kind = match (stream, envelope.e.as_deref()) {
            (Some(stream), _) => stream_kind(stream),
            (None, Some("depthUpdate")) => StreamKind::Diff,
            (None, Some("markPriceUpdate")) => StreamKind::MarkPrice,
            (None, Some(event)) if KNOWN_EVENTS.contains(&event) => StreamKind::Other,
            (None, Some(event)) => return Err(FrameError::Unknown(format!("event {event}"))),
            (None, None) => return Err(FrameError::unknown_frame(frame.data)),
        };
        let body = envelope.data.unwrap_or(frame.data);
        match kind {
            StreamKind::Diff | StreamKind::Partial => {
                let header = match envelope.depth {
                    Some(header) => header,
                    None => self.decode(body)?,
                };
                self.on_depth(header, kind == StreamKind::Partial, envelope.s.as_deref(), frame, events)
            }
            StreamKind::MarkPrice => self.on_mark_price(body, events),
            StreamKind::Other => Ok(()),
            StreamKind::Unknown => Err(FrameError::Unknown(format!("stream {}", stream.unwrap_or_default()))),
        }
    }

    fn scratch(&mut self) -> DepthScratch<'_> {
        DepthScratch { bids: &mut self.bids, asks: &mut self.asks, symbol: &mut self.symbol }
    }

    fn on_depth(
        &mut self,
        header: DepthHeader,
        partial: bool,
        symbol_hint: Option<&str>,
        frame: Frame<'_>,
        events: &mut Vec<FeedEvent>,
    ) -> Result<(), FrameError> {
        if header.event == Some(DepthKind::Other) {
            return Ok(());
        }
        if !header.has_symbol {
            let hint = symbol_hint.ok_or_else(|| FrameError::Malformed("depth event without symbol".into()))?;
            self.symbol.clear();
            self.symbol.push_str(hint);
        }
        let symbol = std::mem::take(&mut self.symbol);
        let slot = self.track(&symbol);
        self.symbol = symbol;
        let book = self.books.get_mut(slot).expect("slot just tracked");
        if partial {
            let outcome = load_snapshot(book, &self.bids, &self.asks).map(|()| {
                book.sync = Sync::Live { last_u: header.last_id.unwrap_or(0) };
                book.tracked.state = BookState::Live;
            });
            finish(book, slot, outcome.map(|()| true), header, frame, events);
            return Ok(());
        }
        if header.first_id.is_none() || header.last_id.is_none() {
            return Err(FrameError::Malformed("depth event without U/u".into()));
        }
        process_event(book, slot, header, &self.bids, &self.asks, frame, events);
        Ok(())
    }

    fn on_rest(
        &mut self,
        url: &str,
        body: &str,
        frame: Frame<'_>,
        events: &mut Vec<FeedEvent>,
    ) -> Result<(), FrameError> {
        if !url.starts_with("/fapi/v1/depth") {
            return Ok(());
        }
        let symbol = query_param(url, "symbol")
            .ok_or_else(|| FrameError::Malformed(format!("depth URL without symbol: {url}")))?;
        let header = self.decode(body)?;
        let last_update_id =
            header.last_update_id.ok_or_else(|| FrameError::Malformed("depth snapshot without lastUpdateId".into()))?;
        let slot = self.track(symbol);
        let book = self.books.get_mut(slot).expect("slot just tracked");
        book.snapshot_requested = false;
        if let Err(reason) = load_snapshot(book, &self.bids, &self.asks) {
            book.tracked.invalidate(reason);
            book.sync = Sync::AwaitingSnapshot;
            request_snapshot(book, slot, reason, events);
            return Ok(());
        }
        book.sync = Sync::Bridging { last_update_id };
        book.tracked.state = BookState::Syncing;
        book.tracked.exchange_ms = header.event_ms;
        book.tracked.recv = frame.recv;
        let buffered = std::mem::take(&mut book.buffer);
        for event in &buffered {
            process_event(book, slot, event.header, &event.bids, &event.asks, frame, events);
        }
        Ok(())
    }

    fn on_mark_price(&mut self, body: &str, events: &mut Vec<FeedEvent>) -> Result<(), FrameError> {
        #[derive(Deserialize)]
        struct MarkPrice<'a> {
            s: &'a str,
            #[serde(default)]
            r: &'a str,
            #[serde(rename = "T", default)]
            next_funding_ms: Option<u64>,
        }
        let msg: MarkPrice =
            serde_json::from_str(body).map_err(|e| FrameError::Malformed(format!("markPrice: {e}")))?;
        let rate = msg.r.parse::<f64>().map_err(|_| FrameError::Malformed(format!("funding rate {:?}", msg.r)))?;
        let slot = self.track(msg.s);
        events.push(FeedEvent::Funding {
            slot,
            rate,
            next_funding_ms: msg.next_funding_ms.filter(|t| *t > 0),
            interval_hours: None,
        });
        Ok(())
    }

    /// Decodes a depth object into the scratch vectors (and its symbol into `self.symbol`).
    fn decode(&mut self, body: &str) -> Result<DepthHeader, FrameError> {
        let mut cursor = JsonCursor::new(body);
        parse_depth(&mut cursor, &mut self.scratch())
            .and_then(|header| cursor.end().map(|()| header))
            .map_err(|e| FrameError::Malformed(e.to_string()))
    }
}

/// Runs one diff event through the snapshot/bridge/chain protocol.
fn process_event(
    book: &mut SymbolBook,
    slot: u32,
    header: DepthHeader,
    bids: &[RawLevel],
    asks: &[RawLevel],
    frame: Frame<'_>,
    events: &mut Vec<FeedEvent>,
) {
    let (first, last) = (header.first_id.unwrap_or(0), header.last_id.unwrap_or(0));
    let outcome = match book.sync {
        Sync::AwaitingSnapshot => {
            buffer(book, header, bids, asks);
            events.push(FeedEvent::BookBuffered { slot });
            if !book.snapshot_requested {
                book.snapshot_requested = true;
                events.push(FeedEvent::SnapshotNeeded { slot });
            }
            return;
        }
        Sync::Bridging { last_update_id } if last < last_update_id => return, // older than the snapshot
        Sync::Bridging { last_update_id } if first > last_update_id => Err(ResyncReason::SnapshotTooOld),
        Sync::Bridging { .. } => apply(book, bids, asks),
        Sync::Live { last_u } if header.prev_last_id != Some(last_u) && last <= last_u => {
            // Already applied: a duplicate or a late copy. Ignore it.
            book.tracked.stats.duplicates += 1;
            return;
        }
        Sync::Live { last_u } if header.prev_last_id != Some(last_u) => Err(ResyncReason::SequenceGap),
        Sync::Live { .. } => apply(book, bids, asks),
    };
    match outcome {
        Ok(()) => {
            book.sync = Sync::Live { last_u: last };
            book.tracked.sequence = Some(last);
            book.tracked.state = BookState::Live;
            finish(book, slot, Ok(true), header, frame, events);
        }
        Err(reason) => {
            book.tracked.invalidate(reason);
            book.sync = Sync::AwaitingSnapshot;
            // The breaking event is newer than anything applied: keep it for the next snapshot.
            buffer(book, header, bids, asks);
            request_snapshot(book, slot, reason, events);
        }
    }
}

fn request_snapshot(book: &mut SymbolBook, slot: u32, reason: ResyncReason, events: &mut Vec<FeedEvent>) {
    book.snapshot_requested = true;
    events.push(FeedEvent::Resync { slot, reason });
}

fn buffer(book: &mut SymbolBook, header: DepthHeader, bids: &[RawLevel], asks: &[RawLevel]) {
    if book.buffer.len() >= MAX_BUFFERED {
        book.buffer.remove(0);
    }
    book.buffer.push(Buffered { header, bids: bids.to_vec(), asks: asks.to_vec() });
}

fn apply(book: &mut SymbolBook, bids: &[RawLevel], asks: &[RawLevel]) -> Result<(), ResyncReason> {
    book.tracked.book.apply(bids, asks).map_err(|_| ResyncReason::BadUpdate)?;
    uncrossed(book)
}

fn load_snapshot(book: &mut SymbolBook, bids: &[RawLevel], asks: &[RawLevel]) -> Result<(), ResyncReason> {
    book.tracked.book.replace(bids, asks).map_err(|_| ResyncReason::BadUpdate)?;
    uncrossed(book)
}

fn uncrossed(book: &SymbolBook) -> Result<(), ResyncReason> {
    if book.tracked.book.is_crossed() {
        return Err(ResyncReason::Crossed);
    }
    Ok(())
}

fn finish(
    book: &mut SymbolBook,
    slot: u32,
    outcome: Result<bool, ResyncReason>,
    header: DepthHeader,
    frame: Frame<'_>,
    events: &mut Vec<FeedEvent>,
) {
    match outcome {
        Ok(true) => {
            book.tracked.stats.updates_applied += 1;
            book.tracked.exchange_ms = header.event_ms;
            book.tracked.recv = frame.recv;
            events.push(FeedEvent::BookUpdated { slot });
        }
        Ok(false) => {}
        Err(reason) => {
            book.tracked.invalidate(reason);
            book.sync = Sync::AwaitingSnapshot;
            request_snapshot(book, slot, reason, events);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamKind {
    Diff,
    Partial,
    MarkPrice,
    Other,
    Unknown,
}

/// Classifies a stream name such as `btcusdt@depth@100ms` or `btcusdt@depth5@100ms`.
fn stream_kind(stream: &str) -> StreamKind {
    let Some((_, channel)) = stream.split_once('@') else {
        return StreamKind::Unknown;
    };
    match channel.split('@').next().unwrap_or_default() {
        "depth" => StreamKind::Diff,
        "depth5" | "depth10" | "depth20" => StreamKind::Partial,
        "markPrice" => StreamKind::MarkPrice,
        "bookTicker" | "aggTrade" | "trade" | "ticker" | "miniTicker" | "forceOrder" => StreamKind::Other,
        kline if kline.starts_with("kline_") || kline.starts_with("continuousKline_") => StreamKind::Other,
        _ => StreamKind::Unknown,
    }
}

/// Value of `name` in a URL's query string.
fn query_param<'u>(url: &'u str, name: &str) -> Option<&'u str> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

impl Feed for BinanceFeed {
    fn venue(&self) -> Venue {
        Venue::Binance
    }

    /// The diff-depth chain: `U <= lastUpdateId + 1 <= u` onto the snapshot, then `pu` = the previous `u`.
    fn integrity(&self) -> String {
        "U/u/pu chain".to_owned()
    }

    fn on_frame(&mut self, frame: Frame<'_>, events: &mut Vec<FeedEvent>) -> Result<(), FrameError> {
        match frame.source {
            Source::Ws => self.on_ws(frame, events),
            Source::Rest { url } => self.on_rest(url, frame.data, frame, events),
        }
    }

    fn book_slots(&self) -> &dyn BookSlots {
        &self.books
    }

    fn track(&mut self, symbol: &str) -> u32 {
        let depth = self.depth;
        self.books.slot_or_insert(symbol, || SymbolBook {
            tracked: TrackedBook::new(OrderBook::new(0, 0, depth)),
            sync: Sync::AwaitingSnapshot,
            buffer: Vec::new(),
            snapshot_requested: false,
        })
    }

    fn invalidate(&mut self, slot: u32, reason: ResyncReason) {
        if let Some(book) = self.books.get_mut(slot) {
            book.tracked.invalidate(reason);
            book.sync = Sync::AwaitingSnapshot;
            book.buffer.clear();
            book.snapshot_requested = false;
        }
    }
}

#[cfg(test)]
mod tests;

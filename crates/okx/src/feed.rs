//! OKX public WebSocket feed handler (sans-IO): books with sequence and checksum checks.
//!
//! * `books` (and `books-l2-tbt`, `books50-l2-tbt`): a `snapshot` then `update`s. Each update's
//!   `prevSeqId` must equal the `seqId` last applied (a keep-alive repeats `seqId == prevSeqId`). A non-zero
//!   `checksum` must equal the CRC32 of the top 25 levels as received; `0` means "no checksum sent".
//! * `books5` and `bbo-tbt`: every message is a complete top-of-book snapshot.
//!
//! Any break (gap, checksum mismatch, crossed book, unusable update) invalidates only that instrument's book
//! and emits [`FeedEvent::Resync`]; the live layer answers with unsubscribe/subscribe of that one
//! instrument, which yields a new snapshot.
//!
//! Followed: OKX v5 "Order book channel" (updated 2026-09-08) and the changelog, read 2026-12-06. Since
//! 2026-06-23 the `books` checksum is always `0` (deprecated): such a book is protected by the
//! `seqId`/`prevSeqId` chain alone, and a non-zero checksum (recordings, a future change) is still verified.
//! OKX announced (changelog of 2026-02-12) that the initial WebSocket snapshot would be dropped and books
//! seeded from `GET /api/v5/market/books` instead; the docs of 2026-09-08 still show the snapshot. Both work:
//! updates that arrive without a snapshot are buffered, and once [`WS_SNAPSHOT_WAIT_NS`] has passed (at once,
//! when this feed already saw the venue send none) the feed asks for a REST snapshot
//! ([`FeedEvent::SnapshotNeeded`]) and bridges the buffer onto it as OKX's "How to manage a local order book
//! correctly" says: drop updates with `seqId <= seqId(snapshot)`, the first applied one satisfies
//! `prevSeqId <= seqId(snapshot) < seqId`, then the chain continues; a snapshot older than the buffer is
//! fetched again. A book that breaks while the venue sends no WebSocket snapshots is repaired the same way,
//! over REST, without spending subscribe requests.

use std::borrow::Cow;

use perpspread_core::feed::{
    BookSlots, Feed, FeedEvent, Frame, FrameError, HasBook, ResyncReason, Slots, Source, TrackedBook,
};
use perpspread_core::wire::{JsonCursor, JsonError, RawLevel};
use perpspread_core::{BookState, OrderBook, Venue};

use crate::checksum::ChecksumCache;

/// Levels per side OKX keeps in a `books` snapshot.
pub const BOOKS_DEPTH: usize = 400;

/// How long updates may arrive without a snapshot before a REST snapshot is asked for, ns of receive time.
pub const WS_SNAPSHOT_WAIT_NS: u64 = 2_000_000_000;

/// Most updates buffered per instrument while waiting for a snapshot.
const MAX_BUFFERED: usize = 5_000;

/// Book-keeping for one instrument.
#[derive(Debug, Clone)]
struct InstrumentBook {
    tracked: TrackedBook,
    last_seq: Option<i64>,
    checksum: ChecksumCache,
    seed: Seed,
    /// Updates received while waiting for a snapshot, in arrival order.
    buffer: std::collections::VecDeque<Buffered>,
}

impl HasBook for InstrumentBook {
    fn tracked(&self) -> &TrackedBook {
        &self.tracked
    }
}

/// Where a book stands in seeding from REST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seed {
    /// Waiting for a snapshot; the first update buffered arrived at `first_ns` (receive clock).
    Waiting { first_ns: Option<u64>, requested: bool },
    /// Loaded from a REST snapshot at `seq`, taken at `ts_ms`: the next update must bridge it.
    Bridging { seq: i64, ts_ms: Option<u64> },
}

/// An update kept until its snapshot arrives.
#[derive(Debug, Clone)]
struct Buffered {
    header: BookHeader,
    bids: Vec<RawLevel>,
    asks: Vec<RawLevel>,
    recv: perpspread_core::feed::RecvTime,
}

/// Feed handler for OKX's public channels.
#[derive(Debug)]
pub struct OkxFeed {
    books: Slots<InstrumentBook>,
    depth: usize,
    bids: Vec<RawLevel>,
    asks: Vec<RawLevel>,
    /// Whether the venue sends initial WebSocket snapshots, as far as seen: `Some(false)` once a book had to
    /// be seeded from REST, `Some(true)` once a `books` snapshot arrived.
    ws_snapshots: Option<bool>,
}

impl Default for OkxFeed {
    fn default() -> Self {
        Self::new(BOOKS_DEPTH)
    }
}

/// The parts of an OKX frame the handler needs, filled in one pass by [`parse_frame`].
#[derive(Debug, Default)]
struct Parsed<'a> {
    event: Option<Cow<'a, str>>,
    channel: Option<Cow<'a, str>>,
    inst_id: Option<Cow<'a, str>>,
    action: Option<Cow<'a, str>>,
    code: Option<Cow<'a, str>>,
    msg: Option<Cow<'a, str>>,
    /// Book header, when the levels were decoded in the same pass.
    book: Option<BookHeader>,
    /// `data` left undecoded (not a book channel, or `data` came before `arg`).
    data: Option<&'a str>,
    /// Set while decoding a book's `data`, so a failure there can be pinned on its instrument.
    in_book_data: bool,
}

fn is_book_channel(channel: &str) -> bool {
    matches!(channel, "books" | "books-l2-tbt" | "books50-l2-tbt" | "books5" | "bbo-tbt")
}

/// Reads a whole OKX frame into `out`, decoding a book's levels into `bids`/`asks` on the way (OKX sends
/// `arg` before `data`, so the channel is known by then).
fn parse_frame<'a>(
    text: &'a str,
    out: &mut Parsed<'a>,
    bids: &mut Vec<RawLevel>,
    asks: &mut Vec<RawLevel>,
) -> Result<(), JsonError> {
    let mut cursor = JsonCursor::new(text);
    cursor.object(|cursor, key| {
        match key {
            "arg" => cursor.object(|cursor, key| {
                match key {
                    "channel" => out.channel = Some(cursor.string()?),
                    "instId" => out.inst_id = Some(cursor.string()?),
                    _ => cursor.skip()?,
                }
                Ok(())
            })?,
            "data" if out.channel.as_deref().is_some_and(is_book_channel) => {
                out.in_book_data = true;
                out.book = Some(parse_book_data(cursor, bids, asks)?);
                out.in_book_data = false;
            }
            "data" => out.data = Some(cursor.raw()?),
            "event" => out.event = Some(cursor.string()?),
            "action" => out.action = Some(cursor.string()?),
            "code" => out.code = Some(cursor.string()?),
            "msg" => out.msg = Some(cursor.string()?),
            _ => cursor.skip()?,
        }
        Ok(())
    })?;
    cursor.end()
}

/// Reads a book message's `data`: an array holding one `{asks, bids, ts, checksum, seqId, prevSeqId}`.
fn parse_book_data(
    cursor: &mut JsonCursor<'_>,
    bids: &mut Vec<RawLevel>,
    asks: &mut Vec<RawLevel>,
) -> Result<BookHeader, JsonError> {
    let mut header = None;
    let start = cursor.position();
    cursor.array(|cursor| {
        if header.is_some() {
            return cursor.skip();
        }
        let mut book = BookHeader::default();
        cursor.object(|cursor, key| {
            match key {
                "asks" => cursor.levels(asks)?,
                "bids" => cursor.levels(bids)?,
                "ts" => book.ts_ms = cursor.string()?.parse().ok(),
                "checksum" => book.checksum = cursor.opt_i64()?,
                "seqId" => book.seq_id = cursor.opt_i64()?,
                "prevSeqId" => book.prev_seq_id = cursor.opt_i64()?,
                _ => cursor.skip()?,
            }
            Ok(())
        })?;
        header = Some(book);
        Ok(())
    })?;
    header.ok_or(JsonError::Expected { expected: "one book object in data", at: start })
}

/// Header fields of a book message's `data[0]`.
#[derive(Debug, Default, Clone, Copy)]
struct BookHeader {
    ts_ms: Option<u64>,
    checksum: Option<i64>,
    seq_id: Option<i64>,
    prev_seq_id: Option<i64>,
}

impl OkxFeed {
    /// A handler keeping up to `depth` levels per side.
    pub fn new(depth: usize) -> Self {
        OkxFeed {
            books: Slots::default(),
            depth,
            bids: Vec::with_capacity(BOOKS_DEPTH),
            asks: Vec::with_capacity(BOOKS_DEPTH),
            ws_snapshots: None,
        }
    }

    /// Whether the venue was seen sending initial WebSocket snapshots (`None` before any book was synced).
    pub fn ws_snapshots(&self) -> Option<bool> {
        self.ws_snapshots
    }

    fn on_ws(&mut self, frame: Frame<'_>, events: &mut Vec<FeedEvent>) -> Result<(), FrameError> {
        if frame.data == "pong" {
            events.push(FeedEvent::Pong);
            return Ok(());
        }
        self.bids.clear();
        self.asks.clear();
        let mut msg = Parsed::default();
        if let Err(error) = parse_frame(frame.data, &mut msg, &mut self.bids, &mut self.asks) {
            if let (true, Some(inst_id)) = (msg.in_book_data, msg.inst_id.as_deref()) {
                // A book update was lost: this instrument's book can no longer be trusted.
                self.book_lost(inst_id, events);
            }
            return Err(FrameError::Malformed(error.to_string()));
        }
        if let Some(event) = msg.event.as_deref() {
            return self.on_event(event, &msg, events);
        }
        let Some(channel) = msg.channel.as_deref() else {
            return Err(FrameError::Unknown(truncate(frame.data)));
        };
        match channel {
            "books" | "books-l2-tbt" | "books50-l2-tbt" | "books5" | "bbo-tbt" => {
                let inst_id = msg
                    .inst_id
                    .as_deref()
                    .ok_or_else(|| FrameError::Malformed("book message without instId".into()))?;
                let header = match (msg.book, msg.data) {
                    (Some(header), _) => header,
                    // `data` came before `arg`: decode it now.
                    (None, Some(data)) => {
                        let mut cursor = JsonCursor::new(data);
                        match parse_book_data(&mut cursor, &mut self.bids, &mut self.asks) {
                            Ok(header) => header,
                            Err(error) => {
                                self.book_lost(inst_id, events);
                                return Err(FrameError::Malformed(error.to_string()));
                            }
                        }
                    }
                    (None, None) => return Err(FrameError::Malformed("book message without data".into())),
                };
                let full = matches!(channel, "books5" | "bbo-tbt") || msg.action.as_deref() == Some("snapshot");
                self.on_book(inst_id, full, header, frame, events);
                Ok(())
            }
            "funding-rate" => match msg.data {
                Some(data) => self.on_funding(data, events),
                None => Err(FrameError::Malformed("funding-rate message without data".into())),
            },
            "tickers" | "trades" | "mark-price" | "index-tickers" | "open-interest" => Ok(()),
            other => Err(FrameError::Unknown(format!("channel {other}"))),
        }
    }

    /// Invalidates a live book whose update could not be decoded.
    fn book_lost(&mut self, inst_id: &str, events: &mut Vec<FeedEvent>) {
        let slot = self.track(inst_id);
        let book = self.books.get_mut(slot).expect("slot just tracked");
        if book.tracked.state == BookState::Live {
            break_book(book, slot, ResyncReason::BadUpdate, self.ws_snapshots, events);
        }
    }

    fn on_funding(&mut self, data: &str, events: &mut Vec<FeedEvent>) -> Result<(), FrameError> {
        let messages: Vec<crate::messages::FundingMsg> =
            serde_json::from_str(data).map_err(|e| FrameError::Malformed(format!("funding-rate: {e}")))?;
        for msg in &messages {
            let funding = crate::rest::funding_from(msg).map_err(|e| FrameError::Malformed(e.to_string()))?;
            let slot = self.track(msg.inst_id);
            events.push(FeedEvent::Funding {
                slot,
                rate: rust_decimal::prelude::ToPrimitive::to_f64(&funding.rate).unwrap_or(0.0),
                next_funding_ms: funding.next_funding_ms,
                interval_hours: funding.interval_hours,
            });
        }
        Ok(())
    }

    fn on_event(&mut self, event: &str, msg: &Parsed<'_>, events: &mut Vec<FeedEvent>) -> Result<(), FrameError> {
        match event {
            "subscribe" | "unsubscribe" | "channel-conn-count" | "notice" => Ok(()),
            "error" => {
                let message = msg.msg.as_deref().unwrap_or_default();
                let slot = refused_instrument(message).and_then(|inst| self.books.slot(inst));
                if let Some(book) = slot.and_then(|s| self.books.get_mut(s)) {
                    book.tracked.state = BookState::Syncing;
                }
                events.push(FeedEvent::SubscriptionRefused { slot });
                Err(FrameError::Venue {
                    code: msg.code.as_deref().unwrap_or_default().to_owned(),
                    message: message.to_owned(),
                })
            }
            other => Err(FrameError::Unknown(format!("event {other}"))),
        }
    }

    fn on_book(
        &mut self,
        inst_id: &str,
        full: bool,
        header: BookHeader,
        frame: Frame<'_>,
        events: &mut Vec<FeedEvent>,
    ) {
        let slot = self.track(inst_id);
        let book = self.books.get_mut(slot).expect("slot just tracked");
        if full {
            if header.prev_seq_id.is_some() {
                self.ws_snapshots = Some(true); // a `books` snapshot (books5/bbo-tbt carry no prevSeqId)
            }
            book.buffer.clear();
            let outcome = load_snapshot(book, &self.bids, &self.asks, header);
            finish(book, slot, outcome, header, frame.recv, self.ws_snapshots, events);
            return;
        }
        match book.seed {
            _ if book.tracked.state == BookState::Live => {
                let outcome = apply_update(book, &self.bids, &self.asks, header);
                finish(book, slot, outcome, header, frame.recv, self.ws_snapshots, events);
            }
            Seed::Bridging { seq, ts_ms } => {
                let outcome = bridge(book, (seq, ts_ms), &self.bids, &self.asks, header);
                if outcome == Err(ResyncReason::SnapshotTooOld) {
                    buffer(book, header, &self.bids, &self.asks, frame.recv);
                }
                finish(book, slot, outcome, header, frame.recv, self.ws_snapshots, events);
            }
            Seed::Waiting { first_ns, requested } => {
                if header.seq_id.is_none() {
                    return; // no sequence to bridge a REST snapshot with: wait for the WebSocket snapshot
                }
                buffer(book, header, &self.bids, &self.asks, frame.recv);
                events.push(FeedEvent::BookBuffered { slot });
                let first = first_ns.unwrap_or(frame.recv.mono_ns);
                let waited = frame.recv.mono_ns.saturating_sub(first) >= WS_SNAPSHOT_WAIT_NS;
                let ask = !requested && (waited || self.ws_snapshots == Some(false));
                if ask {
                    if waited {
                        self.ws_snapshots = Some(false);
                    }
                    events.push(FeedEvent::SnapshotNeeded { slot });
                }
                book.seed = Seed::Waiting { first_ns: Some(first), requested: requested || ask };
            }
        }
    }

    /// A `GET /api/v5/market/books` response: seeds the book and bridges the buffered updates onto it.
    fn on_rest_book(&mut self, url: &str, body: &str, events: &mut Vec<FeedEvent>) -> Result<(), FrameError> {
        let inst_id = query_param(url, "instId")
            .ok_or_else(|| FrameError::Malformed(format!("order book URL without instId: {url}")))?;
        self.bids.clear();
        self.asks.clear();
        let (code, msg, header) = parse_rest_book(body, &mut self.bids, &mut self.asks)
            .map_err(|e| FrameError::Malformed(format!("order book snapshot: {e}")))?;
        let slot = self.track(inst_id);
        let book = self.books.get_mut(slot).expect("slot just tracked");
        if code != "0" {
            book.seed = Seed::Waiting { first_ns: None, requested: false };
            return Err(FrameError::Venue { code, message: msg });
        }
        let (Some(header), Some(seq)) = (header, header.and_then(|h| h.seq_id)) else {
            book.seed = Seed::Waiting { first_ns: None, requested: false };
            return Err(FrameError::Malformed("order book snapshot without data or seqId".into()));
        };
        if book.tracked.state == BookState::Live {
            return Ok(()); // a WebSocket snapshot came first
        }
        if let Err(reason) = book.tracked.book.replace(&self.bids, &self.asks).map_err(|_| ResyncReason::BadUpdate) {
            book.tracked.invalidate(reason);
            book.seed = Seed::Waiting { first_ns: None, requested: true };
            events.push(FeedEvent::SnapshotNeeded { slot });
            return Ok(());
        }
        book.seed = Seed::Bridging { seq, ts_ms: header.ts_ms };
        book.last_seq = None;
        book.tracked.state = BookState::Syncing;
        book.tracked.exchange_ms = header.ts_ms;
        let buffered = std::mem::take(&mut book.buffer);
        for update in &buffered {
            let outcome = match book.seed {
                _ if book.tracked.state == BookState::Live => {
                    apply_update(book, &update.bids, &update.asks, update.header)
                }
                Seed::Bridging { seq, ts_ms } => bridge(book, (seq, ts_ms), &update.bids, &update.asks, update.header),
                Seed::Waiting { .. } => {
                    // The snapshot was too old (or the book broke): keep the rest for the next snapshot.
                    buffer(book, update.header, &update.bids, &update.asks, update.recv);
                    continue;
                }
            };
            if outcome == Err(ResyncReason::SnapshotTooOld) {
                buffer(book, update.header, &update.bids, &update.asks, update.recv);
            }
            finish(book, slot, outcome, update.header, update.recv, Some(false), events);
        }
        Ok(())
    }
}

/// Records the outcome of a book message: a `BookUpdated`, nothing, or a broken book.
fn finish(
    book: &mut InstrumentBook,
    slot: u32,
    outcome: Result<bool, ResyncReason>,
    header: BookHeader,
    recv: perpspread_core::feed::RecvTime,
    ws_snapshots: Option<bool>,
    events: &mut Vec<FeedEvent>,
) {
    let outcome = outcome.and_then(|applied| {
        if applied {
            verify(book, header)?;
        }
        Ok(applied)
    });
    match outcome {
        Ok(true) => {
            book.tracked.stats.updates_applied += 1;
            book.tracked.exchange_ms = header.ts_ms;
            book.tracked.recv = recv;
            events.push(FeedEvent::BookUpdated { slot });
        }
        Ok(false) => {}
        Err(ResyncReason::SnapshotTooOld) => {
            // The REST snapshot predates the buffered updates: fetch another one (the updates are kept).
            let buffered = std::mem::take(&mut book.buffer);
            book.tracked.invalidate(ResyncReason::SnapshotTooOld);
            book.last_seq = None;
            book.buffer = buffered;
            book.seed = Seed::Waiting { first_ns: Some(recv.mono_ns), requested: true };
            events.push(FeedEvent::SnapshotNeeded { slot });
        }
        Err(reason) => break_book(book, slot, reason, ws_snapshots, events),
    }
}

/// Invalidates a book and asks for its repair: a resubscription (a new WebSocket snapshot), plus a REST
/// snapshot when the venue is known to send no WebSocket snapshots (the live layer then skips the
/// resubscription).
fn break_book(
    book: &mut InstrumentBook,
    slot: u32,
    reason: ResyncReason,
    ws_snapshots: Option<bool>,
    events: &mut Vec<FeedEvent>,
) {
    book.tracked.invalidate(reason);
    book.last_seq = None;
    book.buffer.clear();
    let over_rest = ws_snapshots == Some(false);
    book.seed = Seed::Waiting { first_ns: None, requested: over_rest };
    events.push(FeedEvent::Resync { slot, reason });
    if over_rest {
        events.push(FeedEvent::SnapshotNeeded { slot });
    }
}

/// Applies the first update after a REST snapshot at `seq` taken at `ts_ms` (OKX: drop `seqId < seq`; apply
/// when `prevSeqId <= seq <= seqId`; a later start means the snapshot is too old). `Ok(true)` when the book went
/// live, `Ok(false)` when the update was already in the snapshot.
///
/// A sequence reset (`seqId < prevSeqId`, after maintenance) makes numbers from before and after it
/// incomparable, so the snapshot's time decides: a snapshot taken at or after the reset message is of the new
/// sequence (the message is in it, or the next update bridges it as usual); an older one bridges only a reset
/// whose `prevSeqId` is its own `seqId`, and is otherwise too old.
fn bridge(
    book: &mut InstrumentBook,
    (seq, ts_ms): (i64, Option<u64>),
    bids: &[RawLevel],
    asks: &[RawLevel],
    header: BookHeader,
) -> Result<bool, ResyncReason> {
    let (Some(update_seq), Some(prev)) = (header.seq_id, header.prev_seq_id) else {
        return Err(ResyncReason::BadUpdate);
    };
    let reset = update_seq < prev;
    // Taken at the same millisecond, the numbers decide: a snapshot at or past the reset's `prevSeqId` is of the
    // old sequence.
    let after_reset = reset
        && ts_ms
            .zip(header.ts_ms)
            .is_some_and(|(snapshot, update)| snapshot > update || (snapshot == update && seq < prev));
    if reset && !after_reset {
        if prev != seq {
            return Err(ResyncReason::SnapshotTooOld);
        }
    } else if update_seq < seq {
        return Ok(false); // already in the snapshot
    } else if (reset && update_seq != seq) || (!reset && prev > seq) {
        return Err(ResyncReason::SnapshotTooOld);
    }
    // `prevSeqId <= seq <= seqId`: applying levels the snapshot may already hold sets the same sizes again.
    book.tracked.book.apply(bids, asks).map_err(|_| ResyncReason::BadUpdate)?;
    go_live(book, update_seq);
    Ok(true)
}

fn go_live(book: &mut InstrumentBook, seq: i64) {
    book.last_seq = Some(seq);
    book.tracked.sequence = u64::try_from(seq).ok();
    book.tracked.state = BookState::Live;
    book.seed = Seed::Waiting { first_ns: None, requested: false };
}

/// Keeps an update until the book's snapshot arrives (the oldest goes when the buffer is full).
fn buffer(
    book: &mut InstrumentBook,
    header: BookHeader,
    bids: &[RawLevel],
    asks: &[RawLevel],
    recv: perpspread_core::feed::RecvTime,
) {
    if header.seq_id.zip(header.prev_seq_id).is_some_and(|(seq, prev)| seq < prev) {
        book.buffer.clear(); // a sequence reset: nothing before it can be bridged with a later snapshot
    }
    if book.buffer.len() >= MAX_BUFFERED {
        book.buffer.pop_front();
    }
    book.buffer.push_back(Buffered { header, bids: bids.to_vec(), asks: asks.to_vec(), recv });
}

/// Reads a REST order book response `{"code","msg","data":[{asks,bids,ts,seqId}]}`.
fn parse_rest_book(
    body: &str,
    bids: &mut Vec<RawLevel>,
    asks: &mut Vec<RawLevel>,
) -> Result<(String, String, Option<BookHeader>), JsonError> {
    let (mut code, mut msg, mut header) = (String::new(), String::new(), None);
    let mut cursor = JsonCursor::new(body);
    cursor.object(|cursor, key| {
        match key {
            "code" => code = cursor.string()?.into_owned(),
            "msg" => msg = cursor.string()?.into_owned(),
            "data" => {
                let data = cursor.raw()?;
                if data.trim() != "[]" {
                    header = Some(parse_book_data(&mut JsonCursor::new(data), bids, asks)?);
                }
            }
            _ => cursor.skip()?,
        }
        Ok(())
    })?;
    cursor.end()?;
    Ok((code, msg, header))
}

/// The value of `key` in a URL's query string.
fn query_param<'a>(url: &'a str, key: &str) -> Option<&'a str> {
    let (_, query) = url.split_once('?')?;
    query.split('&').find_map(|pair| pair.split_once('=').filter(|(k, _)| *k == key).map(|(_, v)| v))
}

fn new_book(depth: usize) -> InstrumentBook {
    InstrumentBook {
        tracked: TrackedBook::new(OrderBook::new(0, 0, depth)),
        last_seq: None,
        checksum: ChecksumCache::default(),
        seed: Seed::Waiting { first_ns: None, requested: false },
        buffer: std::collections::VecDeque::new(),
    }
}

/// Replaces the book; `Ok(true)` when applied.
fn load_snapshot(
    book: &mut InstrumentBook,
    bids: &[RawLevel],
    asks: &[RawLevel],
    header: BookHeader,
) -> Result<bool, ResyncReason> {
    book.tracked.book.replace(bids, asks).map_err(|_| ResyncReason::BadUpdate)?;
    book.last_seq = header.seq_id;
    book.tracked.sequence = header.seq_id.and_then(|s| u64::try_from(s).ok());
    book.tracked.state = BookState::Live;
    book.seed = Seed::Waiting { first_ns: None, requested: false };
    Ok(true)
}

/// Applies an incremental update; `Ok(false)` when the book is not live (waiting for a snapshot).
fn apply_update(
    book: &mut InstrumentBook,
    bids: &[RawLevel],
    asks: &[RawLevel],
    header: BookHeader,
) -> Result<bool, ResyncReason> {
    if book.tracked.state != BookState::Live {
        return Ok(false);
    }
    if let (Some(prev), Some(last), Some(seq)) = (header.prev_seq_id, book.last_seq, header.seq_id) {
        // In order when prevSeqId continues the chain (this also covers a seqId reset). A message at or
        // below the last applied seqId that does not continue the chain was already applied.
        if prev != last {
            if seq <= last && seq != prev {
                book.tracked.stats.duplicates += 1;
                return Ok(false);
            }
            return Err(ResyncReason::SequenceGap);
        }
    }
    book.tracked.book.apply(bids, asks).map_err(|_| ResyncReason::BadUpdate)?;
    if header.seq_id.is_some() {
        book.last_seq = header.seq_id;
        book.tracked.sequence = header.seq_id.and_then(|s| u64::try_from(s).ok());
    }
    Ok(true)
}

/// Checks the checksum (when sent) and that the book is not crossed.
fn verify(book: &mut InstrumentBook, header: BookHeader) -> Result<(), ResyncReason> {
    match header.checksum {
        Some(0) => book.tracked.stats.checksums_absent += 1,
        Some(expected) => {
            if i64::from(book.checksum.checksum(&book.tracked.book)) != expected {
                return Err(ResyncReason::ChecksumMismatch);
            }
            book.tracked.stats.checksums_verified += 1;
        }
        None => {}
    }
    if book.tracked.book.is_crossed() {
        return Err(ResyncReason::Crossed);
    }
    Ok(())
}

/// Extracts the instrument from an OKX subscription error such as
/// `"Wrong URL or channel:books,instId:FOO-USDT-SWAP doesn't exist"`.
fn refused_instrument(message: &str) -> Option<&str> {
    let start = message.find("instId:")? + "instId:".len();
    let rest = &message[start..];
    let end = rest.find(|c: char| c.is_whitespace() || c == ',' || c == '"').unwrap_or(rest.len());
    Some(&rest[..end]).filter(|s| !s.is_empty())
}

fn truncate(text: &str) -> String {
    text.chars().take(120).collect()
}

impl Feed for OkxFeed {
    fn venue(&self) -> Venue {
        Venue::Okx
    }

    fn on_frame(&mut self, frame: Frame<'_>, events: &mut Vec<FeedEvent>) -> Result<(), FrameError> {
        match frame.source {
            Source::Ws => self.on_ws(frame, events),
            Source::Rest { url } if url.starts_with("/api/v5/market/books?") => {
                self.on_rest_book(url, frame.data, events)
            }
            // Other REST bodies (instrument lists, funding) are not needed to build books.
            Source::Rest { .. } => Ok(()),
        }
    }

    fn book_slots(&self) -> &dyn BookSlots {
        &self.books
    }

    fn track(&mut self, inst_id: &str) -> u32 {
        let depth = self.depth;
        self.books.slot_or_insert(inst_id, || new_book(depth))
    }

    fn repairs_over_rest(&self) -> bool {
        self.ws_snapshots == Some(false)
    }

    /// The `seqId` chain, plus CRC32 when checksums are sent (they are 0 since 2026-06-23).
    fn integrity(&self) -> String {
        let (mut verified, mut absent) = (0, 0);
        for slot in 0..self.books.len() {
            if let Some(book) = self.books.get(slot) {
                verified += book.tracked.stats.checksums_verified;
                absent += book.tracked.stats.checksums_absent;
            }
        }
        match (verified, absent) {
            (0, 0) => "seqId chain",
            (0, _) => "seqId chain (checksum 0)",
            _ => "seqId chain + CRC32",
        }
        .to_owned()
    }

    fn invalidate(&mut self, slot: u32, reason: ResyncReason) {
        if let Some(book) = self.books.get_mut(slot) {
            book.tracked.invalidate(reason);
            book.last_seq = None;
            book.buffer.clear();
            book.seed = Seed::Waiting { first_ns: None, requested: false };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use perpspread_core::feed::RecvTime;

    fn ws(feed: &mut OkxFeed, text: &str) -> (Result<(), FrameError>, Vec<FeedEvent>) {
        let mut events = Vec::new();
        let frame = Frame { source: Source::Ws, data: text, recv: RecvTime::default() };
        (feed.on_frame(frame, &mut events), events)
    }

    fn book_msg(action: &str, bids: &str, asks: &str, checksum: i64, seq: i64, prev: i64) -> String {
        format!(
            r#"{{"arg":{{"channel":"books","instId":"BTC-USDT-SWAP"}},"action":"{action}","data":[{{"asks":{asks},"bids":{bids},"ts":"1700000000000","checksum":{checksum},"seqId":{seq},"prevSeqId":{prev}}}]}}"#
        )
    }

    #[test]
    fn sequence_chain_and_keepalive() {
        let mut feed = OkxFeed::default();
        let (_, ev) =
            ws(&mut feed, &book_msg("snapshot", r#"[["100","1","0","1"]]"#, r#"[["101","2","0","1"]]"#, 0, 10, -1));
        assert_eq!(ev, vec![FeedEvent::BookUpdated { slot: 0 }]);
        let (_, ev) = ws(&mut feed, &book_msg("update", r#"[["100.5","3","0","1"]]"#, "[]", 0, 11, 10));
        assert_eq!(ev, vec![FeedEvent::BookUpdated { slot: 0 }]);
        // Keep-alive: no levels, seqId == prevSeqId.
        let (_, ev) = ws(&mut feed, &book_msg("update", "[]", "[]", 0, 11, 11));
        assert_eq!(ev, vec![FeedEvent::BookUpdated { slot: 0 }]);
        let tracked = feed.book(0).unwrap();
        assert_eq!(tracked.state, BookState::Live);
        assert_eq!(tracked.book.price_of(&tracked.book.best_bid().unwrap()).to_string(), "100.5");
        // A gap: prevSeqId 12 but last applied 11.
        let (_, ev) = ws(&mut feed, &book_msg("update", "[]", r#"[["101","0","0","0"]]"#, 0, 13, 12));
        assert_eq!(ev, vec![FeedEvent::Resync { slot: 0, reason: ResyncReason::SequenceGap }]);
        let tracked = feed.book(0).unwrap();
        assert_eq!(tracked.state, BookState::Resyncing);
        assert_eq!((tracked.stats.sequence_gaps, tracked.stats.resyncs), (1, 1));
        // Updates are kept (not applied) until the new snapshot.
        let (_, ev) = ws(&mut feed, &book_msg("update", "[]", "[]", 0, 14, 13));
        assert_eq!(ev, vec![FeedEvent::BookBuffered { slot: 0 }]);
        ws(&mut feed, &book_msg("snapshot", r#"[["99","1","0","1"]]"#, r#"[["101","2","0","1"]]"#, 0, 20, -1))
            .0
            .unwrap();
        assert_eq!(feed.book(0).unwrap().state, BookState::Live);
    }

    fn at(feed: &mut OkxFeed, text: &str, mono_ms: u64) -> Vec<FeedEvent> {
        let mut events = Vec::new();
        let recv = RecvTime { wall_ns: mono_ms * 1_000_000, mono_ns: mono_ms * 1_000_000 };
        feed.on_frame(Frame { source: Source::Ws, data: text, recv }, &mut events).unwrap();
        events
    }

    fn rest(feed: &mut OkxFeed, bids: &str, asks: &str, seq: i64) -> (Result<(), FrameError>, Vec<FeedEvent>) {
        let mut events = Vec::new();
        let body = format!(
            r#"{{"code":"0","msg":"","data":[{{"asks":{asks},"bids":{bids},"ts":"1700000000000","seqId":{seq}}}]}}"#
        );
        let url = "/api/v5/market/books?instId=BTC-USDT-SWAP&sz=400";
        let frame = Frame { source: Source::Rest { url }, data: &body, recv: RecvTime::default() };
        (feed.on_frame(frame, &mut events), events)
    }

    const SLOT: u32 = 0;
    const BUFFERED: FeedEvent = FeedEvent::BookBuffered { slot: SLOT };
    const NEEDED: FeedEvent = FeedEvent::SnapshotNeeded { slot: SLOT };
    const UPDATED: FeedEvent = FeedEvent::BookUpdated { slot: SLOT };

    /// OKX's documented procedure: buffer, seed from REST, drop `seqId <= snapshot`, bridge with
    /// `prevSeqId <= snapshot < seqId`, then follow the chain.
    #[test]
    fn without_a_websocket_snapshot_the_book_is_seeded_over_rest() {
        let mut feed = OkxFeed::default();
        feed.track("BTC-USDT-SWAP");
        // Updates without a snapshot are kept; a REST snapshot is asked for once the wait has passed.
        assert_eq!(at(&mut feed, &book_msg("update", r#"[["100","1","0","1"]]"#, "[]", 0, 11, 10), 0), [BUFFERED]);
        assert_eq!(at(&mut feed, &book_msg("update", r#"[["100","2","0","1"]]"#, "[]", 0, 12, 11), 1_000), [BUFFERED]);
        let events = at(&mut feed, &book_msg("update", r#"[["99","4","0","1"]]"#, "[]", 0, 13, 12), 2_100);
        assert_eq!(events, [BUFFERED, NEEDED]);
        assert_eq!(at(&mut feed, &book_msg("update", "[]", r#"[["101","7","0","1"]]"#, 0, 14, 13), 2_200), [BUFFERED]);
        assert_eq!(feed.ws_snapshots(), Some(false));
        assert_eq!(feed.book(SLOT).unwrap().state, BookState::Syncing);
        // The snapshot is at seqId 12: update 11 is in it, 12 ends at it (live), 13 and 14 chain.
        let (result, events) = rest(&mut feed, r#"[["100","2","0","1"]]"#, r#"[["101","3","0","1"]]"#, 12);
        result.unwrap();
        assert_eq!(events, [UPDATED, UPDATED, UPDATED]);
        let tracked = feed.book(SLOT).unwrap();
        assert_eq!((tracked.state, tracked.sequence), (BookState::Live, Some(14)));
        let levels = |side| tracked.book.levels(side).map(|l| tracked.book.qty_of(l).to_string()).collect::<Vec<_>>();
        assert_eq!(levels(perpspread_core::Side::Bid), ["2", "4"]);
        assert_eq!(levels(perpspread_core::Side::Ask), ["7"]);
        // The chain goes on; a keep-alive repeats the seqId; a reset (seqId < prevSeqId) continues the chain.
        assert_eq!(at(&mut feed, &book_msg("update", "[]", "[]", 0, 14, 14), 3_000), [UPDATED]);
        assert_eq!(at(&mut feed, &book_msg("update", r#"[["98","1","0","1"]]"#, "[]", 0, 3, 14), 3_100), [UPDATED]);
        assert_eq!(at(&mut feed, &book_msg("update", "[]", "[]", 0, 4, 3), 3_200), [UPDATED]);
        assert_eq!(feed.book(SLOT).unwrap().sequence, Some(4));
    }

    #[test]
    fn a_rest_snapshot_older_than_the_buffer_is_fetched_again() {
        let mut feed = OkxFeed::default();
        feed.track("BTC-USDT-SWAP");
        at(&mut feed, &book_msg("update", r#"[["100","1","0","1"]]"#, "[]", 0, 21, 20), 0);
        assert_eq!(at(&mut feed, &book_msg("update", "[]", "[]", 0, 22, 21), 2_500), [BUFFERED, NEEDED]);
        // Snapshot at 15, but the oldest buffered update starts at 20: too old.
        let (result, events) = rest(&mut feed, r#"[["100","5","0","1"]]"#, r#"[["101","3","0","1"]]"#, 15);
        result.unwrap();
        assert_eq!(events, [NEEDED]);
        let tracked = feed.book(SLOT).unwrap();
        assert_eq!((tracked.state, tracked.stats.sequence_gaps), (BookState::Resyncing, 1));
        // The next snapshot covers the buffer: 21 is in it, 22 ends at it: live at 22.
        let (_, events) = rest(&mut feed, r#"[["100","1","0","1"]]"#, r#"[["101","3","0","1"]]"#, 22);
        assert_eq!(events, [UPDATED]);
        assert_eq!(feed.book(SLOT).unwrap().state, BookState::Live);
        assert_eq!(at(&mut feed, &book_msg("update", "[]", r#"[["102","1","0","1"]]"#, 0, 23, 22), 2_600), [UPDATED]);
        // Once the venue is known to send no snapshots, a broken book asks for REST at once (no resubscription).
        let events = at(&mut feed, &book_msg("update", "[]", "[]", 0, 30, 29), 2_700);
        assert_eq!(events, [FeedEvent::Resync { slot: SLOT, reason: ResyncReason::SequenceGap }, NEEDED]);
        let mut events = Vec::new();
        let refused = r#"{"code":"51001","msg":"Instrument ID does not exist","data":[]}"#;
        let url = "/api/v5/market/books?instId=BTC-USDT-SWAP&sz=400";
        let frame = Frame { source: Source::Rest { url }, data: refused, recv: RecvTime::default() };
        assert!(matches!(feed.on_frame(frame, &mut events), Err(FrameError::Venue { code, .. }) if code == "51001"));
    }

    /// A sequence reset (maintenance) while the book waits for its REST snapshot: what came before the reset is
    /// useless, and the snapshot's time tells which sequence it belongs to.
    #[test]
    fn a_sequence_reset_while_seeding_over_rest() {
        let msg = |bids: &str, seq: i64, prev: i64, ts: u64| {
            format!(
                r#"{{"arg":{{"channel":"books","instId":"BTC-USDT-SWAP"}},"action":"update","data":[{{"asks":[],"bids":{bids},"ts":"{ts}","checksum":0,"seqId":{seq},"prevSeqId":{prev}}}]}}"#
            )
        };
        let rest_at = |feed: &mut OkxFeed, seq: i64, ts: u64| {
            let mut events = Vec::new();
            let body = format!(
                r#"{{"code":"0","msg":"","data":[{{"asks":[["101","1","0","1"]],"bids":[["100","1","0","1"]],"ts":"{ts}","seqId":{seq}}}]}}"#
            );
            let url = "/api/v5/market/books?instId=BTC-USDT-SWAP&sz=400";
            let frame = Frame { source: Source::Rest { url }, data: &body, recv: RecvTime::default() };
            feed.on_frame(frame, &mut events).unwrap();
            events
        };
        let mut feed = OkxFeed::default();
        feed.track("BTC-USDT-SWAP");
        at(&mut feed, &msg(r#"[["99","1","0","1"]]"#, 1000, 999, 1_000), 0);
        // The reset: seqId 3 after 1000. Then 4.
        at(&mut feed, &msg(r#"[["98","1","0","1"]]"#, 3, 1000, 2_000), 100);
        assert_eq!(at(&mut feed, &msg(r#"[["97","1","0","1"]]"#, 4, 3, 3_000), 2_500), [BUFFERED, NEEDED]);
        // A snapshot of the old sequence (taken before the reset, seqId 990): too old, fetched again.
        assert_eq!(rest_at(&mut feed, 990, 1_500), [NEEDED]);
        assert_eq!(feed.book(SLOT).unwrap().state, BookState::Resyncing);
        // A snapshot of the new sequence at seqId 3, taken after the reset: the reset ends at it, 4 chains.
        assert_eq!(rest_at(&mut feed, 3, 2_500), [UPDATED, UPDATED]);
        let tracked = feed.book(SLOT).unwrap();
        assert_eq!((tracked.state, tracked.sequence), (BookState::Live, Some(4)));
        let bids: Vec<String> =
            tracked.book.levels(perpspread_core::Side::Bid).map(|l| tracked.book.price_of(l).to_string()).collect();
        assert_eq!(bids, ["100", "98", "97"], "nothing from before the reset (99) was applied");
        assert_eq!(at(&mut feed, &msg("[]", 5, 4, 3_100), 2_600), [UPDATED]);
    }

    #[test]
    fn a_websocket_snapshot_wins_over_the_rest_path() {
        let mut feed = OkxFeed::default();
        assert_eq!(at(&mut feed, &book_msg("update", "[]", "[]", 0, 5, 4), 0), [BUFFERED]);
        let snapshot = book_msg("snapshot", r#"[["100","1","0","1"]]"#, r#"[["101","2","0","1"]]"#, 0, 10, -1);
        assert_eq!(at(&mut feed, &snapshot, 100), [UPDATED]);
        assert_eq!(feed.ws_snapshots(), Some(true));
        // A REST snapshot arriving later does not replace a live book.
        let (result, events) = rest(&mut feed, r#"[["90","1","0","1"]]"#, r#"[["91","1","0","1"]]"#, 3);
        result.unwrap();
        assert!(events.is_empty());
        assert_eq!(feed.book(SLOT).unwrap().sequence, Some(10));
    }

    #[test]
    fn duplicates_are_ignored_not_resynced() {
        let mut feed = OkxFeed::default();
        ws(&mut feed, &book_msg("snapshot", r#"[["100","1","0","1"]]"#, r#"[["101","2","0","1"]]"#, 0, 10, -1))
            .0
            .unwrap();
        let update = book_msg("update", r#"[["100.5","3","0","1"]]"#, "[]", 0, 11, 10);
        ws(&mut feed, &update).0.unwrap();
        let (_, ev) = ws(&mut feed, &update);
        assert!(ev.is_empty());
        let tracked = feed.book(0).unwrap();
        assert_eq!((tracked.stats.duplicates, tracked.stats.resyncs, tracked.sequence), (1, 0, Some(11)));
        assert_eq!(tracked.state, BookState::Live);
    }

    #[test]
    fn checksum_zero_is_absent_and_wrong_checksum_resyncs() {
        let mut feed = OkxFeed::default();
        // Vector from the fixtures README: "3366.1:7:3366.8:9:3366:6:3368:8" → -1881014294.
        let good = book_msg(
            "snapshot",
            r#"[["3366.1","7","0","1"],["3366","6","0","1"]]"#,
            r#"[["3366.8","9","0","1"],["3368","8","0","1"]]"#,
            -1881014294,
            1,
            -1,
        );
        let (_, ev) = ws(&mut feed, &good);
        assert_eq!(ev, vec![FeedEvent::BookUpdated { slot: 0 }]);
        assert_eq!(feed.book(0).unwrap().stats.checksums_verified, 1);
        let (_, ev) = ws(&mut feed, &book_msg("update", r#"[["3366","0","0","0"]]"#, "[]", 0, 2, 1));
        assert_eq!(ev, vec![FeedEvent::BookUpdated { slot: 0 }]);
        assert_eq!(feed.book(0).unwrap().stats.checksums_verified, 1);
        assert_eq!(feed.book(0).unwrap().stats.checksums_absent, 1, "0 means not sent: counted, not verified");
        let (_, ev) = ws(&mut feed, &book_msg("update", r#"[["3366","5","0","0"]]"#, "[]", 12345, 3, 2));
        assert_eq!(ev, vec![FeedEvent::Resync { slot: 0, reason: ResyncReason::ChecksumMismatch }]);
        assert_eq!(feed.book(0).unwrap().stats.checksum_failures, 1);
    }

    #[test]
    fn crossed_and_malformed_updates_resync() {
        let mut feed = OkxFeed::default();
        ws(&mut feed, &book_msg("snapshot", r#"[["100","1","0","1"]]"#, r#"[["101","2","0","1"]]"#, 0, 1, -1))
            .0
            .unwrap();
        let (_, ev) = ws(&mut feed, &book_msg("update", r#"[["101.5","1","0","1"]]"#, "[]", 0, 2, 1));
        assert_eq!(ev, vec![FeedEvent::Resync { slot: 0, reason: ResyncReason::Crossed }]);
        ws(&mut feed, &book_msg("snapshot", r#"[["100","1","0","1"]]"#, r#"[["101","2","0","1"]]"#, 0, 5, -1))
            .0
            .unwrap();
        let (_, ev) = ws(&mut feed, &book_msg("update", r#"[["abc","1","0","1"]]"#, "[]", 0, 6, 5));
        assert_eq!(ev, vec![FeedEvent::Resync { slot: 0, reason: ResyncReason::BadUpdate }]);
        let (result, _) = ws(&mut feed, r#"{"arg":{"channel":"books","instId":"BTC-USDT-SWAP"},"action":"upd"#);
        assert!(matches!(result, Err(FrameError::Malformed(_))));
        let (result, _) = ws(&mut feed, r#"{"foo":1}"#);
        assert!(matches!(result, Err(FrameError::Unknown(_))));
        let (_, ev) = ws(&mut feed, "pong");
        assert_eq!(ev, vec![FeedEvent::Pong]);
    }

    #[test]
    fn funding_rate_channel() {
        let mut feed = OkxFeed::default();
        let (result, ev) = ws(
            &mut feed,
            r#"{"arg":{"channel":"funding-rate","instId":"BTC-USDT-SWAP"},"data":[{"fundingRate":"0.0001","fundingTime":"1700000000000","instId":"BTC-USDT-SWAP","instType":"SWAP","method":"current_period","nextFundingRate":"","nextFundingTime":"1700028800000"}]}"#,
        );
        result.unwrap();
        assert_eq!(
            ev,
            vec![FeedEvent::Funding {
                slot: 0,
                rate: 0.0001,
                next_funding_ms: Some(1700000000000),
                interval_hours: Some(8)
            }]
        );
    }

    #[test]
    fn refused_subscription_names_the_instrument() {
        let mut feed = OkxFeed::default();
        let slot = feed.track("FOO-USDT-SWAP");
        let (result, ev) = ws(
            &mut feed,
            r#"{"event":"error","code":"60018","msg":"Wrong URL or channel:books,instId:FOO-USDT-SWAP doesn't exist","connId":"a4d3ae55"}"#,
        );
        assert_eq!(ev, vec![FeedEvent::SubscriptionRefused { slot: Some(slot) }]);
        assert!(matches!(result, Err(FrameError::Venue { code, .. }) if code == "60018"));
    }
}

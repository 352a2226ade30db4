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

use perpspread_core::feed::{BookSlots, Feed, FeedEvent, Frame, FrameError, ResyncReason, Slots, Source};
use perpspread_core::wire::{JsonCursor, RawLevel};
use perpspread_core::{BookState, Venue};

mod frames;
mod sync;

use frames::*;
use sync::*;

/// Levels per side OKX keeps in a `books` snapshot.
pub(crate) const BOOKS_DEPTH: usize = 400;

/// How long updates may arrive without a snapshot before a REST snapshot is asked for, ns of receive time.
pub(crate) const WS_SNAPSHOT_WAIT_NS: u64 = 2_000_000_000;

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
    #[cfg(test)]
    pub(crate) fn ws_snapshots(&self) -> Option<bool> {
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
            return Err(FrameError::unknown_frame(frame.data));
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
mod tests;

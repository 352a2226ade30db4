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

use std::borrow::Cow;

use perpspread_core::feed::{Feed, FeedEvent, Frame, FrameError, ResyncReason, Slots, Source, TrackedBook};
use perpspread_core::wire::{JsonCursor, JsonError, RawLevel};
use perpspread_core::{BookState, OrderBook, Venue};

use crate::checksum::ChecksumCache;

/// Levels per side OKX keeps in a `books` snapshot.
pub const BOOKS_DEPTH: usize = 400;

/// Book-keeping for one instrument.
#[derive(Debug, Clone)]
struct InstrumentBook {
    tracked: TrackedBook,
    last_seq: Option<i64>,
    checksum: ChecksumCache,
}

/// Feed handler for OKX's public channels.
#[derive(Debug)]
pub struct OkxFeed {
    books: Slots<InstrumentBook>,
    depth: usize,
    bids: Vec<RawLevel>,
    asks: Vec<RawLevel>,
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
        }
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
            book.tracked.invalidate(ResyncReason::BadUpdate);
            book.last_seq = None;
            events.push(FeedEvent::Resync { slot, reason: ResyncReason::BadUpdate });
        }
    }

    fn on_funding(&mut self, data: &str, events: &mut Vec<FeedEvent>) -> Result<(), FrameError> {
        let messages: Vec<crate::messages::FundingMsg> =
            serde_json::from_str(data).map_err(|e| FrameError::Malformed(format!("funding-rate: {e}")))?;
        for msg in &messages {
            let funding = crate::rest::funding_from(msg).map_err(FrameError::Malformed)?;
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
        let result = if full {
            load_snapshot(book, &self.bids, &self.asks, header)
        } else {
            apply_update(book, &self.bids, &self.asks, header)
        };
        let outcome = result.and_then(|applied| {
            if !applied {
                return Ok(false);
            }
            verify(book, header)?;
            Ok(true)
        });
        match outcome {
            Ok(true) => {
                book.tracked.stats.updates_applied += 1;
                book.tracked.exchange_ms = header.ts_ms;
                book.tracked.recv = frame.recv;
                events.push(FeedEvent::BookUpdated { slot });
            }
            Ok(false) => {}
            Err(reason) => {
                book.tracked.invalidate(reason);
                book.last_seq = None;
                events.push(FeedEvent::Resync { slot, reason });
            }
        }
    }
}

fn new_book(depth: usize) -> InstrumentBook {
    InstrumentBook {
        tracked: TrackedBook::new(OrderBook::new(0, 0, depth)),
        last_seq: None,
        checksum: ChecksumCache::default(),
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
    if let Some(expected) = header.checksum.filter(|c| *c != 0) {
        if i64::from(book.checksum.checksum(&book.tracked.book)) != expected {
            return Err(ResyncReason::ChecksumMismatch);
        }
        book.tracked.stats.checksums_verified += 1;
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
            // REST bodies (instrument lists, snapshots) are not needed to build OKX books.
            Source::Rest { .. } => Ok(()),
        }
    }

    fn symbol(&self, slot: u32) -> Option<&str> {
        self.books.symbol(slot)
    }

    fn slot(&self, symbol: &str) -> Option<u32> {
        self.books.slot(symbol)
    }

    fn book(&self, slot: u32) -> Option<&TrackedBook> {
        self.books.get(slot).map(|b| &b.tracked)
    }

    fn slots(&self) -> u32 {
        self.books.len()
    }

    fn track(&mut self, inst_id: &str) -> u32 {
        let depth = self.depth;
        self.books.slot_or_insert(inst_id, || new_book(depth))
    }

    fn invalidate(&mut self, slot: u32, reason: ResyncReason) {
        if let Some(book) = self.books.get_mut(slot) {
            book.tracked.invalidate(reason);
            book.last_seq = None;
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
        // Updates are ignored until the new snapshot.
        let (_, ev) = ws(&mut feed, &book_msg("update", "[]", "[]", 0, 14, 13));
        assert!(ev.is_empty());
        ws(&mut feed, &book_msg("snapshot", r#"[["99","1","0","1"]]"#, r#"[["101","2","0","1"]]"#, 0, 20, -1))
            .0
            .unwrap();
        assert_eq!(feed.book(0).unwrap().state, BookState::Live);
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

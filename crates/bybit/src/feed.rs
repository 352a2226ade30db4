//! Bybit v5 public linear WebSocket feed handler (sans-IO): order books by snapshot and delta, funding from
//! the tickers stream.
//!
//! Followed: Bybit V5 "WebSocket Stream → Public → Orderbook" (last changed 2026-03-18) and "Ticker", from the
//! docs repository as of 2026-07-24 (the newest available), read 2026-12-07.
//!
//! * `orderbook.{depth}.{symbol}`: the first message after subscribing is a `snapshot`, then `delta`s. A
//!   level of size `0` is deleted; any other level is inserted or replaced. A new `snapshot` at any time
//!   (Bybit resends one after a problem on its side, and after a service restart, when `u` starts again at 1)
//!   replaces the whole book. The update id `u` of each delta must be the previous `u` + 1 (the docs say "always
//!   in sequence" and state `+1` outright for the newer `orderbook.full`; real recordings agree): a gap (or a
//!   delta before any snapshot) means updates were lost, and the book is rebuilt by resubscribing (Bybit answers
//!   with a fresh snapshot). `seq` is a cross-sequence, increasing but not consecutive, and is not checked; the
//!   depth-1 stream sends snapshots only (again every 3 s with the same `u` when nothing changed). Key order is
//!   not relied on (`ts` comes before `type` on some depths).
//! * `tickers.{symbol}`: a snapshot then deltas carrying only the fields that changed; `fundingRate`,
//!   `nextFundingTime` and `fundingIntervalHour` are kept per instrument and reported as they change.

use std::borrow::Cow;

use perpspread_core::feed::{
    BookSlots, Feed, FeedEvent, Frame, FrameError, HasBook, RecvTime, ResyncReason, Slots, Source, TrackedBook,
};
use perpspread_core::wire::{JsonCursor, JsonError, RawLevel};
use perpspread_core::{BookState, OrderBook, Venue};
use perpspread_net::body::{decode, BodyError};

/// Levels per side kept (the deepest linear stream, `orderbook.1000`).
pub const MAX_DEPTH: usize = 1000;

/// Book-keeping for one instrument.
#[derive(Debug, Clone)]
struct InstrumentBook {
    tracked: TrackedBook,
    funding: TickerFunding,
}

impl HasBook for InstrumentBook {
    fn tracked(&self) -> &TrackedBook {
        &self.tracked
    }
}

/// Funding fields of the tickers stream, as last seen.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct TickerFunding {
    rate: Option<f64>,
    next_ms: Option<u64>,
    interval_hours: Option<u32>,
}

/// Feed handler for Bybit's public linear channels.
#[derive(Debug)]
pub struct BybitFeed {
    books: Slots<InstrumentBook>,
    depth: usize,
    bids: Vec<RawLevel>,
    asks: Vec<RawLevel>,
}

impl Default for BybitFeed {
    fn default() -> Self {
        Self::new(MAX_DEPTH)
    }
}

/// The parts of a frame the handler needs, filled in one pass.
#[derive(Debug, Default)]
struct Parsed<'a> {
    topic: Option<Cow<'a, str>>,
    kind: Option<Cow<'a, str>>,
    ts_ms: Option<u64>,
    op: Option<Cow<'a, str>>,
    success: Option<bool>,
    ret_msg: Option<Cow<'a, str>>,
    book: Option<BookData>,
    /// `data` left undecoded (not a book topic, or `data` came before `topic`).
    data: Option<&'a str>,
    in_book_data: bool,
}

/// Header of a book message's `data`.
#[derive(Debug, Default, Clone, Copy)]
struct BookData {
    update_id: Option<u64>,
}

impl BybitFeed {
    /// A handler keeping up to `depth` levels per side.
    pub fn new(depth: usize) -> Self {
        BybitFeed { books: Slots::default(), depth, bids: Vec::with_capacity(200), asks: Vec::with_capacity(200) }
    }

    fn on_ws(&mut self, frame: Frame<'_>, events: &mut Vec<FeedEvent>) -> Result<(), FrameError> {
        self.bids.clear();
        self.asks.clear();
        let mut msg = Parsed::default();
        if let Err(error) = parse_frame(frame.data, &mut msg, &mut self.bids, &mut self.asks) {
            if let (true, Some(symbol)) = (msg.in_book_data, msg.topic.as_deref().and_then(book_symbol)) {
                self.book_lost(symbol, events);
            }
            return Err(FrameError::Malformed(error.to_string()));
        }
        if let Some(op) = msg.op.as_deref() {
            return self.on_op(op, &msg, events);
        }
        let Some(topic) = msg.topic.as_deref() else {
            return Err(FrameError::unknown_frame(frame.data));
        };
        if let Some(symbol) = book_symbol(topic) {
            let data = match (msg.book, msg.data) {
                (Some(data), _) => data,
                (None, Some(raw)) => match parse_book_data(&mut JsonCursor::new(raw), &mut self.bids, &mut self.asks) {
                    Ok(data) => data,
                    Err(error) => {
                        self.book_lost(symbol, events);
                        return Err(FrameError::Malformed(error.to_string()));
                    }
                },
                (None, None) => return Err(FrameError::Malformed("book message without data".into())),
            };
            let snapshot = match msg.kind.as_deref() {
                Some("snapshot") => true,
                Some("delta") => false,
                other => return Err(FrameError::Malformed(format!("book message of type {other:?}"))),
            };
            self.on_book(symbol, snapshot, data, msg.ts_ms, frame.recv, events);
            return Ok(());
        }
        if let Some(symbol) = topic.strip_prefix("tickers.") {
            let data = msg.data.ok_or_else(|| FrameError::Malformed("tickers message without data".into()))?;
            return self.on_ticker(symbol, data, events);
        }
        if topic.starts_with("publicTrade.") || topic.starts_with("kline.") || topic.starts_with("liquidation.") {
            return Ok(());
        }
        Err(FrameError::Unknown(format!("topic {topic}")))
    }

    /// Subscription acknowledgements, refusals and pongs.
    fn on_op(&mut self, op: &str, msg: &Parsed<'_>, events: &mut Vec<FeedEvent>) -> Result<(), FrameError> {
        let message = msg.ret_msg.as_deref().unwrap_or_default();
        match (op, msg.success) {
            ("ping" | "pong", _) => {
                events.push(FeedEvent::Pong);
                Ok(())
            }
            // Bybit refuses a topic the connection already has (`error:already subscribed,topic:…`); the
            // subscription and its book stay as they are.
            ("subscribe", Some(false)) if message.contains("already subscribed") => Ok(()),
            ("subscribe" | "unsubscribe", Some(false)) => {
                // `error:handler not found,topic:orderbook.50.FOOUSDT` or `Invalid symbol :[orderbook.50.X]`.
                let slot = refused_symbol(message).and_then(|symbol| self.books.slot(symbol));
                if let Some(book) = slot.and_then(|s| self.books.get_mut(s)) {
                    book.tracked.state = BookState::Syncing;
                }
                events.push(FeedEvent::SubscriptionRefused { slot });
                Err(FrameError::Venue { code: op.to_owned(), message: message.to_owned() })
            }
            ("subscribe" | "unsubscribe", _) => Ok(()),
            (other, _) => Err(FrameError::Unknown(format!("op {other}"))),
        }
    }

    fn book_lost(&mut self, symbol: &str, events: &mut Vec<FeedEvent>) {
        let slot = self.track(symbol);
        let book = self.books.get_mut(slot).expect("slot just tracked");
        if book.tracked.state == BookState::Live {
            break_book(book, slot, ResyncReason::BadUpdate, events);
        }
    }

    fn on_book(
        &mut self,
        symbol: &str,
        snapshot: bool,
        data: BookData,
        ts_ms: Option<u64>,
        recv: RecvTime,
        events: &mut Vec<FeedEvent>,
    ) {
        let slot = self.track(symbol);
        let book = self.books.get_mut(slot).expect("slot just tracked");
        let outcome = if snapshot {
            book.tracked.book.replace(&self.bids, &self.asks).map_err(|_| ResyncReason::BadUpdate).map(|()| true)
        } else {
            match (book.tracked.state, book.tracked.sequence, data.update_id) {
                (BookState::Live, Some(last), Some(u)) if u == last + 1 => {
                    book.tracked.book.apply(&self.bids, &self.asks).map_err(|_| ResyncReason::BadUpdate).map(|()| true)
                }
                (BookState::Live, Some(last), Some(u)) if u <= last => {
                    book.tracked.stats.duplicates += 1;
                    Ok(false)
                }
                (BookState::Live, _, None) => Err(ResyncReason::BadUpdate),
                (BookState::Live, _, _) => Err(ResyncReason::SequenceGap),
                // A delta before any snapshot (or after a break, before the new snapshot): nothing to apply it to.
                _ => Ok(false),
            }
        };
        let outcome = outcome.and_then(|applied| {
            if applied && book.tracked.book.is_crossed() {
                return Err(ResyncReason::Crossed);
            }
            Ok(applied)
        });
        match outcome {
            Ok(true) => {
                book.tracked.sequence = data.update_id;
                book.tracked.state = BookState::Live;
                book.tracked.stats.updates_applied += 1;
                book.tracked.exchange_ms = ts_ms;
                book.tracked.recv = recv;
                events.push(FeedEvent::BookUpdated { slot });
            }
            Ok(false) => {}
            Err(reason) => break_book(book, slot, reason, events),
        }
    }

    fn on_ticker(&mut self, symbol: &str, data: &str, events: &mut Vec<FeedEvent>) -> Result<(), FrameError> {
        let update = parse_ticker_funding(data).map_err(|e| FrameError::Malformed(format!("tickers: {e}")))?;
        if update == TickerFunding::default() {
            return Ok(()); // a delta without funding fields
        }
        let slot = self.track(symbol);
        let book = self.books.get_mut(slot).expect("slot just tracked");
        let known = &mut book.funding;
        known.rate = update.rate.or(known.rate);
        known.next_ms = update.next_ms.or(known.next_ms);
        known.interval_hours = update.interval_hours.or(known.interval_hours);
        if let Some(rate) = known.rate {
            events.push(FeedEvent::Funding {
                slot,
                rate,
                next_funding_ms: known.next_ms,
                interval_hours: known.interval_hours,
            });
        }
        Ok(())
    }
}

impl Feed for BybitFeed {
    fn venue(&self) -> Venue {
        Venue::Bybit
    }

    fn on_frame(&mut self, frame: Frame<'_>, events: &mut Vec<FeedEvent>) -> Result<(), FrameError> {
        match frame.source {
            Source::Ws => self.on_ws(frame, events),
            // The books come whole from the WebSocket (a snapshot on every subscription): REST answers are not
            // book data for the feed.
            Source::Rest { .. } => Ok(()),
        }
    }

    fn book_slots(&self) -> &dyn BookSlots {
        &self.books
    }

    fn track(&mut self, symbol: &str) -> u32 {
        let depth = self.depth;
        self.books.slot_or_insert(symbol, || InstrumentBook {
            tracked: TrackedBook::new(OrderBook::new(0, 0, depth)),
            funding: TickerFunding::default(),
        })
    }

    fn invalidate(&mut self, slot: u32, reason: ResyncReason) {
        if let Some(book) = self.books.get_mut(slot) {
            book.tracked.invalidate(reason);
        }
    }

    /// The update id chain: each delta's `u` is the previous one + 1, and a snapshot replaces the book.
    fn integrity(&self) -> String {
        "u chain".to_owned()
    }
}

fn break_book(book: &mut InstrumentBook, slot: u32, reason: ResyncReason, events: &mut Vec<FeedEvent>) {
    book.tracked.invalidate(reason);
    events.push(FeedEvent::Resync { slot, reason });
}

/// `BTCUSDT` of `orderbook.50.BTCUSDT`.
fn book_symbol(topic: &str) -> Option<&str> {
    let rest = topic.strip_prefix("orderbook.")?;
    let (depth, symbol) = rest.split_once('.')?;
    depth.bytes().all(|b| b.is_ascii_digit()).then_some(symbol)
}

/// The symbol a refused subscription names (`…topic:orderbook.50.FOOUSDT` or `[orderbook.50.FOOUSDT]`).
fn refused_symbol(message: &str) -> Option<&str> {
    let start = message.find("orderbook.").or_else(|| message.find("tickers."))?;
    let topic = message[start..].split([']', ',', ' ', '"']).next()?;
    book_symbol(topic).or_else(|| topic.strip_prefix("tickers."))
}

/// Reads a whole frame, decoding a book's levels on the way when `topic` comes before `data` (as Bybit sends).
fn parse_frame<'a>(
    text: &'a str,
    out: &mut Parsed<'a>,
    bids: &mut Vec<RawLevel>,
    asks: &mut Vec<RawLevel>,
) -> Result<(), JsonError> {
    let mut cursor = JsonCursor::new(text);
    cursor.object(|cursor, key| {
        match key {
            "topic" => out.topic = Some(cursor.string()?),
            "type" => out.kind = Some(cursor.string()?),
            // A number, though the docs also show it quoted.
            "ts" => out.ts_ms = cursor.raw()?.trim_matches('"').parse().ok(),
            "data" if out.topic.as_deref().is_some_and(|t| book_symbol(t).is_some()) => {
                out.in_book_data = true;
                out.book = Some(parse_book_data(cursor, bids, asks)?);
                out.in_book_data = false;
            }
            "data" => out.data = Some(cursor.raw()?),
            "op" => out.op = Some(cursor.string()?),
            "success" => out.success = Some(cursor.raw()? == "true"),
            "ret_msg" => out.ret_msg = Some(cursor.string()?),
            _ => cursor.skip()?,
        }
        Ok(())
    })?;
    cursor.end()
}

/// Reads a book message's `data`: `{"s", "b": [[price, size]…], "a": […], "u", "seq"}`.
fn parse_book_data(
    cursor: &mut JsonCursor<'_>,
    bids: &mut Vec<RawLevel>,
    asks: &mut Vec<RawLevel>,
) -> Result<BookData, JsonError> {
    let mut data = BookData::default();
    cursor.object(|cursor, key| {
        match key {
            "b" => cursor.levels(bids)?,
            "a" => cursor.levels(asks)?,
            "u" => data.update_id = Some(cursor.u64()?),
            _ => cursor.skip()?,
        }
        Ok(())
    })?;
    Ok(data)
}

/// The funding fields of a tickers `data` object (absent ones are `None`).
fn parse_ticker_funding(data: &str) -> Result<TickerFunding, BodyError> {
    let msg: crate::messages::TickerMsg = decode(data.as_bytes())?;
    let number = |field, text: Option<&str>| -> Result<Option<f64>, BodyError> {
        match text.filter(|t| !t.is_empty()) {
            None => Ok(None),
            Some(text) => text.parse::<f64>().map(Some).map_err(|_| BodyError::field(field, text, "is not a number")),
        }
    };
    Ok(TickerFunding {
        rate: number("fundingRate", msg.funding_rate.as_deref())?,
        next_ms: number("nextFundingTime", msg.next_funding_time.as_deref())?.map(|v| v as u64).filter(|v| *v > 0),
        interval_hours: number("fundingIntervalHour", msg.funding_interval_hour.as_deref())?
            .map(|v| v as u32)
            .filter(|h| *h > 0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use perpspread_core::feed::RecvTime;

    const SNAPSHOT: &str = r#"{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1672304484978,"data":{"s":"BTCUSDT","b":[["16493.50","0.006"],["16493.00","0.100"]],"a":[["16611.00","0.029"],["16612.00","0.213"]],"u":18521288,"seq":7961638724},"cts":1672304484976}"#;

    fn delta(u: u64, bids: &str, asks: &str) -> String {
        format!(
            r#"{{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1672304484979,"data":{{"s":"BTCUSDT","b":{bids},"a":{asks},"u":{u},"seq":7961638725}},"cts":1672304484977}}"#
        )
    }

    fn ws(feed: &mut BybitFeed, data: &str) -> (Result<(), FrameError>, Vec<FeedEvent>) {
        let mut events = Vec::new();
        let recv = RecvTime { wall_ns: 1_672_304_485_000_000_000, mono_ns: 1 };
        let result = feed.on_frame(Frame { source: Source::Ws, data, recv }, &mut events);
        (result, events)
    }

    fn best(feed: &BybitFeed) -> (String, String) {
        let book = &feed.book(0).unwrap().book;
        (book.price_of(&book.best_bid().unwrap()).to_string(), book.price_of(&book.best_ask().unwrap()).to_string())
    }

    #[test]
    fn a_snapshot_then_consecutive_deltas_keep_the_book() {
        let mut feed = BybitFeed::default();
        let (result, events) = ws(&mut feed, SNAPSHOT);
        result.unwrap();
        assert_eq!(events, [FeedEvent::BookUpdated { slot: 0 }]);
        let tracked = feed.book(0).unwrap();
        assert_eq!(
            (tracked.state, tracked.sequence, tracked.exchange_ms),
            (BookState::Live, Some(18521288), Some(1672304484978))
        );
        assert_eq!(best(&feed), ("16493.50".into(), "16611.00".into()));
        // The best bid goes (size 0), a better ask comes.
        let (result, events) = ws(&mut feed, &delta(18521289, r#"[["16493.50","0"]]"#, r#"[["16610.00","1.5"]]"#));
        result.unwrap();
        assert_eq!(events, [FeedEvent::BookUpdated { slot: 0 }]);
        assert_eq!(best(&feed), ("16493.00".into(), "16610.00".into()));
        assert_eq!(feed.integrity(), "u chain");
    }

    #[test]
    fn a_gap_in_u_breaks_the_book_until_a_new_snapshot() {
        let mut feed = BybitFeed::default();
        ws(&mut feed, SNAPSHOT).0.unwrap();
        let (_, events) = ws(&mut feed, &delta(18521290, "[]", r#"[["16610.00","1"]]"#));
        assert_eq!(events, [FeedEvent::Resync { slot: 0, reason: ResyncReason::SequenceGap }]);
        assert_eq!(feed.book(0).unwrap().state, BookState::Resyncing);
        // Deltas before the new snapshot change nothing; the snapshot (a resubscription's answer) restores it.
        assert!(ws(&mut feed, &delta(18521291, "[]", "[]")).1.is_empty());
        let (_, events) = ws(&mut feed, SNAPSHOT);
        assert_eq!(events, [FeedEvent::BookUpdated { slot: 0 }]);
        assert_eq!(feed.book(0).unwrap().stats.sequence_gaps, 1);
    }

    #[test]
    fn a_repeated_delta_is_ignored_and_a_restart_snapshot_replaces_the_book() {
        let mut feed = BybitFeed::default();
        ws(&mut feed, SNAPSHOT).0.unwrap();
        ws(&mut feed, &delta(18521289, "[]", r#"[["16611.00","0"]]"#)).0.unwrap();
        assert!(ws(&mut feed, &delta(18521289, "[]", r#"[["16611.00","0"]]"#)).1.is_empty());
        assert_eq!(feed.book(0).unwrap().stats.duplicates, 1);
        // After a service restart `u` starts again at 1, with a snapshot: the book is replaced, not merged.
        let restart = SNAPSHOT.replace("18521288", "1").replace(r#"["16611.00","0.029"],"#, "");
        let (_, events) = ws(&mut feed, &restart);
        assert_eq!(events, [FeedEvent::BookUpdated { slot: 0 }]);
        assert_eq!(best(&feed), ("16493.50".into(), "16612.00".into()));
        ws(&mut feed, &delta(2, "[]", "[]")).0.unwrap();
        assert_eq!(feed.book(0).unwrap().state, BookState::Live);
    }

    #[test]
    fn a_crossed_or_undecodable_update_breaks_the_book() {
        let mut feed = BybitFeed::default();
        ws(&mut feed, SNAPSHOT).0.unwrap();
        let (_, events) = ws(&mut feed, &delta(18521289, r#"[["16700.00","1"]]"#, "[]"));
        assert_eq!(events, [FeedEvent::Resync { slot: 0, reason: ResyncReason::Crossed }]);
        ws(&mut feed, SNAPSHOT).0.unwrap();
        let (result, events) = ws(&mut feed, &delta(18521289, r#"[["x","1"]]"#, "[]"));
        assert!(matches!(result, Err(FrameError::Malformed(_))));
        assert_eq!(events, [FeedEvent::Resync { slot: 0, reason: ResyncReason::BadUpdate }]);
    }

    #[test]
    fn tickers_report_funding_as_it_changes() {
        let mut feed = BybitFeed::default();
        let snapshot = r#"{"topic":"tickers.BTCUSDT","type":"snapshot","data":{"symbol":"BTCUSDT","tickDirection":"PlusTick","price24hPcnt":"0.017103","lastPrice":"17216.00","markPrice":"17217.33","indexPrice":"17227.36","turnover24h":"1570383121.943499","volume24h":"91705.276","nextFundingTime":"1673280000000","fundingRate":"-0.000212","fundingIntervalHour":"8","bid1Price":"17215.50","bid1Size":"84.489","ask1Price":"17216.00","ask1Size":"83.020"},"cs":24987956059,"ts":1673272861686}"#;
        let (result, events) = ws(&mut feed, snapshot);
        result.unwrap();
        assert_eq!(
            events,
            [FeedEvent::Funding {
                slot: 0,
                rate: -0.000212,
                next_funding_ms: Some(1673280000000),
                interval_hours: Some(8)
            }]
        );
        // A delta without funding fields says nothing; one with a new rate keeps the known time and interval.
        let price_only = r#"{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","lastPrice":"17217.00"},"cs":24987956060,"ts":1673272861786}"#;
        assert!(ws(&mut feed, price_only).1.is_empty());
        let rate = r#"{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","fundingRate":"0.0001"},"cs":24987956061,"ts":1673272861886}"#;
        assert_eq!(
            ws(&mut feed, rate).1,
            [FeedEvent::Funding {
                slot: 0,
                rate: 0.0001,
                next_funding_ms: Some(1673280000000),
                interval_hours: Some(8)
            }]
        );
    }

    #[test]
    fn acknowledgements_pongs_and_refusals() {
        let mut feed = BybitFeed::default();
        let ack = r#"{"success":true,"ret_msg":"","conn_id":"2324d924-aa4d-45b0-a858-7b8be29ab52b","req_id":"10001","op":"subscribe"}"#;
        assert_eq!(ws(&mut feed, ack), (Ok(()), vec![]));
        let pong = r#"{"success":true,"ret_msg":"pong","conn_id":"0970e817-426e-429a-a679-ff7f55e0b16a","op":"ping"}"#;
        assert_eq!(ws(&mut feed, pong).1, [FeedEvent::Pong]);
        feed.track("FOOUSDT");
        let refused = r#"{"success":false,"ret_msg":"error:handler not found,topic:orderbook.50.FOOUSDT","conn_id":"c1","req_id":"","op":"subscribe"}"#;
        let (result, events) = ws(&mut feed, refused);
        assert!(matches!(result, Err(FrameError::Venue { .. })));
        assert_eq!(events, [FeedEvent::SubscriptionRefused { slot: Some(0) }]);
        // A topic already subscribed: refused by Bybit, but the book and its subscription are untouched.
        feed.books.get_mut(0).unwrap().tracked.state = BookState::Live;
        let already = r#"{"success":false,"ret_msg":"error:already subscribed,topic:orderbook.50.FOOUSDT","conn_id":"c1","req_id":"","op":"subscribe"}"#;
        assert_eq!(ws(&mut feed, already), (Ok(()), vec![]));
        assert_eq!(feed.books.get(0).unwrap().tracked.state, BookState::Live);
        assert!(matches!(ws(&mut feed, r#"{"topic":"weird.X","data":{}}"#).0, Err(FrameError::Unknown(_))));
        assert!(matches!(ws(&mut feed, "{").0, Err(FrameError::Malformed(_))));
        assert_eq!(book_symbol("orderbook.1000.1000PEPEUSDT"), Some("1000PEPEUSDT"));
        assert_eq!(book_symbol("orderbook.x.BTC"), None);
    }
}

#[cfg(test)]
mod real_tests {
    use super::*;
    use perpspread_core::feed::RecvTime;

    /// Real linear `tickers` frames (fixtures/real, from gocryptotrader): funding from each snapshot, nothing
    /// from deltas that carry no funding field.
    #[test]
    fn recorded_linear_tickers() {
        let text = include_str!("../../../fixtures/real/bybit_linear_tickers_2024-05-15.jsonl");
        let mut feed = BybitFeed::default();
        let mut all = Vec::new();
        for line in text.lines() {
            let mut events = Vec::new();
            let recv = RecvTime { wall_ns: 1_715_748_763_000_000_000, mono_ns: 1 };
            feed.on_frame(Frame { source: Source::Ws, data: line, recv }, &mut events).unwrap();
            all.extend(events);
        }
        assert_eq!(
            all,
            [
                FeedEvent::Funding {
                    slot: 0,
                    rate: 0.00008055,
                    next_funding_ms: Some(1715760000000),
                    interval_hours: None
                },
                FeedEvent::Funding {
                    slot: 1,
                    rate: 0.00004979,
                    next_funding_ms: Some(1715760000000),
                    interval_hours: None
                },
            ]
        );
        assert_eq!((feed.symbol(0), feed.symbol(1)), (Some("BTCUSDT"), Some("BTCPERP")));
    }
}

#[cfg(test)]
mod docs_tests {
    use super::*;
    use perpspread_core::feed::RecvTime;

    fn frame(feed: &mut BybitFeed, data: &str) -> Vec<FeedEvent> {
        let mut events = Vec::new();
        let recv = RecvTime { wall_ns: 1_709_891_680_000_000_000, mono_ns: 1 };
        feed.on_frame(Frame { source: Source::Ws, data, recv }, &mut events).unwrap();
        events
    }

    /// The documented order-book snapshot and the delta that follows it (fixtures/docs-examples/bybit, via
    /// nautilus_trader), pretty-printed as the files are; and the documented ticker.
    #[test]
    fn documented_book_and_ticker() {
        let mut feed = BybitFeed::default();
        let snapshot = include_str!("../../../fixtures/docs-examples/bybit/ws_orderbook_snapshot.json");
        let delta = include_str!("../../../fixtures/docs-examples/bybit/ws_orderbook_delta.json");
        assert_eq!(frame(&mut feed, snapshot), [FeedEvent::BookUpdated { slot: 0 }]);
        assert_eq!(frame(&mut feed, delta), [FeedEvent::BookUpdated { slot: 0 }]);
        let tracked = feed.book(0).unwrap();
        assert_eq!((tracked.sequence, tracked.exchange_ms), (Some(123456790), Some(1709891679500)));
        let book = &tracked.book;
        // The best ask 27451.00 was deleted; the best bid resized to 0.400.
        let (bid, ask) = (book.best_bid().unwrap(), book.best_ask().unwrap());
        assert_eq!(
            (book.price_of(&bid).to_string(), book.qty_of(&bid).to_string()),
            ("27450.00".into(), "0.400".into())
        );
        assert_eq!(book.price_of(&ask).to_string(), "27451.50");
        let ticker = include_str!("../../../fixtures/docs-examples/bybit/ws_ticker_linear.json");
        assert_eq!(
            frame(&mut feed, ticker),
            [FeedEvent::Funding {
                slot: 0,
                rate: -0.000212,
                next_funding_ms: Some(1673280000000),
                interval_hours: None
            }]
        );
    }
}

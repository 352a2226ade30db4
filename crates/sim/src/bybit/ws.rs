//! Bybit v5 public linear WebSocket (`/v5/public/linear`): `orderbook.{1,50,200,1000}.{symbol}` (a snapshot of the
//! top `depth` levels on subscribing, then deltas whose `u` grows by one that keep the subscriber's book at that
//! depth: a level leaving the top is deleted, one entering it is sent whole; depth 1 sends snapshots only) and
//! `tickers.{symbol}` (a snapshot, then funding deltas on the timer); `{"op":"ping"}` answered with
//! `"ret_msg":"pong"`; a topic Bybit does not serve is refused with `error:handler not found,topic:…` (the other
//! topics of the request are still subscribed), a topic already subscribed on the connection with
//! `error:already subscribed,topic:…` (and no new snapshot). At most 500 connections per 5 minutes per IP.

use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use perpspread_core::health::StreamKind;
use perpspread_core::{Side, Venue};
use serde::Deserialize;

use crate::bybit::rest::ticker_value;
use crate::faults::{lock, FaultKind};
use crate::model::{BookDelta, BookMeta, Market, VenueBook};
use crate::render::{change_pairs, level_pairs, write_levels};
use crate::server::{Shared, StepEvent};
use crate::ws::{conn_id, drive, DriveOptions, Session, StreamFaults};

/// Order book depths served on linear.
const DEPTHS: [u32; 4] = [1, 50, 200, 1000];

/// The Bybit public linear route.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().route("/v5/public/linear", any(upgrade)).with_state(shared)
}

async fn upgrade(State(shared): State<Arc<Shared>>, ws: WebSocketUpgrade) -> Response {
    if !shared.limits.connect(Venue::Bybit, 500, Duration::from_secs(300)) {
        return (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response();
    }
    ws.on_upgrade(move |socket| async move {
        let options = DriveOptions {
            venue: Venue::Bybit,
            // Bybit closes a connection that sends no ping for 10 minutes.
            idle_timeout: Some(Duration::from_secs(600)),
            ping_interval: None,
            pong_timeout: Duration::from_secs(30),
            max_lifetime: None,
            timer_interval: Duration::from_millis(shared.config.funding_push_interval_ms.max(1)),
        };
        let session = BybitSession { conn_id: conn_id(), subs: Vec::new(), faults: StreamFaults::default() };
        drive(socket, Arc::clone(&shared), session, options, Vec::new()).await;
    })
}

/// One subscription.
#[derive(Debug)]
struct Sub {
    topic: String,
    symbol: String,
    /// `Some(depth)` for an order book, `None` for tickers.
    depth: Option<u32>,
    /// Index of the book in the step events.
    slot: usize,
    /// Step of the snapshot; earlier step events are already in it.
    since_step: u64,
    muted: bool,
    /// The top levels last sent, `(price, qty)` best first, per side (bids, asks): what the subscriber holds.
    shown: [Vec<(i64, i64)>; 2],
    /// The update id last sent on this topic (each message of the topic takes the next one).
    u: u64,
}

impl Sub {
    fn stream(&self) -> StreamKind {
        if self.depth.is_some() {
            StreamKind::Book
        } else {
            StreamKind::Funding
        }
    }
}

#[derive(Debug, Deserialize)]
struct Request {
    op: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    req_id: Option<String>,
}

/// The Bybit protocol on one connection.
struct BybitSession {
    conn_id: String,
    subs: Vec<Sub>,
    faults: StreamFaults,
}

/// What became of one topic of a request.
enum Handled {
    Done,
    /// Bybit serves no such topic (or a refusal fault).
    Unserved,
    /// Already subscribed on this connection: refused, the subscription stays.
    Already,
}

impl Session for BybitSession {
    fn on_text(&mut self, shared: &Shared, text: &str, out: &mut Vec<String>) {
        let Ok(request) = serde_json::from_str::<Request>(text) else {
            return out.push(self.answer("", false, "error:request not json", ""));
        };
        let req_id = request.req_id.clone().unwrap_or_default();
        match request.op.as_str() {
            "ping" => out.push(self.answer("ping", true, "pong", &req_id)),
            "subscribe" | "unsubscribe" => {
                let subscribe = request.op == "subscribe";
                let (mut refused, mut already) = (None, None);
                let mut initial = Vec::new();
                for topic in &request.args {
                    match self.handle(shared, subscribe, topic, &mut initial) {
                        Handled::Done => {}
                        Handled::Unserved => drop(refused.get_or_insert(topic.clone())),
                        Handled::Already => drop(already.get_or_insert(topic.clone())),
                    }
                }
                let error = match (refused, already) {
                    (Some(topic), _) => Some(format!("error:handler not found,topic:{topic}")),
                    (None, Some(topic)) => Some(format!("error:already subscribed,topic:{topic}")),
                    (None, None) => None,
                };
                match error {
                    Some(message) => out.push(self.answer(&request.op, false, &message, &req_id)),
                    None => out.push(self.answer(&request.op, true, "", &req_id)),
                }
                out.extend(initial);
            }
            other => out.push(self.answer(other, false, &format!("error:unknown op {other}"), &req_id)),
        }
    }

    fn on_step(&mut self, shared: &Shared, event: &StepEvent, out: &mut Vec<String>) {
        let changed =
            |sub: &Sub| event.deltas[Venue::Bybit].get(sub.slot).is_some_and(|d: &BookDelta| !d.changes.is_empty());
        if !self.subs.iter().any(|s| s.depth.is_some() && !s.muted && event.step > s.since_step && changed(s)) {
            return;
        }
        let market = lock(&shared.market);
        for sub in &mut self.subs {
            let Some(depth) = sub.depth.filter(|_| !sub.muted && event.step > sub.since_step) else {
                continue;
            };
            let (Some(delta), Some(book)) = (
                event.deltas[Venue::Bybit].get(sub.slot).filter(|d| !d.changes.is_empty()),
                market.book(Venue::Bybit, &sub.symbol),
            ) else {
                continue;
            };
            let top = top_levels(book, depth as usize);
            let changes = [diff(&sub.shown[0], &top[0]), diff(&sub.shown[1], &top[1])];
            if changes.iter().all(Vec::is_empty) {
                continue; // nothing changed within the subscribed depth: nothing sent, no id spent
            }
            sub.u += 1;
            let frame = if depth == 1 {
                // Level 1 is snapshots only.
                snapshot_frame(&sub.topic, book, depth as usize, sub.u, event.now_ms)
            } else {
                delta_frame(&sub.topic, &delta.meta, changes, sub.u, event.now_ms)
            };
            sub.shown = top;
            if let Some(applied) = self.faults.emit(&sub.symbol, frame, out) {
                tracing::debug!(conn = %self.conn_id, symbol = sub.symbol, applied, "stream fault applied");
            }
        }
    }

    fn on_timer(&mut self, shared: &Shared, out: &mut Vec<String>) {
        let market = lock(&shared.market);
        for sub in self.subs.iter().filter(|s| s.depth.is_none() && !s.muted) {
            if let Some(frame) = ticker_frame(&market, &sub.symbol, "delta") {
                out.push(frame);
            }
        }
    }

    fn on_fault(&mut self, shared: &Shared, fault: &FaultKind, out: &mut Vec<String>) {
        match fault {
            FaultKind::Mute { stream, .. } => {
                for sub in self.subs.iter_mut().filter(|s| s.stream() == *stream) {
                    sub.muted = true;
                }
            }
            FaultKind::UnknownMessage { .. } => out.push(format!(
                r#"{{"topic":"mystery.BTCUSDT","type":"snapshot","ts":0,"data":{{}},"conn_id":"{}"}}"#,
                self.conn_id
            )),
            FaultKind::ServiceRestart { symbol, .. } => {
                // The model's ids already start again at 1: every book subscription of the symbol gets a snapshot.
                let market = lock(&shared.market);
                let Some(book) = market.book(Venue::Bybit, symbol) else { return };
                let now = market.now_ms();
                for sub in self.subs.iter_mut().filter(|s| s.depth.is_some() && &s.symbol == symbol) {
                    let depth = sub.depth.unwrap_or(1) as usize;
                    sub.since_step = market.step_index();
                    sub.shown = top_levels(book, depth);
                    sub.u = 1;
                    out.push(snapshot_frame(&sub.topic, book, depth, sub.u, now));
                }
            }
            _ if self.faults.arm(fault) => {}
            _ => return,
        }
        shared.faults.record("applied", fault, Some(&self.conn_id));
    }

    fn conn_id(&self) -> &str {
        &self.conn_id
    }
}

impl BybitSession {
    fn answer(&self, op: &str, success: bool, message: &str, req_id: &str) -> String {
        serde_json::json!({"success": success, "ret_msg": message, "conn_id": self.conn_id, "req_id": req_id, "op": op})
            .to_string()
    }

    /// Subscribes or unsubscribes one topic (with its initial snapshot).
    fn handle(&mut self, shared: &Shared, subscribe: bool, topic: &str, out: &mut Vec<String>) -> Handled {
        let market = lock(&shared.market);
        let (depth, symbol) = match topic.split('.').collect::<Vec<_>>().as_slice() {
            ["orderbook", depth, symbol] => match depth.parse::<u32>() {
                Ok(depth) if DEPTHS.contains(&depth) => (Some(depth), *symbol),
                _ => return Handled::Unserved,
            },
            ["tickers", symbol] => (None, *symbol),
            _ => return Handled::Unserved,
        };
        let Some(slot) = market.book_slot(Venue::Bybit, symbol) else {
            return Handled::Unserved;
        };
        if subscribe && self.subs.iter().any(|s| s.topic == topic) {
            return Handled::Already;
        }
        self.subs.retain(|s| s.topic != topic);
        if !subscribe {
            return Handled::Done;
        }
        if shared.faults.take_refusal(Venue::Bybit) {
            let kind = FaultKind::RefuseSubscription { venue: Venue::Bybit, count: 1 };
            shared.faults.record("applied", &kind, Some(&self.conn_id));
            return Handled::Unserved;
        }
        let book = market.book(Venue::Bybit, symbol);
        let initial = match (depth, book) {
            (Some(depth), Some(book)) => Some(snapshot_frame(topic, book, depth as usize, book.seq, market.now_ms())),
            (Some(_), None) => None,
            (None, _) => ticker_frame(&market, symbol, "snapshot"),
        };
        out.extend(initial);
        let shown = match (depth, book) {
            (Some(depth), Some(book)) => top_levels(book, depth as usize),
            _ => Default::default(),
        };
        self.subs.push(Sub {
            topic: topic.to_owned(),
            symbol: symbol.to_owned(),
            depth,
            slot,
            since_step: market.step_index(),
            muted: false,
            shown,
            u: book.map_or(0, |b| b.seq),
        });
        Handled::Done
    }
}

/// The top `depth` levels of each side, `(price, qty)` best first: bids, asks.
fn top_levels(book: &VenueBook, depth: usize) -> [Vec<(i64, i64)>; 2] {
    [Side::Bid, Side::Ask].map(|side| level_pairs(book.book.levels(side).take(depth)).collect())
}

/// What turns `before` into `after` (same side, best first): levels gone get size 0, new or resized levels their
/// size; deletions first.
fn diff(before: &[(i64, i64)], after: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let now: std::collections::HashMap<i64, i64> = after.iter().copied().collect();
    let was: std::collections::HashMap<i64, i64> = before.iter().copied().collect();
    let gone = before.iter().filter(|(price, _)| !now.contains_key(price)).map(|(price, _)| (*price, 0));
    let set = after.iter().filter(|(price, qty)| was.get(price) != Some(qty)).copied();
    gone.chain(set).collect()
}

/// An `orderbook` snapshot of the top `depth` levels with update id `u`.
pub(crate) fn snapshot_frame(topic: &str, book: &VenueBook, depth: usize, u: u64, now_ms: u64) -> String {
    let mut out = String::with_capacity(40_000);
    let _ = write!(
        out,
        r#"{{"topic":"{topic}","type":"snapshot","ts":{now_ms},"data":{{"s":"{}","b":"#,
        book.meta.symbol()
    );
    write_levels(&mut out, &book.meta, level_pairs(book.book.levels(Side::Bid).take(depth)));
    out.push_str(r#","a":"#);
    write_levels(&mut out, &book.meta, level_pairs(book.book.levels(Side::Ask).take(depth)));
    let _ = write!(out, r#","u":{u},"seq":{}}},"cts":{now_ms}}}"#, book.seq * 7);
    out
}

/// An `orderbook` delta: the level changes of each side (`[bids, asks]`, size 0 deletes), `u` one above the last.
pub(crate) fn delta_frame(
    topic: &str,
    meta: &BookMeta,
    changes: [Vec<(i64, i64)>; 2],
    seq: u64,
    now_ms: u64,
) -> String {
    let mut out = String::with_capacity(128 + (changes[0].len() + changes[1].len()) * 32);
    let _ = write!(out, r#"{{"topic":"{topic}","type":"delta","ts":{now_ms},"data":{{"s":"{}","b":"#, meta.symbol());
    let [bids, asks] = changes;
    write_levels(&mut out, meta, bids);
    out.push_str(r#","a":"#);
    write_levels(&mut out, meta, asks);
    let _ = write!(out, r#","u":{seq},"seq":{}}},"cts":{now_ms}}}"#, seq * 7);
    out
}

/// A delta of a whole model step (every changed level; the capture generator's `orderbook.1000` streams).
pub(crate) fn step_delta_frame(topic: &str, delta: &BookDelta, now_ms: u64) -> String {
    let mut bids: Vec<(i64, i64)> = change_pairs(&delta.changes, Side::Bid).collect();
    bids.sort_by_key(|&(price, qty)| (qty != 0, std::cmp::Reverse(price)));
    let mut asks: Vec<(i64, i64)> = change_pairs(&delta.changes, Side::Ask).collect();
    asks.sort_by_key(|&(price, qty)| (qty != 0, price));
    delta_frame(topic, &delta.meta, [bids, asks], delta.seq, now_ms)
}

/// A `tickers` message: the whole ticker (`snapshot`) or its funding fields (`delta`).
pub(crate) fn ticker_frame(market: &Market, symbol: &str, kind: &str) -> Option<String> {
    let pair = market.pair_of(Venue::Bybit, symbol)?;
    let book = pair.bybit.as_ref()?;
    let mut data = ticker_value(market, pair, book);
    if kind == "delta" {
        let keep = ["symbol", "fundingRate", "nextFundingTime", "fundingIntervalHour", "markPrice"];
        if let Some(object) = data.as_object_mut() {
            object.retain(|key, _| keep.contains(&key.as_str()));
        }
    }
    let now = market.now_ms();
    Some(format!(r#"{{"topic":"tickers.{symbol}","type":"{kind}","data":{data},"cs":{now},"ts":{now}}}"#))
}

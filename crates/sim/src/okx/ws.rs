//! OKX v5 public WebSocket (`/ws/v5/public`): `books` (400-level snapshot, then deltas chained by
//! `seqId`/`prevSeqId` with a CRC32 or zero `checksum`), `books5`, `bbo-tbt`, `tickers` and
//! `funding-rate`; `ping`/`pong`; OKX's subscribe acknowledgements and error events.

use std::collections::VecDeque;
use std::fmt::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use perpspread_core::health::StreamKind;
use perpspread_core::{Level, Side, Venue};
use serde::Deserialize;

use crate::faults::{lock, FaultKind};
use crate::model::{BookDelta, BookMeta, Market, PairState, VenueBook};
use crate::okx::rest::{funding_json, ticker_json};
use crate::render::{change_pairs, level_pairs, write_levels};
use crate::server::{Shared, StepEvent};
use crate::ws::{conn_id, drive, DriveOptions, Session, StreamFaults};

/// The OKX WebSocket route.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().route("/ws/v5/public", any(upgrade)).with_state(shared)
}

async fn upgrade(State(shared): State<Arc<Shared>>, ws: WebSocketUpgrade) -> Response {
    if !shared.limits.connect(Venue::Okx, shared.config.okx_connects_per_second, Duration::from_secs(1)) {
        return (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response();
    }
    ws.on_upgrade(move |socket| async move {
        let config = &shared.config;
        let options = DriveOptions {
            venue: Venue::Okx,
            idle_timeout: Some(Duration::from_millis(config.okx_idle_timeout_ms)),
            ping_interval: None,
            pong_timeout: Duration::from_secs(30),
            max_lifetime: None,
            timer_interval: Duration::from_millis(config.funding_push_interval_ms.max(1)),
        };
        let session = OkxSession {
            conn_id: conn_id(),
            subs: Vec::new(),
            faults: StreamFaults::default(),
            requests: VecDeque::new(),
        };
        drive(socket, Arc::clone(&shared), session, options, Vec::new()).await;
    })
}

/// Public channels served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Channel {
    Books,
    Books5,
    BboTbt,
    Tickers,
    FundingRate,
}

impl Channel {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "books" => Channel::Books,
            "books5" => Channel::Books5,
            "bbo-tbt" => Channel::BboTbt,
            "tickers" => Channel::Tickers,
            "funding-rate" => Channel::FundingRate,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Channel::Books => "books",
            Channel::Books5 => "books5",
            Channel::BboTbt => "bbo-tbt",
            Channel::Tickers => "tickers",
            Channel::FundingRate => "funding-rate",
        }
    }
}

/// One subscription of a connection.
#[derive(Debug)]
struct Sub {
    channel: Channel,
    inst_id: String,
    /// Index of the book in the step events.
    slot: usize,
    /// Step at which the snapshot was taken; earlier step events are already in it.
    since_step: u64,
    /// Best bid and ask last published (for top-of-book channels).
    last_top: Option<(Level, Level)>,
    /// Acknowledged but no longer delivered (a [`FaultKind::Mute`]).
    muted: bool,
}

impl Sub {
    fn stream(&self) -> Option<StreamKind> {
        match self.channel {
            Channel::Books | Channel::Books5 | Channel::BboTbt => Some(StreamKind::Book),
            Channel::FundingRate => Some(StreamKind::Funding),
            Channel::Tickers => None,
        }
    }
}

#[derive(Debug, Deserialize)]
struct Request<'a> {
    #[serde(borrow)]
    op: &'a str,
    #[serde(default, borrow)]
    args: Vec<Arg<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Arg<'a> {
    #[serde(default, borrow)]
    channel: &'a str,
    #[serde(default, borrow)]
    inst_id: &'a str,
}

/// The OKX protocol on one connection.
struct OkxSession {
    conn_id: String,
    subs: Vec<Sub>,
    faults: StreamFaults,
    /// When the connection's subscribe/unsubscribe requests of the last hour arrived (480 allowed).
    requests: VecDeque<Instant>,
}

/// OKX recommends fewer than 30 channels of 50/400 depth levels per connection.
const MAX_BOOK_CHANNELS: usize = 30;

impl Session for OkxSession {
    fn on_text(&mut self, shared: &Shared, text: &str, out: &mut Vec<String>) {
        if text == "ping" {
            out.push("pong".into());
            return;
        }
        let request: Request = match serde_json::from_str(text) {
            Ok(request) => request,
            Err(_) => return out.push(self.error("60012", &format!("Invalid request: {}", text.escape_default()))),
        };
        match request.op {
            "subscribe" | "unsubscribe" if !request.args.is_empty() => {
                if !self.within_request_budget(shared) {
                    return out.push(self.error(
                        "50011",
                        "Rate limit reached. Please refer to API documentation and throttle requests accordingly",
                    ));
                }
                for arg in &request.args {
                    self.handle(shared, request.op == "subscribe", arg, out);
                }
                let books = self.subs.iter().filter(|s| s.channel == Channel::Books).count();
                if books >= MAX_BOOK_CHANNELS {
                    shared.limits.violated(Venue::Okx, format!("{books} 400-level book channels on one connection (fewer than {MAX_BOOK_CHANNELS} recommended)"));
                }
            }
            _ => out.push(self.error("60012", &format!("Invalid request: {}", text.escape_default()))),
        }
    }

    fn on_step(&mut self, shared: &Shared, event: &StepEvent, out: &mut Vec<String>) {
        let mut tickers = Vec::new();
        for i in 0..self.subs.len() {
            let sub = &self.subs[i];
            let Some(delta) =
                event.deltas[Venue::Okx].get(sub.slot).filter(|_| event.step > sub.since_step && !sub.muted)
            else {
                continue;
            };
            match sub.channel {
                Channel::Books => {
                    let inst_id = sub.inst_id.clone();
                    let wrong = self.faults.take_wrong_checksum(&inst_id);
                    if let Some(applied) = self.faults.emit(&inst_id, update_frame(delta, event.now_ms, wrong), out) {
                        tracing::debug!(conn = %self.conn_id, inst_id, applied, "stream fault applied");
                    }
                }
                Channel::Books5 if !delta.changes.is_empty() => out.push(books5_frame(delta, event.now_ms)),
                Channel::BboTbt | Channel::Tickers => {
                    let top = delta.bids.first().copied().zip(delta.asks.first().copied());
                    if top == sub.last_top {
                        continue;
                    }
                    self.subs[i].last_top = top;
                    if self.subs[i].channel == Channel::BboTbt {
                        out.push(bbo_frame(delta, event.now_ms));
                    } else {
                        tickers.push(i);
                    }
                }
                Channel::Books5 | Channel::FundingRate => {}
            }
        }
        if !tickers.is_empty() {
            // Tickers carry pair-level data (24 h statistics) read from the market itself.
            let market = lock(&shared.market);
            out.extend(tickers.into_iter().filter_map(|i| data_frame(&market, &self.subs[i])));
        }
    }

    fn on_timer(&mut self, shared: &Shared, out: &mut Vec<String>) {
        let market = lock(&shared.market);
        for sub in self.subs.iter().filter(|s| s.channel == Channel::FundingRate && !s.muted) {
            if let Some(frame) = data_frame(&market, sub) {
                out.push(frame);
            }
        }
    }

    fn on_fault(&mut self, shared: &Shared, fault: &FaultKind, out: &mut Vec<String>) {
        if let FaultKind::Mute { stream, .. } = fault {
            for sub in self.subs.iter_mut().filter(|s| s.stream() == Some(*stream)) {
                sub.muted = true;
            }
        } else if let FaultKind::UnknownMessage { .. } = fault {
            out.push(format!(
                r#"{{"event":"mystery","msg":"a message type no client knows","connId":"{}"}}"#,
                self.conn_id
            ));
        } else if self.faults.arm(fault) {
            if let FaultKind::Burst { symbol, .. } = fault {
                self.burst(shared, symbol, out);
            }
        } else {
            return;
        }
        shared.faults.record("applied", fault, Some(&self.conn_id));
    }

    fn conn_id(&self) -> &str {
        &self.conn_id
    }
}

impl OkxSession {
    /// Counts a subscribe/unsubscribe request; `false` (a broken limit) when the hour's budget is spent.
    fn within_request_budget(&mut self, shared: &Shared) -> bool {
        let now = Instant::now();
        while self.requests.front().is_some_and(|at| now.duration_since(*at) >= Duration::from_secs(3600)) {
            self.requests.pop_front();
        }
        let allowed = shared.config.okx_requests_per_hour as usize;
        if self.requests.len() >= allowed {
            shared
                .limits
                .violated(Venue::Okx, format!("more than {allowed} subscribe requests an hour on one connection"));
            return false;
        }
        self.requests.push_back(now);
        true
    }

    fn error(&self, code: &str, msg: &str) -> String {
        format!(r#"{{"event":"error","code":"{code}","msg":"{msg}","connId":"{}"}}"#, self.conn_id)
    }

    fn ack(&self, event: &str, channel: &str, inst_id: &str) -> String {
        format!(
            r#"{{"event":"{event}","arg":{{"channel":"{channel}","instId":"{inst_id}"}},"connId":"{}"}}"#,
            self.conn_id
        )
    }

    /// Subscribes or unsubscribes one argument, answering with an ack (and initial data) or an error.
    fn handle(&mut self, shared: &Shared, subscribe: bool, arg: &Arg<'_>, out: &mut Vec<String>) {
        let market = lock(&shared.market);
        let (channel, slot) = match (Channel::parse(arg.channel), market.book_slot(Venue::Okx, arg.inst_id)) {
            (Some(channel), Some(slot)) => (channel, slot),
            _ => {
                let msg = format!("Wrong URL or channel:{},instId:{} doesn't exist", arg.channel, arg.inst_id);
                return out.push(self.error("60018", &msg));
            }
        };
        self.subs.retain(|s| !(s.channel == channel && s.inst_id == arg.inst_id));
        if !subscribe {
            return out.push(self.ack("unsubscribe", channel.name(), arg.inst_id));
        }
        if shared.faults.take_refusal(Venue::Okx) {
            let kind = FaultKind::RefuseSubscription { venue: Venue::Okx, count: 1 };
            shared.faults.record("applied", &kind, Some(&self.conn_id));
            return out.push(self.error("60014", "Requests too frequent."));
        }
        out.push(self.ack("subscribe", channel.name(), arg.inst_id));
        let sub = Sub {
            channel,
            inst_id: arg.inst_id.to_owned(),
            slot,
            since_step: market.step_index(),
            last_top: None,
            muted: false,
        };
        let Some(book) = market.book(Venue::Okx, arg.inst_id) else {
            return;
        };
        let checksum = if shared.config.okx_checksum {
            perpspread_okx::checksum::book_checksum(&book.book, &mut String::new())
        } else {
            0
        };
        let initial = match channel {
            // Without WebSocket snapshots the client seeds the book from `GET /api/v5/market/books`.
            Channel::Books if !shared.config.okx_ws_snapshots => None,
            Channel::Books => Some(snapshot_frame(book, market.now_ms(), checksum)),
            Channel::Books5 => Some(books5_frame(&book.delta(None), market.now_ms())),
            Channel::BboTbt => Some(bbo_frame(&book.delta(None), market.now_ms())),
            Channel::Tickers | Channel::FundingRate => data_frame(&market, &sub),
        };
        out.extend(initial);
        self.subs.push(sub);
    }

    /// Sends `messages` no-change updates (`seqId == prevSeqId`) of a `books` subscription at once.
    fn burst(&mut self, shared: &Shared, symbol: &str, out: &mut Vec<String>) {
        let messages = self.faults.take_burst(symbol);
        if !self.subs.iter().any(|s| s.channel == Channel::Books && s.inst_id == symbol) {
            return;
        }
        let market = lock(&shared.market);
        let Some(book) = market.book(Venue::Okx, symbol) else {
            return;
        };
        let checksum = if shared.config.okx_checksum {
            perpspread_okx::checksum::book_checksum(&book.book, &mut String::new())
        } else {
            0
        };
        let mut keep_alive = book.delta(Some(checksum));
        keep_alive.changes.clear();
        keep_alive.prev_seq = keep_alive.seq;
        let frame = update_frame(&keep_alive, market.now_ms(), false);
        out.extend(std::iter::repeat_n(frame, messages as usize));
    }
}

/// `{"arg":{…},"data":[…]}` for the channels rendered from pair-level state.
fn data_frame(market: &Market, sub: &Sub) -> Option<String> {
    let pair = market.pair_of(Venue::Okx, &sub.inst_id)?;
    let book = pair.okx.as_ref()?;
    let item = match sub.channel {
        Channel::Tickers => ticker_json(market, pair, book),
        Channel::FundingRate => funding_json(market, pair, book),
        _ => return None,
    };
    Some(format!(r#"{{"arg":{{"channel":"{}","instId":"{}"}},"data":[{item}]}}"#, sub.channel.name(), sub.inst_id))
}

/// A `funding-rate` channel push of one instrument.
pub(crate) fn funding_frame(market: &Market, pair: &PairState, book: &VenueBook) -> String {
    let item = funding_json(market, pair, book);
    format!(r#"{{"arg":{{"channel":"funding-rate","instId":"{}"}},"data":[{item}]}}"#, book.meta.symbol())
}

fn arg_prefix(out: &mut String, channel: &str, meta: &BookMeta) {
    let _ = write!(out, r#"{{"arg":{{"channel":"{channel}","instId":"{}"}}"#, meta.symbol());
}

/// The 400-level `books` snapshot.
pub(crate) fn snapshot_frame(book: &VenueBook, now_ms: u64, checksum: i32) -> String {
    let mut out = String::with_capacity(40_000);
    arg_prefix(&mut out, "books", &book.meta);
    out.push_str(r#","action":"snapshot","data":[{"asks":"#);
    write_levels(&mut out, &book.meta, level_pairs(book.book.levels(Side::Ask)));
    out.push_str(r#","bids":"#);
    write_levels(&mut out, &book.meta, level_pairs(book.book.levels(Side::Bid)));
    let _ = write!(out, r#","ts":"{now_ms}","checksum":{checksum},"prevSeqId":-1,"seqId":{}}}]}}"#, book.seq);
    out
}

/// A `books` update: changed levels, checksum and sequence chain.
pub(crate) fn update_frame(delta: &BookDelta, now_ms: u64, wrong_checksum: bool) -> String {
    let mut out = String::with_capacity(128 + delta.changes.len() * 40);
    arg_prefix(&mut out, "books", &delta.meta);
    // Deletions first, so a client keeping exactly 400 levels never overflows mid-message; then by price,
    // asks ascending and bids descending.
    let mut asks: Vec<(i64, i64)> = change_pairs(&delta.changes, Side::Ask).collect();
    asks.sort_by_key(|&(price, qty)| (qty != 0, price));
    let mut bids: Vec<(i64, i64)> = change_pairs(&delta.changes, Side::Bid).collect();
    bids.sort_by_key(|&(price, qty)| (qty != 0, std::cmp::Reverse(price)));
    out.push_str(r#","action":"update","data":[{"asks":"#);
    write_levels(&mut out, &delta.meta, asks);
    out.push_str(r#","bids":"#);
    write_levels(&mut out, &delta.meta, bids);
    let mut checksum = delta.checksum.unwrap_or(0);
    if wrong_checksum {
        checksum = if checksum == 0 { 0x5EED } else { checksum.wrapping_add(1) };
    }
    let _ = write!(
        out,
        r#","ts":"{now_ms}","checksum":{checksum},"prevSeqId":{},"seqId":{}}}]}}"#,
        delta.prev_seq, delta.seq
    );
    out
}

/// A `books5` push: the top five levels a side.
fn books5_frame(delta: &BookDelta, now_ms: u64) -> String {
    let mut out = String::with_capacity(1024);
    arg_prefix(&mut out, "books5", &delta.meta);
    out.push_str(r#","data":[{"asks":"#);
    write_levels(&mut out, &delta.meta, level_pairs(delta.asks.iter().take(5)));
    out.push_str(r#","bids":"#);
    write_levels(&mut out, &delta.meta, level_pairs(delta.bids.iter().take(5)));
    let _ = write!(out, r#","instId":"{}","ts":"{now_ms}","seqId":{}}}]}}"#, delta.meta.symbol(), delta.seq);
    out
}

/// A `bbo-tbt` push: the best bid and ask.
fn bbo_frame(delta: &BookDelta, now_ms: u64) -> String {
    let mut out = String::with_capacity(256);
    arg_prefix(&mut out, "bbo-tbt", &delta.meta);
    out.push_str(r#","data":[{"asks":"#);
    write_levels(&mut out, &delta.meta, level_pairs(delta.asks.iter().take(1)));
    out.push_str(r#","bids":"#);
    write_levels(&mut out, &delta.meta, level_pairs(delta.bids.iter().take(1)));
    let _ = write!(out, r#","ts":"{now_ms}","seqId":{}}}]}}"#, delta.seq);
    out
}

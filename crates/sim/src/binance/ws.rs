//! Binance USDⓈ-M market streams, routed as the venue routes them since 2026-04-23: `/public` serves book
//! data (`@depth…`, `@bookTicker`), `/market` everything else (`@markPrice…` here), each with raw
//! `/ws/<stream>` and combined `/stream?streams=a/b` (`{"stream":…,"data":…}`); the bare legacy paths
//! (`/ws`, `/stream`) deliver public streams only. A stream subscribed on the wrong route is acknowledged
//! and then never delivered, as on the real venue. Runtime `SUBSCRIBE` / `UNSUBSCRIBE` /
//! `LIST_SUBSCRIPTIONS` (at most 1024 streams a connection, at most 10 client messages a second, or the
//! connection is closed), diff depth (`@depth`, `@depth@100ms|500ms`) chained by `U`/`u`/`pu` from the
//! REST `lastUpdateId`, partial depth (`@depth5|10|20[@100ms|@500ms]`), `@bookTicker` and
//! `@markPrice[@1s]`; server pings, pong deadline and a connection lifetime limit.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use perpspread_core::health::StreamKind;
use perpspread_core::{Level, Side, Venue};
use serde::Deserialize;
use serde_json::Value;

use crate::binance::rest::premium_index_json;
use crate::faults::{lock, FaultKind};
use crate::http::params;
use crate::model::{BookDelta, BookMeta, Market};
use crate::render::{level_pairs, write_levels};
use crate::server::{Shared, StepEvent};
use crate::ws::{conn_id, drive, DriveOptions, Session, StreamFaults};

/// Where a connection was opened: a routed path, or the legacy unrouted one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// `/ws`, `/stream`: public data only since 2026-04-23.
    Legacy,
    Public,
    Market,
    Private,
}

impl Route {
    fn prefix(self) -> &'static str {
        match self {
            Route::Legacy => "",
            Route::Public => "/public",
            Route::Market => "/market",
            Route::Private => "/private",
        }
    }

    /// Whether a stream of `kind` is delivered on a connection of this route.
    fn delivers(self, kind: Kind) -> bool {
        let public = matches!(kind, Kind::Diff | Kind::Partial(_) | Kind::BookTicker);
        match self {
            Route::Legacy | Route::Public => public,
            Route::Market => !public,
            Route::Private => false,
        }
    }
}

/// The Binance WebSocket routes.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let mut router = Router::new();
    for route in [Route::Legacy, Route::Public, Route::Market, Route::Private] {
        let prefix = route.prefix();
        router = router
            .route(
                &format!("{prefix}/ws"),
                any(move |State(shared): State<Arc<Shared>>, ws: WebSocketUpgrade| async move {
                    open(shared, ws, String::new(), false, route)
                }),
            )
            .route(
                &format!("{prefix}/ws/{{*streams}}"),
                any(move |State(shared): State<Arc<Shared>>, Path(streams): Path<String>, ws: WebSocketUpgrade| async move {
                    open(shared, ws, streams, false, route)
                }),
            )
            .route(
                &format!("{prefix}/stream"),
                any(move |State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery, ws: WebSocketUpgrade| async move {
                    let streams = params(query.as_deref()).remove("streams").unwrap_or_default();
                    open(shared, ws, streams, true, route)
                }),
            );
    }
    router.with_state(shared)
}

fn open(shared: Arc<Shared>, ws: WebSocketUpgrade, streams: String, combined: bool, route: Route) -> Response {
    // Binance: at most 300 connection attempts per 5 minutes per IP.
    if !shared.limits.connect(Venue::Binance, 300, Duration::from_secs(300)) {
        return (StatusCode::TOO_MANY_REQUESTS, "too many connection attempts").into_response();
    }
    ws.on_upgrade(move |socket| async move {
        let config = &shared.config;
        let options = DriveOptions {
            venue: Venue::Binance,
            idle_timeout: None,
            ping_interval: Some(Duration::from_millis(config.binance_ping_interval_ms)),
            pong_timeout: Duration::from_millis(config.binance_pong_timeout_ms),
            max_lifetime: Some(Duration::from_millis(config.binance_max_lifetime_ms)),
            timer_interval: Duration::from_secs(3600),
        };
        let mut session = BinanceSession {
            conn_id: conn_id(),
            combined,
            route,
            streams: Vec::new(),
            faults: StreamFaults::default(),
            received: VecDeque::new(),
            close: None,
        };
        {
            let market = lock(&shared.market);
            for name in streams.split('/').filter(|s| !s.is_empty()) {
                if let Some(stream) = Stream::parse(name, &market) {
                    session.streams.push(stream);
                }
            }
        }
        let max = config.binance_max_streams_per_connection as usize;
        if session.streams.len() > max {
            shared.limits.violated(Venue::Binance, format!("more than {max} streams on one connection"));
            session.streams.truncate(max);
        }
        drive(socket, Arc::clone(&shared), session, options, Vec::new()).await;
    })
}

/// What a stream publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Diff depth, aggregated over the interval.
    Diff,
    /// The top N levels every interval.
    Partial(usize),
    BookTicker,
    MarkPrice,
}

/// One subscribed stream and its aggregation state.
#[derive(Debug)]
struct Stream {
    name: String,
    symbol: String,
    /// Index of the book in step events; `None` for an unlisted symbol (Binance accepts and stays silent).
    slot: Option<usize>,
    kind: Kind,
    /// Push interval, ms (0 = every model step).
    interval_ms: u64,
    /// Interval bucket of the last push.
    bucket: u64,
    /// First update id aggregated since the last push.
    first_id: Option<u64>,
    last_id: u64,
    /// Net changes since the last push, keyed by (side, price).
    pending: BTreeMap<(u8, i64), i64>,
    last_top: Option<(Level, Level)>,
    /// Acknowledged but no longer delivered (a [`FaultKind::Mute`]).
    muted: bool,
}

impl Stream {
    fn stream_kind(&self) -> StreamKind {
        match self.kind {
            Kind::MarkPrice => StreamKind::Funding,
            Kind::Diff | Kind::Partial(_) | Kind::BookTicker => StreamKind::Book,
        }
    }

    /// Parses `btcusdt@depth@100ms` and friends; `None` for an unsupported stream name.
    fn parse(name: &str, market: &Market) -> Option<Stream> {
        let (symbol, rest) = name.split_once('@')?;
        // `@depth@0ms` is not among the speeds Binance documents (250, 500, 100 ms): refused.
        let (kind, interval_ms) = match rest {
            "depth" => (Kind::Diff, 250),
            "depth@100ms" => (Kind::Diff, 100),
            "depth@500ms" => (Kind::Diff, 500),
            "bookTicker" => (Kind::BookTicker, 0),
            "markPrice" => (Kind::MarkPrice, 3000),
            "markPrice@1s" => (Kind::MarkPrice, 1000),
            other => {
                let rest = other.strip_prefix("depth")?;
                let (levels, speed) = rest.split_once('@').unwrap_or((rest, "250ms"));
                let levels: usize = levels.parse().ok().filter(|n| [5, 10, 20].contains(n))?;
                let interval = match speed {
                    "250ms" => 250,
                    "100ms" => 100,
                    "500ms" => 500,
                    _ => return None,
                };
                (Kind::Partial(levels), interval)
            }
        };
        let symbol = symbol.to_ascii_uppercase();
        Some(Stream {
            name: name.to_owned(),
            slot: market.book_slot(Venue::Binance, &symbol),
            symbol,
            kind,
            interval_ms,
            bucket: market.now_ms() / interval_ms.max(1),
            first_id: None,
            last_id: 0,
            pending: BTreeMap::new(),
            last_top: None,
            muted: false,
        })
    }

    /// Whether the stream pushes at `now_ms` (a new interval bucket began).
    fn due(&mut self, now_ms: u64) -> bool {
        if self.interval_ms == 0 {
            return true;
        }
        let bucket = now_ms / self.interval_ms;
        let due = bucket != self.bucket;
        self.bucket = bucket;
        due
    }

    fn accumulate(&mut self, delta: &BookDelta) {
        if delta.changes.is_empty() {
            return;
        }
        self.first_id.get_or_insert(delta.prev_seq + 1);
        self.last_id = delta.seq;
        for change in &delta.changes {
            self.pending.insert((u8::from(change.side == Side::Ask), change.price), change.qty);
        }
    }
}

#[derive(Debug, Deserialize)]
struct Request {
    method: String,
    #[serde(default)]
    params: Vec<String>,
    #[serde(default)]
    id: Value,
}

/// The Binance protocol on one connection.
struct BinanceSession {
    conn_id: String,
    combined: bool,
    route: Route,
    streams: Vec<Stream>,
    faults: StreamFaults,
    /// When the client's recent messages arrived (at most 10 a second are allowed).
    received: VecDeque<Instant>,
    close: Option<(u16, &'static str)>,
}

impl Session for BinanceSession {
    fn close_requested(&mut self) -> Option<(u16, &'static str)> {
        self.close.take()
    }

    fn on_text(&mut self, shared: &Shared, text: &str, out: &mut Vec<String>) {
        let now = Instant::now();
        self.received.push_back(now);
        while self.received.front().is_some_and(|at| now.duration_since(*at) >= Duration::from_secs(1)) {
            self.received.pop_front();
        }
        let allowed = shared.config.binance_max_messages_per_second as usize;
        if self.received.len() > allowed {
            shared.limits.violated(Venue::Binance, format!("more than {allowed} messages a second on one connection"));
            self.close = Some((1008, "Too many requests"));
            return;
        }
        self.on_request(shared, text, out);
    }

    fn on_step(&mut self, shared: &Shared, event: &StepEvent, out: &mut Vec<String>) {
        let mut marks = Vec::new();
        for i in 0..self.streams.len() {
            let stream = &mut self.streams[i];
            let Some(delta) = stream.slot.and_then(|slot| event.deltas[Venue::Binance].get(slot)) else {
                continue;
            };
            if !self.route.delivers(stream.kind) || stream.muted {
                continue; // acknowledged on the wrong route, or muted: silently never delivered
            }
            let now = event.now_ms;
            match stream.kind {
                Kind::Diff => {
                    stream.accumulate(delta);
                    if stream.due(now) && stream.first_id.is_some() {
                        let meta = Arc::clone(&delta.meta);
                        self.push_diff(i, &meta, now, out);
                    }
                }
                Kind::Partial(levels) => {
                    stream.accumulate(delta);
                    if stream.due(now) {
                        let first = stream.first_id.take().unwrap_or(delta.seq);
                        stream.pending.clear();
                        let frame = partial_event(delta, levels, now, first);
                        out.push(wrap(self.combined, &self.streams[i].name, &frame));
                    }
                }
                Kind::BookTicker => {
                    let top = delta.bids.first().copied().zip(delta.asks.first().copied());
                    if top != stream.last_top {
                        stream.last_top = top;
                        if let Some((bid, ask)) = top {
                            let frame = book_ticker_event(&delta.meta, delta.seq, bid, ask, now);
                            out.push(wrap(self.combined, &stream.name, &frame));
                        }
                    }
                }
                Kind::MarkPrice => {
                    if stream.due(now) {
                        marks.push(i);
                    }
                }
            }
        }
        if !marks.is_empty() {
            let market = lock(&shared.market);
            for i in marks {
                let stream = &self.streams[i];
                if let Some(frame) = mark_price_event(&market, &stream.symbol) {
                    out.push(wrap(self.combined, &stream.name, &frame));
                }
            }
        }
    }

    fn on_timer(&mut self, _: &Shared, _: &mut Vec<String>) {}

    fn on_fault(&mut self, shared: &Shared, fault: &FaultKind, out: &mut Vec<String>) {
        match fault {
            FaultKind::UnknownMessage { .. } => {
                let frame = format!(r#"{{"e":"mysteryEvent","E":{},"s":"BTCUSDT"}}"#, crate::clock::unix_ms());
                out.push(wrap(self.combined, "btcusdt@mystery", &frame));
            }
            FaultKind::WrongChecksum { .. } => return,
            FaultKind::Mute { stream, .. } => {
                for muted in self.streams.iter_mut().filter(|s| s.stream_kind() == *stream) {
                    muted.muted = true;
                }
            }
            other if self.faults.arm(other) => {}
            _ => return,
        }
        shared.faults.record("applied", fault, Some(&self.conn_id));
    }

    fn conn_id(&self) -> &str {
        &self.conn_id
    }
}

impl BinanceSession {
    fn on_request(&mut self, shared: &Shared, text: &str, out: &mut Vec<String>) {
        let request: Request = match serde_json::from_str(text) {
            Ok(request) => request,
            Err(e) => return out.push(error_frame(3, &format!("Invalid JSON: {e}"), &Value::Null)),
        };
        let id = &request.id;
        match request.method.as_str() {
            "SUBSCRIBE" => {
                if shared.faults.take_refusal(Venue::Binance) {
                    let kind = FaultKind::RefuseSubscription { venue: Venue::Binance, count: 1 };
                    shared.faults.record("applied", &kind, Some(&self.conn_id));
                    return out.push(error_frame(2, "Invalid request: too many subscriptions", id));
                }
                let market = lock(&shared.market);
                let parsed: Option<Vec<Stream>> = request.params.iter().map(|p| Stream::parse(p, &market)).collect();
                let Some(parsed) = parsed else {
                    return out.push(error_frame(2, "Invalid request: invalid stream name", id));
                };
                let max = shared.config.binance_max_streams_per_connection as usize;
                let new = parsed.iter().filter(|p| self.streams.iter().all(|s| s.name != p.name)).count();
                if self.streams.len() + new > max {
                    shared.limits.violated(Venue::Binance, format!("more than {max} streams on one connection"));
                    return out.push(error_frame(2, &format!("Invalid request: exceeded {max} streams"), id));
                }
                for stream in parsed {
                    self.streams.retain(|s| s.name != stream.name);
                    self.streams.push(stream);
                }
                out.push(format!(r#"{{"result":null,"id":{id}}}"#));
            }
            "UNSUBSCRIBE" => {
                self.streams.retain(|s| !request.params.contains(&s.name));
                out.push(format!(r#"{{"result":null,"id":{id}}}"#));
            }
            "LIST_SUBSCRIPTIONS" => {
                let names: Vec<&str> = self.streams.iter().map(|s| s.name.as_str()).collect();
                out.push(format!(r#"{{"result":{},"id":{id}}}"#, serde_json::to_string(&names).unwrap_or_default()));
            }
            other => {
                let msg = format!("Invalid request: unknown variant `{other}`, expected one of `SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`");
                out.push(error_frame(2, &msg, id));
            }
        }
    }

    /// Pushes the aggregated diff of stream `i`; if a burst is owed, splits it into many small events
    /// whose `U`/`u`/`pu` still chain.
    fn push_diff(&mut self, i: usize, meta: &BookMeta, now: u64, out: &mut Vec<String>) {
        let stream = &mut self.streams[i];
        let Some(first) = stream.first_id.take() else {
            return;
        };
        let last = stream.last_id;
        let mut changes: Vec<((u8, i64), i64)> = std::mem::take(&mut stream.pending).into_iter().collect();
        // Deletions first: every piece of a burst then leaves a subset of the final book's levels, which is
        // never crossed — as every real Binance event is a real book state (pieces in price order could cross
        // the book for a moment, which the venue never does).
        changes.sort_by_key(|&(_, qty)| qty != 0);
        let (name, symbol) = (stream.name.clone(), stream.symbol.clone());
        let owed = self.faults.take_burst(&symbol) as usize;
        let ids = usize::try_from(last - first + 1).unwrap_or(usize::MAX);
        let pieces = owed.clamp(1, changes.len().max(1)).min(ids);
        if owed > pieces {
            let messages = u32::try_from(owed - pieces).unwrap_or(u32::MAX);
            self.faults.arm(&FaultKind::Burst { venue: Venue::Binance, symbol: symbol.clone(), messages });
        }
        let chunk = changes.len().div_ceil(pieces).max(1);
        let mut prev = first - 1;
        for (j, part) in changes.chunks(chunk).enumerate() {
            let end = if (j + 1) * chunk >= changes.len() { last } else { first + j as u64 };
            let frame = diff_event(meta, (prev + 1, end, prev), part, now);
            self.faults.emit(&symbol, wrap(self.combined, &name, &frame), out);
            prev = end;
        }
    }
}

/// Wraps a payload for a combined stream.
fn wrap(combined: bool, stream: &str, payload: &str) -> String {
    if combined {
        format!(r#"{{"stream":"{stream}","data":{payload}}}"#)
    } else {
        payload.to_owned()
    }
}

fn error_frame(code: i32, msg: &str, id: &Value) -> String {
    serde_json::json!({ "error": { "code": code, "msg": msg }, "id": id }).to_string()
}

/// A `depthUpdate` diff event.
pub(crate) fn diff_event(meta: &BookMeta, ids: (u64, u64, u64), changes: &[((u8, i64), i64)], now: u64) -> String {
    let (first, last, prev) = ids;
    let mut out = String::with_capacity(160 + changes.len() * 32);
    let _ = write!(
        out,
        r#"{{"e":"depthUpdate","E":{},"T":{now},"s":"{}","U":{first},"u":{last},"pu":{prev},"b":"#,
        now + 2,
        meta.symbol()
    );
    let side = |s: u8| changes.iter().filter(move |((side, _), _)| *side == s).map(|((_, price), qty)| (*price, *qty));
    write_levels(&mut out, meta, side(0));
    out.push_str(r#","a":"#);
    write_levels(&mut out, meta, side(1));
    out.push('}');
    out
}

/// A partial-depth event: the top `levels` a side, best first.
fn partial_event(delta: &BookDelta, levels: usize, now: u64, first: u64) -> String {
    let meta = &delta.meta;
    let mut out = String::with_capacity(160 + levels * 64);
    let _ = write!(
        out,
        r#"{{"e":"depthUpdate","E":{},"T":{now},"s":"{}","U":{first},"u":{},"pu":{},"b":"#,
        now + 2,
        meta.symbol(),
        delta.seq,
        first.saturating_sub(1)
    );
    write_levels(&mut out, meta, level_pairs(delta.bids.iter().take(levels)));
    out.push_str(r#","a":"#);
    write_levels(&mut out, meta, level_pairs(delta.asks.iter().take(levels)));
    out.push('}');
    out
}

/// A `bookTicker` event.
pub(crate) fn book_ticker_event(meta: &BookMeta, seq: u64, bid: Level, ask: Level, now: u64) -> String {
    let mut out = String::with_capacity(200);
    let _ = write!(out, r#"{{"e":"bookTicker","u":{seq},"s":"{}","b":""#, meta.symbol());
    let _ = meta.write_price(&mut out, bid.price);
    out.push_str(r#"","B":""#);
    let _ = meta.write_qty(&mut out, bid.qty);
    out.push_str(r#"","a":""#);
    let _ = meta.write_price(&mut out, ask.price);
    out.push_str(r#"","A":""#);
    let _ = meta.write_qty(&mut out, ask.qty);
    let _ = write!(out, r#"","T":{now},"E":{}}}"#, now + 1);
    out
}

/// A `markPriceUpdate` event.
pub(crate) fn mark_price_event(market: &Market, symbol: &str) -> Option<String> {
    let pair = market.pair_of(Venue::Binance, symbol)?;
    let book = pair.binance.as_ref()?;
    let index: Value = serde_json::from_str(&premium_index_json(market, pair, book)).ok()?;
    Some(
        serde_json::json!({
            "e": "markPriceUpdate",
            "E": market.now_ms(),
            "s": symbol,
            "p": index["markPrice"],
            "i": index["indexPrice"],
            "P": index["estimatedSettlePrice"],
            "r": index["lastFundingRate"],
            "T": index["nextFundingTime"],
        })
        .to_string(),
    )
}

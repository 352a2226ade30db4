//! Bybit v5 public REST (category `linear`), as documented in the docs repository of 2026-07-24:
//! `instruments-info` (paginated by `cursor`, 500 a page by default, 1000 at most), `orderbook` (1–1000
//! levels), `tickers` (with `fundingIntervalHour` and `fundingCap`), `funding/history`, and the signed
//! `account/fee-rate`. Every answer has the `{"retCode","retMsg","result","retExtInfo","time"}` envelope; the IP
//! limit (600 requests per 5 s) answers HTTP 403 beyond it. Injected REST faults apply as on the other venues.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use perpspread_core::Venue;
use serde_json::{json, Value};

use crate::clock::unix_ms;
use crate::faults::lock;
use crate::http::{fault_endpoint, json as json_response, params};
use crate::model::{Market, PairState, VenueBook};
use crate::okx::rest::mark_price;
use crate::render::{f64_str, level_pairs, write_levels};
use crate::server::Shared;

/// Requests allowed per 5 s per IP on public endpoints.
pub(crate) const REQUESTS_PER_5S: usize = 600;

/// The Bybit REST routes (plus `POST /_sim/fault`).
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v5/market/instruments-info", get(instruments_info))
        .route("/v5/market/orderbook", get(orderbook))
        .route("/v5/market/tickers", get(tickers))
        .route("/v5/market/funding/history", get(funding_history))
        .route("/v5/account/fee-rate", get(fee_rate))
        .route("/_sim/fault", post(fault_endpoint))
        .fallback(|| async { envelope_error(StatusCode::NOT_FOUND, 10404, "Route not found") })
        .layer(middleware::from_fn_with_state(Arc::clone(&shared), limits_and_faults))
        .with_state(shared)
}

/// `{"retCode":0,"retMsg":"OK","result":…}`.
fn ok(result: Value) -> Response {
    let body = json!({"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": unix_ms()});
    json_response(StatusCode::OK, body.to_string())
}

fn envelope_error(status: StatusCode, code: i64, msg: &str) -> Response {
    let body = json!({"retCode": code, "retMsg": msg, "result": {}, "retExtInfo": {}, "time": unix_ms()});
    json_response(status, body.to_string())
}

fn params_error(msg: &str) -> Response {
    envelope_error(StatusCode::OK, 10001, msg)
}

/// The IP limit and injected faults.
async fn limits_and_faults(State(shared): State<Arc<Shared>>, request: axum::extract::Request, next: Next) -> Response {
    if request.uri().path().starts_with("/_sim/") {
        return next.run(request).await;
    }
    // Beyond the IP limit Bybit answers 403 and keeps refusing for the whole ban, whatever the client does.
    if shared.limits.banned(Venue::Bybit) {
        return json_response(StatusCode::FORBIDDEN, "access too frequent".to_owned());
    }
    if !shared.limits.request(Venue::Bybit, REQUESTS_PER_5S, Duration::from_secs(5)) {
        shared.limits.ban(Venue::Bybit, Duration::from_millis(shared.config.bybit_ip_ban_ms));
        return json_response(StatusCode::FORBIDDEN, "access too frequent".to_owned());
    }
    let action = shared.faults.take_rest(Venue::Bybit);
    if let Some(delay) = action.delay {
        tokio::time::sleep(delay).await;
    }
    match action.status {
        Some(429) => envelope_error(StatusCode::OK, 10006, "Too many visits!"),
        Some(418 | 403) => json_response(StatusCode::FORBIDDEN, "access too frequent".to_owned()),
        Some(other) => envelope_error(
            StatusCode::from_u16(other).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            10016,
            "Internal server error.",
        ),
        None => next.run(request).await,
    }
}

/// `category=linear` is required (and the only category served): the error answer otherwise.
fn linear(query: &std::collections::HashMap<String, String>) -> Result<(), Box<Response>> {
    match query.get("category").map(String::as_str) {
        Some("linear") => Ok(()),
        Some(_) => Err(Box::new(params_error("params error: category only linear is simulated"))),
        None => Err(Box::new(params_error("params error: category is required"))),
    }
}

fn instrument_json(pair: &PairState, book: &VenueBook) -> Value {
    let spec = pair.spec.bybit.as_ref().expect("a Bybit book has a Bybit spec");
    let price = |v: f64| f64_str(v, spec.price_scale, false);
    json!({
        "symbol": spec.symbol,
        "contractType": "LinearPerpetual",
        "status": "Trading",
        "baseCoin": spec.base_coin(&pair.spec),
        "quoteCoin": pair.spec.quote,
        "launchTime": "1585526400000",
        "deliveryTime": "0",
        "deliveryFeeRate": "",
        "priceScale": spec.price_scale.to_string(),
        "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
        "priceFilter": {
            "minPrice": spec.tick_size.to_string(),
            "maxPrice": price(pair.fair * spec.multiplier as f64 * 30.0),
            "tickSize": spec.tick_size.to_string()
        },
        "lotSizeFilter": {
            "maxOrderQty": "1000000",
            "minOrderQty": spec.qty_step.to_string(),
            "qtyStep": spec.qty_step.to_string(),
            "postOnlyMaxOrderQty": "1000000",
            "maxMktOrderQty": "100000",
            "minNotionalValue": "5"
        },
        "unifiedMarginTrade": true,
        "fundingInterval": pair.spec.bybit_funding_hours * 60,
        "settleCoin": pair.spec.quote,
        "copyTrading": "both",
        "upperFundingRate": "0.005",
        "lowerFundingRate": "-0.005",
        "isPreListing": false,
        "preListingInfo": null,
        "symbolType": "",
        "displayName": book.meta.symbol(),
    })
}

/// `GET /v5/market/instruments-info?category=linear[&symbol=…][&limit=…][&cursor=…]`: pages of `limit` (default
/// 500, at most 1000), the cursor being the index of the next item.
async fn instruments_info(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let query = params(raw.as_deref());
    if let Err(response) = linear(&query) {
        return *response;
    }
    let limit = query.get("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(500).clamp(1, 1000);
    let start = match query.get("cursor").filter(|c| !c.is_empty()) {
        None => 0,
        Some(cursor) => match cursor.strip_prefix("next=").and_then(|n| n.parse::<usize>().ok()) {
            Some(start) => start,
            None => return params_error("params error: cursor invalid"),
        },
    };
    let market = lock(&shared.market);
    let all: Vec<Value> = market
        .pairs()
        .iter()
        .filter_map(|p| p.bybit.as_ref().map(|b| (p, b)))
        .filter(|(_, b)| query.get("symbol").is_none_or(|s| s == b.meta.symbol()))
        .map(|(p, b)| instrument_json(p, b))
        .collect();
    let page: Vec<Value> = all.iter().skip(start).take(limit).cloned().collect();
    let next = start + page.len();
    let cursor = if next < all.len() { format!("next%3D{next}") } else { String::new() };
    ok(json!({"category": "linear", "list": page, "nextPageCursor": cursor}))
}

/// The whole `instruments-info` answer in one page (what the capture generator records).
pub(crate) fn instruments_body(market: &Market) -> String {
    let list: Vec<Value> =
        market.pairs().iter().filter_map(|p| p.bybit.as_ref().map(|b| instrument_json(p, b))).collect();
    let body = json!({"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": list, "nextPageCursor": ""}, "retExtInfo": {}, "time": market.now_ms()});
    body.to_string()
}

/// `GET /v5/market/orderbook?category=linear&symbol=…&limit=…` (1–1000, default 25).
async fn orderbook(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let query = params(raw.as_deref());
    if let Err(response) = linear(&query) {
        return *response;
    }
    let limit = match query.get("limit").map(|l| l.parse::<usize>()) {
        None => 25,
        Some(Ok(limit)) if (1..=1000).contains(&limit) => limit,
        Some(_) => return params_error("params error: limit invalid"),
    };
    let market = lock(&shared.market);
    let Some(book) = query.get("symbol").and_then(|s| market.book(Venue::Bybit, s)) else {
        return params_error("params error: symbol invalid");
    };
    let now = market.now_ms();
    let mut body = String::with_capacity(4096);
    body.push_str(r#"{"retCode":0,"retMsg":"OK","result":{"s":""#);
    body.push_str(book.meta.symbol());
    body.push_str(r#"","b":"#);
    write_levels(&mut body, &book.meta, level_pairs(book.book.levels(perpspread_core::Side::Bid).take(limit)));
    body.push_str(r#","a":"#);
    write_levels(&mut body, &book.meta, level_pairs(book.book.levels(perpspread_core::Side::Ask).take(limit)));
    body.push_str(&format!(
        r#","ts":{now},"u":{},"seq":{},"cts":{now}}},"retExtInfo":{{}},"time":{now}}}"#,
        book.seq,
        book.seq * 7
    ));
    json_response(StatusCode::OK, body)
}

/// One linear ticker (REST list item and the `tickers` stream's snapshot).
pub(crate) fn ticker_value(market: &Market, pair: &PairState, book: &VenueBook) -> Value {
    let spec = pair.spec.bybit.as_ref().expect("a Bybit book has a Bybit spec");
    let funding = market.funding(pair, Venue::Bybit);
    let price = |v: f64| f64_str(v * book.meta.price_mult, spec.price_scale, false);
    let (bid, ask) = (book.book.best_bid(), book.book.best_ask());
    let per_base = |level: Option<perpspread_core::Level>| level.map(|l| book.meta.price_per_base(l.price));
    json!({
        "symbol": book.meta.symbol(),
        "lastPrice": price(per_base(bid).unwrap_or(pair.fair)),
        "indexPrice": price(pair.fair),
        "markPrice": price(mark_price(pair)),
        "prevPrice24h": price(pair.spec.start_price),
        "highPrice24h": price(pair.high),
        "lowPrice24h": price(pair.low),
        "turnover24h": f64_str(pair.spec.volume_24h_quote, 4, false),
        "volume24h": f64_str(pair.spec.volume_24h_quote / pair.fair / book.meta.price_mult, 3, false),
        "fundingRate": f64_str(funding.rate, 6, false),
        "nextFundingTime": funding.next_ms.to_string(),
        "fundingIntervalHour": funding.interval_hours.to_string(),
        "fundingCap": "0.005",
        "bid1Price": price(per_base(bid).unwrap_or(pair.fair)),
        "ask1Price": price(per_base(ask).unwrap_or(pair.fair)),
    })
}

/// `GET /v5/market/tickers?category=linear[&symbol=…]`.
async fn tickers(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let query = params(raw.as_deref());
    if let Err(response) = linear(&query) {
        return *response;
    }
    let market = lock(&shared.market);
    let list: Vec<Value> = market
        .pairs()
        .iter()
        .filter_map(|p| p.bybit.as_ref().map(|b| (p, b)))
        .filter(|(_, b)| query.get("symbol").is_none_or(|s| s == b.meta.symbol()))
        .map(|(p, b)| ticker_value(&market, p, b))
        .collect();
    if list.is_empty() && query.contains_key("symbol") {
        return params_error("params error: symbol invalid");
    }
    ok(json!({"category": "linear", "list": list}))
}

/// `GET /v5/market/funding/history?category=linear&symbol=…[&limit=…]` (at most 200, newest first).
async fn funding_history(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let query = params(raw.as_deref());
    if let Err(response) = linear(&query) {
        return *response;
    }
    let limit = query.get("limit").and_then(|l| l.parse::<u64>().ok()).unwrap_or(200).clamp(1, 200);
    let market = lock(&shared.market);
    let Some(symbol) = query.get("symbol") else {
        return params_error("params error: symbol is required");
    };
    let Some(pair) = market.pair_of(Venue::Bybit, symbol) else {
        return params_error("params error: symbol invalid");
    };
    let funding = market.funding(pair, Venue::Bybit);
    let step = u64::from(funding.interval_hours) * 3_600_000;
    let list: Vec<Value> = (0..limit)
        .filter_map(|k| funding.last_settled.1.checked_sub(k * step))
        .map(|time| {
            json!({"symbol": symbol, "fundingRate": f64_str(pair.rate_at(time), 8, false), "fundingRateTimestamp": time.to_string()})
        })
        .collect();
    ok(json!({"category": "linear", "list": list}))
}

/// `GET /v5/account/fee-rate?category=linear[&symbol=…]` (signed: needs the `X-BAPI-*` headers; the signature
/// is not checked): the simulated account pays 5.5 bp taker on USDT perpetuals and 3 bp on USDC ones.
async fn fee_rate(State(shared): State<Arc<Shared>>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    let signed = ["X-BAPI-API-KEY", "X-BAPI-TIMESTAMP", "X-BAPI-SIGN"].iter().all(|h| headers.contains_key(*h));
    if !signed {
        return envelope_error(StatusCode::UNAUTHORIZED, 10003, "API key is invalid.");
    }
    let query = params(raw.as_deref());
    let market = lock(&shared.market);
    let list: Vec<Value> = market
        .pairs()
        .iter()
        .filter_map(|p| p.bybit.as_ref().map(|b| (p, b)))
        .filter(|(_, b)| query.get("symbol").is_none_or(|s| s == b.meta.symbol()))
        .map(|(p, b)| {
            let taker = if p.spec.quote == "USDC" { "0.0003" } else { "0.00055" };
            json!({"symbol": b.meta.symbol(), "takerFeeRate": taker, "makerFeeRate": "0.0002"})
        })
        .collect();
    ok(json!({"list": list}))
}

//! Binance USDⓈ-M `/fapi` REST: exchangeInfo, depth, bookTicker, 24 h ticker and premium index, with
//! request weights, the `X-MBX-USED-WEIGHT-1m` header, HTTP 429/418 and Binance's error bodies.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use perpspread_core::{Side, Venue};
use serde_json::{json, Value};

use crate::binance::weight::{request_weight, Admission, WeightLimits, FUNDING_REQUESTS, FUNDING_WINDOW};
use crate::clock::unix_ms;
use crate::faults::lock;
use crate::http::{fault_endpoint, json as json_response, params};
use crate::model::{Market, PairState, VenueBook};
use crate::okx::rest::mark_price;
use crate::render::{f64_str, level_pairs, write_levels};
use crate::server::Shared;

/// Depth limits `/fapi/v1/depth` accepts.
pub(crate) const DEPTH_LIMITS: [usize; 7] = [5, 10, 20, 50, 100, 500, 1000];

/// The Binance REST routes (plus `POST /_sim/fault`).
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/fapi/v1/exchangeInfo", get(exchange_info))
        .route("/fapi/v1/depth", get(depth))
        .route("/fapi/v1/ticker/bookTicker", get(book_ticker))
        .route("/fapi/v1/ticker/24hr", get(ticker_24hr))
        .route("/fapi/v1/premiumIndex", get(premium_index))
        .route("/fapi/v1/fundingInfo", get(funding_info))
        .route("/fapi/v1/fundingRate", get(funding_rate_history))
        .route("/fapi/v1/time", get(server_time))
        .route("/fapi/v1/commissionRate", get(commission_rate))
        .route("/fapi/v1/ping", get(|| async { json_response(StatusCode::OK, "{}".into()) }))
        .route("/_sim/fault", post(fault_endpoint))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(Arc::clone(&shared), limits_and_faults))
        .with_state(shared)
}

/// A Binance error body.
pub fn error(status: StatusCode, code: i32, msg: &str) -> Response {
    json_response(status, json!({ "code": code, "msg": msg }).to_string())
}

fn invalid_symbol() -> Response {
    error(StatusCode::BAD_REQUEST, -1121, "Invalid symbol.")
}

async fn not_found(request: Request) -> Response {
    let msg = format!("Path {}, Method {} is invalid", request.uri().path(), request.method());
    error(StatusCode::NOT_FOUND, -5000, &msg)
}

/// Charges the request's weight, applies injected REST faults and adds the used-weight header.
async fn limits_and_faults(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    if path.starts_with("/_sim/") {
        return next.run(request).await;
    }
    let query = params(request.uri().query());
    let weight = request_weight(&path, query.contains_key("symbol"), query.get("limit").and_then(|l| l.parse().ok()));
    let config = &shared.config;
    let limits = WeightLimits {
        limit: config.binance_weight_limit_per_min,
        window_ms: config.binance_weight_window_ms,
        violations_before_ban: config.binance_violations_before_ban,
        ban_ms: config.binance_ban_ms,
    };
    let admission = lock(&shared.weights).charge(unix_ms(), weight, &limits);
    // The funding endpoints' own limit: 500 requests per 5 minutes per IP, shared by both.
    let funding_path = matches!(path.as_str(), "/fapi/v1/fundingRate" | "/fapi/v1/fundingInfo");
    if funding_path && !shared.limits.request(Venue::Binance, FUNDING_REQUESTS, FUNDING_WINDOW) {
        let msg = "Too many requests; the funding endpoints allow 500 requests per 5 minutes per IP.";
        return with_retry_after(error(StatusCode::TOO_MANY_REQUESTS, -1003, msg), 60);
    }
    let action = shared.faults.take_rest(Venue::Binance);
    if let Some(delay) = action.delay {
        tokio::time::sleep(delay).await;
    }
    let mut response = match (admission, action.status) {
        (Admission::Banned { until_ms, retry_after_s, .. }, _) => {
            let msg = format!("Way too many requests; IP(127.0.0.1) banned until {until_ms}. Please use the websocket for live updates to avoid bans.");
            with_retry_after(error(StatusCode::IM_A_TEAPOT, -1003, &msg), retry_after_s)
        }
        (Admission::Limited { retry_after_s, .. }, _) => {
            let msg = format!(
                "Too many requests; current limit of IP(127.0.0.1) is {} requests per minute. Please use the websocket for live updates to avoid polling the API.",
                limits.limit
            );
            with_retry_after(error(StatusCode::TOO_MANY_REQUESTS, -1003, &msg), retry_after_s)
        }
        (Admission::Allowed { .. }, Some(status)) => injected_status(status),
        (Admission::Allowed { .. }, None) => next.run(request).await,
    };
    if let Ok(value) = HeaderValue::from_str(&admission.used().to_string()) {
        response.headers_mut().insert("x-mbx-used-weight-1m", value);
    }
    response
}

fn with_retry_after(mut response: Response, seconds: u64) -> Response {
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert("retry-after", value);
    }
    response
}

/// The response for an injected HTTP status.
fn injected_status(status: u16) -> Response {
    match status {
        429 => with_retry_after(
            error(StatusCode::TOO_MANY_REQUESTS, -1003, "Too many requests; injected by the simulator."),
            1,
        ),
        418 => with_retry_after(
            error(
                StatusCode::IM_A_TEAPOT,
                -1003,
                "Way too many requests; IP(127.0.0.1) banned (injected by the simulator).",
            ),
            2,
        ),
        other => {
            let status = StatusCode::from_u16(other).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            error(status, -1001, "Internal error; unable to process your request. Please try again.")
        }
    }
}

/// The `symbol` parameter names no listed symbol.
#[derive(Debug, Clone, Copy)]
struct InvalidSymbol;

/// Resolves the optional `symbol` parameter: `Ok(None)` = all symbols, `Err` = unknown symbol.
fn symbol_filter(query: &HashMap<String, String>, market: &Market) -> Result<Option<String>, InvalidSymbol> {
    match query.get("symbol") {
        None => Ok(None),
        Some(symbol) if market.book(Venue::Binance, symbol).is_some() => Ok(Some(symbol.clone())),
        Some(_) => Err(InvalidSymbol),
    }
}

/// Renders one item per Binance book (or just the requested symbol's, as a bare object).
fn per_symbol(
    shared: &Shared,
    raw: Option<&str>,
    render: impl Fn(&Market, &PairState, &VenueBook) -> String,
) -> Response {
    let query = params(raw);
    let market = lock(&shared.market);
    let wanted = match symbol_filter(&query, &market) {
        Ok(wanted) => wanted,
        Err(InvalidSymbol) => return invalid_symbol(),
    };
    let mut items = market
        .pairs()
        .iter()
        .filter_map(|p| p.binance.as_ref().map(|b| (p, b)))
        .filter(|(_, b)| wanted.as_deref().is_none_or(|w| w == b.meta.symbol()))
        .map(|(p, b)| render(&market, p, b));
    let body = if wanted.is_some() {
        items.next().unwrap_or_default()
    } else {
        format!("[{}]", items.collect::<Vec<_>>().join(","))
    };
    json_response(StatusCode::OK, body)
}

/// `GET /fapi/v1/commissionRate?symbol=…` (signed): the simulated account pays 4 bp taker, and 2.4 bp on
/// USDC-quoted symbols. Needs the `X-MBX-APIKEY` header and a `signature` (not checked).
async fn commission_rate(
    State(shared): State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = params(raw.as_deref());
    if !headers.contains_key("X-MBX-APIKEY") || !query.contains_key("signature") {
        return json_response(StatusCode::UNAUTHORIZED, r#"{"code":-2014,"msg":"API-key format invalid."}"#.into());
    }
    let symbol = query.get("symbol").cloned().unwrap_or_default();
    if shared.with_market(|m| m.pair_of(Venue::Binance, &symbol).is_none()) {
        return json_response(StatusCode::BAD_REQUEST, r#"{"code":-1121,"msg":"Invalid symbol."}"#.into());
    }
    let taker = if symbol.ends_with("USDC") { "0.000240" } else { "0.000400" };
    json_response(
        StatusCode::OK,
        format!(
            r#"{{"symbol":"{symbol}","makerCommissionRate":"0.000200","takerCommissionRate":"{taker}","rpiCommissionRate":"0"}}"#
        ),
    )
}

/// `GET /fapi/v1/fundingInfo`: only the symbols whose funding interval was adjusted (not 8 h), as Binance lists.
async fn funding_info(State(shared): State<Arc<Shared>>) -> Response {
    let items: Vec<Value> = shared.with_market(|m| {
        m.pairs()
            .iter()
            .filter(|p| p.spec.binance_funding_hours != 8)
            .filter_map(|p| {
                let book = p.binance.as_ref()?;
                Some(json!({
                    "symbol": book.meta.symbol(),
                    "adjustedFundingRateCap": "0.02000000",
                    "adjustedFundingRateFloor": "-0.02000000",
                    "fundingIntervalHours": p.spec.binance_funding_hours,
                    "disclaimer": false,
                }))
            })
            .collect()
    });
    json_response(StatusCode::OK, serde_json::to_string(&items).unwrap_or_else(|_| "[]".into()))
}

/// `GET /fapi/v1/fundingRate?symbol=…&limit=…`: the last `limit` settlements (default 100, at most 1000),
/// oldest first, on the symbol's current schedule.
async fn funding_rate_history(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let query = params(raw.as_deref());
    let limit = query.get("limit").and_then(|l| l.parse::<u64>().ok()).unwrap_or(100).clamp(1, 1000);
    let Some(symbol) = query.get("symbol") else {
        return error(StatusCode::BAD_REQUEST, -1102, "Mandatory parameter 'symbol' was not sent.");
    };
    let items = shared.with_market(|m| {
        let pair = m.pair_of(Venue::Binance, symbol)?;
        let funding = m.funding(pair, Venue::Binance);
        let step = u64::from(funding.interval_hours) * 3_600_000;
        let last = funding.last_settled.1;
        let items: Vec<Value> = (0..limit)
            .rev()
            .filter_map(|k| last.checked_sub(k * step))
            .map(|time| {
                json!({
                    "symbol": symbol,
                    "fundingRate": f64_str(pair.rate_at(time), 8, false),
                    "fundingTime": time,
                    "markPrice": f64_str(mark_price(pair), 8, false),
                })
            })
            .collect();
        Some(items)
    });
    match items {
        Some(items) => json_response(StatusCode::OK, serde_json::to_string(&items).unwrap_or_else(|_| "[]".into())),
        None => invalid_symbol(),
    }
}

async fn server_time(State(shared): State<Arc<Shared>>) -> Response {
    let now = shared.with_market(Market::now_ms);
    json_response(StatusCode::OK, format!(r#"{{"serverTime":{now}}}"#))
}

/// One symbol of `exchangeInfo`.
fn symbol_info(pair: &PairState, book: &VenueBook) -> Option<Value> {
    let spec = pair.spec.binance.as_ref()?;
    let pair_name = spec.symbol.split('_').next().unwrap_or(&spec.symbol);
    let (tick, step) = (spec.tick_size.to_string(), spec.step_size.to_string());
    let max_qty = if book.meta.instrument.qty_scale == 0 { "10000000" } else { "1000" };
    Some(json!({
        "symbol": spec.symbol,
        "pair": pair_name,
        "contractType": spec.contract_type,
        "deliveryDate": spec.delivery_date,
        "onboardDate": 1_569_398_400_000u64,
        "status": spec.status,
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": spec.base_asset(&pair.spec),
        "quoteAsset": pair.spec.quote,
        "marginAsset": pair.spec.quote,
        "pricePrecision": spec.price_precision,
        "quantityPrecision": spec.quantity_precision,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "settlePlan": 0,
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            { "minPrice": tick, "maxPrice": "4529764", "filterType": "PRICE_FILTER", "tickSize": tick },
            { "stepSize": step, "filterType": "LOT_SIZE", "maxQty": max_qty, "minQty": spec.min_qty.to_string() },
            { "stepSize": step, "filterType": "MARKET_LOT_SIZE", "maxQty": max_qty, "minQty": spec.min_qty.to_string() },
            { "limit": 200, "filterType": "MAX_NUM_ORDERS" },
            { "limit": 10, "filterType": "MAX_NUM_ALGO_ORDERS" },
            { "notional": "5", "filterType": "MIN_NOTIONAL" },
            { "multiplierDown": "0.9500", "multiplierUp": "1.0500", "multiplierDecimal": "4", "filterType": "PERCENT_PRICE" },
        ],
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
    }))
}

/// `GET /fapi/v1/exchangeInfo`.
async fn exchange_info(State(shared): State<Arc<Shared>>) -> Response {
    let limit = shared.config.binance_weight_limit_per_min;
    let body = shared.with_market(|m| exchange_info_body(m, limit));
    json_response(StatusCode::OK, body)
}

/// The `exchangeInfo` body for the market's Binance listings.
pub(crate) fn exchange_info_body(m: &Market, weight_limit: u32) -> String {
    let symbols: Vec<Value> =
        m.pairs().iter().filter_map(|p| p.binance.as_ref().and_then(|b| symbol_info(p, b))).collect();
    let mut assets: Vec<&str> =
        m.pairs().iter().filter(|p| p.binance.is_some()).map(|p| p.spec.quote.as_str()).collect();
    assets.sort_unstable();
    assets.dedup();
    json!({
        "timezone": "UTC",
        "serverTime": m.now_ms(),
        "futuresType": "U_MARGINED",
        "rateLimits": [
            { "rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": weight_limit },
            { "rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200 },
            { "rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300 },
        ],
        "exchangeFilters": [],
        "assets": assets.iter().map(|a| json!({ "asset": a, "marginAvailable": true, "autoAssetExchange": "-10000" })).collect::<Vec<_>>(),
        "symbols": symbols,
    })
    .to_string()
}

/// `GET /fapi/v1/depth?symbol=…&limit=…` (limit 5, 10, 20, 50, 100, 500 or 1000; default 500).
async fn depth(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let query = params(raw.as_deref());
    let limit = match query.get("limit").map(|l| l.parse::<usize>()) {
        None => 500,
        Some(Ok(limit)) if DEPTH_LIMITS.contains(&limit) => limit,
        Some(_) => return error(StatusCode::BAD_REQUEST, -4021, "Invalid depth limit."),
    };
    let Some(symbol) = query.get("symbol").filter(|s| !s.is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            -1102,
            "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
        );
    };
    let market = lock(&shared.market);
    let Some(book) = market.book(Venue::Binance, symbol) else {
        return invalid_symbol();
    };
    json_response(StatusCode::OK, depth_body(book, market.now_ms(), limit))
}

/// A `/fapi/v1/depth` body of the top `limit` levels.
pub(crate) fn depth_body(book: &VenueBook, now: u64, limit: usize) -> String {
    let mut out = String::with_capacity(128 + limit * 40);
    let _ = write!(out, r#"{{"lastUpdateId":{},"E":{},"T":{},"bids":"#, book.seq, now + 3, now);
    write_levels(&mut out, &book.meta, level_pairs(book.book.levels(Side::Bid).take(limit)));
    out.push_str(r#","asks":"#);
    write_levels(&mut out, &book.meta, level_pairs(book.book.levels(Side::Ask).take(limit)));
    out.push('}');
    out
}

/// One `bookTicker` REST item.
fn book_ticker_json(market: &Market, _: &PairState, book: &VenueBook) -> String {
    let meta = &book.meta;
    let (Some(bid), Some(ask)) = (book.book.best_bid(), book.book.best_ask()) else {
        return "{}".into();
    };
    let mut out = String::with_capacity(200);
    let _ = write!(out, r#"{{"symbol":"{}","bidPrice":""#, meta.symbol());
    let _ = meta.write_price(&mut out, bid.price);
    out.push_str(r#"","bidQty":""#);
    let _ = meta.write_qty(&mut out, bid.qty);
    out.push_str(r#"","askPrice":""#);
    let _ = meta.write_price(&mut out, ask.price);
    out.push_str(r#"","askQty":""#);
    let _ = meta.write_qty(&mut out, ask.qty);
    let _ = write!(out, r#"","time":{},"lastUpdateId":{}}}"#, market.now_ms(), book.seq);
    out
}

async fn book_ticker(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    per_symbol(&shared, raw.as_deref(), book_ticker_json)
}

/// A venue-unit price written with the symbol's price precision.
fn price(book: &VenueBook, per_base: f64) -> String {
    f64_str(per_base * book.meta.price_mult, book.meta.price_dp.unwrap_or(8), false)
}

/// One `ticker/24hr` item.
fn ticker_24hr_json(market: &Market, pair: &PairState, book: &VenueBook) -> String {
    let now = market.now_ms();
    let (open, last) = (pair.spec.start_price, pair.fair);
    let volume = pair.spec.volume_24h_quote / pair.fair / book.meta.price_mult;
    let qty_dp = book.meta.qty_dp.unwrap_or(3);
    let count = (pair.spec.volume_24h_quote / pair.spec.level_notional * 10.0) as u64 + 1;
    json!({
        "symbol": book.meta.symbol(),
        "priceChange": price(book, last - open),
        "priceChangePercent": f64_str((last / open - 1.0) * 100.0, 3, false),
        "weightedAvgPrice": price(book, (open + last) / 2.0),
        "lastPrice": price(book, last),
        "lastQty": f64_str(1.0, qty_dp, false),
        "openPrice": price(book, open),
        "highPrice": price(book, pair.high),
        "lowPrice": price(book, pair.low),
        "volume": f64_str(volume, qty_dp, false),
        "quoteVolume": f64_str(pair.spec.volume_24h_quote, 2, false),
        "openTime": now - 86_400_000,
        "closeTime": now,
        "firstId": 1_000_000_000u64,
        "lastId": 1_000_000_000u64 + count,
        "count": count,
    })
    .to_string()
}

async fn ticker_24hr(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    per_symbol(&shared, raw.as_deref(), ticker_24hr_json)
}

/// One `premiumIndex` item (also the body of the `@markPrice` stream).
pub(crate) fn premium_index_json(market: &Market, pair: &PairState, book: &VenueBook) -> String {
    let now = market.now_ms();
    let funding = market.funding(pair, Venue::Binance);
    let dp8 = |v: f64| f64_str(v * book.meta.price_mult, 8, false);
    json!({
        "symbol": book.meta.symbol(),
        "markPrice": dp8(mark_price(pair)),
        "indexPrice": dp8(pair.fair),
        "estimatedSettlePrice": dp8(pair.fair * (1.0 + 0.00001)),
        "lastFundingRate": f64_str(funding.rate, 8, false),
        "interestRate": "0.00010000",
        "nextFundingTime": funding.next_ms,
        "time": now,
    })
    .to_string()
}

async fn premium_index(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    per_symbol(&shared, raw.as_deref(), premium_index_json)
}

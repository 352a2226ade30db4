//! OKX v5 public REST: instruments, books, tickers, funding rate and mark price, in the
//! `{"code":"0","msg":"","data":[…]}` envelope with OKX's error codes.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

use axum::extract::{RawQuery, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use perpspread_core::{ContractKind, Side, Venue};
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;

use crate::faults::lock;
use crate::http::{fault_endpoint, json, params};
use crate::model::{Market, PairState, VenueBook, OKX_DEPTH};
use crate::render::{f64_str, level_pairs, write_levels};
use crate::server::Shared;

/// The OKX REST routes (plus `POST /_sim/fault`).
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v5/public/instruments", get(instruments))
        .route("/api/v5/market/books", get(books))
        .route("/api/v5/market/tickers", get(tickers))
        .route("/api/v5/public/funding-rate", get(funding_rate))
        .route("/api/v5/public/mark-price", get(mark_prices))
        .route("/api/v5/account/trade-fee", get(trade_fee))
        .route("/_sim/fault", post(fault_endpoint))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(Arc::clone(&shared), rest_faults))
        .with_state(shared)
}

/// An OKX error body (`data` is always an empty array).
pub fn error(status: StatusCode, code: &str, msg: &str) -> Response {
    json(status, format!(r#"{{"code":"{code}","msg":"{msg}","data":[]}}"#))
}

/// An OKX error answer, small enough to pass around before it becomes a response.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OkxError {
    status: StatusCode,
    code: &'static str,
    msg: &'static str,
}

impl OkxError {
    const fn new(status: StatusCode, code: &'static str, msg: &'static str) -> Self {
        OkxError { status, code, msg }
    }

    /// The error as an HTTP response.
    pub(crate) fn response(self) -> Response {
        error(self.status, self.code, self.msg)
    }
}

/// `51001`: the instrument is not listed.
const INSTRUMENT_MISSING: OkxError = OkxError::new(StatusCode::OK, "51001", "Instrument ID does not exist");

/// Wraps already-rendered `data` array items in the success envelope.
fn ok(items: &str) -> Response {
    json(StatusCode::OK, format!(r#"{{"code":"0","msg":"","data":[{items}]}}"#))
}

fn ok_serialized<T: Serialize>(items: &[T]) -> Response {
    let data = serde_json::to_string(items).unwrap_or_else(|_| "[]".into());
    json(StatusCode::OK, format!(r#"{{"code":"0","msg":"","data":{data}}}"#))
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "50000", "Not Found")
}

/// Applies injected REST faults (HTTP errors, slow answers) before the real handler.
async fn rest_faults(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/_sim/") {
        return next.run(request).await;
    }
    let action = shared.faults.take_rest(Venue::Okx);
    if let Some(delay) = action.delay {
        tokio::time::sleep(delay).await;
    }
    match action.status {
        Some(429) => error(StatusCode::TOO_MANY_REQUESTS, "50011", "Too Many Requests"),
        Some(status) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            error(status, "50001", "Service temporarily unavailable. Please try again later.")
        }
        None => next.run(request).await,
    }
}

/// Checks `instType=SWAP`; other types are listed empty, a missing one is OKX error 50014.
fn check_inst_type(query: &HashMap<String, String>) -> Result<bool, OkxError> {
    match query.get("instType").map(String::as_str) {
        None | Some("") => Err(OkxError::new(StatusCode::BAD_REQUEST, "50014", "Parameter instType can not be empty.")),
        Some("SWAP") => Ok(true),
        Some("SPOT" | "MARGIN" | "FUTURES" | "OPTION") => Ok(false),
        Some(_) => Err(OkxError::new(StatusCode::BAD_REQUEST, "51000", "Parameter instType error")),
    }
}

/// Looks up `instId` (required) in the market.
fn with_inst<R>(
    shared: &Shared,
    query: &HashMap<String, String>,
    f: impl FnOnce(&Market, &PairState, &VenueBook) -> R,
) -> Result<R, OkxError> {
    let inst_id = match query.get("instId") {
        Some(id) if !id.is_empty() => id,
        _ => return Err(OkxError::new(StatusCode::BAD_REQUEST, "50014", "Parameter instId can not be empty.")),
    };
    let market = lock(&shared.market);
    let pair = market.pair_of(Venue::Okx, inst_id).ok_or(INSTRUMENT_MISSING)?;
    let book = pair.okx.as_ref().ok_or(INSTRUMENT_MISSING)?;
    Ok(f(&market, pair, book))
}

/// One entry of `GET /api/v5/public/instruments` (fields in OKX's alphabetical order).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InstrumentOut {
    alias: &'static str,
    auction_end_time: &'static str,
    base_ccy: &'static str,
    category: &'static str,
    cont_td_sw_time: &'static str,
    ct_mult: &'static str,
    ct_type: &'static str,
    ct_val: String,
    ct_val_ccy: String,
    exp_time: &'static str,
    future_settlement: bool,
    inst_family: String,
    inst_id: String,
    inst_type: &'static str,
    lever: &'static str,
    list_time: &'static str,
    lot_sz: String,
    max_iceberg_sz: &'static str,
    max_lmt_amt: &'static str,
    max_lmt_sz: &'static str,
    max_mkt_amt: &'static str,
    max_mkt_sz: &'static str,
    max_stop_sz: &'static str,
    max_trigger_sz: &'static str,
    max_twap_sz: &'static str,
    group_id: &'static str,
    min_sz: String,
    open_type: &'static str,
    opt_type: &'static str,
    quote_ccy: &'static str,
    rule_type: &'static str,
    settle_ccy: String,
    state: String,
    stk: &'static str,
    tick_sz: String,
    trade_quote_ccy_list: [&'static str; 0],
    uly: String,
}

fn instrument_out(pair: &PairState) -> Option<InstrumentOut> {
    let spec = pair.spec.okx.as_ref()?;
    let (base, quote) = (&pair.spec.base, &pair.spec.quote);
    let inverse = spec.ct_type == ContractKind::Inverse;
    let family = format!("{base}-{quote}");
    Some(InstrumentOut {
        alias: "",
        auction_end_time: "",
        base_ccy: "",
        category: "1",
        cont_td_sw_time: "",
        ct_mult: "1",
        ct_type: if inverse { "inverse" } else { "linear" },
        ct_val: spec.ct_val.normalize().to_string(),
        ct_val_ccy: if inverse { quote.clone() } else { base.clone() },
        exp_time: "",
        future_settlement: false,
        inst_family: family.clone(),
        inst_id: spec.inst_id.clone(),
        inst_type: "SWAP",
        lever: "100",
        list_time: "1573557408000",
        lot_sz: spec.lot_sz.normalize().to_string(),
        max_iceberg_sz: "100000000.0000000000000000",
        max_lmt_amt: "20000000",
        max_lmt_sz: "100000000",
        max_mkt_amt: "",
        max_mkt_sz: "12000",
        max_stop_sz: "12000",
        max_trigger_sz: "100000000.0000000000000000",
        max_twap_sz: "100000000.0000000000000000",
        group_id: fee_group(quote),
        min_sz: spec.min_sz.normalize().to_string(),
        open_type: "",
        opt_type: "",
        quote_ccy: "",
        rule_type: "normal",
        settle_ccy: if inverse { base.clone() } else { quote.clone() },
        state: spec.state.clone(),
        stk: "",
        tick_sz: spec.tick_sz.normalize().to_string(),
        trade_quote_ccy_list: [],
        uly: family,
    })
}

/// The simulated account's fee group of a swap: USDT-margined swaps in group 4, USDC-margined in group 5.
fn fee_group(quote: &str) -> &'static str {
    if quote == "USDC" {
        "5"
    } else {
        "4"
    }
}

/// `GET /api/v5/account/trade-fee?instType=SWAP` in the 2026 shape: rates per `feeGroup`, the top-level
/// fields deprecated and empty. The simulated account pays 4 bp taker in group 4 and 2 bp in group 5. Needs
/// the `OK-ACCESS-*` headers (the signature itself is not checked).
async fn trade_fee(headers: axum::http::HeaderMap) -> Response {
    if !["OK-ACCESS-KEY", "OK-ACCESS-SIGN", "OK-ACCESS-TIMESTAMP", "OK-ACCESS-PASSPHRASE"]
        .iter()
        .all(|h| headers.contains_key(*h))
    {
        return error(StatusCode::UNAUTHORIZED, "50103", "Request header OK-ACCESS-KEY can not be empty.");
    }
    ok(
        r#"{"feeGroup":[{"groupId":"4","maker":"-0.0002","taker":"-0.0004"},{"groupId":"5","maker":"0","taker":"-0.0002"}],"fiat":[],"instType":"SWAP","level":"Lv1","maker":"","makerU":"","makerUSDC":"","taker":"","takerU":"","takerUSDC":"","ruleType":"","ts":"1763979985847"}"#,
    )
}

/// `GET /api/v5/public/instruments?instType=SWAP[&instId=…]`.
async fn instruments(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let query = params(raw.as_deref());
    match check_inst_type(&query) {
        Err(e) => return e.response(),
        Ok(false) => return ok(""),
        Ok(true) => {}
    }
    let wanted = query.get("instId").filter(|id| !id.is_empty());
    let items: Vec<InstrumentOut> = shared.with_market(|m| {
        m.pairs().iter().filter_map(instrument_out).filter(|i| wanted.is_none_or(|w| *w == i.inst_id)).collect()
    });
    if wanted.is_some() && items.is_empty() {
        return INSTRUMENT_MISSING.response();
    }
    ok_serialized(&items)
}

/// The `instruments?instType=SWAP` body for the market's OKX listings.
pub(crate) fn instruments_body(market: &Market) -> String {
    let items: Vec<InstrumentOut> = market.pairs().iter().filter_map(instrument_out).collect();
    let data = serde_json::to_string(&items).unwrap_or_else(|_| "[]".into());
    format!(r#"{{"code":"0","msg":"","data":{data}}}"#)
}

/// `GET /api/v5/market/books?instId=…&sz=…` (sz 1–400, default 1).
async fn books(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let query = params(raw.as_deref());
    let depth = match query.get("sz").map(|s| s.parse::<usize>()) {
        None => 1,
        Some(Ok(sz)) if sz >= 1 => sz.min(OKX_DEPTH),
        Some(_) => return error(StatusCode::BAD_REQUEST, "51000", "Parameter sz error"),
    };
    let body = with_inst(&shared, &query, |market, _, book| {
        let mut out = String::with_capacity(64 + depth * 64);
        out.push_str(r#"{"asks":"#);
        write_levels(&mut out, &book.meta, level_pairs(book.book.levels(Side::Ask).take(depth)));
        out.push_str(r#","bids":"#);
        write_levels(&mut out, &book.meta, level_pairs(book.book.levels(Side::Bid).take(depth)));
        // `seqId` (in the docs since 2026-05) bridges the snapshot with the `books` channel's updates.
        let _ = write!(out, r#","ts":"{}","seqId":{}}}"#, market.now_ms(), book.seq);
        out
    });
    match body {
        Ok(item) => ok(&item),
        Err(e) => e.response(),
    }
}

/// Prices with the instrument's tick decimals, trailing zeros trimmed (as OKX writes them).
fn price_str(book: &VenueBook, per_base: f64) -> String {
    f64_str(per_base, book.meta.instrument.price_scale, true)
}

/// One ticker of the `tickers` REST endpoint and WebSocket channel.
pub(crate) fn ticker_json(market: &Market, pair: &PairState, book: &VenueBook) -> String {
    let meta = &book.meta;
    let (Some(bid), Some(ask)) = (book.book.best_bid(), book.book.best_ask()) else {
        return String::new();
    };
    let ct_val = meta.instrument.base_per_qty_unit.to_f64().unwrap_or(1.0);
    let base_volume = pair.spec.volume_24h_quote / pair.fair;
    let contracts = match meta.instrument.kind {
        ContractKind::Linear => base_volume / ct_val,
        ContractKind::Inverse => pair.spec.volume_24h_quote / ct_val,
    };
    let last = if market.step_index().is_multiple_of(2) { bid } else { ask };
    let mut out = String::with_capacity(512);
    let _ = write!(out, r#"{{"instType":"SWAP","instId":"{}","last":""#, meta.symbol());
    let _ = meta.write_price(&mut out, last.price);
    out.push_str(r#"","lastSz":""#);
    let _ = meta.write_qty(&mut out, meta.lot);
    out.push_str(r#"","askPx":""#);
    let _ = meta.write_price(&mut out, ask.price);
    out.push_str(r#"","askSz":""#);
    let _ = meta.write_qty(&mut out, ask.qty);
    out.push_str(r#"","bidPx":""#);
    let _ = meta.write_price(&mut out, bid.price);
    out.push_str(r#"","bidSz":""#);
    let _ = meta.write_qty(&mut out, bid.qty);
    let open = price_str(book, pair.spec.start_price);
    let _ = write!(
        out,
        r#"","open24h":"{open}","high24h":"{}","low24h":"{}","volCcy24h":"{}","vol24h":"{}","sodUtc0":"{open}","sodUtc8":"{open}","ts":"{}"}}"#,
        price_str(book, pair.high),
        price_str(book, pair.low),
        f64_str(base_volume, 4, true),
        f64_str(contracts, meta.instrument.qty_scale, true),
        market.now_ms()
    );
    out
}

/// `GET /api/v5/market/tickers?instType=SWAP`.
async fn tickers(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let query = params(raw.as_deref());
    match check_inst_type(&query) {
        Err(e) => return e.response(),
        Ok(false) => return ok(""),
        Ok(true) => {}
    }
    let items = shared.with_market(|m| {
        m.pairs().iter().filter_map(|p| p.okx.as_ref().map(|b| ticker_json(m, p, b))).collect::<Vec<_>>().join(",")
    });
    ok(&items)
}

/// One entry of `GET /api/v5/public/funding-rate` and the `funding-rate` channel (fields as documented in
/// December 2026: `settFundingRate` is the last settlement's rate once `settState` is `settled`).
pub(crate) fn funding_json(market: &Market, pair: &PairState, book: &VenueBook) -> String {
    let funding = market.funding(pair, Venue::Okx);
    let rate = |r: f64| f64_str(r, 10, true);
    format!(
        concat!(
            r#"{{"formulaType":"withRate","fundingRate":"{rate}","fundingTime":"{ft}","impactValue":"20000","#,
            r#""instId":"{id}","instType":"SWAP","interestRate":"0.0001","maxFundingRate":"0.0075","method":"current_period","#,
            r#""minFundingRate":"-0.0075","nextFundingRate":"","nextFundingTime":"{nft}","premium":"0.0000621","#,
            r#""settFundingRate":"{settled}","settState":"settled","ts":"{ts}"}}"#
        ),
        rate = rate(funding.rate),
        settled = rate(funding.last_settled.0),
        ft = funding.next_ms,
        id = book.meta.symbol(),
        nft = funding.next_ms + u64::from(funding.interval_hours) * 3_600_000,
        ts = market.now_ms()
    )
}

/// `GET /api/v5/public/funding-rate?instId=…`.
async fn funding_rate(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let query = params(raw.as_deref());
    match with_inst(&shared, &query, funding_json) {
        Ok(item) => ok(&item),
        Err(e) => e.response(),
    }
}

/// The mark price of a pair on a venue: fair price with a tiny venue tilt.
pub fn mark_price(pair: &PairState) -> f64 {
    pair.fair * (1.0 + 0.00002)
}

/// `GET /api/v5/public/mark-price?instType=SWAP[&instId=…]`.
fn mark_price_list(shared: &Shared, query: &HashMap<String, String>) -> Response {
    let wanted = query.get("instId").filter(|id| !id.is_empty());
    let items: Vec<String> = shared.with_market(|m| {
        m.pairs()
            .iter()
            .filter_map(|p| p.okx.as_ref().map(|b| (p, b)))
            .filter(|(_, b)| wanted.is_none_or(|w| w == b.meta.symbol()))
            .map(|(p, b)| {
                format!(
                    r#"{{"instType":"SWAP","instId":"{}","markPx":"{}","ts":"{}"}}"#,
                    b.meta.symbol(),
                    price_str(b, mark_price(p)),
                    m.now_ms()
                )
            })
            .collect()
    });
    if wanted.is_some() && items.is_empty() {
        return INSTRUMENT_MISSING.response();
    }
    ok(&items.join(","))
}

async fn mark_prices(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let query = params(raw.as_deref());
    match check_inst_type(&query) {
        Err(e) => e.response(),
        Ok(false) => ok(""),
        Ok(true) => mark_price_list(&shared, &query),
    }
}

//! Bybit v5 wire messages read with serde (the book stream is read by the feed's own cursor).

use serde::Deserialize;

/// The envelope of every v5 REST answer: `{"retCode":0,"retMsg":"OK","result":{…},"time":…}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<T> {
    pub ret_code: i64,
    #[serde(default)]
    pub ret_msg: String,
    pub result: Option<T>,
}

/// `result` of `GET /v5/market/instruments-info?category=linear`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InstrumentsResult {
    #[serde(default)]
    pub list: Vec<InstrumentMsg>,
    /// Cursor of the next page; empty (or null) on the last page.
    #[serde(default)]
    pub next_page_cursor: Option<String>,
}

/// One linear contract.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstrumentMsg {
    pub symbol: String,
    #[serde(default)]
    pub contract_type: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub base_coin: String,
    #[serde(default)]
    pub quote_coin: String,
    #[serde(default)]
    pub settle_coin: String,
    #[serde(default)]
    pub price_filter: PriceFilter,
    #[serde(default)]
    pub lot_size_filter: LotSizeFilter,
    #[serde(default)]
    pub is_pre_listing: Option<bool>,
    /// `""`, `innovation`, or a TradFi market: `commodity` (since 2026-03-09), `stock`, `forex` (since
    /// 2026-04-21).
    #[serde(default)]
    pub symbol_type: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceFilter {
    #[serde(default)]
    pub tick_size: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LotSizeFilter {
    #[serde(default)]
    pub qty_step: String,
    #[serde(default)]
    pub min_order_qty: String,
}

/// `result` of `GET /v5/market/tickers?category=linear`.
#[derive(Debug, Deserialize)]
pub(crate) struct TickersResult {
    #[serde(default)]
    pub list: Vec<TickerMsg>,
}

/// A linear ticker (REST list item, or the `data` of a `tickers.{symbol}` message, whose deltas carry only the
/// fields that changed).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TickerMsg {
    #[serde(default)]
    pub symbol: Option<String>,
    #[serde(default)]
    pub funding_rate: Option<String>,
    #[serde(default)]
    pub next_funding_time: Option<String>,
    #[serde(default)]
    pub funding_interval_hour: Option<String>,
    #[serde(default)]
    pub funding_cap: Option<String>,
    #[serde(default)]
    pub turnover24h: Option<String>,
}

/// `result` of `GET /v5/market/funding/history`.
#[derive(Debug, Deserialize)]
pub(crate) struct FundingHistoryResult {
    #[serde(default)]
    pub list: Vec<FundingHistoryMsg>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FundingHistoryMsg {
    pub funding_rate: String,
    pub funding_rate_timestamp: String,
}

/// `result` of `GET /v5/account/fee-rate`.
#[derive(Debug, Deserialize)]
pub(crate) struct FeeRateResult {
    #[serde(default)]
    pub list: Vec<FeeRateMsg>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FeeRateMsg {
    pub symbol: String,
    pub taker_fee_rate: String,
}

//! Binance USDⓈ-M wire messages, borrowed from the frame text.

use std::borrow::Cow;

use serde::Deserialize;

/// An error body `{"code":-1121,"msg":"Invalid symbol."}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorMsg<'a> {
    pub code: i64,
    #[serde(default, borrow)]
    pub msg: Cow<'a, str>,
}

/// `GET /fapi/v1/exchangeInfo`.
#[derive(Debug, Deserialize)]
pub(crate) struct ExchangeInfo<'a> {
    #[serde(borrow)]
    pub symbols: Vec<SymbolMsg<'a>>,
}

/// One symbol of `exchangeInfo`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SymbolMsg<'a> {
    pub symbol: &'a str,
    #[serde(default)]
    pub contract_type: &'a str,
    #[serde(default)]
    pub status: &'a str,
    pub base_asset: &'a str,
    pub quote_asset: &'a str,
    #[serde(default)]
    pub margin_asset: &'a str,
    /// `COIN`, `INDEX`, `PREMARKET`, `EQUITY`, `COMMODITY`, … (no official list).
    #[serde(default)]
    pub underlying_type: &'a str,
    #[serde(default, borrow)]
    pub filters: Vec<FilterMsg<'a>>,
}

/// A symbol filter; only the fields perpspread reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilterMsg<'a> {
    pub filter_type: &'a str,
    #[serde(default)]
    pub tick_size: Option<&'a str>,
    #[serde(default)]
    pub step_size: Option<&'a str>,
    #[serde(default)]
    pub min_qty: Option<&'a str>,
}

/// `GET /fapi/v1/depth`.
#[derive(Debug, Deserialize)]
pub(crate) struct DepthMsg<'a> {
    #[serde(rename = "lastUpdateId")]
    pub last_update_id: u64,
    #[serde(rename = "E", default)]
    pub event_time: Option<u64>,
    #[serde(rename = "T", default)]
    pub transaction_time: Option<u64>,
    #[serde(borrow)]
    pub bids: Vec<(&'a str, &'a str)>,
    #[serde(borrow)]
    pub asks: Vec<(&'a str, &'a str)>,
}

/// One entry of `GET /fapi/v1/ticker/24hr`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Ticker24hMsg<'a> {
    pub symbol: &'a str,
    #[serde(default)]
    pub quote_volume: &'a str,
}

/// One entry of `GET /fapi/v1/premiumIndex`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PremiumIndexMsg<'a> {
    pub symbol: &'a str,
    pub last_funding_rate: &'a str,
    #[serde(default)]
    pub next_funding_time: Option<u64>,
}

/// A body that is either one object or a list of them (endpoints with an optional `symbol`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    /// The entries as a list.
    pub(crate) fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        }
    }
}

/// One entry of `GET /fapi/v1/fundingInfo` (only symbols whose funding cap or interval was adjusted).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FundingInfoMsg<'a> {
    pub symbol: &'a str,
    #[serde(default)]
    pub funding_interval_hours: Option<u32>,
    #[serde(default)]
    pub adjusted_funding_rate_cap: Option<&'a str>,
    #[serde(default)]
    pub adjusted_funding_rate_floor: Option<&'a str>,
}

/// One entry of `GET /fapi/v1/fundingRate` (settled funding history).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FundingRateMsg<'a> {
    pub funding_rate: &'a str,
    pub funding_time: u64,
}

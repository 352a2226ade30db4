//! OKX v5 wire messages, borrowed from the frame text (no copies of numbers).

use std::borrow::Cow;

use serde::Deserialize;

/// The REST envelope `{"code":"0","msg":"","data":[…]}`.
#[derive(Debug, Deserialize)]
pub struct Envelope<'a, T> {
    #[serde(borrow)]
    pub code: Cow<'a, str>,
    #[serde(default, borrow)]
    pub msg: Cow<'a, str>,
    #[serde(default = "Option::default")]
    pub data: Option<T>,
}

/// The envelope with `data` ignored, for reading error codes.
#[derive(Debug, Deserialize)]
pub struct Status<'a> {
    #[serde(borrow)]
    pub code: Cow<'a, str>,
    #[serde(default, borrow)]
    pub msg: Cow<'a, str>,
}

/// One entry of `GET /api/v5/public/instruments?instType=SWAP`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstrumentMsg<'a> {
    pub inst_id: &'a str,
    #[serde(default)]
    pub inst_type: &'a str,
    #[serde(default)]
    pub ct_type: &'a str,
    #[serde(default)]
    pub ct_val: &'a str,
    #[serde(default)]
    pub ct_mult: &'a str,
    #[serde(default)]
    pub ct_val_ccy: &'a str,
    #[serde(default)]
    pub settle_ccy: &'a str,
    pub tick_sz: &'a str,
    pub lot_sz: &'a str,
    #[serde(default)]
    pub min_sz: &'a str,
    #[serde(default)]
    pub state: &'a str,
    /// `normal`, `pre_market`, `rebase_contract`, `xperp` (docs of 2026-09-08).
    #[serde(default)]
    pub rule_type: &'a str,
    /// Trading-fee group (with `instType`, selects the account's rate in `trade-fee`'s `feeGroup`).
    #[serde(default)]
    pub group_id: &'a str,
}

/// A book level `[price, size, "0" (deprecated), order count]`.
pub(crate) type LevelMsg<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>);

/// `data[0]` of `GET /api/v5/market/books` (and of the `books` WebSocket channels).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BookMsg<'a> {
    #[serde(borrow)]
    pub asks: Vec<LevelMsg<'a>>,
    #[serde(borrow)]
    pub bids: Vec<LevelMsg<'a>>,
    #[serde(default)]
    pub ts: Option<&'a str>,
    #[serde(default)]
    pub seq_id: Option<i64>,
}

/// One entry of `GET /api/v5/market/tickers?instType=SWAP`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TickerMsg<'a> {
    pub inst_id: &'a str,
    #[serde(default)]
    pub last: &'a str,
    /// 24 h volume in base currency for swaps.
    #[serde(default)]
    pub vol_ccy24h: &'a str,
    #[serde(default)]
    pub bid_px: &'a str,
    #[serde(default)]
    pub ask_px: &'a str,
    #[serde(default)]
    pub ts: &'a str,
}

/// One entry of `GET /api/v5/public/funding-rate` (and the `funding-rate` channel).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FundingMsg<'a> {
    pub inst_id: &'a str,
    pub funding_rate: &'a str,
    #[serde(default)]
    pub next_funding_rate: &'a str,
    /// Settlement time of the current period (the next funding), Unix ms.
    #[serde(default)]
    pub funding_time: &'a str,
    /// Settlement time of the period after, Unix ms.
    #[serde(default)]
    pub next_funding_time: &'a str,
    /// Highest and lowest rate allowed.
    #[serde(default)]
    pub max_funding_rate: &'a str,
    #[serde(default)]
    pub min_funding_rate: &'a str,
    /// The rate of the settlement under way (`settState` `processing`) or of the last one (`settled`).
    #[serde(default)]
    pub sett_funding_rate: &'a str,
}

/// One entry of `GET /api/v5/public/mark-price`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MarkPriceMsg<'a> {
    pub inst_id: &'a str,
    pub mark_px: &'a str,
}

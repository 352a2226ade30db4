//! OKX account endpoints (signed): the account's real swap fee rates.

use std::time::Duration;

use perpspread_net::auth::{hmac_sha256, Credentials};
use perpspread_net::body::{decode, BodyError};
use perpspread_net::limiter::RateLimiter;
use perpspread_net::rest::{unix_ns, RestError, SignedRequest};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::messages::Envelope;
use crate::OkxRest;

/// Fee rates of the account for swaps, in bp of notional (positive = fee paid, negative = rebate).
///
/// Followed: OKX v5 "Get fee rates" (docs of 2026-09-08, read 2026-12-06): rates come per fee group
/// (`feeGroup[]`: `groupId`, `taker`, `maker`), and an instrument's group is the `groupId` of
/// `/api/v5/public/instruments` (with `instType`); the top-level `taker`/`takerU`/`takerUSDC` are deprecated and
/// only a fallback here.
#[derive(Debug, Clone, PartialEq)]
pub struct SwapFees {
    /// Taker rate of each fee group, bp.
    pub groups: Vec<FeeGroup>,
    /// From the deprecated top-level fields (USDT-margined swaps), when sent: for instruments of no group.
    pub fallback_taker_bp: Option<f64>,
    pub fallback_maker_bp: Option<f64>,
    /// USDC-margined swaps, from the deprecated `takerUSDC`, when sent.
    pub taker_usdc_bp: Option<f64>,
}

/// The account's rates in one fee group, bp.
#[derive(Debug, Clone, PartialEq)]
pub struct FeeGroup {
    pub group_id: String,
    pub taker_bp: f64,
    pub maker_bp: Option<f64>,
}

impl SwapFees {
    /// The taker rate of an instrument in fee group `group` (`usdc`: a USDC-margined swap), bp: its group's
    /// rate, else the deprecated top-level rate of its margin currency, else `None` (the caller keeps its
    /// configured fee and says so).
    pub fn taker_bp(&self, group: Option<&str>, usdc: bool) -> Option<f64> {
        let fallback = if usdc { self.taker_usdc_bp.or(self.fallback_taker_bp) } else { self.fallback_taker_bp };
        group.and_then(|id| self.groups.iter().find(|g| g.group_id == id)).map(|g| g.taker_bp).or(fallback)
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TradeFeeMsg<'a> {
    #[serde(default, borrow)]
    fee_group: Vec<FeeGroupMsg<'a>>,
    #[serde(default)]
    taker_u: &'a str,
    #[serde(default)]
    maker_u: &'a str,
    #[serde(default)]
    taker: &'a str,
    #[serde(default)]
    maker: &'a str,
    #[serde(default, rename = "takerUSDC")]
    taker_usdc: &'a str,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FeeGroupMsg<'a> {
    #[serde(default)]
    group_id: &'a str,
    #[serde(default)]
    taker: &'a str,
    #[serde(default)]
    maker: &'a str,
}

/// `base64(HMAC-SHA256(secret, timestamp + method + requestPath + body))`, the `OK-ACCESS-SIGN` header.
pub fn sign(secret: &str, timestamp: &str, method: &str, request_path: &str, body: &str) -> String {
    use base64::Engine;
    let prehash = format!("{timestamp}{method}{request_path}{body}");
    base64::engine::general_purpose::STANDARD.encode(hmac_sha256(secret.as_bytes(), prehash.as_bytes()))
}

/// OKX's timestamp format, e.g. `2020-12-08T09:08:57.715Z`.
pub(crate) fn iso8601_millis(unix_ms: u64) -> String {
    perpspread_core::time::rfc3339_millis(unix_ms.saturating_mul(1_000_000))
}

/// The signed request for `path` at `unix_ms`.
pub fn signed_request(credentials: &Credentials, path: &str, unix_ms: u64) -> SignedRequest {
    let timestamp = iso8601_millis(unix_ms);
    let signature = sign(credentials.secret.expose(), &timestamp, "GET", path, "");
    let passphrase = credentials.passphrase.as_ref().map(|p| p.expose().to_owned()).unwrap_or_default();
    SignedRequest {
        path_and_query: path.to_owned(),
        headers: vec![
            ("OK-ACCESS-KEY", credentials.api_key.expose().to_owned()),
            ("OK-ACCESS-SIGN", signature),
            ("OK-ACCESS-TIMESTAMP", timestamp),
            ("OK-ACCESS-PASSPHRASE", passphrase),
        ],
    }
}

impl OkxRest {
    /// The account's swap fee rates (`GET /api/v5/account/trade-fee?instType=SWAP`).
    pub async fn swap_fees(&self, credentials: &Credentials) -> Result<SwapFees, RestError> {
        let path = "/api/v5/account/trade-fee?instType=SWAP";
        let limiter = RateLimiter::new(5, Duration::from_secs(2));
        let sign = |p: &str| signed_request(credentials, p, unix_ns() / 1_000_000);
        let response = self.client().get_signed(path, &limiter, 1, &sign).await?;
        parse_trade_fee(&response.body).map_err(|m| self.client().decode_error(path, m))
    }
}

/// The account's taker fee of each instrument, bp, keyed by instId: by its fee group (`feeGroup` by `groupId`),
/// else the deprecated account-wide rate (USDC-margined swaps: `takerUSDC`); logs how many got which.
pub async fn taker_fees(
    rest: &OkxRest,
    credentials: &Credentials,
    instruments: &[perpspread_core::Instrument],
) -> Result<std::collections::HashMap<String, f64>, RestError> {
    let fees = rest.swap_fees(credentials).await?;
    let (mut by_group, mut by_account) = (0, 0);
    let mut rates = std::collections::HashMap::new();
    for instrument in instruments {
        let grouped = fees.groups.iter().any(|g| Some(g.group_id.as_str()) == instrument.fee_group.as_deref());
        if let Some(bp) = fees.taker_bp(instrument.fee_group.as_deref(), instrument.settle == "USDC") {
            if grouped {
                by_group += 1;
            } else {
                by_account += 1;
            }
            rates.insert(instrument.symbol.clone(), bp);
        }
    }
    tracing::info!(
        "OKX account taker fees: {by_group} instruments by fee group, {by_account} by the deprecated account-wide \
         rate, {} keep the configured rate",
        instruments.len() - rates.len()
    );
    Ok(rates)
}

/// Parses a trade-fee response. OKX reports commissions as negative rates (a rebate is positive).
pub fn parse_trade_fee(body: &[u8]) -> Result<SwapFees, BodyError> {
    let envelope: Envelope<Vec<TradeFeeMsg>> = decode(body)?;
    let data = envelope.data.unwrap_or_default();
    let msg = data.first().ok_or(BodyError::Missing("no fee rates in response"))?;
    let bp = |text: &str| -> Option<f64> {
        let rate: Decimal = text.parse().ok()?;
        Some(-rust_decimal::prelude::ToPrimitive::to_f64(&rate)? * 10_000.0)
    };
    // A group without a readable taker rate is left out (its instruments fall back), not the whole answer.
    let groups: Vec<FeeGroup> = msg
        .fee_group
        .iter()
        .filter_map(|g| {
            let taker = bp(g.taker)?;
            Some(FeeGroup { group_id: g.group_id.to_owned(), taker_bp: taker, maker_bp: bp(g.maker) })
        })
        .collect();
    let fallback_taker_bp = bp(msg.taker_u).or_else(|| bp(msg.taker));
    if groups.is_empty() && fallback_taker_bp.is_none() {
        return Err(BodyError::Missing("no fee group and no taker rate in response"));
    }
    Ok(SwapFees {
        groups,
        fallback_taker_bp,
        fallback_maker_bp: bp(msg.maker_u).or_else(|| bp(msg.maker)),
        taker_usdc_bp: bp(msg.taker_usdc),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use perpspread_net::auth::Secret;

    #[test]
    fn signature_of_the_documented_example() {
        // OKX's documentation example: secret 22582BD0CFF14C41EDBF1AB98506286D, timestamp
        // 2020-12-08T09:08:57.715Z. Expected value computed independently with Python's hmac/base64.
        let signature = sign(
            "22582BD0CFF14C41EDBF1AB98506286D",
            "2020-12-08T09:08:57.715Z",
            "GET",
            "/api/v5/account/trade-fee?instType=SWAP",
            "",
        );
        assert_eq!(signature, "1s4XxluakYTAZ6qKJ6io7ViJkljqHIyCWwgn//+0fVU=");
    }

    #[test]
    fn timestamps_and_headers() {
        assert_eq!(iso8601_millis(1_607_418_537_715), "2020-12-08T09:08:57.715Z");
        assert_eq!(iso8601_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
        let credentials = Credentials {
            api_key: Secret::new("key"),
            secret: Secret::new("22582BD0CFF14C41EDBF1AB98506286D"),
            passphrase: Some(Secret::new("pass")),
        };
        let request = signed_request(&credentials, "/api/v5/account/trade-fee?instType=SWAP", 1_607_418_537_715);
        let header = |name: &str| request.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
        assert_eq!(header("OK-ACCESS-SIGN"), Some("1s4XxluakYTAZ6qKJ6io7ViJkljqHIyCWwgn//+0fVU="));
        assert_eq!(header("OK-ACCESS-PASSPHRASE"), Some("pass"));
    }

    #[test]
    fn deprecated_top_level_rates_are_the_fallback() {
        let body = br#"{"code":"0","msg":"","data":[{"category":"1","delivery":"","exercise":"","instType":"SWAP","level":"Lv1","maker":"-0.0002","makerU":"-0.0002","makerUSDC":"-0.0002","taker":"-0.0005","takerU":"-0.0005","takerUSDC":"-0.0005","ts":"1700000000000"}]}"#;
        let fees = parse_trade_fee(body).unwrap();
        assert!(fees.groups.is_empty());
        assert!((fees.taker_bp(Some("4"), false).unwrap() - 5.0).abs() < 1e-9);
        assert!((fees.fallback_maker_bp.unwrap() - 2.0).abs() < 1e-9);
        assert!(parse_trade_fee(br#"{"code":"0","msg":"","data":[]}"#).is_err());
    }

    #[test]
    fn fee_groups_give_each_instrument_its_rate() {
        // The shape of the 2026 docs: rates per `feeGroup`, the top-level fields deprecated (empty here).
        let body = br#"{"code":"0","msg":"","data":[{"feeGroup":[{"groupId":"4","maker":"-0.0002","taker":"-0.0005"},{"groupId":"5","maker":"0.00005","taker":"-0.0003"}],"fiat":[],"instType":"SWAP","level":"Lv1","maker":"","makerU":"","taker":"","takerU":"","takerUSDC":"","ruleType":"","ts":"1763979985847"}]}"#;
        let fees = parse_trade_fee(body).unwrap();
        assert_eq!(fees.groups.len(), 2);
        assert!((fees.taker_bp(Some("4"), false).unwrap() - 5.0).abs() < 1e-9);
        assert!((fees.taker_bp(Some("5"), true).unwrap() - 3.0).abs() < 1e-9);
        assert!((fees.groups[1].maker_bp.unwrap() + 0.5).abs() < 1e-9, "a positive maker rate is a rebate");
        assert_eq!(fees.taker_bp(Some("9"), false), None, "an unknown group has no rate (no deprecated fallback sent)");
        assert_eq!(fees.taker_bp(None, false), None);
        // A malformed group is left out, not the whole answer.
        let body = br#"{"code":"0","msg":"","data":[{"feeGroup":[{"groupId":"4","taker":"x"},{"groupId":"5","taker":"-0.0003"}],"instType":"SWAP","takerU":"","takerUSDC":"-0.0002"}]}"#;
        let fees = parse_trade_fee(body).unwrap();
        assert_eq!(fees.groups.len(), 1);
        assert!((fees.taker_bp(Some("4"), true).unwrap() - 2.0).abs() < 1e-9, "USDC swaps fall back to takerUSDC");
        assert_eq!(fees.taker_bp(Some("4"), false), None);
    }
}

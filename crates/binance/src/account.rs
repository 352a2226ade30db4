//! Binance USDⓈ-M account endpoints (signed): the account's real commission rates.

use perpspread_net::auth::{hmac_sha256, Credentials};
use perpspread_net::body::{decode, BodyError};
use perpspread_net::rest::{unix_ns, RestError, SignedRequest};
use serde::Deserialize;
use std::collections::HashMap;

use crate::BinanceRest;

/// How long a signed request stays valid at Binance, ms.
pub const RECV_WINDOW_MS: u64 = 5_000;

/// Commission rates of one symbol, in bp of notional.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Commission {
    pub taker_bp: f64,
    pub maker_bp: f64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommissionMsg<'a> {
    maker_commission_rate: &'a str,
    taker_commission_rate: &'a str,
}

/// `query&signature=hex(HMAC-SHA256(secret, query))`.
pub fn sign_query(secret: &str, query: &str) -> String {
    let mac = hmac_sha256(secret.as_bytes(), query.as_bytes());
    format!("{query}&signature={}", hex::encode(mac))
}

/// The signed request for `path?query` at `unix_ms` (adds `recvWindow` and `timestamp`).
pub fn signed_request(credentials: &Credentials, path_and_query: &str, unix_ms: u64) -> SignedRequest {
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let separator = if query.is_empty() { "" } else { "&" };
    let query = format!("{query}{separator}recvWindow={RECV_WINDOW_MS}&timestamp={unix_ms}");
    SignedRequest {
        path_and_query: format!("{path}?{}", sign_query(credentials.secret.expose(), &query)),
        headers: vec![("X-MBX-APIKEY", credentials.api_key.expose().to_owned())],
    }
}

impl BinanceRest {
    /// The account's commission rates for `symbol` (`GET /fapi/v1/commissionRate`, weight 20).
    pub async fn commission(&self, credentials: &Credentials, symbol: &str) -> Result<Commission, RestError> {
        let path = format!("/fapi/v1/commissionRate?symbol={symbol}");
        let sign = |p: &str| signed_request(credentials, p, unix_ns() / 1_000_000);
        let response = self.client().get_signed(&path, self.weight_limiter(), 20, &sign).await?;
        parse_commission(&response.body).map_err(|m| self.client().decode_error(&path, m))
    }
}

/// Symbols whose commission is read one by one (weight 20 each, from the 2400-a-minute budget); the others take
/// the rate most of those have.
pub(crate) const COMMISSION_LOOKUPS: usize = 40;

/// The account's taker fee of each instrument, bp, keyed by symbol: read per symbol for the first
/// [`COMMISSION_LOOKUPS`] symbols (sorted), and for the others the rate most of those have (the highest of equally
/// common ones: fees are never understated); logs how many were read and assumed.
pub async fn taker_fees(
    rest: &BinanceRest,
    credentials: &Credentials,
    instruments: &[perpspread_core::Instrument],
) -> Result<HashMap<String, f64>, RestError> {
    let mut symbols: Vec<&str> = instruments.iter().map(|i| i.symbol.as_str()).collect();
    symbols.sort_unstable();
    symbols.dedup();
    let looked_up = &symbols[..symbols.len().min(COMMISSION_LOOKUPS)];
    let results = futures::future::join_all(looked_up.iter().map(|symbol| rest.commission(credentials, symbol))).await;
    let mut rates = HashMap::new();
    let mut last_error = None;
    for (symbol, result) in looked_up.iter().zip(results) {
        match result {
            Ok(fees) => {
                rates.insert((*symbol).to_owned(), fees.taker_bp);
            }
            Err(error) => {
                tracing::warn!(symbol, "Binance commission unavailable, keeping the configured rate: {error}");
                last_error = Some(error);
            }
        }
    }
    if rates.is_empty() {
        if let Some(error) = last_error {
            return Err(error);
        }
    }
    let common = most_common_rate(rates.values().copied());
    let mut assumed = 0;
    if let Some(bp) = common {
        for symbol in symbols.iter().filter(|s| !looked_up.contains(s)) {
            rates.insert((*symbol).to_owned(), bp);
            assumed += 1;
        }
    }
    tracing::info!(
        "Binance account taker fees: read for {} of {} symbols{}",
        rates.len() - assumed,
        symbols.len(),
        match common {
            Some(bp) if assumed > 0 => format!("; {assumed} others assumed at the most common rate, {bp} bp"),
            _ => String::new(),
        }
    );
    Ok(rates)
}

/// The most frequent rate; among equally frequent ones the highest.
fn most_common_rate(rates: impl Iterator<Item = f64>) -> Option<f64> {
    let mut counts: Vec<(f64, usize)> = Vec::new();
    for bp in rates {
        match counts.iter_mut().find(|(rate, _)| *rate == bp) {
            Some(entry) => entry.1 += 1,
            None => counts.push((bp, 1)),
        }
    }
    counts.into_iter().max_by(|(a, na), (b, nb)| na.cmp(nb).then(a.total_cmp(b))).map(|(bp, _)| bp)
}

/// Parses a commissionRate response.
pub fn parse_commission(body: &[u8]) -> Result<Commission, BodyError> {
    let msg: CommissionMsg = decode(body)?;
    let bp = |field, text: &str| -> Result<f64, BodyError> {
        text.parse::<f64>().map(|r| r * 10_000.0).map_err(|_| BodyError::field(field, text, "is not a number"))
    };
    Ok(Commission {
        taker_bp: bp("takerCommissionRate", msg.taker_commission_rate)?,
        maker_bp: bp("makerCommissionRate", msg.maker_commission_rate)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use perpspread_net::auth::Secret;

    const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

    #[test]
    fn documented_signature_example() {
        // Binance API documentation, "SIGNED Endpoint Examples".
        let query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
        assert_eq!(
            sign_query(SECRET, query),
            format!("{query}&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71")
        );
    }

    #[test]
    fn signed_commission_request() {
        let credentials =
            Credentials { api_key: Secret::new("api-key"), secret: Secret::new(SECRET), passphrase: None };
        let request = signed_request(&credentials, "/fapi/v1/commissionRate?symbol=BTCUSDT", 1_499_827_319_559);
        assert!(request
            .path_and_query
            .starts_with("/fapi/v1/commissionRate?symbol=BTCUSDT&recvWindow=5000&timestamp=1499827319559&signature="));
        assert_eq!(request.headers, vec![("X-MBX-APIKEY", "api-key".to_owned())]);
        let fees =
            parse_commission(br#"{"symbol":"BTCUSDT","makerCommissionRate":"0.0002","takerCommissionRate":"0.0004"}"#)
                .unwrap();
        assert!((fees.taker_bp - 4.0).abs() < 1e-9 && (fees.maker_bp - 2.0).abs() < 1e-9);
        assert!(parse_commission(b"{}").is_err());
    }
}

//! Bybit v5 account endpoints (signed): the account's real fee rates.
//!
//! A signed GET carries `X-BAPI-API-KEY`, `X-BAPI-TIMESTAMP` (Unix ms), `X-BAPI-RECV-WINDOW` and `X-BAPI-SIGN` =
//! hex(HMAC-SHA256(secret, timestamp + api key + recv window + query string)) (Bybit V5 "Integration Guidance →
//! Authentication", read 2026-12-07).

use std::collections::HashMap;

use perpspread_core::Instrument;
use perpspread_net::auth::{hmac_sha256, Credentials};
use perpspread_net::body::BodyError;
use perpspread_net::rest::{unix_ns, RestError, SignedRequest};

use crate::messages::FeeRateResult;
use crate::BybitRest;

/// How long a signed request stays valid at Bybit, ms.
pub const RECV_WINDOW_MS: u64 = 5_000;

/// `X-BAPI-SIGN` of a GET: hex(HMAC-SHA256(secret, timestamp + api_key + recv_window + query)).
pub fn sign(secret: &str, timestamp_ms: u64, api_key: &str, recv_window_ms: u64, query: &str) -> String {
    let payload = format!("{timestamp_ms}{api_key}{recv_window_ms}{query}");
    hex::encode(hmac_sha256(secret.as_bytes(), payload.as_bytes()))
}

/// The signed request for `path?query` at `unix_ms`.
pub fn signed_request(credentials: &Credentials, path_and_query: &str, unix_ms: u64) -> SignedRequest {
    let query = path_and_query.split_once('?').map_or("", |(_, q)| q);
    let api_key = credentials.api_key.expose();
    SignedRequest {
        path_and_query: path_and_query.to_owned(),
        headers: vec![
            ("X-BAPI-API-KEY", api_key.to_owned()),
            ("X-BAPI-TIMESTAMP", unix_ms.to_string()),
            ("X-BAPI-RECV-WINDOW", RECV_WINDOW_MS.to_string()),
            ("X-BAPI-SIGN", sign(credentials.secret.expose(), unix_ms, api_key, RECV_WINDOW_MS, query)),
        ],
    }
}

/// Parses `GET /v5/account/fee-rate` into taker fee per symbol, bp (Bybit reports fees as positive rates).
pub fn parse_fee_rates(body: &[u8]) -> Result<HashMap<String, f64>, BodyError> {
    let result: FeeRateResult = crate::rest::result(body)?;
    result
        .list
        .into_iter()
        .map(|fee| {
            let rate = fee
                .taker_fee_rate
                .parse::<f64>()
                .map_err(|_| BodyError::field("takerFeeRate", &fee.taker_fee_rate, "is not a number"))?;
            Ok((fee.symbol, rate * 10_000.0))
        })
        .collect()
}

/// The account's taker fee of each instrument, bp, from one `GET /v5/account/fee-rate?category=linear` (every
/// linear symbol at once); logs how many instruments got one.
pub async fn taker_fees(
    rest: &BybitRest,
    credentials: &Credentials,
    instruments: &[Instrument],
) -> Result<HashMap<String, f64>, RestError> {
    let path = "/v5/account/fee-rate?category=linear";
    let sign = |p: &str| signed_request(credentials, p, unix_ns() / 1_000_000);
    let response = rest.client().get_signed(path, rest.limiter(), 1, &sign).await?;
    let all = parse_fee_rates(&response.body).map_err(|m| rest.client().decode_error(path, m))?;
    let rates: HashMap<String, f64> =
        instruments.iter().filter_map(|i| Some((i.symbol.clone(), *all.get(&i.symbol)?))).collect();
    tracing::info!("Bybit account taker fees: read for {} of {} instruments", rates.len(), instruments.len());
    Ok(rates)
}

#[cfg(test)]
mod tests {
    use super::*;
    use perpspread_net::auth::Secret;

    #[test]
    fn signs_timestamp_key_window_and_query() {
        // nautilus_trader's Bybit signing test vector (key test_api_key, secret test_secret), the fee-rate query of
        // BTCUSDT; recomputed independently with Python's hmac.
        let signature = sign("test_secret", 1_700_000_000_000, "test_api_key", 5000, "category=linear&symbol=BTCUSDT");
        assert_eq!(signature, "fd4f31228a46109dc6673062328693696df9a96c7ff04e6491a45e7f63a0fdd7");
        let credentials = Credentials { api_key: Secret::new("key"), secret: Secret::new("secret"), passphrase: None };
        let request = signed_request(&credentials, "/v5/account/fee-rate?category=linear", 1);
        let header = |name: &str| request.headers.iter().find(|(h, _)| *h == name).map(|(_, v)| v.as_str());
        assert_eq!(header("X-BAPI-API-KEY"), Some("key"));
        assert_eq!(header("X-BAPI-TIMESTAMP"), Some("1"));
        assert_eq!(header("X-BAPI-SIGN"), Some(sign("secret", 1, "key", 5000, "category=linear").as_str()));
    }

    #[test]
    fn fee_rates_in_bp() {
        let body = br#"{"retCode":0,"retMsg":"OK","result":{"category":"linear","list":[{"symbol":"ETHUSDT","takerFeeRate":"0.00055","makerFeeRate":"0.0002"}]},"retExtInfo":{},"time":1676360412576}"#;
        let rates = parse_fee_rates(body).unwrap();
        assert!((rates["ETHUSDT"] - 5.5).abs() < 1e-9);
        let refused = parse_fee_rates(br#"{"retCode":10003,"retMsg":"API key is invalid."}"#);
        assert!(matches!(refused, Err(BodyError::Api { code, .. }) if code == "10003"));
    }
}

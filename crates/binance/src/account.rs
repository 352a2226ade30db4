//! Binance USDⓈ-M account endpoints (signed): the account's real commission rates.

use perpspread_net::auth::{hmac_sha256, Credentials};
use perpspread_net::rest::{unix_ns, RestError, SignedRequest};
use serde::Deserialize;

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

/// Parses a commissionRate response.
pub fn parse_commission(body: &[u8]) -> Result<Commission, String> {
    let msg: CommissionMsg = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let bp = |field: &str, text: &str| -> Result<f64, String> {
        text.parse::<f64>().map(|r| r * 10_000.0).map_err(|_| format!("{field} {text:?} is not a number"))
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

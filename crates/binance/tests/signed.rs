//! The signed commission request over HTTP: API key header and query signature checked by the server.

use std::collections::HashMap;

use axum::extract::{Query, RawQuery};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;
use perpspread_binance::account::sign_query;
use perpspread_binance::BinanceRest;
use perpspread_net::auth::{Credentials, Secret};
use perpspread_net::RestConfig;

const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

async fn commission(
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    Query(params): Query<HashMap<String, String>>,
) -> (StatusCode, String) {
    let raw = raw.unwrap_or_default();
    let unsigned = raw.split("&signature=").next().unwrap_or_default();
    let valid = sign_query(SECRET, unsigned) == raw
        && headers.get("X-MBX-APIKEY").is_some_and(|k| k == "api-key")
        && params.contains_key("timestamp")
        && params.get("recvWindow").is_some_and(|w| w == "5000");
    if !valid {
        return (StatusCode::BAD_REQUEST, r#"{"code":-1022,"msg":"Signature for this request is not valid."}"#.into());
    }
    let symbol = params.get("symbol").cloned().unwrap_or_default();
    (
        StatusCode::OK,
        format!(r#"{{"symbol":"{symbol}","makerCommissionRate":"0.0002","takerCommissionRate":"0.0004"}}"#),
    )
}

#[tokio::test]
async fn fetches_commission_with_a_valid_signature() {
    let app = Router::new().route("/fapi/v1/commissionRate", get(commission));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let binance = BinanceRest::new(RestConfig::new(&url), 2400).unwrap();
    let good = Credentials { api_key: Secret::new("api-key"), secret: Secret::new(SECRET), passphrase: None };
    let fees = binance.commission(&good, "BTCUSDT").await.unwrap();
    assert!((fees.taker_bp - 4.0).abs() < 1e-9 && (fees.maker_bp - 2.0).abs() < 1e-9);
    let bad = Credentials { secret: Secret::new("wrong"), ..good };
    let error = binance.commission(&bad, "BTCUSDT").await.unwrap_err().to_string();
    assert!(error.contains("-1022"), "{error}");
}

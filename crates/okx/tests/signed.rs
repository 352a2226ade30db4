//! The signed fee request over HTTP: headers present, signature valid for the sent timestamp.

use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;
use perpspread_net::auth::{Credentials, Secret};
use perpspread_net::RestConfig;
use perpspread_okx::account::sign;
use perpspread_okx::OkxRest;

const SECRET: &str = "22582BD0CFF14C41EDBF1AB98506286D";

async fn trade_fee(headers: HeaderMap) -> (StatusCode, String) {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let expected = sign(SECRET, &header("OK-ACCESS-TIMESTAMP"), "GET", "/api/v5/account/trade-fee?instType=SWAP", "");
    if header("OK-ACCESS-KEY") != "key"
        || header("OK-ACCESS-PASSPHRASE") != "pass"
        || header("OK-ACCESS-SIGN") != expected
    {
        return (StatusCode::UNAUTHORIZED, r#"{"code":"50113","msg":"Invalid Sign","data":[]}"#.into());
    }
    (StatusCode::OK, r#"{"code":"0","msg":"","data":[{"instType":"SWAP","level":"Lv1","maker":"-0.0002","taker":"-0.0005","makerU":"-0.0002","takerU":"-0.0005","takerUSDC":"-0.0004","ts":"1"}]}"#.into())
}

#[tokio::test]
async fn fetches_account_fees_with_a_valid_signature() {
    let app = Router::new().route("/api/v5/account/trade-fee", get(trade_fee));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let okx = OkxRest::new(RestConfig::new(&url)).unwrap();
    let good =
        Credentials { api_key: Secret::new("key"), secret: Secret::new(SECRET), passphrase: Some(Secret::new("pass")) };
    let fees = okx.swap_fees(&good).await.unwrap();
    assert!((fees.taker_bp(None, false).unwrap() - 5.0).abs() < 1e-9);
    assert!((fees.taker_usdc_bp.unwrap() - 4.0).abs() < 1e-9);
    let bad = Credentials { secret: Secret::new("wrong"), ..good };
    let error = okx.swap_fees(&bad).await.unwrap_err().to_string();
    assert!(error.contains("50113") && !error.contains("wrong"), "{error}");
}

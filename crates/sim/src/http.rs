//! Helpers shared by the REST servers: query parsing, JSON responses and the `/_sim/fault` endpoint.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::faults::Fault;
use crate::server::Shared;

/// Parses a query string (`a=1&b=x%2Dy`) into a map; later duplicates win.
pub(crate) fn params(raw: Option<&str>) -> HashMap<String, String> {
    raw.unwrap_or_default()
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A JSON response with the given status.
pub(crate) fn json(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `POST /_sim/fault` with a [`Fault`] as JSON: injects it now (or at `at_ms` after start).
pub(crate) async fn fault_endpoint(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match serde_json::from_slice::<Fault>(&body) {
        Ok(fault) => {
            shared.schedule(fault);
            json(StatusCode::OK, r#"{"ok":true}"#.to_owned())
        }
        Err(e) => json(StatusCode::BAD_REQUEST, serde_json::json!({ "ok": false, "error": e.to_string() }).to_string()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_queries() {
        let p = super::params(Some("instId=BTC-USDT-SWAP&sz=5&x=a%2Fb&flag"));
        assert_eq!(p["instId"], "BTC-USDT-SWAP");
        assert_eq!(p["sz"], "5");
        assert_eq!(p["x"], "a/b");
        assert_eq!(p["flag"], "");
        assert_eq!(super::params(Some("a=%zz%4"))["a"], "%zz%4");
        assert!(super::params(None).is_empty());
    }
}

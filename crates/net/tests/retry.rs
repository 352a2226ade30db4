//! The REST client's retry policy against a real HTTP server on 127.0.0.1.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;
use perpspread_core::Venue;
use perpspread_net::limiter::RateLimiter;
use perpspread_net::rest::{RestClient, RestConfig, RestError, Verdict};

/// A toy classifier: body "api" is an API error, otherwise status decides.
fn classify(status: u16, body: &[u8]) -> Verdict {
    match status {
        418 => Verdict::Banned(None),
        429 => Verdict::RateLimited,
        500..=599 => Verdict::Transient,
        _ if body == b"api" => Verdict::Api { code: "-1121".into(), message: "Invalid symbol.".into() },
        _ => Verdict::Ok,
    }
}

/// Serves `/flaky` (fails `failures` times with `status`, then 200) and `/api`.
async fn server(status: u16, failures: u32, retry_after: Option<&'static str>) -> (String, Arc<AtomicU32>) {
    let hits = Arc::new(AtomicU32::new(0));
    let counter = hits.clone();
    let app = Router::new()
        .route(
            "/flaky",
            get(move || {
                let counter = counter.clone();
                async move {
                    let n = counter.fetch_add(1, Ordering::SeqCst);
                    let mut headers = HeaderMap::new();
                    if let Some(secs) = retry_after {
                        headers.insert("retry-after", secs.parse().unwrap());
                    }
                    if n < failures {
                        (StatusCode::from_u16(status).unwrap(), headers, "slow down")
                    } else {
                        (StatusCode::OK, headers, "ok")
                    }
                }
            }),
        )
        .route("/api", get(|| async { "api" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, hits)
}

fn client(url: &str, attempts: u32) -> RestClient {
    let config = RestConfig {
        max_attempts: attempts,
        backoff_base: Duration::from_millis(20),
        backoff_cap: Duration::from_millis(100),
        max_hint_wait: Duration::from_secs(5),
        ..RestConfig::new(url)
    };
    RestClient::new(Venue::Binance, config, classify).unwrap()
}

#[tokio::test]
async fn rate_limit_honours_retry_after_then_succeeds() {
    let (url, hits) = server(429, 1, Some("1")).await;
    let limiter = RateLimiter::new(100, Duration::from_secs(1));
    let started = Instant::now();
    let response = client(&url, 3).get("/flaky", &limiter, 1).await.unwrap();
    assert_eq!(response.body, b"ok");
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert!(started.elapsed() >= Duration::from_millis(950), "waited {:?}", started.elapsed());
}

#[tokio::test]
async fn server_errors_retry_with_backoff_then_give_up() {
    let (url, hits) = server(503, 10, None).await;
    let limiter = RateLimiter::new(100, Duration::from_secs(1));
    let error = client(&url, 3).get("/flaky", &limiter, 1).await.unwrap_err();
    assert!(matches!(error, RestError::Server { status: 503, attempts: 3, .. }), "{error}");
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn long_ban_fails_fast_with_clear_error() {
    let (url, hits) = server(418, 10, Some("7200")).await;
    let limiter = RateLimiter::new(100, Duration::from_secs(1));
    let error = client(&url, 5).get("/flaky", &limiter, 1).await.unwrap_err();
    assert!(matches!(error, RestError::Banned { retry_after_s: 7200, .. }), "{error}");
    assert!(error.to_string().contains("banned"));
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    // While the ban lasts, no request goes out (knocking again can lengthen a ban), from any clone.
    let client = client(&url, 5);
    let first = client.get("/flaky", &limiter, 1).await.unwrap_err();
    let again = client.clone().get("/other", &limiter, 1).await.unwrap_err();
    assert!(
        matches!(first, RestError::Banned { .. })
            && matches!(again, RestError::Banned { retry_after_s: 7199..=7200, .. }),
        "{again}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 2, "the second request was refused locally");
}

#[tokio::test]
async fn api_errors_are_not_retried() {
    let (url, _) = server(200, 0, None).await;
    let limiter = RateLimiter::new(100, Duration::from_secs(1));
    let error = client(&url, 5).get("/api", &limiter, 1).await.unwrap_err();
    assert_eq!(error.to_string(), format!("binance GET /api: API error -1121: Invalid symbol."));
}

#[tokio::test]
async fn unreachable_server_is_a_transport_error() {
    let limiter = RateLimiter::new(100, Duration::from_secs(1));
    let error = client("http://127.0.0.1:1", 2).get("/x", &limiter, 1).await.unwrap_err();
    assert!(matches!(error, RestError::Transport { .. }), "{error}");
    assert!(error.to_string().contains("after 2 attempts"), "{error}");
}

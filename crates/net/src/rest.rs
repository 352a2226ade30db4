//! A rate-limited, retrying REST client shared by all venue adapters.
//!
//! Venue adapters supply a [`Classifier`] that reads their error shapes (OKX `{"code":"50011",…}`,
//! Binance `{"code":-1003,…}`); the retry policy itself lives here, once.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::backoff::Backoff;
use crate::limiter::RateLimiter;
use perpspread_core::Venue;

/// Connection and retry settings of one venue's REST client.
#[derive(Debug, Clone)]
pub struct RestConfig {
    /// Base URL without trailing slash, e.g. `https://www.okx.com`.
    pub base_url: String,
    /// Timeout of one request attempt.
    pub timeout: Duration,
    /// Attempts per request, including the first.
    pub max_attempts: u32,
    /// First back-off delay; doubles per attempt, with jitter, up to `backoff_cap`.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// A ban or rate-limit hint longer than this fails the request instead of waiting.
    pub max_hint_wait: Duration,
}

impl RestConfig {
    /// Defaults suitable for the real exchanges.
    pub fn new(base_url: impl Into<String>) -> Self {
        RestConfig {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            timeout: Duration::from_secs(10),
            max_attempts: 5,
            backoff_base: Duration::from_millis(250),
            backoff_cap: Duration::from_secs(10),
            max_hint_wait: Duration::from_secs(60),
        }
    }
}

/// What a response means, as read by the venue's classifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Success: hand the body to the parser.
    Ok,
    /// Too many requests (HTTP 429, Binance -1003, OKX 50011): back off, then retry.
    RateLimited,
    /// The IP is banned for a while (Binance HTTP 418 with `Retry-After`, Bybit HTTP 403 for 10 minutes):
    /// the venue's documented ban length when it sends no `Retry-After`.
    Banned(Option<Duration>),
    /// A transient server problem (5xx, OKX 50001 "service unavailable"): retry.
    Transient,
    /// The venue rejected the request; retrying will not help.
    Api { code: String, message: String },
}

/// Reads a venue's response status and body.
pub(crate) type Classifier = fn(status: u16, body: &[u8]) -> Verdict;

/// A request as signed for one attempt (signatures include a timestamp, so every retry is signed anew).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// Path and query to request (e.g. with `&timestamp=…&signature=…` appended).
    pub path_and_query: String,
    /// Extra headers (API key, signature, …).
    pub headers: Vec<(&'static str, String)>,
}

/// Signs a request path for one attempt.
pub(crate) type Signer<'a> = &'a (dyn Fn(&str) -> SignedRequest + Send + Sync);

/// Sees every successful REST response (used by the recorder).
pub trait ResponseObserver: Send + Sync {
    /// Called with the request's path and query, the raw body and the local receive time.
    fn observe(&self, venue: Venue, path_and_query: &str, body: &[u8], received_unix_ns: u64);
}

/// A successful response.
#[derive(Debug, Clone)]
pub struct RestResponse {
    pub body: Vec<u8>,
    /// Round trip of the successful attempt.
    pub latency: Duration,
    /// Local receive time, Unix ns.
    pub received_unix_ns: u64,
}

/// Why a REST request failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RestError {
    #[error("{venue} GET {path}: {message}")]
    Transport { venue: Venue, path: String, message: String },
    #[error("{venue} GET {path}: still rate limited after {attempts} attempts")]
    RateLimited { venue: Venue, path: String, attempts: u32 },
    #[error("{venue} GET {path}: the venue banned this IP for {retry_after_s} s; wait before retrying")]
    Banned { venue: Venue, path: String, retry_after_s: u64 },
    #[error("{venue} GET {path}: API error {code}: {message}")]
    Api { venue: Venue, path: String, code: String, message: String },
    #[error("{venue} GET {path}: server error after {attempts} attempts (HTTP {status})")]
    Server { venue: Venue, path: String, status: u16, attempts: u32 },
    #[error("{venue} GET {path}: unexpected response: {message}")]
    Decode { venue: Venue, path: String, message: String },
}

/// HTTP GET against one venue, with rate limiting and retries.
#[derive(Clone)]
pub struct RestClient {
    http: reqwest::Client,
    config: RestConfig,
    venue: Venue,
    classify: Classifier,
    observer: Option<Arc<dyn ResponseObserver>>,
    /// Until when the venue banned this IP: every request of every clone fails at once until then, instead
    /// of knocking again (which can lengthen a ban).
    banned_until: Arc<std::sync::Mutex<Option<Instant>>>,
}

impl std::fmt::Debug for RestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestClient").field("venue", &self.venue).field("base_url", &self.config.base_url).finish()
    }
}

impl RestClient {
    /// A client for `venue` using `classify` to read its responses.
    pub fn new(venue: Venue, config: RestConfig, classify: Classifier) -> Result<Self, RestError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(concat!("perpspread/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RestError::Transport {
                venue,
                path: String::new(),
                message: format!("cannot build HTTP client: {e}"),
            })?;
        Ok(RestClient { http, config, venue, classify, observer: None, banned_until: Arc::default() })
    }

    /// Reports every successful response to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn ResponseObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The venue served.
    pub fn venue(&self) -> Venue {
        self.venue
    }

    /// Base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.config.base_url
    }

    /// GETs `path_and_query` (as [`RestClient::get`]) and reads the body with the venue's `parse`; a body it
    /// cannot read is a [`RestError::Decode`] naming the path. Returns the value and the request's latency.
    pub async fn get_parsed<T>(
        &self,
        path_and_query: &str,
        limiter: &RateLimiter,
        weight: u32,
        parse: impl FnOnce(&[u8]) -> Result<T, crate::BodyError>,
    ) -> Result<(T, Duration), RestError> {
        let response = self.get(path_and_query, limiter, weight).await?;
        let value = parse(&response.body).map_err(|error| self.decode_error(path_and_query, error))?;
        Ok((value, response.latency))
    }

    /// A decode error for `path` (for adapters' parsers).
    pub fn decode_error(&self, path: &str, message: impl std::fmt::Display) -> RestError {
        RestError::Decode { venue: self.venue, path: path.to_owned(), message: message.to_string() }
    }

    /// GETs `path_and_query`, spending `weight` from `limiter` before each attempt; the response is reported
    /// to the observer (recorder), if any.
    pub async fn get(
        &self,
        path_and_query: &str,
        limiter: &RateLimiter,
        weight: u32,
    ) -> Result<RestResponse, RestError> {
        self.fetch(path_and_query, limiter, weight, true, None).await
    }

    /// Like [`RestClient::get`] but not reported to the observer: for responses the caller records itself at
    /// the moment it processes them (streaming snapshots), so a capture keeps processing order.
    pub async fn get_unobserved(
        &self,
        path_and_query: &str,
        limiter: &RateLimiter,
        weight: u32,
    ) -> Result<RestResponse, RestError> {
        self.fetch(path_and_query, limiter, weight, false, None).await
    }

    /// GETs an authenticated endpoint: `sign` turns `path_and_query` into the signed request for each attempt.
    /// Signed responses are never reported to the observer (they are account data, not market data).
    pub async fn get_signed(
        &self,
        path_and_query: &str,
        limiter: &RateLimiter,
        weight: u32,
        sign: Signer<'_>,
    ) -> Result<RestResponse, RestError> {
        self.fetch(path_and_query, limiter, weight, false, Some(sign)).await
    }

    async fn fetch(
        &self,
        path_and_query: &str,
        limiter: &RateLimiter,
        weight: u32,
        observed: bool,
        sign: Option<Signer<'_>>,
    ) -> Result<RestResponse, RestError> {
        let url = format!("{}{}", self.config.base_url, path_and_query);
        let mut attempt = 0;
        loop {
            if let Some(left) = self.ban_left() {
                return Err(RestError::Banned {
                    venue: self.venue,
                    path: path_and_query.to_owned(),
                    retry_after_s: left.as_secs().max(1),
                });
            }
            attempt += 1;
            limiter.acquire(weight).await;
            let started = Instant::now();
            let request = match sign {
                Some(sign) => sign(path_and_query),
                None => SignedRequest { path_and_query: String::new(), headers: Vec::new() },
            };
            let target = if sign.is_some() {
                format!("{}{}", self.config.base_url, request.path_and_query)
            } else {
                url.clone()
            };
            let outcome = self.attempt(&target, &request.headers, limiter).await;
            let latency = started.elapsed();
            let (hint, failure) = match outcome {
                Ok((status, body, hint)) => match (self.classify)(status, &body) {
                    Verdict::Ok => {
                        let received_unix_ns = unix_ns();
                        if let Some(observer) = self.observer.as_ref().filter(|_| observed) {
                            observer.observe(self.venue, path_and_query, &body, received_unix_ns);
                        }
                        return Ok(RestResponse { body, latency, received_unix_ns });
                    }
                    Verdict::Api { code, message } => {
                        return Err(RestError::Api {
                            venue: self.venue,
                            path: path_and_query.to_owned(),
                            code,
                            message,
                        })
                    }
                    Verdict::Banned(documented) => {
                        let wait = hint.or(documented).unwrap_or(self.config.max_hint_wait + Duration::from_secs(1));
                        *self.banned_until.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now() + wait);
                        if wait > self.config.max_hint_wait || attempt >= self.config.max_attempts {
                            return Err(RestError::Banned {
                                venue: self.venue,
                                path: path_and_query.to_owned(),
                                retry_after_s: wait.as_secs(),
                            });
                        }
                        limiter.drain();
                        (Some(wait), Failure::RateLimited)
                    }
                    Verdict::RateLimited => {
                        limiter.drain();
                        (hint, Failure::RateLimited)
                    }
                    Verdict::Transient => (hint, Failure::Server(status)),
                },
                Err(message) => (None, Failure::Transport(message)),
            };
            if attempt >= self.config.max_attempts {
                return Err(self.give_up(path_and_query, attempt, failure));
            }
            let wait = match hint {
                Some(hint) if hint <= self.config.max_hint_wait => hint,
                Some(_) => return Err(self.give_up(path_and_query, attempt, failure)),
                None => self.backoff(attempt),
            };
            tracing::warn!(venue = %self.venue, path = path_and_query, attempt, wait_ms = wait.as_millis() as u64,
                failure = ?failure, "REST request failed; retrying");
            tokio::time::sleep(wait).await;
        }
    }

    /// How long the ban the venue announced still lasts, if any.
    fn ban_left(&self) -> Option<Duration> {
        let until = (*self.banned_until.lock().unwrap_or_else(|e| e.into_inner()))?;
        until.checked_duration_since(Instant::now()).filter(|left| !left.is_zero())
    }

    async fn attempt(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        limiter: &RateLimiter,
    ) -> Result<(u16, Vec<u8>, Option<Duration>), String> {
        let mut request = self.http.get(url);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.map_err(describe)?;
        let status = response.status().as_u16();
        let headers = response.headers();
        let hint = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        if let Some(used) =
            headers.get("x-mbx-used-weight-1m").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u32>().ok())
        {
            limiter.observe_used(used);
        }
        let body = response.bytes().await.map_err(describe)?;
        Ok((status, body.to_vec(), hint))
    }

    fn backoff(&self, attempt: u32) -> Duration {
        Backoff { base: self.config.backoff_base, cap: self.config.backoff_cap }.delay(attempt)
    }

    fn give_up(&self, path: &str, attempts: u32, failure: Failure) -> RestError {
        let (venue, path) = (self.venue, path.to_owned());
        match failure {
            Failure::RateLimited => RestError::RateLimited { venue, path, attempts },
            Failure::Server(status) => RestError::Server { venue, path, status, attempts },
            Failure::Transport(message) => {
                RestError::Transport { venue, path, message: format!("{message} (after {attempts} attempts)") }
            }
        }
    }
}

#[derive(Debug)]
enum Failure {
    RateLimited,
    Server(u16),
    Transport(String),
}

fn describe(error: reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        format!("cannot connect: {error}")
    } else {
        error.to_string()
    }
}

/// Current wall-clock time, Unix ns.
pub fn unix_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

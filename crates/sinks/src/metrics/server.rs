//! The HTTP endpoint: `GET /metrics` (Prometheus text plus the top-N section) and `GET /healthz`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use perpspread_core::health::StreamKind;
use perpspread_core::Venue;

use super::health::Shared;
use super::{Metrics, MetricsError};

impl Metrics {
    /// Starts the HTTP server (`/metrics`, `/healthz`) on `addr`; also runs the exporter's upkeep.
    pub async fn serve(&self, addr: SocketAddr) -> Result<MetricsServer, MetricsError> {
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|source| MetricsError::Bind { addr, source })?;
        let local_addr = listener.local_addr().map_err(|source| MetricsError::Bind { addr, source })?;
        let state = ServerState { handle: self.handle.clone(), shared: self.shared.clone() };
        let app = Router::new()
            .route("/metrics", get(metrics_handler))
            .route("/healthz", get(health_handler))
            .route("/", get(|| async { "perpspread: see /metrics and /healthz\n" }))
            .with_state(state);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let upkeep_handle = self.handle.clone();
        let task = tokio::spawn(async move {
            let upkeep = tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_secs(5));
                loop {
                    every.tick().await;
                    upkeep_handle.run_upkeep();
                }
            });
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop_rx.await;
                })
                .await;
            upkeep.abort();
            if let Err(error) = served {
                tracing::error!("metrics server failed: {error}");
            }
        });
        tracing::info!(%local_addr, "serving /metrics and /healthz");
        Ok(MetricsServer { local_addr, stop: Some(stop_tx), task: Some(task) })
    }
}

/// The running HTTP server; stops on [`MetricsServer::shutdown`] or drop.
#[derive(Debug)]
pub struct MetricsServer {
    local_addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl MetricsServer {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting connections and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[derive(Clone)]
pub(super) struct ServerState {
    handle: PrometheusHandle,
    shared: Arc<Shared>,
}

async fn metrics_handler(State(state): State<ServerState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], render(&state.handle, &state.shared))
}

async fn health_handler(State(state): State<ServerState>) -> impl IntoResponse {
    let health = state.shared.health(Instant::now());
    let status = if health.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = serde_json::to_string(&health).unwrap_or_else(|_| "{}".to_owned());
    (status, [(header::CONTENT_TYPE, "application/json")], body)
}

pub(super) fn render(handle: &PrometheusHandle, shared: &Shared) -> String {
    shared.age_books(Instant::now());
    let mut out = handle.render();
    let top = shared.top.lock().unwrap_or_else(|e| e.into_inner());
    out.push_str("# HELP perpspread_best_net_bp Best net spread over evaluated sizes of the top-N pairs, bp\n");
    out.push_str("# TYPE perpspread_best_net_bp gauge\n");
    for entry in top.iter() {
        out.push_str(&format!(
            "perpspread_best_net_bp{{pair=\"{}\",direction=\"{}\"}} {}\n",
            escape_label(&entry.pair),
            entry.direction,
            entry.net_bp
        ));
    }
    drop(top);
    let funding = shared.funding.lock().unwrap_or_else(|e| e.into_inner());
    out.push_str("# HELP perpspread_funding_rate_per_hour_bp Each leg's current funding rate per hour, bp (its rate / interval)\n");
    out.push_str("# TYPE perpspread_funding_rate_per_hour_bp gauge\n");
    // A leg belongs to a pair per other venue listing the contract: each (venue, pair) is written once.
    let mut written = std::collections::HashSet::new();
    for entry in funding.iter() {
        for (venue, rate) in entry.legs.iter().filter_map(|(v, r)| Some((v, (*r)?))) {
            if !written.insert((*venue, entry.pair.as_str())) {
                continue;
            }
            let pair = escape_label(&entry.pair);
            out.push_str(&format!("perpspread_funding_rate_per_hour_bp{{venue=\"{venue}\",pair=\"{pair}\"}} {rate}\n"));
        }
    }
    out.push_str(
        "# HELP perpspread_funding_apr_diff_pct Short leg's minus long leg's annualised funding, %, per direction\n",
    );
    out.push_str("# TYPE perpspread_funding_apr_diff_pct gauge\n");
    for entry in funding.iter() {
        for (direction, diff) in entry.apr_diff.iter().filter_map(|(d, v)| Some((d, (*v)?))) {
            let pair = escape_label(&entry.pair);
            out.push_str(&format!(
                "perpspread_funding_apr_diff_pct{{pair=\"{pair}\",direction=\"{direction}\"}} {diff}\n"
            ));
        }
    }
    drop(funding);
    out.push_str("# HELP perpspread_recording_failed 1 when the capture being recorded could not be written\n");
    out.push_str("# TYPE perpspread_recording_failed gauge\n");
    out.push_str(&format!("perpspread_recording_failed {}\n", u8::from(shared.recording_failure().is_some())));
    // Rendered at every scrape from what the live layer last published, so a silent stream shows even
    // when no frame arrives at all.
    let silent = shared.silent_streams();
    out.push_str(
        "# HELP perpspread_stream_silent 1 while a subscribed stream has delivered nothing for the silence timeout\n",
    );
    out.push_str("# TYPE perpspread_stream_silent gauge\n");
    for venue in Venue::ALL {
        for stream in StreamKind::ALL {
            let is_silent = silent.iter().any(|s| s.venue == venue && s.stream == stream);
            out.push_str(&format!(
                "perpspread_stream_silent{{venue=\"{venue}\",stream=\"{stream}\"}} {}\n",
                u8::from(is_silent)
            ));
        }
    }
    out
}

pub(super) fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape_label(r#"a"b\c"#), r#"a\"b\\c"#);
    }
}

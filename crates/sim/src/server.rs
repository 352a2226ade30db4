//! Starting and stopping the simulator: sockets, the model clock, fault scheduling and the handle.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use perpspread_core::{OrderBook, Venue, VenueMap};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::binance::weight::WeightTracker;
use crate::clock::unix_ms;
use crate::config::SimConfig;
use crate::faults::{lock, Fault, FaultBoard, FaultKind};
use crate::model::{BookDelta, GroundTruth, Market};
use crate::SimError;

/// Everything one model step changed, published to WebSocket connections.
#[derive(Debug)]
pub(crate) struct StepEvent {
    pub step: u64,
    /// Exchange time after the step, Unix ms.
    pub now_ms: u64,
    /// Per venue, one delta per book in [`Market::books`] order (OKX's carry the book's checksum).
    pub deltas: VenueMap<Vec<BookDelta>>,
}

/// State shared by every server task.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: SimConfig,
    pub market: Mutex<Market>,
    pub steps: broadcast::Sender<Arc<StepEvent>>,
    pub faults: FaultBoard,
    pub weights: Mutex<WeightTracker>,
    pub shutdown: watch::Receiver<bool>,
    /// Host time at which the simulator started, Unix ms.
    pub started_ms: u64,
    /// Venue limits clients broke, and connection attempts per venue.
    pub limits: LimitBoard,
}

/// Records every documented limit a client broke (a well-behaved client breaks none), and counts connection
/// attempts for the per-IP connection limits.
#[derive(Debug, Default)]
pub(crate) struct LimitBoard {
    violations: Mutex<Vec<String>>,
    connects: Mutex<Vec<(Venue, std::time::Instant)>>,
    /// REST requests of each venue within its window.
    requests: Mutex<VenueMap<std::collections::VecDeque<std::time::Instant>>>,
    /// Until when a venue refuses every REST request from this IP.
    bans: Mutex<VenueMap<Option<std::time::Instant>>>,
}

impl LimitBoard {
    /// Notes a broken limit.
    pub(crate) fn violated(&self, venue: Venue, what: String) {
        tracing::warn!(%venue, "client broke a venue limit: {what}");
        crate::faults::lock(&self.violations).push(format!("{venue}: {what}"));
    }

    /// Every broken limit so far.
    pub(crate) fn violations(&self) -> Vec<String> {
        crate::faults::lock(&self.violations).clone()
    }

    /// Counts a connection attempt; `false` (and a violation) when more than `allowed` came within `window`.
    pub(crate) fn connect(&self, venue: Venue, allowed: u32, window: Duration) -> bool {
        let now = std::time::Instant::now();
        let mut connects = crate::faults::lock(&self.connects);
        connects.retain(|(_, at)| now.duration_since(*at) < window.max(Duration::from_secs(300)));
        let recent = connects.iter().filter(|(v, at)| *v == venue && now.duration_since(*at) < window).count();
        connects.push((venue, now));
        drop(connects);
        if recent >= allowed as usize {
            self.violated(venue, format!("more than {allowed} connection attempts within {window:?}"));
            return false;
        }
        true
    }
}

impl LimitBoard {
    /// Counts a REST request against a per-IP limit; `false` (and a violation) beyond `allowed` within `window`.
    pub(crate) fn request(&self, venue: Venue, allowed: usize, window: Duration) -> bool {
        let now = std::time::Instant::now();
        let mut all = crate::faults::lock(&self.requests);
        let requests = &mut all[venue];
        while requests.front().is_some_and(|at| now.duration_since(*at) >= window) {
            requests.pop_front();
        }
        let recent = requests.len();
        requests.push_back(now);
        drop(all);
        if recent >= allowed {
            self.violated(venue, format!("more than {allowed} REST requests within {window:?}"));
            return false;
        }
        true
    }

    /// Bans this IP from `venue`'s REST API for `length`.
    pub(crate) fn ban(&self, venue: Venue, length: Duration) {
        crate::faults::lock(&self.bans)[venue] = Some(std::time::Instant::now() + length);
    }

    /// Whether `venue` still bans this IP.
    pub(crate) fn banned(&self, venue: Venue) -> bool {
        crate::faults::lock(&self.bans)[venue].is_some_and(|until| std::time::Instant::now() < until)
    }
}

impl Shared {
    /// Injects a fault now, or schedules it at `at_ms` after start.
    pub(crate) fn schedule(self: &Arc<Self>, fault: Fault) {
        let delay = fault.at_ms.map(|at| (self.started_ms + at).saturating_sub(unix_ms())).unwrap_or(0);
        if delay == 0 {
            self.inject(fault.kind);
            return;
        }
        let shared = Arc::clone(self);
        let mut shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(delay)) => shared.inject(fault.kind),
                _ = shutdown.changed() => {}
            }
        });
    }

    /// Injects a fault now: a change of the market itself (a funding interval) is applied to the model, the
    /// rest goes to the fault board.
    pub(crate) fn inject(&self, kind: FaultKind) {
        if let FaultKind::FundingInterval { venue, symbol, hours } = &kind {
            if let Err(error) = lock(&self.market).set_funding_hours(*venue, symbol, *hours) {
                tracing::warn!("funding interval change not applied: {error}");
            }
        }
        if let FaultKind::ServiceRestart { venue, symbol } = &kind {
            lock(&self.market).restart_sequence(*venue, symbol);
        }
        self.faults.inject(kind);
    }

    /// Runs `f` on the market under its lock.
    pub(crate) fn with_market<R>(&self, f: impl FnOnce(&Market) -> R) -> R {
        f(&lock(&self.market))
    }
}

/// A running simulator. Dropping it stops the servers too (prefer [`SimHandle::shutdown`] to wait).
#[derive(Debug)]
pub struct SimHandle {
    /// `http://127.0.0.1:<port>`: OKX REST (`/api/v5/...`).
    pub okx_rest_url: String,
    /// `http://127.0.0.1:<port>`: Binance REST (`/fapi/v1/...`).
    pub binance_rest_url: String,
    /// `ws://127.0.0.1:<port>/ws/v5/public`: OKX public WebSocket.
    pub okx_ws_url: String,
    /// `ws://127.0.0.1:<port>`: Binance WebSocket base (append a route, `/public` or `/market`, then
    /// `/ws/<stream>` or `/stream?streams=`; the bare legacy paths deliver public streams only).
    pub binance_ws_url: String,
    /// `http://127.0.0.1:<port>`: Bybit REST (`/v5/...`).
    pub bybit_rest_url: String,
    /// `ws://127.0.0.1:<port>/v5/public/linear`: Bybit public linear WebSocket.
    pub bybit_ws_url: String,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl SimHandle {
    /// The REST base URL and the WebSocket URL a client of `venue` connects to (Binance's is the base of its
    /// routes).
    pub fn endpoints(&self, venue: Venue) -> Option<(String, String)> {
        match venue {
            Venue::Okx => Some((self.okx_rest_url.clone(), self.okx_ws_url.clone())),
            Venue::Binance => {
                Some((self.binance_rest_url.clone(), self.binance_ws_url.trim_end_matches('/').to_owned()))
            }
            Venue::Bybit => Some((self.bybit_rest_url.clone(), self.bybit_ws_url.clone())),
        }
    }

    /// Injects a fault immediately.
    pub fn inject(&self, kind: FaultKind) {
        self.shared.inject(kind);
    }

    /// Injects a fault now or at its `at_ms` after start.
    pub fn schedule(&self, fault: Fault) {
        self.shared.schedule(fault);
    }

    /// Runs `f` on the true market state under its lock (keep it short: the servers wait meanwhile).
    pub fn with_market<R>(&self, f: impl FnOnce(&Market) -> R) -> R {
        self.shared.with_market(f)
    }

    /// A copy of the true book of `symbol` on `venue`, with its sequence (OKX `seqId`, Binance `u`).
    pub fn book(&self, venue: Venue, symbol: &str) -> Option<(OrderBook, u64)> {
        self.with_market(|m| m.book(venue, symbol).map(|b| (b.book.clone(), b.seq)))
    }

    /// Changes the funding interval of `symbol` on `venue` from now on (see [`Market::set_funding_hours`]; the
    /// same as injecting [`FaultKind::FundingInterval`], which reports a bad symbol as an error here).
    pub fn set_funding_hours(&self, venue: Venue, symbol: &str, hours: u32) -> Result<(), SimError> {
        lock(&self.shared.market).set_funding_hours(venue, symbol, hours)
    }

    /// Every documented venue limit a client broke so far (connections, subscriptions, message rates).
    pub fn limit_violations(&self) -> Vec<String> {
        self.shared.limits.violations()
    }

    /// The configuration the simulator runs with.
    pub fn config(&self) -> &SimConfig {
        &self.shared.config
    }

    /// Stops every server and waits for the tasks to end.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for task in self.tasks.drain(..) {
            if tokio::time::timeout(Duration::from_secs(2), task).await.is_err() {
                tracing::warn!("simulator task did not stop within 2 s");
            }
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Binds the six servers (REST and WebSocket of each venue) on 127.0.0.1, starts the model clock and returns the handle.
pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
    config.validate()?;
    let started_ms = unix_ms();
    let market = Market::new(&config, config.epoch_ms.unwrap_or(started_ms))?;
    let faults = FaultBoard::new(config.fault_log.as_deref())?;
    let truth_log = match &config.ground_truth_log {
        Some(path) => Some(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| SimError::Io(path.display().to_string(), e))?,
        ),
        None => None,
    };
    let listeners = [
        config.okx_rest_port,
        config.binance_rest_port,
        config.okx_ws_port,
        config.binance_ws_port,
        config.bybit_rest_port,
        config.bybit_ws_port,
    ];
    let mut bound = Vec::with_capacity(listeners.len());
    for port in listeners {
        let listener =
            TcpListener::bind(("127.0.0.1", port)).await.map_err(|source| SimError::Bind { port, source })?;
        let port = listener.local_addr().map_err(|source| SimError::Bind { port, source })?.port();
        bound.push((listener, port));
    }
    let (stop, shutdown) = watch::channel(false);
    let shared = Arc::new(Shared {
        weights: Mutex::new(WeightTracker::default()),
        market: Mutex::new(market),
        steps: broadcast::channel(1024).0,
        faults,
        shutdown,
        started_ms,
        config,
        limits: LimitBoard::default(),
    });
    let [okx_rest, binance_rest, okx_ws, binance_ws, bybit_rest, bybit_ws]: [(TcpListener, u16); 6] =
        bound.try_into().map_err(|_| SimError::Config("listener count".into()))?;
    let url = |scheme: &str, port: u16, path: &str| format!("{scheme}://127.0.0.1:{port}{path}");
    let mut handle = SimHandle {
        okx_rest_url: url("http", okx_rest.1, ""),
        binance_rest_url: url("http", binance_rest.1, ""),
        okx_ws_url: url("ws", okx_ws.1, "/ws/v5/public"),
        binance_ws_url: url("ws", binance_ws.1, ""),
        bybit_rest_url: url("http", bybit_rest.1, ""),
        bybit_ws_url: url("ws", bybit_ws.1, "/v5/public/linear"),
        shared: Arc::clone(&shared),
        stop,
        tasks: Vec::new(),
    };
    handle.tasks.push(serve(okx_rest.0, crate::okx::rest::router(Arc::clone(&shared)), &shared));
    handle.tasks.push(serve(binance_rest.0, crate::binance::rest::router(Arc::clone(&shared)), &shared));
    handle.tasks.push(serve(okx_ws.0, crate::okx::ws::router(Arc::clone(&shared)), &shared));
    handle.tasks.push(serve(binance_ws.0, crate::binance::ws::router(Arc::clone(&shared)), &shared));
    handle.tasks.push(serve(bybit_rest.0, crate::bybit::rest::router(Arc::clone(&shared)), &shared));
    handle.tasks.push(serve(bybit_ws.0, crate::bybit::ws::router(Arc::clone(&shared)), &shared));
    handle.tasks.push(tokio::spawn(run_clock(Arc::clone(&shared), truth_log)));
    for fault in shared.config.faults.clone() {
        shared.schedule(fault);
    }
    tracing::info!(okx_rest = %handle.okx_rest_url, binance_rest = %handle.binance_rest_url,
        okx_ws = %handle.okx_ws_url, binance_ws = %handle.binance_ws_url, bybit_rest = %handle.bybit_rest_url,
        bybit_ws = %handle.bybit_ws_url, "simulator started");
    Ok(handle)
}

fn serve(listener: TcpListener, router: Router, shared: &Shared) -> JoinHandle<()> {
    let mut shutdown = shared.shutdown.clone();
    tokio::spawn(async move {
        let stopped = async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        };
        if let Err(e) = axum::serve(listener, router).with_graceful_shutdown(stopped).await {
            tracing::error!("simulator server failed: {e}");
        }
    })
}

/// Steps the model in real time (one step per `tick_ms` of host time since start) and publishes each step.
async fn run_clock(shared: Arc<Shared>, mut truth_log: Option<File>) {
    let tick_ms = shared.config.tick_ms;
    let mut interval = tokio::time::interval(Duration::from_millis(tick_ms));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut shutdown = shared.shutdown.clone();
    let mut scratch = String::new();
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.changed() => return,
        }
        let target = unix_ms().saturating_sub(shared.started_ms) / tick_ms;
        loop {
            let (event, truths) = {
                let mut market = lock(&shared.market);
                if market.step_index() >= target {
                    break;
                }
                let truths = market.step();
                let event = (shared.steps.receiver_count() > 0)
                    .then(|| step_event(&market, shared.config.okx_checksum, &mut scratch));
                (event, truths)
            };
            if let Some(event) = event {
                let _ = shared.steps.send(Arc::new(event));
            }
            log_truths(&mut truth_log, &truths);
        }
    }
}

/// The deltas of the step just taken.
pub(crate) fn step_event(market: &Market, okx_checksum: bool, scratch: &mut String) -> StepEvent {
    let deltas = VenueMap::from_fn(|venue| match venue {
        // OKX sends a CRC32 of the top 25 levels with each update (0 when checksums are off, as OKX does today).
        Venue::Okx => market
            .books(venue)
            .map(|b| {
                b.delta(Some(if okx_checksum { perpspread_okx::checksum::book_checksum(&b.book, scratch) } else { 0 }))
            })
            .collect(),
        _ => market.books(venue).map(|b| b.delta(None)).collect(),
    });
    StepEvent { step: market.step_index(), now_ms: market.now_ms(), deltas }
}

fn log_truths(log: &mut Option<File>, truths: &[GroundTruth]) {
    for truth in truths {
        tracing::info!(pair = %truth.pair, buy = %truth.buy_venue, size_bp = truth.size_bp, "dislocation begins");
        if let Some(file) = log.as_mut() {
            let line = serde_json::to_string(truth).unwrap_or_default();
            if let Err(e) = writeln!(file, "{line}").and_then(|_| file.flush()) {
                tracing::warn!("cannot write ground truth log: {e}");
            }
        }
    }
}

//! Live market data: WebSocket connections per venue feeding the same [`Pipeline`] replay uses.
//!
//! One task per connection reads frames; a single loop owns the pipeline and handles every frame in
//! arrival order, records it (when recording), and turns the pipeline's requests into network actions:
//! OKX books are resynced by unsubscribing and resubscribing that one instrument, Binance books by
//! fetching a REST snapshot that is fed back through the pipeline like any other frame.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use perpspread_binance::rest::BinanceRest;
use perpspread_binance::ws::BinanceWs;
use perpspread_capture::Src;
use perpspread_core::feed::{FeedEvent, Frame, RecvTime, ResyncReason, Source};
use perpspread_core::Venue;
use perpspread_net::backoff::Backoff;
use perpspread_net::ws::{now, run_connection, WsCommand, WsEvent, WsVenue};
use perpspread_net::RestError;
use perpspread_okx::ws::OkxWs;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::pipeline::{Pipeline, PipelineStats};
use crate::recorder::Recorder;

/// What to stream and how.
pub struct LiveConfig {
    /// OKX protocol settings and instruments (`instId`s).
    pub okx: Option<(OkxWs, Vec<String>)>,
    /// Binance protocol settings and symbols.
    pub binance: Option<(BinanceWs, Vec<String>)>,
    /// REST client for Binance depth snapshots (required with `binance`).
    pub binance_rest: Option<Arc<BinanceRest>>,
    /// Levels per Binance REST snapshot.
    pub snapshot_depth: usize,
    /// Instruments per OKX connection.
    pub okx_per_connection: usize,
    /// Reconnect backoff.
    pub backoff: Backoff,
    /// Where to record every frame, if anywhere.
    pub recorder: Option<Recorder>,
    /// A book that stays out of `Live` this long (refused subscription, lost resubscribe, failed
    /// snapshot) is resubscribed (and, on Binance, given a new snapshot) by the watchdog.
    pub resync_timeout: Duration,
}

impl LiveConfig {
    /// Settings with no venue yet.
    pub fn new() -> Self {
        LiveConfig {
            okx: None,
            binance: None,
            binance_rest: None,
            snapshot_depth: 1000,
            okx_per_connection: 100,
            backoff: Backoff { base: Duration::from_millis(500), cap: Duration::from_secs(30) },
            recorder: None,
            resync_timeout: Duration::from_secs(10),
        }
    }
}

impl Default for LiveConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// Counters of the connection layer.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LiveStats {
    /// Pipeline counters.
    #[serde(flatten)]
    pub pipeline: PipelineStats,
    /// Disconnects by cause (`closed`, `stalled`, `connect_failed`, `lifetime`, `requested`).
    pub disconnects: HashMap<String, u64>,
    pub connects: u64,
    /// Binance REST snapshots fetched / failed.
    pub snapshots_fetched: u64,
    pub snapshot_failures: u64,
    /// OKX per-instrument resubscriptions sent.
    pub resubscribes: u64,
    /// Books the watchdog had to restart.
    pub watchdog_restarts: u64,
}

/// A connection as the live loop knows it.
struct Connection {
    venue: Venue,
    symbols: Vec<String>,
    commands: mpsc::Sender<WsCommand>,
}

/// A snapshot fetch result, handed back to the live loop.
struct Snapshot {
    symbol: String,
    result: Result<(String, perpspread_net::RestResponse), RestError>,
}

/// The running live loop's state.
pub struct Live {
    pub pipeline: Pipeline,
    pub stats: LiveStats,
    connections: Vec<Connection>,
    owner: HashMap<(Venue, String), usize>,
    snapshots_in_flight: HashSet<String>,
    snapshot_tx: mpsc::Sender<Snapshot>,
    binance_rest: Option<Arc<BinanceRest>>,
    snapshot_depth: usize,
    backoff: Backoff,
    recorder: Option<Recorder>,
    resync_timeout: Duration,
    not_live_since: HashMap<(Venue, u32), std::time::Instant>,
}

/// Runs live streaming until `shutdown` completes; `on_events` sees the pipeline after every frame.
/// Returns the final state (books, counters).
pub async fn run_live<F>(config: LiveConfig, shutdown: impl Future<Output = ()>, mut on_events: F) -> Live
where
    F: FnMut(&Pipeline, Venue, &[FeedEvent], RecvTime),
{
    let (ws_tx, mut ws_rx) = mpsc::channel::<WsEvent>(1 << 16);
    let (snapshot_tx, mut snapshot_rx) = mpsc::channel::<Snapshot>(1024);
    let mut live = Live {
        pipeline: Pipeline::new(),
        stats: LiveStats::default(),
        connections: Vec::new(),
        owner: HashMap::new(),
        snapshots_in_flight: HashSet::new(),
        snapshot_tx,
        binance_rest: config.binance_rest.clone(),
        snapshot_depth: config.snapshot_depth,
        backoff: config.backoff,
        recorder: config.recorder.clone(),
        resync_timeout: config.resync_timeout,
        not_live_since: HashMap::new(),
    };
    if let Some((okx, symbols)) = config.okx {
        let per = config.okx_per_connection.max(1);
        live.spawn_connections(Arc::new(okx), &symbols, per, &ws_tx);
    }
    if let Some((binance, symbols)) = config.binance {
        let per = binance.symbols_per_connection();
        live.spawn_connections(Arc::new(binance), &symbols, per, &ws_tx);
    }
    drop(ws_tx);
    let mut flush = tokio::time::interval(Duration::from_secs(1));
    let mut watchdog = tokio::time::interval((config.resync_timeout / 4).max(Duration::from_millis(100)));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            Some(event) = ws_rx.recv() => live.on_ws(event, &mut on_events),
            Some(snapshot) = snapshot_rx.recv() => live.on_snapshot(snapshot, &mut on_events),
            _ = flush.tick() => if let Some(recorder) = &live.recorder { recorder.flush() },
            _ = watchdog.tick() => live.watchdog(),
            else => break,
        }
    }
    for connection in &live.connections {
        let _ = connection.commands.send(WsCommand::Shutdown).await;
    }
    if let Some(recorder) = &live.recorder {
        recorder.flush();
    }
    live.stats.pipeline = live.pipeline.stats();
    live
}

impl Live {
    fn spawn_connections(
        &mut self,
        venue: Arc<dyn WsVenue>,
        symbols: &[String],
        per_connection: usize,
        events: &mpsc::Sender<WsEvent>,
    ) {
        for chunk in symbols.chunks(per_connection) {
            let id = self.connections.len();
            let (commands, command_rx) = mpsc::channel(64);
            for symbol in chunk {
                self.pipeline.feed_mut(venue.venue()).track(symbol);
                self.owner.insert((venue.venue(), symbol.clone()), id);
            }
            self.connections.push(Connection { venue: venue.venue(), symbols: chunk.to_vec(), commands });
            tokio::spawn(run_connection(
                venue.clone(),
                id as u32,
                chunk.to_vec(),
                events.clone(),
                command_rx,
                self.backoff,
            ));
        }
    }

    fn on_ws<F>(&mut self, event: WsEvent, on_events: &mut F)
    where
        F: FnMut(&Pipeline, Venue, &[FeedEvent], RecvTime),
    {
        match event {
            WsEvent::Frame { connection, data, recv } => {
                let venue = self.connections[connection as usize].venue;
                if let Some(recorder) = &self.recorder {
                    recorder.write(venue, Src::Ws, None, &data, recv.wall_ns);
                }
                let frame = Frame { source: Source::Ws, data: &data, recv };
                self.process(venue, frame, on_events);
            }
            WsEvent::Connected { connection } => {
                self.stats.connects += 1;
                tracing::info!(connection, venue = %self.connections[connection as usize].venue, "websocket connected");
            }
            WsEvent::Disconnected { connection, reason } => {
                *self.stats.disconnects.entry(reason.label().to_owned()).or_default() += 1;
                let Connection { venue, symbols, .. } = &self.connections[connection as usize];
                let feed = self.pipeline.feed_mut(*venue);
                for symbol in symbols {
                    let slot = feed.track(symbol);
                    feed.invalidate(slot, ResyncReason::Disconnected);
                }
            }
        }
    }

    fn on_snapshot<F>(&mut self, snapshot: Snapshot, on_events: &mut F)
    where
        F: FnMut(&Pipeline, Venue, &[FeedEvent], RecvTime),
    {
        self.snapshots_in_flight.remove(&snapshot.symbol);
        match snapshot.result {
            Ok((url, response)) => {
                self.stats.snapshots_fetched += 1;
                let body = String::from_utf8_lossy(&response.body);
                let recv = now();
                if let Some(recorder) = &self.recorder {
                    recorder.write(Venue::Binance, Src::Rest, Some(&url), &body, recv.wall_ns);
                }
                let frame = Frame { source: Source::Rest { url: &url }, data: &body, recv };
                self.process(Venue::Binance, frame, on_events);
            }
            Err(error) => {
                self.stats.snapshot_failures += 1;
                tracing::warn!(symbol = snapshot.symbol, "depth snapshot failed: {error}");
                // Reset the book so the next depth event asks for a snapshot again.
                let feed = self.pipeline.feed_mut(Venue::Binance);
                let slot = feed.track(&snapshot.symbol);
                feed.invalidate(slot, ResyncReason::SnapshotFailed);
            }
        }
    }

    fn process<F>(&mut self, venue: Venue, frame: Frame<'_>, on_events: &mut F)
    where
        F: FnMut(&Pipeline, Venue, &[FeedEvent], RecvTime),
    {
        let recv = frame.recv;
        if let Err(error) = self.pipeline.on_frame(venue, frame) {
            tracing::warn!(%venue, "frame not used: {error}");
        }
        on_events(&self.pipeline, venue, self.pipeline.last_events(), recv);
        for index in 0..self.pipeline.last_events().len() {
            match self.pipeline.last_events()[index] {
                FeedEvent::Resync { slot, reason } => {
                    let symbol = self.pipeline.feed(venue).symbol(slot).unwrap_or_default();
                    tracing::warn!(%venue, symbol, ?reason, "book broken: resyncing this instrument");
                    self.resync(venue, slot);
                }
                FeedEvent::SnapshotNeeded { slot } => self.resync(venue, slot),
                _ => {}
            }
        }
    }

    fn resync(&mut self, venue: Venue, slot: u32) {
        let Some(symbol) = self.pipeline.feed(venue).symbol(slot).map(str::to_owned) else {
            return;
        };
        match venue {
            Venue::Okx => {
                let Some(&id) = self.owner.get(&(venue, symbol.clone())) else {
                    return;
                };
                self.stats.resubscribes += 1;
                if self.connections[id].commands.try_send(WsCommand::Resubscribe(vec![symbol])).is_err() {
                    tracing::warn!(connection = id, "resubscribe not sent: connection busy");
                }
            }
            Venue::Binance => self.fetch_snapshot(symbol),
        }
    }

    /// Restarts books that have not been `Live` for longer than the resync timeout.
    fn watchdog(&mut self) {
        let now = std::time::Instant::now();
        let mut restart: HashMap<usize, Vec<String>> = HashMap::new();
        for venue in Venue::ALL {
            let feed = self.pipeline.feed(venue);
            for slot in 0..feed.slots() {
                let live = feed.book(slot).is_some_and(|b| b.state == perpspread_core::BookState::Live);
                if live {
                    self.not_live_since.remove(&(venue, slot));
                    continue;
                }
                let since = self.not_live_since.entry((venue, slot)).or_insert(now);
                if now.duration_since(*since) < self.resync_timeout {
                    continue;
                }
                *since = now;
                let Some(symbol) = feed.symbol(slot) else { continue };
                if let Some(&id) = self.owner.get(&(venue, symbol.to_owned())) {
                    restart.entry(id).or_default().push(symbol.to_owned());
                }
            }
        }
        for (id, symbols) in restart {
            self.stats.watchdog_restarts += symbols.len() as u64;
            tracing::warn!(connection = id, ?symbols, "books not live for too long: resubscribing");
            if self.connections[id].venue == Venue::Binance {
                for symbol in &symbols {
                    self.fetch_snapshot(symbol.clone());
                }
            }
            if self.connections[id].commands.try_send(WsCommand::Resubscribe(symbols)).is_err() {
                tracing::warn!(connection = id, "resubscribe not sent: connection busy");
            }
        }
    }

    fn fetch_snapshot(&mut self, symbol: String) {
        let Some(rest) = self.binance_rest.clone() else {
            tracing::warn!(symbol, "no Binance REST client: cannot fetch a depth snapshot");
            return;
        };
        if !self.snapshots_in_flight.insert(symbol.clone()) {
            return;
        }
        let (tx, depth, backoff) = (self.snapshot_tx.clone(), self.snapshot_depth, self.backoff);
        tokio::spawn(async move {
            let mut attempt = 0;
            let result = loop {
                attempt += 1;
                match rest.depth_snapshot(&symbol, depth).await {
                    Ok(ok) => break Ok(ok),
                    Err(error @ RestError::Api { .. }) => break Err(error),
                    Err(error) if attempt >= 5 => break Err(error),
                    Err(error) => {
                        tracing::warn!(symbol, attempt, "depth snapshot failed, retrying: {error}");
                        tokio::time::sleep(backoff.delay(attempt)).await;
                    }
                }
            };
            let _ = tx.send(Snapshot { symbol, result }).await;
        });
    }
}

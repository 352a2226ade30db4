//! Live market data: WebSocket connections per venue and route feeding the same [`Pipeline`] replay uses.
//!
//! One task per connection reads frames; a single loop owns the pipeline and handles every frame in
//! arrival order, records it (when recording), and turns the pipeline's requests into network actions: a
//! broken book is rebuilt as its venue's [`ResyncPolicy`] says (OKX: unsubscribe and resubscribe that one
//! instrument; Binance: a REST snapshot), and a book that asks for a REST snapshot (Binance always, OKX when
//! no WebSocket snapshot comes) gets one, fed back through the pipeline like any other frame.
//!
//! Every connection is also watched for silence, per kind of stream it subscribed ([`StreamKind`]): a
//! subscription that was acknowledged but delivers nothing is reported (a warning naming venue, stream and
//! URL, and [`StreamHealth`] for metrics, `/healthz` and the dashboard) and repaired, first by resubscribing,
//! then by reconnecting with backoff.
//!
//! One file on purpose (about 650 lines): the loop, its connection bookkeeping and the silence watch act on
//! the same per-connection state inside one `select!`; the protocol details live in the venue crates and in
//! perpspread-net's connection.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use perpspread_capture::Src;
use perpspread_core::feed::{FeedEvent, Frame, RecvTime, ResyncReason, Source};
use perpspread_core::health::{SilentStream, StreamHealth, StreamKind};
use perpspread_core::Venue;
use perpspread_net::backoff::Backoff;
pub use perpspread_net::venue::ResyncPolicy;
use perpspread_net::venue::{VenueAdapter, VenueRest, VenueSettings};
use perpspread_net::ws::{now, run_connection, WsCommand, WsEvent, WsVenue};
use perpspread_net::{redact_url, RawSnapshot, RestError};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::pipeline::{Pipeline, PipelineStats};
use crate::recorder::Recorder;

/// One venue to stream.
pub struct LiveVenue {
    pub venue: Venue,
    /// One protocol per WebSocket route; each gets its own connections and never carries another's streams.
    pub routes: Vec<Arc<dyn WsVenue>>,
    /// Venue symbols to stream.
    pub symbols: Vec<String>,
    /// REST order-book snapshots, for books that need one.
    pub snapshots: Option<Arc<dyn VenueRest>>,
    pub resync: ResyncPolicy,
}

impl LiveVenue {
    /// The venue `adapter` speaks, streamed as `settings` say (its routes and resync policy), for `symbols`.
    pub fn new(adapter: &dyn VenueAdapter, settings: &VenueSettings, symbols: Vec<String>) -> Self {
        LiveVenue {
            venue: adapter.venue(),
            routes: adapter.ws_routes(settings),
            symbols,
            snapshots: None,
            resync: adapter.resync(),
        }
    }

    /// The same venue with REST snapshots from `source`.
    pub fn with_snapshots(mut self, source: Arc<dyn VenueRest>) -> Self {
        self.snapshots = Some(source);
        self
    }
}

/// What to stream and how.
pub struct LiveConfig {
    pub venues: Vec<LiveVenue>,
    /// Levels per REST snapshot (each venue serves what it can of it).
    pub snapshot_depth: usize,
    /// Reconnect backoff.
    pub backoff: Backoff,
    /// Where to record every frame, if anywhere.
    pub recorder: Option<Recorder>,
    /// A book that stays out of `Live` this long (refused subscription, lost resubscribe, failed
    /// snapshot) is resubscribed (and, on Binance, given a new snapshot) by the watchdog.
    pub resync_timeout: Duration,
    /// A subscribed stream that delivers nothing for this long is reported silent and repaired.
    pub silence_timeout: Duration,
    /// Where silent streams are published.
    pub health: StreamHealth,
}

impl LiveConfig {
    /// Settings with no venue yet.
    pub fn new() -> Self {
        LiveConfig {
            venues: Vec::new(),
            snapshot_depth: 1000,
            backoff: Backoff { base: Duration::from_millis(500), cap: Duration::from_secs(30) },
            recorder: None,
            resync_timeout: Duration::from_secs(10),
            silence_timeout: Duration::from_secs(30),
            health: StreamHealth::default(),
        }
    }

    /// The settings of `venue`, if it is streamed.
    pub fn venue_mut(&mut self, venue: Venue) -> Option<&mut LiveVenue> {
        self.venues.iter_mut().find(|v| v.venue == venue)
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
    /// Disconnects by cause (`closed`, `stalled`, `connect_failed`, `lifetime`, `requested`, `request_budget`,
    /// `oversized`).
    pub disconnects: HashMap<String, u64>,
    pub connects: u64,
    /// REST snapshots fetched / failed.
    pub snapshots_fetched: u64,
    pub snapshot_failures: u64,
    /// Per-instrument resubscriptions sent.
    pub resubscribes: u64,
    /// Books the watchdog had to restart.
    pub watchdog_restarts: u64,
    /// Times a subscribed stream was found silent.
    pub silent_streams: u64,
    /// Repairs of silent streams (resubscribes and reconnects).
    pub silence_repairs: u64,
}

/// Silence watch of one kind of stream on one connection.
#[derive(Debug)]
struct KindWatch {
    kind: StreamKind,
    last_seen: Option<Instant>,
    /// When it was found silent, while it is.
    silent_since: Option<Instant>,
    repairs: u32,
    next_repair: Instant,
}

/// A connection as the live loop knows it.
struct Connection {
    venue: Venue,
    protocol: Arc<dyn WsVenue>,
    symbols: Vec<String>,
    commands: mpsc::Sender<WsCommand>,
    /// When the current session connected (`None` while disconnected).
    connected_at: Option<Instant>,
    /// When the first session connected: silence is measured from here (or the last message), not from the
    /// latest reconnect, so a stream that never delivers stays silent across stall reconnects.
    first_connected: Option<Instant>,
    watches: Vec<KindWatch>,
}

impl KindWatch {
    /// The report of this silent stream: silent for the time since it was found silent plus the timeout that
    /// found it, or `quiet` when longer.
    fn report(
        &self,
        (venue, url, id): (Venue, &str, usize),
        now: Instant,
        timeout: Duration,
        quiet: Duration,
    ) -> SilentStream {
        let since_found = self.silent_since.map_or(Duration::ZERO, |at| now.saturating_duration_since(at) + timeout);
        SilentStream {
            venue,
            stream: self.kind,
            url: url.to_owned(),
            connection: id as u32,
            silent_for: since_found.max(quiet),
            repairs: self.repairs,
        }
    }
}

/// How long a new session may take to deliver its first message of a kind before silence is reported.
const CONNECT_GRACE: Duration = Duration::from_secs(10);

/// A snapshot fetch result, handed back to the live loop.
struct Snapshot {
    venue: Venue,
    symbol: String,
    result: Result<RawSnapshot, RestError>,
}

/// Per-venue settings the loop needs after start.
struct VenueRuntime {
    snapshots: Option<Arc<dyn VenueRest>>,
    resync: ResyncPolicy,
}

/// The running live loop's state.
pub struct Live {
    pub pipeline: Pipeline,
    pub stats: LiveStats,
    connections: Vec<Connection>,
    /// The connection streaming each book.
    owner: HashMap<(Venue, String), usize>,
    venues: HashMap<Venue, VenueRuntime>,
    snapshots_in_flight: HashSet<(Venue, String)>,
    snapshot_tx: mpsc::Sender<Snapshot>,
    snapshot_depth: usize,
    backoff: Backoff,
    recorder: Option<Recorder>,
    resync_timeout: Duration,
    silence_timeout: Duration,
    health: StreamHealth,
    /// Since when each book is not live, and how often the watchdog restarted it meanwhile.
    not_live_since: HashMap<(Venue, u32), (Instant, u32)>,
}

/// What sees the live loop's progress. A closure `FnMut(&Pipeline, Venue, &[FeedEvent], RecvTime)` is one
/// (it only sees events).
pub trait LiveObserver {
    /// After every frame, with what it did.
    fn on_events(&mut self, pipeline: &Pipeline, venue: Venue, events: &[FeedEvent], recv: RecvTime);
    /// A connection was lost: `events` holds a `Resync { reason: Disconnected }` for each book it carried (no
    /// frame came with them). By default the same as [`LiveObserver::on_events`].
    fn on_books_lost(&mut self, pipeline: &Pipeline, venue: Venue, events: &[FeedEvent], recv: RecvTime) {
        self.on_events(pipeline, venue, events, recv);
    }
    /// About once a second whether or not anything arrives, for what must stay current when nothing does
    /// (health, book-state gauges, connection counters).
    fn on_tick(&mut self, _pipeline: &Pipeline, _stats: &LiveStats) {}
}

impl<F: FnMut(&Pipeline, Venue, &[FeedEvent], RecvTime)> LiveObserver for F {
    fn on_events(&mut self, pipeline: &Pipeline, venue: Venue, events: &[FeedEvent], recv: RecvTime) {
        self(pipeline, venue, events, recv);
    }
}

/// Runs live streaming until `shutdown` completes; `on_events` sees the pipeline after every frame.
/// Returns the final state (books, counters).
pub async fn run_live<F>(config: LiveConfig, shutdown: impl Future<Output = ()>, on_events: F) -> Live
where
    F: FnMut(&Pipeline, Venue, &[FeedEvent], RecvTime),
{
    run_live_observed(config, shutdown, on_events).await
}

/// [`run_live`] for an observer that also wants the once-a-second tick ([`LiveObserver::on_tick`]).
pub async fn run_live_observed<O: LiveObserver>(
    config: LiveConfig,
    shutdown: impl Future<Output = ()>,
    mut observer: O,
) -> Live {
    let (ws_tx, mut ws_rx) = mpsc::channel::<WsEvent>(1 << 16);
    let (snapshot_tx, mut snapshot_rx) = mpsc::channel::<Snapshot>(1024);
    let mut live = Live {
        pipeline: Pipeline::new(),
        stats: LiveStats::default(),
        connections: Vec::new(),
        owner: HashMap::new(),
        venues: HashMap::new(),
        snapshots_in_flight: HashSet::new(),
        snapshot_tx,
        snapshot_depth: config.snapshot_depth,
        backoff: config.backoff,
        recorder: config.recorder.clone(),
        resync_timeout: config.resync_timeout,
        silence_timeout: config.silence_timeout,
        health: config.health.clone(),
        not_live_since: HashMap::new(),
    };
    for venue in config.venues {
        for route in &venue.routes {
            live.spawn_connections(route.clone(), &venue.symbols, &ws_tx);
        }
        live.venues.insert(venue.venue, VenueRuntime { snapshots: venue.snapshots, resync: venue.resync });
    }
    drop(ws_tx);
    let mut flush = tokio::time::interval(Duration::from_secs(1));
    let check_every = (config.resync_timeout.min(config.silence_timeout) / 4).max(Duration::from_millis(50));
    let mut watchdog = tokio::time::interval(check_every);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            // Before the frames: a backlog must not hold back health, metrics and the recorder's flush.
            _ = flush.tick() => {
                if let Some(recorder) = &live.recorder {
                    recorder.flush();
                }
                live.stats.pipeline = live.pipeline.stats();
                observer.on_tick(&live.pipeline, &live.stats);
            }
            Some(event) = ws_rx.recv() => live.on_ws(event, &mut observer),
            Some(snapshot) = snapshot_rx.recv() => live.on_snapshot(snapshot, &mut observer),
            _ = watchdog.tick() => {
                live.watchdog();
                live.watch_silence(Instant::now());
            }
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
    fn spawn_connections(&mut self, protocol: Arc<dyn WsVenue>, symbols: &[String], events: &mpsc::Sender<WsEvent>) {
        let venue = protocol.venue();
        let started = Instant::now();
        for chunk in symbols.chunks(protocol.symbols_per_connection().max(1)) {
            let id = self.connections.len();
            let (commands, command_rx) = mpsc::channel(64);
            if protocol.carries_books() {
                for symbol in chunk {
                    self.pipeline.feed_mut(venue).track(symbol);
                    self.owner.insert((venue, symbol.clone()), id);
                }
            }
            let watches = protocol
                .stream_kinds()
                .into_iter()
                .map(|kind| KindWatch { kind, last_seen: None, silent_since: None, repairs: 0, next_repair: started })
                .collect();
            self.connections.push(Connection {
                venue,
                protocol: protocol.clone(),
                symbols: chunk.to_vec(),
                commands,
                connected_at: None,
                first_connected: None,
                watches,
            });
            tokio::spawn(run_connection(
                protocol.clone(),
                id as u32,
                chunk.to_vec(),
                events.clone(),
                command_rx,
                self.backoff,
            ));
        }
    }

    fn on_ws<O: LiveObserver>(&mut self, event: WsEvent, observer: &mut O) {
        match event {
            WsEvent::Frame { connection, data, recv } => {
                let venue = self.connections[connection as usize].venue;
                if let Some(recorder) = &self.recorder {
                    recorder.write(venue, Src::Ws, None, &data, recv.wall_ns);
                }
                let frame = Frame { source: Source::Ws, data: &data, recv };
                self.process(venue, frame, observer);
                self.saw_streams(connection as usize);
            }
            WsEvent::Connected { connection } => {
                self.stats.connects += 1;
                let connection = &mut self.connections[connection as usize];
                connection.connected_at = Some(Instant::now());
                connection.first_connected.get_or_insert(Instant::now());
                tracing::info!(venue = %connection.venue, route = connection.protocol.route(), "websocket connected");
            }
            WsEvent::Disconnected { connection, reason } => {
                *self.stats.disconnects.entry(reason.label().to_owned()).or_default() += 1;
                let Connection { venue, symbols, protocol, connected_at, .. } =
                    &mut self.connections[connection as usize];
                // A failed connection attempt after a loss breaks nothing more: count the books once.
                if connected_at.take().is_none() || !protocol.carries_books() {
                    return;
                }
                let venue = *venue;
                let feed = self.pipeline.feed_mut(venue);
                let mut resyncs = Vec::with_capacity(symbols.len());
                for symbol in symbols.iter() {
                    let slot = feed.track(symbol);
                    feed.invalidate(slot, ResyncReason::Disconnected);
                    resyncs.push(FeedEvent::Resync { slot, reason: ResyncReason::Disconnected });
                }
                // Downstream sees the books break now (guards close their opportunities, metrics count the
                // resyncs and time them), not at the next frame.
                observer.on_books_lost(&self.pipeline, venue, &resyncs, now());
            }
        }
    }

    /// Notes which kinds of stream the last frame of `connection` delivered.
    fn saw_streams(&mut self, connection: usize) {
        let (mut book, mut funding) = (false, false);
        for event in self.pipeline.last_events() {
            match event {
                FeedEvent::Funding { .. } => funding = true,
                FeedEvent::BookUpdated { .. }
                | FeedEvent::Resync { .. }
                | FeedEvent::SnapshotNeeded { .. }
                | FeedEvent::BookBuffered { .. } => book = true,
                _ => {}
            }
        }
        if !(book || funding) {
            return;
        }
        let now = Instant::now();
        let connection = &mut self.connections[connection];
        for watch in &mut connection.watches {
            if (watch.kind == StreamKind::Book && book) || (watch.kind == StreamKind::Funding && funding) {
                watch.last_seen = Some(now);
                if let Some(since) = watch.silent_since.take() {
                    watch.next_repair = now;
                    tracing::info!(
                        venue = %connection.venue,
                        stream = %watch.kind,
                        url = %redact_url(&connection.protocol.url()),
                        "{} {} stream delivering again after {:.1} s silent and {} repairs",
                        connection.venue,
                        watch.kind,
                        now.duration_since(since).as_secs_f64(),
                        watch.repairs
                    );
                    watch.repairs = 0;
                }
            }
        }
    }

    /// Finds subscribed streams that delivered nothing for the silence timeout, reports them and repairs
    /// them: a resubscribe first, then reconnects with doubling waits.
    fn watch_silence(&mut self, now: Instant) {
        let configured = self.silence_timeout;
        let mut silent = Vec::new();
        for (id, connection) in self.connections.iter_mut().enumerate() {
            let url = redact_url(&connection.protocol.url()).into_owned();
            let at = (connection.venue, url.as_str(), id);
            let connected_at = connection.connected_at;
            let (Some(_), Some(first_connected)) = (connected_at, connection.first_connected) else {
                // Reconnecting: a silent stream stays reported until it delivers again.
                for watch in connection.watches.iter().filter(|w| w.silent_since.is_some()) {
                    let timeout = configured.max(connection.protocol.normal_quiet(watch.kind));
                    silent.push(watch.report(at, now, timeout, Duration::ZERO));
                }
                continue;
            };
            let mut command = None;
            for watch in &mut connection.watches {
                let timeout = configured.max(connection.protocol.normal_quiet(watch.kind));
                let quiet = now.saturating_duration_since(watch.last_seen.unwrap_or(first_connected));
                // A new session gets time for its first push before a stream is called silent.
                let settling =
                    connected_at.is_some_and(|at| now.saturating_duration_since(at) < CONNECT_GRACE.min(timeout));
                if (quiet < timeout || settling) && watch.silent_since.is_none() {
                    continue;
                }
                if watch.silent_since.is_none() {
                    watch.silent_since = Some(now);
                    self.stats.silent_streams += 1;
                    tracing::warn!(
                        venue = %connection.venue,
                        stream = %watch.kind,
                        url = %url,
                        "{} {} stream silent for {:.0} s on {url} although subscribed (misrouted, muted, or needs a login?): repairing",
                        connection.venue,
                        watch.kind,
                        quiet.as_secs_f64(),
                    );
                }
                if now >= watch.next_repair {
                    watch.repairs += 1;
                    self.stats.silence_repairs += 1;
                    let wait = timeout.saturating_mul(1 << (watch.repairs - 1).min(5));
                    watch.next_repair = now + wait;
                    // The first repair resubscribes; later ones reconnect, which also resubscribes everything.
                    // (A reconnect, asked by one kind, wins over a resubscribe asked by another.)
                    if watch.repairs == 1 && command.is_none() {
                        command = Some(WsCommand::Resubscribe(connection.symbols.clone()));
                    } else if watch.repairs > 1 {
                        command = Some(WsCommand::Reconnect);
                    }
                }
                silent.push(watch.report(at, now, timeout, quiet));
            }
            if let Some(command) = command {
                if connection.commands.try_send(command).is_err() {
                    tracing::warn!(connection = id, "silent-stream repair not sent: connection busy");
                }
            }
        }
        self.health.set(silent);
    }

    fn on_snapshot<O: LiveObserver>(&mut self, snapshot: Snapshot, observer: &mut O) {
        let Snapshot { venue, symbol, result } = snapshot;
        self.snapshots_in_flight.remove(&(venue, symbol.clone()));
        match result {
            Ok((url, response)) => {
                self.stats.snapshots_fetched += 1;
                let body = String::from_utf8_lossy(&response.body);
                let recv = now();
                if let Some(recorder) = &self.recorder {
                    recorder.write(venue, Src::Rest, Some(&url), &body, recv.wall_ns);
                }
                let frame = Frame { source: Source::Rest { url: &url }, data: &body, recv };
                self.process(venue, frame, observer);
            }
            Err(error) => {
                self.stats.snapshot_failures += 1;
                tracing::warn!(%venue, symbol, "depth snapshot failed: {error}");
                // Reset the book so the next update asks for a snapshot again, unless it went live meanwhile
                // (a WebSocket snapshot, or a reconnect's).
                let feed = self.pipeline.feed_mut(venue);
                let slot = feed.track(&symbol);
                if feed.book(slot).is_none_or(|b| b.state != perpspread_core::BookState::Live) {
                    feed.invalidate(slot, ResyncReason::SnapshotFailed);
                }
            }
        }
    }

    fn process<O: LiveObserver>(&mut self, venue: Venue, frame: Frame<'_>, observer: &mut O) {
        let recv = frame.recv;
        if let Err(error) = self.pipeline.on_frame(venue, frame) {
            tracing::warn!(%venue, "frame not used: {error}");
        }
        observer.on_events(&self.pipeline, venue, self.pipeline.last_events(), recv);
        for index in 0..self.pipeline.last_events().len() {
            match self.pipeline.last_events()[index] {
                FeedEvent::Resync { slot, reason } => {
                    let symbol = self.pipeline.feed(venue).symbol(slot).unwrap_or_default();
                    tracing::warn!(%venue, symbol, ?reason, "book broken: resyncing this instrument");
                    // A book the feed repairs over REST (it asked for a snapshot too) needs no resubscription.
                    if !self.pipeline.last_events().contains(&FeedEvent::SnapshotNeeded { slot }) {
                        self.resync(venue, slot);
                    }
                }
                FeedEvent::SnapshotNeeded { slot } => {
                    if let Some(symbol) = self.pipeline.feed(venue).symbol(slot).map(str::to_owned) {
                        self.fetch_snapshot(venue, symbol);
                    }
                }
                _ => {}
            }
        }
    }

    fn resync(&mut self, venue: Venue, slot: u32) {
        let Some(symbol) = self.pipeline.feed(venue).symbol(slot).map(str::to_owned) else {
            return;
        };
        match self.venues.get(&venue).map(|v| v.resync) {
            Some(ResyncPolicy::RestSnapshot) => self.fetch_snapshot(venue, symbol),
            Some(ResyncPolicy::Resubscribe) | None => {
                let Some(&id) = self.owner.get(&(venue, symbol.clone())) else {
                    return;
                };
                self.stats.resubscribes += 1;
                if self.connections[id].commands.try_send(WsCommand::Resubscribe(vec![symbol])).is_err() {
                    tracing::warn!(connection = id, "resubscribe not sent: connection busy");
                }
            }
        }
    }

    /// Restarts books that have not been `Live` for longer than the resync timeout: a new REST snapshot
    /// where the venue's books are seeded over REST, and a resubscription.
    ///
    /// A book that keeps failing is restarted at doubling intervals (up to 32 × the timeout), so one refused or
    /// delisted instrument cannot spend a connection's subscription budget.
    fn watchdog(&mut self) {
        let now = Instant::now();
        let mut restart: HashMap<usize, Vec<(String, u32)>> = HashMap::new();
        for venue in Venue::ALL {
            let feed = self.pipeline.feed(venue);
            for slot in 0..feed.slots() {
                let live = feed.book(slot).is_some_and(|b| b.state == perpspread_core::BookState::Live);
                if live {
                    self.not_live_since.remove(&(venue, slot));
                    continue;
                }
                let (since, restarts) = self.not_live_since.entry((venue, slot)).or_insert((now, 0));
                if now.duration_since(*since) < self.resync_timeout.saturating_mul(1 << (*restarts).min(5)) {
                    continue;
                }
                (*since, *restarts) = (now, *restarts + 1);
                let Some(symbol) = feed.symbol(slot) else { continue };
                if let Some(&id) = self.owner.get(&(venue, symbol.to_owned())) {
                    restart.entry(id).or_default().push((symbol.to_owned(), *restarts));
                }
            }
        }
        for (id, restarts) in restart {
            self.stats.watchdog_restarts += restarts.len() as u64;
            let venue = self.connections[id].venue;
            let rest_policy = self.venues.get(&venue).is_some_and(|v| v.resync == ResyncPolicy::RestSnapshot);
            let repairs_over_rest = self.pipeline.feed(venue).repairs_over_rest();
            if rest_policy || repairs_over_rest {
                for (symbol, _) in &restarts {
                    self.fetch_snapshot(venue, symbol.clone());
                }
            }
            // Where the venue sends no snapshots a REST snapshot repairs a book, unless its subscription itself
            // was lost (no update to bridge with): every other restart resubscribes too.
            let symbols: Vec<String> = restarts
                .into_iter()
                .filter(|(_, count)| !repairs_over_rest || count % 2 == 0)
                .map(|(symbol, _)| symbol)
                .collect();
            if symbols.is_empty() {
                continue;
            }
            tracing::warn!(%venue, connection = id, ?symbols, "books not live for too long: resubscribing");
            if self.connections[id].commands.try_send(WsCommand::Resubscribe(symbols)).is_err() {
                tracing::warn!(connection = id, "resubscribe not sent: connection busy");
            }
        }
    }

    fn fetch_snapshot(&mut self, venue: Venue, symbol: String) {
        let Some(source) = self.venues.get(&venue).and_then(|v| v.snapshots.clone()) else {
            tracing::warn!(%venue, symbol, "no REST client: cannot fetch a depth snapshot");
            return;
        };
        if !self.snapshots_in_flight.insert((venue, symbol.clone())) {
            return;
        }
        let (tx, depth, backoff) = (self.snapshot_tx.clone(), self.snapshot_depth, self.backoff);
        tokio::spawn(async move {
            let mut attempt = 0;
            let result = loop {
                attempt += 1;
                match source.snapshot(&symbol, depth).await {
                    Ok(ok) => break Ok(ok),
                    Err(error @ RestError::Api { .. }) => break Err(error),
                    Err(error) if attempt >= 5 => break Err(error),
                    Err(error) => {
                        tracing::warn!(%venue, symbol, attempt, "depth snapshot failed, retrying: {error}");
                        tokio::time::sleep(backoff.delay(attempt)).await;
                    }
                }
            };
            let _ = tx.send(Snapshot { venue, symbol, result }).await;
        });
    }
}

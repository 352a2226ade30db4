//! The outputs `monitor` feeds besides stdout/dashboard: Prometheus metrics, Redis, Parquet/CSV files.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use perpspread_core::engine::OpportunityEvent;
use perpspread_core::feed::{FeedEvent, RecvTime, Source};
use perpspread_core::Venue;
use perpspread_sinks::{
    BookAge, FileFormat, FileSinkConfig, FileSinkHandle, Metrics, MetricsConfig, MetricsServer, RedisConfig,
    RedisPublisher, SnapshotSampler, SpreadSnapshot,
};
use perpspread_stream::{LiveObserver, LiveStats, Pipeline, Signals};

/// Flags selecting the outputs (shared by `monitor` and `demo`).
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct OutputArgs {
    /// Serve Prometheus metrics on /metrics and readiness on /healthz (e.g. 127.0.0.1:9898; a bare port binds
    /// to loopback).
    #[arg(long, value_parser = perpspread_sinks::metrics::parse_metrics_addr)]
    pub metrics_addr: Option<SocketAddr>,
    /// Publish opportunity events and spread snapshots to Redis streams and pub/sub (redis://host:port).
    #[arg(long)]
    pub redis: Option<String>,
    /// Write closed opportunities and sampled spread snapshots to hourly files in this directory.
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    /// File format for --out-dir: parquet or csv.
    #[arg(long, default_value = "parquet", requires = "out_dir")]
    pub out_format: FileFormat,
    /// Interval between spread snapshots sent to Redis and files, ms.
    #[arg(long, default_value_t = 1000, value_parser = crate::commands::at_least_one)]
    pub snapshot_ms: u64,
}

/// Running outputs.
pub(crate) struct Outputs {
    metrics: Option<Metrics>,
    server: Option<MetricsServer>,
    redis: Option<RedisPublisher>,
    files: Option<FileSinkHandle>,
    sampler: SnapshotSampler,
    snapshots: Vec<SpreadSnapshot>,
}

impl Outputs {
    /// Starts the outputs the flags ask for.
    pub async fn start(args: &OutputArgs) -> anyhow::Result<Outputs> {
        let (metrics, server) = match args.metrics_addr {
            Some(addr) => {
                let metrics = Metrics::new(&MetricsConfig::default()).context("metrics")?;
                let server = metrics
                    .serve(addr)
                    .await
                    .map_err(|e| crate::UserError(format!("cannot serve metrics on {addr}: {e}")))?;
                eprintln!("metrics on http://{}/metrics", server.local_addr());
                (Some(metrics), Some(server))
            }
            None => (None, None),
        };
        let redis = match &args.redis {
            Some(url) => {
                require_redis(url).await?;
                Some(RedisPublisher::spawn(RedisConfig::new(url)).map_err(|e| crate::UserError(e.to_string()))?)
            }
            None => None,
        };
        let files = match &args.out_dir {
            Some(dir) => {
                let config = FileSinkConfig { format: args.out_format, ..FileSinkConfig::new(dir) };
                Some(FileSinkHandle::spawn(&config, 65_536).map_err(|e| crate::UserError(e.to_string()))?)
            }
            None => None,
        };
        Ok(Outputs {
            metrics,
            server,
            redis,
            files,
            sampler: SnapshotSampler::new(Duration::from_millis(args.snapshot_ms.max(1))),
            snapshots: Vec::new(),
        })
    }

    /// Reports the recording's failure, if it fails, in `/healthz` and `perpspread_recording_failed`.
    pub fn watch_recording(&self, recorder: &perpspread_stream::Recorder) {
        if let Some(metrics) = &self.metrics {
            let recorder = recorder.clone();
            metrics.watch_recording(Box::new(move || recorder.failure()));
        }
    }

    /// Reports the live layer's silent streams in `/healthz` and `perpspread_stream_silent`.
    pub fn watch_streams(&self, health: &perpspread_core::health::StreamHealth) {
        if let Some(metrics) = &self.metrics {
            metrics.watch_streams(health.clone());
        }
    }

    /// Called after every frame with the feed events and the engine's opportunity events.
    pub fn on_frame(
        &mut self,
        pipeline: &Pipeline,
        signals: &Signals,
        venue: Venue,
        feed_events: &[FeedEvent],
        recv: RecvTime,
        events: &[OpportunityEvent],
    ) {
        if let Some(metrics) = self.metrics.as_mut() {
            let frame = pipeline.last_frame();
            let source = if frame.rest { Source::Rest { url: "" } } else { Source::Ws };
            metrics.on_frame(venue, source, frame.bytes, frame.error.as_ref());
            metrics.on_feed_events(venue, pipeline.feed(venue), feed_events, recv);
            if !signals.touched().is_empty() {
                let now = perpspread_net::ws::now().mono_ns;
                metrics.observe_signal_latency(venue, now.saturating_sub(recv.mono_ns));
            }
        }
        self.on_events(events);
        if (self.redis.is_some() || self.files.is_some())
            && self.sampler.sample(&signals.engine, |v| pipeline.feed(v), recv.wall_ns, &mut self.snapshots)
        {
            for snapshot in self.snapshots.drain(..) {
                if let Some(redis) = &self.redis {
                    redis.publish_snapshot(&snapshot);
                }
                if let Some(files) = &self.files {
                    files.on_snapshot(&snapshot);
                }
            }
        }
    }

    /// A lost connection's books broke (`Resync { reason: Disconnected }` each, no frame with them).
    pub fn on_books_lost(
        &mut self,
        pipeline: &Pipeline,
        venue: Venue,
        feed_events: &[FeedEvent],
        recv: RecvTime,
        events: &[OpportunityEvent],
    ) {
        if let Some(metrics) = self.metrics.as_mut() {
            metrics.on_feed_events(venue, pipeline.feed(venue), feed_events, recv);
        }
        self.on_events(events);
    }

    /// Once a second, whether or not anything arrived: book states (a book not updated for `max_book_age` is
    /// stale), engine, connection and Redis counters.
    pub fn on_tick(&mut self, pipeline: &Pipeline, signals: &Signals, stats: &LiveStats) {
        let Some(metrics) = self.metrics.as_mut() else { return };
        let now_mono_ns = perpspread_net::ws::now().mono_ns;
        let age = BookAge { now_mono_ns, max_ns: signals.engine.config().max_book_age_ns };
        for venue in Venue::ALL {
            metrics.observe_feed(pipeline.feed(venue), age);
        }
        metrics.observe_engine(&signals.engine);
        metrics.observe_connections(stats.connects, stats.disconnects.iter().map(|(cause, n)| (cause.as_str(), *n)));
        if let Some(redis) = &self.redis {
            metrics.observe_redis(&redis.stats());
        }
    }

    /// Sends opportunity events to every output.
    pub fn on_events(&self, events: &[OpportunityEvent]) {
        for event in events {
            if let Some(metrics) = &self.metrics {
                metrics.on_opportunity(event);
            }
            if let Some(redis) = &self.redis {
                redis.publish_event(event);
            }
            if let Some(files) = &self.files {
                files.on_event(event);
            }
        }
    }

    /// Flushes and closes everything (files are closed cleanly so none is left unreadable).
    pub async fn finish(self) -> anyhow::Result<()> {
        if let Some(redis) = self.redis {
            let stats = redis.shutdown().await;
            eprintln!(
                "redis: {} published, {} dropped, {} reconnects",
                stats.published, stats.dropped, stats.reconnects
            );
        }
        if let Some(files) = self.files {
            let written = files.finish().context("closing output files")?;
            let plural = if written.len() == 1 { "" } else { "s" };
            eprintln!("wrote {} file{plural}", written.len());
        }
        if let Some(server) = self.server {
            server.shutdown().await;
        }
        Ok(())
    }
}

/// The monitor's view of the live loop: the engine evaluates every book change, the outputs get the results,
/// and `show` presents them (JSON lines or the dashboard).
pub(crate) struct MonitorObserver<'a, S> {
    pub signals: &'a mut Signals,
    pub outputs: &'a mut Outputs,
    pub events: Vec<OpportunityEvent>,
    show: S,
    funding: Option<crate::funding_refresh::FundingRefresh>,
}

impl<'a, S> MonitorObserver<'a, S>
where
    S: FnMut(&Pipeline, &Signals, &mut Vec<OpportunityEvent>),
{
    /// An observer presenting the opportunity events with `show` (which empties the list it is given).
    pub fn new(signals: &'a mut Signals, outputs: &'a mut Outputs, show: S) -> Self {
        MonitorObserver { signals, outputs, events: Vec::new(), show, funding: None }
    }

    /// Also keeps the engine's funding current with `refresh` (applied once a second).
    pub(crate) fn with_funding_refresh(mut self, refresh: Option<crate::funding_refresh::FundingRefresh>) -> Self {
        self.funding = refresh;
        self
    }
}

impl<S> LiveObserver for MonitorObserver<'_, S>
where
    S: FnMut(&Pipeline, &Signals, &mut Vec<OpportunityEvent>),
{
    fn on_events(&mut self, pipeline: &Pipeline, venue: Venue, feed_events: &[FeedEvent], recv: RecvTime) {
        self.signals.on_events(pipeline, venue, feed_events, recv, &mut self.events);
        self.outputs.on_frame(pipeline, self.signals, venue, feed_events, recv, &self.events);
        (self.show)(pipeline, self.signals, &mut self.events);
    }

    fn on_books_lost(&mut self, pipeline: &Pipeline, venue: Venue, feed_events: &[FeedEvent], recv: RecvTime) {
        self.signals.on_events(pipeline, venue, feed_events, recv, &mut self.events);
        self.outputs.on_books_lost(pipeline, venue, feed_events, recv, &self.events);
        (self.show)(pipeline, self.signals, &mut self.events);
    }

    fn on_tick(&mut self, pipeline: &Pipeline, stats: &LiveStats) {
        if let Some(refresh) = self.funding.as_mut() {
            refresh.apply(&mut self.signals.engine);
        }
        self.outputs.on_tick(pipeline, self.signals, stats);
    }
}

/// Fails with a user error when no Redis server answers at `url` (checked once, at startup).
pub(crate) async fn require_redis(url: &str) -> Result<(), crate::UserError> {
    RedisPublisher::check_reachable(url, Duration::from_secs(3)).await.map_err(|e| {
        let hint = if e.is_unreachable() { " (is redis-server running?)" } else { "" };
        crate::UserError(format!("cannot reach Redis at {}: {e}{hint}", perpspread_net::redact_url(url)))
    })
}

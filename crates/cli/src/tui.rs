//! The interactive dashboard of `perpspread monitor`.
//!
//! The live loop updates a shared [`Dashboard`] after every frame (a few field copies under an
//! uncontended lock); a separate thread renders it at a fixed 10 frames per second and reads the keyboard,
//! so rendering never slows the market-data path.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use perpspread_core::engine::{EventKind, Opportunity, OpportunityEvent};
use perpspread_core::feed::BookState;
use perpspread_core::spread::{top_per_base, LegBook};
use perpspread_core::{Venue, VenueMap};
use perpspread_stream::{run_live_observed, Live, LiveConfig, Pipeline, Signals};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind};

use crate::commands::scan::price;

mod render;

pub use render::render;
pub(crate) use render::{delays_text, protection};

/// One pair's row.
#[derive(Debug, Clone, Default)]
pub(crate) struct PairRow {
    pub pair: String,
    /// Best bid/ask per base unit, per leg (legs in the pair's order).
    pub bid: [Option<f64>; 2],
    pub ask: [Option<f64>; 2],
    pub venues: [String; 2],
    /// Each leg's book state as its feed reports it (shown `stale` when not updated for too long).
    pub state: [Option<BookState>; 2],
    /// When each leg's book was last updated, on the receive clock (`RecvTime::mono_ns`).
    pub updated_ns: [u64; 2],
    pub latency_ms: [Option<f64>; 2],
    /// Best direction at the first size: label, gross and net bp.
    pub direction: String,
    pub gross_bp: Option<f64>,
    /// Net bp of the best direction at each configured size.
    pub net_bp: Vec<Option<f64>>,
    pub max_size_quote: Option<f64>,
    pub carry_bp: Option<f64>,
    /// Minutes until the sooner of the two legs' next funding.
    pub next_funding_min: Option<f64>,
    pub suppressed: Option<&'static str>,
    /// The best funding trade of the pair (direction with the highest carry net of the round trip).
    pub funding: Option<FundingRow>,
}

/// The funding view of a pair: the direction whose carry over the horizon, net of its round trip at the first
/// size, is highest.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FundingRow {
    pub direction: String,
    /// Long leg's then short leg's: rate bp per settlement, interval h, minutes to the next settlement, APR %.
    pub rate_bp: [f64; 2],
    pub interval_h: [u32; 2],
    pub next_min: [f64; 2],
    pub apr_pct: [f64; 2],
    pub round_trip_bp: f64,
    pub trade: perpspread_core::funding::FundingTrade,
}

/// Which table the dashboard shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum View {
    #[default]
    Spreads,
    Funding,
}

impl PairRow {
    fn best_net(&self) -> f64 {
        self.net_bp.iter().flatten().copied().fold(f64::NEG_INFINITY, f64::max)
    }
}

/// How the pair table is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum SortBy {
    #[default]
    NetBp,
    Pair,
    Latency,
}

impl SortBy {
    fn label(self) -> &'static str {
        match self {
            SortBy::NetBp => "net bp",
            SortBy::Pair => "pair",
            SortBy::Latency => "latency",
        }
    }
}

/// Everything the dashboard shows.
#[derive(Debug, Clone)]
pub(crate) struct Dashboard {
    pub rows: Vec<PairRow>,
    pub sizes: Vec<String>,
    pub open: Vec<Opportunity>,
    pub closed: VecDeque<Opportunity>,
    pub messages: u64,
    pub resyncs: u64,
    pub gaps: u64,
    pub started: Instant,
    pub rate: f64,
    rate_mark: (Instant, u64),
    /// Smallest exchange→receive delay per venue (OKX, Binance), ms: clock offset + minimum latency.
    pub min_delay_ms: VenueMap<Option<f64>>,
    pub paused: bool,
    pub sort: SortBy,
    /// Show only pairs with a positive net at some size.
    pub only_positive: bool,
    /// Only pairs with a leg on this venue (key `e` cycles through the venues).
    pub venue_filter: Option<Venue>,
    /// A live book not updated for longer than this is shown `stale` (the engine's guard).
    pub max_book_age_ns: u64,
    /// Now on the receive clock, set before each draw.
    pub now_ns: u64,
    /// Subscribed streams that deliver nothing, as the live layer reports them (read at each draw).
    pub streams: perpspread_core::health::StreamHealth,
    /// What protects the books, e.g. `okx seqId chain (checksum 0)`, refreshed once a second.
    pub protection: String,
    /// Spreads or funding (key `v`).
    pub view: View,
    /// Holding horizon of the funding view, h.
    pub horizon_h: f64,
}

impl Dashboard {
    /// An empty dashboard for the engine's pairs.
    pub fn new(signals: &Signals) -> Self {
        let engine = &signals.engine;
        let rows = engine
            .pairs()
            .iter()
            .map(|pair| PairRow {
                pair: pair.key.to_string(),
                venues: [pair.legs[0].venue.to_string(), pair.legs[1].venue.to_string()],
                net_bp: vec![None; engine.config().sizes.len()],
                ..PairRow::default()
            })
            .collect();
        let sizes = engine
            .config()
            .sizes
            .iter()
            .map(|s| match s {
                perpspread_core::spread::SizeTarget::Quote(q) => {
                    format!("{}k", q.normalize() / rust_decimal::Decimal::from(1000))
                }
                perpspread_core::spread::SizeTarget::Base(b) => format!("{}b", b.normalize()),
            })
            .collect();
        Dashboard {
            rows,
            sizes,
            open: Vec::new(),
            closed: VecDeque::new(),
            messages: 0,
            resyncs: 0,
            gaps: 0,
            started: Instant::now(),
            rate: 0.0,
            rate_mark: (Instant::now(), 0),
            min_delay_ms: VenueMap::default(),
            paused: false,
            sort: SortBy::default(),
            only_positive: false,
            venue_filter: None,
            max_book_age_ns: engine.config().max_book_age_ns,
            now_ns: 0,
            streams: Default::default(),
            protection: String::new(),
            view: View::default(),
            horizon_h: engine.config().funding_horizon_ms as f64 / 3_600_000.0,
        }
    }

    /// Refreshes the rows of the pairs just evaluated and applies opportunity events.
    pub fn update(&mut self, pipeline: &Pipeline, signals: &Signals, events: &[OpportunityEvent]) {
        let stats = pipeline.stats();
        self.messages = stats.messages;
        self.resyncs = stats.resync_requests;
        self.min_delay_ms = VenueMap::from_fn(|venue| pipeline.clock(venue).min_delay_ms());
        let elapsed = self.rate_mark.0.elapsed();
        if elapsed >= Duration::from_secs(1) {
            self.rate = (self.messages - self.rate_mark.1) as f64 / elapsed.as_secs_f64();
            self.rate_mark = (Instant::now(), self.messages);
            self.protection = protection(pipeline);
        }
        if self.paused {
            return;
        }
        for &pair in signals.touched() {
            self.refresh_row(pipeline, signals, pair);
        }
        for event in events {
            let id = event.opportunity.id;
            self.open.retain(|o| o.id != id);
            match event.event {
                EventKind::Opened | EventKind::Updated => self.open.push(event.opportunity.clone()),
                EventKind::Closed => {
                    self.closed.push_front(event.opportunity.clone());
                    self.closed.truncate(50);
                }
            }
        }
    }

    fn refresh_row(&mut self, pipeline: &Pipeline, signals: &Signals, index: usize) {
        let engine = &signals.engine;
        let pair = &engine.pairs()[index];
        let row = &mut self.rows[index];
        let mut gaps = 0;
        for (leg_index, leg) in pair.legs.iter().enumerate() {
            let feed = pipeline.feed(leg.venue);
            let tracked = feed.slot(&leg.symbol).and_then(|slot| feed.book(slot));
            row.state[leg_index] = tracked.map(|t| t.state);
            if let Some(tracked) = tracked {
                row.updated_ns[leg_index] = tracked.recv.mono_ns;
                gaps += tracked.stats.sequence_gaps;
                let (bid, ask) = top_per_base(&LegBook { instrument: leg, book: &tracked.book });
                row.bid[leg_index] = bid;
                row.ask[leg_index] = ask;
            }
        }
        row.latency_ms = engine.latency_ms(index);
        row.suppressed = engine.suppression(index).map(|s| s.label());
        let sizes = engine.config().sizes.len();
        let quotes = engine.quotes(index);
        let best_direction = (0..2)
            .max_by(|a, b| {
                let net = |d: usize| quotes[d * sizes].as_ref().map_or(f64::NEG_INFINITY, |q| q.net_bp);
                net(*a).total_cmp(&net(*b))
            })
            .unwrap_or(0);
        let first = quotes[best_direction * sizes].as_ref();
        row.direction = first.map(|q| format!("{}→{}", q.direction.buy, q.direction.sell)).unwrap_or_default();
        row.gross_bp = first.map(|q| q.gross_bp);
        row.max_size_quote = first.map(|q| q.max_size_quote);
        row.net_bp = (0..sizes).map(|s| quotes[best_direction * sizes + s].as_ref().map(|q| q.net_bp)).collect();
        let legs = if best_direction == 0 { (0, 1) } else { (1, 0) };
        let now_ms = perpspread_net::rest::unix_ns() / 1_000_000;
        row.carry_bp = engine.funding_carry_bp(index, legs, now_ms);
        row.funding = best_funding_trade(engine, index, now_ms);
        row.next_funding_min = engine
            .funding(index)
            .iter()
            .flatten()
            .filter_map(|f| f.next_funding_ms)
            .min()
            .map(|next| next.saturating_sub(now_ms) as f64 / 60_000.0);
        self.gaps = self.gaps.max(gaps);
    }

    /// A leg's book state as shown now: `Stale` for a live book not updated for too long.
    fn shown_state(&self, row: &PairRow, leg: usize) -> Option<BookState> {
        let age_ns = self.now_ns.saturating_sub(row.updated_ns[leg]);
        row.state[leg].map(|state| state.aged(age_ns, self.max_book_age_ns))
    }

    fn sorted_rows(&self) -> Vec<&PairRow> {
        let on_venue = |r: &PairRow| self.venue_filter.is_none_or(|v| r.venues.iter().any(|name| name == v.as_str()));
        let mut rows: Vec<&PairRow> =
            self.rows.iter().filter(|r| (!self.only_positive || r.best_net() > 0.0) && on_venue(r)).collect();
        match self.sort {
            SortBy::NetBp => rows.sort_by(|a, b| b.best_net().total_cmp(&a.best_net())),
            SortBy::Pair => rows.sort_by(|a, b| a.pair.cmp(&b.pair)),
            SortBy::Latency => {
                let worst = |r: &PairRow| r.latency_ms.iter().flatten().fold(0.0f64, |a, b| a.max(*b));
                rows.sort_by(|a, b| worst(b).total_cmp(&worst(a)));
            }
        }
        rows
    }

    /// Handles a key; returns true when the user asked to quit.
    pub(crate) fn on_key(&mut self, key: KeyCode) -> bool {
        match key {
            KeyCode::Char('q') | KeyCode::Esc => return true,
            KeyCode::Char('p') | KeyCode::Char(' ') => self.paused = !self.paused,
            KeyCode::Char('s') => {
                self.sort = match self.sort {
                    SortBy::NetBp => SortBy::Pair,
                    SortBy::Pair => SortBy::Latency,
                    SortBy::Latency => SortBy::NetBp,
                }
            }
            KeyCode::Char('f') => self.only_positive = !self.only_positive,
            KeyCode::Char('e') => {
                let next = self.venue_filter.map_or(0, |v| v.index() + 1);
                self.venue_filter = Venue::ALL.get(next).copied();
            }
            KeyCode::Char('v') => {
                self.view = match self.view {
                    View::Spreads => View::Funding,
                    View::Funding => View::Spreads,
                }
            }
            _ => {}
        }
        false
    }
}

/// The pair's funding trade with the highest carry net of its round trip at the first size, when both legs'
/// schedules and both directions' quotes are known.
fn best_funding_trade(engine: &perpspread_core::engine::Engine, index: usize, now_ms: u64) -> Option<FundingRow> {
    use perpspread_core::funding::{round_trip_bp, trade};
    let pair = &engine.pairs()[index];
    let schedules = engine.funding(index).map(|f| f.and_then(|f| f.schedule()));
    let quotes = engine.quotes(index);
    let sizes = engine.config().sizes.len();
    let fees = &engine.config().fees;
    let taker = fees.instrument_taker_bp(&pair.legs[0]) + fees.instrument_taker_bp(&pair.legs[1]);
    let gross = |direction: usize| quotes[direction * sizes].as_ref().map(|q| q.gross_bp);
    let round_trip = round_trip_bp(gross(0)?, gross(1)?, taker);
    [(0usize, 1usize), (1, 0)]
        .into_iter()
        .filter_map(|(long, short)| {
            let (l, s) = (schedules[long]?, schedules[short]?);
            Some(FundingRow {
                direction: format!("{}→{}", pair.legs[long].venue, pair.legs[short].venue),
                rate_bp: [l.rate * 10_000.0, s.rate * 10_000.0],
                interval_h: [l.interval_hours, s.interval_hours],
                next_min: [l, s].map(|x| x.next_ms.saturating_sub(now_ms) as f64 / 60_000.0),
                apr_pct: [l.apr_pct(), s.apr_pct()],
                round_trip_bp: round_trip,
                trade: trade(&l, &s, round_trip, now_ms, engine.config().funding_horizon_ms),
            })
        })
        .max_by(|a, b| a.trade.net_carry_bp.total_cmp(&b.trade.net_carry_bp))
}

/// Runs the live loop with the dashboard until `shutdown` or the user quits.
pub async fn run(
    config: LiveConfig,
    shutdown: impl Future<Output = ()>,
    mut signals: Signals,
    outputs: &mut crate::outputs::Outputs,
    funding: Option<crate::funding_refresh::FundingRefresh>,
) -> anyhow::Result<(Live, Signals)> {
    let mut board = Dashboard::new(&signals);
    board.streams = config.health.clone();
    let dashboard = Arc::new(Mutex::new(board));
    let (quit_tx, quit_rx) = tokio::sync::oneshot::channel::<()>();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let renderer = {
        let (dashboard, stop) = (dashboard.clone(), stop.clone());
        std::thread::spawn(move || render_loop(&dashboard, &stop, quit_tx))
    };
    let combined = async {
        tokio::select! {
            _ = shutdown => {}
            _ = quit_rx => {}
        }
    };
    let board = dashboard.clone();
    let observer = crate::outputs::MonitorObserver::new(&mut signals, outputs, |pipeline, signals, events| {
        if let Ok(mut board) = board.lock() {
            board.update(pipeline, signals, events);
        }
        events.clear();
    })
    .with_funding_refresh(funding);
    let live = run_live_observed(config, combined, observer).await;
    let mut events = Vec::new();
    signals.engine.shutdown(perpspread_net::rest::unix_ns(), &mut events);
    outputs.on_events(&events);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = renderer.join();
    Ok((live, signals))
}

fn render_loop(
    dashboard: &Mutex<Dashboard>,
    stop: &std::sync::atomic::AtomicBool,
    quit: tokio::sync::oneshot::Sender<()>,
) {
    let mut terminal = ratatui::init();
    let mut quit = Some(quit);
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        if let Ok(mut board) = dashboard.lock() {
            board.now_ns = perpspread_net::ws::now().mono_ns;
            let _ = terminal.draw(|frame| render(frame, &board));
        }
        if event::poll(Duration::from_millis(100)).unwrap_or(false) {
            if let Ok(Event::Key(key)) = event::read() {
                let wants_quit = key.kind == KeyEventKind::Press
                    && dashboard.lock().map(|mut b| b.on_key(key.code)).unwrap_or(false);
                if wants_quit {
                    if let Some(quit) = quit.take() {
                        let _ = quit.send(());
                    }
                }
            }
        }
    }
    ratatui::restore();
}

#[cfg(test)]
mod tests;

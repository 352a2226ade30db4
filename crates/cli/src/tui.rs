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
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table};
use ratatui::Frame;

use crate::commands::scan::price;

/// One pair's row.
#[derive(Debug, Clone, Default)]
pub struct PairRow {
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
pub struct FundingRow {
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
pub enum View {
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
pub enum SortBy {
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
pub struct Dashboard {
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
    pub fn on_key(&mut self, key: KeyCode) -> bool {
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

/// A delay as shown to the user: `6.1 ms`, or `n/a` when no message carried an exchange time.
pub(crate) fn delay_text(delay_ms: Option<f64>) -> String {
    delay_ms.map_or_else(|| "n/a".to_owned(), |ms| format!("{ms:.1} ms"))
}

fn opt(value: Option<f64>, digits: usize) -> String {
    value.map(|v| format!("{v:.digits$}")).unwrap_or_else(|| "-".into())
}

fn state_label(state: Option<BookState>) -> &'static str {
    state.map_or("-", BookState::as_str)
}

/// The spreads table: header and rows with their style.
fn spread_table(dashboard: &Dashboard) -> (Vec<String>, Vec<(Vec<String>, Style)>) {
    let mut header = vec![
        "PAIR".to_owned(),
        "BID/ASK leg1 (quote/base)".into(),
        "BID/ASK leg2".into(),
        "BEST DIR".into(),
        "GROSS bp".into(),
    ];
    header.extend(dashboard.sizes.iter().map(|s| format!("NET bp {s}")));
    header.extend([
        "MAX quote@open".into(),
        "CARRY bp".into(),
        "FUNDING in min".into(),
        "BOOKS".into(),
        "LAT ms".into(),
    ]);
    let rows = dashboard
        .sorted_rows()
        .into_iter()
        .map(|r| {
            let mut cells = vec![
                r.pair.clone(),
                format!("{} {}/{}", r.venues[0], opt_price(r.bid[0]), opt_price(r.ask[0])),
                format!("{} {}/{}", r.venues[1], opt_price(r.bid[1]), opt_price(r.ask[1])),
                r.suppressed.map(|s| format!("({s})")).unwrap_or_else(|| r.direction.clone()),
                opt(r.gross_bp, 2),
            ];
            cells.extend(r.net_bp.iter().map(|n| opt(*n, 2)));
            cells.extend([
                opt(r.max_size_quote, 0),
                opt(r.carry_bp, 2),
                opt(r.next_funding_min, 0),
                format!("{}/{}", state_label(dashboard.shown_state(r, 0)), state_label(dashboard.shown_state(r, 1))),
                format!("{}/{}", opt(r.latency_ms[0], 0), opt(r.latency_ms[1], 0)),
            ]);
            let style = if r.best_net() > 0.0 {
                Style::default().fg(Color::Green).add_modifier(Modifier::BOLD)
            } else {
                Style::default()
            };
            (cells, style)
        })
        .collect();
    (header, rows)
}

/// The funding table: each pair's best funding trade over the horizon, net of its round trip at the first size,
/// best first.
fn funding_table(dashboard: &Dashboard) -> (Vec<String>, Vec<(Vec<String>, Style)>) {
    let header = [
        "PAIR",
        "LONG→SHORT",
        "RATE long/short bp",
        "EVERY long/short h",
        "NEXT long/short min",
        "APR long/short %",
        "APR DIFF %",
        "ROUND TRIP bp",
        "CARRY bp",
        "NET bp",
        "BREAK-EVEN h",
    ]
    .map(String::from)
    .to_vec();
    let mut rows: Vec<&PairRow> = dashboard.rows.iter().collect();
    let net = |r: &PairRow| r.funding.as_ref().map_or(f64::NEG_INFINITY, |f| f.trade.net_carry_bp);
    rows.sort_by(|a, b| net(b).total_cmp(&net(a)));
    let rows = rows
        .into_iter()
        .map(|r| {
            let cells = match &r.funding {
                Some(f) => vec![
                    r.pair.clone(),
                    f.direction.clone(),
                    format!("{:.3}/{:.3}", f.rate_bp[0], f.rate_bp[1]),
                    format!("{}/{}", f.interval_h[0], f.interval_h[1]),
                    format!("{:.0}/{:.0}", f.next_min[0], f.next_min[1]),
                    format!("{:.2}/{:.2}", f.apr_pct[0], f.apr_pct[1]),
                    format!("{:.2}", f.trade.apr_diff_pct),
                    format!("{:.2}", f.round_trip_bp),
                    format!("{:.2}", f.trade.carry_bp),
                    format!("{:.2}", f.trade.net_carry_bp),
                    opt(f.trade.break_even_h, 1),
                ],
                None => {
                    let mut cells = vec![r.pair.clone(), "(funding or quotes not known yet)".into()];
                    cells.resize(11, "-".into());
                    cells
                }
            };
            let positive = r.funding.as_ref().is_some_and(|f| f.trade.net_carry_bp > 0.0);
            let style = if positive {
                Style::default().fg(Color::Green).add_modifier(Modifier::BOLD)
            } else {
                Style::default()
            };
            (cells, style)
        })
        .collect();
    (header, rows)
}

/// Draws the dashboard.
pub fn render(frame: &mut Frame, dashboard: &Dashboard) {
    let [table_area, open_area, closed_area, status_area] =
        Layout::vertical([Constraint::Min(6), Constraint::Length(8), Constraint::Length(7), Constraint::Length(1)])
            .areas(frame.area());

    let (header, rows, title) = match dashboard.view {
        View::Spreads => {
            let (header, rows) = spread_table(dashboard);
            (header, rows, " executable spreads, net of taker fees on every leg (best direction) ".to_owned())
        }
        View::Funding => {
            let (header, rows) = funding_table(dashboard);
            let title = format!(
                " funding trades: carry over {} h (each leg on its own schedule, current rates persisting), net of the round trip at the first size ",
                dashboard.horizon_h
            );
            (header, rows, title)
        }
    };
    // Size columns to their content so no figure is ever cut.
    let widths: Vec<Constraint> = (0..header.len())
        .map(|i| {
            let content = rows.iter().map(|(cells, _)| cells[i].chars().count()).max().unwrap_or(0);
            Constraint::Length(content.max(header[i].chars().count()) as u16)
        })
        .collect();
    let rows = rows.into_iter().map(|(cells, style)| Row::new(cells).style(style));
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(Style::default().add_modifier(Modifier::BOLD)))
        .block(Block::default().borders(Borders::ALL).title(title));
    frame.render_widget(table, table_area);

    let open_lines: Vec<Line> = dashboard
        .open
        .iter()
        .map(|o| {
            Line::from(format!(
                "#{} {} {} size {} base ({:.0} {})  net {:.2} bp  peak {:.2} bp  open for {:.1} s  confidence {:.2}",
                o.id,
                o.pair,
                o.direction,
                o.size_base.normalize(),
                o.size_quote,
                o.quote_currency(),
                o.net_bp,
                o.peak_net_bp,
                o.duration_ms / 1000.0,
                o.confidence
            ))
        })
        .collect();
    let open = Paragraph::new(open_lines).block(
        Block::default().borders(Borders::ALL).title(format!(" open opportunities ({}) ", dashboard.open.len())),
    );
    frame.render_widget(open, open_area);

    let closed_lines: Vec<Line> = dashboard
        .closed
        .iter()
        .take(5)
        .map(|o| {
            Line::from(format!(
                "#{} {} {} @{} {}  lasted {:.1} s  peak {:.2} bp  mean {:.2} bp  max {:.0} {}  ({})",
                o.id,
                o.pair,
                o.direction,
                target_label(&o.size_target),
                o.quote_currency(),
                o.duration_ms / 1000.0,
                o.peak_net_bp,
                o.mean_net_bp,
                o.max_size_quote,
                o.quote_currency(),
                o.close_reason.map(|reason| reason.to_string()).unwrap_or_default()
            ))
        })
        .collect();
    let closed = Paragraph::new(closed_lines).block(Block::default().borders(Borders::ALL).title(" recently closed "));
    frame.render_widget(closed, closed_area);

    let uptime = dashboard.started.elapsed().as_secs();
    let status = format!(
        " {:.0} msg/s | {} msgs | resyncs {} | gaps {} | {} | min delay {} | up {:02}:{:02}:{:02} | sort: {}{}{}{} | q quit · p pause · s sort · f filter · e venue · v view",
        dashboard.rate,
        dashboard.messages,
        dashboard.resyncs,
        dashboard.gaps,
        if dashboard.protection.is_empty() { "books: -" } else { dashboard.protection.as_str() },
        delays_text(&dashboard.min_delay_ms),
        uptime / 3600,
        uptime / 60 % 60,
        uptime % 60,
        dashboard.sort.label(),
        if dashboard.only_positive { " | filter: net>0" } else { "" },
        dashboard.venue_filter.map(|v| format!(" | venue: {v}")).unwrap_or_default(),
        if dashboard.paused { " | PAUSED" } else { "" },
    );
    let (status, colour) = match silent_text(&dashboard.streams.silent()) {
        Some(silent) => (format!(" {silent} |{status}"), Color::Red),
        None => (status, Color::Cyan),
    };
    frame.render_widget(Paragraph::new(status).style(Style::default().fg(colour)), status_area);
}

/// What protects each venue's books so far (each feed says: OKX its `seqId` chain, plus CRC32 when checksums are
/// sent; Binance its `U`/`u`/`pu` chain).
pub(crate) fn protection(pipeline: &Pipeline) -> String {
    Venue::ALL.map(|venue| format!("{venue} {}", pipeline.feed(venue).integrity())).join(", ")
}

/// The lowest exchange→receive delay of each venue, for the status line (`okx 3.1 ms, binance 2.4 ms`).
pub(crate) fn delays_text(delays: &VenueMap<Option<f64>>) -> String {
    delays.entries().map(|(venue, ms)| format!("{venue} {}", delay_text(*ms))).collect::<Vec<_>>().join(", ")
}

/// `SILENT binance funding 45 s, …` for the status line, when any subscribed stream delivers nothing.
pub(crate) fn silent_text(silent: &[perpspread_core::health::SilentStream]) -> Option<String> {
    if silent.is_empty() {
        return None;
    }
    let streams: Vec<String> =
        silent.iter().map(|s| format!("{} {} {:.0} s", s.venue, s.stream, s.silent_for.as_secs_f64())).collect();
    Some(format!("SILENT {}", streams.join(", ")))
}

fn target_label(target: &perpspread_core::spread::SizeTarget) -> String {
    match target {
        perpspread_core::spread::SizeTarget::Quote(q) => q.normalize().to_string(),
        perpspread_core::spread::SizeTarget::Base(b) => format!("{} base", b.normalize()),
    }
}

fn opt_price(value: Option<f64>) -> String {
    value.map(price).unwrap_or_else(|| "-".into())
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
mod tests {
    use super::*;
    use perpspread_core::engine::{Engine, EngineConfig};
    use perpspread_core::testkit;
    use perpspread_core::Venue;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    #[test]
    fn summary_delays_say_their_unit_or_that_there_is_none() {
        assert_eq!(delay_text(Some(6.14)), "6.1 ms");
        assert_eq!(delay_text(None), "n/a");
    }

    fn signals() -> Signals {
        let leg = |venue, symbol: &str| testkit::instrument(venue, symbol, "BTC", "USDT").base_per_qty("0.01").build();
        let pair = testkit::pair(leg(Venue::Okx, "BTC-USDT-SWAP"), leg(Venue::Binance, "BTCUSDT"));
        Signals::new(Engine::new(EngineConfig::default(), vec![pair]))
    }

    #[test]
    fn renders_rows_opportunities_and_status() {
        let signals = signals();
        let mut board = Dashboard::new(&signals);
        board.rows[0].bid = [Some(64999.9), Some(65010.0)];
        board.rows[0].ask = [Some(65000.0), Some(65010.1)];
        board.rows[0].state = [Some(BookState::Live), Some(BookState::Resyncing)];
        board.rows[0].net_bp = vec![Some(1.5), Some(-0.5), None];
        board.rows[0].direction = "okx→binance".into();
        board.messages = 1234;
        board.resyncs = 2;
        assert_eq!(board.sizes, ["1k", "10k", "100k"]);
        let mut terminal = Terminal::new(TestBackend::new(200, 30)).unwrap();
        terminal.draw(|frame| render(frame, &board)).unwrap();
        let screen: String = terminal.backend().buffer().content().iter().map(|c| c.symbol()).collect();
        for expected in [
            "BTC/USDT",
            "okx 64999.9/65000",
            "binance 65010/65010.1",
            "okx→binance",
            "1.50",
            "live/resync",
            "NET bp 10k",
            "1234 msgs",
            "resyncs 2",
            "q quit",
        ] {
            assert!(screen.contains(expected), "missing {expected:?} in\n{screen}");
        }
        // Six seconds without an update: a live book is shown stale (the engine's 5 s guard).
        board.rows[0].updated_ns = [1_000_000_000, 7_000_000_000];
        board.now_ns = 7_000_000_000;
        terminal.draw(|frame| render(frame, &board)).unwrap();
        let screen: String = terminal.backend().buffer().content().iter().map(|c| c.symbol()).collect();
        assert!(screen.contains("stale/resync"), "{screen}");
        assert!(board.on_key(KeyCode::Char('q')));
        assert!(!board.on_key(KeyCode::Char('s')));
        assert_eq!(board.sort, SortBy::Pair);
    }

    /// `e` cycles the venue filter through every venue and back to all; a pair shows while one of its legs is
    /// on the chosen venue.
    #[test]
    fn the_venue_filter_cycles_through_the_venues() {
        let mut board = Dashboard::new(&signals());
        assert_eq!(board.sorted_rows().len(), 1);
        for venue in Venue::ALL {
            board.on_key(KeyCode::Char('e'));
            assert_eq!(board.venue_filter, Some(venue));
            let listed = board.rows[0].venues.iter().any(|v| v == venue.as_str());
            assert_eq!(board.sorted_rows().len(), usize::from(listed), "{venue}");
        }
        board.rows[0].venues = ["x".into(), "y".into()];
        board.on_key(KeyCode::Char('e'));
        assert_eq!(board.venue_filter, None);
        assert_eq!(board.sorted_rows().len(), 1);
        board.on_key(KeyCode::Char('e'));
        assert!(board.sorted_rows().is_empty(), "no leg on the chosen venue");
    }

    #[test]
    fn the_funding_view_shows_the_best_trade_of_each_pair() {
        use perpspread_core::funding::{round_trip_bp, trade, FundingSchedule};
        let mut board = Dashboard::new(&signals());
        let h = 3_600_000;
        let (long, short) = (
            FundingSchedule { rate: 0.0001, interval_hours: 8, next_ms: 10 * h },
            FundingSchedule { rate: 0.0001, interval_hours: 4, next_ms: 10 * h },
        );
        let round_trip = round_trip_bp(-1.0, -1.0, 10.0);
        board.rows[0].funding = Some(FundingRow {
            direction: "okx→binance".into(),
            rate_bp: [1.0, 1.0],
            interval_h: [8, 4],
            next_min: [60.0, 60.0],
            apr_pct: [long.apr_pct(), short.apr_pct()],
            round_trip_bp: round_trip,
            trade: trade(&long, &short, round_trip, 9 * h, 72 * h),
        });
        assert!(!board.on_key(KeyCode::Char('v')));
        assert_eq!(board.view, View::Funding);
        let mut terminal = Terminal::new(TestBackend::new(220, 30)).unwrap();
        terminal.draw(|frame| render(frame, &board)).unwrap();
        let screen: String = terminal.backend().buffer().content().iter().map(|c| c.symbol()).collect();
        // 72 h: the 4-hourly short settles 18 times, the 8-hourly long 9: 9 bp carry, round trip 22 bp.
        for expected in ["funding trades", "okx→binance", "8/4", "10.95/21.90", "22.00", "9.00", "-13.00", "v view"] {
            assert!(screen.contains(expected), "missing {expected:?} in\n{screen}");
        }
        board.on_key(KeyCode::Char('v'));
        assert_eq!(board.view, View::Spreads);
    }

    #[test]
    fn a_silent_stream_is_named_on_the_status_line() {
        use perpspread_core::health::{SilentStream, StreamKind};
        let board = Dashboard::new(&signals());
        let mut terminal = Terminal::new(TestBackend::new(220, 30)).unwrap();
        terminal.draw(|frame| render(frame, &board)).unwrap();
        let screen: String = terminal.backend().buffer().content().iter().map(|c| c.symbol()).collect();
        assert!(!screen.contains("SILENT"), "{screen}");
        board.streams.set(vec![SilentStream {
            venue: Venue::Binance,
            stream: StreamKind::Funding,
            url: "wss://fstream.binance.com/public/stream".into(),
            connection: 3,
            silent_for: Duration::from_secs(45),
            repairs: 1,
        }]);
        terminal.draw(|frame| render(frame, &board)).unwrap();
        let screen: String = terminal.backend().buffer().content().iter().map(|c| c.symbol()).collect();
        assert!(screen.contains("SILENT binance funding 45 s"), "{screen}");
    }
}

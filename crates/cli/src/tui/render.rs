//! Drawing the dashboard: the spread and funding tables, the status lines, one frame.

use perpspread_core::feed::BookState;
use perpspread_core::{Venue, VenueMap};
use perpspread_stream::Pipeline;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table};
use ratatui::Frame;

use super::*;

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

//! PNG charts for `perpspread report --plot DIR` and `--html FILE` (cargo feature `plot`, on by default).
//!
//! From a replay ([`replay_charts`], from the [`crate::timeline`]s): `spread-<BASE>_<QUOTE>-<buy>-<sell>.png`
//! per pair of venues (the 12 with the most opportunities), `latency.png`, `book-health.png` and
//! `durations.png`. From `--out-dir` files ([`file_charts`]): `spread-<BASE>_<QUOTE>.png` per pair — best net bp
//! per direction over time from spread snapshots when available, else each opportunity's peak net bp at its
//! open time — and `durations.png`. `durations.png` only when there are opportunities.
//!
//! Pure Rust (plotters' bitmap backend, PNG via the `png` crate); text is drawn with `ab_glyph` from a
//! TrueType font found at run time — `PERPSPREAD_FONT`, else DejaVu Sans / Liberation Sans in the usual
//! system locations. Without any font the charts are drawn without text.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::prelude::*;

use perpspread_core::time::rfc3339;
use perpspread_core::{Direction, Venue};
use perpspread_sinks::files::{OpportunityRecord, SnapshotRecord};

use crate::timeline::{PairTimeline, Series, Timelines, HEALTH_STATES, LATENCY_BINS_MS};

/// Plotting errors.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: drawing failed: {message}")]
    Draw { path: PathBuf, message: String },
    #[error("{path}: PNG encoding failed: {message}")]
    Png { path: PathBuf, message: String },
}

/// Chart settings.
#[derive(Debug, Clone, Copy)]
pub struct PlotOptions {
    /// Spread charts for at most this many pairs (most opportunities first).
    pub max_pairs: usize,
    pub width: u32,
    pub height: u32,
}

impl Default for PlotOptions {
    fn default() -> Self {
        PlotOptions { max_pairs: 12, width: 1200, height: 600 }
    }
}

const FONT_CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "/Library/Fonts/Arial.ttf",
];

/// Registers a font for text once; returns whether text can be drawn.
pub(crate) fn text_available() -> bool {
    static FONT: OnceLock<bool> = OnceLock::new();
    *FONT.get_or_init(|| {
        let from_env = std::env::var_os("PERPSPREAD_FONT").map(PathBuf::from);
        let candidates = from_env.into_iter().chain(FONT_CANDIDATES.iter().map(PathBuf::from));
        for path in candidates {
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            // Registered fonts must live for the whole process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                tracing::debug!(font = %path.display(), "chart font");
                return true;
            }
        }
        tracing::warn!("no TrueType font found (set PERPSPREAD_FONT): charts are drawn without text");
        false
    })
}

/// Writes the charts of opportunity files into `dir` (created if missing); returns the files written.
pub fn write_plots(
    dir: &Path,
    records: &[OpportunityRecord],
    snapshots: Option<&[SnapshotRecord]>,
    options: &PlotOptions,
) -> Result<Vec<PathBuf>, PlotError> {
    write_charts(dir, &file_charts(records, snapshots, options)?)
}

/// The charts of opportunity files (no books to replay): per pair the best net of each sampled snapshot
/// (`spreads-*` files) or each opportunity's peak at its open time, and the durations.
pub fn file_charts(
    records: &[OpportunityRecord],
    snapshots: Option<&[SnapshotRecord]>,
    options: &PlotOptions,
) -> Result<Vec<Chart>, PlotError> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in records {
        *counts.entry(r.pair.as_str()).or_default() += 1;
    }
    if let Some(snapshots) = snapshots {
        for s in snapshots {
            counts.entry(s.pair.as_str()).or_default();
        }
    }
    let mut pairs: Vec<(&str, usize)> = counts.into_iter().collect();
    pairs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    pairs.truncate(options.max_pairs);
    let mut charts = Vec::new();
    for (pair, _) in pairs {
        let series = spread_series(pair, records, snapshots);
        if series.values().all(Vec::is_empty) {
            continue;
        }
        let file_name = format!("spread-{}.png", pair.replace(['/', '\\', ':'], "_"));
        let title = format!("{pair}: net spread (bp)");
        let png = render_png_bytes(options, |area| draw_spread(area, &title, &series, snapshots.is_some()))
            .map_err(|message| PlotError::Draw { path: PathBuf::from(&file_name), message })?;
        charts.push(Chart { file_name, title, png });
    }
    charts.extend(durations_chart(records, options)?);
    Ok(charts)
}

/// Per direction: `(ts_ns, net_bp)` points.
fn spread_series(
    pair: &str,
    records: &[OpportunityRecord],
    snapshots: Option<&[SnapshotRecord]>,
) -> BTreeMap<String, Vec<(u64, f64)>> {
    let mut series: BTreeMap<String, Vec<(u64, f64)>> = BTreeMap::new();
    match snapshots {
        Some(rows) => {
            let mut best: BTreeMap<(String, u64), f64> = BTreeMap::new();
            for row in rows.iter().filter(|r| r.pair == pair) {
                if let Some(net) = row.net_bp {
                    let entry = best.entry((row.direction.clone(), row.ts_ns)).or_insert(f64::NEG_INFINITY);
                    *entry = entry.max(net);
                }
            }
            for ((direction, ts), net) in best {
                series.entry(direction).or_default().push((ts, net));
            }
        }
        None => {
            for r in records.iter().filter(|r| r.pair == pair) {
                series.entry(r.direction.clone()).or_default().push((r.opened_ns, r.peak_net_bp));
            }
            for points in series.values_mut() {
                points.sort_by_key(|p| p.0);
            }
        }
    }
    series
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

const COLORS: [RGBColor; 4] =
    [RGBColor(31, 119, 180), RGBColor(214, 39, 40), RGBColor(44, 160, 44), RGBColor(148, 103, 189)];

fn draw_spread(
    area: &Area<'_>,
    title: &str,
    series: &BTreeMap<String, Vec<(u64, f64)>>,
    lines: bool,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    area.fill(&WHITE).map_err(err)?;
    let text = text_available();
    let points = series.values().flatten();
    let t0 = points.clone().map(|p| p.0).min().unwrap_or(0);
    let t1 = points.clone().map(|p| p.0).max().unwrap_or(0).max(t0 + 1_000_000_000);
    let (mut y0, mut y1) = points.fold((0.0f64, 0.0f64), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    let pad = ((y1 - y0) * 0.05).max(0.5);
    (y0, y1) = (y0 - pad, y1 + pad);
    // Minutes for spans under two hours, hours beyond.
    let (unit_ns, unit) = if t1 - t0 < 7_200_000_000_000 { (6e10, "minutes") } else { (3.6e12, "hours") };
    let hours = |ts: u64| (ts - t0) as f64 / unit_ns;
    let mut builder = ChartBuilder::on(area);
    builder.margin(10);
    if text {
        builder.caption(title, ("sans-serif", 22)).x_label_area_size(40).y_label_area_size(60);
    }
    let mut chart = builder.build_cartesian_2d(0.0..hours(t1), y0..y1).map_err(err)?;
    let mut mesh = chart.configure_mesh();
    if text {
        mesh.x_desc(format!("{unit} since {}", rfc3339(t0))).y_desc("net bp");
    } else {
        mesh.x_labels(0).y_labels(0);
    }
    mesh.draw().map_err(err)?;
    chart.draw_series(LineSeries::new([(0.0, 0.0), (hours(t1), 0.0)], BLACK.mix(0.4))).map_err(err)?;
    for (index, (direction, points)) in series.iter().enumerate() {
        let color = COLORS[index % COLORS.len()];
        let xy: Vec<(f64, f64)> = points.iter().map(|&(ts, net)| (hours(ts), net)).collect();
        let drawn = if lines {
            chart.draw_series(LineSeries::new(xy, color.stroke_width(1))).map_err(err)?
        } else {
            chart.draw_series(xy.into_iter().map(|p| Circle::new(p, 3, color.filled()))).map_err(err)?
        };
        if text {
            drawn.label(direction.clone()).legend(swatch(color));
        }
    }
    if text {
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(err)?;
    }
    Ok(())
}

/// Duration bins (seconds): upper edges; the last bin is open-ended.
const BINS: [f64; 11] = [0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, f64::INFINITY];

fn draw_durations(area: &Area<'_>, durations: &[f64]) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    area.fill(&WHITE).map_err(err)?;
    let text = text_available();
    let mut counts = [0u32; BINS.len()];
    for d in durations {
        let bin = BINS.iter().position(|edge| d <= edge).unwrap_or(BINS.len() - 1);
        counts[bin] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(0).max(1);
    let mut builder = ChartBuilder::on(area);
    builder.margin(10);
    if text {
        builder.caption("opportunity durations", ("sans-serif", 22)).x_label_area_size(40).y_label_area_size(60);
    }
    let mut chart = builder
        .build_cartesian_2d((0u32..BINS.len() as u32).into_segmented(), 0u32..top + top / 10 + 1)
        .map_err(err)?;
    let mut mesh = chart.configure_mesh();
    let label = |v: &SegmentValue<u32>| match v {
        SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => match BINS.get(*i as usize) {
            Some(edge) if edge.is_finite() => format!("≤{edge}s"),
            Some(_) => format!(">{}s", BINS[BINS.len() - 2]),
            None => String::new(),
        },
        SegmentValue::Last => String::new(),
    };
    if text {
        mesh.x_label_formatter(&label).x_labels(BINS.len()).y_desc("opportunities").disable_x_mesh();
    } else {
        mesh.x_labels(0).y_labels(0);
    }
    mesh.draw().map_err(err)?;
    chart
        .draw_series(
            Histogram::vertical(&chart)
                .style(COLORS[0].filled())
                .margin(4)
                .data(counts.iter().enumerate().map(|(i, c)| (i as u32, *c))),
        )
        .map_err(err)?;
    Ok(())
}

/// The charts of a replay, each as PNG bytes with its file name and title: per pair (most opportunities first)
/// its best net spread per direction over time with min/max bands, the open threshold and the opportunities
/// shaded (funding carry in a second panel when the capture has funding); the latency histogram per venue;
/// the books' health over time; the opportunity durations.
pub fn replay_charts(
    timelines: &Timelines,
    records: &[OpportunityRecord],
    options: &PlotOptions,
) -> Result<Vec<Chart>, PlotError> {
    let mut pairs: Vec<(&PairTimeline, usize)> = timelines
        .pairs
        .iter()
        .map(|p| {
            (
                p,
                records
                    .iter()
                    .filter(|r| r.pair == p.pair && p.directions.iter().any(|d| d.0.as_str() == r.direction))
                    .count(),
            )
        })
        .filter(|(p, _)| p.directions.iter().any(|d| !d.1.is_empty()))
        .collect();
    pairs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.pair.cmp(&b.0.pair)));
    pairs.truncate(options.max_pairs);
    let mut charts = Vec::new();
    for (pair, _) in pairs {
        let first = pair.directions[0].0;
        let venues = format!("{}-{}", first.buy, first.sell);
        let name = format!("spread-{}-{venues}.png", pair.pair.replace(['/', '\\', ':'], "_"));
        let title = format!("{} ({venues}): best net spread over the evaluated sizes, bp", pair.pair);
        let opportunities: Vec<&OpportunityRecord> = records
            .iter()
            .filter(|r| r.pair == pair.pair && pair.directions.iter().any(|d| d.0.as_str() == r.direction))
            .collect();
        let bytes =
            render_png_bytes(options, |area| draw_pair_timeline(area, &title, pair, &opportunities, timelines.open_bp))
                .map_err(|message| PlotError::Draw { path: PathBuf::from(&name), message })?;
        charts.push(Chart { file_name: name, title, png: bytes });
    }
    if !timelines.latency.is_empty() {
        let title = "exchange → receive latency per venue (book messages)".to_owned();
        let png = render_png_bytes(options, |area| draw_latency(area, &title, &timelines.latency))
            .map_err(|message| PlotError::Draw { path: PathBuf::from("latency.png"), message })?;
        charts.push(Chart { file_name: "latency.png".into(), title, png });
    }
    if !timelines.health.is_empty() {
        let title = "book health per venue over time".to_owned();
        let png = render_png_bytes(options, |area| draw_health(area, &title, &timelines.health))
            .map_err(|message| PlotError::Draw { path: PathBuf::from("book-health.png"), message })?;
        charts.push(Chart { file_name: "book-health.png".into(), title, png });
    }
    charts.extend(durations_chart(records, options)?);
    Ok(charts)
}

/// The histogram of opportunity durations (none without opportunities).
fn durations_chart(records: &[OpportunityRecord], options: &PlotOptions) -> Result<Option<Chart>, PlotError> {
    if records.is_empty() {
        return Ok(None);
    }
    let durations: Vec<f64> = records.iter().map(|r| r.duration_ms / 1e3).collect();
    let png = render_png_bytes(options, |area| draw_durations(area, &durations))
        .map_err(|message| PlotError::Draw { path: PathBuf::from("durations.png"), message })?;
    Ok(Some(Chart { file_name: "durations.png".into(), title: "opportunity durations".into(), png }))
}

/// One chart, encoded.
#[derive(Debug, Clone)]
pub struct Chart {
    pub file_name: String,
    pub title: String,
    pub png: Vec<u8>,
}

/// Writes charts into `dir` (created if missing); returns the files written.
pub fn write_charts(dir: &Path, charts: &[Chart]) -> Result<Vec<PathBuf>, PlotError> {
    std::fs::create_dir_all(dir).map_err(|source| PlotError::Io { path: dir.to_owned(), source })?;
    charts
        .iter()
        .map(|chart| {
            let path = dir.join(&chart.file_name);
            std::fs::write(&path, &chart.png).map_err(|source| PlotError::Io { path: path.clone(), source })?;
            Ok(path)
        })
        .collect()
}

fn render_png_bytes(
    options: &PlotOptions,
    draw: impl FnOnce(&Area<'_>) -> Result<(), String>,
) -> Result<Vec<u8>, String> {
    let (w, h) = (options.width.clamp(200, 8000), options.height.clamp(150, 8000));
    let mut buffer = vec![255u8; w as usize * h as usize * 3];
    {
        let area = BitMapBackend::with_buffer(&mut buffer, (w, h)).into_drawing_area();
        draw(&area)?;
        area.present().map_err(|e| e.to_string())?;
    }
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(&buffer).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(png)
}

/// A chart over `f64` × `f64` (time or bins × values).
type Chart2d<'a, 'b> = ChartContext<
    'a,
    BitMapBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// The legend of a chart's labelled series.
fn legend<'b>(chart: &mut Chart2d<'b, 'b>, position: SeriesLabelPosition) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())
}

/// A legend swatch in `color`.
fn swatch(color: RGBColor) -> impl Fn((i32, i32)) -> Rectangle<(i32, i32)> {
    move |(x, y)| Rectangle::new([(x, y - 4), (x + 14, y + 4)], color.filled())
}

/// Wall-clock labels for seconds since `t0_ns`: `HH:MM:SS.mmm` under a minute, `HH:MM:SS` within a day,
/// `MM-DD HH:MM` beyond.
fn time_label(t0_ns: u64, span_s: f64) -> impl Fn(&f64) -> String {
    move |seconds: &f64| {
        let ns = t0_ns.saturating_add((seconds.max(0.0) * 1e9).round() as u64);
        let text = rfc3339(ns); // YYYY-MM-DDTHH:MM:SSZ
        if span_s < 60.0 {
            format!("{}.{:03}", &text[11..19], ns % 1_000_000_000 / 1_000_000)
        } else if span_s < 86_400.0 {
            text[11..19].to_owned()
        } else {
            format!("{} {}", &text[5..10], &text[11..16])
        }
    }
}

fn time_range<'a>(series: impl Iterator<Item = &'a Series>) -> Option<(u64, u64)> {
    let mut range: Option<(u64, u64)> = None;
    for s in series {
        for (start, _) in s.points() {
            let end = start + s.step_ns();
            range = Some(range.map_or((start, end), |(a, b)| (a.min(start), b.max(end))));
        }
    }
    range
}

fn draw_pair_timeline(
    area: &Area<'_>,
    title: &str,
    pair: &PairTimeline,
    opportunities: &[&OpportunityRecord],
    open_bp: Option<f64>,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    area.fill(&WHITE).map_err(err)?;
    let has_carry = pair.directions.iter().any(|d| !d.2.is_empty());
    let (top, bottom) =
        if has_carry { area.split_vertically(area.dim_in_pixel().1 * 2 / 3) } else { (area.clone(), area.clone()) };
    let Some((t0, t1)) = time_range(pair.directions.iter().flat_map(|d| [&d.1, &d.2])) else { return Ok(()) };
    let series: Vec<(&str, &Series)> = pair.directions.iter().map(|d| (d.0.as_str(), &d.1)).collect();
    draw_time_panel(&top, title, "net bp", (t0, t1), &series, open_bp, opportunities, &pair.directions)?;
    if has_carry {
        let carry: Vec<(&str, &Series)> = pair.directions.iter().map(|d| (d.0.as_str(), &d.2)).collect();
        draw_time_panel(
            &bottom,
            "funding carry over the horizon, bp",
            "carry bp",
            (t0, t1),
            &carry,
            None,
            &[],
            &pair.directions,
        )?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn draw_time_panel(
    area: &Area<'_>,
    title: &str,
    y_desc: &str,
    (t0, t1): (u64, u64),
    series: &[(&str, &Series)],
    threshold: Option<f64>,
    opportunities: &[&OpportunityRecord],
    directions: &[(Direction, Series, Series)],
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    let text = text_available();
    let span_s = (t1 - t0) as f64 / 1e9;
    let x = |ts: u64| ts.saturating_sub(t0) as f64 / 1e9;
    let values = series.iter().flat_map(|(_, s)| s.points()).flat_map(|(_, b)| [b.min, b.max]);
    let (mut y0, mut y1) = values.chain(threshold).fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let pad = ((y1 - y0) * 0.05).max(0.5);
    (y0, y1) = (y0 - pad, y1 + pad);
    let mut builder = ChartBuilder::on(area);
    builder.margin(10);
    if text {
        builder.caption(title, ("sans-serif", 20)).x_label_area_size(40).y_label_area_size(60);
    }
    let mut chart = builder.build_cartesian_2d(0.0..span_s.max(1e-3), y0..y1).map_err(err)?;
    let label = time_label(t0, span_s);
    let mut mesh = chart.configure_mesh();
    if text {
        mesh.x_label_formatter(&label)
            .x_desc(format!("UTC time ({})", &rfc3339(t0)[..10]))
            .y_desc(y_desc)
            .max_light_lines(2);
    } else {
        mesh.x_labels(0).y_labels(0);
    }
    mesh.draw().map_err(err)?;
    // Opportunities: the union of each direction's lifetimes (any size), shaded in the direction's colour.
    for (index, (direction, _, _)) in directions.iter().enumerate() {
        let color = COLORS[index % COLORS.len()];
        let spans: Vec<(u64, u64)> = opportunities
            .iter()
            .filter(|o| o.direction == direction.as_str())
            .map(|o| (o.opened_ns, o.closed_ns.unwrap_or(o.last_ns).max(o.opened_ns + 1)))
            .collect();
        let shades = crate::groups::union(spans)
            .into_iter()
            .map(|(a, b)| Rectangle::new([(x(a), y0), (x(b), y1)], color.mix(0.15).filled()));
        chart.draw_series(shades).map_err(err)?;
    }
    chart.draw_series(LineSeries::new([(0.0, 0.0), (span_s, 0.0)], BLACK.mix(0.4))).map_err(err)?;
    if let Some(threshold) = threshold {
        let line = DashedLineSeries::new([(0.0, threshold), (span_s, threshold)], 8, 6, BLACK.stroke_width(1));
        let drawn = chart.draw_series(line).map_err(err)?;
        if text {
            drawn
                .label(format!("open threshold {threshold} bp"))
                .legend(|(x, y)| PathElement::new([(x, y), (x + 14, y)], BLACK));
        }
    }
    for (index, (label, s)) in series.iter().enumerate() {
        let color = COLORS[index % COLORS.len()];
        let step = s.step_ns();
        // Min/max of each bucket as a band, the bucket's last value as the line.
        let bands = s
            .points()
            .filter(|(_, b)| b.max > b.min)
            .map(|(start, b)| Rectangle::new([(x(start), b.min), (x(start + step), b.max)], color.mix(0.3).filled()));
        chart.draw_series(bands).map_err(err)?;
        let line = s.points().map(|(start, b)| (x(start + step / 2), b.last));
        let drawn = chart.draw_series(LineSeries::new(line, color.stroke_width(1))).map_err(err)?;
        if text {
            let label = (*label).to_owned();
            drawn.label(label).legend(swatch(color));
        }
    }
    if text {
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    }
    Ok(())
}

fn draw_latency(area: &Area<'_>, title: &str, venues: &[(Venue, [u64; LATENCY_BINS_MS.len()])]) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    area.fill(&WHITE).map_err(err)?;
    let text = text_available();
    // Shares of each venue's messages, so venues of different volume compare.
    let shares: Vec<(Venue, Vec<f64>)> = venues
        .iter()
        .map(|(v, counts)| {
            let total = counts.iter().sum::<u64>().max(1) as f64;
            (*v, counts.iter().map(|c| *c as f64 / total * 100.0).collect())
        })
        .collect();
    let top = shares.iter().flat_map(|(_, s)| s.iter().copied()).fold(0.0, f64::max).max(1.0);
    let bins = LATENCY_BINS_MS.len();
    let mut builder = ChartBuilder::on(area);
    builder.margin(10);
    if text {
        builder.caption(title, ("sans-serif", 20)).x_label_area_size(40).y_label_area_size(60);
    }
    // Bin i is centred on x = i.
    let mut chart = builder.build_cartesian_2d(-0.5..bins as f64 - 0.5, 0.0..top * 1.1).map_err(err)?;
    let label = |x: &f64| {
        if (x - x.round()).abs() > 0.01 || *x < -0.01 {
            return String::new();
        }
        match x.round() as usize {
            0 => "< 0".to_owned(),
            i if i + 1 == bins => format!("> {}", LATENCY_BINS_MS[bins - 2]),
            i if i < bins => format!("{}–{}", LATENCY_BINS_MS[i - 1], LATENCY_BINS_MS[i]),
            _ => String::new(),
        }
    };
    let mut mesh = chart.configure_mesh();
    if text {
        mesh.x_labels(4 * bins)
            .x_label_formatter(&label)
            .x_desc("ms")
            .y_desc("% of the venue's book messages")
            .disable_x_mesh();
    } else {
        mesh.x_labels(0).y_labels(0);
    }
    mesh.draw().map_err(err)?;
    let width = 0.8 / shares.len().max(1) as f64;
    for (index, (venue, shares)) in shares.iter().enumerate() {
        let color = COLORS[index % COLORS.len()];
        let bars = shares.iter().enumerate().map(|(bin, share)| {
            let left = bin as f64 - 0.4 + index as f64 * width;
            Rectangle::new([(left, 0.0), (left + width, *share)], color.filled())
        });
        let drawn = chart.draw_series(bars).map_err(err)?;
        if text {
            drawn.label(venue.to_string()).legend(swatch(color));
        }
    }
    if text {
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(err)?;
    }
    Ok(())
}

fn draw_health(area: &Area<'_>, title: &str, venues: &[(Venue, [Series; 3])]) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    area.fill(&WHITE).map_err(err)?;
    let text = text_available();
    let Some((t0, t1)) = time_range(venues.iter().flat_map(|(_, series)| series.iter())) else { return Ok(()) };
    let span_s = (t1 - t0) as f64 / 1e9;
    let x = |ts: u64| ts.saturating_sub(t0) as f64 / 1e9;
    let area = if text { area.titled(title, ("sans-serif", 20)).map_err(err)? } else { area.clone() };
    // One panel per venue: Live, Stale and (re)syncing books over time.
    let colors = [RGBColor(44, 160, 44), RGBColor(255, 127, 14), RGBColor(214, 39, 40)];
    let panels = area.split_evenly((venues.len(), 1));
    for ((venue, series), panel) in venues.iter().zip(panels.iter()) {
        let top = series.iter().flat_map(Series::points).map(|(_, b)| b.max).fold(1.0, f64::max);
        let mut builder = ChartBuilder::on(panel);
        builder.margin(8);
        if text {
            builder
                .caption(format!("{venue}: books by state"), ("sans-serif", 16))
                .x_label_area_size(30)
                .y_label_area_size(50);
        }
        let mut chart = builder.build_cartesian_2d(0.0..span_s.max(1e-3), 0.0..top * 1.2).map_err(err)?;
        let label = time_label(t0, span_s);
        let mut mesh = chart.configure_mesh();
        if text {
            mesh.x_label_formatter(&label).y_desc("books").max_light_lines(1);
        } else {
            mesh.x_labels(0).y_labels(0);
        }
        mesh.draw().map_err(err)?;
        for ((series, color), state) in series.iter().zip(colors).zip(HEALTH_STATES) {
            let step = series.step_ns();
            // The worst of each bucket: fewest Live, most Stale or (re)syncing.
            let points: Vec<(f64, f64)> = series
                .points()
                .map(|(start, b)| (x(start + step / 2), if state == "live" { b.min } else { b.max }))
                .collect();
            let drawn = chart.draw_series(LineSeries::new(points, color.stroke_width(2))).map_err(err)?;
            if text {
                drawn.label(state).legend(swatch(color));
            }
        }
        if text {
            legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        }
    }
    Ok(())
}

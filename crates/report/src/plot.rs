//! PNG charts for `perpspread report --plot DIR` (cargo feature `plot`, on by default).
//!
//! * `spread-<BASE>_<QUOTE>.png` per pair (the pairs with the most opportunities): best net bp per
//!   direction over time from spread snapshots when available, else each opportunity's peak net bp at its
//!   open time;
//! * `durations.png`: histogram of opportunity durations.
//!
//! Pure Rust (plotters' bitmap backend, PNG via the `png` crate); text is drawn with `ab_glyph` from a
//! TrueType font found at run time — `PERPSPREAD_FONT`, else DejaVu Sans / Liberation Sans in the usual
//! system locations. Without any font the charts are drawn without text.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::prelude::*;

use perpspread_sinks::files::{OpportunityRecord, SnapshotRecord};
use perpspread_sinks::time::rfc3339;

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

/// Writes the charts into `dir` (created if missing); returns the files written.
pub fn write_plots(
    dir: &Path,
    records: &[OpportunityRecord],
    snapshots: Option<&[SnapshotRecord]>,
    options: &PlotOptions,
) -> Result<Vec<PathBuf>, PlotError> {
    std::fs::create_dir_all(dir).map_err(|source| PlotError::Io { path: dir.to_owned(), source })?;
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
    let mut written = Vec::new();
    for (pair, _) in pairs {
        let series = spread_series(pair, records, snapshots);
        if series.values().all(Vec::is_empty) {
            continue;
        }
        let path = dir.join(format!("spread-{}.png", pair.replace(['/', '\\', ':'], "_")));
        let title = format!("{pair}: net spread (bp)");
        render_png(&path, options, |area| draw_spread(area, &title, &series, snapshots.is_some()))?;
        written.push(path);
    }
    if !records.is_empty() {
        let path = dir.join("durations.png");
        let durations: Vec<f64> = records.iter().map(|r| r.duration_ms / 1e3).collect();
        render_png(&path, options, |area| draw_durations(area, &durations))?;
        written.push(path);
    }
    Ok(written)
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

fn render_png(
    path: &Path,
    options: &PlotOptions,
    draw: impl FnOnce(&Area<'_>) -> Result<(), String>,
) -> Result<(), PlotError> {
    let (w, h) = (options.width.clamp(200, 8000), options.height.clamp(150, 8000));
    let mut buffer = vec![255u8; w as usize * h as usize * 3];
    {
        let area = BitMapBackend::with_buffer(&mut buffer, (w, h)).into_drawing_area();
        draw(&area).map_err(|message| PlotError::Draw { path: path.to_owned(), message })?;
        area.present().map_err(|e| PlotError::Draw { path: path.to_owned(), message: e.to_string() })?;
    }
    let file = File::create(path).map_err(|source| PlotError::Io { path: path.to_owned(), source })?;
    let mut encoder = png::Encoder::new(BufWriter::new(file), w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let png_error = |e: png::EncodingError| PlotError::Png { path: path.to_owned(), message: e.to_string() };
    let mut writer = encoder.write_header().map_err(png_error)?;
    writer.write_image_data(&buffer).map_err(png_error)?;
    writer.finish().map_err(png_error)
}

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
            drawn
                .label(direction.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 14, y + 4)], color.filled()));
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

//! Files for analysis: closed opportunities and sampled spread snapshots as Parquet (default) or CSV,
//! rolled hourly.
//!
//! * `opportunities-YYYY-MM-DDTHH.parquet` — one row per **closed** opportunity with every lifecycle field
//!   ([`OPPORTUNITY_COLUMNS`]); the hour is the UTC hour of `closed_ns`.
//! * `spreads-YYYY-MM-DDTHH.parquet` — sampled [`SpreadSnapshot`]s in long form: one row per (snapshot,
//!   direction, size) ([`SNAPSHOT_COLUMNS`]); the hour is that of `ts_ns`.
//!
//! Parquet columns are typed: timestamps are `INT64 TIMESTAMP(NANOS, UTC)`, prices and bp `DOUBLE`, counts
//! `INT64`, labels `STRING`; optional fields are nullable; data is zstd-compressed. CSV files have the same
//! columns with a header line, timestamps as integer Unix ns, and empty cells for nulls.
//!
//! A file is written as `NAME.partial` and renamed to `NAME` when it is closed (hour rolled over,
//! [`FileSink::finish`], or drop), so every file under its final name is complete and readable; a crash
//! leaves at most one `.partial` per stream. An hour that already has a file (restart within the hour)
//! gets `NAME-1`, `NAME-2`, ….
//!
//! [`FileSink`] is synchronous; [`FileSinkHandle`] runs one on its own thread behind a bounded queue so
//! that encoding and disk writes never stall the market-data loop.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use parquet::basic::{Compression, LogicalType, Repetition, TimeUnit, Type as PhysicalType, ZstdLevel};
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::record::Field;
use parquet::schema::types::Type;
use perpspread_core::engine::{EventKind, Opportunity, OpportunityEvent};
use perpspread_core::spread::SizeTarget;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use crate::snapshot::SpreadSnapshot;
use crate::time::{hour_label, HOUR_NS};

/// File output errors.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: parquet: {source}")]
    Parquet { path: PathBuf, source: parquet::errors::ParquetError },
    #[error("{path}: {message}")]
    Schema { path: PathBuf, message: String },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> FileError + '_ {
    move |source| FileError::Io { path: path.to_owned(), source }
}

fn pq_error(path: &Path) -> impl FnOnce(parquet::errors::ParquetError) -> FileError + '_ {
    move |source| FileError::Parquet { path: path.to_owned(), source }
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    #[default]
    Parquet,
    Csv,
}

impl FileFormat {
    /// File extension.
    pub fn extension(self) -> &'static str {
        match self {
            FileFormat::Parquet => "parquet",
            FileFormat::Csv => "csv",
        }
    }
}

impl std::str::FromStr for FileFormat {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "parquet" => Ok(FileFormat::Parquet),
            "csv" => Ok(FileFormat::Csv),
            other => Err(format!("unknown file format {other:?} (expected parquet or csv)")),
        }
    }
}

/// Column types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// `INT64`.
    Int64,
    /// `DOUBLE`.
    Float64,
    /// `BYTE_ARRAY STRING`.
    Utf8,
    /// `INT64 TIMESTAMP(NANOS, isAdjustedToUTC = true)`.
    TimestampNs,
}

/// One column of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub kind: ColumnKind,
    pub nullable: bool,
}

const fn col(name: &'static str, kind: ColumnKind, nullable: bool) -> Column {
    Column { name, kind, nullable }
}

use ColumnKind::{Float64 as F, Int64 as I, TimestampNs as T, Utf8 as S};

/// Columns of `opportunities-*` files (the opportunity JSON fields, `size_target` split in two and
/// `close_reason` as its label: `below_threshold`, `not_executable`, `guard_<reason>`, `shutdown`).
pub const OPPORTUNITY_COLUMNS: &[Column] = &[
    col("id", I, false),
    col("pair", S, false),
    col("direction", S, false),
    col("buy_venue", S, false),
    col("sell_venue", S, false),
    col("buy_symbol", S, false),
    col("sell_symbol", S, false),
    col("size_target_unit", S, false),
    col("size_target_amount", F, false),
    col("opened_ns", T, false),
    col("last_ns", T, false),
    col("closed_ns", T, true),
    col("duration_ms", F, false),
    col("size_base", F, false),
    col("size_quote", F, false),
    col("buy_vwap", F, false),
    col("sell_vwap", F, false),
    col("gross_bp", F, false),
    col("fees_bp", F, false),
    col("net_bp", F, false),
    col("peak_net_bp", F, false),
    col("mean_net_bp", F, false),
    col("max_size_base", F, false),
    col("max_size_quote", F, false),
    col("updates", I, false),
    col("open_latency_buy_ms", F, true),
    col("open_latency_sell_ms", F, true),
    col("funding_carry_bp", F, true),
    col("confidence", F, false),
    col("close_reason", S, true),
];

/// Columns of `spreads-*` files: the snapshot's pair-level fields repeated on each of its quote rows (a
/// snapshot without any executable quote has one row with empty quote columns).
pub const SNAPSHOT_COLUMNS: &[Column] = &[
    col("ts_ns", T, false),
    col("pair", S, false),
    col("okx_bid", F, true),
    col("okx_ask", F, true),
    col("binance_bid", F, true),
    col("binance_ask", F, true),
    col("best_direction", S, true),
    col("best_net_bp", F, true),
    col("suppressed", S, true),
    col("direction", S, true),
    col("size_index", I, true),
    col("size_base", F, true),
    col("size_quote", F, true),
    col("buy_vwap", F, true),
    col("sell_vwap", F, true),
    col("gross_bp", F, true),
    col("fees_bp", F, true),
    col("net_bp", F, true),
    col("max_size_base", F, true),
    col("max_size_quote", F, true),
    col("buy_funding_bp_per_h", F, true),
    col("sell_funding_bp_per_h", F, true),
    col("funding_carry_bp", F, true),
    col("funding_horizon_h", F, false),
];

/// A cell value.
#[derive(Debug, Clone, PartialEq)]
enum Cell<'a> {
    I(Option<i64>),
    F(Option<f64>),
    S(Option<&'a str>),
}

/// A closed opportunity as one flat row (the `opportunities-*` file schema; also the report's input).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpportunityRecord {
    pub id: u64,
    pub pair: String,
    pub direction: String,
    pub buy_venue: String,
    pub sell_venue: String,
    pub buy_symbol: String,
    pub sell_symbol: String,
    /// `base` or `quote`.
    pub size_target_unit: String,
    pub size_target_amount: f64,
    pub opened_ns: u64,
    pub last_ns: u64,
    pub closed_ns: Option<u64>,
    pub duration_ms: f64,
    pub size_base: f64,
    pub size_quote: f64,
    pub buy_vwap: f64,
    pub sell_vwap: f64,
    pub gross_bp: f64,
    pub fees_bp: f64,
    pub net_bp: f64,
    pub peak_net_bp: f64,
    pub mean_net_bp: f64,
    pub max_size_base: f64,
    pub max_size_quote: f64,
    pub updates: u64,
    pub open_latency_buy_ms: Option<f64>,
    pub open_latency_sell_ms: Option<f64>,
    pub funding_carry_bp: Option<f64>,
    pub confidence: f64,
    pub close_reason: Option<String>,
}

impl OpportunityRecord {
    /// The row of an opportunity.
    pub fn from_opportunity(o: &Opportunity) -> Self {
        let dec = |d: rust_decimal::Decimal| d.to_f64().unwrap_or(f64::NAN);
        let (unit, amount) = match o.size_target {
            SizeTarget::Base(amount) => ("base", amount),
            SizeTarget::Quote(amount) => ("quote", amount),
        };
        OpportunityRecord {
            id: o.id,
            pair: o.pair.clone(),
            direction: o.direction.label(),
            buy_venue: o.buy_venue.as_str().to_owned(),
            sell_venue: o.sell_venue.as_str().to_owned(),
            buy_symbol: o.buy_symbol.clone(),
            sell_symbol: o.sell_symbol.clone(),
            size_target_unit: unit.to_owned(),
            size_target_amount: dec(amount),
            opened_ns: o.opened_ns,
            last_ns: o.last_ns,
            closed_ns: o.closed_ns,
            duration_ms: o.duration_ms,
            size_base: dec(o.size_base),
            size_quote: o.size_quote,
            buy_vwap: o.buy_vwap,
            sell_vwap: o.sell_vwap,
            gross_bp: o.gross_bp,
            fees_bp: o.fees_bp,
            net_bp: o.net_bp,
            peak_net_bp: o.peak_net_bp,
            mean_net_bp: o.mean_net_bp,
            max_size_base: dec(o.max_size_base),
            max_size_quote: o.max_size_quote,
            updates: o.updates,
            open_latency_buy_ms: o.open_latency_buy_ms,
            open_latency_sell_ms: o.open_latency_sell_ms,
            funding_carry_bp: o.funding_carry_bp,
            confidence: o.confidence,
            close_reason: o.close_reason.map(|reason| reason.as_str().to_owned()),
        }
    }

    /// The row of a `closed` event (`None` for `opened` / `updated`).
    pub fn from_closed_event(event: &OpportunityEvent) -> Option<Self> {
        (event.event == EventKind::Closed).then(|| Self::from_opportunity(&event.opportunity))
    }

    fn cells(&self) -> Vec<Cell<'_>> {
        let i = |v: u64| Cell::I(Some(i64::try_from(v).unwrap_or(i64::MAX)));
        let f = |v: f64| Cell::F(Some(v));
        fn s(v: &str) -> Cell<'_> {
            Cell::S(Some(v))
        }
        vec![
            i(self.id),
            s(&self.pair),
            s(&self.direction),
            s(&self.buy_venue),
            s(&self.sell_venue),
            s(&self.buy_symbol),
            s(&self.sell_symbol),
            s(&self.size_target_unit),
            f(self.size_target_amount),
            i(self.opened_ns),
            i(self.last_ns),
            Cell::I(self.closed_ns.map(|v| i64::try_from(v).unwrap_or(i64::MAX))),
            f(self.duration_ms),
            f(self.size_base),
            f(self.size_quote),
            f(self.buy_vwap),
            f(self.sell_vwap),
            f(self.gross_bp),
            f(self.fees_bp),
            f(self.net_bp),
            f(self.peak_net_bp),
            f(self.mean_net_bp),
            f(self.max_size_base),
            f(self.max_size_quote),
            i(self.updates),
            Cell::F(self.open_latency_buy_ms),
            Cell::F(self.open_latency_sell_ms),
            Cell::F(self.funding_carry_bp),
            f(self.confidence),
            Cell::S(self.close_reason.as_deref()),
        ]
    }

    /// Reads back a row of an `opportunities-*` Parquet file.
    fn from_fields(row: &parquet::record::Row) -> Result<Self, String> {
        let mut r = RowAccess::new(row);
        Ok(OpportunityRecord {
            id: r.u64("id")?,
            pair: r.string("pair")?,
            direction: r.string("direction")?,
            buy_venue: r.string("buy_venue")?,
            sell_venue: r.string("sell_venue")?,
            buy_symbol: r.string("buy_symbol")?,
            sell_symbol: r.string("sell_symbol")?,
            size_target_unit: r.string("size_target_unit")?,
            size_target_amount: r.f64("size_target_amount")?,
            opened_ns: r.u64("opened_ns")?,
            last_ns: r.u64("last_ns")?,
            closed_ns: r.opt_u64("closed_ns")?,
            duration_ms: r.f64("duration_ms")?,
            size_base: r.f64("size_base")?,
            size_quote: r.f64("size_quote")?,
            buy_vwap: r.f64("buy_vwap")?,
            sell_vwap: r.f64("sell_vwap")?,
            gross_bp: r.f64("gross_bp")?,
            fees_bp: r.f64("fees_bp")?,
            net_bp: r.f64("net_bp")?,
            peak_net_bp: r.f64("peak_net_bp")?,
            mean_net_bp: r.f64("mean_net_bp")?,
            max_size_base: r.f64("max_size_base")?,
            max_size_quote: r.f64("max_size_quote")?,
            updates: r.u64("updates")?,
            open_latency_buy_ms: r.opt_f64("open_latency_buy_ms")?,
            open_latency_sell_ms: r.opt_f64("open_latency_sell_ms")?,
            funding_carry_bp: r.opt_f64("funding_carry_bp")?,
            confidence: r.f64("confidence")?,
            close_reason: r.opt_string("close_reason")?,
        })
    }
}

/// One row of a `spreads-*` file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotRecord {
    pub ts_ns: u64,
    pub pair: String,
    pub okx_bid: Option<f64>,
    pub okx_ask: Option<f64>,
    pub binance_bid: Option<f64>,
    pub binance_ask: Option<f64>,
    pub best_direction: Option<String>,
    pub best_net_bp: Option<f64>,
    pub suppressed: Option<String>,
    pub direction: Option<String>,
    pub size_index: Option<u64>,
    pub size_base: Option<f64>,
    pub size_quote: Option<f64>,
    pub buy_vwap: Option<f64>,
    pub sell_vwap: Option<f64>,
    pub gross_bp: Option<f64>,
    pub fees_bp: Option<f64>,
    pub net_bp: Option<f64>,
    pub max_size_base: Option<f64>,
    pub max_size_quote: Option<f64>,
    pub buy_funding_bp_per_h: Option<f64>,
    pub sell_funding_bp_per_h: Option<f64>,
    pub funding_carry_bp: Option<f64>,
    pub funding_horizon_h: f64,
}

impl SnapshotRecord {
    /// The rows of a snapshot (one per quote; one with empty quote columns when there is none).
    pub fn rows(snapshot: &SpreadSnapshot) -> Vec<SnapshotRecord> {
        let dec = |d: rust_decimal::Decimal| d.to_f64();
        let base = SnapshotRecord {
            ts_ns: snapshot.ts_ns,
            pair: snapshot.pair.clone(),
            okx_bid: snapshot.okx_bid,
            okx_ask: snapshot.okx_ask,
            binance_bid: snapshot.binance_bid,
            binance_ask: snapshot.binance_ask,
            best_direction: snapshot.best_direction.clone(),
            best_net_bp: snapshot.best_net_bp,
            suppressed: snapshot.suppressed.clone(),
            direction: None,
            size_index: None,
            size_base: None,
            size_quote: None,
            buy_vwap: None,
            sell_vwap: None,
            gross_bp: None,
            fees_bp: None,
            net_bp: None,
            max_size_base: None,
            max_size_quote: None,
            buy_funding_bp_per_h: None,
            sell_funding_bp_per_h: None,
            funding_carry_bp: None,
            funding_horizon_h: snapshot.funding_horizon_h,
        };
        if snapshot.quotes.is_empty() {
            return vec![base];
        }
        snapshot
            .quotes
            .iter()
            .map(|q| SnapshotRecord {
                direction: Some(q.direction.clone()),
                size_index: Some(q.size_index as u64),
                size_base: dec(q.size_base),
                size_quote: Some(q.size_quote),
                buy_vwap: Some(q.buy_vwap),
                sell_vwap: Some(q.sell_vwap),
                gross_bp: Some(q.gross_bp),
                fees_bp: Some(q.fees_bp),
                net_bp: Some(q.net_bp),
                max_size_base: dec(q.max_size_base),
                max_size_quote: Some(q.max_size_quote),
                buy_funding_bp_per_h: q.buy_funding_bp_per_h,
                sell_funding_bp_per_h: q.sell_funding_bp_per_h,
                funding_carry_bp: q.funding_carry_bp,
                ..base.clone()
            })
            .collect()
    }

    fn cells(&self) -> Vec<Cell<'_>> {
        vec![
            Cell::I(Some(i64::try_from(self.ts_ns).unwrap_or(i64::MAX))),
            Cell::S(Some(&self.pair)),
            Cell::F(self.okx_bid),
            Cell::F(self.okx_ask),
            Cell::F(self.binance_bid),
            Cell::F(self.binance_ask),
            Cell::S(self.best_direction.as_deref()),
            Cell::F(self.best_net_bp),
            Cell::S(self.suppressed.as_deref()),
            Cell::S(self.direction.as_deref()),
            Cell::I(self.size_index.map(|v| v as i64)),
            Cell::F(self.size_base),
            Cell::F(self.size_quote),
            Cell::F(self.buy_vwap),
            Cell::F(self.sell_vwap),
            Cell::F(self.gross_bp),
            Cell::F(self.fees_bp),
            Cell::F(self.net_bp),
            Cell::F(self.max_size_base),
            Cell::F(self.max_size_quote),
            Cell::F(self.buy_funding_bp_per_h),
            Cell::F(self.sell_funding_bp_per_h),
            Cell::F(self.funding_carry_bp),
            Cell::F(Some(self.funding_horizon_h)),
        ]
    }

    fn from_fields(row: &parquet::record::Row) -> Result<Self, String> {
        let mut r = RowAccess::new(row);
        Ok(SnapshotRecord {
            ts_ns: r.u64("ts_ns")?,
            pair: r.string("pair")?,
            okx_bid: r.opt_f64("okx_bid")?,
            okx_ask: r.opt_f64("okx_ask")?,
            binance_bid: r.opt_f64("binance_bid")?,
            binance_ask: r.opt_f64("binance_ask")?,
            best_direction: r.opt_string("best_direction")?,
            best_net_bp: r.opt_f64("best_net_bp")?,
            suppressed: r.opt_string("suppressed")?,
            direction: r.opt_string("direction")?,
            size_index: r.opt_u64("size_index")?,
            size_base: r.opt_f64("size_base")?,
            size_quote: r.opt_f64("size_quote")?,
            buy_vwap: r.opt_f64("buy_vwap")?,
            sell_vwap: r.opt_f64("sell_vwap")?,
            gross_bp: r.opt_f64("gross_bp")?,
            fees_bp: r.opt_f64("fees_bp")?,
            net_bp: r.opt_f64("net_bp")?,
            max_size_base: r.opt_f64("max_size_base")?,
            max_size_quote: r.opt_f64("max_size_quote")?,
            buy_funding_bp_per_h: r.opt_f64("buy_funding_bp_per_h")?,
            sell_funding_bp_per_h: r.opt_f64("sell_funding_bp_per_h")?,
            funding_carry_bp: r.opt_f64("funding_carry_bp")?,
            funding_horizon_h: r.f64("funding_horizon_h")?,
        })
    }
}

/// Field access by column name on a Parquet record row.
struct RowAccess<'a> {
    fields: Vec<(&'a str, &'a Field)>,
}

impl<'a> RowAccess<'a> {
    fn new(row: &'a parquet::record::Row) -> Self {
        RowAccess { fields: row.get_column_iter().map(|(name, field)| (name.as_str(), field)).collect() }
    }

    fn get(&mut self, name: &str) -> Result<&'a Field, String> {
        self.fields.iter().find(|(n, _)| *n == name).map(|(_, f)| *f).ok_or_else(|| format!("no column {name}"))
    }

    fn opt_i64(&mut self, name: &str) -> Result<Option<i64>, String> {
        match self.get(name)? {
            Field::Null => Ok(None),
            Field::Long(v) | Field::TimestampMicros(v) | Field::TimestampMillis(v) => Ok(Some(*v)),
            Field::Int(v) => Ok(Some(i64::from(*v))),
            Field::ULong(v) => Ok(Some(i64::try_from(*v).unwrap_or(i64::MAX))),
            other => Err(format!("column {name}: expected an integer, found {other:?}")),
        }
    }

    fn opt_u64(&mut self, name: &str) -> Result<Option<u64>, String> {
        Ok(self.opt_i64(name)?.map(|v| v.max(0) as u64))
    }

    fn u64(&mut self, name: &str) -> Result<u64, String> {
        self.opt_u64(name)?.ok_or_else(|| format!("column {name}: unexpected null"))
    }

    fn opt_f64(&mut self, name: &str) -> Result<Option<f64>, String> {
        match self.get(name)? {
            Field::Null => Ok(None),
            Field::Double(v) => Ok(Some(*v)),
            Field::Float(v) => Ok(Some(f64::from(*v))),
            Field::Long(v) => Ok(Some(*v as f64)),
            other => Err(format!("column {name}: expected a number, found {other:?}")),
        }
    }

    fn f64(&mut self, name: &str) -> Result<f64, String> {
        self.opt_f64(name)?.ok_or_else(|| format!("column {name}: unexpected null"))
    }

    fn opt_string(&mut self, name: &str) -> Result<Option<String>, String> {
        match self.get(name)? {
            Field::Null => Ok(None),
            Field::Str(s) => Ok(Some(s.clone())),
            other => Err(format!("column {name}: expected a string, found {other:?}")),
        }
    }

    fn string(&mut self, name: &str) -> Result<String, String> {
        self.opt_string(name)?.ok_or_else(|| format!("column {name}: unexpected null"))
    }
}

/// The Parquet schema of a table.
pub fn parquet_schema(name: &str, columns: &[Column]) -> Result<Type, parquet::errors::ParquetError> {
    let fields = columns
        .iter()
        .map(|c| {
            let (physical, logical) = match c.kind {
                ColumnKind::Int64 => (PhysicalType::INT64, None),
                ColumnKind::Float64 => (PhysicalType::DOUBLE, None),
                ColumnKind::Utf8 => (PhysicalType::BYTE_ARRAY, Some(LogicalType::String)),
                ColumnKind::TimestampNs => (PhysicalType::INT64, Some(LogicalType::timestamp(true, TimeUnit::NANOS))),
            };
            let repetition = if c.nullable { Repetition::OPTIONAL } else { Repetition::REQUIRED };
            Type::primitive_type_builder(c.name, physical)
                .with_repetition(repetition)
                .with_logical_type(logical)
                .build()
                .map(Arc::new)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Type::group_type_builder(name).with_fields(fields).build()
}

/// Buffered values of one column (non-null values plus definition levels when nullable).
enum ColumnBuffer {
    I64(Vec<i64>),
    F64(Vec<f64>),
    Str(Vec<ByteArray>),
}

/// A Parquet file being written.
struct ParquetTable {
    writer: SerializedFileWriter<BufWriter<File>>,
    columns: &'static [Column],
    buffers: Vec<(ColumnBuffer, Vec<i16>)>,
    rows: usize,
    row_group_rows: usize,
}

impl ParquetTable {
    fn create(path: &Path, name: &str, columns: &'static [Column], row_group_rows: usize) -> Result<Self, FileError> {
        let schema = Arc::new(parquet_schema(name, columns).map_err(pq_error(path))?);
        let level = ZstdLevel::try_new(3).map_err(pq_error(path))?;
        let props = Arc::new(
            WriterProperties::builder()
                .set_compression(Compression::ZSTD(level))
                .set_created_by(format!("perpspread {}", env!("CARGO_PKG_VERSION")))
                .build(),
        );
        let file = File::create(path).map_err(io_error(path))?;
        let writer = SerializedFileWriter::new(BufWriter::new(file), schema, props).map_err(pq_error(path))?;
        let buffers = columns.iter().map(|c| (Self::empty(c.kind), Vec::new())).collect();
        Ok(ParquetTable { writer, columns, buffers, rows: 0, row_group_rows: row_group_rows.max(1) })
    }

    fn empty(kind: ColumnKind) -> ColumnBuffer {
        match kind {
            ColumnKind::Int64 | ColumnKind::TimestampNs => ColumnBuffer::I64(Vec::new()),
            ColumnKind::Float64 => ColumnBuffer::F64(Vec::new()),
            ColumnKind::Utf8 => ColumnBuffer::Str(Vec::new()),
        }
    }

    fn write_row(&mut self, cells: &[Cell<'_>], path: &Path) -> Result<(), FileError> {
        if cells.len() != self.columns.len() {
            return Err(FileError::Schema { path: path.to_owned(), message: "row width does not match".into() });
        }
        for ((column, (buffer, defs)), cell) in self.columns.iter().zip(self.buffers.iter_mut()).zip(cells) {
            let present = match (buffer, cell) {
                (ColumnBuffer::I64(values), Cell::I(v)) => v.map(|v| values.push(v)).is_some(),
                (ColumnBuffer::F64(values), Cell::F(v)) => v.map(|v| values.push(v)).is_some(),
                (ColumnBuffer::Str(values), Cell::S(v)) => v.map(|v| values.push(ByteArray::from(v))).is_some(),
                _ => {
                    return Err(FileError::Schema {
                        path: path.to_owned(),
                        message: format!("column {}: wrong cell type", column.name),
                    })
                }
            };
            if column.nullable {
                defs.push(i16::from(present));
            } else if !present {
                return Err(FileError::Schema {
                    path: path.to_owned(),
                    message: format!("column {}: null in a required column", column.name),
                });
            }
        }
        self.rows += 1;
        if self.rows >= self.row_group_rows {
            self.flush(path)?;
        }
        Ok(())
    }

    /// Writes buffered rows as one row group.
    fn flush(&mut self, path: &Path) -> Result<(), FileError> {
        if self.rows == 0 {
            return Ok(());
        }
        let mut group = self.writer.next_row_group().map_err(pq_error(path))?;
        for (column, (buffer, defs)) in self.columns.iter().zip(self.buffers.iter_mut()) {
            let mut writer = group.next_column().map_err(pq_error(path))?.ok_or_else(|| FileError::Schema {
                path: path.to_owned(),
                message: format!("no column writer for {}", column.name),
            })?;
            let levels = column.nullable.then_some(defs.as_slice());
            match buffer {
                ColumnBuffer::I64(values) => writer.typed::<Int64Type>().write_batch(values, levels, None),
                ColumnBuffer::F64(values) => writer.typed::<DoubleType>().write_batch(values, levels, None),
                ColumnBuffer::Str(values) => writer.typed::<ByteArrayType>().write_batch(values, levels, None),
            }
            .map_err(pq_error(path))?;
            writer.close().map_err(pq_error(path))?;
            match buffer {
                ColumnBuffer::I64(values) => values.clear(),
                ColumnBuffer::F64(values) => values.clear(),
                ColumnBuffer::Str(values) => values.clear(),
            }
            defs.clear();
        }
        group.close().map_err(pq_error(path))?;
        self.rows = 0;
        Ok(())
    }

    fn finish(mut self, path: &Path) -> Result<(), FileError> {
        self.flush(path)?;
        let mut inner = self.writer.into_inner().map_err(pq_error(path))?;
        inner.flush().map_err(io_error(path))?;
        inner.get_ref().sync_all().map_err(io_error(path))
    }
}

/// A CSV file being written.
struct CsvTable {
    out: BufWriter<File>,
    line: String,
}

impl CsvTable {
    fn create(path: &Path, columns: &[Column]) -> Result<Self, FileError> {
        let file = File::create(path).map_err(io_error(path))?;
        let mut out = BufWriter::new(file);
        let header = columns.iter().map(|c| c.name).collect::<Vec<_>>().join(",");
        writeln!(out, "{header}").map_err(io_error(path))?;
        Ok(CsvTable { out, line: String::new() })
    }

    fn write_row(&mut self, cells: &[Cell<'_>], path: &Path) -> Result<(), FileError> {
        use std::fmt::Write as _;
        self.line.clear();
        for (index, cell) in cells.iter().enumerate() {
            if index > 0 {
                self.line.push(',');
            }
            match cell {
                Cell::I(Some(v)) => {
                    let _ = write!(self.line, "{v}");
                }
                // The same 12 significant digits as the JSON outputs (no `65008.90000000001`).
                Cell::F(Some(v)) if v.is_finite() => {
                    let _ = write!(self.line, "{}", perpspread_core::num::shown_f64(*v));
                }
                Cell::F(Some(v)) => {
                    let _ = write!(
                        self.line,
                        "{}",
                        if v.is_nan() {
                            "NaN"
                        } else if *v > 0.0 {
                            "inf"
                        } else {
                            "-inf"
                        }
                    );
                }
                Cell::S(Some(s)) if s.contains([',', '"', '\n', '\r']) => {
                    self.line.push('"');
                    self.line.push_str(&s.replace('"', "\"\""));
                    self.line.push('"');
                }
                Cell::S(Some(s)) => self.line.push_str(s),
                Cell::I(None) | Cell::F(None) | Cell::S(None) => {}
            }
        }
        self.line.push('\n');
        self.out.write_all(self.line.as_bytes()).map_err(io_error(path))
    }

    fn finish(mut self, path: &Path) -> Result<(), FileError> {
        self.out.flush().map_err(io_error(path))?;
        self.out.get_ref().sync_all().map_err(io_error(path))
    }
}

enum Table {
    Parquet(Box<ParquetTable>),
    Csv(CsvTable),
}

/// An open hourly file.
struct OpenFile {
    hour: u64,
    table: Table,
    partial: PathBuf,
    path: PathBuf,
    rows: u64,
}

/// One hourly-rolled output stream (`opportunities` or `spreads`).
struct Rolling {
    dir: PathBuf,
    prefix: &'static str,
    columns: &'static [Column],
    format: FileFormat,
    row_group_rows: usize,
    open: Option<OpenFile>,
    closed: Vec<WrittenFile>,
}

/// A finished file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WrittenFile {
    pub path: PathBuf,
    pub rows: u64,
}

impl Rolling {
    fn write(&mut self, ts_ns: u64, cells: &[Cell<'_>]) -> Result<(), FileError> {
        let hour = ts_ns / HOUR_NS;
        // Roll forward only: a late row from an earlier hour goes into the current file.
        if self.open.as_ref().is_some_and(|f| hour > f.hour) {
            self.close()?;
        }
        if self.open.is_none() {
            self.open = Some(self.create(hour)?);
        }
        let Some(file) = self.open.as_mut() else {
            return Ok(());
        };
        match &mut file.table {
            Table::Parquet(t) => t.write_row(cells, &file.partial)?,
            Table::Csv(t) => t.write_row(cells, &file.partial)?,
        }
        file.rows += 1;
        Ok(())
    }

    fn create(&self, hour: u64) -> Result<OpenFile, FileError> {
        let stem = format!("{}-{}", self.prefix, hour_label(hour * HOUR_NS));
        let ext = self.format.extension();
        let mut path = self.dir.join(format!("{stem}.{ext}"));
        let mut n = 0;
        while path.exists() || partial_of(&path).exists() {
            n += 1;
            path = self.dir.join(format!("{stem}-{n}.{ext}"));
        }
        let partial = partial_of(&path);
        let table = match self.format {
            FileFormat::Parquet => Table::Parquet(Box::new(ParquetTable::create(
                &partial,
                self.prefix,
                self.columns,
                self.row_group_rows,
            )?)),
            FileFormat::Csv => Table::Csv(CsvTable::create(&partial, self.columns)?),
        };
        tracing::debug!(path = %path.display(), "file opened");
        Ok(OpenFile { hour, table, partial, path, rows: 0 })
    }

    /// Flushes buffered rows of the open Parquet file as a row group (CSV: to the OS).
    fn flush(&mut self) -> Result<(), FileError> {
        match self.open.as_mut() {
            Some(OpenFile { table: Table::Parquet(t), partial, .. }) => t.flush(partial),
            Some(OpenFile { table: Table::Csv(t), partial, .. }) => t.out.flush().map_err(io_error(partial)),
            None => Ok(()),
        }
    }

    fn close(&mut self) -> Result<(), FileError> {
        let Some(file) = self.open.take() else {
            return Ok(());
        };
        match file.table {
            Table::Parquet(t) => (*t).finish(&file.partial)?,
            Table::Csv(t) => t.finish(&file.partial)?,
        }
        std::fs::rename(&file.partial, &file.path).map_err(io_error(&file.path))?;
        tracing::info!(path = %file.path.display(), rows = file.rows, "file closed");
        self.closed.push(WrittenFile { path: file.path, rows: file.rows });
        Ok(())
    }
}

fn partial_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// File output settings.
#[derive(Debug, Clone)]
pub struct FileSinkConfig {
    /// Output directory (created if missing).
    pub dir: PathBuf,
    pub format: FileFormat,
    /// Rows per Parquet row group (rows are buffered in memory until then).
    pub row_group_rows: usize,
    /// Write spread snapshots too (`spreads-*`).
    pub snapshots: bool,
}

impl FileSinkConfig {
    /// Parquet into `dir`, with snapshots.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileSinkConfig { dir: dir.into(), format: FileFormat::Parquet, row_group_rows: 16_384, snapshots: true }
    }
}

/// Writes closed opportunities and spread snapshots into hourly files; see the [module docs](self).
pub struct FileSink {
    opportunities: Rolling,
    spreads: Option<Rolling>,
    finished: bool,
}

impl std::fmt::Debug for FileSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSink").field("dir", &self.opportunities.dir).finish_non_exhaustive()
    }
}

impl FileSink {
    /// Creates the directory; files are opened with their first row.
    pub fn create(config: &FileSinkConfig) -> Result<FileSink, FileError> {
        std::fs::create_dir_all(&config.dir).map_err(io_error(&config.dir))?;
        let rolling = |prefix, columns| Rolling {
            dir: config.dir.clone(),
            prefix,
            columns,
            format: config.format,
            row_group_rows: config.row_group_rows,
            open: None,
            closed: Vec::new(),
        };
        Ok(FileSink {
            opportunities: rolling("opportunities", OPPORTUNITY_COLUMNS),
            spreads: config.snapshots.then(|| rolling("spreads", SNAPSHOT_COLUMNS)),
            finished: false,
        })
    }

    /// Writes the event's row if it is a `closed` event (others are ignored).
    pub fn on_event(&mut self, event: &OpportunityEvent) -> Result<(), FileError> {
        match OpportunityRecord::from_closed_event(event) {
            Some(record) => self.write_opportunity(&record),
            None => Ok(()),
        }
    }

    /// Writes one closed opportunity row.
    pub fn write_opportunity(&mut self, record: &OpportunityRecord) -> Result<(), FileError> {
        let ts = record.closed_ns.unwrap_or(record.last_ns);
        self.opportunities.write(ts, &record.cells())
    }

    /// Writes a snapshot's rows (ignored when snapshots are off).
    pub fn on_snapshot(&mut self, snapshot: &SpreadSnapshot) -> Result<(), FileError> {
        let Some(spreads) = self.spreads.as_mut() else {
            return Ok(());
        };
        for row in SnapshotRecord::rows(snapshot) {
            spreads.write(row.ts_ns, &row.cells())?;
        }
        Ok(())
    }

    /// Writes buffered rows of the open files (Parquet: as a row group). Files stay open.
    pub fn flush(&mut self) -> Result<(), FileError> {
        self.opportunities.flush()?;
        self.spreads.as_mut().map_or(Ok(()), Rolling::flush)
    }

    /// Closes the open files; returns every file written.
    pub fn finish(mut self) -> Result<Vec<WrittenFile>, FileError> {
        self.close_all()
    }

    fn close_all(&mut self) -> Result<Vec<WrittenFile>, FileError> {
        self.finished = true;
        let first = self.opportunities.close();
        let second = self.spreads.as_mut().map_or(Ok(()), Rolling::close);
        first.and(second)?;
        let mut files = std::mem::take(&mut self.opportunities.closed);
        if let Some(spreads) = self.spreads.as_mut() {
            files.append(&mut spreads.closed);
        }
        Ok(files)
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        if !self.finished {
            if let Err(error) = self.close_all() {
                tracing::error!("closing output files: {error}");
            }
        }
    }
}

enum Job {
    Event(Box<OpportunityEvent>),
    Snapshot(Box<SpreadSnapshot>),
    Flush,
}

/// A [`FileSink`] on its own thread behind a bounded queue: [`FileSinkHandle::on_event`] and
/// [`FileSinkHandle::on_snapshot`] never block (a full queue drops and counts).
#[derive(Debug)]
pub struct FileSinkHandle {
    tx: Option<mpsc::SyncSender<Job>>,
    thread: Option<std::thread::JoinHandle<Result<Vec<WrittenFile>, FileError>>>,
    dropped: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
}

impl FileSinkHandle {
    /// Creates the sink and starts its writer thread; `queue` is the number of pending jobs accepted.
    pub fn spawn(config: &FileSinkConfig, queue: usize) -> Result<FileSinkHandle, FileError> {
        let mut sink = FileSink::create(config)?;
        let (tx, rx) = mpsc::sync_channel::<Job>(queue.max(1));
        let errors = Arc::new(AtomicU64::new(0));
        let thread_errors = errors.clone();
        let thread = std::thread::Builder::new()
            .name("perpspread-files".into())
            .spawn(move || {
                for job in rx {
                    let result = match job {
                        Job::Event(event) => sink.on_event(&event),
                        Job::Snapshot(snapshot) => sink.on_snapshot(&snapshot),
                        Job::Flush => sink.flush(),
                    };
                    if let Err(error) = result {
                        if thread_errors.fetch_add(1, Ordering::Relaxed) == 0 {
                            tracing::error!("file output: {error}");
                        }
                    }
                }
                sink.finish()
            })
            .map_err(io_error(&config.dir))?;
        Ok(FileSinkHandle { tx: Some(tx), thread: Some(thread), dropped: Arc::default(), errors })
    }

    fn send(&self, job: Job) -> bool {
        let sent = self.tx.as_ref().is_some_and(|tx| tx.try_send(job).is_ok());
        if !sent {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        sent
    }

    /// Queues an event (only `closed` events produce rows; others are not even queued).
    pub fn on_event(&self, event: &OpportunityEvent) -> bool {
        event.event != EventKind::Closed || self.send(Job::Event(Box::new(event.clone())))
    }

    /// Queues a snapshot.
    pub fn on_snapshot(&self, snapshot: &SpreadSnapshot) -> bool {
        self.send(Job::Snapshot(Box::new(snapshot.clone())))
    }

    /// Asks the writer to flush buffered rows (e.g. once a minute).
    pub fn flush(&self) -> bool {
        self.send(Job::Flush)
    }

    /// Rows dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Write errors so far (the first is logged).
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// Drains the queue, closes every file and returns them.
    pub fn finish(mut self) -> Result<Vec<WrittenFile>, FileError> {
        self.tx = None;
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(FileError::Io {
                path: PathBuf::from("perpspread-files"),
                source: std::io::Error::other("file writer thread panicked"),
            }),
            None => Ok(Vec::new()),
        }
    }
}

impl Drop for FileSinkHandle {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(thread) = self.thread.take() {
            match thread.join() {
                Ok(Err(error)) => tracing::error!("closing output files: {error}"),
                Err(_) => tracing::error!("file writer thread panicked"),
                Ok(Ok(_)) => {}
            }
        }
    }
}

/// Reads an `opportunities-*` Parquet file.
pub fn read_opportunities_parquet(path: &Path) -> Result<Vec<OpportunityRecord>, FileError> {
    read_parquet(path, OpportunityRecord::from_fields)
}

/// Reads a `spreads-*` Parquet file.
pub fn read_snapshots_parquet(path: &Path) -> Result<Vec<SnapshotRecord>, FileError> {
    read_parquet(path, SnapshotRecord::from_fields)
}

fn read_parquet<T>(path: &Path, convert: fn(&parquet::record::Row) -> Result<T, String>) -> Result<Vec<T>, FileError> {
    let file = File::open(path).map_err(io_error(path))?;
    let reader = SerializedFileReader::new(file).map_err(pq_error(path))?;
    let rows = reader.get_row_iter(None).map_err(pq_error(path))?;
    let mut out = Vec::new();
    for row in rows {
        let row = row.map_err(pq_error(path))?;
        out.push(convert(&row).map_err(|message| FileError::Schema { path: path.to_owned(), message })?);
    }
    Ok(out)
}

/// Reads an `opportunities-*` CSV file.
pub fn read_opportunities_csv(path: &Path) -> Result<Vec<OpportunityRecord>, FileError> {
    let text = std::fs::read_to_string(path).map_err(io_error(path))?;
    let schema = |message: String| FileError::Schema { path: path.to_owned(), message };
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let mut out = Vec::new();
    for (number, line) in lines.enumerate() {
        if line.is_empty() {
            continue;
        }
        let cells = split_csv(line);
        let mut map = serde_json::Map::new();
        for (name, cell) in header.iter().zip(&cells) {
            let column = OPPORTUNITY_COLUMNS.iter().find(|c| c.name == *name);
            let value = match column.map(|c| c.kind) {
                _ if cell.is_empty() => serde_json::Value::Null,
                Some(ColumnKind::Utf8) | None => serde_json::Value::String(cell.clone()),
                Some(ColumnKind::Int64 | ColumnKind::TimestampNs) => {
                    cell.parse::<u64>()
                        .map(serde_json::Value::from)
                        .map_err(|e| schema(format!("line {}: {name}: {e}", number + 2)))?
                }
                Some(ColumnKind::Float64) => cell
                    .parse::<f64>()
                    .map(serde_json::Value::from)
                    .map_err(|e| schema(format!("line {}: {name}: {e}", number + 2)))?,
            };
            map.insert((*name).to_owned(), value);
        }
        let record = serde_json::from_value(serde_json::Value::Object(map))
            .map_err(|e| schema(format!("line {}: {e}", number + 2)))?;
        out.push(record);
    }
    Ok(out)
}

/// Splits one CSV line (RFC 4180 quoting, no embedded newlines).
fn split_csv(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => cells.push(std::mem::take(&mut cell)),
            (c, _) => cell.push(c),
        }
    }
    cells.push(cell);
    cells
}

/// Reads opportunity rows from a file by extension (`.parquet` or `.csv`).
pub fn read_opportunities(path: &Path) -> Result<Vec<OpportunityRecord>, FileError> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => read_opportunities_csv(path),
        _ => read_opportunities_parquet(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_split_handles_quotes() {
        assert_eq!(split_csv(r#"a,"b,c","d""e",,"#), vec!["a", "b,c", "d\"e", "", ""]);
    }

    #[test]
    fn formats_parse() {
        assert_eq!("CSV".parse::<FileFormat>(), Ok(FileFormat::Csv));
        assert!("xlsx".parse::<FileFormat>().is_err());
    }
}

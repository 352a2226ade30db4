//! The file schemas, each written once: a [`flat_record!`] declares the row struct, and from it come the
//! column list (names, types, nullability), the cells written to Parquet and CSV, and the reading back from
//! either. Adding a column is one field.

use parquet::record::Field;
use perpspread_core::engine::{EventKind, Opportunity, OpportunityEvent};
use perpspread_core::spread::SizeTarget;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use crate::snapshot::SpreadSnapshot;

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

/// A cell value (what a row hands to the encoders).
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    I(Option<i64>),
    F(Option<f64>),
    S(Option<&'a str>),
}

/// Why a row could not be read back from a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CellError {
    #[error("no column {0}")]
    MissingColumn(String),
    #[error("column {0}: unexpected null")]
    Null(String),
    #[error("column {column}: expected {expected}, found {found}")]
    Type { column: String, expected: &'static str, found: String },
}

impl CellError {
    pub(crate) fn wrong_type(column: &str, expected: &'static str, found: impl std::fmt::Debug) -> Self {
        CellError::Type { column: column.to_owned(), expected, found: format!("{found:?}") }
    }
}

/// A row type of a file: its columns, its cells, and how it is read back.
pub trait FlatRecord: Sized {
    /// The columns, in file order.
    const COLUMNS: &'static [Column];
    /// The row's cells, in column order.
    #[doc(hidden)]
    fn cells(&self) -> Vec<Cell<'_>>;
    /// Reads a row back from its cells by column name.
    #[doc(hidden)]
    fn read(cells: &mut dyn CellSource) -> Result<Self, CellError>;
}

/// Where a row is read back from (a Parquet row, a CSV line).
#[doc(hidden)]
pub trait CellSource {
    /// The cell of column `name`: `None` when it is null, an error when the column is missing.
    fn integer(&mut self, name: &str) -> Result<Option<i64>, CellError>;
    fn float(&mut self, name: &str) -> Result<Option<f64>, CellError>;
    fn text(&mut self, name: &str) -> Result<Option<String>, CellError>;
}

/// A Rust field type a column can hold.
#[doc(hidden)]
pub(super) trait CellValue: Sized {
    const NULLABLE: bool;
    fn cell(&self) -> Cell<'_>;
    fn read(source: &mut dyn CellSource, name: &str) -> Result<Self, CellError>;
}

fn required<T>(value: Option<T>, name: &str) -> Result<T, CellError> {
    value.ok_or_else(|| CellError::Null(name.to_owned()))
}

impl CellValue for Option<i64> {
    const NULLABLE: bool = true;
    fn cell(&self) -> Cell<'_> {
        Cell::I(*self)
    }
    fn read(source: &mut dyn CellSource, name: &str) -> Result<Self, CellError> {
        source.integer(name)
    }
}

impl CellValue for Option<u64> {
    const NULLABLE: bool = true;
    fn cell(&self) -> Cell<'_> {
        Cell::I(self.map(|v| i64::try_from(v).unwrap_or(i64::MAX)))
    }
    fn read(source: &mut dyn CellSource, name: &str) -> Result<Self, CellError> {
        Ok(source.integer(name)?.map(|v| v.max(0) as u64))
    }
}

impl CellValue for u64 {
    const NULLABLE: bool = false;
    fn cell(&self) -> Cell<'_> {
        Cell::I(Some(i64::try_from(*self).unwrap_or(i64::MAX)))
    }
    fn read(source: &mut dyn CellSource, name: &str) -> Result<Self, CellError> {
        required(Option::<u64>::read(source, name)?, name)
    }
}

impl CellValue for Option<f64> {
    const NULLABLE: bool = true;
    fn cell(&self) -> Cell<'_> {
        Cell::F(*self)
    }
    fn read(source: &mut dyn CellSource, name: &str) -> Result<Self, CellError> {
        source.float(name)
    }
}

impl CellValue for f64 {
    const NULLABLE: bool = false;
    fn cell(&self) -> Cell<'_> {
        Cell::F(Some(*self))
    }
    fn read(source: &mut dyn CellSource, name: &str) -> Result<Self, CellError> {
        required(source.float(name)?, name)
    }
}

impl CellValue for Option<String> {
    const NULLABLE: bool = true;
    fn cell(&self) -> Cell<'_> {
        Cell::S(self.as_deref())
    }
    fn read(source: &mut dyn CellSource, name: &str) -> Result<Self, CellError> {
        source.text(name)
    }
}

impl CellValue for String {
    const NULLABLE: bool = false;
    fn cell(&self) -> Cell<'_> {
        Cell::S(Some(self))
    }
    fn read(source: &mut dyn CellSource, name: &str) -> Result<Self, CellError> {
        required(source.text(name)?, name)
    }
}

/// Declares a row struct and its [`FlatRecord`] implementation from one list of fields, each with its column
/// kind (`Int64`, `Float64`, `Utf8`, `TimestampNs`); nullability follows `Option`.
macro_rules! flat_record {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[doc = $doc:literal])* $field:ident : $ty:ty => $kind:ident ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        pub struct $name {
            $( $(#[doc = $doc])* pub $field: $ty, )*
        }

        impl FlatRecord for $name {
            const COLUMNS: &'static [Column] = &[
                $( Column { name: stringify!($field), kind: ColumnKind::$kind, nullable: <$ty as CellValue>::NULLABLE }, )*
            ];

            fn cells(&self) -> Vec<Cell<'_>> {
                vec![ $( CellValue::cell(&self.$field), )* ]
            }

            fn read(cells: &mut dyn CellSource) -> Result<Self, CellError> {
                Ok($name { $( $field: <$ty as CellValue>::read(cells, stringify!($field))?, )* })
            }
        }
    };
}

flat_record! {
    /// A closed opportunity as one flat row (the `opportunities-*` file schema; also the report's input): the
    /// opportunity JSON fields, `size_target` split in two and `close_reason` as its label.
    pub struct OpportunityRecord {
        id: u64 => Int64,
        pair: String => Utf8,
        direction: String => Utf8,
        buy_venue: String => Utf8,
        sell_venue: String => Utf8,
        buy_symbol: String => Utf8,
        sell_symbol: String => Utf8,
        /// `base` or `quote`.
        size_target_unit: String => Utf8,
        size_target_amount: f64 => Float64,
        opened_ns: u64 => TimestampNs,
        last_ns: u64 => TimestampNs,
        closed_ns: Option<u64> => TimestampNs,
        duration_ms: f64 => Float64,
        size_base: f64 => Float64,
        size_quote: f64 => Float64,
        buy_vwap: f64 => Float64,
        sell_vwap: f64 => Float64,
        gross_bp: f64 => Float64,
        fees_bp: f64 => Float64,
        net_bp: f64 => Float64,
        peak_net_bp: f64 => Float64,
        mean_net_bp: f64 => Float64,
        max_size_base: f64 => Float64,
        max_size_quote: f64 => Float64,
        updates: u64 => Int64,
        open_latency_buy_ms: Option<f64> => Float64,
        open_latency_sell_ms: Option<f64> => Float64,
        funding_carry_bp: Option<f64> => Float64,
        confidence: f64 => Float64,
        close_reason: Option<String> => Utf8,
    }
}

/// Columns of `opportunities-*` files.
pub const OPPORTUNITY_COLUMNS: &[Column] = OpportunityRecord::COLUMNS;

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
}

flat_record! {
    /// One row of a `spreads-*` file: a [`SpreadSnapshot`] (one pair, one direction: buy on `buy_venue`, sell
    /// on `sell_venue`) repeated on each of its evaluated sizes (a snapshot without any executable quote has
    /// one row with empty size columns). Prices are quote currency per base unit; no column names a venue.
    pub struct SnapshotRecord {
        ts_ns: u64 => TimestampNs,
        pair: String => Utf8,
        direction: String => Utf8,
        buy_venue: String => Utf8,
        sell_venue: String => Utf8,
        buy_symbol: String => Utf8,
        sell_symbol: String => Utf8,
        /// Best ask on the buy venue and best bid on the sell venue, per base unit.
        buy_ask: Option<f64> => Float64,
        sell_bid: Option<f64> => Float64,
        suppressed: Option<String> => Utf8,
        buy_funding_bp_per_h: Option<f64> => Float64,
        sell_funding_bp_per_h: Option<f64> => Float64,
        funding_carry_bp: Option<f64> => Float64,
        funding_horizon_h: f64 => Float64,
        size_index: Option<u64> => Int64,
        size_base: Option<f64> => Float64,
        size_quote: Option<f64> => Float64,
        buy_vwap: Option<f64> => Float64,
        sell_vwap: Option<f64> => Float64,
        gross_bp: Option<f64> => Float64,
        fees_bp: Option<f64> => Float64,
        net_bp: Option<f64> => Float64,
        max_size_base: Option<f64> => Float64,
        max_size_quote: Option<f64> => Float64,
    }
}

/// Columns of `spreads-*` files.
pub const SNAPSHOT_COLUMNS: &[Column] = SnapshotRecord::COLUMNS;

impl SnapshotRecord {
    /// The rows of a snapshot (one per quote; one with empty quote columns when there is none).
    pub fn rows(snapshot: &SpreadSnapshot) -> Vec<SnapshotRecord> {
        let dec = |d: rust_decimal::Decimal| d.to_f64();
        let base = SnapshotRecord {
            ts_ns: snapshot.ts_ns,
            pair: snapshot.pair.clone(),
            direction: snapshot.direction.label(),
            buy_venue: snapshot.buy_venue.as_str().to_owned(),
            sell_venue: snapshot.sell_venue.as_str().to_owned(),
            buy_symbol: snapshot.buy_symbol.clone(),
            sell_symbol: snapshot.sell_symbol.clone(),
            buy_ask: snapshot.buy_ask,
            sell_bid: snapshot.sell_bid,
            suppressed: snapshot.suppressed.map(|s| s.label().to_owned()),
            buy_funding_bp_per_h: snapshot.buy_funding_bp_per_h,
            sell_funding_bp_per_h: snapshot.sell_funding_bp_per_h,
            funding_carry_bp: snapshot.funding_carry_bp,
            funding_horizon_h: snapshot.funding_horizon_h,
            ..SnapshotRecord::default()
        };
        if snapshot.quotes.is_empty() {
            return vec![base];
        }
        snapshot
            .quotes
            .iter()
            .map(|q| SnapshotRecord {
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
                ..base.clone()
            })
            .collect()
    }
}

/// A Parquet record row as a [`CellSource`].
pub(crate) struct ParquetRow<'a> {
    fields: Vec<(&'a str, &'a Field)>,
}

impl<'a> ParquetRow<'a> {
    pub(crate) fn new(row: &'a parquet::record::Row) -> Self {
        ParquetRow { fields: row.get_column_iter().map(|(name, field)| (name.as_str(), field)).collect() }
    }

    fn get(&self, name: &str) -> Result<&'a Field, CellError> {
        self.fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
            .ok_or_else(|| CellError::MissingColumn(name.into()))
    }
}

impl CellSource for ParquetRow<'_> {
    fn integer(&mut self, name: &str) -> Result<Option<i64>, CellError> {
        match self.get(name)? {
            Field::Null => Ok(None),
            Field::Long(v) | Field::TimestampMicros(v) | Field::TimestampMillis(v) => Ok(Some(*v)),
            Field::Int(v) => Ok(Some(i64::from(*v))),
            Field::ULong(v) => Ok(Some(i64::try_from(*v).unwrap_or(i64::MAX))),
            other => Err(CellError::wrong_type(name, "an integer", other)),
        }
    }

    fn float(&mut self, name: &str) -> Result<Option<f64>, CellError> {
        match self.get(name)? {
            Field::Null => Ok(None),
            Field::Double(v) => Ok(Some(*v)),
            Field::Float(v) => Ok(Some(f64::from(*v))),
            Field::Long(v) => Ok(Some(*v as f64)),
            other => Err(CellError::wrong_type(name, "a number", other)),
        }
    }

    fn text(&mut self, name: &str) -> Result<Option<String>, CellError> {
        match self.get(name)? {
            Field::Null => Ok(None),
            Field::Str(s) => Ok(Some(s.clone())),
            other => Err(CellError::wrong_type(name, "a string", other)),
        }
    }
}

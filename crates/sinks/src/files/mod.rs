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
//!
//! One file per concern: [`schema`] (the row types, each declared once), [`parquet`] and [`csv`] (the two
//! encodings, writing and reading), [`rolling`] (hourly files, `.partial` until closed) and [`sink`] (the
//! sink and its writer thread).

mod csv;
mod parquet;
mod rolling;
mod schema;
mod sink;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use self::csv::read_opportunities_csv;
pub use self::parquet::{parquet_schema, read_opportunities_parquet, read_snapshots_parquet};
pub use rolling::WrittenFile;
pub use schema::{
    Column, ColumnKind, FlatRecord, OpportunityRecord, SnapshotRecord, OPPORTUNITY_COLUMNS, SNAPSHOT_COLUMNS,
};
pub use sink::{FileSink, FileSinkConfig, FileSinkHandle};

/// File output errors.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: parquet: {source}")]
    Parquet { path: PathBuf, source: ::parquet::errors::ParquetError },
    #[error("{path}: {message}")]
    Schema { path: PathBuf, message: String },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> FileError + '_ {
    move |source| FileError::Io { path: path.to_owned(), source }
}

fn pq_error(path: &Path) -> impl FnOnce(::parquet::errors::ParquetError) -> FileError + '_ {
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

/// Reads an `opportunities-*` file, Parquet or CSV (by extension).
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
    fn formats_parse() {
        assert_eq!("CSV".parse::<FileFormat>(), Ok(FileFormat::Csv));
        assert!("xlsx".parse::<FileFormat>().is_err());
    }
}

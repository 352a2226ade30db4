//! Hourly-rolled output files: a file is written as `NAME.partial` and renamed to `NAME` when it is closed (hour
//! rolled over, sink finished or dropped), so every file under its final name is complete and readable; an hour
//! that already has a file (a restart within the hour) gets `NAME-1`, `NAME-2`, ….

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::csv::CsvTable;
use super::parquet::ParquetTable;
use super::schema::{Cell, Column};
use super::{io_error, FileError, FileFormat};
use perpspread_core::time::{hour_label, HOUR_NS};

enum Table {
    Parquet(Box<ParquetTable>),
    Csv(Box<CsvTable>),
}

/// An open hourly file.
pub(crate) struct OpenFile {
    hour: u64,
    table: Table,
    partial: PathBuf,
    path: PathBuf,
    rows: u64,
}

/// One hourly-rolled output stream (`opportunities` or `spreads`).
pub(crate) struct Rolling {
    pub(crate) dir: PathBuf,
    pub(crate) prefix: &'static str,
    pub(crate) columns: &'static [Column],
    pub(crate) format: FileFormat,
    pub(crate) row_group_rows: usize,
    pub(crate) open: Option<OpenFile>,
    pub(crate) closed: Vec<WrittenFile>,
}

/// A finished file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WrittenFile {
    pub path: PathBuf,
    pub rows: u64,
}

impl Rolling {
    pub(crate) fn write(&mut self, ts_ns: u64, cells: &[Cell<'_>]) -> Result<(), FileError> {
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
            FileFormat::Csv => Table::Csv(Box::new(CsvTable::create(&partial, self.columns)?)),
        };
        tracing::debug!(path = %path.display(), "file opened");
        Ok(OpenFile { hour, table, partial, path, rows: 0 })
    }

    /// Flushes buffered rows of the open Parquet file as a row group (CSV: to the OS).
    pub(crate) fn flush(&mut self) -> Result<(), FileError> {
        match self.open.as_mut() {
            Some(OpenFile { table: Table::Parquet(t), partial, .. }) => t.flush(partial),
            Some(OpenFile { table: Table::Csv(t), partial, .. }) => t.flush(partial),
            None => Ok(()),
        }
    }

    pub(crate) fn close(&mut self) -> Result<(), FileError> {
        let Some(file) = self.open.take() else {
            return Ok(());
        };
        match file.table {
            Table::Parquet(t) => (*t).finish(&file.partial)?,
            Table::Csv(t) => (*t).finish(&file.partial)?,
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

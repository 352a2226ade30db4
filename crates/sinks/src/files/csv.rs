//! CSV encoding of the file schemas: a header of the column names, timestamps as integer Unix ns, numbers with
//! the 12 significant digits of the JSON outputs, empty cells for nulls; quoting by the `csv` crate (RFC 4180).
//! Rows are read back by column name, so the reader follows the same schema definition.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::schema::{Cell, CellError, CellSource, Column, FlatRecord, OpportunityRecord};
use super::{io_error, FileError};

/// A CSV file being written.
pub(crate) struct CsvTable {
    out: csv::Writer<BufWriter<File>>,
    fields: Vec<String>,
}

fn csv_error(path: &Path) -> impl FnOnce(csv::Error) -> FileError + '_ {
    move |error| FileError::Schema { path: path.to_owned(), message: format!("csv: {error}") }
}

impl CsvTable {
    pub(crate) fn create(path: &Path, columns: &[Column]) -> Result<Self, FileError> {
        let file = File::create(path).map_err(io_error(path))?;
        let mut out = csv::Writer::from_writer(BufWriter::new(file));
        out.write_record(columns.iter().map(|c| c.name)).map_err(csv_error(path))?;
        Ok(CsvTable { out, fields: Vec::new() })
    }

    pub(crate) fn write_row(&mut self, cells: &[Cell<'_>], path: &Path) -> Result<(), FileError> {
        self.fields.resize(cells.len(), String::new());
        for (field, cell) in self.fields.iter_mut().zip(cells) {
            field.clear();
            format_cell(field, cell);
        }
        self.out.write_record(&self.fields).map_err(csv_error(path))
    }

    /// Hands buffered rows to the OS.
    pub(crate) fn flush(&mut self, path: &Path) -> Result<(), FileError> {
        self.out.flush().map_err(io_error(path))
    }

    pub(crate) fn finish(mut self, path: &Path) -> Result<(), FileError> {
        self.out.flush().map_err(io_error(path))?;
        let inner =
            self.out.into_inner().map_err(|e| FileError::Io { path: path.to_owned(), source: e.into_error() })?;
        let mut inner = inner;
        inner.flush().map_err(io_error(path))?;
        inner.get_ref().sync_all().map_err(io_error(path))
    }
}

fn format_cell(out: &mut String, cell: &Cell<'_>) {
    use std::fmt::Write as _;
    match cell {
        Cell::I(Some(v)) => {
            let _ = write!(out, "{v}");
        }
        // The same 12 significant digits as the JSON outputs (no `65008.90000000001`).
        Cell::F(Some(v)) if v.is_finite() => {
            let _ = write!(out, "{}", perpspread_core::num::shown_f64(*v));
        }
        Cell::F(Some(v)) => out.push_str(if v.is_nan() {
            "NaN"
        } else if *v > 0.0 {
            "inf"
        } else {
            "-inf"
        }),
        Cell::S(Some(s)) => out.push_str(s),
        Cell::I(None) | Cell::F(None) | Cell::S(None) => {}
    }
}

/// One CSV line as a [`CellSource`], its cells found by the header's column names.
struct CsvRow<'a> {
    header: &'a csv::StringRecord,
    row: &'a csv::StringRecord,
}

impl CsvRow<'_> {
    fn cell(&self, name: &str) -> Result<Option<&str>, CellError> {
        let index =
            self.header.iter().position(|h| h == name).ok_or_else(|| CellError::MissingColumn(name.to_owned()))?;
        Ok(self.row.get(index).filter(|cell| !cell.is_empty()))
    }
}

impl CellSource for CsvRow<'_> {
    fn integer(&mut self, name: &str) -> Result<Option<i64>, CellError> {
        self.cell(name)?.map(|c| c.parse().map_err(|_| CellError::wrong_type(name, "an integer", c))).transpose()
    }

    fn float(&mut self, name: &str) -> Result<Option<f64>, CellError> {
        self.cell(name)?.map(|c| c.parse().map_err(|_| CellError::wrong_type(name, "a number", c))).transpose()
    }

    fn text(&mut self, name: &str) -> Result<Option<String>, CellError> {
        Ok(self.cell(name)?.map(str::to_owned))
    }
}

/// Reads the rows of a CSV file written for `T`.
pub(crate) fn read_csv<T: FlatRecord>(path: &Path) -> Result<Vec<T>, FileError> {
    let mut reader = csv::Reader::from_path(path).map_err(csv_error(path))?;
    let header = reader.headers().map_err(csv_error(path))?.clone();
    let mut out = Vec::new();
    for (number, row) in reader.records().enumerate() {
        let row = row.map_err(csv_error(path))?;
        let record = T::read(&mut CsvRow { header: &header, row: &row });
        out.push(record.map_err(|message| FileError::Schema {
            path: path.to_owned(),
            message: format!("line {}: {message}", number + 2),
        })?);
    }
    Ok(out)
}

/// Reads an `opportunities-*` CSV file.
pub fn read_opportunities_csv(path: &Path) -> Result<Vec<OpportunityRecord>, FileError> {
    read_csv(path)
}

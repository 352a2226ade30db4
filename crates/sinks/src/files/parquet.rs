//! Parquet encoding of the file schemas: typed columns (timestamps `INT64 TIMESTAMP(NANOS, UTC)`, prices and bp
//! `DOUBLE`, counts `INT64`, labels `STRING`), nullable where the field is an `Option`, zstd-compressed, written
//! in row groups; and reading rows back.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use parquet::basic::{Compression, LogicalType, Repetition, TimeUnit, Type as PhysicalType, ZstdLevel};
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;

use super::schema::{Cell, Column, ColumnKind, FlatRecord, OpportunityRecord, ParquetRow, SnapshotRecord};
use super::{io_error, pq_error, FileError};

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
pub(crate) struct ParquetTable {
    writer: SerializedFileWriter<BufWriter<File>>,
    columns: &'static [Column],
    buffers: Vec<(ColumnBuffer, Vec<i16>)>,
    rows: usize,
    row_group_rows: usize,
}

impl ParquetTable {
    pub(crate) fn create(
        path: &Path,
        name: &str,
        columns: &'static [Column],
        row_group_rows: usize,
    ) -> Result<Self, FileError> {
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

    pub(crate) fn write_row(&mut self, cells: &[Cell<'_>], path: &Path) -> Result<(), FileError> {
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
    pub(crate) fn flush(&mut self, path: &Path) -> Result<(), FileError> {
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

    pub(crate) fn finish(mut self, path: &Path) -> Result<(), FileError> {
        self.flush(path)?;
        let mut inner = self.writer.into_inner().map_err(pq_error(path))?;
        inner.flush().map_err(io_error(path))?;
        inner.get_ref().sync_all().map_err(io_error(path))
    }
}

/// Reads an `opportunities-*` Parquet file.
pub fn read_opportunities_parquet(path: &Path) -> Result<Vec<OpportunityRecord>, FileError> {
    read_parquet(path)
}

/// Reads a `spreads-*` Parquet file.
pub fn read_snapshots_parquet(path: &Path) -> Result<Vec<SnapshotRecord>, FileError> {
    read_parquet(path)
}

fn read_parquet<T: FlatRecord>(path: &Path) -> Result<Vec<T>, FileError> {
    let file = File::open(path).map_err(io_error(path))?;
    let reader = SerializedFileReader::new(file).map_err(pq_error(path))?;
    let rows = reader.get_row_iter(None).map_err(pq_error(path))?;
    let mut out = Vec::new();
    for row in rows {
        let row = row.map_err(pq_error(path))?;
        let record = T::read(&mut ParquetRow::new(&row));
        out.push(record.map_err(|error| FileError::Schema { path: path.to_owned(), message: error.to_string() })?);
    }
    Ok(out)
}

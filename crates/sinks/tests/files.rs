//! Parquet and CSV output: hourly rolling, clean close, read-back of row counts, values and column types.

use std::path::{Path, PathBuf};

use parquet::basic::{LogicalType, Repetition, TimeUnit, Type as PhysicalType};
use parquet::file::reader::{FileReader, SerializedFileReader};
use perpspread_sinks::files::{
    read_opportunities, read_opportunities_csv, read_snapshots_parquet, FileFormat, FileSink, FileSinkConfig,
    FileSinkHandle, OpportunityRecord, SnapshotRecord, OPPORTUNITY_COLUMNS, SNAPSHOT_COLUMNS,
};

use perpspread_sinks::testkit::{closed, scenario};

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn expected_records(events: &[perpspread_core::engine::OpportunityEvent]) -> Vec<OpportunityRecord> {
    closed(events).into_iter().map(|e| OpportunityRecord::from_opportunity(&e.opportunity)).collect()
}

#[test]
fn parquet_rolls_hourly_and_reads_back_typed() {
    let s = scenario(200);
    let dir = tempfile::tempdir().unwrap();
    let mut sink = FileSink::create(&FileSinkConfig { row_group_rows: 64, ..FileSinkConfig::new(dir.path()) }).unwrap();
    for event in &s.events {
        sink.on_event(event).unwrap();
    }
    for snapshot in &s.snapshots {
        sink.on_snapshot(snapshot).unwrap();
    }
    let written = sink.finish().unwrap();
    // 13:58:20 → 14:01:40 crosses 14:00: two hours of each stream, no partial file left.
    assert_eq!(
        names(dir.path()),
        [
            "opportunities-2024-05-13T13.parquet",
            "opportunities-2024-05-13T14.parquet",
            "spreads-2024-05-13T13.parquet",
            "spreads-2024-05-13T14.parquet"
        ]
    );
    let expected = expected_records(&s.events);
    assert!(expected.len() > 40, "{}", expected.len());
    let mut read = Vec::new();
    let mut snapshot_rows = Vec::new();
    for file in &written {
        let name = file.path.file_name().unwrap().to_string_lossy();
        if name.starts_with("opportunities") {
            let rows = read_opportunities(&file.path).unwrap();
            assert_eq!(rows.len() as u64, file.rows);
            read.extend(rows);
        } else {
            let rows = read_snapshots_parquet(&file.path).unwrap();
            assert_eq!(rows.len() as u64, file.rows);
            snapshot_rows.extend(rows);
        }
    }
    assert_eq!(read, expected, "every lifecycle field survives the round trip");
    let expected_snapshots: Vec<SnapshotRecord> = s.snapshots.iter().flat_map(SnapshotRecord::rows).collect();
    assert_eq!(snapshot_rows.len(), expected_snapshots.len());
    assert_eq!(snapshot_rows, expected_snapshots);

    // Column types as written in the file footer.
    let check = |path: &PathBuf, columns: &[perpspread_sinks::files::Column]| {
        let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
        let meta = reader.metadata();
        assert!(meta.num_row_groups() >= 1);
        let schema = meta.file_metadata().schema_descr();
        assert_eq!(schema.num_columns(), columns.len());
        for (index, column) in columns.iter().enumerate() {
            let descr = schema.column(index);
            assert_eq!(descr.name(), column.name);
            let field = descr.self_type();
            let repetition = if column.nullable { Repetition::OPTIONAL } else { Repetition::REQUIRED };
            assert_eq!(field.get_basic_info().repetition(), repetition, "{}", column.name);
            use perpspread_sinks::files::ColumnKind::*;
            match column.kind {
                TimestampNs => {
                    assert_eq!(descr.physical_type(), PhysicalType::INT64);
                    assert_eq!(
                        descr.logical_type_ref(),
                        Some(&LogicalType::timestamp(true, TimeUnit::NANOS)),
                        "{} is a UTC ns timestamp",
                        column.name
                    );
                }
                Int64 => assert_eq!(descr.physical_type(), PhysicalType::INT64),
                Float64 => assert_eq!(descr.physical_type(), PhysicalType::DOUBLE),
                Utf8 => {
                    assert_eq!(descr.physical_type(), PhysicalType::BYTE_ARRAY);
                    assert_eq!(descr.logical_type_ref(), Some(&LogicalType::String));
                }
            }
        }
        meta.file_metadata().num_rows()
    };
    let mut total = 0;
    for file in &written {
        let name = file.path.file_name().unwrap().to_string_lossy().into_owned();
        let columns = if name.starts_with("opportunities") { OPPORTUNITY_COLUMNS } else { SNAPSHOT_COLUMNS };
        let rows = check(&file.path, columns);
        assert_eq!(rows as u64, file.rows);
        if name.starts_with("opportunities") {
            total += rows as usize;
        }
    }
    assert_eq!(total, expected.len());
}

#[test]
fn csv_option_has_the_same_rows() {
    let s = scenario(120);
    let dir = tempfile::tempdir().unwrap();
    let config = FileSinkConfig { format: FileFormat::Csv, snapshots: false, ..FileSinkConfig::new(dir.path()) };
    let mut sink = FileSink::create(&config).unwrap();
    for event in &s.events {
        sink.on_event(event).unwrap();
    }
    let written = sink.finish().unwrap();
    assert_eq!(written.len(), 2, "{written:?}");
    let mut rows = Vec::new();
    for file in &written {
        let text = std::fs::read_to_string(&file.path).unwrap();
        let header = text.lines().next().unwrap();
        assert_eq!(header.split(',').count(), OPPORTUNITY_COLUMNS.len());
        assert!(header.starts_with("id,pair,direction,"));
        rows.extend(read_opportunities_csv(&file.path).unwrap());
    }
    assert_eq!(rows, expected_records(&s.events));
}

#[test]
fn drop_closes_files_and_restarts_do_not_overwrite() {
    let s = scenario(30);
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let mut sink = FileSink::create(&FileSinkConfig::new(dir.path())).unwrap();
        for event in &s.events {
            sink.on_event(event).unwrap();
        }
        // Dropped without finish(): still closed cleanly.
    }
    let names = names(dir.path());
    assert_eq!(names, ["opportunities-2024-05-13T13-1.parquet", "opportunities-2024-05-13T13.parquet"]);
    for name in names {
        let rows = read_opportunities(&dir.path().join(name)).unwrap();
        assert_eq!(rows.len(), closed(&s.events).len());
    }
}

#[test]
fn threaded_handle_writes_everything() {
    let s = scenario(120);
    let dir = tempfile::tempdir().unwrap();
    let handle = FileSinkHandle::spawn(&FileSinkConfig::new(dir.path()), 100_000).unwrap();
    for event in &s.events {
        assert!(handle.on_event(event));
    }
    for snapshot in &s.snapshots {
        assert!(handle.on_snapshot(snapshot));
    }
    assert!(handle.flush());
    assert_eq!(handle.dropped(), 0);
    let written = handle.finish().unwrap();
    let rows: u64 = written.iter().filter(|f| f.path.to_string_lossy().contains("opportunities")).map(|f| f.rows).sum();
    assert_eq!(rows as usize, closed(&s.events).len());
    assert!(names(dir.path()).iter().all(|n| !n.ends_with(".partial")));
}

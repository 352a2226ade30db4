//! Capture format v1: one JSON object per received message, in receive order.
//!
//! ```text
//! {"ts_ns": 1626992741062170112, "venue": "binance", "src": "ws", "data": "<frame text exactly as received>"}
//! {"ts_ns": 1626992741301402112, "venue": "binance", "src": "rest", "url": "/fapi/v1/depth?symbol=SUSHIUSDT&limit=1000", "data": "<body>"}
//! ```
//!
//! Files ending in `.zst` are zstd-compressed. The [`CaptureReader`] decodes lines into a reused
//! [`Record`] (no allocation per line once its buffers have grown); the [`CaptureWriter`] flushes on
//! demand so a crash loses at most the last flush interval, and rotates by size or age.

//!
//! Modules: [`reader`] (decoding, one line at a time), [`writer`] (buffered writing, rotation, crash
//! safety) and [`parts`] (the file names of a rotated recording).

use std::io;

use serde::Serialize;

pub mod parts;
pub mod reader;
pub mod writer;

pub use parts::{group_parts, part_path};
pub use reader::{is_zstd, parse_line, zstd_reader, CaptureReader, LineError};
pub use writer::{CaptureWriter, Rotation};

/// Why a capture could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{path}: {error}")]
    Io { path: String, error: io::Error },
    #[error("{path} already exists: a capture is never overwritten; choose another file name or remove it")]
    Exists { path: String },
    #[error("{path}: a capture is written as .jsonl or .jsonl.zst (zstd); this name says otherwise")]
    Extension { path: String },
    #[error("{path} line {line}: {message}")]
    Line { path: String, line: u64, message: String },
    /// The file ends in the middle of a record (a recording killed before it could close the file): everything
    /// before the cut is whole.
    #[error(
        "{path} ends in the middle of line {line} ({detail}): the recording was cut short; everything before was read"
    )]
    CutShort { path: String, line: u64, detail: String },
}

impl CaptureError {
    /// Whether the capture merely ends early (a killed recording), as opposed to damage in the middle.
    pub fn is_cut_short(&self) -> bool {
        matches!(self, CaptureError::CutShort { .. })
    }
}

/// Origin of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Src {
    #[default]
    Ws,
    Rest,
}

/// One record, with buffers reused from line to line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// Local receive time, Unix ns.
    pub ts_ns: u64,
    pub venue: String,
    pub src: Src,
    /// REST path and query (empty for WebSocket frames).
    pub url: String,
    /// The raw frame or body.
    pub data: String,
}

/// A record borrowed from the caller, for writing.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RecordRef<'a> {
    pub ts_ns: u64,
    pub venue: &'a str,
    pub src: Src,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<&'a str>,
    pub data: &'a str,
}

impl Record {
    /// The record as written by [`CaptureWriter::write`] (an empty `url` is none).
    pub fn as_ref(&self) -> RecordRef<'_> {
        RecordRef {
            ts_ns: self.ts_ns,
            venue: &self.venue,
            src: self.src,
            url: (!self.url.is_empty()).then_some(self.url.as_str()),
            data: &self.data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn sample(i: u64) -> RecordRef<'static> {
        RecordRef {
            ts_ns: 1_000 + i,
            venue: if i.is_multiple_of(2) { "okx" } else { "binance" },
            src: if i.is_multiple_of(3) { Src::Rest } else { Src::Ws },
            url: if i.is_multiple_of(3) { Some("/fapi/v1/depth?symbol=BTCUSDT&limit=1000") } else { None },
            data: "{\"arg\":{\"channel\":\"books\"},\"data\":[\"a\\\"b\"]}",
        }
    }

    /// Only the last part of a recording may merely end early; a cut inside an earlier part is damage. A name in
    /// capitals is still zstd.
    #[test]
    fn a_cut_counts_only_at_the_end_of_the_last_part() {
        let dir = tempfile::tempdir().unwrap();
        let line = serde_json::to_string(&sample(1)).unwrap();
        let cut = format!("{line}\n{}", &line[..line.len() / 2]);
        let (first, second) = (dir.path().join("r.jsonl"), dir.path().join("r.0001.jsonl"));
        std::fs::write(&first, &cut).unwrap();
        std::fs::write(&second, format!("{line}\n")).unwrap();
        let read_all = |parts: &[PathBuf]| {
            let mut reader = CaptureReader::open_parts(parts).unwrap();
            let mut record = Record::default();
            loop {
                match reader.next_into(&mut record) {
                    Ok(true) => {}
                    Ok(false) => return None,
                    Err(error) => return Some(error),
                }
            }
        };
        assert!(
            read_all(std::slice::from_ref(&first)).is_some_and(|e| e.is_cut_short()),
            "alone, the part is cut short"
        );
        let error = read_all(&[first, second]).expect("an error");
        assert!(!error.is_cut_short(), "a later part follows: {error}");
        assert!(is_zstd(Path::new("X.JSONL.ZST")) && !is_zstd(Path::new("x.jsonl")));
    }

    fn round_trip(name: &str) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        let mut writer = CaptureWriter::create(&path, Rotation::default()).unwrap();
        for i in 0..100 {
            writer.write(sample(i)).unwrap();
        }
        writer.finish().unwrap();
        let mut reader = CaptureReader::open(&path).unwrap();
        let mut record = Record::default();
        let mut i = 0;
        while reader.next_into(&mut record).unwrap() {
            let expected = sample(i);
            assert_eq!(record.ts_ns, expected.ts_ns);
            assert_eq!(record.venue, expected.venue);
            assert_eq!(record.src, expected.src);
            assert_eq!(record.url, expected.url.unwrap_or(""));
            assert_eq!(record.data, expected.data);
            i += 1;
        }
        assert_eq!(i, 100);
    }

    #[test]
    fn plain_and_zstd_round_trip() {
        round_trip("c.jsonl");
        round_trip("c.jsonl.zst");
    }

    #[test]
    fn reads_the_real_fixture_format() {
        let mut record = Record::default();
        parse_line(
            r#"{"ts_ns":1626992741301402112,"venue":"binance","src":"rest","url":"/fapi/v1/depth?symbol=SUSHIUSDT&limit=1000","data":"{\"lastUpdateId\":1}"}"#,
            &mut record,
        )
        .unwrap();
        assert_eq!(record.src, Src::Rest);
        assert_eq!(record.data, r#"{"lastUpdateId":1}"#);
        for bad in [
            r#"{"ts_ns":1,"venue":"okx","src":"ws"}"#,
            r#"{"ts_ns":1,"venue":"okx","src":"tcp","data":""}"#,
            "not json",
            r#"{"ts_ns":-1,"venue":"okx","src":"ws","data":""}"#,
            r#"{"ts_ns":1.5,"venue":"okx","src":"ws","data":""}"#,
            r#"{"ts_ns":1,"venue":"okx","src":"ws","data":""} trailing"#,
            r#"{"ts_ns":1,"venue":"okx","src":"ws","data":"unterminated}"#,
        ] {
            assert!(parse_line(bad, &mut record).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        /// Whatever the writer serializes, the reader gives back, with member order and extra members free.
        #[test]
        fn lines_read_back_what_was_written(
            ts_ns in proptest::prelude::any::<u64>(),
            venue in ".*",
            url in proptest::option::of(".*"),
            data in ".*",
            rest in proptest::prelude::any::<bool>(),
            reordered in proptest::prelude::any::<bool>(),
        ) {
            let src = if rest { Src::Rest } else { Src::Ws };
            let written = RecordRef { ts_ns, venue: &venue, src, url: url.as_deref(), data: &data };
            let line = if reordered {
                let mut value = serde_json::to_value(written).unwrap();
                value["extra"] = serde_json::json!({"nested": [1, "x"]});
                // serde_json's map is sorted by key, so this moves `data` before `src`, `ts_ns` and `venue`.
                serde_json::to_string(&value).unwrap()
            } else {
                serde_json::to_string(&written).unwrap()
            };
            let mut record = Record { url: "stale".into(), ..Record::default() };
            parse_line(&line, &mut record).unwrap();
            proptest::prop_assert_eq!(
                record,
                Record { ts_ns, venue, src, url: url.unwrap_or_default(), data }
            );
        }
    }

    #[test]
    fn an_existing_capture_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kept.jsonl");
        std::fs::write(&path, "recorded earlier\n").unwrap();
        let error = CaptureWriter::create(&path, Rotation::default()).unwrap_err();
        assert!(matches!(error, CaptureError::Exists { .. }), "{error:?}");
        assert!(error.to_string().contains("already exists"), "{error}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "recorded earlier\n");
        // Rotation skips a part number an earlier recording left behind.
        let base = dir.path().join("rot.jsonl");
        std::fs::write(dir.path().join("rot.0001.jsonl"), "earlier part\n").unwrap();
        let mut writer = CaptureWriter::create(&base, Rotation { max_bytes: Some(300), max_age: None }).unwrap();
        for i in 0..10 {
            writer.write(sample(i)).unwrap();
        }
        let names: Vec<_> = writer.parts().iter().map(|p| p.file_name().unwrap().to_owned()).collect();
        assert_eq!(names[..2], ["rot.jsonl", "rot.0002.jsonl"]);
        assert_eq!(std::fs::read_to_string(dir.path().join("rot.0001.jsonl")).unwrap(), "earlier part\n");
        // What can be made again may be replaced.
        CaptureWriter::create_or_replace(&path, Rotation::default()).unwrap().finish().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
    }

    /// A writer rotating every `max_bytes` after writing `count` sample records.
    fn write_rotated(path: &Path, max_bytes: u64, count: u64) -> CaptureWriter {
        let mut writer = CaptureWriter::create(path, Rotation { max_bytes: Some(max_bytes), max_age: None }).unwrap();
        for i in 0..count {
            writer.write(sample(i)).unwrap();
        }
        writer
    }

    /// Reads every record, up to the first error.
    fn read_to_end(reader: &mut CaptureReader) -> Result<(), CaptureError> {
        let mut record = Record::default();
        while reader.next_into(&mut record)? {}
        Ok(())
    }

    #[test]
    fn rotates_by_size_and_flushes_readable_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = write_rotated(&dir.path().join("rot.jsonl"), 1000, 50);
        writer.flush().unwrap();
        let parts = writer.parts().to_vec();
        assert!(parts.len() > 2, "{parts:?}");
        assert_eq!(parts[1].file_name().unwrap(), "rot.0001.jsonl");
        // Everything flushed is readable before the writer is closed.
        let total: usize = parts.iter().map(|p| std::fs::read_to_string(p).unwrap().lines().count()).sum();
        assert_eq!(total, 50);
    }

    #[test]
    fn rotated_parts_read_back_as_one_recording() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("rec.jsonl.zst");
        let writer = write_rotated(&base, 400, 60);
        let parts = writer.parts().to_vec();
        writer.finish().unwrap();
        assert!(parts.len() > 10, "{parts:?}");
        // Given in any order (a shell glob puts `rec.jsonl.zst` last), with another file among them.
        let other = dir.path().join("other.jsonl");
        std::fs::write(&other, "").unwrap();
        let mut given: Vec<PathBuf> = parts.iter().rev().cloned().collect();
        given.insert(3, other.clone());
        let recordings = group_parts(&given);
        assert_eq!(recordings.len(), 2, "{recordings:?}");
        let rec = recordings.iter().find(|r| r[0] == base).unwrap();
        assert_eq!(rec, &parts);
        assert_eq!(recordings.iter().find(|r| r[0] == other).unwrap(), std::slice::from_ref(&other));
        let mut reader = CaptureReader::open_parts(rec).unwrap();
        let mut record = Record::default();
        let mut seen = Vec::new();
        while reader.next_into(&mut record).unwrap() {
            seen.push(record.ts_ns);
        }
        assert_eq!(seen, (0..60).map(|i| sample(i).ts_ns).collect::<Vec<_>>());
        // Parts out of order are an error naming the part, after the records before it.
        let mut reader = CaptureReader::open_parts(&[parts[1].clone(), parts[0].clone()]).unwrap();
        let error = read_to_end(&mut reader).unwrap_err().to_string();
        assert!(error.contains("rec.jsonl.zst line 1: starts before the previous part started"), "{error}");
    }

    #[test]
    fn parts_may_overlap_by_receive_jitter() {
        // Frames of several connections meet in one queue: a part may start a little before the previous
        // one's last record.
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, times: &[u64]| {
            let path = dir.path().join(name);
            let mut writer = CaptureWriter::create(&path, Rotation::default()).unwrap();
            for &ts_ns in times {
                writer.write(RecordRef { ts_ns, ..sample(0) }).unwrap();
            }
            writer.finish().unwrap();
            path
        };
        let parts = [write("j.jsonl", &[100, 300, 250]), write("j.0001.jsonl", &[240, 400])];
        let mut reader = CaptureReader::open_parts(&parts).unwrap();
        read_to_end(&mut reader).unwrap();
        // Given twice, or once as ./name: one recording, each file once.
        let relative = [PathBuf::from("j.jsonl"), PathBuf::from("./j.0001.jsonl"), PathBuf::from("j.jsonl")];
        assert_eq!(group_parts(&relative), [vec![PathBuf::from("j.jsonl"), PathBuf::from("./j.0001.jsonl")]]);
        assert_eq!(group_parts(&[parts[0].clone(), parts[1].clone(), parts[1].clone()]), [parts.to_vec()]);
    }

    #[test]
    fn only_names_the_writer_gives_are_parts() {
        let dir = Path::new("/data");
        let base = dir.join("btc.2026.jsonl");
        let files = [
            base.clone(),
            dir.join("btc.0001.2026.jsonl"),
            dir.join("btc.0002.jsonl"),
            dir.join("btc.001.2026.jsonl"),
            Path::new("/elsewhere/btc.0003.2026.jsonl").to_owned(),
        ];
        let recordings = group_parts(&files);
        assert_eq!(recordings[0], files[..2]);
        assert_eq!(recordings.len(), 4);
    }

    #[test]
    fn truncated_zstd_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl.zst");
        let mut writer = CaptureWriter::create(&path, Rotation::default()).unwrap();
        for i in 0..1000 {
            writer.write(sample(i)).unwrap();
        }
        writer.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let mut reader = CaptureReader::open(&path).unwrap();
        assert!(read_to_end(&mut reader).is_err() || reader.line_number() < 1000);
    }
}

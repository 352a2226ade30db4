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

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use perpspread_core::wire::JsonCursor;
use serde::Serialize;

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

/// Reads a capture file line by line; a recording rotated into parts reads as one (see
/// [`CaptureReader::open_parts`]).
pub struct CaptureReader {
    input: Box<dyn BufRead + Send>,
    path: String,
    line: String,
    line_no: u64,
    /// Parts still to read after this one, in order.
    next_parts: std::collections::VecDeque<PathBuf>,
    /// Receive time of the first record of the part before (a part must not start before it).
    part_first_ts_ns: u64,
    /// No record of the current part read yet.
    at_part_start: bool,
}

impl fmt::Debug for CaptureReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaptureReader").field("path", &self.path).field("line", &self.line_no).finish()
    }
}

impl CaptureReader {
    /// Opens a `.jsonl` or `.jsonl.zst` capture.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let (input, name) = open_input(path)?;
        Ok(Self::from_reader(input, name))
    }

    /// Opens the parts of one recording (`rec.jsonl`, `rec.0001.jsonl`, … as [`CaptureWriter`] rotates
    /// them), to be read in the given order as one capture. Each part must start no earlier than the
    /// previous one started; otherwise reading stops with an error naming the part.
    pub fn open_parts(parts: &[PathBuf]) -> Result<Self, CaptureError> {
        let Some((first, rest)) = parts.split_first() else {
            return Err(CaptureError::Io {
                path: String::new(),
                error: io::Error::new(io::ErrorKind::InvalidInput, "no capture file given"),
            });
        };
        let mut reader = Self::open(first)?;
        reader.next_parts = rest.iter().cloned().collect();
        Ok(reader)
    }

    /// Reads from any buffered input (`name` is used in errors).
    pub fn from_reader(input: Box<dyn BufRead + Send>, name: String) -> Self {
        CaptureReader {
            input,
            path: name,
            line: String::with_capacity(1 << 12),
            line_no: 0,
            next_parts: Default::default(),
            part_first_ts_ns: 0,
            at_part_start: true,
        }
    }

    /// Number of lines read so far in the current file.
    pub fn line_number(&self) -> u64 {
        self.line_no
    }

    /// Reads the next record into `record`; `Ok(false)` at the end of the last part. Blank lines are skipped.
    pub fn next_into(&mut self, record: &mut Record) -> Result<bool, CaptureError> {
        loop {
            if self.next_line_into(record)? {
                // Records are in receive order only roughly (frames of several connections meet in one
                // queue), so a part is checked against where the part before it started, not ended.
                if std::mem::take(&mut self.at_part_start) {
                    if record.ts_ns < self.part_first_ts_ns {
                        return Err(CaptureError::Line {
                            path: self.path.clone(),
                            line: self.line_no,
                            message: "starts before the previous part started: not the next part of the same \
                                      recording (give one recording's parts, in order)"
                                .into(),
                        });
                    }
                    self.part_first_ts_ns = record.ts_ns;
                }
                return Ok(true);
            }
            let Some(next) = self.next_parts.pop_front() else {
                return Ok(false);
            };
            let (input, name) = open_input(&next)?;
            (self.input, self.path, self.line_no, self.at_part_start) = (input, name, 0, true);
        }
    }
}

/// Opens a capture file for reading, decompressing `.zst`; the input and the name used in errors.
fn open_input(path: &Path) -> Result<(Box<dyn BufRead + Send>, String), CaptureError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|error| CaptureError::Io { path: name.clone(), error })?;
    let input: Box<dyn BufRead + Send> = if is_zstd(path) {
        let decoder =
            zstd::stream::read::Decoder::new(file).map_err(|error| CaptureError::Io { path: name.clone(), error })?;
        Box::new(BufReader::with_capacity(1 << 16, decoder))
    } else {
        Box::new(BufReader::with_capacity(1 << 16, file))
    };
    Ok((input, name))
}

impl CaptureReader {
    /// Reads the next record of the current file; `Ok(false)` at its end.
    fn next_line_into(&mut self, record: &mut Record) -> Result<bool, CaptureError> {
        loop {
            self.line.clear();
            let read = self.input.read_line(&mut self.line).map_err(|error| match error.kind() {
                // zstd: the last frame is incomplete (only the last part of a recording may end early).
                io::ErrorKind::UnexpectedEof if self.next_parts.is_empty() => CaptureError::CutShort {
                    path: self.path.clone(),
                    line: self.line_no + 1,
                    detail: error.to_string(),
                },
                _ => CaptureError::Line {
                    path: self.path.clone(),
                    line: self.line_no + 1,
                    message: format!("cannot read ({error}); the file may be truncated or not a capture"),
                },
            })?;
            if read == 0 {
                return Ok(false);
            }
            self.line_no += 1;
            let text = self.line.trim_end();
            if text.is_empty() {
                continue;
            }
            // A last line without its newline that does not parse was cut mid-write.
            let unterminated = !self.line.ends_with('\n') && self.next_parts.is_empty();
            parse_line(text, record).map_err(|error| match unterminated {
                true => {
                    CaptureError::CutShort { path: self.path.clone(), line: self.line_no, detail: error.to_string() }
                }
                false => CaptureError::Line { path: self.path.clone(), line: self.line_no, message: error.to_string() },
            })?;
            return Ok(true);
        }
    }
}

/// Why a line is not a capture record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("not a capture record {{ts_ns, venue, src, [url], data}}: {0}")]
    Shape(String),
    #[error("unknown src {0:?} (expected ws or rest)")]
    UnknownSource(String),
    #[error("missing field `{0}`")]
    Missing(&'static str),
}

/// Parses one capture line into `record`, reusing its buffers.
pub fn parse_line(text: &str, record: &mut Record) -> Result<(), LineError> {
    record.url.clear();
    let (mut ts, mut venue, mut src, mut data) = (false, false, false, false);
    let mut unknown_src = None;
    let mut cursor = JsonCursor::new(text);
    cursor
        .object(|cursor, key| {
            match key {
                "ts_ns" => {
                    record.ts_ns = cursor.u64()?;
                    ts = true;
                }
                "venue" => {
                    cursor.string_into(&mut record.venue)?;
                    venue = true;
                }
                "src" => {
                    let text = cursor.string()?;
                    record.src = match text.as_ref() {
                        "ws" => Src::Ws,
                        "rest" => Src::Rest,
                        other => {
                            unknown_src.get_or_insert_with(|| other.to_owned());
                            Src::Ws
                        }
                    };
                    src = true;
                }
                "url" => cursor.string_into(&mut record.url)?,
                "data" => {
                    cursor.string_into(&mut record.data)?;
                    data = true;
                }
                _ => cursor.skip()?,
            }
            Ok(())
        })
        .and_then(|()| cursor.end())
        .map_err(|e| LineError::Shape(e.to_string()))?;
    if let Some(other) = unknown_src {
        return Err(LineError::UnknownSource(other));
    }
    for (present, field) in [(ts, "ts_ns"), (venue, "venue"), (src, "src"), (data, "data")] {
        if !present {
            return Err(LineError::Missing(field));
        }
    }
    Ok(())
}

/// When a writer starts a new file.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rotation {
    /// Start a new part once this many bytes (before compression) were written.
    pub max_bytes: Option<u64>,
    /// Start a new part after this long.
    pub max_age: Option<Duration>,
}

/// zstd compression level of captures.
const ZSTD_LEVEL: i32 = 3;

enum Sink {
    Plain(BufWriter<File>),
    Zstd(zstd::stream::write::Encoder<'static, BufWriter<File>>),
}

impl Sink {
    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Sink::Plain(w) => w,
            Sink::Zstd(w) => w,
        }
    }

    fn finish(self) -> io::Result<()> {
        match self {
            Sink::Plain(mut w) => w.flush(),
            Sink::Zstd(w) => w.finish()?.flush(),
        }
    }
}

/// Writes capture records, optionally zstd-compressed and rotated.
pub struct CaptureWriter {
    base: PathBuf,
    sink: Option<Sink>,
    rotation: Rotation,
    part: u32,
    bytes: u64,
    opened: Instant,
    records: u64,
    total_bytes: u64,
    line: Vec<u8>,
    /// Records written since the zstd frame was last closed.
    frame_open: bool,
    parts: Vec<PathBuf>,
}

impl fmt::Debug for CaptureWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaptureWriter").field("base", &self.base).field("part", &self.part).finish()
    }
}

impl CaptureWriter {
    /// Creates `path` (zstd when it ends in `.zst`); refuses an existing file, so nothing already recorded is
    /// lost. Rotated parts skip numbers whose files exist.
    pub fn create(path: &Path, rotation: Rotation) -> Result<Self, CaptureError> {
        Self::create_with(path, rotation, false)
    }

    /// Like [`CaptureWriter::create`], replacing an existing file at `path` (for data that can be made again,
    /// such as a generated capture).
    pub fn create_or_replace(path: &Path, rotation: Rotation) -> Result<Self, CaptureError> {
        Self::create_with(path, rotation, true)
    }

    fn create_with(path: &Path, rotation: Rotation, replace: bool) -> Result<Self, CaptureError> {
        // Write what the name says: JSON lines, compressed only with zstd (a `.gz` would hold plain text).
        let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
        if !(name.ends_with(".jsonl") || name.ends_with(".jsonl.zst")) {
            return Err(CaptureError::Extension { path: path.display().to_string() });
        }
        let mut writer = CaptureWriter {
            base: path.to_owned(),
            sink: None,
            rotation,
            part: 0,
            bytes: 0,
            opened: Instant::now(),
            records: 0,
            total_bytes: 0,
            line: Vec::with_capacity(1 << 12),
            frame_open: false,
            parts: Vec::new(),
        };
        writer.open_part(replace)?;
        Ok(writer)
    }

    /// Files written so far (the first is the path given to `create`).
    pub fn parts(&self) -> &[PathBuf] {
        &self.parts
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Bytes written so far over all parts, before compression.
    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    /// Appends one record.
    pub fn write(&mut self, record: RecordRef<'_>) -> Result<(), CaptureError> {
        if self.should_rotate() {
            self.rotate()?;
        }
        self.line.clear();
        serde_json::to_writer(&mut self.line, &record).map_err(|e| self.io_error(io::Error::other(e)))?;
        self.line.push(b'\n');
        let Some(sink) = self.sink.as_mut() else {
            return Err(self.io_error(io::Error::other("the capture file could not be reopened after an error")));
        };
        if let Err(error) = sink.writer().write_all(&self.line) {
            return Err(self.io_error(error));
        }
        self.frame_open = true;
        self.bytes += self.line.len() as u64;
        self.total_bytes += self.line.len() as u64;
        self.records += 1;
        Ok(())
    }

    /// Pushes everything written so far to the file. A zstd capture closes its frame here and starts the next
    /// (a file of several frames reads as one): a recording killed later is whole up to this point, so calling
    /// this every second bounds what a SIGKILL loses to about a second.
    pub fn flush(&mut self) -> Result<(), CaptureError> {
        let result = match self.sink.take() {
            Some(Sink::Zstd(encoder)) if self.frame_open => encoder.finish().and_then(|mut file| {
                file.flush()?;
                Ok(Sink::Zstd(zstd::stream::write::Encoder::new(file, ZSTD_LEVEL)?))
            }),
            Some(mut sink) => sink.writer().flush().map(|()| sink),
            None => return Ok(()),
        };
        self.frame_open = false;
        match result {
            Ok(sink) => {
                self.sink = Some(sink);
                Ok(())
            }
            Err(error) => Err(self.io_error(error)),
        }
    }

    /// Flushes and closes the current file cleanly (completes the zstd frame).
    pub fn finish(mut self) -> Result<(), CaptureError> {
        self.close_part()
    }

    fn should_rotate(&self) -> bool {
        self.rotation.max_bytes.is_some_and(|max| self.bytes >= max)
            || self.rotation.max_age.is_some_and(|age| self.opened.elapsed() >= age)
    }

    fn rotate(&mut self) -> Result<(), CaptureError> {
        self.close_part()?;
        self.part += 1;
        self.open_part(false)
    }

    fn close_part(&mut self) -> Result<(), CaptureError> {
        match self.sink.take() {
            Some(sink) => sink.finish().map_err(|e| self.io_error(e)),
            None => Ok(()),
        }
    }

    fn open_part(&mut self, replace: bool) -> Result<(), CaptureError> {
        let (path, file) = loop {
            let path = part_path(&self.base, self.part);
            let opened = if replace { File::create(&path) } else { File::create_new(&path) };
            match opened {
                Ok(file) => break (path, file),
                // A rotated part skips a number left by an earlier recording rather than stop or overwrite.
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists && self.part > 0 && self.part < MAX_PART => {
                    self.part += 1;
                }
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(CaptureError::Exists { path: path.display().to_string() })
                }
                Err(error) => return Err(CaptureError::Io { path: path.display().to_string(), error }),
            }
        };
        let buffered = BufWriter::with_capacity(1 << 16, file);
        self.sink = Some(if is_zstd(&path) {
            let encoder = zstd::stream::write::Encoder::new(buffered, ZSTD_LEVEL).map_err(|e| self.io_error(e))?;
            Sink::Zstd(encoder)
        } else {
            Sink::Plain(buffered)
        });
        self.bytes = 0;
        self.opened = Instant::now();
        self.parts.push(path);
        Ok(())
    }

    fn io_error(&self, error: io::Error) -> CaptureError {
        CaptureError::Io { path: part_path(&self.base, self.part).display().to_string(), error }
    }
}

impl Drop for CaptureWriter {
    fn drop(&mut self) {
        let _ = self.close_part();
    }
}

/// A buffered zstd decoder over in-memory bytes (for [`CaptureReader::from_reader`]).
pub fn zstd_reader(bytes: &[u8]) -> std::io::Result<Box<dyn BufRead + Send>> {
    let decoder = zstd::stream::read::Decoder::new(std::io::Cursor::new(bytes.to_vec()))?;
    Ok(Box::new(BufReader::new(decoder)))
}

/// Whether a path names a zstd-compressed capture.
pub fn is_zstd(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext.eq_ignore_ascii_case("zst"))
}

/// Highest part number tried when rotating past existing files.
const MAX_PART: u32 = 9_999;

/// `capture.jsonl` → `capture.jsonl` (part 0), `capture.0001.jsonl` (part 1), …
pub fn part_path(base: &Path, part: u32) -> PathBuf {
    if part == 0 {
        return base.to_owned();
    }
    let name = base.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (stem, extensions) = match name.find('.') {
        Some(dot) => (&name[..dot], &name[dot..]),
        None => (name.as_str(), ""),
    };
    base.with_file_name(format!("{stem}.{part:04}{extensions}"))
}

/// Sorts capture files into recordings: each file with the later parts of it that are also given
/// ([`part_path`] names in the same folder, in part order), recordings in the order their first part was
/// given. A file given twice counts once.
pub fn group_parts(files: &[PathBuf]) -> Vec<Vec<PathBuf>> {
    let mut unique: Vec<&PathBuf> = Vec::with_capacity(files.len());
    let mut seen = std::collections::HashSet::new();
    for file in files {
        if seen.insert(normalized(file)) {
            unique.push(file);
        }
    }
    let index: std::collections::HashMap<PathBuf, usize> =
        unique.iter().enumerate().map(|(i, file)| (normalized(file), i)).collect();
    // For each file, the given base it is a later part of, and its part number.
    let part_of: Vec<Option<(usize, u32)>> = unique
        .iter()
        .map(|file| {
            let (base, part) = split_part(file)?;
            let &i = index.get(&normalized(&base))?;
            (normalized(&part_path(unique[i], part)) == normalized(file)).then_some((i, part))
        })
        .collect();
    let mut recordings = Vec::new();
    for (i, base) in unique.iter().enumerate() {
        if part_of[i].is_some() {
            continue;
        }
        let mut parts: Vec<(u32, &PathBuf)> = unique
            .iter()
            .zip(&part_of)
            .filter_map(|(file, of)| of.filter(|(b, _)| *b == i).map(|(_, part)| (part, *file)))
            .collect();
        parts.push((0, base));
        parts.sort_by_key(|(part, _)| *part);
        recordings.push(parts.into_iter().map(|(_, path)| path.clone()).collect());
    }
    recordings
}

/// The base a [`part_path`] name was made from, and its part number (`rec.0003.jsonl` → `rec.jsonl`, 3).
fn split_part(file: &Path) -> Option<(PathBuf, u32)> {
    let name = file.file_name()?.to_str()?;
    let (stem, rest) = name.split_at(name.find('.')?);
    let rest = &rest[1..];
    let digits_end = rest.find('.').unwrap_or(rest.len());
    let (digits, extensions) = rest.split_at(digits_end);
    if digits.len() < 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let part = digits.parse().ok().filter(|part| *part >= 1)?;
    Some((file.with_file_name(format!("{stem}{extensions}")), part))
}

/// A path compared as a file: `rec.jsonl` and `./rec.jsonl` are the same.
fn normalized(path: &Path) -> PathBuf {
    path.components().filter(|c| !matches!(c, std::path::Component::CurDir)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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

//! Reading captures: plain or zstd files, a rotated recording's parts as one stream, each line decoded
//! into a reused [`Record`].

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use perpspread_core::wire::JsonCursor;

use crate::{CaptureError, Record, Src};

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

/// A buffered zstd decoder over in-memory bytes (for [`CaptureReader::from_reader`]).
pub fn zstd_reader(bytes: &[u8]) -> std::io::Result<Box<dyn BufRead + Send>> {
    let decoder = zstd::stream::read::Decoder::new(std::io::Cursor::new(bytes.to_vec()))?;
    Ok(Box::new(BufReader::new(decoder)))
}

/// Whether a path names a zstd-compressed capture.
pub fn is_zstd(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext.eq_ignore_ascii_case("zst"))
}

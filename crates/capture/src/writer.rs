//! Writing captures: buffered, flushed on demand (a crash loses at most the last flush interval), rotated
//! by size or age into numbered parts.

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::parts::{part_path, MAX_PART};
use crate::reader::is_zstd;
use crate::{CaptureError, RecordRef};

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

//! Importing history people already own into capture v1, so `replay` and `report` run on it.
//!
//! **Tardis.dev exchange-native replays**: NDJSON lines `{"localTimestamp":"2024-05-01T00:00:00.1234567Z",
//! "message":{…}}` as `tardis-machine`'s `GET /replay` and the `tardis-dev` clients serve them (read
//! 2026-12-07 from tardis-dev/tardis-machine `src/http/replay.ts` and tardis-dev/tardis-node
//! `src/mappers/binance.ts`, both of 2026-08-22). `message` is the venue's own frame; an empty line marks a
//! disconnect of the recording connection (the next messages start with fresh snapshots, which the feeds
//! take as they would live). One input per venue (Tardis ids `okex-swap`, `binance-futures`, `bybit`);
//! Binance's generated `depthSnapshot` messages become the REST responses they were taken from (see
//! `VenueAdapter::import_tardis_message`). Inputs may be plain or gzip (`.gz`) and are merged by local timestamp,
//! one line of each in memory at a time, so a day of data imports in bounded memory.
//!
//! Tardis datasets carry no instrument lists; the engine needs them (contract values, tick and lot sizes),
//! so each venue's list can be given as the body of its instruments endpoint, saved once
//! (`curl 'https://www.okx.com/api/v5/public/instruments?instType=SWAP' > okx.json`): it is checked and
//! written before the first message.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use perpspread_capture::{CaptureError, CaptureWriter, RecordRef, Rotation, Src};
use perpspread_core::{Venue, VenueMap};
use perpspread_net::venue::Imported;

/// What to import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Tardis.dev exchange-native replays, one per venue.
    pub tardis: Vec<(Venue, PathBuf)>,
    /// Bodies of the venues' instrument-list endpoints.
    pub instruments: Vec<(Venue, PathBuf)>,
    /// The capture to write (`.zst` compresses); never overwritten.
    pub out: PathBuf,
    pub rotation: Rotation,
}

/// What an import wrote.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportStats {
    /// Records written per venue (instrument lists included).
    pub records: VenueMap<u64>,
    /// Disconnect markers (empty lines) passed over.
    pub disconnects: u64,
    /// Receive time of the first and last message, Unix ns.
    pub span_ns: Option<(u64, u64)>,
    /// Capture files written (one, or the parts of a rotated capture).
    pub parts: Vec<PathBuf>,
}

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} line {line}: {message}")]
    Line { path: PathBuf, line: u64, message: String },
    #[error("{path}: not an instrument list of {venue}: {message}")]
    Instruments { path: PathBuf, venue: Venue, message: String },
    #[error("{0}: given twice (one input per venue)")]
    Duplicate(Venue),
    #[error("nothing to import: give at least one Tardis.dev replay")]
    NoInput,
    #[error(transparent)]
    Capture(#[from] CaptureError),
}

/// Reads `options.tardis`, merged by local timestamp, into a new capture; `progress` is told the input bytes
/// read so far (compressed bytes for `.gz`) about every 64 KiB.
pub fn import_tardis(options: &ImportOptions, progress: &mut dyn FnMut(u64)) -> Result<ImportStats, ImportError> {
    if options.tardis.is_empty() {
        return Err(ImportError::NoInput);
    }
    for (i, (venue, _)) in options.tardis.iter().enumerate() {
        if options.tardis[..i].iter().any(|(other, _)| other == venue) {
            return Err(ImportError::Duplicate(*venue));
        }
    }
    let listings = options
        .instruments
        .iter()
        .map(|(venue, path)| read_listing(*venue, path).map(|body| (*venue, body)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut inputs =
        options.tardis.iter().map(|(venue, path)| TardisInput::open(*venue, path)).collect::<Result<Vec<_>, _>>()?;
    let mut stats = ImportStats::default();
    for input in &mut inputs {
        input.advance(&mut stats)?;
    }
    let mut writer = CaptureWriter::create(&options.out, options.rotation)?;
    let first_ns = inputs.iter().filter_map(|i| i.next.as_ref().map(|n| n.0)).min();
    for (venue, body) in &listings {
        // Just before the first message: the engine starts from the lists, as in a live recording.
        let ts_ns = first_ns.unwrap_or(0).saturating_sub(1);
        let url = perpspread_venues::adapter(*venue).listing_path();
        writer.write(RecordRef { ts_ns, venue: venue.as_str(), src: Src::Rest, url: Some(url), data: body })?;
        stats.records[*venue] += 1;
    }
    let mut last_reported = 0;
    while let Some(index) = earliest(&inputs) {
        let input = &mut inputs[index];
        let (ts_ns, message) = input.next.take().expect("earliest input has a message");
        let imported = perpspread_venues::adapter(input.venue).import_tardis_message(&message).map_err(|error| {
            ImportError::Line { path: input.path.clone(), line: input.line, message: error.to_string() }
        })?;
        let venue = input.venue.as_str();
        match &imported {
            Imported::Ws(data) => writer.write(RecordRef { ts_ns, venue, src: Src::Ws, url: None, data })?,
            Imported::Rest { url, body } => {
                writer.write(RecordRef { ts_ns, venue, src: Src::Rest, url: Some(url), data: body })?
            }
        }
        stats.records[input.venue] += 1;
        stats.span_ns = Some(stats.span_ns.map_or((ts_ns, ts_ns), |(first, last)| (first.min(ts_ns), last.max(ts_ns))));
        input.advance(&mut stats)?;
        let read: u64 = inputs.iter().map(TardisInput::bytes_read).sum();
        if read >= last_reported + (1 << 16) {
            progress(read);
            last_reported = read;
        }
    }
    progress(inputs.iter().map(TardisInput::bytes_read).sum());
    stats.parts = writer.parts().to_vec();
    writer.finish()?;
    Ok(stats)
}

/// The input whose next message is the earliest (ties: the first given).
fn earliest(inputs: &[TardisInput]) -> Option<usize> {
    inputs.iter().enumerate().filter_map(|(i, input)| input.next.as_ref().map(|(ts, _)| (*ts, i))).min().map(|(_, i)| i)
}

fn read_listing(venue: Venue, path: &Path) -> Result<String, ImportError> {
    let body = std::fs::read_to_string(path).map_err(|source| ImportError::Io { path: path.to_owned(), source })?;
    let adapter = perpspread_venues::adapter(venue);
    let instruments_error = |message: String| ImportError::Instruments { path: path.to_owned(), venue, message };
    match adapter.parse_listing(adapter.listing_path(), body.as_bytes()) {
        Some(Ok(listing)) if !listing.instruments.is_empty() => Ok(body),
        Some(Ok(_)) => Err(instruments_error("no usable perpetual in it".into())),
        Some(Err(error)) => Err(instruments_error(error.to_string())),
        None => Err(instruments_error("the venue reads no list at its own path".into())),
    }
}

/// One Tardis replay being read.
struct TardisInput {
    venue: Venue,
    path: PathBuf,
    lines: Box<dyn BufRead>,
    read: std::rc::Rc<std::cell::Cell<u64>>,
    line: u64,
    buffer: String,
    /// The next message and its local timestamp, Unix ns.
    next: Option<(u64, String)>,
}

impl TardisInput {
    fn open(venue: Venue, path: &Path) -> Result<Self, ImportError> {
        let file = File::open(path).map_err(|source| ImportError::Io { path: path.to_owned(), source })?;
        let read = std::rc::Rc::new(std::cell::Cell::new(0));
        let counted = Counted { inner: file, read: read.clone() };
        let gz = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz"));
        let lines: Box<dyn BufRead> = if gz {
            Box::new(BufReader::with_capacity(1 << 16, flate2::read::MultiGzDecoder::new(counted)))
        } else {
            Box::new(BufReader::with_capacity(1 << 16, counted))
        };
        Ok(TardisInput { venue, path: path.to_owned(), lines, read, line: 0, buffer: String::new(), next: None })
    }

    fn bytes_read(&self) -> u64 {
        self.read.get()
    }

    /// Reads the next message, passing over disconnect markers (empty lines).
    fn advance(&mut self, stats: &mut ImportStats) -> Result<(), ImportError> {
        self.next = None;
        loop {
            self.buffer.clear();
            let n = self
                .lines
                .read_line(&mut self.buffer)
                .map_err(|source| ImportError::Io { path: self.path.clone(), source })?;
            if n == 0 {
                return Ok(());
            }
            self.line += 1;
            let text = self.buffer.trim_end_matches(['\n', '\r']);
            if text.trim().is_empty() {
                stats.disconnects += 1;
                continue;
            }
            let line_error = |message: String| ImportError::Line { path: self.path.clone(), line: self.line, message };
            let (timestamp, message) = parse_tardis_line(text).map_err(line_error)?;
            self.next = Some((timestamp, message.to_owned()));
            return Ok(());
        }
    }
}

/// `{"localTimestamp":"…Z","message":{…}}` → (Unix ns, the message's JSON text).
pub fn parse_tardis_line(text: &str) -> Result<(u64, &str), String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Line<'a> {
        #[serde(borrow)]
        local_timestamp: &'a str,
        #[serde(borrow)]
        message: &'a serde_json::value::RawValue,
    }
    let line: Line<'_> = serde_json::from_str(text)
        .map_err(|e| format!("not a Tardis.dev replay line {{\"localTimestamp\", \"message\"}}: {e}"))?;
    let ns = perpspread_core::time::parse_utc_ns(line.local_timestamp).ok_or_else(|| {
        format!("localTimestamp {:?} is not a UTC time like 2024-05-01T00:00:00.1234567Z", line.local_timestamp)
    })?;
    Ok((ns, line.message.get()))
}

/// A reader that counts the bytes it hands out.
struct Counted<R> {
    inner: R,
    read: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tardis_lines_keep_the_message_text() {
        let (ns, message) =
            parse_tardis_line(r#"{"localTimestamp":"2019-05-01T00:00:00.2436351Z","message":{"a":[1, "x"]}}"#).unwrap();
        assert_eq!((ns, message), (1_556_668_800_243_635_100, r#"{"a":[1, "x"]}"#));
        assert!(parse_tardis_line(r#"{"message":{}}"#).unwrap_err().contains("localTimestamp"));
        assert!(parse_tardis_line(r#"{"localTimestamp":"yesterday","message":{}}"#).unwrap_err().contains("UTC time"));
    }
}

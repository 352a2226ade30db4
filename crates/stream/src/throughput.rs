//! Library-level throughput: a capture held in memory, pushed through the same pipeline and engine
//! evaluation as live and replay (sequence checks, checksums, crossed-book guard, the affected pair's
//! evaluation), with nothing else on the path. `perpspread bench` and `cargo bench -p perpspread-stream`
//! report it.

use std::path::Path;
use std::time::Instant;

use perpspread_capture::{CaptureError, CaptureReader, Record, Src};
use perpspread_core::engine::{Engine, EngineConfig};
use perpspread_core::{Pair, Venue};

use crate::replay::{frame_of, UniverseBuilder};
use crate::{Pipeline, Signals};

/// The records of a capture, in memory.
#[derive(Debug, Clone, Default)]
pub struct InMemoryCapture {
    pub records: Vec<Record>,
    /// Bytes of frame text.
    pub bytes: usize,
}

/// One pass over an [`InMemoryCapture`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pass {
    pub seconds: f64,
    /// Every frame pushed through (book messages, and the trades, tickers, `@bookTicker` events, REST
    /// responses and acknowledgements a capture also holds).
    pub frames: u64,
    /// Frames that carried book data the feeds applied and verified (or found broken): the unit of the
    /// throughput figures.
    pub book_messages: u64,
    /// Pair evaluations the engine ran.
    pub evaluations: u64,
}

impl Pass {
    /// Book messages per second.
    pub fn rate(&self) -> f64 {
        self.book_messages as f64 / self.seconds
    }

    /// Frames per second.
    pub fn frame_rate(&self) -> f64 {
        self.frames as f64 / self.seconds
    }
}

impl InMemoryCapture {
    /// Reads a whole capture file.
    pub fn load(path: &Path) -> Result<Self, CaptureError> {
        let mut reader = CaptureReader::open(path)?;
        let mut capture = InMemoryCapture::default();
        let mut record = Record::default();
        while reader.next_into(&mut record)? {
            capture.bytes += record.data.len();
            capture.records.push(record.clone());
        }
        Ok(capture)
    }

    /// The records `times` times over (a short recording looped).
    pub fn repeated(&self, times: usize) -> Self {
        let records = (0..times).flat_map(|_| self.records.iter().cloned()).collect();
        InMemoryCapture { records, bytes: self.bytes * times }
    }

    /// The cross-listed pairs of the instrument lists recorded in the capture (none when it has none), as
    /// `replay` pairs them.
    pub fn pairs(&self) -> Vec<Pair> {
        let mut universe = UniverseBuilder::default();
        for record in self.records.iter().filter(|r| r.src == Src::Rest) {
            if let Ok(venue) = record.venue.parse() {
                universe.offer(venue, &record.url, &record.data);
            }
        }
        universe.pairs().unwrap_or_default()
    }

    /// Pushes every record through a fresh pipeline and an engine over `pairs` (default settings).
    /// `latency_ns`, when given, receives each book message's time from frame in hand to engine result.
    pub fn pass(&self, pairs: &[Pair], mut latency_ns: Option<&mut dyn FnMut(u64)>) -> Pass {
        let mut pipeline = Pipeline::new();
        let mut signals = Signals::new(Engine::new(EngineConfig::default(), pairs.to_vec()));
        let mut events = Vec::new();
        let started = Instant::now();
        for record in &self.records {
            let Ok(venue) = record.venue.parse::<Venue>() else { continue };
            let frame = frame_of(record);
            let recv = frame.recv;
            let t0 = latency_ns.is_some().then(Instant::now);
            let _ = pipeline.on_frame(venue, frame);
            signals.on_events(&pipeline, venue, pipeline.last_events(), recv, &mut events);
            events.clear();
            if let (Some(record_latency), Some(t0)) = (latency_ns.as_deref_mut(), t0) {
                if pipeline.last_frame().book {
                    record_latency(t0.elapsed().as_nanos() as u64);
                }
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        let stats = pipeline.stats();
        Pass {
            seconds,
            frames: stats.messages,
            book_messages: stats.book_messages,
            evaluations: signals.engine.stats().evaluations,
        }
    }

    /// `runs` passes (at least one): the median book-message rate, and the counts of one pass.
    pub fn median_rate(&self, pairs: &[Pair], runs: usize) -> (f64, Pass) {
        let passes: Vec<Pass> = (0..runs.max(1)).map(|_| self.pass(pairs, None)).collect();
        (median(passes.iter().map(Pass::rate).collect()), passes[0])
    }
}

/// The median of measurements (the upper one of an even count; NaN when there are none).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

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
    /// Book messages the feeds accepted.
    pub messages: u64,
    /// Pair evaluations the engine ran.
    pub evaluations: u64,
}

impl Pass {
    /// Messages per second.
    pub fn rate(&self) -> f64 {
        self.messages as f64 / self.seconds
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
        self.records
            .iter()
            .filter(|r| r.src == Src::Rest)
            .find_map(|r| universe.offer(r.venue.parse().ok()?, &r.url, &r.data))
            .unwrap_or_default()
    }

    /// Pushes every record through a fresh pipeline and an engine over `pairs` (default settings).
    /// `latency_ns`, when given, receives each message's time from frame in hand to engine result.
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
                record_latency(t0.elapsed().as_nanos() as u64);
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        Pass { seconds, messages: pipeline.stats().messages, evaluations: signals.engine.stats().evaluations }
    }

    /// Median rate of `runs` passes (at least one), and the messages of one pass.
    pub fn median_rate(&self, pairs: &[Pair], runs: usize) -> (f64, u64) {
        let passes: Vec<Pass> = (0..runs.max(1)).map(|_| self.pass(pairs, None)).collect();
        (median(passes.iter().map(Pass::rate).collect()), passes[0].messages)
    }
}

/// The median of measurements (the upper one of an even count; NaN when there are none).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

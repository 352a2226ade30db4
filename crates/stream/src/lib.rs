//! perpspread-stream: market data from frames to verified books, one code path for live and replay.
//!
//! [`pipeline::Pipeline`] owns one sans-IO feed handler per venue and routes frames to them; the
//! [`replay`] module drives it from a capture file with the recorded receive times.

#[cfg(feature = "fuzz")]
pub mod fuzz;
pub mod import;
pub mod live;
pub mod pipeline;
pub mod recorder;
pub mod replay;
pub mod signals;
#[cfg(feature = "throughput")]
pub mod throughput;

pub use live::{run_live, run_live_observed, Live, LiveConfig, LiveObserver, LiveStats, LiveVenue, ResyncPolicy};
pub use pipeline::{Pipeline, PipelineStats};
pub use recorder::Recorder;
pub use replay::{replay, replay_with, BookReport, ReplayOptions, ReplayReport, ReplayStep, Speed};
pub use signals::Signals;
#[cfg(feature = "throughput")]
pub use throughput::{InMemoryCapture, Pass};

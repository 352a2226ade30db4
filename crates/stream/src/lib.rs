//! perpspread-stream: market data from frames to verified books, one code path for live and replay.
//!
//! [`pipeline::Pipeline`] owns one sans-IO feed handler per venue and routes frames to them; the
//! [`replay`] module drives it from a capture file with the recorded receive times.

pub mod pipeline;
pub mod replay;

pub use pipeline::{Pipeline, PipelineStats};
pub use replay::{replay, BookReport, ReplayReport, Speed};

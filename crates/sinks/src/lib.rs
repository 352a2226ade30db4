//! perpspread-sinks: where perpspread's results go.
//!
//! * [`metrics`] — Prometheus metrics (through the `metrics` facade) and a `/healthz` readiness endpoint,
//!   served over HTTP on a chosen address.
//! * [`redis`] — a non-blocking Redis Streams and pub/sub publisher of opportunity events and spread
//!   snapshots, plus [`redis::Tail`] to read the merged stream back as JSON lines.
//! * [`files`] — hourly-rolled Parquet (or CSV) files of closed opportunities and sampled spread snapshots.
//! * [`table`] — the aligned text tables of every command's terminal output.
//! * [`shard`] — stable partition of the pair universe across processes.
//! * [`snapshot`] — [`SpreadSnapshot`], a pair's top of book and executable spreads at one instant.
//! * [`fields`] — the flat field encoding shared by Redis streams and the JSON lines schema.
//!
//! Nothing here may slow the market-data path: every per-message entry point is allocation-free or a
//! non-blocking channel send, and slow outputs (Redis, files) run on their own task or thread.

pub mod fields;
pub mod files;
pub mod metrics;
pub mod redis;
pub mod shard;
pub mod snapshot;
pub mod table;
#[cfg(feature = "test-util")]
pub mod testkit;

pub use self::redis::{RedisConfig, RedisPublisher, RedisStats, Tail, TailStart};
pub use files::{FileFormat, FileSink, FileSinkConfig, FileSinkHandle, OpportunityRecord};
pub use metrics::{BookAge, Health, HealthConfig, Metrics, MetricsConfig, MetricsServer};
pub use shard::{in_shard, parse_shard, Shard};
pub use snapshot::{SnapshotQuote, SnapshotSampler, SpreadSnapshot};

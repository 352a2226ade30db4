//! perpspread-sim: a local exchange simulator speaking the OKX v5, Binance USDⓈ-M and Bybit v5 linear wire
//! protocols.
//!
//! * [`model`]: a seeded market model — one latent fair price per pair, each venue's L2 book around it on
//!   the venue's grids, planned [`Dislocation`]s with a ground-truth log.
//! * [`okx`], [`binance`] and [`bybit`]: REST and WebSocket servers with the venues' envelopes, error shapes, rate
//!   limits and sequencing.
//! * [`faults`]: injectable faults (drops, stalls, gaps, bad checksums, malformed frames, REST errors, …).
//! * [`capture`]: fast generation of capture-format-v1 files for replay benchmarks.
//!
//! ```no_run
//! # async fn demo() -> Result<(), perpspread_sim::SimError> {
//! let sim = perpspread_sim::start(perpspread_sim::SimConfig::default()).await?;
//! println!("OKX REST at {}, Binance WS at {}", sim.okx_rest_url, sim.binance_ws_url);
//! sim.inject(perpspread_sim::FaultKind::Stall { venue: perpspread_core::Venue::Okx, duration_ms: 5_000 });
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

pub mod binance;
pub mod bybit;
pub mod capture;
pub mod clock;
pub mod config;
pub mod faults;
mod http;
pub mod model;
pub mod okx;
mod render;
mod server;
mod ws;

pub use capture::{generate_capture, CaptureOptions};
pub use config::{BinanceSpec, BybitSpec, Dislocation, OkxSpec, SimConfig, SimPair};
pub use faults::{Fault, FaultKind, FaultScenario};
pub use model::{GroundTruth, Market};
pub use server::{start, SimHandle};

/// Why the simulator could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("invalid simulator configuration: {0}")]
    Config(String),
    #[error("cannot bind 127.0.0.1:{port}: {source}")]
    Bind {
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    #[error("capture: {0}")]
    Capture(String),
}

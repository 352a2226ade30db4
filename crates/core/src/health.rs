//! Stream health shared between the live connection layer and whoever reports it (metrics, `/healthz`,
//! the dashboard): which subscribed streams have gone silent.
//!
//! A subscription a venue acknowledged and then never serves (a stream on the wrong route, a channel that
//! needs a login, a venue-side change) looks exactly like a quiet market unless someone watches the time since
//! the last message of each kind of stream. The live layer does that and publishes its verdict here.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;

use crate::instrument::Venue;

/// A kind of subscribed data whose silence is watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamKind {
    /// Order-book data (snapshots, diffs).
    Book,
    /// Funding rates (Binance `@markPrice`, OKX `funding-rate`).
    Funding,
}

impl StreamKind {
    /// Every kind.
    pub const ALL: [StreamKind; 2] = [StreamKind::Book, StreamKind::Funding];

    /// The label used in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamKind::Book => "book",
            StreamKind::Funding => "funding",
        }
    }
}

impl std::fmt::Display for StreamKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A subscribed stream that has delivered nothing for longer than its silence timeout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SilentStream {
    pub venue: Venue,
    pub stream: StreamKind,
    /// The endpoint the connection is on.
    pub url: String,
    /// The connection's number.
    pub connection: u32,
    /// How long nothing of this kind arrived when last checked.
    #[serde(serialize_with = "millis")]
    pub silent_for: Duration,
    /// Repairs tried so far (resubscribe first, then reconnects).
    pub repairs: u32,
}

fn millis<S: serde::Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(value.as_millis() as u64)
}

/// The current list of silent streams, written by the live layer and read by reporters (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct StreamHealth {
    silent: Arc<Mutex<Vec<SilentStream>>>,
}

impl StreamHealth {
    /// Replaces the list of silent streams.
    pub fn set(&self, silent: Vec<SilentStream>) {
        *self.silent.lock().unwrap_or_else(PoisonError::into_inner) = silent;
    }

    /// The silent streams, as last published.
    pub fn silent(&self) -> Vec<SilentStream> {
        self.silent.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Whether `stream` of `venue` is silent on any connection.
    pub fn is_silent(&self, venue: Venue, stream: StreamKind) -> bool {
        self.silent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .any(|s| s.venue == venue && s.stream == stream)
    }
}

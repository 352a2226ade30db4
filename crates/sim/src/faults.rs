//! Fault injection: what can go wrong, how it is requested (scenario TOML, `POST /_sim/fault`,
//! [`crate::SimHandle::inject`]) and the board through which REST handlers and WebSocket connections
//! pick faults up. Every injected and applied fault is logged as a JSON line with its time.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use perpspread_core::health::StreamKind;
use perpspread_core::{Venue, VenueMap};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::clock::unix_ns;
use crate::config::venue_serde;
use crate::SimError;

/// A fault, optionally scheduled at a time after start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// Milliseconds after start at which to inject it; `None` = immediately.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<u64>,
    #[serde(flatten)]
    pub kind: FaultKind,
}

impl Fault {
    /// An immediate fault.
    pub fn now(kind: FaultKind) -> Self {
        Fault { at_ms: None, kind }
    }
}

fn yes() -> bool {
    true
}
fn one() -> u32 {
    1
}

/// What goes wrong. WebSocket faults hit every open connection of the venue; per-instrument faults hit
/// the next message for that instrument on every connection subscribed to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultKind {
    /// Drop WebSocket connections, with a close frame (`close_frame = true`) or by resetting the TCP stream.
    DropConnection {
        #[serde(with = "venue_serde")]
        venue: Venue,
        #[serde(default = "yes")]
        close_frame: bool,
    },
    /// Stop sending anything (data, pongs, pings) for a while, keeping the connection open.
    Stall {
        #[serde(with = "venue_serde")]
        venue: Venue,
        duration_ms: u64,
    },
    /// Skip one book update of `symbol`: the next update's `prevSeqId` / `pu` does not chain.
    SequenceGap {
        #[serde(with = "venue_serde")]
        venue: Venue,
        symbol: String,
    },
    /// Send the next OKX `books` update of `symbol` with a wrong checksum.
    WrongChecksum { symbol: String },
    /// Send a frame that is not valid JSON (a truncated real frame when `truncate`, else garbage).
    Malformed {
        #[serde(with = "venue_serde")]
        venue: Venue,
        #[serde(default = "yes")]
        truncate: bool,
    },
    /// Send a well-formed message of a type the client does not know.
    UnknownMessage {
        #[serde(with = "venue_serde")]
        venue: Venue,
    },
    /// Send the next book update of `symbol` twice.
    Duplicate {
        #[serde(with = "venue_serde")]
        venue: Venue,
        symbol: String,
    },
    /// Swap the next two book updates of `symbol`.
    OutOfOrder {
        #[serde(with = "venue_serde")]
        venue: Venue,
        symbol: String,
    },
    /// Answer the next `count` REST requests with HTTP `status` (429, 418, 500, 502, 503, 504).
    RestStatus {
        #[serde(with = "venue_serde")]
        venue: Venue,
        status: u16,
        #[serde(default = "one")]
        count: u32,
    },
    /// Delay the next `count` REST responses by `delay_ms`.
    SlowRest {
        #[serde(with = "venue_serde")]
        venue: Venue,
        delay_ms: u64,
        #[serde(default = "one")]
        count: u32,
    },
    /// Refuse the next `count` subscription requests with the venue's error.
    RefuseSubscription {
        #[serde(with = "venue_serde")]
        venue: Venue,
        #[serde(default = "one")]
        count: u32,
    },
    /// Send one text message of `bytes` bytes (a faulty peer; clients should refuse it).
    Oversized {
        #[serde(with = "venue_serde")]
        venue: Venue,
        bytes: usize,
    },
    /// Keep every current subscription of one kind of stream (`book` or `funding`) acknowledged and open but
    /// deliver nothing on it any more, as a venue-side broken subscription does; a new subscription (a
    /// resubscribe or a reconnect) delivers again.
    Mute {
        #[serde(with = "venue_serde")]
        venue: Venue,
        stream: StreamKind,
    },
    /// Send `messages` extra no-op book updates of `symbol` at once (a burst a slow client must absorb).
    Burst {
        #[serde(with = "venue_serde")]
        venue: Venue,
        symbol: String,
        messages: u32,
    },
    /// A service restart of the venue's book for `symbol` (Bybit): the update id `u` starts again at 1 and a new
    /// snapshot goes to every subscriber, which must replace its book with it.
    ServiceRestart {
        #[serde(with = "venue_serde")]
        venue: Venue,
        symbol: String,
    },
    /// Change the funding interval of `symbol` to `hours` (1, 2, 4 or 8), as venues do in volatile markets:
    /// REST, `fundingInfo` and the funding streams follow the new schedule from then on.
    FundingInterval {
        #[serde(with = "venue_serde")]
        venue: Venue,
        symbol: String,
        hours: u32,
    },
}

impl FaultKind {
    /// The venue the fault hits.
    pub fn venue(&self) -> Venue {
        match self {
            FaultKind::WrongChecksum { .. } => Venue::Okx,
            FaultKind::DropConnection { venue, .. }
            | FaultKind::Stall { venue, .. }
            | FaultKind::SequenceGap { venue, .. }
            | FaultKind::Malformed { venue, .. }
            | FaultKind::UnknownMessage { venue }
            | FaultKind::Duplicate { venue, .. }
            | FaultKind::OutOfOrder { venue, .. }
            | FaultKind::RestStatus { venue, .. }
            | FaultKind::SlowRest { venue, .. }
            | FaultKind::RefuseSubscription { venue, .. }
            | FaultKind::Mute { venue, .. }
            | FaultKind::Oversized { venue, .. }
            | FaultKind::Burst { venue, .. }
            | FaultKind::FundingInterval { venue, .. }
            | FaultKind::ServiceRestart { venue, .. } => *venue,
        }
    }

    /// Whether WebSocket connections handle this fault (the rest is handled by the board itself).
    #[cfg(test)]
    pub(crate) fn is_ws(&self) -> bool {
        !matches!(
            self,
            FaultKind::RestStatus { .. }
                | FaultKind::SlowRest { .. }
                | FaultKind::RefuseSubscription { .. }
                | FaultKind::FundingInterval { .. }
        )
    }
}

/// A scenario file: `[[fault]]` tables.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultScenario {
    #[serde(default, rename = "fault")]
    pub faults: Vec<Fault>,
}

impl FaultScenario {
    /// Parses a TOML scenario.
    pub fn from_toml(text: &str) -> Result<Self, SimError> {
        toml::from_str(text).map_err(|e| SimError::Config(format!("fault scenario: {e}")))
    }
}

/// A pending REST fault with its remaining count.
#[derive(Debug, Default, Clone, Copy)]
struct RestFaults {
    status: Option<(u16, u32)>,
    slow: Option<(u64, u32)>,
}

/// What the REST layer must do to the current request.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RestAction {
    /// Answer with this HTTP status instead of the real response.
    pub status: Option<u16>,
    /// Wait this long before answering.
    pub delay: Option<Duration>,
}

/// Shared fault state: WebSocket fault fan-out, REST counters and the fault log.
#[derive(Debug)]
pub(crate) struct FaultBoard {
    ws: VenueMap<broadcast::Sender<Arc<FaultKind>>>,
    rest: Mutex<VenueMap<RestFaults>>,
    refuse: VenueMap<AtomicU32>,
    log: Mutex<Option<File>>,
}

impl FaultBoard {
    /// A board logging to `log` (appending), if given.
    pub(crate) fn new(log: Option<&Path>) -> Result<Self, SimError> {
        let log = match log {
            Some(path) => Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| SimError::Io(path.display().to_string(), e))?,
            ),
            None => None,
        };
        Ok(FaultBoard {
            ws: VenueMap::from_fn(|_| broadcast::channel(64).0),
            rest: Mutex::new(VenueMap::default()),
            refuse: VenueMap::default(),
            log: Mutex::new(log),
        })
    }

    /// Injects a fault now.
    pub(crate) fn inject(&self, kind: FaultKind) {
        self.record("injected", &kind, None);
        let venue = kind.venue();
        match &kind {
            FaultKind::RestStatus { status, count, .. } => lock(&self.rest)[venue].status = Some((*status, *count)),
            FaultKind::SlowRest { delay_ms, count, .. } => lock(&self.rest)[venue].slow = Some((*delay_ms, *count)),
            FaultKind::RefuseSubscription { count, .. } => self.refuse[venue].store(*count, Ordering::SeqCst),
            // Applied to the market by the server; logged here like every fault.
            FaultKind::FundingInterval { .. } => {}
            _ => {
                // No receiver simply means no open connection to fault.
                let _ = self.ws[venue].send(Arc::new(kind));
            }
        }
    }

    /// Receives the WebSocket faults of `venue` injected from now on.
    pub(crate) fn subscribe_ws(&self, venue: Venue) -> broadcast::Receiver<Arc<FaultKind>> {
        self.ws[venue].subscribe()
    }

    /// Consumes the pending REST fault for one request to `venue`.
    pub(crate) fn take_rest(&self, venue: Venue) -> RestAction {
        let mut rest = lock(&self.rest);
        let pending = &mut rest[venue];
        let mut action = RestAction::default();
        if let Some((status, left)) = pending.status {
            action.status = Some(status);
            pending.status = (left > 1).then(|| (status, left - 1));
        }
        if let Some((delay, left)) = pending.slow {
            action.delay = Some(Duration::from_millis(delay));
            pending.slow = (left > 1).then(|| (delay, left - 1));
        }
        action
    }

    /// Whether the next subscription request to `venue` must be refused (consumes one refusal).
    pub(crate) fn take_refusal(&self, venue: Venue) -> bool {
        self.refuse[venue].fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
    }

    /// Appends `{"ts_ns":…,"phase":…,"fault":{…},"detail":…}` to the fault log and traces it.
    pub(crate) fn record(&self, phase: &str, kind: &FaultKind, detail: Option<&str>) {
        tracing::info!(phase, fault = ?kind, detail, "fault");
        let mut log = lock(&self.log);
        if let Some(file) = log.as_mut() {
            let line = serde_json::json!({ "ts_ns": unix_ns(), "phase": phase, "fault": kind, "detail": detail });
            if let Err(e) = writeln!(file, "{line}") {
                tracing::warn!("cannot write fault log: {e}");
            }
        }
    }
}

/// Locks a mutex, recovering the data if a holder panicked (the state stays usable).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_and_json_shapes() {
        let text = r#"
            [[fault]]
            at_ms = 500
            kind = "drop_connection"
            venue = "okx"
            close_frame = false
            [[fault]]
            kind = "rest_status"
            venue = "binance"
            status = 503
            count = 2
        "#;
        let scenario = FaultScenario::from_toml(text).unwrap();
        assert_eq!(scenario.faults.len(), 2);
        assert_eq!(scenario.faults[0].kind, FaultKind::DropConnection { venue: Venue::Okx, close_frame: false });
        let json: Fault =
            serde_json::from_str(r#"{"kind":"sequence_gap","venue":"binance","symbol":"BTCUSDT"}"#).unwrap();
        assert_eq!(json.at_ms, None);
        assert!(json.kind.is_ws());
        assert!(serde_json::from_str::<Fault>(r#"{"kind":"nope"}"#).is_err());
    }

    #[test]
    fn rest_faults_count_down() {
        let board = FaultBoard::new(None).unwrap();
        board.inject(FaultKind::RestStatus { venue: Venue::Okx, status: 503, count: 2 });
        assert_eq!(board.take_rest(Venue::Binance), RestAction::default());
        assert_eq!(board.take_rest(Venue::Okx).status, Some(503));
        assert_eq!(board.take_rest(Venue::Okx).status, Some(503));
        assert_eq!(board.take_rest(Venue::Okx).status, None);
        board.inject(FaultKind::RefuseSubscription { venue: Venue::Okx, count: 1 });
        assert!(board.take_refusal(Venue::Okx));
        assert!(!board.take_refusal(Venue::Okx));
    }
}

//! The WebSocket connection driver shared by every venue.
//!
//! A venue implements [`Session`] (what to answer to client messages, which frames a model step produces,
//! how per-instrument faults change its stream); [`drive`] runs the connection: reading, publishing steps,
//! server pings and pong deadlines, idle and lifetime limits, shutdown, and the connection-level faults
//! (drop, stall, malformed frame).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use perpspread_core::Venue;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{sleep_until, Instant};

use crate::faults::FaultKind;
use crate::server::{Shared, StepEvent};

/// A venue's protocol on one connection.
pub(crate) trait Session: Send {
    /// Frames answering one text message from the client.
    fn on_text(&mut self, shared: &Shared, text: &str, out: &mut Vec<String>);
    /// Frames one model step produces for this connection's subscriptions.
    fn on_step(&mut self, shared: &Shared, event: &StepEvent, out: &mut Vec<String>);
    /// Frames due on the periodic timer (funding, mark price).
    fn on_timer(&mut self, shared: &Shared, out: &mut Vec<String>);
    /// Applies a stream fault (gap, duplicate, …); may send frames at once (unknown message, burst).
    fn on_fault(&mut self, shared: &Shared, fault: &FaultKind, out: &mut Vec<String>);
    /// Identifier used in logs.
    fn conn_id(&self) -> &str;
    /// A close the session asks for after the client broke a limit (code, reason).
    fn close_requested(&mut self) -> Option<(u16, &'static str)> {
        None
    }
}

/// Connection limits and timers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DriveOptions {
    pub venue: Venue,
    /// Close after this long without traffic either way (OKX).
    pub idle_timeout: Option<Duration>,
    /// Send a ping frame this often (Binance) …
    pub ping_interval: Option<Duration>,
    /// … and close if it is not answered within this time.
    pub pong_timeout: Duration,
    /// Close after this lifetime (Binance).
    pub max_lifetime: Option<Duration>,
    /// Period of [`Session::on_timer`].
    pub timer_interval: Duration,
}

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Send a close frame, then drop.
    Close(u16, &'static str),
    /// Drop the TCP stream without a close frame.
    Abort,
}

/// Runs one connection until it ends.
pub(crate) async fn drive<S: Session>(
    mut socket: WebSocket,
    shared: Arc<Shared>,
    mut session: S,
    options: DriveOptions,
    initial: Vec<String>,
) {
    let mut steps = shared.steps.subscribe();
    let mut faults = shared.faults.subscribe_ws(options.venue);
    let mut shutdown = shared.shutdown.clone();
    let far = Instant::now() + Duration::from_secs(86_400 * 365);
    let deadline = |d: Option<Duration>, from: Instant| d.map_or(far, |d| from + d);
    let lifetime_end = deadline(options.max_lifetime, Instant::now());
    let mut last_activity = Instant::now();
    let mut next_ping = deadline(options.ping_interval, Instant::now());
    let mut pong_due: Option<Instant> = None;
    let mut timer = tokio::time::interval(options.timer_interval);
    timer.tick().await;
    let mut malform: Option<bool> = None;
    let mut out = initial;
    let end = loop {
        if !out.is_empty() {
            last_activity = Instant::now();
        }
        if let Err(end) = flush(&mut socket, &mut out, &mut malform, &shared, (options.venue, session.conn_id())).await
        {
            break end;
        }
        tokio::select! {
            message = socket.recv() => match message {
                Some(Ok(Message::Text(text))) => {
                    last_activity = Instant::now();
                    session.on_text(&shared, text.as_str(), &mut out);
                    if let Some((code, reason)) = session.close_requested() {
                        let _ = flush(&mut socket, &mut out, &mut malform, &shared, (options.venue, session.conn_id())).await;
                        break End::Close(code, reason);
                    }
                }
                Some(Ok(Message::Pong(_))) => pong_due = None,
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break End::Abort,
                Some(Ok(_)) => last_activity = Instant::now(),
            },
            event = steps.recv() => match event {
                Ok(event) => session.on_step(&shared, &event, &mut out),
                Err(RecvError::Lagged(_)) => break End::Close(1008, "slow consumer"),
                Err(RecvError::Closed) => break End::Close(1001, "server shutting down"),
            },
            fault = faults.recv() => {
                let Ok(fault) = fault else { continue };
                match &*fault {
                    FaultKind::DropConnection { close_frame, .. } => {
                        shared.faults.record("applied", &fault, Some(session.conn_id()));
                        break if *close_frame { End::Close(1001, "dropped by fault injection") } else { End::Abort };
                    }
                    FaultKind::Stall { duration_ms, .. } => {
                        shared.faults.record("applied", &fault, Some(session.conn_id()));
                        // Nothing is read or written meanwhile; queued steps arrive afterwards in a burst.
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_millis(*duration_ms)) => {}
                            _ = shutdown.changed() => break End::Abort,
                        }
                        pong_due = pong_due.map(|due| due.max(Instant::now()));
                    }
                    FaultKind::Malformed { truncate, .. } => malform = Some(*truncate),
                    FaultKind::Oversized { bytes, .. } => {
                        shared.faults.record("applied", &fault, Some(session.conn_id()));
                        out.push(format!(r#"{{"padding":"{}"}}"#, "x".repeat(*bytes)));
                    }
                    other => session.on_fault(&shared, other, &mut out),
                }
            }
            _ = timer.tick() => session.on_timer(&shared, &mut out),
            _ = sleep_until(next_ping) => {
                let payload = axum::body::Bytes::from(crate::clock::unix_ms().to_string());
                if socket.send(Message::Ping(payload)).await.is_err() {
                    break End::Abort;
                }
                pong_due.get_or_insert(Instant::now() + options.pong_timeout);
                next_ping = deadline(options.ping_interval, Instant::now());
            }
            _ = sleep_until(pong_due.unwrap_or(far)) => break End::Close(1008, "pong timeout"),
            _ = sleep_until(deadline(options.idle_timeout, last_activity)) => break End::Close(4004, "idle timeout"),
            _ = sleep_until(lifetime_end) => break End::Close(1000, "connection lifetime reached"),
            _ = shutdown.changed() => break End::Close(1001, "server shutting down"),
        }
    };
    if let End::Close(code, reason) = end {
        let frame = CloseFrame { code, reason: reason.into() };
        let _ = socket.send(Message::Close(Some(frame))).await;
    }
    tracing::debug!(conn = session.conn_id(), ?end, "websocket closed");
}

/// Sends the queued frames, corrupting the first one if a malformed-frame fault is pending.
async fn flush(
    socket: &mut WebSocket,
    out: &mut Vec<String>,
    malform: &mut Option<bool>,
    shared: &Shared,
    (venue, conn): (Venue, &str),
) -> Result<(), End> {
    for frame in out.drain(..) {
        let frame = match malform.take() {
            Some(truncate) => {
                let kind = FaultKind::Malformed { venue, truncate };
                shared.faults.record("applied", &kind, Some(conn));
                if truncate {
                    let mut cut = frame.len() / 2;
                    while !frame.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    frame[..cut].to_owned()
                } else {
                    "{\"arg\":{\u{1}garbage".to_owned()
                }
            }
            None => frame,
        };
        socket.send(Message::Text(frame.into())).await.map_err(|_| End::Abort)?;
    }
    Ok(())
}

/// Pending per-instrument stream faults of one connection.
#[derive(Debug, Default)]
pub(crate) struct StreamFaults {
    by_symbol: HashMap<String, SymbolFaults>,
}

#[derive(Debug, Default)]
struct SymbolFaults {
    gap: bool,
    duplicate: bool,
    out_of_order: bool,
    held: Option<String>,
    wrong_checksum: bool,
    burst: u32,
}

impl StreamFaults {
    /// Arms a per-instrument fault; returns `false` if `fault` is not one.
    pub(crate) fn arm(&mut self, fault: &FaultKind) -> bool {
        let (symbol, apply): (&str, fn(&mut SymbolFaults, &FaultKind)) = match fault {
            FaultKind::SequenceGap { symbol, .. } => (symbol, |f, _| f.gap = true),
            FaultKind::Duplicate { symbol, .. } => (symbol, |f, _| f.duplicate = true),
            FaultKind::OutOfOrder { symbol, .. } => (symbol, |f, _| f.out_of_order = true),
            FaultKind::WrongChecksum { symbol } => (symbol, |f, _| f.wrong_checksum = true),
            FaultKind::Burst { symbol, .. } => (symbol, |f, k| {
                if let FaultKind::Burst { messages, .. } = k {
                    f.burst += messages;
                }
            }),
            _ => return false,
        };
        apply(self.by_symbol.entry(symbol.to_owned()).or_default(), fault);
        true
    }

    /// Whether the next book update of `symbol` must carry a wrong checksum (consumes the fault).
    pub(crate) fn take_wrong_checksum(&mut self, symbol: &str) -> bool {
        self.by_symbol.get_mut(symbol).is_some_and(|f| std::mem::take(&mut f.wrong_checksum))
    }

    /// Burst messages still owed for `symbol` (consumes them).
    pub(crate) fn take_burst(&mut self, symbol: &str) -> u32 {
        self.by_symbol.get_mut(symbol).map_or(0, |f| std::mem::take(&mut f.burst))
    }

    /// Queues a book update of `symbol`, applying gap / duplicate / out-of-order faults. Returns the fault
    /// applied, if any, for logging.
    pub(crate) fn emit(&mut self, symbol: &str, frame: String, out: &mut Vec<String>) -> Option<&'static str> {
        let Some(f) = self.by_symbol.get_mut(symbol) else {
            out.push(frame);
            return None;
        };
        if let Some(held) = f.held.take() {
            out.push(frame);
            out.push(held);
            return Some("out_of_order");
        }
        if std::mem::take(&mut f.gap) {
            return Some("sequence_gap");
        }
        if std::mem::take(&mut f.out_of_order) {
            f.held = Some(frame);
            return None;
        }
        if std::mem::take(&mut f.duplicate) {
            out.push(frame.clone());
            out.push(frame);
            return Some("duplicate");
        }
        out.push(frame);
        None
    }
}

/// A short random-looking connection id (OKX `connId` style).
pub(crate) fn conn_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{:08x}", (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_faults_reorder_skip_and_duplicate() {
        let mut faults = StreamFaults::default();
        let mut out = Vec::new();
        let sym = "BTCUSDT".to_owned();
        assert!(faults.arm(&FaultKind::OutOfOrder { venue: Venue::Binance, symbol: sym.clone() }));
        faults.emit(&sym, "1".into(), &mut out);
        faults.emit(&sym, "2".into(), &mut out);
        assert!(faults.arm(&FaultKind::SequenceGap { venue: Venue::Binance, symbol: sym.clone() }));
        faults.emit(&sym, "3".into(), &mut out);
        assert!(faults.arm(&FaultKind::Duplicate { venue: Venue::Binance, symbol: sym.clone() }));
        faults.emit(&sym, "4".into(), &mut out);
        faults.emit("ETHUSDT", "e".into(), &mut out);
        assert_eq!(out, ["2", "1", "4", "4", "e"]);
        assert!(!faults.arm(&FaultKind::UnknownMessage { venue: Venue::Okx }));
        assert_ne!(conn_id(), conn_id());
    }
}

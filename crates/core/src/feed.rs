//! The streaming contract shared by every venue: frames in, book states and events out.
//!
//! A venue's feed handler is a synchronous state machine with no I/O ("sans-IO"): the live connection
//! layer and the replayer both hand it the same [`Frame`]s, so a capture replays through exactly the code
//! that ran live. What the handler needs done on the network (resubscribe one instrument, fetch a REST
//! snapshot) it asks for with [`FeedEvent::Resync`]; a replayer just counts those requests.

use serde::Serialize;

use crate::book::OrderBook;
use crate::instrument::Venue;

/// Where a frame came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source<'a> {
    /// A WebSocket text frame.
    Ws,
    /// A REST response body for `url` (path and query).
    Rest { url: &'a str },
}

/// When a frame was received locally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct RecvTime {
    /// Wall clock, Unix ns (comparable with exchange timestamps).
    pub wall_ns: u64,
    /// Monotonic clock, ns since an arbitrary origin (for intervals; equals `wall_ns` in replay).
    pub mono_ns: u64,
}

/// One received message.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    pub source: Source<'a>,
    pub data: &'a str,
    pub recv: RecvTime,
}

impl Serialize for BookState {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Lifecycle of a local book. Signals may only be taken from `Live` books.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BookState {
    /// Subscribed, waiting for the first snapshot (or for the REST snapshot to bridge).
    Syncing,
    /// In sequence and verified.
    Live,
    /// `Live`, but no update for longer than allowed, so the contents may be outdated (derived when the
    /// book is looked at, see [`TrackedBook::state_at`]).
    Stale,
    /// An integrity check failed; a fresh snapshot has been requested.
    Resyncing,
}

impl BookState {
    /// The one spelling of the state in every output: `syncing`, `live`, `stale`, `resyncing`.
    pub const fn as_str(self) -> &'static str {
        match self {
            BookState::Syncing => "syncing",
            BookState::Live => "live",
            BookState::Stale => "stale",
            BookState::Resyncing => "resyncing",
        }
    }

    /// The state as seen `age_ns` after the book's last applied update: a `Live` book that has not been
    /// updated for longer than `max_age_ns` is `Stale` (still in sequence, but possibly outdated).
    pub fn aged(self, age_ns: u64, max_age_ns: u64) -> BookState {
        if self == BookState::Live && age_ns > max_age_ns {
            BookState::Stale
        } else {
            self
        }
    }
}

/// Why a book had to be rebuilt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResyncReason {
    /// A sequence number did not follow the last one applied.
    SequenceGap,
    /// The venue's checksum did not match the local book.
    ChecksumMismatch,
    /// Best bid at or above best ask.
    Crossed,
    /// A book message could not be applied (bad number, unknown shape).
    BadUpdate,
    /// The REST snapshot is older than every buffered event (Binance bridging).
    SnapshotTooOld,
    /// The connection was lost.
    Disconnected,
    /// A REST snapshot could not be fetched.
    SnapshotFailed,
}

/// Integrity counters of one book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct BookStats {
    pub updates_applied: u64,
    pub checksums_verified: u64,
    /// Book messages whose checksum field was `0` (OKX since 2026-06-23: not sent, so not verified; the
    /// sequence chain alone protects the book).
    pub checksums_absent: u64,
    pub checksum_failures: u64,
    pub sequence_gaps: u64,
    pub crossed: u64,
    pub resyncs: u64,
    /// Messages already applied that arrived again (duplicates, late out-of-order copies); ignored.
    pub duplicates: u64,
}

/// A book plus its integrity state, as kept by a feed handler.
#[derive(Debug, Clone)]
pub struct TrackedBook {
    pub book: OrderBook,
    pub state: BookState,
    pub stats: BookStats,
    /// Exchange time of the last applied message, Unix ms.
    pub exchange_ms: Option<u64>,
    /// Local receive time of the last applied message.
    pub recv: RecvTime,
    /// Venue sequence number of the last applied message (OKX `seqId`, Binance `u`), when sent.
    pub sequence: Option<u64>,
}

impl TrackedBook {
    /// An empty book waiting for its snapshot.
    pub fn new(book: OrderBook) -> Self {
        TrackedBook {
            book,
            state: BookState::Syncing,
            stats: BookStats::default(),
            exchange_ms: None,
            recv: RecvTime::default(),
            sequence: None,
        }
    }

    /// The book's state at `now_mono_ns` (the receive clock's monotonic ns), `Stale` when it is `Live` but
    /// its last update is older than `max_age_ns`. Feed handlers never set `Stale` themselves: staleness is
    /// a matter of when one looks.
    pub fn state_at(&self, now_mono_ns: u64, max_age_ns: u64) -> BookState {
        self.state.aged(now_mono_ns.saturating_sub(self.recv.mono_ns), max_age_ns)
    }

    /// Marks the book broken: clears it, counts the resync and why.
    pub fn invalidate(&mut self, reason: ResyncReason) {
        match reason {
            ResyncReason::SequenceGap | ResyncReason::SnapshotTooOld => self.stats.sequence_gaps += 1,
            ResyncReason::ChecksumMismatch => self.stats.checksum_failures += 1,
            ResyncReason::Crossed => self.stats.crossed += 1,
            ResyncReason::BadUpdate | ResyncReason::Disconnected | ResyncReason::SnapshotFailed => {}
        }
        self.stats.resyncs += 1;
        self.sequence = None;
        self.book.clear();
        self.state = BookState::Resyncing;
    }
}

/// Something a feed handler reports after a frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FeedEvent {
    /// The book in `slot` changed and is `Live`.
    BookUpdated { slot: u32 },
    /// The book in `slot` broke; the live layer must resubscribe it / fetch a new snapshot.
    Resync { slot: u32, reason: ResyncReason },
    /// The book in `slot` is buffering and needs a REST snapshot (Binance always; OKX when no WebSocket
    /// snapshot came, or the REST snapshot was older than the buffered updates).
    SnapshotNeeded { slot: u32 },
    /// A book update of `slot` was kept until its snapshot arrives (book data that arrived, not yet applied).
    BookBuffered { slot: u32 },
    /// New funding information for the instrument in `slot`.
    Funding {
        slot: u32,
        /// Rate applied at the next funding, as a fraction (0.0001 = 1 bp).
        rate: f64,
        /// Next funding time, Unix ms.
        next_funding_ms: Option<u64>,
        /// Hours between fundings, when the venue tells.
        interval_hours: Option<u32>,
    },
    /// The venue acknowledged a heartbeat.
    Pong,
    /// The venue refused a subscription (`slot` when the instrument is known).
    SubscriptionRefused { slot: Option<u32> },
}

impl FeedEvent {
    /// Whether the event reports book data: applied and verified (`BookUpdated`) or found broken (`Resync`).
    /// A frame with such an event is a *book message*; trades, tickers, `@bookTicker`, acknowledgements and
    /// pongs are not.
    pub fn is_book(&self) -> bool {
        matches!(self, FeedEvent::BookUpdated { .. } | FeedEvent::Resync { .. })
    }
}

/// Why a frame could not be used at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("malformed frame: {0}")]
    Malformed(String),
    #[error("unknown message: {0}")]
    Unknown(String),
    #[error("venue error {code}: {message}")]
    Venue { code: String, message: String },
}

impl FrameError {
    /// A frame no handler recognises, quoted by its first 120 characters.
    pub fn unknown_frame(text: &str) -> Self {
        FrameError::Unknown(text.chars().take(120).collect())
    }
}

/// A venue's sans-IO feed handler.
pub trait Feed: std::fmt::Debug + Send {
    /// The venue whose messages this handler reads.
    fn venue(&self) -> Venue;
    /// Processes one frame, appending what happened to `events`.
    fn on_frame(&mut self, frame: Frame<'_>, events: &mut Vec<FeedEvent>) -> Result<(), FrameError>;
    /// The handler's book slots (every feed keeps them in a [`Slots`]).
    fn book_slots(&self) -> &dyn BookSlots;
    /// Venue symbol of a book slot.
    fn symbol(&self, slot: u32) -> Option<&str> {
        self.book_slots().symbol(slot)
    }
    /// Slot of a symbol, if the handler has seen or tracked it.
    fn slot(&self, symbol: &str) -> Option<u32> {
        self.book_slots().slot(symbol)
    }
    /// The book in a slot.
    fn book(&self, slot: u32) -> Option<&TrackedBook> {
        self.book_slots().book(slot)
    }
    /// Number of book slots.
    fn slots(&self) -> u32 {
        self.book_slots().count()
    }
    /// The slot of `symbol`, creating a `Syncing` book for it (call before subscribing).
    fn track(&mut self, symbol: &str) -> u32;
    /// Marks a book unusable (e.g. its connection dropped); it comes back with the next snapshot.
    fn invalidate(&mut self, slot: u32, reason: ResyncReason);
    /// Whether a broken book is repaired with a REST snapshot rather than a resubscription (the venue sends
    /// no WebSocket snapshots, as far as seen).
    fn repairs_over_rest(&self) -> bool {
        false
    }
    /// What proves this venue's books right so far, for the dashboard (`seqId chain + CRC32`, `U/u/pu chain`).
    fn integrity(&self) -> String {
        "sequence chain".to_owned()
    }
}

/// Per-instrument state holding a tracked book.
pub trait HasBook {
    fn tracked(&self) -> &TrackedBook;
}

/// A feed's book slots as the default [`Feed`] methods read them.
pub trait BookSlots {
    fn symbol(&self, slot: u32) -> Option<&str>;
    fn slot(&self, symbol: &str) -> Option<u32>;
    fn book(&self, slot: u32) -> Option<&TrackedBook>;
    fn count(&self) -> u32;
}

impl<S: HasBook> BookSlots for Slots<S> {
    fn symbol(&self, slot: u32) -> Option<&str> {
        Slots::symbol(self, slot)
    }
    fn slot(&self, symbol: &str) -> Option<u32> {
        Slots::slot(self, symbol)
    }
    fn book(&self, slot: u32) -> Option<&TrackedBook> {
        self.get(slot).map(HasBook::tracked)
    }
    fn count(&self) -> u32 {
        self.len()
    }
}

/// Per-instrument state of a feed handler, addressed by a dense slot number.
#[derive(Debug, Clone)]
pub struct Slots<S> {
    index: std::collections::HashMap<String, u32>,
    symbols: Vec<String>,
    states: Vec<S>,
}

impl<S> Default for Slots<S> {
    fn default() -> Self {
        Slots { index: Default::default(), symbols: Vec::new(), states: Vec::new() }
    }
}

impl<S> Slots<S> {
    /// The slot of `symbol`, creating its state with `make` on first sight.
    pub fn slot_or_insert(&mut self, symbol: &str, make: impl FnOnce() -> S) -> u32 {
        if let Some(slot) = self.index.get(symbol) {
            return *slot;
        }
        let slot = self.states.len() as u32;
        self.index.insert(symbol.to_owned(), slot);
        self.symbols.push(symbol.to_owned());
        self.states.push(make());
        slot
    }

    /// The slot of a known symbol.
    pub fn slot(&self, symbol: &str) -> Option<u32> {
        self.index.get(symbol).copied()
    }

    /// Symbol of a slot.
    pub fn symbol(&self, slot: u32) -> Option<&str> {
        self.symbols.get(slot as usize).map(String::as_str)
    }

    /// State of a slot.
    pub fn get(&self, slot: u32) -> Option<&S> {
        self.states.get(slot as usize)
    }

    /// Mutable state of a slot.
    pub fn get_mut(&mut self, slot: u32) -> Option<&mut S> {
        self.states.get_mut(slot as usize)
    }

    /// Number of slots.
    pub fn len(&self) -> u32 {
        self.states.len() as u32
    }

    /// Whether no slot exists yet.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }
}

/// Receive time minus exchange time of a message, ms (negative when the venue's clock is ahead). The difference
/// is taken in integer nanoseconds, exactly, then scaled by one product: this runs for every book message.
/// `None` for times that do not fit 64-bit nanoseconds (past the year 2262).
pub fn receive_delay_ms(exchange_ms: u64, recv_wall_ns: u64) -> Option<f64> {
    let exchange_ns = i64::try_from(exchange_ms).ok()?.checked_mul(1_000_000)?;
    let recv_ns = i64::try_from(recv_wall_ns).ok()?;
    Some(recv_ns.saturating_sub(exchange_ns) as f64 * 1e-6)
}

/// Estimates how far a venue's clock is ahead of ours, from `receive − exchange` time of messages.
///
/// Every message satisfies `receive − exchange = one-way latency − offset ≥ −offset`, so the smallest
/// difference seen over a window is `−offset + minimum latency`: the estimate (its negation, in ms) is
/// the offset up to the minimum one-way latency. Windows of `window_ns` roll so the estimate follows drift.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClockOffset {
    window_ns: u64,
    started_ns: u64,
    current_min_ms: Option<f64>,
    previous_min_ms: Option<f64>,
}

impl ClockOffset {
    /// An estimator over windows of `window_ns`.
    pub fn new(window_ns: u64) -> Self {
        ClockOffset { window_ns, started_ns: 0, current_min_ms: None, previous_min_ms: None }
    }

    /// Records a message received at `recv_wall_ns` with exchange time `exchange_ms`.
    pub fn observe(&mut self, exchange_ms: u64, recv_wall_ns: u64) {
        if recv_wall_ns.saturating_sub(self.started_ns) >= self.window_ns {
            self.previous_min_ms = self.current_min_ms.or(self.previous_min_ms);
            self.current_min_ms = None;
            self.started_ns = recv_wall_ns;
        }
        let Some(delta) = receive_delay_ms(exchange_ms, recv_wall_ns) else { return };
        self.current_min_ms = Some(self.current_min_ms.map_or(delta, |m| m.min(delta)));
    }

    /// Smallest `receive − exchange` over the last one or two windows, ms (`None` before any message).
    pub fn min_delay_ms(&self) -> Option<f64> {
        match (self.current_min_ms, self.previous_min_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Estimated venue clock − local clock, ms (positive when the venue's clock is ahead), up to the
    /// minimum one-way latency.
    #[cfg(test)]
    pub(crate) fn offset_ms(&self) -> Option<f64> {
        self.min_delay_ms().map(|d| -d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_book_turns_stale_when_not_updated_for_too_long() {
        let mut tracked = TrackedBook::new(OrderBook::new(1, 0, 10));
        tracked.recv = RecvTime { wall_ns: 0, mono_ns: 1_000 };
        assert_eq!(tracked.state_at(5_000, 100), BookState::Syncing, "only a live book can be stale");
        tracked.state = BookState::Live;
        assert_eq!(tracked.state_at(1_100, 100), BookState::Live);
        assert_eq!(tracked.state_at(1_101, 100), BookState::Stale);
        assert_eq!(tracked.state_at(500, 100), BookState::Live, "a clock read before the update is not an age");
        tracked.invalidate(ResyncReason::Crossed);
        assert_eq!(tracked.state_at(1_101, 100), BookState::Resyncing);
    }

    #[test]
    fn receive_delay_is_exact_at_todays_epochs() {
        // 2027 in nanoseconds (1.8e18): an f64 of the time alone would be off by up to 128 ns.
        let delay = receive_delay_ms(1_800_000_000_000, 1_800_000_000_000_000_000 + 2_500_123).unwrap();
        assert!((delay - 2.500_123).abs() < 1e-12, "{delay}");
        assert_eq!(receive_delay_ms(1_800_000_000_005, 1_800_000_000_000_000_000), Some(-5.0));
        assert_eq!(receive_delay_ms(u64::MAX, 0), None);
    }

    #[test]
    fn clock_offset_tracks_the_smallest_delay() {
        let mut clock = ClockOffset::new(10_000_000_000);
        // Venue clock 3 ms behind ours, latencies 5–9 ms: receive − exchange = 8…12 ms.
        for (i, latency) in [9u64, 5, 7, 6].into_iter().enumerate() {
            let recv_ns = 1_000_000_000_000 + i as u64 * 1_000_000_000;
            let exchange_ms = recv_ns / 1_000_000 - 3 - latency;
            clock.observe(exchange_ms, recv_ns);
        }
        assert_eq!(clock.min_delay_ms(), Some(8.0));
        assert_eq!(clock.offset_ms(), Some(-8.0));
        // A later window forgets old minima after one full window.
        clock.observe(1_030_000 - 20, 1_030_000_000_000);
        clock.observe(1_045_000 - 20, 1_045_000_000_000);
        assert_eq!(clock.min_delay_ms(), Some(20.0));
    }
}

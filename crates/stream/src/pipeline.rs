//! Routes frames to each venue's feed handler and keeps pipeline-wide counters.

use perpspread_core::feed::{ClockOffset, Feed, FeedEvent, Frame, FrameError};
use perpspread_core::{Venue, VenueMap};
use serde::Serialize;

/// Counters of everything the pipeline has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PipelineStats {
    /// Every frame (WebSocket message or REST response) processed.
    pub messages: u64,
    /// Frames that carried book data: applied and verified, or found broken (see [`FeedEvent::is_book`]).
    pub book_messages: u64,
    pub malformed: u64,
    pub unknown: u64,
    pub venue_errors: u64,
    pub resync_requests: u64,
    pub snapshot_requests: u64,
}

/// Every venue's feed handler behind one entry point.
#[derive(Debug)]
pub struct Pipeline {
    feeds: VenueMap<Box<dyn Feed>>,
    events: Vec<FeedEvent>,
    stats: PipelineStats,
    clocks: VenueMap<ClockOffset>,
    last_frame: LastFrame,
}

/// What the last frame was, for per-message metrics.
#[derive(Debug, Clone, Default)]
pub struct LastFrame {
    /// Size of the frame text, bytes.
    pub bytes: usize,
    /// Whether it was a REST response (else a WebSocket frame).
    pub rest: bool,
    /// Whether it was a book message (see [`FeedEvent::is_book`]).
    pub book: bool,
    /// Why it could not be used, if it could not.
    pub error: Option<FrameError>,
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline::with_feeds(perpspread_venues::feeds())
    }
}

impl Pipeline {
    /// A pipeline with default book depths.
    pub fn new() -> Self {
        Self::default()
    }

    /// A pipeline over the given feed handlers (one per venue).
    pub(crate) fn with_feeds(feeds: VenueMap<Box<dyn Feed>>) -> Self {
        Pipeline {
            feeds,
            events: Vec::new(),
            stats: PipelineStats::default(),
            clocks: VenueMap::from_fn(|_| ClockOffset::new(60_000_000_000)),
            last_frame: LastFrame::default(),
        }
    }

    /// Processes one frame of `venue`; returns what happened (valid until the next call).
    pub fn on_frame(&mut self, venue: Venue, frame: Frame<'_>) -> Result<&[FeedEvent], FrameError> {
        self.events.clear();
        self.stats.messages += 1;
        self.last_frame.bytes = frame.data.len();
        self.last_frame.rest = matches!(frame.source, perpspread_core::feed::Source::Rest { .. });
        self.last_frame.error = None;
        let result = self.feeds[venue].on_frame(frame, &mut self.events);
        let clock = &mut self.clocks[venue];
        let feed = &*self.feeds[venue];
        let mut book = false;
        for event in &self.events {
            book |= event.is_book();
            match event {
                FeedEvent::BookUpdated { slot } => {
                    if let Some(exchange_ms) = feed.book(*slot).and_then(|b| b.exchange_ms) {
                        clock.observe(exchange_ms, frame.recv.wall_ns);
                    }
                }
                FeedEvent::Resync { .. } => self.stats.resync_requests += 1,
                FeedEvent::SnapshotNeeded { .. } => self.stats.snapshot_requests += 1,
                _ => {}
            }
        }
        self.last_frame.book = book;
        self.stats.book_messages += u64::from(book);
        match result {
            Ok(()) => Ok(&self.events),
            Err(error) => {
                match &error {
                    FrameError::Malformed(_) => self.stats.malformed += 1,
                    FrameError::Unknown(_) => self.stats.unknown += 1,
                    FrameError::Venue { .. } => self.stats.venue_errors += 1,
                }
                self.last_frame.error = Some(error.clone());
                Err(error)
            }
        }
    }

    /// Size, origin and error of the last frame processed.
    pub fn last_frame(&self) -> &LastFrame {
        &self.last_frame
    }

    /// Events of the last frame processed.
    pub fn last_events(&self) -> &[FeedEvent] {
        &self.events
    }

    /// The handler of a venue.
    pub fn feed(&self, venue: Venue) -> &dyn Feed {
        &*self.feeds[venue]
    }

    /// The handler of a venue, mutably (to track or invalidate books).
    pub(crate) fn feed_mut(&mut self, venue: Venue) -> &mut dyn Feed {
        &mut *self.feeds[venue]
    }

    /// Clock estimate of a venue from its book messages (see [`ClockOffset`]).
    pub fn clock(&self, venue: Venue) -> &ClockOffset {
        &self.clocks[venue]
    }

    /// Counters so far.
    pub fn stats(&self) -> PipelineStats {
        self.stats
    }
}

//! Book health over a replay: integrity counters of every book and the exchange → receive latency per
//! venue.

use perpspread_core::feed::{receive_delay_ms, Feed, FeedEvent};
use perpspread_core::{Venue, VenueMap};
use serde::Serialize;

use crate::stats::{LatencyHistogram, Percentiles};

/// Book health of one venue over a replay.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VenueHealth {
    pub venue: Venue,
    pub books: u64,
    pub updates_applied: u64,
    pub sequence_gaps: u64,
    pub checksums_verified: u64,
    pub checksum_failures: u64,
    pub resyncs: u64,
    /// Exchange → receive latency, ms.
    pub latency_ms: Percentiles,
    pub latency_samples: u64,
}

/// Book health over a replay.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BookHealthReport {
    pub venues: Vec<VenueHealth>,
}

/// Collects book-health figures while a capture is replayed (call [`HealthCollector::on_events`] from the
/// replay's observer with `pipeline.last_events()`, then [`HealthCollector::finish`] with the feeds).
#[derive(Debug, Default)]
pub struct HealthCollector {
    latency: VenueMap<LatencyHistogram>,
}

impl HealthCollector {
    /// A collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the exchange → receive latency of every book updated by a frame.
    pub fn on_events(&mut self, venue: Venue, feed: &dyn Feed, events: &[FeedEvent]) {
        for event in events {
            let FeedEvent::BookUpdated { slot } = *event else {
                continue;
            };
            let Some(book) = feed.book(slot) else {
                continue;
            };
            if let Some(latency) = book.exchange_ms.and_then(|ms| receive_delay_ms(ms, book.recv.wall_ns)) {
                self.latency[venue].record_ms(latency);
            }
        }
    }

    /// Integrity counters of every book plus the latency percentiles, for every feed that had a book.
    pub fn finish(self, feeds: &[&dyn Feed]) -> BookHealthReport {
        let venues = feeds
            .iter()
            .filter(|feed| (0..feed.slots()).any(|slot| feed.book(slot).is_some()))
            .map(|feed| {
                let venue = feed.venue();
                let mut health = VenueHealth {
                    venue,
                    books: 0,
                    updates_applied: 0,
                    sequence_gaps: 0,
                    checksums_verified: 0,
                    checksum_failures: 0,
                    resyncs: 0,
                    latency_ms: self.latency[venue].percentiles(),
                    latency_samples: self.latency[venue].len(),
                };
                for book in (0..feed.slots()).filter_map(|slot| feed.book(slot)) {
                    health.books += 1;
                    health.updates_applied += book.stats.updates_applied;
                    health.sequence_gaps += book.stats.sequence_gaps;
                    health.checksums_verified += book.stats.checksums_verified;
                    health.checksum_failures += book.stats.checksum_failures;
                    health.resyncs += book.stats.resyncs;
                }
                health
            })
            .collect();
        BookHealthReport { venues }
    }
}

//! Readiness: the health model of every book (live, stale, down since when), stalled venues, silent
//! streams and a failed recording, as served at `/healthz`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use metrics::Gauge;
use perpspread_core::feed::BookState;
use perpspread_core::health::{SilentStream, StreamHealth};
use perpspread_core::{Venue, VenueMap};
use serde::Serialize;

use super::labels::*;
use super::series::TopEntry;
use super::HealthConfig;

/// When books are observed, for telling `Live` from `Stale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookAge {
    /// Now on the receive clock (`RecvTime::mono_ns`).
    pub now_mono_ns: u64,
    /// A `Live` book not updated for longer than this is `Stale` (the engine's `max_book_age_ns`).
    pub max_ns: u64,
}

/// One book as the health model sees it.
#[derive(Debug, Clone)]
pub(super) struct BookHealth {
    pub(super) venue: Venue,
    pub(super) symbol: String,
    /// The state as last shown (aged: a `Live` book not updated for the maximum age is `Stale`).
    pub(super) state: BookState,
    pub(super) since: Instant,
    /// Since when the book is not `Live` (stale, syncing or resyncing alike), while it is not.
    pub(super) down_since: Option<Instant>,
    /// The feed's own state and the receive time of its last update, as last observed: enough to age the
    /// book at any later scrape without the feed.
    pub(super) raw: BookState,
    pub(super) updated_mono_ns: u64,
    pub(super) gauge: Option<Gauge>,
}

impl BookHealth {
    /// Ages the book to `now_mono_ns` (`Stale` after `max_age_ns` without an update), keeping `since` and the
    /// `perpspread_book_state` gauge in step.
    pub(super) fn age(&mut self, now_mono_ns: u64, max_age_ns: u64, now: Instant) {
        let state = self.raw.aged(now_mono_ns.saturating_sub(self.updated_mono_ns), max_age_ns);
        self.show(state, now);
        if let Some(gauge) = &self.gauge {
            gauge.set(state_code(state));
        }
    }

    /// Shows `state` from `now` on (`since` moves only when the state changes; `down_since` only when the
    /// book goes from live to anything else, or back).
    pub(super) fn show(&mut self, state: BookState, now: Instant) {
        if state != self.state {
            self.state = state;
            self.since = now;
        }
        match state {
            BookState::Live => self.down_since = None,
            _ => {
                self.down_since.get_or_insert(now);
            }
        }
    }

    /// How long the book has not been live.
    pub(super) fn down_for(&self, now: Instant) -> Duration {
        self.down_since.map_or(Duration::ZERO, |at| now.saturating_duration_since(at))
    }
}

/// A venue with fewer books than this is judged stalled only after [`FEW_BOOKS_QUIET`]: a quiet market may leave
/// one or two books without an update for a minute (an unchanged OKX book gets a keep-alive every ~60 s).
pub(super) const FEW_BOOKS: usize = 3;
pub(super) const FEW_BOOKS_QUIET: Duration = Duration::from_secs(90);

/// State shared with the HTTP server.
pub(super) struct Shared {
    pub(super) config: HealthConfig,
    pub(super) books: Mutex<VenueMap<Vec<BookHealth>>>,
    pub(super) last_observed: Mutex<Option<Instant>>,
    pub(super) top: Mutex<Vec<TopEntry>>,
    /// Silent streams, as the live layer publishes them (read at every scrape).
    pub(super) streams: Mutex<Option<StreamHealth>>,
    /// The engine's maximum book age, ns, and the receive clock (`RecvTime::mono_ns`) at an instant, from the
    /// last observation: the receive clock at any later instant follows (`None` before the first).
    pub(super) ageing: Mutex<Option<(u64, u64, Instant)>>,
    /// `perpspread_books{venue,state}`, recounted at every scrape.
    pub(super) state_counts: Mutex<Vec<[Gauge; 4]>>,
    /// Why the recording (`monitor --record`) failed, asked at every scrape.
    pub(super) recording: Mutex<Option<RecordingStatus>>,
    /// Funding of each pair's legs, as last observed (rendered at each scrape).
    pub(super) funding: Mutex<Vec<FundingEntry>>,
}

/// One pair's funding as exported: each leg's rate per hour and the APR difference of each direction.
#[derive(Debug, Clone)]
pub(super) struct FundingEntry {
    pub(super) pair: String,
    pub(super) legs: [(Venue, Option<f64>); 2],
    /// (direction label, short − long APR %).
    pub(super) apr_diff: [(&'static str, Option<f64>); 2],
}

/// Tells why a recording failed (`None` while it is fine).
pub type RecordingStatus = Box<dyn Fn() -> Option<String> + Send + Sync>;

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Shared {
    /// Ages every book to now (the receive clock), so `/healthz`, `perpspread_book_state` and
    /// `perpspread_books` agree with the engine's view at every scrape, even when nothing arrives.
    pub(super) fn age_books(&self, now: Instant) {
        let Some((max_age_ns, mono_ns, at)) = *self.ageing.lock().unwrap_or_else(|e| e.into_inner()) else {
            return;
        };
        let now_mono_ns = mono_ns.saturating_add(now.saturating_duration_since(at).as_nanos() as u64);
        let mut books = self.books.lock().unwrap_or_else(|e| e.into_inner());
        let counts = self.state_counts.lock().unwrap_or_else(|e| e.into_inner());
        for (venue_books, gauges) in books.iter_mut().zip(counts.iter()) {
            let mut by_state = [0u64; 4];
            for book in venue_books.iter_mut().filter(|b| !b.symbol.is_empty()) {
                book.age(now_mono_ns, max_age_ns, now);
                by_state[state_index(book.state)] += 1;
            }
            for (gauge, count) in gauges.iter().zip(by_state) {
                gauge.set(count as f64);
            }
        }
    }
}

/// A book that keeps the process from being ready.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnreadyBook {
    pub venue: Venue,
    pub symbol: String,
    pub state: &'static str,
    /// Seconds in that state.
    pub for_s: f64,
}

/// The readiness verdict served at `/healthz`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    pub ready: bool,
    /// Why not ready (empty when ready).
    pub reason: String,
    pub books: usize,
    pub live: usize,
    /// Up to 50 books that are not live (whether or not still within the grace period).
    pub not_live: Vec<UnreadyBook>,
    /// Subscribed streams that deliver nothing (each makes the process not ready).
    pub silent_streams: Vec<SilentStream>,
}

impl Shared {
    pub(super) fn health(&self, now: Instant) -> Health {
        self.age_books(now);
        let books = self.books.lock().unwrap_or_else(|e| e.into_inner());
        let last = *self.last_observed.lock().unwrap_or_else(|e| e.into_inner());
        let total = books.iter().map(Vec::len).sum::<usize>();
        let mut live = 0;
        let mut not_live = Vec::new();
        let mut failing = 0;
        for book in books.iter().flatten() {
            let age = now.saturating_duration_since(book.since);
            let ok = match book.state {
                BookState::Live => true,
                // A quiet market leaves a book stale without anything wrong in the process (a whole venue
                // stale is judged below).
                BookState::Stale => true,
                // The grace runs from when the book stopped being live, not from its last change of state
                // (stale, then resyncing after the stall timeout, is one outage).
                BookState::Syncing | BookState::Resyncing => book.down_for(now) < self.config.resync_grace,
            };
            if book.state == BookState::Live {
                live += 1;
            } else if not_live.len() < 50 {
                not_live.push(UnreadyBook {
                    venue: book.venue,
                    symbol: book.symbol.clone(),
                    state: book.state.as_str(),
                    for_s: age.as_secs_f64(),
                });
            }
            failing += usize::from(!ok);
        }
        let silent_streams = self.silent_streams();
        // One quiet book is a quiet market; no book of a venue live, with one stale among them, is a stalled
        // feed (or, for a venue of one or two books, after a quiet minute and a half).
        let stalled: Vec<String> = books
            .iter()
            .map(|venue_books| venue_books.iter().filter(|b| !b.symbol.is_empty()).collect::<Vec<_>>())
            .filter(|venue_books| !venue_books.is_empty())
            .filter(|venue_books| {
                let down = venue_books.iter().map(|b| b.down_for(now)).min().unwrap_or_default();
                venue_books.iter().all(|b| b.state != BookState::Live)
                    && venue_books
                        .iter()
                        .any(|b| b.state == BookState::Stale || b.down_for(now) >= self.config.resync_grace)
                    && (venue_books.len() >= FEW_BOOKS || down >= FEW_BOOKS_QUIET)
            })
            .map(|venue_books| {
                let down = venue_books.iter().map(|b| b.down_for(now)).min().unwrap_or_default();
                format!(
                    "no {} book live ({} books, for {:.0} s): feed stalled?",
                    venue_books[0].venue,
                    venue_books.len(),
                    down.as_secs_f64()
                )
            })
            .collect();
        let recording = self.recording_failure();
        let reason = match last {
            _ if recording.is_some() => recording.unwrap_or_default(),
            _ if !stalled.is_empty() => stalled.join("; "),
            _ if !silent_streams.is_empty() => silent_streams
                .iter()
                .map(|s| {
                    format!(
                        "{} {} stream silent for {:.0} s on {}",
                        s.venue,
                        s.stream,
                        s.silent_for.as_secs_f64(),
                        s.url
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
            _ if total == 0 => "no book subscribed yet".to_owned(),
            Some(at) if now.saturating_duration_since(at) > self.config.max_observation_age => format!(
                "books not observed for {:.0} s (market-data loop stalled?)",
                now.saturating_duration_since(at).as_secs_f64()
            ),
            _ if failing > 0 => format!(
                "{failing} of {total} books stale or not live for {} s or more",
                self.config.resync_grace.as_secs_f64()
            ),
            _ => String::new(),
        };
        Health { ready: reason.is_empty(), reason, books: total, live, not_live, silent_streams }
    }

    pub(super) fn recording_failure(&self) -> Option<String> {
        self.recording.lock().unwrap_or_else(|e| e.into_inner()).as_ref().and_then(|status| status())
    }

    pub(super) fn silent_streams(&self) -> Vec<SilentStream> {
        self.streams.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(StreamHealth::silent).unwrap_or_default()
    }
}

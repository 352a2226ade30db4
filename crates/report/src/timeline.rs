//! What happened over time in a replay, kept in bounded memory for charts: each pair's best net spread per
//! direction and its funding carry, the books' health per venue, and the exchange → receive latency spread
//! of each venue.
//!
//! A series is bucketed at a fixed step (100 ms to start with) keeping each bucket's min, max and last
//! value; when a series would exceed [`MAX_BUCKETS`] the step doubles and neighbouring buckets merge (min
//! of mins, max of maxes, the later last), so a recording of seconds keeps 100 ms detail and one of days
//! keeps its extremes as bands.

use std::collections::BTreeMap;

use perpspread_core::feed::{receive_delay_ms, BookState, FeedEvent};
use perpspread_core::{Direction, Venue, VenueMap};
use perpspread_stream::ReplayStep;

/// Buckets kept per series at most.
pub const MAX_BUCKETS: usize = 4_000;
/// The first bucket width, ns.
const FIRST_STEP_NS: u64 = 100_000_000;

/// One bucket of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub min: f64,
    pub max: f64,
    pub last: f64,
}

impl Bucket {
    fn of(value: f64) -> Self {
        Bucket { min: value, max: value, last: value }
    }

    fn add(&mut self, value: f64) {
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.last = value;
    }

    fn merge(self, later: Bucket) -> Bucket {
        Bucket { min: self.min.min(later.min), max: self.max.max(later.max), last: later.last }
    }
}

/// Values bucketed over time from a start.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    start_ns: u64,
    step_ns: u64,
    buckets: Vec<Option<Bucket>>,
}

impl Series {
    /// An empty series starting at `start_ns`.
    pub fn new(start_ns: u64) -> Self {
        Series { start_ns, step_ns: FIRST_STEP_NS, buckets: Vec::new() }
    }

    /// Adds a value at `ts_ns` (earlier than the start: counted in the first bucket).
    pub fn add(&mut self, ts_ns: u64, value: f64) {
        if !value.is_finite() {
            return;
        }
        let mut index = (ts_ns.saturating_sub(self.start_ns) / self.step_ns) as usize;
        while index >= MAX_BUCKETS {
            self.coarsen();
            index = (ts_ns.saturating_sub(self.start_ns) / self.step_ns) as usize;
        }
        if self.buckets.len() <= index {
            self.buckets.resize(index + 1, None);
        }
        match &mut self.buckets[index] {
            Some(bucket) => bucket.add(value),
            empty => *empty = Some(Bucket::of(value)),
        }
    }

    fn coarsen(&mut self) {
        self.step_ns *= 2;
        self.buckets = self
            .buckets
            .chunks(2)
            .map(|pair| match pair {
                [Some(a), Some(b)] => Some(a.merge(*b)),
                [Some(a), None] | [Some(a)] => Some(*a),
                [None, Some(b)] => Some(*b),
                _ => None,
            })
            .collect();
    }

    /// Bucket width, ns.
    pub fn step_ns(&self) -> u64 {
        self.step_ns
    }

    /// `(bucket start ns, bucket)` of every non-empty bucket.
    pub fn points(&self) -> impl Iterator<Item = (u64, Bucket)> + '_ {
        self.buckets.iter().enumerate().filter_map(|(i, b)| b.map(|b| (self.start_ns + i as u64 * self.step_ns, b)))
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.buckets.iter().all(Option::is_none)
    }
}

/// The book states a health timeline counts: Live; Stale (Live but not updated for longer than the engine's
/// `max_book_age`, the rule of its guard); Syncing or Resyncing (waiting for a snapshot).
pub const HEALTH_STATES: [&str; 3] = ["live", "stale", "syncing or resyncing"];

/// Latency bins, ms: upper edges (the first bin is "below 0", the last open-ended).
pub const LATENCY_BINS_MS: [f64; 11] = [0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, f64::INFINITY];

/// A pair's timeline: the best net over the evaluated sizes of each direction, and each direction's
/// funding carry over the horizon, bp.
#[derive(Debug, Clone, PartialEq)]
pub struct PairTimeline {
    /// `BTC/USDT`.
    pub pair: String,
    /// `(direction, best net, carry)`, in the engine's direction order (buy the first leg, then the second).
    pub directions: Vec<(Direction, Series, Series)>,
}

/// Timelines of a replay (feed every [`ReplayStep`], then [`TimelineCollector::finish`]).
#[derive(Debug, Default)]
pub struct TimelineCollector {
    pairs: BTreeMap<usize, PairTimeline>,
    /// Per venue: books per [`HEALTH_STATES`] group, sampled once per 100 ms of replay time.
    health: VenueMap<Option<[Series; 3]>>,
    next_health_ns: u64,
    latency: VenueMap<[u64; LATENCY_BINS_MS.len()]>,
    open_bp: Option<f64>,
}

/// What [`TimelineCollector::finish`] hands to the charts.
#[derive(Debug, Clone, Default)]
pub struct Timelines {
    pub pairs: Vec<PairTimeline>,
    /// Per venue present: books per [`HEALTH_STATES`] group over time.
    pub health: Vec<(Venue, [Series; 3])>,
    /// Per venue with messages: counts per [`LATENCY_BINS_MS`] bin.
    pub latency: Vec<(Venue, [u64; LATENCY_BINS_MS.len()])>,
    /// The engine's open threshold, bp.
    pub open_bp: Option<f64>,
}

impl TimelineCollector {
    /// Takes one replay step.
    pub fn on_step(&mut self, step: &ReplayStep<'_>) {
        let now = step.recv.wall_ns;
        self.count_latency(step);
        if now >= self.next_health_ns {
            self.sample_health(step, now);
            self.next_health_ns = now - now % FIRST_STEP_NS + FIRST_STEP_NS;
        }
        let Some(engine) = step.engine else { return };
        self.open_bp = Some(engine.config().open_bp);
        let sizes = engine.config().sizes.len().max(1);
        for &pair in step.evaluated {
            let timeline = self.pairs.entry(pair).or_insert_with(|| {
                let p = &engine.pairs()[pair];
                let first = Direction::new(p.legs[0].venue, p.legs[1].venue);
                PairTimeline {
                    pair: p.key.to_string(),
                    directions: [first, first.reversed()]
                        .into_iter()
                        .map(|direction| (direction, Series::new(now), Series::new(now)))
                        .collect(),
                }
            });
            let quotes = engine.quotes(pair);
            for (d, (_, best, carry)) in timeline.directions.iter_mut().enumerate() {
                let net =
                    quotes[d * sizes..(d + 1) * sizes].iter().flatten().map(|q| q.net_bp).fold(f64::NAN, f64::max);
                best.add(now, net);
                let legs = if d == 0 { (0, 1) } else { (1, 0) };
                if let Some(bp) = engine.funding_carry_bp(pair, legs, now / 1_000_000) {
                    carry.add(now, bp);
                }
            }
        }
    }

    fn count_latency(&mut self, step: &ReplayStep<'_>) {
        let feed = step.pipeline.feed(step.venue);
        for event in step.pipeline.last_events() {
            let FeedEvent::BookUpdated { slot } = *event else { continue };
            let Some(book) = feed.book(slot) else { continue };
            if let Some(ms) = book.exchange_ms.and_then(|ms| receive_delay_ms(ms, book.recv.wall_ns)) {
                let bin =
                    if ms < 0.0 { 0 } else { LATENCY_BINS_MS.iter().position(|edge| ms <= *edge).unwrap_or(0).max(1) };
                self.latency[step.venue][bin] += 1;
            }
        }
    }

    fn sample_health(&mut self, step: &ReplayStep<'_>, now: u64) {
        let max_age_ns = step.engine.map_or(5_000_000_000, |e| e.config().max_book_age_ns);
        for venue in Venue::ALL {
            let feed = step.pipeline.feed(venue);
            let mut counts = [0u32; 3];
            for book in (0..feed.slots()).filter_map(|slot| feed.book(slot)) {
                let group = match book.state {
                    BookState::Live if now.saturating_sub(book.recv.wall_ns) > max_age_ns => 1,
                    BookState::Live => 0,
                    BookState::Stale => 1,
                    BookState::Syncing | BookState::Resyncing => 2,
                };
                counts[group] += 1;
            }
            if counts.iter().sum::<u32>() == 0 && self.health[venue].is_none() {
                continue;
            }
            let series = self.health[venue].get_or_insert_with(|| std::array::from_fn(|_| Series::new(now)));
            for (series, count) in series.iter_mut().zip(counts) {
                series.add(now, f64::from(count));
            }
        }
    }

    /// The timelines, pairs in their engine order.
    pub fn finish(self) -> Timelines {
        Timelines {
            pairs: self.pairs.into_values().collect(),
            health: Venue::ALL.into_iter().filter_map(|v| self.health[v].clone().map(|series| (v, series))).collect(),
            latency: Venue::ALL
                .into_iter()
                .filter(|v| self.latency[*v].iter().any(|c| *c > 0))
                .map(|v| (v, self.latency[v]))
                .collect(),
            open_bp: self.open_bp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_keep_extremes_when_coarsened() {
        let mut series = Series::new(0);
        // Ten minutes of one value a millisecond, a spike at 5 min.
        for ms in 0..600_000u64 {
            let value = if ms == 300_000 { 99.0 } else { (ms % 7) as f64 };
            series.add(ms * 1_000_000, value);
        }
        let points: Vec<_> = series.points().collect();
        assert!(points.len() <= MAX_BUCKETS && points.len() > MAX_BUCKETS / 4, "{}", points.len());
        assert_eq!(series.step_ns(), 200_000_000, "100 ms doubled once for 6000 buckets");
        assert_eq!(points.iter().map(|(_, b)| b.max).fold(f64::MIN, f64::max), 99.0);
        assert_eq!(points.iter().map(|(_, b)| b.min).fold(f64::MAX, f64::min), 0.0);
        // The spike's bucket, and only that one.
        assert_eq!(points.iter().filter(|(_, b)| b.max == 99.0).count(), 1);
        let (start, _) = points.iter().find(|(_, b)| b.max == 99.0).unwrap();
        assert_eq!(*start, 300_000_000_000);
        // NaN and infinities are not values.
        series.add(1, f64::NAN);
        assert_eq!(series.points().count(), points.len());
        assert!(Series::new(5).is_empty());
    }
}

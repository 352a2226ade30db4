//! Order statistics of report figures: exact percentiles of small samples ([`Percentiles::of`]) and a
//! bounded-memory latency histogram ([`LatencyHistogram`]) for the millions of book updates of a replay.

use hdrhistogram::Histogram;
use serde::Serialize;

/// p50 / p90 / p99 / max.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    /// Of `values` (NaN ignored); all zero when empty.
    pub fn of(values: &[f64]) -> Percentiles {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        sorted.sort_by(f64::total_cmp);
        Percentiles {
            p50: percentile(&sorted, 0.50),
            p90: percentile(&sorted, 0.90),
            p99: percentile(&sorted, 0.99),
            max: sorted.last().copied().unwrap_or(0.0),
        }
    }
}

/// The `q` quantile (0–1) of sorted values, interpolating between closest ranks; 0 when empty.
pub(crate) fn percentile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        1 => sorted[0],
        n => {
            let rank = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
            sorted[low] + (sorted[high] - sorted[low]) * (rank - low as f64)
        }
    }
}

/// Exchange → receive latencies in bounded memory: HDR histograms of microseconds at three significant
/// digits (≤ 0.1 % relative error), one for non-negative values and one for the magnitude of negative ones
/// (a venue clock ahead of ours), so that small values keep their precision on both sides of zero.
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    positive: Histogram<u64>,
    negative: Histogram<u64>,
}

/// The largest latency told apart: one day, in µs.
const MAX_MICROS: u64 = 86_400_000_000;

impl Default for LatencyHistogram {
    fn default() -> Self {
        let histogram = || Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid histogram bounds");
        LatencyHistogram { positive: histogram(), negative: histogram() }
    }
}

impl LatencyHistogram {
    /// Records one latency in milliseconds (NaN ignored; beyond ±1 day clamped).
    pub(crate) fn record_ms(&mut self, ms: f64) {
        if ms.is_nan() {
            return;
        }
        let micros = (ms.abs() * 1e3).round().min(MAX_MICROS as f64) as u64;
        let histogram = if ms < 0.0 { &mut self.negative } else { &mut self.positive };
        histogram.saturating_record(micros);
    }

    /// Number of recorded values.
    pub fn len(&self) -> u64 {
        self.positive.len() + self.negative.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `q` quantile (0–1) in milliseconds; 0 when empty.
    pub(crate) fn quantile_ms(&self, q: f64) -> f64 {
        let (negatives, total) = (self.negative.len(), self.len());
        if total == 0 {
            return 0.0;
        }
        let rank = q.clamp(0.0, 1.0) * (total - 1) as f64;
        let micros = if rank < negatives as f64 {
            // The negative side is stored by magnitude: its low ranks are its largest magnitudes.
            let within = if negatives > 1 { rank / (negatives - 1) as f64 } else { 0.0 };
            -(self.negative.lowest_equivalent(self.negative.value_at_quantile(1.0 - within)) as f64)
        } else {
            let positives = total - negatives;
            let within = if positives > 1 { (rank - negatives as f64) / (positives - 1) as f64 } else { 0.0 };
            self.positive.lowest_equivalent(self.positive.value_at_quantile(within)) as f64
        };
        micros / 1e3
    }

    /// p50 / p90 / p99 / max in milliseconds.
    pub(crate) fn percentiles(&self) -> Percentiles {
        Percentiles {
            p50: self.quantile_ms(0.50),
            p90: self.quantile_ms(0.90),
            p99: self.quantile_ms(0.99),
            max: self.quantile_ms(1.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate() {
        let p = Percentiles::of(&[1.0, 2.0, 3.0, 4.0, 5.0, f64::NAN]);
        assert_eq!((p.p50, p.max), (3.0, 5.0));
        assert!((p.p90 - 4.6).abs() < 1e-9);
        assert_eq!(Percentiles::of(&[]), Percentiles::default());
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
    }

    /// The histogram agrees with the exact percentiles within its 0.1 % precision (plus the rank rounding
    /// of a quantile between two samples), on both sides of zero.
    #[test]
    fn latency_histogram_matches_exact_percentiles() {
        let values: Vec<f64> = (0..10_000).map(|i| (i as f64 * 0.37) % 250.0 - 20.0).collect();
        let mut histogram = LatencyHistogram::default();
        for v in &values {
            histogram.record_ms(*v);
        }
        histogram.record_ms(f64::NAN);
        assert_eq!(histogram.len(), 10_000);
        let exact = Percentiles::of(&values);
        let approx = histogram.percentiles();
        for (a, e) in
            [(approx.p50, exact.p50), (approx.p90, exact.p90), (approx.p99, exact.p99), (approx.max, exact.max)]
        {
            assert!((a - e).abs() <= e.abs() * 1e-3 + 0.05, "{approx:?} vs {exact:?}");
        }
        assert!((histogram.quantile_ms(0.0) - -20.0).abs() < 0.05, "{}", histogram.quantile_ms(0.0));
        assert_eq!(LatencyHistogram::default().percentiles(), Percentiles::default());
        let mut one = LatencyHistogram::default();
        one.record_ms(-3.0);
        assert!((one.percentiles().p50 - -3.0).abs() < 0.005, "{:?}", one.percentiles());
    }
}

//! A token-bucket rate limiter measured in request weight.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Allows `capacity` weight per `period`, refilled continuously; callers wait instead of bursting.
#[derive(Debug)]
pub struct RateLimiter {
    capacity: f64,
    refill_per_sec: f64,
    state: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    /// A limiter allowing `capacity` weight every `period` (starts full).
    pub fn new(capacity: u32, period: Duration) -> Self {
        let capacity = f64::from(capacity.max(1));
        RateLimiter {
            capacity,
            refill_per_sec: capacity / period.as_secs_f64().max(1e-3),
            state: Mutex::new(Bucket { tokens: capacity, updated: Instant::now() }),
        }
    }

    /// Waits until `weight` can be spent, then spends it.
    pub(crate) async fn acquire(&self, weight: u32) {
        loop {
            match self.try_acquire(weight) {
                None => return,
                Some(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// Spends `weight` if available now; otherwise returns how long to wait.
    pub(crate) fn try_acquire(&self, weight: u32) -> Option<Duration> {
        let weight = f64::from(weight).min(self.capacity);
        let mut bucket = self.state.lock().unwrap_or_else(|e| e.into_inner());
        self.refill(&mut bucket);
        if bucket.tokens >= weight {
            bucket.tokens -= weight;
            None
        } else {
            Some(Duration::from_secs_f64((weight - bucket.tokens) / self.refill_per_sec))
        }
    }

    /// How long until `weight` could be spent (zero when it can be now); spends nothing.
    pub(crate) fn wait_time(&self, weight: u32) -> Duration {
        let weight = f64::from(weight).min(self.capacity);
        let mut bucket = self.state.lock().unwrap_or_else(|e| e.into_inner());
        self.refill(&mut bucket);
        Duration::from_secs_f64(((weight - bucket.tokens) / self.refill_per_sec).max(0.0))
    }

    /// Takes the server's own count of weight used in the current window into account
    /// (e.g. Binance `X-MBX-USED-WEIGHT-1m`): never believe more is left than the server says.
    pub(crate) fn observe_used(&self, used: u32) {
        let mut bucket = self.state.lock().unwrap_or_else(|e| e.into_inner());
        self.refill(&mut bucket);
        bucket.tokens = bucket.tokens.min((self.capacity - f64::from(used)).max(0.0));
    }

    /// Empties the bucket after the server said we went too fast.
    pub fn drain(&self) {
        let mut bucket = self.state.lock().unwrap_or_else(|e| e.into_inner());
        bucket.tokens = 0.0;
        bucket.updated = Instant::now();
    }

    fn refill(&self, bucket: &mut Bucket) {
        let now = Instant::now();
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.refill_per_sec).min(self.capacity);
        bucket.updated = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spends_then_asks_to_wait() {
        let limiter = RateLimiter::new(10, Duration::from_secs(1));
        assert!(limiter.try_acquire(6).is_none());
        assert!(limiter.try_acquire(4).is_none());
        let wait = limiter.try_acquire(5).expect("bucket is empty");
        assert!(wait > Duration::from_millis(400) && wait <= Duration::from_millis(500), "{wait:?}");
    }

    #[test]
    fn server_usage_caps_tokens() {
        let limiter = RateLimiter::new(100, Duration::from_secs(60));
        limiter.observe_used(95);
        assert!(limiter.try_acquire(5).is_none());
        assert!(limiter.try_acquire(5).is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn acquire_waits_for_refill() {
        let limiter = RateLimiter::new(2, Duration::from_secs(2));
        let start = tokio::time::Instant::now();
        for _ in 0..4 {
            limiter.acquire(1).await;
        }
        // Two immediately, then one per second.
        assert!(start.elapsed() >= Duration::from_millis(1900), "{:?}", start.elapsed());
    }
}

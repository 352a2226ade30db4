//! Binance's per-IP request-weight limit: a fixed window (one minute on the real venue), HTTP 429 with
//! `Retry-After` once the budget is exceeded, and an HTTP 418 ban after repeated violations.

/// What happens to a request after charging its weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Served; `used` is the window's weight including this request.
    Allowed { used: u32 },
    /// HTTP 429: over budget until the window rolls over in `retry_after_s`.
    Limited { used: u32, retry_after_s: u64 },
    /// HTTP 418: banned until `until_ms`.
    Banned { used: u32, until_ms: u64, retry_after_s: u64 },
}

impl Admission {
    /// Weight used in the current window (the `X-MBX-USED-WEIGHT-1m` header).
    pub(crate) fn used(&self) -> u32 {
        match *self {
            Admission::Allowed { used } | Admission::Limited { used, .. } | Admission::Banned { used, .. } => used,
        }
    }
}

/// The weight limit's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WeightLimits {
    pub limit: u32,
    pub window_ms: u64,
    pub violations_before_ban: u32,
    pub ban_ms: u64,
}

/// Weight used by the (single, local) client IP.
#[derive(Debug, Default)]
pub(crate) struct WeightTracker {
    window: u64,
    used: u32,
    violations: u32,
    banned_until_ms: u64,
}

impl WeightTracker {
    /// Charges `weight` at `now_ms` and decides whether the request is served.
    pub(crate) fn charge(&mut self, now_ms: u64, weight: u32, limits: &WeightLimits) -> Admission {
        let window = now_ms / limits.window_ms;
        if window != self.window {
            self.window = window;
            self.used = 0;
        }
        if now_ms < self.banned_until_ms {
            return Admission::Banned {
                used: self.used,
                until_ms: self.banned_until_ms,
                retry_after_s: secs_until(now_ms, self.banned_until_ms),
            };
        }
        self.used = self.used.saturating_add(weight);
        if self.used <= limits.limit {
            return Admission::Allowed { used: self.used };
        }
        self.violations += 1;
        if self.violations > limits.violations_before_ban {
            self.violations = 0;
            self.banned_until_ms = now_ms + limits.ban_ms;
            return Admission::Banned {
                used: self.used,
                until_ms: self.banned_until_ms,
                retry_after_s: secs_until(now_ms, self.banned_until_ms),
            };
        }
        let window_end = (window + 1) * limits.window_ms;
        Admission::Limited { used: self.used, retry_after_s: secs_until(now_ms, window_end) }
    }
}

fn secs_until(now_ms: u64, then_ms: u64) -> u64 {
    then_ms.saturating_sub(now_ms).div_ceil(1000).max(1)
}

/// The documented weight of a `/fapi` request.
pub(crate) fn request_weight(path: &str, has_symbol: bool, depth_limit: Option<u32>) -> u32 {
    match path {
        "/fapi/v1/depth" => match depth_limit.unwrap_or(500) {
            0..=50 => 2,
            51..=100 => 5,
            101..=500 => 10,
            _ => 20,
        },
        "/fapi/v1/ticker/24hr" => {
            if has_symbol {
                1
            } else {
                40
            }
        }
        "/fapi/v1/ticker/bookTicker" => {
            if has_symbol {
                2
            } else {
                5
            }
        }
        "/fapi/v1/premiumIndex" => {
            if has_symbol {
                1
            } else {
                10
            }
        }
        // Weight 0: these two share their own 500 requests per 5 minutes per IP (see `FUNDING_REQUESTS`).
        "/fapi/v1/fundingRate" | "/fapi/v1/fundingInfo" => 0,
        _ => 1,
    }
}

/// Requests `/fapi/v1/fundingRate` and `/fapi/v1/fundingInfo` share per IP within [`FUNDING_WINDOW`].
pub(crate) const FUNDING_REQUESTS: usize = 500;
/// The window of [`FUNDING_REQUESTS`].
pub(crate) const FUNDING_WINDOW: std::time::Duration = std::time::Duration::from_secs(300);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_then_bans() {
        let limits = WeightLimits { limit: 10, window_ms: 60_000, violations_before_ban: 2, ban_ms: 5_000 };
        let mut t = WeightTracker::default();
        assert_eq!(t.charge(1_000, 10, &limits), Admission::Allowed { used: 10 });
        assert_eq!(t.charge(1_001, 1, &limits), Admission::Limited { used: 11, retry_after_s: 59 });
        assert!(matches!(t.charge(1_002, 1, &limits), Admission::Limited { .. }));
        assert!(matches!(t.charge(1_003, 1, &limits), Admission::Banned { until_ms: 6_003, .. }));
        assert!(matches!(t.charge(6_000, 1, &limits), Admission::Banned { retry_after_s: 1, .. }));
        assert_eq!(t.charge(60_000, 1, &limits), Admission::Allowed { used: 1 });
    }

    #[test]
    fn documented_weights() {
        assert_eq!(request_weight("/fapi/v1/depth", true, Some(5)), 2);
        assert_eq!(request_weight("/fapi/v1/depth", true, Some(100)), 5);
        assert_eq!(request_weight("/fapi/v1/depth", true, None), 10);
        assert_eq!(request_weight("/fapi/v1/depth", true, Some(1000)), 20);
        assert_eq!(request_weight("/fapi/v1/ticker/24hr", false, None), 40);
        assert_eq!(request_weight("/fapi/v1/premiumIndex", false, None), 10);
        assert_eq!(request_weight("/fapi/v1/exchangeInfo", false, None), 1);
    }
}
